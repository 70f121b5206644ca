//! Per-bucket statistics (object count, total bytes), kept up to date by
//! the state machine as it applies each batch, so that reading them is one
//! point get rather than a scan of the bucket.
//!
//! A bucket's counters live in `sm_data` under their own table tag, which
//! puts them in every snapshot; clients cannot write them (the key decodes
//! to no table, so apply refuses it in a client batch).

use std::collections::BTreeMap;

use crate::error::StorageError;
use crate::group::{ApplyGroup, EntryWrites};
use crate::keys::{self, DecodedKey};
use crate::read::ReadView;
use crate::row::{Datum, StoredRow};
use crate::versioning::RowWrite;

/// Position of `size` among an `objects` row's columns. The SQL catalog
/// defines the columns; a test there checks it agrees.
pub const OBJECT_SIZE_COLUMN: usize = 3;

/// One bucket's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketStats {
    pub objects: i64,
    pub bytes: i64,
}

impl BucketStats {
    fn from_row(row: &StoredRow) -> BucketStats {
        match row.columns.as_slice() {
            [Datum::Int(objects), Datum::Int(bytes)] => BucketStats {
                objects: *objects,
                bytes: *bytes,
            },
            _ => BucketStats::default(),
        }
    }

    fn to_row(self, revision: u64) -> StoredRow {
        StoredRow {
            revision,
            columns: vec![Datum::Int(self.objects), Datum::Int(self.bytes)],
        }
    }
}

/// The size an `objects` row counts for (`None`: no row).
fn object_size(columns: &[Datum]) -> i64 {
    match columns.get(OBJECT_SIZE_COLUMN) {
        Some(Datum::Int(n)) => *n,
        _ => 0,
    }
}

impl ReadView<'_> {
    /// The counters of `bucket` in this view (zero when it has none).
    pub fn bucket_stats(&self, bucket: &str) -> Result<BucketStats, StorageError> {
        Ok(self
            .get(&keys::bucket_stats(bucket))?
            .map(|row| BucketStats::from_row(&row))
            .unwrap_or_default())
    }
}

impl ApplyGroup<'_> {
    /// Adds to `out` the counter updates that `writes` cause (one write per
    /// key, as [`ApplyGroup::resolve_writes`] gives them). Called only for
    /// batches that passed their checks, before they are written.
    pub(crate) fn stats_into(
        &self,
        out: &mut EntryWrites,
        writes: &[RowWrite],
        revision: u64,
    ) -> Result<(), StorageError> {
        let mut deltas: BTreeMap<&[u8], BucketStats> = BTreeMap::new();
        let mut dropped: Vec<&[u8]> = vec![];
        for w in writes {
            match keys::decode(&w.key) {
                Some(DecodedKey::Object { bucket, .. }) => {
                    let before = self.row(&w.key)?.map(|r| object_size(&r.columns));
                    let now = w.row.as_ref().map(|r| object_size(&r.columns));
                    let d = deltas.entry(bucket).or_default();
                    d.objects += now.is_some() as i64 - before.is_some() as i64;
                    // Saturating: sizes near i64::MAX must not panic the
                    // apply loop, and every replica saturates alike.
                    d.bytes = d
                        .bytes
                        .saturating_add(now.unwrap_or(0).saturating_sub(before.unwrap_or(0)));
                }
                Some(DecodedKey::Bucket { name }) if w.row.is_none() => dropped.push(name),
                _ => {}
            }
        }
        for (bucket, d) in deltas {
            if d == BucketStats::default() {
                continue;
            }
            let key = keys::bucket_stats_raw(bucket);
            let mut s = self
                .row(&key)?
                .map(|r| BucketStats::from_row(&r))
                .unwrap_or_default();
            s.objects += d.objects;
            s.bytes = s.bytes.saturating_add(d.bytes);
            out.put(key, &s.to_row(revision));
        }
        // A bucket can only be deleted empty; its counters go with it, so a
        // bucket created again under the name starts from zero.
        for name in dropped {
            out.delete(keys::bucket_stats_raw(name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApplyOutcome, KvBatch, KvOp, Store};

    fn object(bucket: &str, key: &str, size: i64) -> KvOp {
        let mut columns = vec![Datum::Null; OBJECT_SIZE_COLUMN + 1];
        columns[OBJECT_SIZE_COLUMN] = Datum::Int(size);
        KvOp::Put {
            key: keys::object(bucket, key),
            columns,
        }
    }

    fn apply(s: &Store, ops: Vec<KvOp>, rev: u64) {
        let b = KvBatch {
            ops,
            ..Default::default()
        };
        assert_eq!(
            s.apply_batch(&b, rev, &[]).unwrap(),
            ApplyOutcome::Applied { index: rev }
        );
    }

    #[test]
    fn counters_follow_puts_overwrites_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let bucket = KvOp::Put {
            key: keys::bucket("bkt"),
            columns: vec![],
        };
        apply(&s, vec![bucket.clone(), object("bkt", "a", 10)], 1);
        apply(&s, vec![object("bkt", "b", 5), object("bkt", "b", 7)], 2);
        assert_eq!(
            s.read_view().bucket_stats("bkt").unwrap(),
            BucketStats {
                objects: 2,
                bytes: 17
            }
        );
        apply(&s, vec![object("bkt", "a", 1)], 3);
        apply(
            &s,
            vec![KvOp::Delete {
                key: keys::object("bkt", "b"),
            }],
            4,
        );
        assert_eq!(
            s.read_view().bucket_stats("bkt").unwrap(),
            BucketStats {
                objects: 1,
                bytes: 1
            }
        );
        // A refused batch changes nothing.
        let refused = KvBatch {
            ops: vec![object("nob", "x", 3)],
            ..Default::default()
        };
        assert!(matches!(
            s.apply_batch(&refused, 5, &[]).unwrap(),
            ApplyOutcome::Rejected(_)
        ));
        assert_eq!(
            s.read_view().bucket_stats("nob").unwrap(),
            BucketStats::default()
        );
        let drop = |k: Vec<u8>| KvOp::Delete { key: k };
        apply(
            &s,
            vec![drop(keys::object("bkt", "a")), drop(keys::bucket("bkt"))],
            6,
        );
        apply(&s, vec![bucket], 7);
        assert_eq!(
            s.read_view().bucket_stats("bkt").unwrap(),
            BucketStats::default()
        );
    }
}
