//! The Raft log on RocksDB, with group commit.
//!
//! `append` writes entries (readable at once) and hands the IO callback to a
//! flusher thread. The flusher takes every callback that queued up while the
//! previous sync ran, syncs the WAL once, and completes them all: concurrent
//! proposals share one fsync, and none is acknowledged before it is durable.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use bucketdb_storage::{RaftLogCf, Store};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::type_config::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::{LogState, OptionalSend, RaftLogReader};

use crate::codec;
use crate::types::TypeConfig;

pub(crate) const META_VOTE: &str = "vote";
const META_COMMITTED: &str = "committed";
const META_PURGED: &str = "last_purged";

#[derive(Clone)]
pub struct LogStore {
    log: RaftLogCf,
    flusher: Arc<Flusher>,
    /// The vote as last saved (`None` until first read): every replication
    /// stream reads it per batch to learn whether its leader still stands,
    /// and every clone shares this copy instead of reading RocksDB.
    vote: Arc<Mutex<Option<Option<VoteOf<TypeConfig>>>>>,
}

/// The group-commit thread, joined when the last `LogStore` clone drops.
///
/// The thread holds a handle on the database. Left detached, it could be the
/// one that closes RocksDB, while the process is already exiting and tearing
/// down the statics RocksDB locks: that aborts with "pthread lock: Invalid
/// argument" (seen at the end of a test binary). Joining makes the database
/// close on the thread that drops the store, before anything exits.
struct Flusher {
    queue: Option<mpsc::Sender<IOFlushed<TypeConfig>>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        // Closing the queue ends the loop once the syncs queued are done.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl LogStore {
    pub fn new(store: Store) -> LogStore {
        let (tx, rx) = mpsc::channel::<IOFlushed<TypeConfig>>();
        let syncer = store.clone();
        let thread = std::thread::Builder::new()
            .name("raft-log-sync".into())
            .spawn(move || group_commit_loop(syncer, rx))
            .expect("spawn log sync thread");
        LogStore {
            log: RaftLogCf::new(store),
            flusher: Arc::new(Flusher {
                queue: Some(tx),
                thread: Some(thread),
            }),
            vote: Arc::default(),
        }
    }

