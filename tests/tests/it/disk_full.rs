//! A node whose disk fills up, for real: its data directory is on a small
//! tmpfs this test mounts (it runs as root, as CI does). With the free-space
//! guard, writes are refused with 53100 before the disk is full and reads
//! go on; without it, the disk fills, the node stops serving and says so on
//! `/health`. Either way, moved to a bigger disk and restarted, it has every
//! write it acknowledged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bucketdb_tests::{sqlstate, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A size-limited tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(mib: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a {mib} MiB tmpfs failed: the disk-full tests need root, as CI has"
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A value that does not compress: 64 KiB of pseudo-random hex.
fn noise(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x & 15) as u32, 16).unwrap()
        })
        .collect()
}

async fn health(s: &Server) -> (u16, String) {
    let mut c = tokio::net::TcpStream::connect(s.http_addr).await.unwrap();
    c.write_all(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

/// Writes 64 KiB rows until one is refused (at most `max`, within two
/// minutes); the keys acknowledged and the refusal's SQLSTATE.
async fn fill(c: &tokio_postgres::Client, max: usize) -> (Vec<String>, String) {
    c.batch_execute("INSERT INTO buckets (name, owner) VALUES ('full', 'me')")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut acked = vec![];
    for i in 0..max {
        assert!(Instant::now() < deadline, "not refused within two minutes");
        let key = format!("k{i:05}");
        let put = c
            .execute(
                "INSERT INTO objects (bucket, key, size, content_type) VALUES ('full', $1, 1, $2)",
                &[&key, &noise(i as u64)],
            )
            .await;
        match put {
            Ok(_) => acked.push(key),
            Err(e) => return (acked, sqlstate(&e)),
        }
    }
    panic!("{max} writes of 64 KiB fit: the disk never filled");
}

/// Copies a stopped node's data directory onto the ordinary disk.
fn move_to_bigger_disk(from: &Path, to: &Path) -> PathBuf {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
    to.join(from.file_name().unwrap())
}

/// Every acknowledged key is there, and the node takes writes again.
async fn check_all_there(s: &Server, acked: &[String]) {
    let c = s.connect().await;
    let keys: Vec<String> = c
        .query("SELECT key FROM objects ORDER BY key", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for k in acked {
        assert!(keys.contains(k), "acknowledged {k} is lost");
    }
    // An unacknowledged last write may or may not be there; nothing else.
    assert!(
        keys.len() <= acked.len() + 1,
        "{} rows for {} acknowledged",
        keys.len(),
        acked.len()
    );
    c.execute(
        "INSERT INTO objects (bucket, key, size) VALUES ('full', 'after', 1)",
        &[],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn writes_stop_with_53100_before_the_disk_is_full_and_reads_go_on() {
    let fs = Tmpfs::mount(64);
    let data = fs.path().join("node");
    let mut s = Server::start_in(&data, &["--min-free-disk-bytes", "25000000"]);
    let c = s.connect().await;
    let (acked, state) = fill(&c, 2000).await;
    assert_eq!(state, "53100", "the refusal names a full disk");
    assert!(
        acked.len() > 50,
        "only {} writes before the guard",
        acked.len()
    );
    // Reads go on, linearizable and local, and see every write.
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, acked.len());
    let local = s.connect_with("options='-c consistency=local'").await;
    let n: i64 = local
        .query_one("SELECT count(*) FROM objects", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n as usize, acked.len());
    // Writes keep being refused the same way; /health says why.
    let e = c
        .execute("INSERT INTO buckets (name) VALUES ('more')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "53100", "{e}");
    let (code, body) = health(&s).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("disk full"), "{body}");

    s.kill();
    let bigger = tempfile::tempdir().unwrap();
    let moved = move_to_bigger_disk(&data, bigger.path());
    let s = Server::start_in(&moved, &[]);
    assert_eq!(health(&s).await.0, 200);
    check_all_there(&s, &acked).await;
}

#[tokio::test]
async fn without_the_guard_a_full_disk_stops_the_node_and_loses_nothing() {
    let fs = Tmpfs::mount(40);
    let data = fs.path().join("node");
    let mut s = Server::start_in(&data, &["--min-free-disk-bytes", "0"]);
    let c = s.connect().await;
    let (acked, state) = fill(&c, 2000).await;
    assert!(
        ["53100", "58030", "40003"].contains(&state.as_str()),
        "a full disk is answered as such, not {state}"
    );
    // The node says it has failed, and refuses what it can no longer do
    // safely, with a clear error.
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (code, body) = health(&s).await;
        if code == 503 {
            break body;
        }
        assert!(Instant::now() < deadline, "/health still says {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.contains("failed"), "{body}");
    let e = c
        .query_one("SELECT count(*) FROM objects", &[])
        .await
        .unwrap_err();
    assert!(["53100", "58030"].contains(&sqlstate(&e).as_str()), "{e}");
    let message = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    assert!(message.contains("restart"), "{message}");

    s.kill();
    let bigger = tempfile::tempdir().unwrap();
    let moved = move_to_bigger_disk(&data, bigger.path());
    let s = Server::start_in(&moved, &[]);
    check_all_there(&s, &acked).await;
}
