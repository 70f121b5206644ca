//! The node transport of a cluster with certificates: nodes speak mutual
//! TLS and open each connection with a hello naming the cluster and both
//! nodes. A stranger on the Raft port — in plaintext, with another CA's
//! certificate, from another cluster, or posing as the leader — is turned
//! away, and the cluster's term, data and membership do not change.

use std::path::Path;
use std::time::Duration;

use bucketdb_consensus::wire::{self, ClusterId, Hello, HelloReply, Request, Response};
use bucketdb_consensus::TypeConfig;
use bucketdb_tests::cluster::Cluster;
use bucketdb_tests::tls::peer_connector;
use bucketdb_tests::{binary, cert, Server};
use openraft::raft::{AppendEntriesRequest, VoteRequest};
use openraft::type_config::alias::VoteOf;

type Vote = VoteOf<TypeConfig>;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "node-security-pw";

/// Reads one frame's body, or `None` if the peer closed or failed the
/// stream (as a refused connection does), within a deadline.
async fn read_reply<S: AsyncRead + Unpin>(s: &mut S) -> Option<Vec<u8>> {
    let read = async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a refused connection is closed, not left hanging")
}

/// Sends a hello then `req` as a stranger might; what came back.
async fn speak<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    hello: &Hello,
    req: &Request,
) -> (Option<HelloReply>, Option<Response>) {
    let _ = s.write_all(&wire::frame(hello).unwrap()).await;
    let greeting = read_reply(s)
        .await
        .map(|b| wire::decode::<HelloReply>(&b).unwrap());
    if !matches!(greeting, Some(HelloReply::Welcome { .. })) {
        return (greeting, None);
    }
    s.write_all(&wire::frame(req).unwrap()).await.unwrap();
    let reply = read_reply(s)
        .await
        .map(|b| wire::decode::<Response>(&b).unwrap());
    (greeting, reply)
}

fn hello(cluster: Option<ClusterId>, from: u64, to: u64) -> Hello {
    Hello {
        protocol: wire::PROTOCOL,
        cluster,
        group: wire::GROUP,
        from,
        to,
        to_incarnation: None,
    }
}

/// An append claiming leadership of `leader` at a term far ahead.
fn hostile_append(leader: u64) -> Request {
    Request::AppendEntries(AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(1_000_000, leader),
        prev_log_id: None,
        entries: vec![],
        leader_commit: None,
    })
}

/// A snapshot claiming to come from `leader` at a term far ahead: were it
/// installed, it would replace every row and the membership.
fn hostile_snapshot(leader: u64) -> Request {
    Request::Snapshot {
        vote: Vote::new_committed(1_000_000, leader),
        meta: openraft::type_config::alias::SnapshotMetaOf::<TypeConfig> {
            last_log_id: None,
            last_membership: Default::default(),
        },
    }
}

fn hostile_vote(candidate: u64) -> Request {
    Request::Vote(VoteRequest::new(Vote::new(1_000_000, candidate), None))
}

/// `GET /metrics` of a node, as text.
async fn metrics(s: &Server) -> String {
    let mut c = TcpStream::connect(s.http_addr).await.unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    out
}

fn counter(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// Term, members and bucket count, as the leader reports them.
async fn state(c: &tokio_postgres::Client) -> (i64, String, i64) {
    let term: i64 = c
        .query_one("SELECT term FROM cluster_status()", &[])
        .await
        .unwrap()
        .get(0);
    let members: String = c
        .query(
            "SELECT node_id, role FROM cluster_nodes() ORDER BY node_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{}:{} ", r.get::<_, i64>(0), r.get::<_, String>(1)))
        .collect();
    let rows: i64 = c
        .query_one("SELECT count(*) FROM buckets", &[])
        .await
        .unwrap()
        .get(0);
    (term, members, rows)
}

/// A CA in `dir` and a node certificate of it naming node ids `ids`.
fn make_certs(dir: &Path, ids: &[u64]) {
    cert(&["create-ca", "--certs-dir", dir.to_str().unwrap()]);
    node_cert(dir, ids);
}

/// A node certificate naming `ids`, signed by the CA in `dir`.
fn node_cert(dir: &Path, ids: &[u64]) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["create-node", "--certs-dir", d, "--host", "127.0.0.1"];
    let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
    for id in &ids {
        args.extend(["--node-id", id.as_str()]);
    }
    cert(&args);
}

/// A copy of the CA of `certs` in `dir`, with a node certificate naming
/// only `ids`: a node the same CA certified, like a retired one.
fn other_node_certs(certs: &Path, dir: &Path, ids: &[u64]) {
    std::fs::create_dir_all(dir).unwrap();
    for f in ["ca.crt", "ca.key"] {
        std::fs::copy(certs.join(f), dir.join(f)).unwrap();
    }
    node_cert(dir, ids);
}

