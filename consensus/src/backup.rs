//! Online backup of a node's state, and restore of a backup into a new
//! single-node cluster.
//!
//! A backup is a directory of two files. `state.data` holds every
//! state-machine row as of one RocksDB snapshot, in the snapshot file format
//! of `bucketdb_storage` (with its record count and checksum), so it is one
//! applied state however many writes run meanwhile. `MANIFEST.json`,
//! written last, names the log id those rows are at and what the data file
//! must be (bytes, rows): a directory without it is not a backup.
//!
//! Restore writes a new data directory: the rows, the backup's log id as
//! the last applied one, and no log; openraft purges its log up to that id
//! on start and builds a snapshot from the rows for learners. The directory
//! is a new cluster (a new cluster id, in its file and in its rows) whose
//! only voter is the restored node. Its membership is recorded when the node
//! first starts, because only then are its bound addresses known.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bucketdb_storage::{verify_snapshot, RaftLogCf, Store};
use openraft::type_config::alias::{LeaderIdOf, LogIdOf, StoredMembershipOf, VoteOf};
use openraft::vote::{RaftLeaderId, RaftLeaderIdExt, RaftVote};
use openraft::Membership;
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::ConsensusError;
use crate::identity::{ClusterId, Identity};
use crate::log_store::META_VOTE;
use crate::node::{RaftNode, ReadConsistency};
use crate::state_machine::{write_synced, LAST_APPLIED, MEMBERSHIP};
use crate::types::{NodeInfo, TypeConfig};

/// The rows of a backup.
const DATA: &str = "state.data";
/// What the rows are; written last.
const MANIFEST: &str = "MANIFEST.json";
/// Present in a backup directory while it is written.
const IN_PROGRESS: &str = "in-progress";
/// Present in a data directory while restore writes it: a node refuses to
/// start on a half-restored directory.
const RESTORING: &str = "restoring";
/// State-machine metadata of a restored directory: the backup's log id,
/// from which the node's first start records its one-voter membership.
const RESTORED: &str = "restored";
const FORMAT: u32 = 1;

/// Why a backup could not be taken or a restore refused it.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("backup path {0} is not absolute")]
    RelativePath(PathBuf),
    #[error("{0} exists and is not an empty directory; a backup is written into a new one")]
    TargetExists(PathBuf),
    #[error("{0} is not a complete bucketdb backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("backup {0} is damaged: {1}")]
    Damaged(PathBuf, String),
    #[error("data directory {0} is not empty; restore makes a new one")]
    DataDirInUse(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// What `MANIFEST.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    /// The log id the rows are at: its leader's term and node, its index.
    term: u64,
    leader: u64,
    index: u64,
    /// Rows in `state.data`, and its length in bytes.
    records: u64,
    bytes: u64,
    /// The cluster and node it was taken from, for the operator.
    cluster_id: String,
    node_id: u64,
    taken_at_unix: u64,
}

/// A backup written, or a restore done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The applied log index the backup's state is at.
    pub index: u64,
    pub records: u64,
    pub bytes: u64,
    /// The cluster the backup was taken from; after a restore, the new one.
    pub cluster_id: String,
}

impl RaftNode {
    /// Writes a backup of the replicated state into `dir` (absolute; new or
    /// empty) and returns the applied index it is at. A linearizable read
    /// barrier is passed first, so every write acknowledged before the call
    /// is in it; writes go on while it is written.
    pub async fn backup(&self, dir: &Path) -> Result<BackupInfo, ConsensusError> {
        if !dir.is_absolute() {
            return Err(BackupError::RelativePath(dir.to_path_buf()).into());
        }
        claim(dir)?;
        let result = async {
            self.read_barrier(ReadConsistency::Linearizable, 0).await?;
            let store = self.store().clone();
            let target = dir.to_path_buf();
            let cluster_id = self.identity().get().map(|c| c.to_string());
            let node_id = self.node_id();
            tokio::task::spawn_blocking(move || {
                write_backup(&store, &target, cluster_id.unwrap_or_default(), node_id)
            })
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?
        }
        .await;
        if result.is_err() {
            // A directory without its manifest is not a backup: leave none.
            for name in [DATA, "state.partial", MANIFEST, IN_PROGRESS] {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
        result
    }
}

/// Takes `dir` for one backup: creates it, or takes it if empty, by
/// creating its in-progress marker (so two backups never share one).
fn claim(dir: &Path) -> Result<(), ConsensusError> {
    let io = |e| BackupError::Io(dir.to_path_buf(), e);
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::TargetExists(dir.to_path_buf()).into());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io)?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(BackupError::TargetExists(dir.to_path_buf()).into())
        }
        Err(e) => return Err(io(e).into()),
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dir.join(IN_PROGRESS))
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::TargetExists(dir.to_path_buf()).into())
        }
        Err(e) => Err(io(e).into()),
    }
}

