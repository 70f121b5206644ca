//! Data table functions: `list_objects(…)` (S3 ListObjectsV2) and
//! `bucket_stats(…)`, read from the statement's read view.
//!
//! Listing costs what the page costs, not what the bucket holds: when a key
//! falls under a common prefix (`prefix` + … + `delimiter`), the prefix is
//! emitted once and the scan seeks to the first key after it, so a million
//! objects under a hundred folders cost a hundred seeks.

use bucketdb_storage::{keys, ReadView};

use crate::catalog::Table;
use crate::error::{SqlError, SqlResult};
use crate::runtime::Interrupt;
use crate::value::Value;

/// The most entries one page returns (S3's cap).
pub const MAX_KEYS: i64 = 1000;

/// How many keys a listing visits between checks for a cancel or timeout.
const INTERRUPT_CHECK_KEYS: usize = 256;

/// A ListObjectsV2 request, from `list_objects`' arguments.
struct ListRequest {
    bucket: String,
    prefix: String,
    delimiter: Option<String>,
    start_after: Option<String>,
    max_keys: usize,
    /// Object-key bytes to resume at (inclusive), from a continuation token.
    resume_at: Option<Vec<u8>>,
}

/// The arguments of a listing function, read by position.
pub(crate) struct ListArgs<'a> {
    pub function: &'static str,
    pub args: &'a [Value],
}

