//! Replication with real processes: clusters formed through SQL, writes
//! through every node, leader SIGKILLs under load, catch-up by log and by
//! snapshot, and a standalone node grown into a cluster.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bucketdb_tests::cluster::Cluster;
use bucketdb_tests::{sqlstate, Server};

const ELECTION: Duration = Duration::from_secs(15);

/// Keys of `bucket`, read on node `i` once it has applied everything the
/// leader committed (a linearizable read).
async fn keys_on(c: &Cluster, i: usize, bucket: &str) -> BTreeSet<String> {
    let client = c.server(i).connect().await;
    client
        .query("SELECT key FROM objects WHERE bucket = $1", &[&bucket])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn status(s: &Server) -> tokio_postgres::Row {
    s.connect()
        .await
        .query_one("SELECT * FROM cluster_status()", &[])
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_formed_through_sql_replicate_writes_from_every_node() {
    let c = Cluster::start(3, &[]);
    let first = c.server(0).connect().await;
    first
        .execute("INSERT INTO buckets (name) VALUES ('everywhere')", &[])
        .await
        .unwrap();

    let nodes = first
        .query(
            "SELECT node_id, role, voter, reachable FROM cluster_nodes() ORDER BY node_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(nodes.len(), 3);
    for (i, row) in nodes.iter().enumerate() {
        assert_eq!(row.get::<_, i64>(0), i as i64 + 1);
        assert!(row.get::<_, bool>(2), "node {} is a voter", i + 1);
        assert!(row.get::<_, bool>(3), "node {} is reachable", i + 1);
    }
    let roles: Vec<String> = nodes.iter().map(|r| r.get(1)).collect();
    assert_eq!(
        roles.iter().filter(|r| *r == "leader").count(),
        1,
        "{roles:?}"
    );

    // Writes through each node, the followers forwarding theirs.
    for i in 0..3 {
        let client = c.server(i).connect().await;
        for k in 0..20 {
            let n = client
                .execute(
                    "INSERT INTO objects (bucket, key, size) VALUES ('everywhere', $1, $2)",
                    &[&format!("via-{i}/{k:02}"), &(k as i64)],
                )
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
        // A constraint error raised by the leader keeps its SQLSTATE.
        let dup = client
            .execute(
                "INSERT INTO objects (bucket, key) VALUES ('everywhere', 'via-0/00')",
                &[],
            )
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&dup), "23505");
        // cluster_nodes() answers on every node (forwarded to the leader).
        let n = client
            .query("SELECT * FROM cluster_nodes()", &[])
            .await
            .unwrap()
            .len();
        assert_eq!(n, 3);
    }
    for i in 0..3 {
        let keys = keys_on(&c, i, "everywhere").await;
        assert_eq!(keys.len(), 60, "node {} sees every write", i + 1);
    }
    // Every node's state converges on the same applied index.
    for i in 0..3 {
        let s = status(c.server(i)).await;
        assert!(s.get::<_, Option<i64>>("applied_index").unwrap_or(0) > 0);
    }

    // Refused changes say why and change nothing.
    let e = first
        .query("SELECT cluster_promote(2)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "55000", "{e}");
    let message = e.as_db_error().map(|d| d.message().to_string());
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("already a voter")),
        "{message:?}"
    );
    let e = first
        .query("SELECT cluster_remove(9)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "55000");
    let e = first
        .query("SELECT cluster_add_learner(4, 'nonsense', 'x')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    let e = first
        .query("INSERT INTO cluster_nodes() VALUES (1)", &[])
        .await;
    assert!(e.is_err());

    // Leadership moves on request, and writes follow it.
    let leader = c.leader(ELECTION).await;
    let target = (leader + 1) % 3;
    let moved: i64 = c
        .server(target)
        .connect()
        .await
        .query_one(
            "SELECT cluster_transfer_leader($1)",
            &[&(target as i64 + 1)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(moved, target as i64 + 1);
    assert_eq!(c.leader(ELECTION).await, target);
    first
        .execute(
            "INSERT INTO objects (bucket, key) VALUES ('everywhere', 'after-transfer')",
            &[],
        )
        .await
        .unwrap();
    c.assert_consistent().await;
}

/// Writers on every live node; the leader is SIGKILLed, a new one is
/// elected, the killed node restarts and catches up, ten times over. No
/// acknowledged write may be missing on any node at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_sigkill_under_load_loses_no_acknowledged_write() {
    const KILLS: usize = 10;
    const WRITERS_PER_NODE: usize = 2;
    let mut c = Cluster::start(3, &["--timeout-secs", "3"]);
    c.server(0)
        .connect()
        .await
        .execute("INSERT INTO buckets (name) VALUES ('failover')", &[])
        .await
        .unwrap();
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let mut failovers = vec![];

    for round in 0..KILLS {
        let leader = c.leader(ELECTION).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let last_ok = Arc::new(Mutex::new(None::<Instant>));
        let mut tasks = vec![];
        for (i, s) in c.up() {
            for w in 0..WRITERS_PER_NODE {
                let client = s.connect().await;
                let (acked, stop, last_ok) = (acked.clone(), stop.clone(), last_ok.clone());
                tasks.push(tokio::spawn(async move {
                    for k in 0..100_000 {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let key = format!("r{round:02}/n{i}/w{w}/{k:06}");
                        match client
                            .execute(
                                "INSERT INTO objects (bucket, key) VALUES ('failover', $1)",
                                &[&key],
                            )
                            .await
                        {
                            Ok(_) => {
                                acked.lock().unwrap().insert(key);
                                *last_ok.lock().unwrap() = Some(Instant::now());
                            }
                            // The node this client talks to was killed.
                            Err(e) if e.is_closed() || e.as_db_error().is_none() => break,
                            // No leader for a moment, or the outcome of an
                            // in-flight write is unknown: not acknowledged.
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }));
            }
        }
        // Let the load run, then kill the leader mid-write.
        let before = acked.lock().unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().unwrap().len() < before + 100 {
            assert!(Instant::now() < deadline, "round {round}: writes stalled");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c.kill(leader);
        let killed_at = Instant::now();
        // The first write acknowledged after the kill, through a survivor.
        let deadline = killed_at + ELECTION;
        let recovered = loop {
            if let Some(t) = *last_ok.lock().unwrap() {
                if t > killed_at {
                    break t;
                }
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no write succeeded after the kill"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        failovers.push(recovered - killed_at);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        // The killed node restarts on its data and catches up by log.
        c.restart(leader);
    }

    let leader = c.leader(ELECTION).await;
    let mut want = acked.lock().unwrap().clone();
    let expected = want.len();
    for i in 0..3 {
        let have = keys_on(&c, i, "failover").await;
        let missing: Vec<_> = want.difference(&have).take(5).collect();
        assert!(
            missing.is_empty(),
            "node {}: acknowledged writes missing: {missing:?} (leader is node {})",
            i + 1,
            leader + 1
        );
    }
    want.clear();
    c.assert_consistent().await;
    failovers.sort();
    let ms = |d: &Duration| d.as_millis();
    println!(
        "failover (kill -> first acknowledged write), {} kills: median {} ms, worst {} ms, all {:?}; {expected} writes acknowledged",
        failovers.len(),
        ms(&failovers[failovers.len() / 2]),
        ms(failovers.last().unwrap()),
        failovers.iter().map(ms).collect::<Vec<_>>()
    );
}

/// A follower that was down while the leader snapshotted and purged its
/// log comes back by snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_follower_behind_the_purge_point_catches_up_by_snapshot() {
    let mut c = Cluster::start(3, &["--snapshot-every", "100"]);
    let leader = c.leader(ELECTION).await;
    let follower = (leader + 1) % 3;
    c.kill(follower);
    let client = c.server(leader).connect().await;
    client
        .execute("INSERT INTO buckets (name) VALUES ('behind')", &[])
        .await
        .unwrap();
    // 1500 entries: well past the 1000 kept behind a snapshot.
    for k in 0..1500 {
        client
            .execute(
                "INSERT INTO objects (bucket, key) VALUES ('behind', $1)",
                &[&format!("k{k:05}")],
            )
            .await
            .unwrap();
    }
    let snap: i64 = client
        .query_one("SELECT cluster_snapshot()", &[])
        .await
        .unwrap()
        .get(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status(c.server(leader)).await;
        if s.get::<_, Option<i64>>("purged_index").unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "leader never purged its log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.restart(follower);
    assert_eq!(keys_on(&c, follower, "behind").await.len(), 1500);
    let s = status(c.server(follower)).await;
    let installed = s.get::<_, Option<i64>>("snapshot_index").unwrap_or(0);
    assert!(
        installed > 0 && installed <= snap,
        "snapshot {installed} vs {snap}"
    );
    // A replica restored from a snapshot holds what the others hold.
    c.assert_consistent().await;
}

/// A node that ran alone, with data, becomes the first of three voters
/// through the SQL functions; no export or import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_node_with_data_grows_to_three_voters() {
    let mut c = Cluster::start(1, &[]);
    let admin = c.server(0).connect().await;
    admin
        .batch_execute("INSERT INTO buckets (name) VALUES ('grown')")
        .await
        .unwrap();
    for k in 0..200 {
        admin
            .execute(
                "INSERT INTO objects (bucket, key) VALUES ('grown', $1)",
                &[&format!("k{k:04}")],
            )
            .await
            .unwrap();
    }
    for _ in 0..2 {
        let i = c.add_node(Some("--no-init"));
        let s = c.server(i);
        let id = i as i64 + 1;
        admin
            .query_one(
                "SELECT cluster_add_learner($1, $2, $3)",
                &[&id, &s.raft_addr.to_string(), &s.sql_addr.to_string()],
            )
            .await
            .unwrap();
        let role: String = admin
            .query_one(
                "SELECT role FROM cluster_nodes() WHERE node_id = $1",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(role, "learner");
        admin
            .query_one("SELECT cluster_promote($1)", &[&id])
            .await
            .unwrap();
    }
    let voters: i64 = admin
        .query_one("SELECT count(*) FROM cluster_nodes() WHERE voter", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(voters, 3);
    for i in 0..3 {
        assert_eq!(keys_on(&c, i, "grown").await.len(), 200, "node {}", i + 1);
    }
    // The first node can now go down and the cluster still takes writes.
    c.kill(0);
    let leader = c.leader(ELECTION).await;
    c.server(leader)
        .connect()
        .await
        .execute(
            "INSERT INTO objects (bucket, key) VALUES ('grown', 'after')",
            &[],
        )
        .await
        .unwrap();
}
