//! A bucketdb Raft node: storage, log, state machine, transport and
//! openraft wired together, with what the SQL layer needs: propose a batch
//! and pass a read barrier, from any node. A follower carries both to the
//! leader over the node transport (see `routing.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bucketdb_storage::{keys, ApplyOutcome, Datum, KvBatch, KvOp, Limits, Store};
use openraft::async_runtime::WatchReceiver;
use openraft::error::ClientWriteError;
use openraft::{
    Config, LinearizerOption, Raft, RaftLogReader, ReadPolicy, ServerState, SnapshotPolicy,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::check::Digests;
use crate::error::ConsensusError;
use crate::guard::{admit, is_disk_full, watch_core, DiskRoom, Failure};
use crate::identity::{ClusterId, Identity};
use crate::lease::{LeaderLease, LEASE_AGE};
use crate::log_store::LogStore;
use crate::network::Network;
use crate::read_batch::ReadIndexBatch;
use crate::routing::Route;
use crate::snapshot_schedule::SnapshotSchedule;
use crate::state_machine::StateMachine;
use crate::transport::{Caller, Faults, NodeTls, Peers, Refusals, Request, Response};
use crate::types::{Command, CommandResponse, NodeInfo, TypeConfig};

/// What a node with an empty data directory does on start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// Form a single-voter cluster of this node.
    Single,
    /// Wait to be added to a cluster (`--join`, `--no-init`).
    Wait,
}

/// How a node starts.
#[derive(Clone)]
pub struct NodeConfig {
    pub node_id: u64,
    pub data_dir: PathBuf,
    pub info: NodeInfo,
    /// Only used when the data directory was never initialised: a node
    /// that has Raft state never initialises again.
    pub bootstrap: Bootstrap,
    /// Build a snapshot (and purge the log behind it) every this many
    /// entries, and no sooner than the last snapshot had rows (see
    /// `snapshot_schedule`).
    pub snapshot_every: u64,
    /// How long a proposal or a read barrier may wait for a leader/quorum.
    pub timeout: Duration,
    /// Links to cut, for fault-injection tests; empty in production.
    pub faults: Faults,
    /// Mutual TLS on the node transport (`--certs-dir`); `None` leaves it
    /// unauthenticated (loopback, or `--insecure`).
    pub tls: Option<NodeTls>,
    /// What one proposed batch may carry.
    pub limits: Limits,
    /// Writes are refused (53100) while the data directory's filesystem
    /// has fewer free bytes than this; 0 turns the guard off.
    pub min_free_disk: u64,
    /// The largest snapshot this node accepts from a leader.
    pub max_snapshot_bytes: u64,
    /// How the leader confirms it still leads before a linearizable read:
    /// by its lease (no round of its own) or by a quorum round.
    pub read_confirm: Confirm,
    /// How long adding a learner waits for it to hold the entry that added
    /// it ([`crate::CATCH_UP_TIMEOUT`] unless a test needs it shorter).
    pub catch_up_timeout: Duration,
}

/// How the leader confirms it still leads before answering a read index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Confirm {
    /// A quorum round that starts after the request arrived (ReadIndex).
    Quorum,
    /// A quorum acknowledgement younger than [`LEASE_AGE`] on the
    /// leader's clock: the heartbeats it sends anyway, so no round of its
    /// own while they are answered.
    Lease,
}

/// How long a follower refuses to vote for another leader after it last
/// heard from the current one (openraft's lease is `election_timeout_max`).
pub(crate) const ELECTION_TIMEOUT_MAX: Duration = Duration::from_millis(600);

