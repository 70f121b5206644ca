//! Durability: every write acknowledged before a SIGKILL is there after a
//! restart from the same data directory.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bucketdb_tests::Server;

const WRITERS: usize = 8;
const ACKS_BEFORE_KILL: usize = 400;
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut acked_all = BTreeSet::new();
    for round in 0..3 {
        let mut server = Server::start_in(&dir, &[]);
        let setup = server.connect().await;
        setup
            .execute(
                "INSERT INTO buckets (name) VALUES ('crash') ON CONFLICT DO NOTHING",
                &[],
            )
            .await
            .unwrap();

        // Everything acknowledged in earlier rounds is still there.
        let present: BTreeSet<String> = setup
            .query("SELECT key FROM objects WHERE bucket = 'crash'", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let missing: Vec<_> = acked_all.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged writes lost: {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );

        let acked = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = vec![];
        for w in 0..WRITERS {
            let c = server.connect().await;
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                for i in 0.. {
                    if started.elapsed() > DEADLINE {
                        break;
                    }
                    let key = format!("r{round}/w{w}/{i:06}");
                    match c
                        .execute(
                            "INSERT INTO objects (bucket, key, size) VALUES ('crash', $1, $2)",
                            &[&key, &(i as i64)],
                        )
                        .await
                    {
                        Ok(1) => acked.lock().unwrap().push(key),
                        _ => break,
                    }
                }
            }));
        }
        let started = Instant::now();
        while acked.lock().unwrap().len() < ACKS_BEFORE_KILL {
            assert!(started.elapsed() < DEADLINE, "writes too slow");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Kill while writes are in flight.
        server.kill();
        for t in tasks {
            let _ = t.await;
        }
        acked_all.extend(acked.lock().unwrap().drain(..));
    }
    let server = Server::start_in(&dir, &[]);
    let c = server.connect().await;
    let present: BTreeSet<String> = c
        .query("SELECT key FROM objects WHERE bucket = 'crash'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<_> = acked_all.difference(&present).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost",
        missing.len()
    );
    assert!(acked_all.len() >= 3 * ACKS_BEFORE_KILL);
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_data_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_in(&dir, &["--snapshot-every", "50"]);
    let c = server.connect().await;
    c.execute("INSERT INTO buckets (name) VALUES ('term')", &[])
        .await
        .unwrap();
    for i in 0..120 {
        c.execute(
            "INSERT INTO objects (bucket, key) VALUES ('term', $1)",
            &[&format!("k{i}")],
        )
        .await
        .unwrap();
    }
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    // Snapshots were taken along the way (every 50 entries).
    let snaps = std::fs::read_dir(dir.join("snapshots")).unwrap().count();
    assert!(snaps >= 1);
    let server = Server::start_in(&dir, &[]);
    let c = server.connect().await;
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 120);
}

/// A record in the middle of the write-ahead log that no longer matches
/// its checksum is in synced, acknowledged writes: the node must refuse
/// to start on it, not start without those writes and the ones after.
#[tokio::test]
async fn a_corrupt_wal_record_stops_the_start_instead_of_dropping_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_in(&dir, &[]);
    let c = server.connect().await;
    c.execute("INSERT INTO buckets (name) VALUES ('wal')", &[])
        .await
        .unwrap();
    for i in 0..200 {
        c.execute(
            "INSERT INTO objects (bucket, key, content_type) VALUES ('wal', $1, $2)",
            &[&format!("k{i:03}"), &"t".repeat(500)],
        )
        .await
        .unwrap();
    }
    server.kill();
    // The newest WAL file holds every write (nothing was flushed to a
    // table file yet): damage a byte a third of the way in.
    let wal = std::fs::read_dir(dir.join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a WAL file");
    let mut bytes = std::fs::read(&wal).unwrap();
    assert!(bytes.len() > 100_000, "WAL of {} bytes", bytes.len());
    let at = bytes.len() / 3;
    bytes[at] ^= 0xff;
    std::fs::write(&wal, bytes).unwrap();
    let mut child = std::process::Command::new(bucketdb_tests::binary())
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(["--sql-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("started on a corrupt WAL");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "started on a corrupt WAL");
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.to_lowercase().contains("corrupt"), "{err}");
}
