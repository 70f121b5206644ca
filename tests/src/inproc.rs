//! Clusters of nodes inside the test process, for fault injection: each
//! node is a real `RaftNode` with its SQL engine, talking to the others over
//! TCP on 127.0.0.1, and its `Faults` cut links on demand. Killing a node
//! shuts its Raft and transport down; restarting reopens its data directory
//! on the same Raft address.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketdb_consensus::{
    Bootstrap, Confirm, Faults, MembershipChange, NodeConfig, NodeInfo, RaftNode,
};
use bucketdb_sql::{Engine, Interrupt, Output, Session, SqlError, Value};
use tokio::net::TcpListener;

/// Proposal and read-barrier timeout of in-process nodes.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// How long adding a learner waits for it to catch up, in process: their
/// logs are short (a join takes well under a second), so a learner that
/// cannot catch up is reported in seconds, not after production's wait.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Node {
    pub node: RaftNode,
    pub engine: Arc<Engine>,
    pub faults: Faults,
    pub info: NodeInfo,
}

pub struct InProcCluster {
    /// `None` while a node is down.
    pub nodes: Vec<Option<Node>>,
    /// How many times each node's data directory was wiped: a wiped node
    /// starts on a new empty directory (the old one may still be open
    /// through an engine a client holds).
    wipes: Vec<usize>,
    tmp: tempfile::TempDir,
    /// How every node's linearizable reads confirm leadership.
    read_confirm: Confirm,
}

impl InProcCluster {
    /// Node 1 initialises; the others are added and promoted through it.
    /// Linearizable reads are confirmed by the leader's lease, as a node
    /// started without flags confirms them.
    pub async fn start(n: usize) -> InProcCluster {
        Self::start_with(n, Confirm::Lease).await
    }

    /// As [`InProcCluster::start`], with reads confirmed by `read_confirm`.
    pub async fn start_with(n: usize, read_confirm: Confirm) -> InProcCluster {
        let mut c = InProcCluster {
            nodes: vec![],
            wipes: vec![],
            tmp: tempfile::tempdir().expect("temp dir"),
            read_confirm,
        };
        c.nodes.push(None);
        c.launch(0, Bootstrap::Single, "127.0.0.1:0").await;
        c.node(0).node.wait_for_leader().await.expect("a leader");
        for _ in 1..n {
            let i = c.spawn_waiting().await;
            c.join(i).await;
        }
        c
    }

    fn dir(&self, i: usize) -> PathBuf {
        match self.wipes.get(i).copied().unwrap_or(0) {
            0 => self.tmp.path().join(format!("n{}", i + 1)),
            w => self.tmp.path().join(format!("n{}-wiped{w}", i + 1)),
        }
    }