/// How long a node that has voted before waits, when it starts, before it
/// takes part in Raft. Its refusal to vote while it hears from a leader
/// lives in memory: restarted at once, it could vote for (or become) a new
/// leader while the old one still counts on an acknowledgement this node
/// sent just before it stopped, and that leader's lease reads would be
/// stale. Waiting out the lease from the start of the process is waiting
/// at least that long after the last acknowledgement (openraft leaves this
/// to its user; see `storage/helper.rs` there).
const RESTART_QUIET: Duration = ELECTION_TIMEOUT_MAX;

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
    pub learners: Vec<u64>,
    /// The cluster this node belongs to, once it does.
    pub cluster_id: Option<String>,
    /// What the node transport turned away: (TLS, hello, requests,
    /// snapshots).
    pub refused: (u64, u64, u64, u64),
}

/// A running node. Cloned for every request it serves (a forwarded read
/// clones it a few times), so a clone is one reference count.
#[derive(Clone)]
pub struct RaftNode(Arc<NodeParts>);

impl std::ops::Deref for RaftNode {
    type Target = NodeParts;

    fn deref(&self) -> &NodeParts {
        &self.0
    }
}

/// What a [`RaftNode`] holds, shared by its clones.
pub struct NodeParts {
    pub(crate) raft: Raft<TypeConfig, StateMachine>,
    store: Store,
    pub(crate) config: Arc<NodeConfig>,
    pub(crate) peers: Peers,
    /// Held by the one membership change this node is carrying out.
    pub(crate) changing: Arc<tokio::sync::Mutex<()>>,
    stop: Arc<watch::Sender<bool>>,
    identity: Identity,
    refusals: Arc<Refusals>,
    pub(crate) failure: Failure,
    /// The digests this replica took at check entries.
    pub(crate) digests: Digests,
    /// Read-index requests to the leader, shared by the reads waiting at
    /// once: confirmed by a quorum round, and by the lease.
    quorum_reads: Arc<ReadIndexBatch>,
    lease_reads: Arc<ReadIndexBatch>,
    /// Lets the leader confirm a lease read without asking openraft's
    /// core (see `lease.rs`).
    pub(crate) lease: LeaderLease,
    /// The data directory's room above `min_free_disk`, checked per write.
    disk: DiskRoom,
}

