//! Online backup (`SELECT cluster_backup(path)`) under a concurrent write
//! load, restore of it into a new cluster (`bucketdb restore`), growing that
//! cluster with a learner, and damaged backups refused. Real processes.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketdb_tests::{binary, sqlstate, Server};

const WRITERS: usize = 4;
/// Each writer's bound: this many writes or the deadline, whichever first.
const WRITES_PER_WRITER: usize = 3000;
const LOAD_DEADLINE: Duration = Duration::from_secs(60);

/// One acknowledged write of a writer: its sequence number, and when it
/// was sent and acknowledged.
struct Acked {
    n: usize,
    sent: Instant,
    acked: Instant,
}

/// Sequential writes of writer `w` until `stop` (or its bound): each is
/// sent after the previous one was acknowledged, so the log holds them in
/// order and any one applied state holds a prefix of them.
async fn writer(server: &Server, w: usize, stop: Arc<AtomicBool>) -> Vec<Acked> {
    let c = server.connect().await;
    let insert = c
        .prepare("INSERT INTO objects (bucket, key, size) VALUES ('load', $1, $2)")
        .await
        .unwrap();
    let deadline = Instant::now() + LOAD_DEADLINE;
    let mut acked = vec![];
    for n in 0..WRITES_PER_WRITER {
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            break;
        }
        let sent = Instant::now();
        c.execute(&insert, &[&format!("w{w}-{n:06}"), &(n as i64)])
            .await
            .unwrap();
        acked.push(Acked {
            n,
            sent,
            acked: Instant::now(),
        });
    }
    acked
}

fn restore(from: &Path, data_dir: &Path, node_id: &str) -> std::process::Output {
    Command::new(binary())
        .args(["restore", "--from"])
        .arg(from)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--node-id", node_id])
        .output()
        .expect("bucketdb restore runs")
}