impl ListArgs<'_> {
    /// A text argument (`None`: NULL or not given).
    pub fn text(&self, i: usize) -> Option<String> {
        match self.args.get(i) {
            Some(Value::Text(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// The bucket argument, which must be given.
    pub fn bucket(&self, i: usize) -> SqlResult<String> {
        self.text(i).ok_or_else(|| {
            SqlError::invalid_parameter_value(format!(
                "{}(): bucket must not be null",
                self.function
            ))
        })
    }

    /// A page size: 1 or more, capped at [`MAX_KEYS`]; NULL means the cap.
    pub fn max_keys(&self, i: usize) -> SqlResult<usize> {
        match self.args.get(i) {
            Some(Value::Int(n)) if *n >= 1 => Ok((*n).min(MAX_KEYS) as usize),
            Some(Value::Null) | None => Ok(MAX_KEYS as usize),
            Some(other) => Err(SqlError::invalid_parameter_value(format!(
                "{}(): max_keys must be between 1 and {MAX_KEYS}, got {other}",
                self.function
            ))),
        }
    }
}

/// Refuses a listing of a bucket that does not exist (42704).
pub(crate) fn check_bucket(view: &ReadView, bucket: &str) -> SqlResult<()> {
    match view.get(&keys::bucket(bucket))? {
        Some(_) => Ok(()),
        None => Err(SqlError::undefined_object(format!(
            "bucket \"{bucket}\" does not exist"
        ))),
    }
}

/// The common prefix a key (relative to the bucket) rolls up into under
/// `prefix` and `delimiter`: up to and including the first delimiter after
/// the prefix.
pub(crate) fn common_prefix<'k>(key: &'k [u8], prefix: &str, delimiter: &str) -> Option<&'k [u8]> {
    let tail = key.get(prefix.len()..)?;
    let pos = find(tail, delimiter.as_bytes())?;
    Some(&key[..prefix.len() + pos + delimiter.len()])
}

impl ListRequest {
    fn from_args(args: &[Value]) -> SqlResult<ListRequest> {
        let a = ListArgs {
            function: "list_objects",
            args,
        };
        let text = |i: usize| a.text(i);
        let bucket = a.bucket(0)?;
        let max_keys = a.max_keys(4)?;
        let resume_at = text(5)
            .map(|t| {
                hex::decode(&t).map_err(|_| {
                    SqlError::invalid_parameter_value(format!(
                        "list_objects(): invalid continuation token \"{t}\""
                    ))
                })
            })
            .transpose()?;
        Ok(ListRequest {
            bucket,
            prefix: text(1).unwrap_or_default(),
            delimiter: text(2).filter(|d| !d.is_empty()),
            start_after: text(3),
            max_keys,
            resume_at,
        })
    }
}

/// `list_objects(bucket, prefix, delimiter, start_after, max_keys,
/// continuation_token)`: object rows and common-prefix rows in key order;
/// when the page is cut short its last row carries the token to resume.
pub fn list_objects(
    view: &ReadView,
    objects: &Table,
    args: &[Value],
    interrupt: &Interrupt,
) -> SqlResult<Vec<Vec<Value>>> {
    let req = ListRequest::from_args(args)?;
    check_bucket(view, &req.bucket)?;
    let base = keys::objects_prefix(&req.bucket);
    let under = |rel: &[u8]| [base.as_slice(), rel].concat();
    let full_prefix = under(req.prefix.as_bytes());
    let end = keys::prefix_end(&full_prefix);
    let mut start = full_prefix.clone();
    if let Some(after) = &req.start_after {
        let mut k = under(after.as_bytes());
        k.push(0);
        start = start.max(k);
    }
    if let Some(at) = &req.resume_at {
        start = start.max(under(at));
    }
    let col = |name: &str| objects.column_index(name);
    let (size, etag, modified, class) = (
        col("size")?,
        col("etag")?,
        col("last_modified")?,
        col("storage_class")?,
    );
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(req.max_keys.min(64));
    let mut cursor = view.cursor(&start, end);
    let mut visited = 0usize;
    while let Some((k, stored)) = cursor.next_row()? {
        if visited.is_multiple_of(INTERRUPT_CHECK_KEYS) {
            interrupt.check()?;
        }
        visited += 1;
        let rel = &k[base.len()..];
        if rows.len() == req.max_keys {
            // More follows: the last row tells where to resume.
            if let Some(last) = rows.last_mut() {
                last[6] = Value::Text(hex::encode(rel));
            }
            break;
        }
        let folded = req
            .delimiter
            .as_ref()
            .and_then(|d| common_prefix(rel, &req.prefix, d));
        match folded {
            Some(common) => {
                rows.push(vec![
                    Value::Text(String::from_utf8_lossy(common).into_owned()),
                    Value::Bool(true),
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                    Value::Null,
                ]);
                match keys::prefix_end(&under(common)) {
                    Some(next) => cursor.seek(&next),
                    None => break,
                }
            }
            None => {
                let cell = |i: usize| stored.columns.get(i).map_or(Value::Null, Value::from_datum);
                rows.push(vec![
                    Value::Text(String::from_utf8_lossy(rel).into_owned()),
                    Value::Bool(false),
                    cell(size),
                    cell(etag),
                    cell(modified),
                    cell(class),
                    Value::Null,
                ]);
            }
        }
    }
    Ok(rows)
}

/// First position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `bucket_stats(bucket)`: one row for that bucket (none if it does not
/// exist), or one per bucket when `bucket` is NULL.
pub fn bucket_stats(view: &ReadView, args: &[Value]) -> SqlResult<Vec<Vec<Value>>> {
    let names = match args.first() {
        Some(Value::Text(b)) => match view.get(&keys::bucket(b))? {
            Some(_) => vec![b.clone()],
            None => vec![],
        },
        _ => {
            let start = keys::buckets_start();
            let mut names = vec![];
            for item in view.scan(&start, keys::prefix_end(&start)) {
                let (k, _) = item?;
                names.push(String::from_utf8_lossy(&k[start.len()..]).into_owned());
            }
            names
        }
    };
    names
        .into_iter()
        .map(|name| {
            let s = view.bucket_stats(&name)?;
            Ok(vec![
                Value::Text(name),
                Value::Int(s.objects),
                Value::Int(s.bytes),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_locates_multibyte_delimiters() {
        assert_eq!(find(b"a/b/c", b"/"), Some(1));
        assert_eq!(find(b"abc", b"/"), None);
        assert_eq!(find("x→y".as_bytes(), "→".as_bytes()), Some(1));
        assert_eq!(find(b"", b"/"), None);
    }
}