    /// Starts (or restarts) the node at position `i`.
    async fn launch(&mut self, i: usize, bootstrap: Bootstrap, addr: &str) {
        // A restarted node takes its old address, which the killed
        // instance's sockets may hold for a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("raft listener on {addr}: {e}"),
            }
        };
        let info = NodeInfo {
            raft_addr: listener.local_addr().expect("addr").to_string(),
            sql_addr: format!("in-process-{}:0", i + 1),
            incarnation: None,
        };
        let faults = Faults::default();
        let config = NodeConfig {
            node_id: i as u64 + 1,
            data_dir: self.dir(i),
            info: info.clone(),
            bootstrap,
            snapshot_every: 1000,
            timeout: TIMEOUT,
            faults: faults.clone(),
            tls: None,
            limits: Default::default(),
            min_free_disk: 0,
            max_snapshot_bytes: u64::MAX,
            read_confirm: self.read_confirm,
            catch_up_timeout: CATCH_UP_TIMEOUT,
        };
        // A node killed in this process may hold its RocksDB lock for a
        // moment after shutdown.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut listener = Some(listener);
        let node = loop {
            let l = match listener.take() {
                Some(l) => l,
                None => TcpListener::bind(&info.raft_addr).await.expect("rebind"),
            };
            match RaftNode::start(config.clone(), l).await {
                Ok(n) => break n,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("node {} does not start: {e}", i + 1),
            }
        };
        let member = Node {
            engine: Arc::new(Engine::new(node.clone(), Default::default()).expect("engine")),
            node,
            faults,
            info,
        };
        self.nodes[i] = Some(member);
    }

    /// Starts a new node that waits to be added; returns its position.
    pub async fn spawn_waiting(&mut self) -> usize {
        let i = self.nodes.len();
        self.nodes.push(None);
        self.launch(i, Bootstrap::Wait, "127.0.0.1:0").await;
        i
    }

    /// Adds node `i` as a learner and promotes it, through any live node.
    pub async fn join(&self, i: usize) {
        let admin = self.any_other(i);
        let id = i as u64 + 1;
        admin
            .change_membership(MembershipChange::AddLearner {
                id,
                info: self.node(i).info.clone(),
            })
            .await
            .expect("add learner");
        admin
            .change_membership(MembershipChange::Promote { id })
            .await
            .expect("promote");
    }

    fn any_other(&self, i: usize) -> &RaftNode {
        self.up()
            .find(|(j, _)| *j != i)
            .map(|(_, n)| &n.node)
            .expect("another live node")
    }

    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node is up")
    }

    pub fn up(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_ref().map(|n| (i, n)))
    }

    /// Cuts node `i` off from every other node, both ways.
    pub fn isolate(&self, i: usize) {
        for (j, n) in self.up() {
            if j != i {
                n.faults.block(i as u64 + 1);
                self.node(i).faults.block(j as u64 + 1);
            }
        }
    }

    pub fn heal(&self) {
        for (_, n) in self.up() {
            n.faults.heal();
        }
    }

    /// Stops node `i` as a crash would: in-flight requests fail.
    pub async fn kill(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            n.node.shutdown().await;
        }
    }

    /// Restarts node `i`, down, with an empty data directory on its Raft
    /// address, waiting to be added: as after losing its disk.
    pub async fn restart_wiped(&mut self, i: usize, raft_addr: &str) {
        assert!(self.nodes[i].is_none(), "node {} is up", i + 1);
        if self.wipes.len() <= i {
            self.wipes.resize(i + 1, 0);
        }
        self.wipes[i] += 1;
        self.launch(i, Bootstrap::Wait, raft_addr).await;
    }

    /// Node `i` loses its disk and comes back under its id and address,
    /// empty; once the leader is refused by it, it is removed through the
    /// leader, ready to be added again with [`InProcCluster::join`].
    pub async fn wipe_and_remove(&mut self, i: usize) {
        let leader = self.leader().await;
        assert_ne!(i, leader, "the leader is not wiped");
        let id = i as u64 + 1;
        let addr = self.node(i).info.raft_addr.clone();
        self.kill(i).await;
        self.restart_wiped(i, &addr).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let members = self.node(leader).node.members().await.expect("members");
            if members
                .iter()
                .any(|m| m.node_id == id && m.refused.is_some())
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the wiped node {id} was not refused"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.node(leader)
            .node
            .change_membership(MembershipChange::Remove { id })
            .await
            .expect("remove the wiped node");
    }

    /// Restarts node `i` on its data directory and Raft address.
    pub async fn restart(&mut self, i: usize, raft_addr: &str) {
        assert!(self.nodes[i].is_none(), "node {} is up", i + 1);
        self.launch(i, Bootstrap::Wait, raft_addr).await;
    }

    /// The position of a node among `candidates` that leads, waiting.
    pub async fn leader_among(&self, candidates: &[usize]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for &i in candidates {
                if let Some(n) = &self.nodes[i] {
                    if n.node.status().state == "leader" {
                        return i;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader among {candidates:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The position of the current leader among the live nodes.
    pub async fn leader(&self) -> usize {
        let up: Vec<usize> = self.up().map(|(i, _)| i).collect();
        self.leader_among(&up).await
    }

    /// Checks through the leader that every member's state digest at one
    /// log index is the same (`cluster_check()`).
    pub async fn assert_consistent(&self) {
        let leader = self.leader().await;
        let reports = self.node(leader).node.check().await.expect("check runs");
        assert_eq!(
            reports.len(),
            self.up().count(),
            "a report per member: {reports:?}"
        );
        let first = reports[0].digest.clone().expect("a digest");
        for r in &reports {
            assert_eq!(
                r.digest.as_ref(),
                Ok(&first),
                "node {} disagrees",
                r.node_id
            );
        }
    }

    pub async fn shutdown(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i).await;
        }
    }
}

/// Runs one SQL statement on an engine, as a connection would.
pub async fn sql(
    engine: &Engine,
    session: &mut Session,
    query: &str,
    params: Vec<Value>,
) -> Result<Output, SqlError> {
    let stmts = engine.parse(query)?;
    let [stmt] = stmts.as_slice() else {
        panic!("one statement expected: {query}");
    };
    let prepared = engine.prepare(stmt, Some(query), &[]).await?;
    let interrupt = Interrupt::start(Arc::new(AtomicBool::new(false)), None);
    engine.execute(session, &prepared, &interrupt, params).await
}
