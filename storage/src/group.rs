//! Log entries applied together, in one RocksDB write.
//!
//! A replica applies the entries one commit brings in a row. Written one
//! by one, each entry cost a RocksDB write of its own (the write group, a
//! WAL record and its `write` call) and wrote the rows every entry touches
//! again: the bucket's counters and the last applied index (a follower's
//! profile at 64 clients put a third of its CPU in those writes). A group
//! keeps its entries' writes here and writes them at once, each key once.
//!
//! Every entry's checks and versioning must see the state after the
//! entries before it, exactly as if those had been written, so that all
//! replicas decide alike however their entries are grouped: reads in the
//! apply path go through [`ApplyGroup::row`] and [`ApplyGroup::scan`],
//! which lay the group's pending rows over the database.

use std::collections::BTreeMap;

use rocksdb::WriteBatch;

use crate::error::StorageError;
use crate::row::StoredRow;
use crate::store::{Store, CF_SM_DATA};

/// Writes of one entry, kept apart until the entry is decided so that its
/// own reads see only the entries before it.
#[derive(Default)]
pub(crate) struct EntryWrites {
    rows: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl EntryWrites {
    pub(crate) fn put(&mut self, key: Vec<u8>, row: &StoredRow) {
        self.rows.push((key, Some(row.encode())));
    }

    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.rows.push((key, None));
    }
}

/// Entries being applied together; nothing is in the database until
/// [`ApplyGroup::write`].
pub struct ApplyGroup<'s> {
    pub(crate) store: &'s Store,
    /// The rows written by the entries so far, encoded (`None`: deleted).
    rows: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// State-machine metadata as of the last entry (its keys are the
    /// state machine's constants: nothing to copy per entry).
    meta: BTreeMap<&'static str, Vec<u8>>,
    entries: usize,
}