fn write_backup(
    store: &Store,
    dir: &Path,
    cluster_id: String,
    node_id: u64,
) -> Result<BackupInfo, ConsensusError> {
    let io = |e| BackupError::Io(dir.to_path_buf(), e);
    let data = dir.join(DATA);
    let exported = store.export_snapshot(&data, &[LAST_APPLIED])?;
    let applied: Option<LogIdOf<TypeConfig>> = match exported.meta.first() {
        Some(Some(bytes)) => codec::decode(bytes)?,
        _ => None,
    };
    let applied = applied.ok_or_else(|| {
        ConsensusError::Unavailable("this node has applied nothing yet: no state to back up".into())
    })?;
    let bytes = std::fs::metadata(&data).map_err(io)?.len();
    let manifest = Manifest {
        format: FORMAT,
        term: applied.leader_id.term,
        leader: applied.leader_id.node_id,
        index: applied.index,
        records: exported.records,
        bytes,
        cluster_id: cluster_id.clone(),
        node_id,
        taken_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| io(e.into()))?;
    write_synced(&dir.join(MANIFEST), &text).map_err(io)?;
    std::fs::remove_file(dir.join(IN_PROGRESS)).map_err(io)?;
    bucketdb_storage::sync_parent(&data)?;
    Ok(BackupInfo {
        index: applied.index,
        records: exported.records,
        bytes,
        cluster_id,
    })
}

/// Reads and checks a backup in `from` without changing anything: its
/// manifest, and its data file against it (length, record count, checksum).
fn check_backup(from: &Path) -> Result<Manifest, BackupError> {
    let not_a_backup = |why: String| BackupError::NotABackup(from.to_path_buf(), why);
    let damaged = |why: String| BackupError::Damaged(from.to_path_buf(), why);
    let text =
        std::fs::read(from.join(MANIFEST)).map_err(|e| not_a_backup(format!("{MANIFEST}: {e}")))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| damaged(format!("{MANIFEST}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(damaged(format!(
            "format {} is not one this version reads ({FORMAT})",
            manifest.format
        )));
    }
    let data = from.join(DATA);
    let len = std::fs::metadata(&data)
        .map_err(|e| not_a_backup(format!("{DATA}: {e}")))?
        .len();
    if len != manifest.bytes {
        return Err(damaged(format!(
            "{DATA} has {len} bytes, the manifest says {}",
            manifest.bytes
        )));
    }
    let records = verify_snapshot(&data).map_err(|e| damaged(format!("{DATA}: {e}")))?;
    if records != manifest.records {
        return Err(damaged(format!(
            "{DATA} holds {records} rows, the manifest says {}",
            manifest.records
        )));
    }
    Ok(manifest)
}

/// Makes `data_dir` (absent or empty) a new single-node cluster holding
/// exactly the state of the backup in `from`, for node `node_id`. A backup
/// that is not whole and correct is refused before anything is written.
pub fn restore(from: &Path, data_dir: &Path, node_id: u64) -> Result<BackupInfo, ConsensusError> {
    let manifest = check_backup(from)?;
    let io = |e| BackupError::Io(data_dir.to_path_buf(), e);
    match std::fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::DataDirInUse(data_dir.to_path_buf()).into());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e).into()),
    }
    std::fs::create_dir_all(data_dir).map_err(io)?;
    write_synced(&data_dir.join(RESTORING), b"").map_err(io)?;
    let result = restore_into(from, data_dir, node_id, &manifest);
    match result {
        Ok(info) => {
            std::fs::remove_file(data_dir.join(RESTORING)).map_err(io)?;
            std::fs::File::open(data_dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
            Ok(info)
        }
        Err(e) => {
            // The directory was empty: leave it so.
            if let Ok(entries) = std::fs::read_dir(data_dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let _ = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                }
            }
            Err(e)
        }
    }
}