impl RaftNode {
    /// Opens the data directory, starts Raft and serves peers on
    /// `raft_listener`. A node never initialised and started with
    /// [`Bootstrap::Single`] forms a one-voter cluster.
    pub async fn start(
        config: NodeConfig,
        raft_listener: TcpListener,
    ) -> Result<RaftNode, ConsensusError> {
        let store = Store::open(&config.data_dir)?;
        let raft_config = Config {
            cluster_name: "bucketdb".into(),
            heartbeat_interval: 100,
            election_timeout_min: 300,
            election_timeout_max: ELECTION_TIMEOUT_MAX.as_millis() as u64,
            // A node cut off and back does not force an election with its
            // inflated term.
            enable_pre_vote: Some(true),
            // Sending and installing a large snapshot takes time.
            install_snapshot_timeout: 120_000,
            // Entries can be large (multi-row statements); fewer per append
            // keeps each message well under the transport's frame limit.
            max_payload_entries: 64,
            // Ours instead (see `snapshot_schedule`).
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: 1000,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let digests = Digests::default();
        let lease = LeaderLease::default();
        let snapshots = SnapshotSchedule::new(config.snapshot_every);
        let sm = StateMachine::new(
            store.clone(),
            snapshot_dir(&config),
            digests.clone(),
            lease.clone(),
            snapshots.clone(),
        )
        .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let identity = Identity::open(&config.data_dir, config.node_id)?;
        // The node's own entry in a membership it initialises.
        let mut config = config;
        config.info.incarnation = Some(identity.incarnation().to_string());
        crate::backup::finish_restore(&store, &config.data_dir, config.node_id, &config.info)?;
        let peers = Peers::new(
            config.faults.clone(),
            Caller {
                node_id: config.node_id,
                identity: identity.clone(),
                tls: config.tls.clone(),
            },
        );
        let mut log_store = LogStore::new(store.clone());
        let voted = log_store
            .read_vote()
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?
            .is_some();
        if voted {
            tracing::info!(
                "waiting {RESTART_QUIET:?} for any leader's lease to run out before joining Raft"
            );
            tokio::time::sleep(RESTART_QUIET).await;
        }
        let raft = Raft::new(
            config.node_id,
            Arc::new(raft_config),
            Network {
                peers: peers.clone(),
            },
            log_store,
            sm,
        )
        .await
        .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let (stop, _) = watch::channel(false);
        let disk = DiskRoom::new(&config.data_dir, config.min_free_disk);
        let node = RaftNode(Arc::new(NodeParts {
            raft,
            store,
            config: Arc::new(config),
            peers,
            changing: Arc::default(),
            stop: Arc::new(stop),
            identity,
            refusals: Arc::default(),
            failure: Failure::default(),
            digests,
            quorum_reads: Arc::default(),
            lease_reads: Arc::default(),
            lease,
            disk,
        }));
        watch_core(node.raft.clone(), node.failure.clone());
        snapshots.spawn(node.raft.clone(), node.stop.subscribe());
        tokio::spawn(crate::transport::server::serve(
            raft_listener,
            node.clone(),
            node.stop.subscribe(),
        ));
        let initialized = node
            .raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        if !initialized && node.config.bootstrap == Bootstrap::Single {
            let id = node.identity.adopt(ClusterId::generate()?)?;
            tracing::info!(cluster = %id, "new cluster");
            let members = BTreeMap::from([(node.config.node_id, node.config.info.clone())]);
            node.raft
                .initialize(members)
                .await
                .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
            tracing::info!(
                node_id = node.config.node_id,
                "initialised a single-voter cluster"
            );
            node.record_cluster_id(&id).await;
        }
        if let Err(e) = node.reconcile_cluster_id() {
            // Stopped before it is dropped: its tasks would go on using the
            // store while the process exits.
            node.shutdown().await;
            return Err(e);
        }
        Ok(node)
    }

    /// The cluster id the replicated state holds, if any.
    fn replicated_cluster_id(&self) -> Result<Option<ClusterId>, ConsensusError> {
        let row = self.store.read_view().get(&keys::cluster_id())?;
        Ok(row.and_then(|r| match r.columns.first() {
            Some(Datum::Text(t)) => ClusterId::parse(t),
            _ => None,
        }))
    }

    /// Writes a new cluster's id into its replicated state, so that every
    /// member's state (and every snapshot) names the cluster it is of.
    async fn record_cluster_id(&self, id: &ClusterId) {
        let batch = KvBatch {
            ops: vec![KvOp::Put {
                key: keys::cluster_id(),
                columns: vec![Datum::Text(id.to_string())],
            }],
            ..KvBatch::default()
        };
        if let Err(e) = self.propose(batch).await {
            tracing::warn!("recording the cluster id in the replicated state: {e}");
        }
    }

    /// Checks the data directory's cluster id against the replicated
    /// state's: a lost `cluster-id` file is restored from the state, and a
    /// directory whose two disagree (files of another node copied in) is
    /// refused.
    fn reconcile_cluster_id(&self) -> Result<(), ConsensusError> {
        let Some(replicated) = self.replicated_cluster_id()? else {
            return Ok(());
        };
        match self.identity.get() {
            Some(file) if file != replicated => Err(ConsensusError::Fatal(format!(
                "{} says cluster {file}, but the replicated state is of cluster {replicated}",
                self.config.data_dir.join("cluster-id").display()
            ))),
            Some(_) => Ok(()),
            None => {
                self.identity.adopt(replicated.clone())?;
                tracing::info!(cluster = %replicated, "cluster id restored from the replicated state");
                Ok(())
            }
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn node_id(&self) -> u64 {
        self.config.node_id
    }

    pub(crate) fn raft(&self) -> &Raft<TypeConfig, StateMachine> {
        &self.raft
    }

    pub(crate) fn tls(&self) -> Option<&NodeTls> {
        self.config.tls.as_ref()
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.identity
    }

    pub(crate) fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Whether `id` may send this node Raft requests: a voter or learner of
    /// the membership this node knows, or the leader it already follows;
    /// `None` while it knows no membership (a node waiting to be added).
    /// Asked for every request a peer sends, so nothing is copied.
    ///
    /// The leader it follows is admitted whatever the membership says: a
    /// node catching up replays the log's memberships in order, and an old
    /// one may lack today's leader (a node removed and added again since).
    /// Refused there, the leader could never send the entries that name it,
    /// and the node would be stuck. A stranger cannot use this: it would
    /// have to be followed first, which takes being a member.
    pub(crate) fn admits_peer(&self, id: u64) -> Option<bool> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let membership = m.membership_config.membership();
        let mut ids = membership
            .voter_ids()
            .chain(membership.learner_ids())
            .peekable();
        ids.peek()?;
        let followed = m.vote.is_committed() && m.vote.leader_id().node_id == id;
        Some(followed || ids.any(|member| member == id))
    }

    /// Whether a batch may be proposed: the node serves, the batch is within
    /// the limits and the disk has room.
    fn admit(&self, batch: &KvBatch) -> Result<(), ConsensusError> {
        self.failure.check()?;
        admit(batch, &self.config.limits, &self.disk)
    }

    /// Why this node stopped serving, once a fatal storage or Raft error
    /// stopped it (`/health` reports it).
    pub fn failure(&self) -> Option<&str> {
        self.failure.get()
    }

    /// `Ok` while the node does all of its work; why not, when it failed
    /// or its disk is below the reserve (reads go on then, writes wait).
    pub fn health(&self) -> Result<(), String> {
        if let Some(why) = self.failure() {
            return Err(format!("failed: {why}"));
        }
        match self.disk.shortfall() {
            Err(e) => Err(format!("data directory: {e}")),
            Ok(Some(free)) => Err(format!(
                "disk full: {free} bytes free, less than min_free_disk_bytes ({}); writes are refused",
                self.disk.min_free()
            )),
            Ok(None) => Ok(()),
        }
    }

    /// The write limits this node enforces.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// Whether this node has ever been part of a cluster.
    pub async fn is_initialized(&self) -> Result<bool, ConsensusError> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))
    }

    /// Why a snapshot arriving from the leader must not grow past `bytes`:
    /// over the size bound, or into the disk's reserve.
    pub(crate) fn snapshot_room(&self, bytes: u64) -> Result<(), String> {
        if bytes > self.config.max_snapshot_bytes {
            return Err(format!(
                "snapshot over max_snapshot_bytes ({})",
                self.config.max_snapshot_bytes
            ));
        }
        match self.disk.shortfall().map_err(|e| e.to_string())? {
            Some(free) => Err(format!(
                "disk full: {free} bytes free, less than min_free_disk_bytes ({})",
                self.disk.min_free()
            )),
            None => Ok(()),
        }
    }

    /// Where a snapshot received from the leader is written while it
    /// arrives (a `.partial` file is removed on start if a crash left it).
    pub(crate) fn incoming_snapshot_path(&self) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        snapshot_dir(&self.config).join(format!("receiving-{nanos}.partial"))
    }

    /// Waits until this node knows a leader (it may be itself), up to the
    /// configured timeout.
    pub async fn wait_for_leader(&self) -> Result<u64, ConsensusError> {
        self.wait_for_leader_within(self.config.timeout).await
    }

    pub(crate) async fn wait_for_leader_within(
        &self,
        timeout: Duration,
    ) -> Result<u64, ConsensusError> {
        // The common case without cloning the metrics or arming a timer:
        // this runs before every read and write.
        if let Some(leader) = self.raft.metrics().borrow_watched().current_leader {
            return Ok(leader);
        }
        self.raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map_err(|_| {
                ConsensusError::Unavailable(format!("no leader known within {timeout:?}"))
            })?
            .current_leader
            .ok_or_else(|| ConsensusError::Unavailable("no leader".into()))
    }

    /// Proposes a batch through the leader, wherever it is, and returns how
    /// the state machine applied it.
    pub async fn propose(&self, batch: KvBatch) -> Result<ApplyOutcome, ConsensusError> {
        self.admit(&batch)?;
        let timeout = self.config.timeout;
        self.on_leader(timeout, |node, route, remaining| {
            let batch = batch.clone();
            Box::pin(async move {
                match route {
                    Route::Here => node.propose_here(batch).await,
                    Route::Leader(id, info) => {
                        match node
                            .forward(id, &info, Request::Propose(batch), remaining)
                            .await?
                        {
                            Response::Proposed(outcome) => Ok(outcome),
                            _ => Err(unexpected_reply("a forwarded write")),
                        }
                    }
                }
            })
        })
        .await
    }

    /// Proposes on this node, which must be the leader.
    pub(crate) async fn propose_here(
        &self,
        batch: KvBatch,
    ) -> Result<ApplyOutcome, ConsensusError> {
        // Again here: a forwarded batch was admitted by a node whose disk
        // and limits may not be this one's.
        self.admit(&batch)?;
        let timeout = self.config.timeout;
        let write = self.raft.client_write(Command::Write(batch));
        let resp = match tokio::time::timeout(timeout, write).await {
            Err(_) => {
                return Err(ConsensusError::Ambiguous(format!(
                    "write not committed within {timeout:?}"
                )))
            }
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                return Err(match e.api_error() {
                    Some(ClientWriteError::ForwardToLeader(f)) => ConsensusError::NotLeader {
                        leader: f.leader_id,
                    },
                    Some(ClientWriteError::LogEntryDiscarded(_)) => {
                        ConsensusError::Ambiguous(e.to_string())
                    }
                    _ if is_disk_full(&e.to_string()) => ConsensusError::DiskFull(e.to_string()),
                    _ => ConsensusError::Fatal(e.to_string()),
                })
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
    /// state machine, and the applied index the read will see at least
    /// (read it before taking the read view). `at_least` is the newest index
    /// the session has already seen: even a `Local` read waits for it, so a
    /// session sees its own writes and never goes back in time.
    pub async fn read_barrier(
        &self,
        consistency: ReadConsistency,
        at_least: u64,
    ) -> Result<u64, ConsensusError> {
        self.failure.check()?;
        if consistency == ReadConsistency::Linearizable {
            self.linearize(self.config.read_confirm).await?;
        }
        self.wait_seen(at_least).await
    }

    /// The barrier a write plans behind: everything acknowledged so far is
    /// applied here. Leadership is confirmed by the leader's lease (a quorum
    /// acknowledged it within the election timeout), not a new round: a
    /// stale plan cannot commit anyway, since its proposal is checked by
    /// Raft and by its preconditions.
    pub async fn write_barrier(&self, at_least: u64) -> Result<u64, ConsensusError> {
        self.failure.check()?;
        self.linearize(Confirm::Lease).await?;
        self.wait_seen(at_least).await
    }

    async fn wait_seen(&self, at_least: u64) -> Result<u64, ConsensusError> {
        if self.applied_index() < at_least {
            self.wait_applied(at_least, self.config.timeout).await?;
        }
        Ok(self.applied_index())
    }

    /// The index of the last entry applied to this node's state machine
    /// (from the state machine itself: openraft's metrics learn it a turn
    /// of its loop later).
    pub fn applied_index(&self) -> u64 {
        self.lease.applied_index()
    }

    /// ReadIndex: waits until this node has applied everything committed
    /// before now, as confirmed by the leader. A follower's reads share
    /// their requests to the leader (see `read_batch`).
    async fn linearize(&self, confirm: Confirm) -> Result<(), ConsensusError> {
        let timeout = self.config.timeout;
        self.on_leader(timeout, |node, route, remaining| {
            Box::pin(async move {
                match route {
                    Route::Here => node.read_index_here(confirm).await.map(|_| ()),
                    Route::Leader(id, info) => {
                        let asker = node.clone();
                        let ask = move || {
                            let (node, info) = (asker.clone(), info.clone());
                            async move {
                                match node
                                    .forward(id, &info, Request::ReadIndex(confirm), remaining)
                                    .await
                                {
                                    Ok(Response::ReadIndex(i)) => Ok(i),
                                    Ok(_) => Err(unexpected_reply("a read index request")),
                                    // Asking again is harmless.
                                    Err(ConsensusError::Ambiguous(m)) => {
                                        Err(ConsensusError::Unavailable(m))
                                    }
                                    Err(e) => Err(e),
                                }
                            }
                        };
                        let batch = match confirm {
                            Confirm::Quorum => &node.quorum_reads,
                            Confirm::Lease => &node.lease_reads,
                        };
                        let index = batch.read_index(ask).await?;
                        node.wait_applied(index, remaining).await
                    }
                }
            })
        })
        .await
    }

    /// On the leader: confirms leadership (with a quorum round that starts
    /// now, or by lease) and returns the index a read must see, waiting
    /// here until it is applied. Concurrent reads share quorum rounds.
    pub(crate) async fn read_index_here(&self, how: Confirm) -> Result<u64, ConsensusError> {
        if how == Confirm::Lease {
            if let Some(index) = self.lease.read_index(&self.raft.metrics().borrow_watched()) {
                return Ok(index);
            }
        }
        let timeout = self.config.timeout;
        let option = match how {
            Confirm::Quorum => LinearizerOption::from(ReadPolicy::ReadIndex),
            // A stale lease is renewed by a heartbeat round, not refused.
            Confirm::Lease => LinearizerOption::new(Some(LEASE_AGE), true),
        };
        let confirm = self.raft.ensure_linearizable(option);
        match tokio::time::timeout(timeout, confirm).await {
            Err(_) => Err(ConsensusError::Unavailable(format!(
                "read not confirmed by a quorum within {timeout:?}"
            ))),
            Ok(Ok(read_log_id)) => Ok(read_log_id.index()),
            Ok(Err(e)) => match e.forward_to_leader() {
                Some(fwd) => Err(ConsensusError::NotLeader {
                    leader: fwd.leader_id,
                }),
                None => Err(ConsensusError::Unavailable(e.to_string())),
            },
        }
    }

    /// Waits until this node's state machine has applied `index`.
    async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), ConsensusError> {
        // Usually so already: no waiter (and no timer) to set up.
        if self.applied_index() >= index {
            return Ok(());
        }
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "read index applied")
            .await
            .map(|_| ())
            .map_err(|_| {
                ConsensusError::Unavailable(format!(
                    "this node did not apply the read index {index} within {timeout:?}"
                ))
            })
    }

    pub fn status(&self) -> NodeStatus {
        let m = self.raft.metrics().borrow_watched().clone();
        let membership = m.membership_config.membership();
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
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            cluster_id: self.identity.get().map(|id| id.to_string()),
            refused: (
                self.refusals.tls.load(Ordering::Relaxed),
                self.refusals.hello.load(Ordering::Relaxed),
                self.refusals.requests.load(Ordering::Relaxed),
                self.refusals.snapshots.load(Ordering::Relaxed),
            ),
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

    /// Stops Raft and the transport; every acknowledged write is already
    /// durable.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        if let Err(e) = self.store.sync_wal() {
            tracing::warn!("final wal sync: {e}");
        }
    }
}

