//! The node's limits, through a real server and tokio-postgres: each bound
//! answers with PostgreSQL's SQLSTATE, nothing over it is written, and the
//! node (and, where it makes sense, the connection) goes on serving.

use std::time::Duration;

use bucketdb_tests::{sqlstate, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server's message of a failed statement.
fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string())
}

async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn one_connection_over_max_connections_is_refused_with_53300() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(tmp.path(), &["--max-connections", "3"]);
    let mut held = vec![];
    for _ in 0..3 {
        held.push(s.connect().await);
    }
    let e = s
        .connect_as("postgres", None)
        .await
        .expect_err("a fourth is refused");
    assert_eq!(sqlstate(&e), "53300", "{}", message(&e));
    assert!(message(&e).contains("too many clients"), "{}", message(&e));
    // Those in are served; a slot freed is taken again.
    assert_eq!(count(&held[0], "SELECT 1::bigint").await, 1);
    drop(held.pop());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let again = loop {
        match s.connect_as("postgres", None).await {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() < deadline => {
                assert_eq!(sqlstate(&e), "53300", "{}", message(&e));
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("a freed slot is not given again: {e}"),
        }
    };
    assert_eq!(count(&again, "SELECT 2::bigint").await, 2);
}

#[tokio::test]
async fn statements_values_rows_and_transactions_over_the_limits_get_54000() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(
        tmp.path(),
        &[
            "--max-statement-bytes",
            "20000",
            "--max-value-bytes",
            "4000",
            "--max-row-bytes",
            "6000",
            "--max-write-bytes",
            "50000",
        ],
    );
    let c = s.connect().await;
    c.batch_execute("INSERT INTO buckets (name, owner) VALUES ('limits', 'me')")
        .await
        .unwrap();
    let put = "INSERT INTO objects (bucket, key, size, etag, content_type) VALUES ('limits', $1, 1, 'e', $2)";

    // A statement's text.
    let long = format!("SELECT '{}'", "x".repeat(30_000));
    let e = c.simple_query(&long).await.unwrap_err();
    assert_eq!(sqlstate(&e), "54000", "{}", message(&e));
    assert!(
        message(&e).contains("max_statement_bytes"),
        "{}",
        message(&e)
    );
    // Inside a transaction it fails the transaction, as any error does.
    c.batch_execute("BEGIN").await.unwrap();
    c.execute(put, &[&"in-txn", &"t"]).await.unwrap();
    let e = c.simple_query(&long).await.unwrap_err();
    assert_eq!(sqlstate(&e), "54000", "{}", message(&e));
    let tag = c.simple_query("COMMIT").await.unwrap();
    assert!(
        matches!(
            tag.last(),
            Some(tokio_postgres::SimpleQueryMessage::CommandComplete(_))
        ),
        "{tag:?}"
    );
    assert_eq!(count(&c, "SELECT count(*) FROM objects").await, 0);
    // A value, and a row of values each within bounds.
    let e = c
        .execute(put, &[&"big", &"v".repeat(5_000)])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "54000", "{}", message(&e));
    assert!(message(&e).contains("max_value_bytes"), "{}", message(&e));
    let e = c
        .execute(
            "INSERT INTO objects (bucket, key, size, etag, content_type) VALUES ('limits', $1, 1, $2, $2)",
            &[&"wide", &"w".repeat(3_500)],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "54000", "{}", message(&e));
    assert!(message(&e).contains("max_row_bytes"), "{}", message(&e));
    // A transaction that grows past the write bound fails at the statement
    // that made it too big, and COMMIT writes none of it.
    c.batch_execute("BEGIN").await.unwrap();
    let mut refused = None;
    for i in 0..40 {
        if let Err(e) = c
            .execute(put, &[&format!("t{i:02}"), &"t".repeat(3_000)])
            .await
        {
            refused = Some((i, e));
            break;
        }
    }
    let (at, e) = refused.expect("the transaction is refused before 40 rows");
    assert!((10..20).contains(&at), "refused at row {at}");
    assert_eq!(sqlstate(&e), "54000", "{}", message(&e));
    assert!(message(&e).contains("max_write_bytes"), "{}", message(&e));
    let e = c.execute("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02", "{}", message(&e));
    c.batch_execute("COMMIT").await.unwrap();
    // The connection goes on; nothing over a bound was written.
    assert_eq!(count(&c, "SELECT count(*) FROM objects").await, 0);
    c.execute(put, &[&"fits", &"f".repeat(3_000)])
        .await
        .unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM objects").await, 1);
}

#[tokio::test]
async fn copy_of_wide_rows_travels_in_batches_within_the_write_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(
        tmp.path(),
        &[
            "--max-value-bytes",
            "4000",
            "--max-row-bytes",
            "6000",
            "--max-write-bytes",
            "50000",
        ],
    );
    let c = s.connect().await;
    c.batch_execute("INSERT INTO buckets (name, owner) VALUES ('wide', 'me')")
        .await
        .unwrap();
    // 200 rows of 3 KB: 600 KB in all, twelve times the write bound.
    let wide = "c".repeat(3_000);
    let data: String = (0..200)
        .map(|i| format!("wide\tk{i:03}\t1\te\t{wide}\n"))
        .collect();
    let sink = c
        .copy_in("COPY objects (bucket, key, size, etag, content_type) FROM STDIN")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    use futures::SinkExt;
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 200);
    assert_eq!(count(&c, "SELECT count(*) FROM objects").await, 200);
}

