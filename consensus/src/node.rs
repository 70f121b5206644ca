//! A bucketdb Raft node: storage, log, state machine and openraft wired
//! together, with the two operations the SQL layer needs: propose a batch,
//! and pass a read barrier.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bucketdb_storage::{ApplyOutcome, KvBatch, Store};
use openraft::async_runtime::WatchReceiver;
use openraft::{Config, Raft, ReadPolicy, ServerState, SnapshotPolicy};

use crate::error::ConsensusError;
use crate::log_store::LogStore;
use crate::network::NoPeers;
use crate::state_machine::StateMachine;
use crate::types::{Command, CommandResponse, NodeInfo, TypeConfig};

/// How a node starts.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub node_id: u64,
    pub data_dir: PathBuf,
    pub info: NodeInfo,
    /// With an empty data directory, form a single-voter cluster of this node.
    pub init_single: bool,
    /// Build a snapshot (and purge the log behind it) every this many entries.
    pub snapshot_every: u64,
    /// How long a proposal or a read barrier may wait for a leader/quorum.
    pub timeout: Duration,
}

/// The read strength a session asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Leadership confirmed by a quorum (ReadIndex), then wait until applied.
    Linearizable,
    /// This node's applied state, now.
    Local,
}

/// A point-in-time view of the node, for `cluster_status()` and `/metrics`.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub node_id: u64,
    pub state: String,
    pub leader_id: Option<u64>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub commit_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub voters: Vec<u64>,
}

#[derive(Clone)]
pub struct RaftNode {
    raft: Raft<TypeConfig, StateMachine>,
    store: Store,
    config: Arc<NodeConfig>,
}

impl RaftNode {
    /// Opens the data directory and starts the node. With `init_single` and
    /// a node that was never initialised, forms a one-voter cluster and waits
    /// until it leads.
    pub async fn start(config: NodeConfig) -> Result<RaftNode, ConsensusError> {
        let store = Store::open(&config.data_dir)?;
        let raft_config = Config {
            cluster_name: "bucketdb".into(),
            heartbeat_interval: 100,
            election_timeout_min: 300,
            election_timeout_max: 600,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_every),
            max_in_snapshot_log_to_keep: 1000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let sm = StateMachine::new(store.clone(), config.data_dir.join("snapshots"))
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            NoPeers,
            LogStore::new(store.clone()),
            sm,
        )
        .await
        .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let node = RaftNode {
            raft,
            store,
            config: Arc::new(config),
        };
        let initialized = node
            .raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        if !initialized && node.config.init_single {
            let members = BTreeMap::from([(node.config.node_id, node.config.info.clone())]);
            node.raft
                .initialize(members)
                .await
                .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
            tracing::info!(
                node_id = node.config.node_id,
                "initialised a single-voter cluster"
            );
        }
        Ok(node)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn node_id(&self) -> u64 {
        self.config.node_id
    }

    /// Waits until this node knows a leader (it may be itself), up to the
    /// configured timeout.
    pub async fn wait_for_leader(&self) -> Result<u64, ConsensusError> {
        self.raft
            .wait(Some(self.config.timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map_err(|e| ConsensusError::Unavailable(e.to_string()))?
            .current_leader
            .ok_or_else(|| ConsensusError::Unavailable("no leader".into()))
    }

    /// Proposes a batch and returns how the state machine applied it.
    pub async fn propose(&self, batch: KvBatch) -> Result<ApplyOutcome, ConsensusError> {
        let write = self.raft.client_write(Command::Write(batch));
        let resp = match tokio::time::timeout(self.config.timeout, write).await {
            Err(_) => {
                return Err(ConsensusError::Unavailable(format!(
                    "write not committed within {:?}",
                    self.config.timeout
                )))
            }
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                if let Some(fwd) = e.forward_to_leader() {
                    return Err(ConsensusError::NotLeader {
                        leader: fwd.leader_id,
                    });
                }
                return Err(ConsensusError::Fatal(e.to_string()));
            }
        };
        match resp.data {
            CommandResponse::Write(outcome) => Ok(outcome),
            CommandResponse::Done => Err(ConsensusError::Fatal(
                "write applied as a non-write entry".into(),
            )),
        }
    }

    /// Returns once a read at `consistency` may be served from this node's
    /// state machine.
    pub async fn read_barrier(&self, consistency: ReadConsistency) -> Result<(), ConsensusError> {
        match consistency {
            ReadConsistency::Local => Ok(()),
            ReadConsistency::Linearizable => {
                let barrier = self.raft.ensure_linearizable(ReadPolicy::ReadIndex);
                match tokio::time::timeout(self.config.timeout, barrier).await {
                    Err(_) => Err(ConsensusError::Unavailable(format!(
                        "read not confirmed by a quorum within {:?}",
                        self.config.timeout
                    ))),
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => match e.forward_to_leader() {
                        Some(fwd) => Err(ConsensusError::NotLeader {
                            leader: fwd.leader_id,
                        }),
                        None => Err(ConsensusError::Unavailable(e.to_string())),
                    },
                }
            }
        }
    }

    pub fn status(&self) -> NodeStatus {
        let m = self.raft.metrics().borrow_watched().clone();
        NodeStatus {
            node_id: self.config.node_id,
            state: match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Learner => "learner",
                ServerState::Candidate => "candidate",
                ServerState::Shutdown => "shutdown",
            }
            .into(),
            leader_id: m.current_leader,
            term: m.current_term,
            last_log_index: m.last_log_index,
            commit_index: m.local_committed.as_ref().map(|l| l.index()),
            applied_index: m.last_applied.as_ref().map(|l| l.index()),
            snapshot_index: m.snapshot.as_ref().map(|l| l.index()),
            purged_index: m.purged.as_ref().map(|l| l.index()),
            voters: m.membership_config.membership().voter_ids().collect(),
        }
    }