    fn meta<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, io::Error> {
        match self.log.get_meta(key)? {
            Some(bytes) => Ok(Some(codec::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), io::Error> {
        self.log.put_meta(key, &codec::encode(value)?)?;
        Ok(())
    }
}

/// Ends when every `LogStore` (and so every sender) is gone.
fn group_commit_loop(store: Store, rx: mpsc::Receiver<IOFlushed<TypeConfig>>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let result = store.sync_wal().map_err(|e| e.to_string());
        for cb in waiting {
            cb.io_completed(result.clone().map_err(io::Error::other));
        }
    }
}

fn start_of(range: &impl RangeBounds<u64>) -> u64 {
    match range.start_bound() {
        Bound::Included(x) => *x,
        Bound::Excluded(x) => x.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

fn end_of(range: &impl RangeBounds<u64>) -> u64 {
    match range.end_bound() {
        Bound::Included(x) => x.saturating_add(1),
        Bound::Excluded(x) => *x,
        Bound::Unbounded => u64::MAX,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<EntryOf<TypeConfig>>, io::Error> {
        self.log
            .range(start_of(&range), end_of(&range))?
            .into_iter()
            .map(|(_, bytes)| codec::decode(&bytes))
            .collect()
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<TypeConfig>>, io::Error> {
        let mut cached = self.vote.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(vote) = *cached {
            return Ok(vote);
        }
        let vote = self.meta(META_VOTE)?;
        *cached = Some(vote);
        Ok(vote)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id: Option<LogIdOf<TypeConfig>> = self.meta(META_PURGED)?;
        let last_log_id = match self.log.last()? {
            Some((_, bytes)) => Some(codec::decode::<EntryOf<TypeConfig>>(&bytes)?.log_id()),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<TypeConfig>) -> Result<(), io::Error> {
        let mut cached = self.vote.lock().unwrap_or_else(|e| e.into_inner());
        // Forgotten first: should the write fail, the next read goes to disk.
        *cached = None;
        self.put_meta(META_VOTE, vote)?;
        // A vote must be durable before it is acted upon.
        self.log.store().sync_wal()?;
        *cached = Some(Some(*vote));
        Ok(())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        // Not synced: it only lets a restart re-apply sooner; losing it is safe.
        self.put_meta(META_COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<TypeConfig>>, io::Error> {
        Ok(self
            .meta::<Option<LogIdOf<TypeConfig>>>(META_COMMITTED)?
            .flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = EntryOf<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = entries
            .into_iter()
            .map(|e| Ok((e.index(), codec::encode(&e)?)))
            .collect::<Result<Vec<_>, io::Error>>()?;
        self.log.append(encoded)?;
        self.flusher
            .queue
            .as_ref()
            .and_then(|queue| queue.send(callback).ok())
            .ok_or_else(|| io::Error::other("log sync thread has stopped"))
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        let from = last_log_id.map(|id| id.index() + 1).unwrap_or(0);
        self.log.delete_range(from, u64::MAX)?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogIdOf<TypeConfig>) -> Result<(), io::Error> {
        // Record the purge point first: entries at or before it are ignored
        // from then on, so a crash between the two writes is harmless.
        self.put_meta(META_PURGED, &log_id)?;
        self.log.delete_range(0, log_id.index() + 1)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use openraft::testing::log::{StoreBuilder, Suite};
    use openraft::StorageError;

    use super::*;
    use crate::check::Digests;
    use crate::lease::LeaderLease;
    use crate::state_machine::StateMachine;

    struct Fresh;

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Fresh {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = Store::open(&dir.path().join("db")).expect("open store");
            let sm = StateMachine::new(
                store.clone(),
                dir.path().join("snapshots"),
                Digests::default(),
                LeaderLease::default(),
                crate::snapshot_schedule::SnapshotSchedule::new(1000),
            )
            .expect("state machine");
            Ok((dir, LogStore::new(store), sm))
        }
    }

    /// openraft's own conformance suite for log stores and state machines:
    /// reads after appends, truncations and purges, votes, and the initial
    /// state a restart derives from them.
    #[tokio::test]
    async fn passes_openraft_storage_suite() {
        Suite::test_all(Fresh).await.unwrap();
    }

    fn indexes(entries: Vec<EntryOf<TypeConfig>>) -> Vec<u64> {
        entries.iter().map(|e| e.index()).collect()
    }

    /// Exact ranges after each change of the log.
    #[tokio::test]
    async fn reads_follow_truncation_and_purge() {
        let (_dir, mut log, _sm) = Fresh.build().await.unwrap();
        let ids = |term, range: std::ops::RangeInclusive<u64>| {
            range
                .map(move |i| {
                    EntryOf::<TypeConfig>::new_blank(openraft::testing::log_id::<TypeConfig>(
                        term, 1, i,
                    ))
                })
                .collect::<Vec<_>>()
        };
        log.append(ids(1, 1..=5), IOFlushed::noop()).await.unwrap();
        assert_eq!(
            indexes(log.try_get_log_entries(2..6).await.unwrap()),
            [2, 3, 4, 5]
        );
        log.truncate_after(Some(openraft::testing::log_id::<TypeConfig>(1, 1, 3)))
            .await
            .unwrap();
        assert_eq!(
            indexes(log.try_get_log_entries(1..6).await.unwrap()),
            [1, 2, 3]
        );
        log.append(ids(2, 4..=4), IOFlushed::noop()).await.unwrap();
        let got = log.try_get_log_entries(4..5).await.unwrap();
        assert_eq!(got[0].log_id().committed_leader_id().term, 2);
        log.purge(openraft::testing::log_id::<TypeConfig>(1, 1, 2))
            .await
            .unwrap();
        assert_eq!(
            indexes(log.try_get_log_entries(1..5).await.unwrap()),
            [3, 4]
        );
    }
}