#[tokio::test]
async fn a_message_past_every_bound_ends_the_connection_not_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(
        tmp.path(),
        &[
            "--max-statement-bytes",
            "10000",
            "--max-value-bytes",
            "4000",
            "--max-row-bytes",
            "6000",
            "--max-write-bytes",
            "50000",
        ],
    );
    let c = s.connect().await;
    // Over 1 MiB past the largest statement and write: the connection is
    // ended while the message arrives, with 54000.
    let huge = format!("SELECT '{}'", "x".repeat(3 << 20));
    let e = c.simple_query(&huge).await.unwrap_err();
    assert!(c.is_closed() || sqlstate(&e) == "54000", "{}", message(&e));
    // A peer that announces a gigabyte and sends nothing more is dropped at
    // the startup deadline at the latest; the node serves others meanwhile.
    let mut raw = TcpStream::connect(s.sql_addr).await.unwrap();
    raw.write_all(&0x3fff_ffffu32.to_be_bytes()).await.unwrap();
    let fresh = s.connect().await;
    assert_eq!(count(&fresh, "SELECT 3::bigint").await, 3);
    drop(raw);
    // And after startup: a Query message announcing 1 GB, then bytes up to
    // the bound, is cut off with a FATAL 54000.
    let mut raw = startup(&s).await;
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&0x3fff_0000u32.to_be_bytes());
    raw.write_all(&msg).await.unwrap();
    // 1.5 MiB: past the bound, far short of what was announced.
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..24 {
        raw.write_all(&chunk).await.unwrap();
    }
    let mut reply = vec![];
    tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut reply))
        .await
        .expect("the connection is ended")
        .unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains("FATAL") && text.contains("54000"), "{text:?}");
    assert_eq!(count(&fresh, "SELECT 4::bigint").await, 4);
}

/// A plaintext connection through startup (trust), ready for a query.
async fn startup(s: &Server) -> TcpStream {
    let mut raw = TcpStream::connect(s.sql_addr).await.unwrap();
    let mut body = vec![];
    body.extend_from_slice(&196608u32.to_be_bytes());
    for (k, v) in [("user", "postgres"), ("database", "bucketdb")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend(body);
    raw.write_all(&msg).await.unwrap();
    // Up to ReadyForQuery ('Z', length 5, status).
    let mut seen = vec![];
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.windows(5).any(|w| w == [b'Z', 0, 0, 0, 5]) {
        let n = tokio::time::timeout_at(deadline, raw.read(&mut buf))
            .await
            .expect("startup answered")
            .unwrap();
        assert!(n > 0, "closed during startup");
        seen.extend_from_slice(&buf[..n]);
    }
    raw
}

#[tokio::test]
async fn idle_sessions_are_ended_with_25p03_in_a_transaction_and_57p05_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(tmp.path(), &[]);
    let ended = |conninfo: String| async move {
        let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
            .await
            .unwrap();
        let conn = tokio::spawn(conn);
        (client, conn)
    };

    let (c, conn) = ended(s.conninfo()).await;
    c.batch_execute(
        "SET idle_in_transaction_session_timeout = '300ms'; BEGIN; SELECT count(*) FROM buckets",
    )
    .await
    .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the idle transaction is ended")
        .unwrap();
    let e = out.expect_err("ended with an error");
    assert_eq!(sqlstate(&e), "25P03", "{}", message(&e));
    assert!(c.is_closed());

    // Busy is not idle: a session that keeps talking stays.
    let (c, conn) = ended(s.conninfo()).await;
    c.batch_execute("SET idle_session_timeout = '400ms'")
        .await
        .unwrap();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        c.batch_execute("SELECT 1").await.unwrap();
    }
    let out = tokio::time::timeout(Duration::from_secs(10), conn)
        .await
        .expect("the idle session is ended")
        .unwrap();
    let e = out.expect_err("ended with an error");
    assert_eq!(sqlstate(&e), "57P05", "{}", message(&e));

    // The server's default comes from its configuration.
    let tmp2 = tempfile::tempdir().unwrap();
    let s2 = Server::start_in(
        tmp2.path(),
        &["--idle-in-transaction-session-timeout-secs", "1"],
    );
    let c = s2.connect().await;
    let shown: String = c
        .query_one("SHOW idle_in_transaction_session_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shown, "1000ms");
    // And RESET ALL (as a connection pool sends) returns to it.
    c.batch_execute("SET idle_in_transaction_session_timeout = 0; RESET ALL")
        .await
        .unwrap();
    let shown: String = c
        .query_one("SHOW idle_in_transaction_session_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shown, "1000ms");
}

#[tokio::test]
async fn a_query_over_its_memory_gets_53200_and_the_node_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start_in(
        tmp.path(),
        &[
            "--query-memory-bytes",
            "2000000",
            "--node-query-memory-bytes",
            "4000000",
        ],
    );
    let c = s.connect().await;
    let e = c
        .query(
            "SELECT g FROM generate_series(1, 3000000) g ORDER BY g DESC LIMIT 100000000",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "53200", "{}", message(&e));
    assert!(
        message(&e).contains("query_memory_bytes"),
        "{}",
        message(&e)
    );
    // The memory is given back: the next queries run.
    for _ in 0..3 {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM (SELECT g FROM generate_series(1, 1000) g ORDER BY g DESC) t",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1000);
    }
}
