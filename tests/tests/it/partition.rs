//! Fault injection in one process: a minority partition cannot commit, a
//! cut-off follower refuses linearizable reads, healing converges,
//! concurrent membership changes never interleave, a learner that cannot
//! catch up is reported, and a node catching up follows a leader the old
//! memberships it replays do not name.

use std::time::{Duration, Instant};

use bucketdb_consensus::{Confirm, ConsensusError, MembershipChange, RaftNode, ReadConsistency};
use bucketdb_storage::{keys, ApplyOutcome, Datum, KvBatch, KvOp};
use bucketdb_tests::inproc::{InProcCluster, CATCH_UP_TIMEOUT};

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

const LINEARIZABLE: ReadConsistency = ReadConsistency::Linearizable;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minority_cannot_commit_majority_can_and_healing_converges() {
    let mut c = InProcCluster::start(3).await;
    let old = c.leader().await;
    let ok = c.node(old).node.propose(put("before")).await.unwrap();
    assert!(matches!(ok, ApplyOutcome::Applied { .. }));

    // The leader alone is a minority: its write never commits.
    c.isolate(old);
    let stuck = c.node(old).node.propose(put("minority")).await;
    assert!(
        matches!(
            stuck,
            Err(ConsensusError::Ambiguous(_) | ConsensusError::Unavailable(_))
        ),
        "{stuck:?}"
    );
    // Nor can it serve a linearizable read.
    assert!(c
        .node(old)
        .node
        .read_barrier(LINEARIZABLE, 0)
        .await
        .is_err());

    // The majority elects a leader and commits, through either of its nodes.
    let rest: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    let new = c.leader_among(&rest).await;
    let follower = rest.iter().copied().find(|i| *i != new).unwrap();
    for (via, name) in [(new, "majority-1"), (follower, "majority-2")] {
        let r = c.node(via).node.propose(put(name)).await.unwrap();
        assert!(matches!(r, ApplyOutcome::Applied { .. }));
    }

    // Healed, the old leader steps down, drops its uncommitted entry and
    // catches up; every node ends with the same state.
    c.heal();
    let deadline = Instant::now() + Duration::from_secs(20);
    for (_, n) in c.up() {
        n.node.read_barrier(LINEARIZABLE, 0).await.unwrap();
        while !(has(&n.node, "majority-1") && has(&n.node, "majority-2")) {
            assert!(Instant::now() < deadline, "node did not converge");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(has(&n.node, "before"));
        assert!(!has(&n.node, "minority"), "an uncommitted write survived");
    }
    c.assert_consistent().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_follower_refuses_linearizable_reads_until_healed() {
    let mut c = InProcCluster::start(3).await;
    let leader = c.leader().await;
    let cut = (leader + 1) % 3;
    c.isolate(cut);
    c.node(leader).node.propose(put("while-cut")).await.unwrap();

    // A local read on the cut-off follower is stale; a linearizable one
    // fails rather than return it.
    assert!(!has(&c.node(cut).node, "while-cut"));
    let r = c.node(cut).node.read_barrier(LINEARIZABLE, 0).await;
    assert!(r.is_err(), "{r:?}");

    c.heal();
    c.node(cut)
        .node
        .read_barrier(LINEARIZABLE, 0)
        .await
        .unwrap();
    assert!(has(&c.node(cut).node, "while-cut"));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_membership_changes_do_not_interleave() {
    let mut c = InProcCluster::start(3).await;
    let leader = c.leader().await;
    let fourth = c.spawn_waiting().await;
    // The leader cannot reach node 4 yet, so adding it waits.
    c.node(leader).faults.block(fourth as u64 + 1);
    let admin = c.node(leader).node.clone();
    let info = c.node(fourth).info.clone();
    let adding = tokio::spawn(async move {
        admin
            .change_membership(MembershipChange::AddLearner { id: 4, info })
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Meanwhile a second change, sent to a follower, is refused with why.
    let other = c.node((leader + 1) % 3).node.clone();
    match other
        .change_membership(MembershipChange::Remove { id: 3 })
        .await
    {
        Err(ConsensusError::Refused(why)) => assert!(why.contains("in progress"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(c.node(leader).node.status().voters.len(), 3);

    // Once node 4 is reachable the first change completes.
    c.node(leader).faults.heal();
    adding.await.unwrap().unwrap();
    assert_eq!(c.node(leader).node.status().learners, vec![4]);
    c.shutdown().await;
}

/// A node catching up replays the memberships of the log in order, and
/// one of them may lack the leader: here the leader is a node that was
/// wiped, removed and added again. More than one append's worth of
/// entries lies between its removal and its return, so the catching-up
/// node stops inside that stretch: it must still obey the leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_catching_up_through_a_membership_without_the_leader_still_follows_it() {
    let mut c = InProcCluster::start(3).await;
    let first = c.leader().await;
    let returned = (first + 1) % 3;
    c.wipe_and_remove(returned).await;
    // Well over one append (64 entries) while it is out.
    for i in 0..150 {
        c.node(first)
            .node
            .propose(put(&format!("while-out-{i}")))
            .await
            .unwrap();
    }
    c.join(returned).await;
    c.node(first)
        .node
        .change_membership(MembershipChange::TransferLeader {
            id: returned as u64 + 1,
        })
        .await
        .unwrap();
    assert_eq!(c.leader().await, returned);

    // The third node now replays the log from its start, through the
    // stretch where the leader was not a member.
    let third = 3 - first - returned;
    c.wipe_and_remove(third).await;
    tokio::time::timeout(Duration::from_secs(30), c.join(third))
        .await
        .expect("the wiped node caught up and was promoted");
    c.node(returned)
        .node
        .propose(put("after-return"))
        .await
        .unwrap();
    c.node(third)
        .node
        .read_barrier(LINEARIZABLE, 0)
        .await
        .unwrap();
    assert!(has(&c.node(third).node, "while-out-149"));
    assert!(has(&c.node(third).node, "after-return"));
    c.shutdown().await;
}

/// A learner the leader cannot reach is added, but adding it reports, once
/// its wait is over, that it did not catch up: through a follower too, which
/// does not retry that. It stays a learner, and catches up once reachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_that_cannot_catch_up_is_reported_and_stays_a_learner() {
    let mut c = InProcCluster::start(3).await;
    let leader = c.leader().await;
    let fourth = c.spawn_waiting().await;
    c.node(leader).faults.block(fourth as u64 + 1);
    let started = Instant::now();
    let err = c
        .node((leader + 1) % 3)
        .node
        .change_membership(MembershipChange::AddLearner {
            id: 4,
            info: c.node(fourth).info.clone(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConsensusError::NotCaughtUp(m) if m.contains("node 4 was added as a learner")),
        "{err:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= CATCH_UP_TIMEOUT && waited < CATCH_UP_TIMEOUT + Duration::from_secs(10),
        "reported after {waited:?}"
    );
    assert_eq!(c.node(leader).node.status().learners, vec![4]);

    c.node(leader).faults.heal();
    c.node(leader)
        .node
        .propose(put("after-heal"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !has(&c.node(fourth).node, "after-heal") {
        assert!(Instant::now() < deadline, "the learner did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.shutdown().await;
}

/// A follower cut off while the leader logged many large entries (more
/// than one append may carry) catches up once healed: the backlog goes in
/// appends cut by bytes, each a partial success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_many_large_entries_catches_up() {
    let mut c = InProcCluster::start(3).await;
    let leader = c.leader().await;
    let behind = (leader + 1) % 3;
    c.isolate(behind);
    let leader = c
        .leader_among(&(0..3).filter(|i| *i != behind).collect::<Vec<_>>())
        .await;
    // 24 entries of 3 MiB: 72 MiB, over two appends' worth.
    let wide = "w".repeat(3 << 20);
    for i in 0..24 {
        let batch = KvBatch {
            preconditions: vec![],
            ops: vec![KvOp::Put {
                key: keys::bucket(format!("large-{i:02}")),
                columns: vec![Datum::Text(wide.clone())],
            }],
            timestamp: 0,
        };
        let r = c.node(leader).node.propose(batch).await.unwrap();
        assert!(matches!(r, ApplyOutcome::Applied { .. }));
    }
    assert!(!has(&c.node(behind).node, "large-00"));
    c.heal();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !has(&c.node(behind).node, "large-23") {
        assert!(Instant::now() < deadline, "the follower did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.assert_consistent().await;
    c.shutdown().await;
}

/// A leader confirms linearizable reads by its lease: cut off just after
/// a write committed, it still answers them (no quorum round is needed
/// while the acknowledgement is younger than the lease), and once the
/// majority has elected another leader and committed past it, it answers
/// none. Confirmed by a quorum round instead, the cut-off leader answers
/// none at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_leader_serves_lease_reads_only_while_no_other_can_lead() {
    for confirm in [Confirm::Lease, Confirm::Quorum] {
        let mut c = InProcCluster::start_with(3, confirm).await;
        let old = c.leader().await;
        c.node(old).node.propose(put("before")).await.unwrap();
        c.isolate(old);
        let started = Instant::now();
        let read = c.node(old).node.read_barrier(LINEARIZABLE, 0).await;
        match confirm {
            Confirm::Lease => {
                assert!(read.is_ok(), "{read:?}");
                assert!(started.elapsed() < Duration::from_millis(400));
            }
            Confirm::Quorum => assert!(read.is_err(), "{read:?}"),
        }
        let rest: Vec<usize> = (0..3).filter(|i| *i != old).collect();
        let new = c.leader_among(&rest).await;
        c.node(new).node.propose(put("after")).await.unwrap();
        let stale = c.node(old).node.read_barrier(LINEARIZABLE, 0).await;
        assert!(
            stale.is_err(),
            "{confirm:?}: the old leader confirmed a read after another leader committed"
        );
        assert!(!has(&c.node(old).node, "after"));
        c.heal();
        c.shutdown().await;
    }
}