fn snapshot_dir(config: &NodeConfig) -> PathBuf {
    config.data_dir.join("snapshots")
}

pub(crate) fn unexpected_reply(what: &str) -> ConsensusError {
    ConsensusError::Fatal(format!(
        "the leader answered {what} with an unexpected message"
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use bucketdb_storage::{keys, Datum, Expect, KvOp, Precondition, Violation};

    use super::*;

    pub(crate) fn config(dir: &std::path::Path) -> NodeConfig {
        NodeConfig {
            node_id: 1,
            data_dir: dir.to_path_buf(),
            info: NodeInfo::default(),
            bootstrap: Bootstrap::Single,
            snapshot_every: 20,
            timeout: Duration::from_secs(10),
            faults: Faults::default(),
            tls: None,
            limits: Limits::default(),
            min_free_disk: 0,
            max_snapshot_bytes: u64::MAX,
            read_confirm: Confirm::Lease,
            catch_up_timeout: crate::CATCH_UP_TIMEOUT,
        }
    }

    async fn listener() -> TcpListener {
        TcpListener::bind("127.0.0.1:0").await.unwrap()
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
            timestamp: 0,
        }
    }

    #[tokio::test]
    async fn single_voter_proposes_snapshots_and_recovers_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let node = RaftNode::start(config(dir.path()), listener().await)
            .await
            .unwrap();
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
        node.read_barrier(ReadConsistency::Linearizable, 0)
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
            match RaftNode::start(config(dir.path()), listener().await).await {
                Ok(n) => {
                    reopened = Some(n);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let node = reopened.expect("node reopens");
        node.wait_for_leader().await.unwrap();
        node.read_barrier(ReadConsistency::Linearizable, 0)
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

    /// With `snapshot_every` 20, a state of 200 rows is snapshotted no
    /// sooner than 200 entries after its last snapshot (`snapshot_schedule`).
    #[tokio::test]
    async fn a_larger_state_waits_as_many_entries_as_it_has_rows() {
        let dir = tempfile::tempdir().unwrap();
        let node = RaftNode::start(config(dir.path()), listener().await)
            .await
            .unwrap();
        node.wait_for_leader().await.unwrap();
        let mut many = KvBatch::default();
        for i in 0..200 {
            many.ops.extend(put_bucket(&format!("many-{i:03}")).ops);
        }
        node.propose(many).await.unwrap();
        let first = node.snapshot().await.unwrap().unwrap();
        let mut next = None;
        for i in 0..400 {
            node.propose(put_bucket(&format!("one-{i:03}")))
                .await
                .unwrap();
            // Give a requested build the time to finish before looking.
            if i % 20 == 19 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if let Some(now) = node.status().snapshot_index.filter(|s| *s > first) {
                next = Some(now);
                break;
            }
        }
        let next = next.expect("a snapshot within 400 entries");
        assert!(next - first >= 200, "snapshots at {first} and {next}");
        node.shutdown().await;
    }

    /// A node that has voted waits out any leader's lease before it runs
    /// Raft again (it could otherwise elect a new leader while the old one
    /// still serves lease reads on its last acknowledgement); a new node
    /// has acknowledged nothing and starts at once.
    #[tokio::test]
    async fn a_node_that_voted_waits_out_the_lease_when_it_starts() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let node = RaftNode::start(config(dir.path()), listener().await)
            .await
            .unwrap();
        assert!(started.elapsed() < RESTART_QUIET, "{:?}", started.elapsed());
        node.wait_for_leader().await.unwrap();
        node.shutdown().await;
        drop(node);
        let mut waited = None;
        for _ in 0..100 {
            let started = std::time::Instant::now();
            match RaftNode::start(config(dir.path()), listener().await).await {
                Ok(n) => {
                    waited = Some(started.elapsed());
                    n.shutdown().await;
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let waited = waited.expect("node reopens");
        assert!(waited >= RESTART_QUIET, "{waited:?}");
    }
}