fn restore_into(
    from: &Path,
    data_dir: &Path,
    node_id: u64,
    manifest: &Manifest,
) -> Result<BackupInfo, ConsensusError> {
    let store = Store::open(data_dir)?;
    let log_id = LogIdOf::<TypeConfig>::new(
        LeaderIdOf::<TypeConfig>::new_committed(manifest.term, manifest.leader),
        manifest.index,
    );
    let records = store
        .import_snapshot(
            &from.join(DATA),
            &[
                (LAST_APPLIED, codec::encode(&Some(log_id))?),
                (RESTORED, codec::encode(&log_id)?),
            ],
        )
        .map_err(|e| BackupError::Damaged(from.to_path_buf(), e.to_string()))?;
    if records != manifest.records {
        return Err(BackupError::Damaged(
            from.to_path_buf(),
            format!(
                "{records} rows imported, the manifest says {}",
                manifest.records
            ),
        )
        .into());
    }
    // A new cluster: its own id, in the file and in the replicated state.
    let identity = Identity::open(data_dir, node_id)?;
    let cluster_id = identity.adopt(ClusterId::generate()?)?;
    store.rename_cluster(cluster_id.as_str(), manifest.index)?;
    // The node has seen the backup's term: it leads from the next one, so
    // its entries' terms follow the restored log id's.
    let vote = VoteOf::<TypeConfig>::from_leader_id(
        LeaderIdOf::<TypeConfig>::new(manifest.term, node_id),
        false,
    );
    RaftLogCf::new(store.clone()).put_meta(META_VOTE, &codec::encode(&vote)?)?;
    store.sync_wal()?;
    Ok(BackupInfo {
        index: manifest.index,
        records,
        bytes: manifest.bytes,
        cluster_id: cluster_id.to_string(),
    })
}

