//! Fault injection with a three-node cluster in one process: nodes talk
//! over real TCP on 127.0.0.1, and each node's `Faults` cuts links.

use std::time::{Duration, Instant};

use bucketdb_consensus::{
    Bootstrap, ConsensusError, Faults, MembershipChange, NodeConfig, NodeInfo, RaftNode,
    ReadConsistency,
};
use bucketdb_storage::{keys, ApplyOutcome, Datum, KvBatch, KvOp};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(3);

struct Node {
    node: RaftNode,
    faults: Faults,
    info: NodeInfo,
}

async fn start(id: u64, dir: &std::path::Path, bootstrap: Bootstrap) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let info = NodeInfo {
        raft_addr: listener.local_addr().unwrap().to_string(),
        sql_addr: format!("sql-of-{id}:5433"),
    };
    let faults = Faults::default();
    let node = RaftNode::start(
        NodeConfig {
            node_id: id,
            data_dir: dir.join(format!("n{id}")),
            info: info.clone(),
            bootstrap,
            snapshot_every: 1000,
            timeout: TIMEOUT,
            faults: faults.clone(),
        },
        listener,
    )
    .await
    .unwrap();
    Node { node, faults, info }
}

/// Node 1 initialises; 2 and 3 are added and promoted through node 1.
async fn three_nodes(dir: &std::path::Path) -> Vec<Node> {
    let mut nodes = vec![start(1, dir, Bootstrap::Single).await];
    nodes[0].node.wait_for_leader().await.unwrap();
    for id in 2..=3 {
        let n = start(id, dir, Bootstrap::Wait).await;
        let admin = &nodes[0].node;
        admin
            .change_membership(MembershipChange::AddLearner {
                id,
                info: n.info.clone(),
            })
            .await
            .unwrap();
        admin
            .change_membership(MembershipChange::Promote { id })
            .await
            .unwrap();
        nodes.push(n);
    }
    nodes
}

fn put(name: &str) -> KvBatch {
    KvBatch {
        preconditions: vec![],
        ops: vec![KvOp::Put {
            key: keys::bucket(name),
            columns: vec![Datum::Text(name.into())],
        }],
        timestamp: 0,
    }
}

fn has(node: &RaftNode, name: &str) -> bool {
    node.store()
        .read_view()
        .get(&keys::bucket(name))
        .unwrap()
        .is_some()
}

/// Cuts node `i` off from every other node, both ways.
fn isolate(nodes: &[Node], i: usize) {
    for (j, n) in nodes.iter().enumerate() {
        if j != i {
            n.faults.block(i as u64 + 1);
            nodes[i].faults.block(j as u64 + 1);
        }
    }
}

fn heal(nodes: &[Node]) {
    for n in nodes {
        n.faults.heal();
    }
}

async fn leader_among(nodes: &[Node], candidates: &[usize]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for &i in candidates {
            let s = nodes[i].node.status();
            if s.state == "leader" {
                return i;
            }
        }
        assert!(Instant::now() < deadline, "no leader among {candidates:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minority_cannot_commit_majority_can_and_healing_converges() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path()).await;
    let old = leader_among(&nodes, &[0, 1, 2]).await;
    let ok = nodes[old].node.propose(put("before")).await.unwrap();
    assert!(matches!(ok, ApplyOutcome::Applied { .. }));

    // The leader alone is a minority: its write never commits.
    isolate(&nodes, old);
    let stuck = nodes[old].node.propose(put("minority")).await;
    assert!(
        matches!(
            stuck,
            Err(ConsensusError::Ambiguous(_) | ConsensusError::Unavailable(_))
        ),
        "{stuck:?}"
    );
    // Nor can it serve a linearizable read.
    assert!(nodes[old]
        .node
        .read_barrier(ReadConsistency::Linearizable, 0)
        .await
        .is_err());

    // The majority elects a leader and commits, through either of its nodes.
    let rest: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    let new = leader_among(&nodes, &rest).await;
    let follower = rest.iter().copied().find(|i| *i != new).unwrap();
    for (via, name) in [(new, "majority-1"), (follower, "majority-2")] {
        let r = nodes[via].node.propose(put(name)).await.unwrap();
        assert!(matches!(r, ApplyOutcome::Applied { .. }));
    }

    // Healed, the old leader steps down, drops its uncommitted entry and
    // catches up; every node ends with the same state.
    heal(&nodes);
    for n in &nodes {
        n.node
            .read_barrier(ReadConsistency::Linearizable, 0)
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for n in &nodes {
        while !(has(&n.node, "majority-1") && has(&n.node, "majority-2")) {
            assert!(Instant::now() < deadline, "node did not converge");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(has(&n.node, "before"));
        assert!(!has(&n.node, "minority"), "an uncommitted write survived");
    }
    for n in &nodes {
        n.node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_follower_refuses_linearizable_reads_until_healed() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path()).await;
    let leader = leader_among(&nodes, &[0, 1, 2]).await;
    let cut = (leader + 1) % 3;
    isolate(&nodes, cut);
    nodes[leader].node.propose(put("while-cut")).await.unwrap();

    // A local read on the cut-off follower is stale; a linearizable one
    // fails rather than return it.
    assert!(!has(&nodes[cut].node, "while-cut"));
    let r = nodes[cut]
        .node
        .read_barrier(ReadConsistency::Linearizable, 0)
        .await;
    assert!(r.is_err(), "{r:?}");

    heal(&nodes);
    nodes[cut]
        .node
        .read_barrier(ReadConsistency::Linearizable, 0)
        .await
        .unwrap();
    assert!(has(&nodes[cut].node, "while-cut"));
    for n in &nodes {
        n.node.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_membership_changes_do_not_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = three_nodes(dir.path()).await;
    let leader = leader_among(&nodes, &[0, 1, 2]).await;
    let fourth = start(4, dir.path(), Bootstrap::Wait).await;
    // The leader cannot reach node 4 yet, so adding it waits.
    nodes[leader].faults.block(4);
    let admin = nodes[leader].node.clone();
    let info = fourth.info.clone();
    let adding = tokio::spawn(async move {
        admin
            .change_membership(MembershipChange::AddLearner { id: 4, info })
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Meanwhile a second change, sent to a follower, is refused with why.
    let other = nodes[(leader + 1) % 3].node.clone();
    let refused = other
        .change_membership(MembershipChange::Remove { id: 3 })
        .await;
    match refused {
        Err(ConsensusError::Refused(why)) => assert!(why.contains("in progress"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(nodes[leader].node.status().voters.len(), 3);

    // Once node 4 is reachable the first change completes.
    nodes[leader].faults.heal();
    adding.await.unwrap().unwrap();
    assert_eq!(nodes[leader].node.status().learners, vec![4]);
    fourth.node.shutdown().await;
    for n in &nodes {
        n.node.shutdown().await;
    }
}
