//! `list_object_versions(bucket, prefix, delimiter, key_marker,
//! version_id_marker, max_keys)`: S3 ListObjectVersions over the merged
//! versions stream of [`crate::scan::versions`].

use bucketdb_storage::{keys, versioning, ReadView};

use super::listing::{check_bucket, common_prefix, ListArgs};
use crate::error::{SqlError, SqlResult};
use crate::runtime::Interrupt;
use crate::scan::versions::{Version, VersionStream};
use crate::value::Value;

/// A ListObjectVersions request, from `list_object_versions`' arguments.
struct Request {
    bucket: String,
    prefix: String,
    delimiter: Option<String>,
    key_marker: Option<String>,
    version_id_marker: Option<String>,
    max_keys: usize,
}

impl Request {
    fn from_args(args: &[Value]) -> SqlResult<Request> {
        let a = ListArgs {
            function: "list_object_versions",
            args,
        };
        let text = |i: usize| a.text(i);
        let bucket = a.bucket(0)?;
        let max_keys = a.max_keys(5)?;
        let version_id_marker = text(4);
        let key_marker = text(3);
        if version_id_marker.is_some() && key_marker.is_none() {
            return Err(SqlError::invalid_parameter_value(
                "list_object_versions(): version_id_marker needs key_marker",
            ));
        }
        Ok(Request {
            bucket,
            prefix: text(1).unwrap_or_default(),
            delimiter: text(2).filter(|d| !d.is_empty()),
            key_marker,
            version_id_marker,
            max_keys,
        })
    }

    /// The common prefix `key` rolls up into, if any.
    fn common_prefix<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
        common_prefix(key, &self.prefix, self.delimiter.as_ref()?)
    }
}

/// Columns of a listed row (see `TableFn::ListObjectVersions`).
const NEXT_KEY_MARKER: usize = 9;
const NEXT_VERSION_ID_MARKER: usize = 10;

/// `list_object_versions(bucket, prefix, delimiter, key_marker,
/// version_id_marker, max_keys)`: versions and common prefixes in key
/// order, each object's versions newest first; when the page is cut short
/// its last row carries the markers to resume from. Like `list_objects`, a
/// common prefix costs one seek, however many versions it holds.
pub fn list_object_versions(
    view: &ReadView,
    args: &[Value],
    interrupt: &Interrupt,
) -> SqlResult<Vec<Vec<Value>>> {
    let req = Request::from_args(args)?;
    check_bucket(view, &req.bucket)?;
    let lo = req.prefix.as_bytes();
    let hi = keys::prefix_end(lo);
    let mut stream = VersionStream::new(view, &req.bucket, lo, hi.as_deref(), interrupt);
    // Where to resume: after a whole common prefix, after a whole key, or
    // after one version of a key.
    let mut resume_in: Option<(Vec<u8>, String)> = None;
    if let Some(marker) = &req.key_marker {
        let m = marker.as_bytes();
        match (req.common_prefix(m), &req.version_id_marker) {
            (Some(common), _) if common == m => match keys::prefix_end(m) {
                Some(next) => stream.seek(&next),
                None => return Ok(vec![]),
            },
            (_, Some(vid)) => {
                stream.seek(m);
                resume_in = Some((m.to_vec(), vid.clone()));
            }
            (_, None) => {
                let mut after = m.to_vec();
                after.push(0);
                stream.seek(&after);
            }
        }
    }
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(req.max_keys.min(64));
    let text = |b: &[u8]| Value::Text(String::from_utf8_lossy(b).into_owned());
    while let Some(group) = stream.next_object()? {
        let Some(first) = group.first() else {
            continue;
        };
        if let Some(common) = req.common_prefix(&first.key) {
            if rows.len() == req.max_keys {
                mark_truncated(&mut rows);
                break;
            }
            let mut row = vec![Value::Null; 11];
            row[0] = text(common);
            row[4] = Value::Bool(true);
            rows.push(row);
            match keys::prefix_end(common) {
                Some(next) => stream.seek(&next),
                None => break,
            }
            continue;
        }
        let skip = match resume_in.take() {
            Some((key, vid)) if key == first.key => resume_position(&group, &vid),
            _ => 0,
        };
        for v in &group[skip..] {
            if rows.len() == req.max_keys {
                mark_truncated(&mut rows);
                return Ok(rows);
            }
            let r = v.as_row();
            let c = |i: usize| Value::from_datum(&r.columns[i]);
            rows.push(vec![
                text(&v.key),
                v.version_id(),
                Value::Bool(v.is_latest),
                Value::Bool(v.is_delete_marker()),
                Value::Bool(false),
                c(5),
                c(6),
                c(9),
                c(8),
                Value::Null,
                Value::Null,
            ]);
        }
    }
    Ok(rows)
}

/// Sets the resume markers on the last row of a page that was cut short.
fn mark_truncated(rows: &mut [Vec<Value>]) {
    if let Some(last) = rows.last_mut() {
        last[NEXT_KEY_MARKER] = last[0].clone();
        if last[4] != Value::Bool(true) {
            last[NEXT_VERSION_ID_MARKER] = last[1].clone();
        }
    }
}

/// Where listing resumes within one object's versions after the version
/// `vid`: just after it, or, if it is gone, after every version at least
/// as new (when its id tells its age).
fn resume_position(group: &[Version], vid: &str) -> usize {
    if let Some(i) = group
        .iter()
        .position(|v| v.version_id() == Value::Text(vid.to_string()))
    {
        return i + 1;
    }
    match versioning::seq_of_version_id(vid) {
        Some(seq) => group.iter().take_while(|v| v.seq >= seq).count(),
        None => 0,
    }
}
