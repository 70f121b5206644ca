//! A learner added to a cluster holding 100k objects catches up by
//! snapshot: the time it takes and the learner's peak memory are printed.

use std::time::Instant;

use bucketdb_tests::cluster::Cluster;

const OBJECTS: usize = 100_000;
/// 1250 statements: the leader then keeps only the last 1000 entries behind
/// its snapshot, so the learner cannot catch up by log alone.
const PER_INSERT: usize = 80;

/// Peak resident memory of a process, from /proc (kB).
fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learner_catches_up_on_100k_objects_by_snapshot() {
    let mut c = Cluster::start(1, &[]);
    let admin = c.server(0).connect().await;
    admin
        .execute("INSERT INTO buckets (name) VALUES ('big')", &[])
        .await
        .unwrap();
    let load = Instant::now();
    for chunk in 0..OBJECTS / PER_INSERT {
        let values: Vec<String> = (0..PER_INSERT)
            .map(|i| {
                let n = chunk * PER_INSERT + i;
                format!(
                    "('big', 'photos/{:03}/{n:07}.jpg', {n}, 'etag-{n:x}', 'image/jpeg')",
                    n % 100
                )
            })
            .collect();
        admin
            .execute(
                &format!(
                    "INSERT INTO objects (bucket, key, size, etag, content_type) VALUES {}",
                    values.join(",")
                ),
                &[],
            )
            .await
            .unwrap();
    }
    let loaded = load.elapsed();
    let snap: i64 = admin
        .query_one("SELECT cluster_snapshot()", &[])
        .await
        .unwrap()
        .get(0);

    let i = c.add_node(Some("--no-init"));
    let (raft, sql) = (
        c.server(i).raft_addr.to_string(),
        c.server(i).sql_addr.to_string(),
    );
    let started = Instant::now();
    admin
        .query_one("SELECT cluster_add_learner(2, $1, $2)", &[&raft, &sql])
        .await
        .unwrap();
    let caught_up = started.elapsed();

    let learner = c.server(i).connect().await;
    let status = learner
        .query_one("SELECT snapshot_index, role FROM cluster_status()", &[])
        .await
        .unwrap();
    let installed: Option<i64> = status.get(0);
    assert_eq!(status.get::<_, String>(1), "learner");
    assert!(
        installed.is_some_and(|s| s >= snap),
        "learner snapshot {installed:?}, leader's {snap}: it did not catch up by snapshot"
    );
    let n: i64 = learner
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'big'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, OBJECTS as i64);

    let learner_kb = peak_rss_kb(c.server(i).pid().unwrap());
    let leader_kb = peak_rss_kb(c.server(0).pid().unwrap());
    println!(
        "catch-up of {OBJECTS} objects by snapshot: {} ms (load took {} ms); peak RSS learner {} MiB, leader {} MiB",
        caught_up.as_millis(),
        loaded.as_millis(),
        learner_kb / 1024,
        leader_kb / 1024
    );
    // The snapshot is streamed and imported in bounded batches; a learner
    // holding it whole several times over would blow past this.
    assert!(learner_kb < 512 * 1024, "learner peak RSS {learner_kb} kB");
}