impl<'s> ApplyGroup<'s> {
    pub(crate) fn new(store: &'s Store) -> ApplyGroup<'s> {
        ApplyGroup {
            store,
            rows: BTreeMap::new(),
            meta: BTreeMap::new(),
            entries: 0,
        }
    }

    /// How many entries are waiting to be written.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Records an entry's row writes and metadata after the entries before.
    pub(crate) fn add(&mut self, writes: EntryWrites, meta: &[(&'static str, Vec<u8>)]) {
        for (key, row) in writes.rows {
            self.rows.insert(key, row);
        }
        for (k, v) in meta {
            self.meta.insert(k, v.clone());
        }
        self.entries += 1;
    }

    /// Records an entry that writes only metadata (blank, membership and
    /// check entries, and refused batches).
    pub fn add_meta(&mut self, meta: &[(&'static str, Vec<u8>)]) {
        self.add(EntryWrites::default(), meta);
    }

    /// Writes every entry so far in one RocksDB write (unsynced: the log
    /// the entries came from is durable). Readers see all of them or none.
    pub fn write(&mut self) -> Result<(), StorageError> {
        if self.entries == 0 {
            return Ok(());
        }
        let mut wb = WriteBatch::default();
        let data = self.store.cf(CF_SM_DATA);
        for (key, row) in std::mem::take(&mut self.rows) {
            match row {
                Some(bytes) => wb.put_cf(data, key, bytes),
                None => wb.delete_cf(data, key),
            }
        }
        self.store
            .put_meta_into_batch(&mut wb, std::mem::take(&mut self.meta));
        self.entries = 0;
        self.store.write(wb)
    }

    /// The row at `key` as of the entries so far.
    pub(crate) fn row(&self, key: &[u8]) -> Result<Option<StoredRow>, StorageError> {
        match self.rows.get(key) {
            Some(Some(bytes)) => Ok(Some(StoredRow::decode(bytes)?)),
            Some(None) => Ok(None),
            None => self.store.row(key),
        }
    }

    /// Whether a row exists at `key` as of the entries so far.
    pub(crate) fn exists(&self, key: &[u8]) -> Result<bool, StorageError> {
        match self.rows.get(key) {
            Some(row) => Ok(row.is_some()),
            None => Ok(self.store.get_cf(CF_SM_DATA, key)?.is_some()),
        }
    }

    /// Calls `visit` with each row in `[start, end)` as of the entries so
    /// far (`end` `None`: to the end), in no particular order, until it
    /// returns `false`.
    pub(crate) fn scan(
        &self,
        start: &[u8],
        end: Option<Vec<u8>>,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, StorageError>,
    ) -> Result<(), StorageError> {
        let mut ro = rocksdb::ReadOptions::default();
        if let Some(end) = end.clone() {
            ro.set_iterate_upper_bound(end);
        }
        let iter = self.store.db().iterator_cf_opt(
            self.store.cf(CF_SM_DATA),
            ro,
            rocksdb::IteratorMode::From(start, rocksdb::Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            // A key the group wrote is visited below, as the group has it.
            if !self.rows.contains_key(&*k) && !visit(&k, &v)? {
                return Ok(());
            }
        }
        let pending = self
            .rows
            .range(start.to_vec()..)
            .take_while(|(k, _)| end.as_ref().is_none_or(|e| k.as_slice() < e.as_slice()));
        for (k, row) in pending {
            if let Some(v) = row {
                if !visit(k, v)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::Datum;

    fn row(n: i64) -> StoredRow {
        StoredRow {
            revision: n as u64,
            columns: vec![Datum::Int(n)],
        }
    }

    fn scanned(g: &ApplyGroup, start: &[u8], end: Option<&[u8]>) -> Vec<(Vec<u8>, i64)> {
        let mut seen = vec![];
        g.scan(start, end.map(|e| e.to_vec()), |k, v| {
            seen.push((k.to_vec(), StoredRow::decode(v)?.revision as i64));
            Ok(true)
        })
        .unwrap();
        seen.sort();
        seen
    }

    #[test]
    fn reads_see_earlier_entries_and_the_database_only_after_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut g = ApplyGroup::new(&store);
        let mut w = EntryWrites::default();
        w.put(b"a".to_vec(), &row(1));
        w.put(b"c".to_vec(), &row(3));
        g.add(w, &[("last_applied", vec![1])]);
        g.write().unwrap();

        let mut w = EntryWrites::default();
        w.put(b"b".to_vec(), &row(2));
        w.delete(b"c".to_vec());
        w.put(b"a".to_vec(), &row(10));
        g.add(w, &[("last_applied", vec![2])]);
        assert_eq!(g.len(), 1);
        // The group sees its own entry; the database does not yet.
        assert_eq!(g.row(b"a").unwrap(), Some(row(10)));
        assert!(!g.exists(b"c").unwrap());
        assert!(g.exists(b"b").unwrap());
        assert_eq!(store.row(b"a").unwrap(), Some(row(1)));
        assert!(store.row(b"b").unwrap().is_none());
        assert_eq!(
            scanned(&g, b"a", None),
            vec![(b"a".to_vec(), 10), (b"b".to_vec(), 2)]
        );
        assert_eq!(scanned(&g, b"b", Some(b"c")), vec![(b"b".to_vec(), 2)]);
        assert_eq!(scanned(&g, b"c", None), vec![]);

        g.write().unwrap();
        assert!(g.is_empty());
        assert_eq!(store.row(b"a").unwrap(), Some(row(10)));
        assert!(store.row(b"c").unwrap().is_none());
        assert_eq!(store.sm_meta("last_applied").unwrap(), Some(vec![2]));
    }

    #[test]
    fn a_scan_stops_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut g = ApplyGroup::new(&store);
        let mut w = EntryWrites::default();
        for k in [b"k1", b"k2", b"k3"] {
            w.put(k.to_vec(), &row(1));
        }
        g.add(w, &[]);
        let mut visits = 0;
        g.scan(b"k", None, |_, _| {
            visits += 1;
            Ok(false)
        })
        .unwrap();
        assert_eq!(visits, 1);
    }
}