    /// Builds a snapshot now and returns its index once it is on disk.
    pub async fn snapshot(&self) -> Result<Option<u64>, ConsensusError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let applied = self.status().applied_index;
        self.raft
            .wait(Some(self.config.timeout))
            .metrics(
                |m| m.snapshot.as_ref().map(|l| l.index()) >= applied,
                "snapshot built",
            )
            .await
            .map_err(|e| ConsensusError::Unavailable(e.to_string()))?;
        Ok(self.status().snapshot_index)
    }

    /// Stops Raft; every acknowledged write is already durable.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        if let Err(e) = self.store.sync_wal() {
            tracing::warn!("final wal sync: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use bucketdb_storage::{keys, Datum, Expect, KvOp, Precondition, Violation};

    use super::*;

    fn config(dir: &std::path::Path) -> NodeConfig {
        NodeConfig {
            node_id: 1,
            data_dir: dir.to_path_buf(),
            info: NodeInfo::default(),
            init_single: true,
            snapshot_every: 20,
            timeout: Duration::from_secs(10),
        }
    }

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
        }
    }

    #[tokio::test]
    async fn single_voter_proposes_snapshots_and_recovers_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let node = RaftNode::start(config(dir.path())).await.unwrap();
        node.wait_for_leader().await.unwrap();
        for i in 0..50 {
            let outcome = node
                .propose(put_bucket(&format!("bucket-{i:03}")))
                .await
                .unwrap();
            assert!(
                matches!(outcome, ApplyOutcome::Applied { .. }),
                "{outcome:?}"
            );
        }
        // The same precondition now fails, identically, without writing.
        let dup = node.propose(put_bucket("bucket-007")).await.unwrap();
        assert!(
            matches!(dup, ApplyOutcome::Rejected(ref r) if r.violation == Violation::UniqueViolation)
        );
        node.read_barrier(ReadConsistency::Linearizable)
            .await
            .unwrap();
        let snap = node.snapshot().await.unwrap();
        assert!(snap.is_some_and(|i| i >= 50), "{snap:?}");
        node.shutdown().await;
        drop(node);

        // In one process the old instance's threads may still hold the
        // RocksDB lock for a moment after shutdown; a real restart is a new
        // process.
        let mut reopened = None;
        for _ in 0..100 {
            match RaftNode::start(config(dir.path())).await {
                Ok(n) => {
                    reopened = Some(n);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let node = reopened.expect("node reopens");
        node.wait_for_leader().await.unwrap();
        node.read_barrier(ReadConsistency::Linearizable)
            .await
            .unwrap();
        let view = node.store().read_view();
        let n = view
            .scan(
                &keys::buckets_start(),
                keys::prefix_end(&keys::buckets_start()),
            )
            .count();
        assert_eq!(n, 50);
        let status = node.status();
        assert_eq!(status.leader_id, Some(1));
        assert_eq!(status.voters, vec![1]);
    }
}
