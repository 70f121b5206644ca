//! Reading object versions, as the `object_versions` table and
//! `list_object_versions(…)` (S3 ListObjectVersions) see them.
//!
//! An object's current version is its `objects` row; its older versions and
//! delete markers are stored versions (see `bucketdb_storage::versioning`).
//! Reading merges the two key spaces in object-key order: for each key the
//! current row, if any, then the stored versions, newest first. The first
//! of them is the latest.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use bucketdb_storage::keys::{self, DecodedKey};
use bucketdb_storage::versioning::{self, is_delete_marker};
use bucketdb_storage::{Datum, StoredRow};

use super::source::RowSource;
use crate::error::{SqlError, SqlResult};
use crate::runtime::Interrupt;
use crate::value::Value;

/// Rows one refill of a [`Pull`] reads.
const PULL_CHUNK: usize = 256;

/// Reads a key range a chunk at a time, so that two ranges can be merged
/// although a [`RowSource`] visits rows by callback.
struct Pull<'a> {
    source: &'a dyn RowSource,
    /// Where the next chunk starts (`None`: the range is exhausted).
    next: Option<Vec<u8>>,
    end: Option<Vec<u8>>,
    buf: VecDeque<(Vec<u8>, StoredRow)>,
    interrupt: &'a Interrupt,
}

impl<'a> Pull<'a> {
    fn new(
        source: &'a dyn RowSource,
        start: Vec<u8>,
        end: Option<Vec<u8>>,
        interrupt: &'a Interrupt,
    ) -> Pull<'a> {
        Pull {
            source,
            next: Some(start),
            end,
            buf: VecDeque::new(),
            interrupt,
        }
    }

    fn peek_key(&mut self) -> SqlResult<Option<&[u8]>> {
        if self.buf.is_empty() {
            self.refill()?;
        }
        Ok(self.buf.front().map(|(k, _)| k.as_slice()))
    }

    fn pop(&mut self) -> Option<(Vec<u8>, StoredRow)> {
        self.buf.pop_front()
    }

    fn refill(&mut self) -> SqlResult<()> {
        let Some(start) = self.next.take() else {
            return Ok(());
        };
        if self.end.as_ref().is_some_and(|e| *e <= start) {
            return Ok(());
        }
        self.interrupt.check()?;
        let buf = &mut self.buf;
        self.source.scan(&start, self.end.clone(), &mut |k, row| {
            buf.push_back((k.to_vec(), row));
            Ok(if buf.len() >= PULL_CHUNK {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })?;
        if self.buf.len() >= PULL_CHUNK {
            if let Some((last, _)) = self.buf.back() {
                let mut after = last.clone();
                after.push(0);
                self.next = Some(after);
            }
        }
        Ok(())
    }

    /// Skips to the first key at or after `at`.
    fn seek(&mut self, at: Vec<u8>) {
        while self.buf.front().is_some_and(|(k, _)| *k < at) {
            self.buf.pop_front();
        }
        if self.buf.is_empty() && self.next.is_some() {
            self.next = Some(at);
        }
    }
}

/// One version of an object.
pub struct Version {
    pub key: Vec<u8>,
    /// The log index that made it; it names the version to the state
    /// machine.
    pub seq: u64,
    pub is_latest: bool,
    /// Whether it is the `objects` row (otherwise a stored version).
    pub is_current: bool,
    pub stored: StoredRow,
}

/// Positions of the columns [`Version::as_row`] adds after the visible
/// ones of `object_versions` to say where the version is stored.
const SEQ_COLUMN: usize = 12;
const IS_CURRENT_COLUMN: usize = 13;

impl Version {
    fn column(&self, i: usize) -> Datum {
        self.stored.columns.get(i).cloned().unwrap_or(Datum::Null)
    }

    pub fn is_delete_marker(&self) -> bool {
        !self.is_current && is_delete_marker(&self.stored.columns)
    }

    pub fn version_id(&self) -> Value {
        Value::from_datum(&self.column(versioning::OBJECT_VERSION_ID_COLUMN))
    }

    /// The row of `object_versions`, followed by where it is stored (see
    /// [`Located`]), with the revision of the row it was read from.
    pub fn as_row(&self) -> StoredRow {
        let c = |i| self.column(i);
        StoredRow {
            revision: self.stored.revision,
            columns: vec![
                c(0),
                c(1),
                c(versioning::OBJECT_VERSION_ID_COLUMN),
                Datum::Bool(self.is_latest),
                Datum::Bool(self.is_delete_marker()),
                c(3),
                c(4),
                c(5),
                c(6),
                c(7),
                c(8),
                c(9),
                Datum::Int(self.seq as i64),
                Datum::Bool(self.is_current),
            ],
        }
    }
}

/// Where an `object_versions` row read by a statement is stored, and how
/// the state machine names it.
pub struct Located {
    bucket: String,
    key: String,
    seq: u64,
    is_current: bool,
}

impl Located {
    pub fn of(row: &StoredRow) -> SqlResult<Located> {
        let c = &row.columns;
        match (
            c.first(),
            c.get(1),
            c.get(SEQ_COLUMN),
            c.get(IS_CURRENT_COLUMN),
        ) {
            (
                Some(Datum::Text(bucket)),
                Some(Datum::Text(key)),
                Some(Datum::Int(seq)),
                Some(Datum::Bool(is_current)),
            ) => Ok(Located {
                bucket: bucket.clone(),
                key: key.clone(),
                seq: *seq as u64,
                is_current: *is_current,
            }),
            _ => Err(SqlError::internal(
                "object_versions row without its location",
            )),
        }
    }

    /// The key the version is stored at.
    pub fn stored_key(&self) -> Vec<u8> {
        if self.is_current {
            keys::object(&self.bucket, &self.key)
        } else {
            self.version_key()
        }
    }

    /// The key that names the version in a delete.
    pub fn version_key(&self) -> Vec<u8> {
        keys::version(self.bucket.as_bytes(), self.key.as_bytes(), self.seq)
    }
}

/// The versions of one bucket's objects with keys in `[lo, hi)`, object by
/// object in key order.
pub struct VersionStream<'a> {
    bucket: Vec<u8>,
    objects: Vec<u8>,
    current: Pull<'a>,
    stored: Pull<'a>,
}

