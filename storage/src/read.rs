//! Consistent read views: every read of one statement sees one point in time.

use rocksdb::{
    DBRawIteratorWithThreadMode, Direction, IteratorMode, ReadOptions, SnapshotWithThreadMode, DB,
};

use crate::error::StorageError;
use crate::row::StoredRow;
use crate::store::{Store, CF_SM_DATA};

/// A RocksDB snapshot of the state machine's rows.
pub struct ReadView<'a> {
    pub(crate) store: &'a Store,
    pub(crate) snap: SnapshotWithThreadMode<'a, DB>,
}

impl Store {
    /// Takes a read view of the state as applied now.
    pub fn read_view(&self) -> ReadView<'_> {
        ReadView {
            store: self,
            snap: self.db().snapshot(),
        }
    }
}

impl<'a> ReadView<'a> {
    /// The row at `key`, if any.
    pub fn get(&self, key: &[u8]) -> Result<Option<StoredRow>, StorageError> {
        match self.snap.get_cf(self.store.cf(CF_SM_DATA), key)? {
            Some(bytes) => Ok(Some(StoredRow::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Rows with `start <= key < end` (no end: to the end of the table
    /// space), in key order.
    pub fn scan(
        &self,
        start: &[u8],
        end: Option<Vec<u8>>,
    ) -> impl Iterator<Item = Result<(Box<[u8]>, StoredRow), StorageError>> + '_ {
        let mut ro = ReadOptions::default();
        if let Some(end) = end {
            ro.set_iterate_upper_bound(end);
        }
        self.snap
            .iterator_cf_opt(
                self.store.cf(CF_SM_DATA),
                ro,
                IteratorMode::From(start, Direction::Forward),
            )
            .map(|item| {
                let (k, v) = item?;
                Ok((k, StoredRow::decode(&v)?))
            })
    }
}

/// A cursor over rows below an upper bound that can seek forward: listing
/// skips a whole common prefix with one seek on one RocksDB iterator
/// instead of opening a new one.
pub struct Cursor<'a> {
    raw: DBRawIteratorWithThreadMode<'a, DB>,
}

impl ReadView<'_> {
    /// A cursor over rows with keys below `end` (no end: the whole table
    /// space), positioned at `start`.
    pub fn cursor(&self, start: &[u8], end: Option<Vec<u8>>) -> Cursor<'_> {
        let mut ro = ReadOptions::default();
        if let Some(end) = end {
            ro.set_iterate_upper_bound(end);
        }
        let mut raw = self.snap.raw_iterator_cf_opt(self.store.cf(CF_SM_DATA), ro);
        raw.seek(start);
        Cursor { raw }
    }
}

impl Cursor<'_> {
    /// Moves to the first row at or after `key`.
    pub fn seek(&mut self, key: &[u8]) {
        self.raw.seek(key);
    }

    /// The row under the cursor, then moves past it; `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<(Vec<u8>, StoredRow)>, StorageError> {
        let Some((k, v)) = self.raw.item() else {
            self.raw.status()?;
            return Ok(None);
        };
        let row = (k.to_vec(), StoredRow::decode(v)?);
        self.raw.next();
        Ok(Some(row))
    }
}

self_cell::self_cell!(
    /// A read view that owns its store handle, so that it can outlive the
    /// statement that took it: an explicit transaction reads every
    /// statement from the snapshot taken when it began.
    pub struct OwnedView {
        owner: Store,
        #[covariant]
        dependent: ReadView,
    }
);

impl Store {
    /// Takes an owned read view of the state as applied now.
    pub fn owned_view(&self) -> OwnedView {
        OwnedView::new(self.clone(), |store| store.read_view())
    }
}

#[cfg(test)]
mod tests {
    use crate::{keys, Datum, KvBatch, KvOp, Store};

    #[test]
    fn a_view_does_not_see_later_writes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let put = |name: &str, rev| {
            let b = KvBatch {
                ops: vec![KvOp::Put {
                    key: keys::bucket(name),
                    columns: vec![Datum::Text(name.into())],
                }],
                ..Default::default()
            };
            s.apply_batch(&b, rev, &[]).unwrap();
        };
        put("aaa", 1);
        let view = s.read_view();
        put("bbb", 2);
        let seen: Vec<_> = view
            .scan(
                &keys::buckets_start(),
                keys::prefix_end(&keys::buckets_start()),
            )
            .map(|r| r.unwrap().1.revision)
            .collect();
        assert_eq!(seen, vec![1]);
        assert!(view.get(&keys::bucket("bbb")).unwrap().is_none());
        assert!(s.read_view().get(&keys::bucket("bbb")).unwrap().is_some());
    }
}