fn cluster_id(s: &Server) -> ClusterId {
    let text = std::fs::read_to_string(s.data_dir.join("cluster-id")).unwrap();
    ClusterId::parse(&text).unwrap()
}

#[tokio::test]
async fn a_cluster_with_certificates_turns_strangers_away() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let foreign = tmp.path().join("foreign");
    let retired = tmp.path().join("retired");
    make_certs(&certs, &[1, 2, 3]);
    make_certs(&foreign, &[1, 2, 3]);
    // Node 9 was certified by this CA once; it is no member.
    other_node_certs(&certs, &retired, &[9]);
    // A SQL client's certificate from the same CA.
    cert(&[
        "create-client",
        "--certs-dir",
        certs.to_str().unwrap(),
        "--user",
        "app",
    ]);
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let flags = [
        "--auth",
        "scram",
        "--superuser-password-file",
        pw.to_str().unwrap(),
        "--certs-dir",
        certs.to_str().unwrap(),
        "--require-tls",
    ];
    let c = Cluster::start(3, &flags);
    let leader = c.leader(Duration::from_secs(30)).await;
    let root = c.server(leader).connect().await;
    root.batch_execute("INSERT INTO buckets (name) VALUES ('secure')")
        .await
        .unwrap();
    for (i, s) in c.up() {
        let n: i64 = s
            .connect()
            .await
            .query_one("SELECT count(*) FROM buckets", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "node {i} serves the cluster's data");
    }
    let before = state(&root).await;
    let follower = (0..3).find(|i| *i != leader).unwrap();
    let target = c.server(follower);
    let target_id = follower as u64 + 1;
    let ours = cluster_id(target);
    assert_eq!(cluster_id(c.server(leader)), ours, "one cluster id");
    let ca = certs.join("ca.crt");
    let target_sql = target.connect().await;
    let target_before = state(&target_sql).await;

    // 1. Plaintext: a hello and a high-term append, in the clear.
    let mut plain = TcpStream::connect(target.raft_addr).await.unwrap();
    let (greeting, _) = speak(
        &mut plain,
        &hello(Some(ours.clone()), 1, target_id),
        &hostile_append(1),
    )
    .await;
    assert!(greeting.is_none(), "plaintext got {greeting:?}");

    // 2. TLS with a certificate another CA signed.
    let tcp = TcpStream::connect(target.raft_addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let connected = peer_connector(&ca, Some(&foreign.join("node.crt")))
        .connect(name.clone(), tcp)
        .await;
    if let Ok(mut tls) = connected {
        let (greeting, _) = speak(
            &mut tls,
            &hello(Some(ours.clone()), 1, target_id),
            &hostile_append(1),
        )
        .await;
        assert!(greeting.is_none(), "foreign CA got {greeting:?}");
    }
    // And with no certificate at all.
    let tcp = TcpStream::connect(target.raft_addr).await.unwrap();
    if let Ok(mut tls) = peer_connector(&ca, None).connect(name.clone(), tcp).await {
        let (greeting, _) = speak(
            &mut tls,
            &hello(Some(ours.clone()), 1, target_id),
            &hostile_vote(1),
        )
        .await;
        assert!(greeting.is_none(), "no certificate got {greeting:?}");
    }

    let dial_with = |crt: std::path::PathBuf| {
        let (ca, name) = (ca.clone(), name.clone());
        async move {
            let tcp = TcpStream::connect(target.raft_addr).await.unwrap();
            peer_connector(&ca, Some(&crt))
                .connect(name, tcp)
                .await
                .expect("a certificate of the cluster's CA passes TLS")
        }
    };
    let dial = || dial_with(certs.join("node.crt"));
    // 3. The cluster's CA, another cluster's id.
    let other = ClusterId::generate().unwrap();
    let (greeting, _) = speak(
        &mut dial().await,
        &hello(Some(other), 1, target_id),
        &hostile_append(1),
    )
    .await;
    assert!(
        matches!(greeting, Some(HelloReply::Refused(_))),
        "{greeting:?}"
    );
    // 4. The right cluster, addressed to another node.
    let (greeting, _) = speak(
        &mut dial().await,
        &hello(Some(ours.clone()), 1, target_id + 10),
        &hostile_append(1),
    )
    .await;
    assert!(
        matches!(greeting, Some(HelloReply::Refused(_))),
        "{greeting:?}"
    );
    // 5. The right cluster, from a node that is not a member (its
    // certificate names it).
    for req in [hostile_append(9), hostile_vote(9), hostile_snapshot(9)] {
        let (greeting, reply) = speak(
            &mut dial_with(retired.join("node.crt")).await,
            &hello(Some(ours.clone()), 9, target_id),
            &req,
        )
        .await;
        assert!(matches!(greeting, Some(HelloReply::Welcome { .. })));
        assert!(
            matches!(reply, Some(Response::Error(_))),
            "a non-member's request was served"
        );
    }
    // 6. A member posing as another leader.
    let member = (1..=3).find(|id| *id != target_id).unwrap();
    for req in [hostile_append(9), hostile_snapshot(9)] {
        let (_, reply) = speak(
            &mut dial().await,
            &hello(Some(ours.clone()), member, target_id),
            &req,
        )
        .await;
        assert!(
            matches!(reply, Some(Response::Error(_))),
            "a false leader was served"
        );
    }

    // 7. A member's id claimed with a certificate that does not name it: a
    // SQL client's, and the retired node's. The hello is refused, so
    // nothing else in it counts.
    for crt in [certs.join("client.app.crt"), retired.join("node.crt")] {
        for req in [hostile_append(member), hostile_vote(member)] {
            let (greeting, reply) = speak(
                &mut dial_with(crt.clone()).await,
                &hello(Some(ours.clone()), member, target_id),
                &req,
            )
            .await;
            assert!(
                matches!(&greeting, Some(HelloReply::Refused(why)) if why.contains(&format!("does not name node {member}"))),
                "{} posing as node {member} got {greeting:?}",
                crt.display()
            );
            assert!(reply.is_none());
        }
    }

    // Nothing changed, and the cluster still works.
    let after = state(&root).await;
    assert_eq!(after, before);
    // The attacked node itself kept its term too.
    assert_eq!(state(&target_sql).await, target_before);
    root.batch_execute("INSERT INTO buckets (name) VALUES ('still-writable')")
        .await
        .unwrap();
    let m = metrics(target).await;
    assert!(counter(&m, "bucketdb_raft_refused_tls_total") >= 2, "{m}");
    assert!(counter(&m, "bucketdb_raft_refused_hello_total") >= 6, "{m}");
    assert!(
        counter(&m, "bucketdb_raft_refused_requests_total") >= 3,
        "{m}"
    );
}