impl<'a> VersionStream<'a> {
    pub fn new(
        source: &'a dyn RowSource,
        bucket: &str,
        lo: &[u8],
        hi: Option<&[u8]>,
        interrupt: &'a Interrupt,
    ) -> VersionStream<'a> {
        let b = bucket.as_bytes();
        let objects = keys::objects_prefix(bucket);
        let current_end = match hi {
            Some(hi) => Some([objects.as_slice(), hi].concat()),
            None => keys::prefix_end(&objects),
        };
        let stored_end = match hi {
            Some(hi) => Some(keys::versions_bound(b, hi)),
            None => keys::prefix_end(&keys::versions_prefix(b)),
        };
        VersionStream {
            bucket: b.to_vec(),
            current: Pull::new(
                source,
                [objects.as_slice(), lo].concat(),
                current_end,
                interrupt,
            ),
            stored: Pull::new(source, keys::versions_bound(b, lo), stored_end, interrupt),
            objects,
        }
    }

    fn stored_key(&mut self) -> SqlResult<Option<(Vec<u8>, u64)>> {
        match self.stored.peek_key()? {
            Some(k) => match keys::decode(k) {
                Some(DecodedKey::Version { key, seq, .. }) => Ok(Some((key, seq))),
                _ => Err(SqlError::internal("undecodable version key")),
            },
            None => Ok(None),
        }
    }

    /// All versions of the next object, newest first.
    pub fn next_object(&mut self) -> SqlResult<Option<Vec<Version>>> {
        let base = self.objects.len();
        let current = self.current.peek_key()?.map(|k| k[base..].to_vec());
        let stored = self.stored_key()?.map(|(k, _)| k);
        let key = match (current.clone(), stored) {
            (None, None) => return Ok(None),
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
        };
        let mut out = vec![];
        if current.as_ref() == Some(&key) {
            if let Some((_, row)) = self.current.pop() {
                out.push(Version {
                    key: key.clone(),
                    seq: row.revision,
                    is_latest: true,
                    is_current: true,
                    stored: row,
                });
            }
        }
        while let Some((k, seq)) = self.stored_key()? {
            if k != key {
                break;
            }
            if let Some((_, row)) = self.stored.pop() {
                out.push(Version {
                    key: k,
                    seq,
                    is_latest: out.is_empty(),
                    is_current: false,
                    stored: row,
                });
            }
        }
        Ok(Some(out))
    }

    /// Skips to the first object key at or after `raw`.
    pub fn seek(&mut self, raw: &[u8]) {
        self.current.seek([self.objects.as_slice(), raw].concat());
        self.stored.seek(keys::versions_bound(&self.bucket, raw));
    }
}
