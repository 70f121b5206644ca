//! A snapshot a node receives is checked whole before it is kept: one that
//! is corrupt, cut short or over `--max-snapshot-bytes` is refused, and the
//! node keeps its rows and its own snapshots, and restarts cleanly. Sent
//! here posing as the leader (the cluster is on loopback without
//! certificates, where anyone may speak for a member) so that a leader's
//! bad disk or a bug is not needed to produce one.

use std::path::Path;
use std::time::{Duration, Instant};

use bucketdb_consensus::wire::{self, ClusterId, Hello, HelloReply, Request, Response};
use bucketdb_consensus::TypeConfig;
use bucketdb_tests::cluster::Cluster;
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MAX_SNAPSHOT: usize = 4 << 20;

fn snapshot_files(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let read = async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("an answer, not a hang")
}

/// Offers `data` as a snapshot from `leader` at `term`, in 64 KiB chunks
/// (ending with the empty chunk unless `cut`); the node's answer.
async fn offer(
    addr: std::net::SocketAddr,
    cluster: &ClusterId,
    leader: u64,
    to: u64,
    term: u64,
    data: &[u8],
    cut: bool,
) -> Option<Response> {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let hello = Hello {
        protocol: wire::PROTOCOL,
        cluster: Some(cluster.clone()),
        group: wire::GROUP,
        from: leader,
        to,
        to_incarnation: None,
    };
    s.write_all(&wire::frame(&hello).unwrap()).await.unwrap();
    let greeting: HelloReply = wire::decode(&read_frame(&mut s).await.unwrap()).unwrap();
    assert!(
        matches!(greeting, HelloReply::Welcome { .. }),
        "{greeting:?}"
    );
    let req = Request::Snapshot {
        vote: VoteOf::<TypeConfig>::new_committed(term, leader),
        meta: SnapshotMetaOf::<TypeConfig> {
            last_log_id: None,
            last_membership: Default::default(),
        },
    };
    s.write_all(&wire::frame(&req).unwrap()).await.unwrap();
    for chunk in data.chunks(64 << 10) {
        let mut f = (chunk.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(chunk);
        // A refused stream is closed while it is sent.
        if s.write_all(&f).await.is_err() {
            break;
        }
    }
    if cut {
        // The rest never comes: the sender is gone.
        let _ = s.shutdown().await;
    } else {
        let _ = s.write_all(&0u32.to_be_bytes()).await;
    }
    read_frame(&mut s).await.map(|b| wire::decode(&b).unwrap())
}

async fn rows(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT count(*) FROM buckets", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_bad_snapshot_is_refused_before_it_replaces_anything() {
    let max = MAX_SNAPSHOT.to_string();
    let mut c = Cluster::start(3, &["--snapshot-every", "40", "--max-snapshot-bytes", &max]);
    let leader = c.leader(Duration::from_secs(30)).await;
    let lc = c.server(leader).connect().await;
    for i in 0..100 {
        lc.execute(
            "INSERT INTO buckets (name) VALUES ($1)",
            &[&format!("snap-{i:03}")],
        )
        .await
        .unwrap();
    }
    let term: i64 = lc
        .query_one("SELECT term FROM cluster_status()", &[])
        .await
        .unwrap()
        .get(0);
    let f = (0..3).find(|i| *i != leader).unwrap();
    let follower = c.server(f);
    let fc = follower
        .connect_with("options='-c consistency=local'")
        .await;
    // The follower has applied everything and kept snapshots of its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&fc).await < 100
        || !snapshot_files(&follower.data_dir)
            .iter()
            .any(|n| n.ends_with(".meta"))
    {
        assert!(Instant::now() < deadline, "the follower does not catch up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let kept = snapshot_files(&follower.data_dir);
    let text = std::fs::read_to_string(follower.data_dir.join("cluster-id")).unwrap();
    let cluster = ClusterId::parse(&text).unwrap();
    let data_file = kept.iter().find(|n| n.ends_with(".data")).unwrap();
    let good = std::fs::read(follower.data_dir.join("snapshots").join(data_file)).unwrap();

    let mut corrupt = good.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0x5a;
    let truncated = &good[..good.len() / 2];
    let oversized = vec![7u8; MAX_SNAPSHOT + (1 << 20)];
    let cases: [(&str, &[u8], bool); 4] = [
        ("corrupt", &corrupt, false),
        ("truncated", truncated, false),
        ("cut off", truncated, true),
        ("oversized", &oversized, false),
    ];
    let (leader_id, follower_id) = (leader as u64 + 1, f as u64 + 1);
    for (what, data, cut) in cases {
        let reply = offer(
            follower.raft_addr,
            &cluster,
            leader_id,
            follower_id,
            term as u64,
            data,
            cut,
        )
        .await;
        if !cut {
            assert!(
                matches!(&reply, Some(Response::Error(e)) if format!("{e:?}").contains("snapshot")),
                "{what}: {reply:?}"
            );
        }
        assert_eq!(rows(&fc).await, 100, "{what}: the rows are kept");
        assert_eq!(
            snapshot_files(&follower.data_dir),
            kept,
            "{what}: the snapshots are kept"
        );
    }

    // It restarts on what it kept and goes on replicating.
    c.kill(f);
    c.restart(f);
    lc.execute("INSERT INTO buckets (name) VALUES ('after')", &[])
        .await
        .unwrap();
    let fc = c
        .server(f)
        .connect_with("options='-c consistency=local'")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&fc).await < 101 {
        assert!(Instant::now() < deadline, "the follower does not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
