//! Byte-level access to the Raft log and Raft metadata column families.
//! `consensus` encodes entries; this module only stores them.

use rocksdb::{Direction, IteratorMode, WriteBatch};

use crate::error::StorageError;
use crate::store::{Store, CF_RAFT_LOG, CF_RAFT_META};

/// The Raft log (index → encoded entry) and Raft metadata of a [`Store`].
#[derive(Clone)]
pub struct RaftLogCf {
    store: Store,
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn decode_index(key: &[u8]) -> Result<u64, StorageError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StorageError::Corrupt(format!("raft log key of {} bytes", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

impl RaftLogCf {
    pub fn new(store: Store) -> RaftLogCf {
        RaftLogCf { store }
    }

    /// Writes entries without syncing; call [`Store::sync_wal`] to make them
    /// durable (many appends can share one sync).
    pub fn append(
        &self,
        entries: impl IntoIterator<Item = (u64, Vec<u8>)>,
    ) -> Result<(), StorageError> {
        let mut wb = WriteBatch::default();
        let cf = self.store.cf(CF_RAFT_LOG);
        for (index, bytes) in entries {
            wb.put_cf(cf, index_key(index), bytes);
        }
        self.store.write(wb)
    }

    /// Entries with `start <= index < end`, in order.
    pub fn range(&self, start: u64, end: u64) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        let iter = self.store.db().iterator_cf(
            self.store.cf(CF_RAFT_LOG),
            IteratorMode::From(&index_key(start), Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            let index = decode_index(&k)?;
            if index >= end {
                break;
            }
            out.push((index, v.into_vec()));
        }
        Ok(out)
    }

    /// The last entry, if any.
    pub fn last(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let mut iter = self
            .store
            .db()
            .iterator_cf(self.store.cf(CF_RAFT_LOG), IteratorMode::End);
        match iter.next() {
            Some(item) => {
                let (k, v) = item?;
                Ok(Some((decode_index(&k)?, v.into_vec())))
            }
            None => Ok(None),
        }
    }

    /// Deletes entries with `start <= index < end`.
    pub fn delete_range(&self, start: u64, end: u64) -> Result<(), StorageError> {
        let mut wb = WriteBatch::default();
        wb.delete_range_cf(self.store.cf(CF_RAFT_LOG), index_key(start), index_key(end));
        self.store.write(wb)
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.store.get_cf(CF_RAFT_META, key.as_bytes())
    }

    /// Writes a metadata value without syncing.
    pub fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let mut wb = WriteBatch::default();
        wb.put_cf(self.store.cf(CF_RAFT_META), key.as_bytes(), value);
        self.store.write(wb)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_range_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let log = RaftLogCf::new(Store::open(dir.path()).unwrap());
        log.append((1..=5).map(|i| (i, vec![i as u8]))).unwrap();
        assert_eq!(log.range(2, 4).unwrap(), vec![(2, vec![2]), (3, vec![3])]);
        assert_eq!(log.last().unwrap(), Some((5, vec![5])));
        log.delete_range(4, u64::MAX).unwrap();
        assert_eq!(log.last().unwrap(), Some((3, vec![3])));
        log.delete_range(0, 2).unwrap();
        assert_eq!(log.range(0, 10).unwrap().len(), 2);
    }
}
