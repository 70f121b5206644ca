use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Options, WriteBatch, WriteOptions, DB};

use crate::error::StorageError;
use crate::row::StoredRow;

/// Column family of the Raft log: index (big-endian u64) → encoded entry.
pub(crate) const CF_RAFT_LOG: &str = "raft_log";
/// Column family of Raft metadata: vote, committed, last purged.
pub(crate) const CF_RAFT_META: &str = "raft_meta";
/// Column family of the state machine's rows (see [`crate::keys`]).
pub(crate) const CF_SM_DATA: &str = "sm_data";
/// Column family of the state machine's metadata: last applied, membership.
pub(crate) const CF_SM_META: &str = "sm_meta";

const ALL_CFS: [&str; 4] = [CF_RAFT_LOG, CF_RAFT_META, CF_SM_DATA, CF_SM_META];

/// The rows' family is read by key on every write: the planner reads the
/// row a statement changes, and every replica checks the batch's
/// preconditions when it applies it. Most inserts look for a key that is
/// not there, so bloom filters, in the memtable and in each table file,
/// answer those without searching the memtable's skip list (a profile of
/// a 3-node cluster under inserts put 5–6% of a follower's CPU, and 4% of
/// the leader's, in that search).
fn rows_options() -> Options {
    let mut opts = Options::default();
    let mut table = rocksdb::BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    opts.set_block_based_table_factory(&table);
    opts.set_memtable_whole_key_filtering(true);
    opts.set_memtable_prefix_bloom_ratio(0.05);
    opts
}

/// The node's single RocksDB instance. Cheap to clone.
///
/// All column families share one write-ahead log, so one `flush_wal(true)`
/// makes every earlier write of every family durable: the log store relies on
/// this for group commit, and state-machine writes never need their own sync
/// because the Raft log they derive from is already durable.
#[derive(Clone)]
pub struct Store {
    db: Arc<DB>,
}

impl Store {
    /// Opens (creating if needed) the database under `dir`.
    pub fn open(dir: &Path) -> Result<Store, StorageError> {
        std::fs::create_dir_all(dir)?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        opts.increase_parallelism(2);
        // A torn record at the end of the WAL is a write that was never
        // synced, so never acknowledged: recovery drops it. Corruption
        // anywhere before the tail is in synced, acknowledged writes, and
        // opening fails instead of silently replaying up to it (RocksDB's
        // default, point-in-time recovery, would drop it and all after).
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::TolerateCorruptedTailRecords);
        let cfs = ALL_CFS.iter().map(|name| {
            let opts = if *name == CF_SM_DATA {
                rows_options()
            } else {
                Options::default()
            };
            ColumnFamilyDescriptor::new(*name, opts)
        });
        let db = DB::open_cf_descriptors(&opts, dir.join("db"), cfs)?;
        Ok(Store { db: Arc::new(db) })
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    pub(crate) fn cf(&self, name: &str) -> &ColumnFamily {
        // The families are created by `open`, so a missing one is a bug.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} missing"))
    }

    /// Writes a batch without syncing the WAL (see the type's doc).
    pub(crate) fn write(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    /// Makes every write so far durable.
    pub fn sync_wal(&self) -> Result<(), StorageError> {
        self.db.flush_wal(true)?;
        Ok(())
    }

    pub(crate) fn get_cf(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.db.get_cf(self.cf(cf), key)?)
    }

    /// The applied row at `key`, if any.
    pub(crate) fn row(&self, key: &[u8]) -> Result<Option<StoredRow>, StorageError> {
        match self.get_cf(CF_SM_DATA, key)? {
            Some(bytes) => Ok(Some(StoredRow::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Reads a state-machine metadata value (last applied, membership).
    pub fn sm_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.get_cf(CF_SM_META, key.as_bytes())
    }
}