async fn rows(c: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    c.query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.get::<_, Option<String>>(i).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// What must come back exactly: versions, delete markers and a multipart
/// upload in progress, besides plain objects.
const STATE: [&str; 3] = [
    "SELECT key, version_id, is_latest::text, is_delete_marker::text, size::text FROM object_versions WHERE bucket = 'versioned'",
    "SELECT key, upload_id, owner FROM multipart_uploads WHERE bucket = 'versioned'",
    "SELECT upload_id, part_number::text, size::text, etag FROM multipart_parts WHERE bucket = 'versioned'",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_online_backup_restores_exactly_its_state_into_a_new_cluster_that_grows() {
    let tmp = tempfile::tempdir().unwrap();
    let origin = Arc::new(Server::start());
    let admin = origin.connect().await;
    admin
        .batch_execute(
            "INSERT INTO buckets (name) VALUES ('load');
             INSERT INTO buckets (name, versioning) VALUES ('versioned', 'enabled');
             INSERT INTO objects (bucket, key, size) VALUES ('versioned', 'a', 1);
             UPDATE objects SET size = 2 WHERE bucket = 'versioned' AND key = 'a';
             INSERT INTO objects (bucket, key, size) VALUES ('versioned', 'gone', 3);
             DELETE FROM objects WHERE bucket = 'versioned' AND key = 'gone';
             INSERT INTO multipart_uploads (bucket, key, upload_id, owner) VALUES ('versioned', 'big', 'up-1', 'ann');
             INSERT INTO multipart_parts (bucket, upload_id, part_number, size, etag) VALUES ('versioned', 'up-1', 1, 5, 'e1'), ('versioned', 'up-1', 2, 6, 'e2');",
        )
        .await
        .unwrap();
    let mut expected_state = vec![];
    for q in STATE {
        expected_state.push(rows(&admin, q).await);
    }
    assert_eq!(expected_state[0].len(), 4, "{:?}", expected_state[0]);

    // Refused before anything is written: not a superuser, a relative
    // path, a directory in use.
    admin.batch_execute("CREATE USER app").await.unwrap();
    let app = origin.connect_as("app", None).await.unwrap();
    let target = tmp.path().join("backup");
    let target_text = target.to_str().unwrap().to_string();
    let err = app
        .query_one("SELECT cluster_backup($1)", &[&target_text])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{err}");
    let err = admin
        .query_one("SELECT cluster_backup('relative/dir')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22023", "{err}");
    let busy = tmp.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), "operator's file").unwrap();
    let err = admin
        .query_one("SELECT cluster_backup($1)", &[&busy.to_str().unwrap()])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "58P02", "{err}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    // The load, and the backup in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (server, stop) = (origin.clone(), stop.clone());
            tokio::spawn(async move { writer(&server, w, stop).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let called = Instant::now();
    let index: i64 = admin
        .query_one("SELECT cluster_backup($1)", &[&target_text])
        .await
        .unwrap()
        .get(0);
    let returned = Instant::now();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut histories = vec![];
    for w in writers {
        histories.push(w.await.unwrap());
    }
    let written: usize = histories.iter().map(Vec::len).sum();
    let during = histories
        .iter()
        .flatten()
        .filter(|a| a.acked >= called && a.acked <= returned)
        .count();
    // Acknowledged while it ran, not also sent then: a backup of a few
    // milliseconds on a loaded machine may see no write both begin and
    // end inside it, and one acknowledged inside it was not held back.
    println!(
        "backup at index {index} took {} ms; {written} writes in all, {during} acknowledged while it ran",
        (returned - called).as_millis()
    );
    assert!(during > 0, "no write went through while the backup ran");
    drop(admin);
    drop(app);
    // The origin is gone for good; only the backup is left.
    drop(Arc::try_unwrap(origin).ok().expect("writers are done"));

    let restored_dir = tmp.path().join("restored");
    let out = restore(&target, &restored_dir, "1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("at index {index}")), "{stdout}");

    let restored = Server::start_in(&restored_dir, &[]);
    let c = restored.connect().await;
    let status = c
        .query_one("SELECT applied_index, role FROM cluster_status()", &[])
        .await
        .unwrap();
    assert!(status.get::<_, i64>(0) >= index);
    assert_eq!(status.get::<_, String>(1), "leader");
    for (q, expected) in STATE.iter().zip(&expected_state) {
        assert_eq!(&rows(&c, q).await, expected, "{q}");
    }
    let keys = rows(&c, "SELECT key FROM objects WHERE bucket = 'load'").await;
    let mut restored_n = vec![vec![]; WRITERS];
    for k in &keys {
        let (w, n) = k[1..].split_once('-').unwrap();
        restored_n[w.parse::<usize>().unwrap()].push(n.parse::<usize>().unwrap());
    }
    for (w, (history, mut got)) in histories.iter().zip(restored_n).enumerate() {
        got.sort_unstable();
        // One applied state: a prefix of each writer's writes, no holes.
        assert!(
            got.iter().enumerate().all(|(i, n)| i == *n),
            "writer {w}: restored writes are not a prefix: {got:?}"
        );
        for a in history {
            if a.acked < called {
                assert!(
                    a.n < got.len(),
                    "writer {w}: write {} acknowledged before the backup is missing",
                    a.n
                );
            }
            if a.sent > returned {
                assert!(
                    a.n >= got.len(),
                    "writer {w}: write {} sent after the backup is in it",
                    a.n
                );
            }
        }
    }
    assert!(
        keys.len() < written,
        "the writes after the backup are not in it"
    );

    // The restored cluster writes, and grows by a learner that becomes a
    // voter and holds the same state.
    c.execute(
        "INSERT INTO objects (bucket, key, size) VALUES ('load', 'after-restore', 1)",
        &[],
    )
    .await
    .unwrap();
    let second = Server::start_in(&tmp.path().join("second"), &["--node-id", "2", "--no-init"]);
    let (raft, sql) = (second.raft_addr.to_string(), second.sql_addr.to_string());
    c.query_one("SELECT cluster_add_learner(2, $1, $2)", &[&raft, &sql])
        .await
        .unwrap();
    c.query_one("SELECT cluster_promote(2)", &[]).await.unwrap();
    let s = second
        .connect_with("options='-c consistency=linearizable'")
        .await;
    let n: i64 = s
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'load'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, keys.len() + 1);
    for (q, expected) in STATE.iter().zip(&expected_state) {
        assert_eq!(&rows(&s, q).await, expected, "{q} on the new member");
    }
    let voters: String = c
        .query_one("SELECT membership FROM cluster_status()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(voters.contains('2'), "{voters}");
    // A new cluster: not the origin's id.
    let origin_id = std::fs::read_to_string(target.join("MANIFEST.json")).unwrap();
    let new_id = std::fs::read_to_string(restored_dir.join("cluster-id")).unwrap();
    assert!(!origin_id.contains(new_id.trim()));
}

#[tokio::test]
async fn restore_refuses_a_damaged_or_incomplete_backup_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('kept')")
        .await
        .unwrap();
    let backup = tmp.path().join("backup");
    c.query_one("SELECT cluster_backup($1)", &[&backup.to_str().unwrap()])
        .await
        .unwrap();
    let data = std::fs::read(backup.join("state.data")).unwrap();
    let target = tmp.path().join("restored");
    let refused = |why: &str| {
        let out = restore(&backup, &target, "1");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(why), "{stderr}");
        assert!(
            std::fs::read_dir(&target).map_or(true, |mut d| d.next().is_none()),
            "a refused restore left files"
        );
    };
    let mut flipped = data.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x01;
    std::fs::write(backup.join("state.data"), &flipped).unwrap();
    refused("checksum");
    std::fs::write(backup.join("state.data"), &data[..data.len() / 2]).unwrap();
    refused("bytes");
    std::fs::write(backup.join("state.data"), &data).unwrap();
    std::fs::rename(backup.join("MANIFEST.json"), tmp.path().join("m")).unwrap();
    refused("not a complete bucketdb backup");
    std::fs::rename(tmp.path().join("m"), backup.join("MANIFEST.json")).unwrap();
    let out = restore(&backup, &target, "1");
    assert!(out.status.success());
    // Into a directory in use: refused.
    let out = restore(&backup, &target, "1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}