/// On a node's start: refuses a data directory a restore did not finish,
/// and gives a restored one its membership (this node, the only voter, at
/// the addresses it has bound) before Raft reads it.
pub(crate) fn finish_restore(
    store: &Store,
    data_dir: &Path,
    node_id: u64,
    info: &NodeInfo,
) -> Result<(), ConsensusError> {
    if data_dir.join(RESTORING).exists() {
        return Err(ConsensusError::Fatal(format!(
            "{} is a restore that did not finish; empty it and run restore again",
            data_dir.display()
        )));
    }
    if store.sm_meta(MEMBERSHIP)?.is_some() {
        return Ok(());
    }
    let Some(bytes) = store.sm_meta(RESTORED)? else {
        return Ok(());
    };
    let log_id: LogIdOf<TypeConfig> = codec::decode(&bytes)?;
    let membership = Membership::new(
        vec![BTreeSet::from([node_id])],
        BTreeMap::from([(node_id, info.clone())]),
    )
    .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
    let stored = StoredMembershipOf::<TypeConfig>::new(Some(log_id), membership);
    store.apply_meta(&[(MEMBERSHIP, codec::encode(&stored)?)])?;
    store.sync_wal()?;
    tracing::info!(
        node_id,
        index = log_id.index,
        "restored state: this node is the only voter of a new cluster"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{keys, Datum, Expect, KvBatch, KvOp, Precondition, Violation};
    use tokio::net::TcpListener;

    use super::*;
    use crate::node::tests::config;

    fn put_bucket(name: &str) -> KvBatch {
        KvBatch {
            preconditions: vec![Precondition {
                key: keys::bucket(name),
                expect: Expect::Absent,
                violation: Violation::UniqueViolation,
            }],
            ops: vec![KvOp::Put {
                key: keys::bucket(name),
                columns: vec![Datum::Text(name.into())],
            }],
            timestamp: 0,
        }
    }

    fn buckets(node: &RaftNode) -> Vec<Box<[u8]>> {
        let view = node.store().read_view();
        view.scan(
            &keys::buckets_start(),
            keys::prefix_end(&keys::buckets_start()),
        )
        .map(|r| r.unwrap().0)
        .collect()
    }

    async fn start(dir: &Path) -> RaftNode {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let node = RaftNode::start(config(dir), listener).await.unwrap();
        node.wait_for_leader().await.unwrap();
        node
    }

    #[tokio::test]
    async fn a_restored_backup_is_a_new_cluster_with_exactly_the_backed_up_state() {
        let tmp = tempfile::tempdir().unwrap();
        let node = start(&tmp.path().join("a")).await;
        for i in 0..10 {
            node.propose(put_bucket(&format!("before-{i}")))
                .await
                .unwrap();
        }
        let backup = tmp.path().join("backup");
        let taken = node.backup(&backup).await.unwrap();
        node.propose(put_bucket("after")).await.unwrap();
        let before = buckets(&node);
        assert_eq!(before.len(), 11);
        // The same directory again, or a relative one, is refused.
        assert!(matches!(
            node.backup(&backup).await,
            Err(ConsensusError::Backup(BackupError::TargetExists(_)))
        ));
        assert!(matches!(
            node.backup(Path::new("relative")).await,
            Err(ConsensusError::Backup(BackupError::RelativePath(_)))
        ));
        let old_cluster = node.status().cluster_id.unwrap();
        node.shutdown().await;

        let restored_dir = tmp.path().join("b");
        let restored = restore(&backup, &restored_dir, 1).unwrap();
        assert_eq!(restored.index, taken.index);
        assert_eq!(restored.records, taken.records);
        assert_ne!(restored.cluster_id, old_cluster);
        // Not twice into one directory.
        assert!(matches!(
            restore(&backup, &restored_dir, 1),
            Err(ConsensusError::Backup(BackupError::DataDirInUse(_)))
        ));

        let node = start(&restored_dir).await;
        assert_eq!(
            buckets(&node).len(),
            10,
            "the write after the backup is not in it"
        );
        assert!(node.applied_index() >= taken.index);
        assert_eq!(node.status().voters, vec![1]);
        assert_eq!(
            node.status().cluster_id.as_deref(),
            Some(&*restored.cluster_id)
        );
        let outcome = node.propose(put_bucket("after")).await.unwrap();
        assert!(
            matches!(outcome, bucketdb_storage::ApplyOutcome::Applied { index } if index > taken.index),
            "{outcome:?}"
        );
        node.shutdown().await;
    }

    #[test]
    fn a_damaged_backup_is_refused_and_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let backup = tmp.path().join("backup");
        rt.block_on(async {
            let node = start(&tmp.path().join("a")).await;
            for i in 0..5 {
                node.propose(put_bucket(&format!("b-{i}"))).await.unwrap();
            }
            node.backup(&backup).await.unwrap();
            node.shutdown().await;
        });
        let data = std::fs::read(backup.join(DATA)).unwrap();
        let manifest = std::fs::read(backup.join(MANIFEST)).unwrap();
        let target = tmp.path().join("restored");
        let refused = |why: &str| {
            let err = restore(&backup, &target, 1).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
            assert!(
                std::fs::read_dir(&target).map_or(true, |mut d| d.next().is_none()),
                "restore left files behind"
            );
        };
        // A byte flipped in the rows.
        let mut flipped = data.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x20;
        std::fs::write(backup.join(DATA), &flipped).unwrap();
        refused("checksum");
        // Truncated.
        std::fs::write(backup.join(DATA), &data[..data.len() - 10]).unwrap();
        refused("bytes");
        // Truncated, with a manifest edited to match.
        let mut m: Manifest = serde_json::from_slice(&manifest).unwrap();
        m.bytes -= 10;
        std::fs::write(backup.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
        refused("truncated");
        // No manifest: an interrupted backup.
        std::fs::write(backup.join(DATA), &data).unwrap();
        std::fs::remove_file(backup.join(MANIFEST)).unwrap();
        refused("not a complete bucketdb backup");
        // A manifest that is not one.
        std::fs::write(backup.join(MANIFEST), b"{\"format\": 1").unwrap();
        refused("damaged");
        std::fs::write(backup.join(MANIFEST), &manifest).unwrap();
        assert!(restore(&backup, &target, 1).is_ok());
    }
}