#[tokio::test]
async fn a_node_of_another_cluster_does_not_answer_this_one() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    make_certs(&certs, &[1, 2]);
    let d = certs.to_str().unwrap();
    // Two single-node clusters under one CA: each has its own id.
    let a = Server::start_in(&tmp.path().join("a"), &["--certs-dir", d]);
    let b = Server::start_in(&tmp.path().join("b"), &["--certs-dir", d, "--node-id", "2"]);
    let (ida, idb) = (cluster_id(&a), cluster_id(&b));
    assert_ne!(ida, idb);
    let tcp = TcpStream::connect(b.raft_addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = peer_connector(&certs.join("ca.crt"), Some(&certs.join("node.crt")))
        .connect(name, tcp)
        .await
        .unwrap();
    // What A's leader would say when adding B as a learner.
    let (greeting, _) = speak(&mut tls, &hello(Some(ida), 1, 2), &hostile_append(1)).await;
    assert!(
        matches!(&greeting, Some(HelloReply::Refused(why)) if why.contains("cluster")),
        "{greeting:?}"
    );
    assert_eq!(cluster_id(&b), idb, "B kept its cluster");
    assert_eq!(
        counter(&metrics(&b).await, "bucketdb_raft_refused_hello_total"),
        1
    );
    // And through SQL: A's operator adding B is refused at once, and A's
    // membership stays as it was.
    let root = a.connect().await;
    let e = root
        .query_one(
            "SELECT cluster_add_learner(2, $1, $2)",
            &[&b.raft_addr.to_string(), &b.sql_addr.to_string()],
        )
        .await
        .expect_err("a node of another cluster was added");
    let why = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    assert!(why.contains("of cluster"), "{e:?}");
    let members: i64 = root
        .query_one("SELECT count(*) FROM cluster_nodes()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(members, 1);
    // A node is added only as an id its certificate names: B's names nodes
    // 1 and 2, not 3.
    let e = root
        .query_one(
            "SELECT cluster_add_learner(3, $1, $2)",
            &[&b.raft_addr.to_string(), &b.sql_addr.to_string()],
        )
        .await
        .expect_err("a node was added as an id its certificate does not name");
    let why = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    assert!(why.contains("does not name node 3"), "{e:?}");
    // And a node does not start as an id its own certificate does not name.
    let out = std::process::Command::new(binary())
        .args(["--data-dir", tmp.path().join("c").to_str().unwrap()])
        .args(["--sql-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0"])
        .args([
            "--http-addr",
            "127.0.0.1:0",
            "--certs-dir",
            d,
            "--node-id",
            "5",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("does not name node 5"), "{err}");
}

/// Polls `cluster_nodes()` on `c` until node `id`'s row satisfies `ok`.
async fn wait_member(
    c: &tokio_postgres::Client,
    id: i64,
    what: &str,
    ok: impl Fn(&tokio_postgres::Row) -> bool,
) -> tokio_postgres::Row {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = c
            .query("SELECT * FROM cluster_nodes() WHERE node_id = $1", &[&id])
            .await
            .unwrap();
        if let Some(r) = rows.into_iter().find(|r| ok(r)) {
            return r;
        }
        assert!(std::time::Instant::now() < deadline, "node {id}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_wiped_node_is_refused_until_removed_and_added_again() {
    let mut c = Cluster::start(3, &[]);
    let leader = c.leader(Duration::from_secs(30)).await;
    let root = c.server(leader).connect().await;
    root.batch_execute("INSERT INTO buckets (name) VALUES ('before-wipe')")
        .await
        .unwrap();
    // A follower other than node 1 (the one the others joined through).
    let victim = (1..3).find(|i| *i != leader).unwrap();
    let id = victim as i64 + 1;
    c.wipe(victim);
    // It comes back under the same id and addresses with an empty
    // directory (and so an empty vote), waiting to be told what to do.
    c.restart_with(victim, &["--no-init"]);
    let row = wait_member(&root, id, "refused", |r| {
        r.get::<_, Option<String>>("refused").is_some()
    })
    .await;
    let why: String = row.get("refused");
    assert!(why.contains("cluster_remove"), "{why}");
    // It neither serves the cluster's data nor takes part.
    let wiped = c
        .server(victim)
        .connect_with("options='-c consistency=local'")
        .await;
    let membership: String = wiped
        .query_one("SELECT membership FROM cluster_status()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        !membership.chars().any(|ch| ch.is_ascii_digit()),
        "the wiped node knows a membership: {membership}"
    );
    let n: i64 = wiped
        .query_one("SELECT count(*) FROM buckets", &[])
        .await
        .map(|r| r.get(0))
        .unwrap_or(0);
    assert_eq!(n, 0, "the wiped node served data it no longer has");
    // The cluster goes on with the other two.
    root.batch_execute("INSERT INTO buckets (name) VALUES ('while-refused')")
        .await
        .unwrap();
    // Adding it again without removing it first is refused.
    let (raft, sql) = {
        let s = c.server(victim);
        (s.raft_addr.to_string(), s.sql_addr.to_string())
    };
    let again = root
        .query_one(
            "SELECT cluster_add_learner($1, $2, $3)",
            &[&id, &raft, &sql],
        )
        .await;
    assert!(again.is_err(), "re-added over its old self");
    // The operator removes the old member and adds the new one.
    root.query_one("SELECT cluster_remove($1)", &[&id])
        .await
        .unwrap();
    root.query_one(
        "SELECT cluster_add_learner($1, $2, $3)",
        &[&id, &raft, &sql],
    )
    .await
    .unwrap();
    root.query_one("SELECT cluster_promote($1)", &[&id])
        .await
        .unwrap();
    wait_member(&root, id, "a reachable voter again", |r| {
        r.get::<_, bool>("voter")
            && r.get::<_, bool>("reachable")
            && r.get::<_, Option<String>>("refused").is_none()
    })
    .await;
    let back = c.server(victim).connect().await;
    let n: i64 = back
        .query_one("SELECT count(*) FROM buckets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "caught up after being added again");
}

#[tokio::test]
async fn the_cluster_id_is_in_the_replicated_state_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let mut s = Server::start_in(&dir, &[]);
    let id = cluster_id(&s);
    s.kill();
    // A lost cluster-id file comes back from the state.
    std::fs::remove_file(dir.join("cluster-id")).unwrap();
    let mut s = Server::start_in(&dir, &[]);
    assert_eq!(cluster_id(&s), id);
    s.kill();
    // A file naming another cluster than the state's stops the node.
    let other = ClusterId::generate().unwrap();
    std::fs::write(dir.join("cluster-id"), format!("{other}\n")).unwrap();
    let out = std::process::Command::new(bucketdb_tests::binary())
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(["--sql-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0"])
        .args(["--http-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("replicated state is of cluster") && err.contains(id.as_str()),
        "{err}"
    );
}
