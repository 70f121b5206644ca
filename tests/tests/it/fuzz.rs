//! Fuzzing of the front ends, bounded: `PROPTEST_CASES` sets how many
//! inputs each target runs (`make test` a thousand, `make fuzz` many more).
//! SQL statements and their parameters go through the engine; arbitrary
//! bytes go to a real server's PostgreSQL port. Nothing may panic or hang,
//! and afterwards the node serves, with the rows it had.
//!
//! (The node frame decoder and the snapshot importer are fuzzed next to
//! their code: `consensus/src/transport/frame.rs`, `storage/src/snapshot.rs`.)

use std::time::Duration;

use bucketdb_sql::{Output, Session, Value};
use bucketdb_tests::inproc::{sql, InProcCluster};
use bucketdb_tests::Server;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one input may take before it counts as a hang.
const PER_INPUT: Duration = Duration::from_secs(20);

fn cases() -> u32 {
    Config::default().cases
}

/// Pieces of SQL, valid and not, that statements are strung from.
const WORDS: &[&str] = &[
    "SELECT",
    "INSERT INTO",
    "UPDATE",
    "DELETE FROM",
    "FROM",
    "WHERE",
    "VALUES",
    "SET",
    "(",
    ")",
    ",",
    "*",
    "=",
    "<>",
    "<",
    ">=",
    "+",
    "-",
    "/",
    "%",
    "||",
    "AND",
    "OR",
    "NOT",
    "NULL",
    "TRUE",
    "ORDER BY",
    "GROUP BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "AS",
    "buckets",
    "objects",
    "object_versions",
    "multipart_uploads",
    "parts",
    "name",
    "key",
    "bucket",
    "size",
    "owner",
    "etag",
    "count(*)",
    "sum(size)",
    "max(key)",
    "list_objects('fzz')",
    "bucket_stats()",
    "cluster_status()",
    "$1",
    "$2",
    "$3",
    "'x'",
    "'fzz'",
    "1",
    "0",
    "-1",
    "9223372036854775807",
    "1e308",
    "'2024-01-01'::timestamptz",
    "::text",
    "::int8",
    "::bool",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SHOW",
    "consistency",
    "EXPLAIN",
    "CASE WHEN",
    "THEN",
    "ELSE",
    "END",
    "IN",
    "LIKE",
    "'%'",
    "ILIKE",
    "IS",
    "DISTINCT",
    "ARRAY[1,2]",
    "coalesce(",
    "substr(",
    "length(",
    "upper(",
    "now()",
    "current_user",
    "pg_catalog.pg_class",
    "information_schema.tables",
    "ON CONFLICT",
    "DO NOTHING",
    "DO UPDATE SET",
    "RETURNING",
    "COPY",
    "TO STDOUT",
    "WITH",
    "UNION",
    "INTERSECT",
    "EXISTS",
    "CREATE ROLE",
    "GRANT",
    "ALL",
    "TO",
    "PASSWORD",
    ";",
    "--",
    "/*",
    "\"",
    "'",
    "\\",
    "é",
    "\u{0}",
];

/// Statements that parse and plan, their parameters left to chance: they
/// reach the planners, the write path and the scans.
const TEMPLATES: &[&str] = &[
    "SELECT * FROM objects WHERE bucket = 'fzz' AND key > $1 ORDER BY key LIMIT $2",
    "SELECT key, size FROM objects WHERE key LIKE $1 AND size < $2",
    "SELECT bucket, count(*), sum(size) FROM objects GROUP BY bucket HAVING count(*) > $1",
    "INSERT INTO objects (bucket, key, size, content_type) VALUES ('fzz', $1, $2, $3)",
    "INSERT INTO objects (bucket, key, size) VALUES ('fzz', $1, $2) ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size RETURNING *",
    "UPDATE objects SET size = $1, etag = $2 WHERE bucket = 'fzz' AND key = $3",
    "DELETE FROM objects WHERE bucket = 'fzz' AND key = $1 AND key <> 'sentinel'",
    "SELECT * FROM list_objects('fzz', prefix => $1, delimiter => $2, max_keys => $3)",
    "INSERT INTO buckets (name, owner) VALUES ($1, $2)",
    "SELECT o.key, b.owner FROM objects o JOIN buckets b ON b.name = o.bucket WHERE o.key >= $1",
    "SELECT $1::text || $2::text, length($3::text)",
    "SELECT * FROM objects WHERE user_metadata->>$1 = $2",
];

/// A statement: a template, words strung together, or any text at all.
fn statement() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(TEMPLATES).prop_map(str::to_string),
        3 => vec(proptest::sample::select(WORDS), 1..24).prop_map(|w| w.join(" ")),
        1 => any::<String>(),
    ]
}

fn param() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        ".{0,40}".prop_map(Value::Text),
    ]
}

/// Runs one statement on a fresh session; its rows are drained.
async fn run(
    engine: &bucketdb_sql::Engine,
    text: &str,
    params: Vec<Value>,
) -> Result<(), bucketdb_sql::SqlError> {
    let mut session = Session::new("postgres", "bucketdb");
    sql(engine, &mut session, "SET statement_timeout = '5s'", vec![]).await?;
    let stmts = engine.parse(text)?;
    for stmt in stmts.iter().take(4) {
        let prepared = engine.prepare(stmt, None, &[]).await?;
        let interrupt = bucketdb_sql::Interrupt::start(Default::default(), None);
        let out = engine
            .execute(&mut session, &prepared, &interrupt, params.clone())
            .await?;
        if let Output::RowStream { rest, .. } = out {
            let mut rest = rest;
            while let Some(chunk) = rest.recv().await {
                chunk?;
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_statements_and_parameters_never_take_the_engine_down() {
    let mut cluster = InProcCluster::start(1).await;
    let engine = cluster.node(0).engine.clone();
    let mut s = Session::new("postgres", "bucketdb");
    sql(
        &engine,
        &mut s,
        "INSERT INTO buckets (name, owner) VALUES ('fzz', 'me')",
        vec![],
    )
    .await
    .unwrap();
    sql(
        &engine,
        &mut s,
        "INSERT INTO objects (bucket, key, size) VALUES ('fzz', 'sentinel', 1)",
        vec![],
    )
    .await
    .unwrap();

    let mut runner = TestRunner::new(Config::default());
    let inputs = (statement(), vec(param(), 0..4));
    let mut ran = 0;
    for _ in 0..cases() {
        let (text, params) = inputs.new_tree(&mut runner).expect("an input").current();
        match tokio::time::timeout(PER_INPUT, run(&engine, &text, params.clone())).await {
            Ok(_) => ran += 1,
            Err(_) => panic!("hung on {text:?} with {params:?}"),
        }
    }
    assert_eq!(ran, cases());
    println!("sql fuzz: {ran} statements with parameters");
    // Still serving, reads and writes, with its rows.
    let out = sql(
        &engine,
        &mut s,
        "SELECT count(*) FROM objects WHERE key = 'sentinel'",
        vec![],
    )
    .await;
    assert!(out.is_ok(), "{out:?}");
    sql(
        &engine,
        &mut s,
        "INSERT INTO buckets (name) VALUES ('after-fuzz')",
        vec![],
    )
    .await
    .unwrap();
    cluster.shutdown().await;
}

/// Bytes a stranger may send to the PostgreSQL port.
fn wire_input() -> impl Strategy<Value = (u8, Vec<u8>)> {
    let typed = (
        proptest::sample::select(b"QPBEDSHCdcfXpF".to_vec()),
        vec(any::<u8>(), 0..512),
    )
        .prop_map(|(t, body)| {
            let mut m = vec![t];
            m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
            m.extend(body);
            m
        });
    prop_oneof![
        // Anything, from the first byte.
        (Just(0u8), vec(any::<u8>(), 0..1024)),
        // After a good startup: arbitrary bytes, or framed messages of
        // every type with arbitrary bodies.
        (Just(1u8), vec(any::<u8>(), 0..1024)),
        (Just(1u8), vec(typed, 1..6).prop_map(|v| v.concat())),
    ]
}

async fn metrics(s: &Server) -> String {
    let mut c = TcpStream::connect(s.http_addr).await.unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).await.unwrap();
    out
}

fn gauge(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn startup_message() -> Vec<u8> {
    let mut body = 196608u32.to_be_bytes().to_vec();
    for (k, v) in [("user", "postgres"), ("database", "bucketdb")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend(body);
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_bytes_on_the_sql_port_leave_the_server_serving() {
    let mut server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name, owner) VALUES ('wire', 'me')")
        .await
        .unwrap();
    let mut runner = TestRunner::new(Config::default());
    let strategy = wire_input();
    // Each input opens a connection: a quarter as many as the SQL target.
    let n = (cases() / 4).max(1);
    for _ in 0..n {
        let (after_startup, bytes) = strategy.new_tree(&mut runner).expect("an input").current();
        let mut s = TcpStream::connect(server.sql_addr).await.unwrap();
        let mut all = if after_startup == 1 {
            startup_message()
        } else {
            vec![]
        };
        all.extend_from_slice(&bytes);
        let _ = s.write_all(&all).await;
        // The client is done sending: the server answers and closes, or
        // waits for a message that will never be whole and sees the end.
        let _ = s.shutdown().await;
        let mut sink = vec![];
        let read = tokio::time::timeout(PER_INPUT, s.read_to_end(&mut sink)).await;
        assert!(
            read.is_ok(),
            "the server held a connection open after {bytes:?}"
        );
    }
    println!("wire fuzz: {n} connections of arbitrary bytes");
    assert!(server.is_running(), "the server died");
    // Every connection ended as it should: none left open, none ended by
    // a panic.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = metrics(&server).await;
        assert_eq!(gauge(&m, "bucketdb_sql_panics_total"), 0, "{m}");
        // The test's own client is the one left.
        if gauge(&m, "bucketdb_sql_connections") == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "connections left open: {m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let n: i64 = server
        .connect()
        .await
        .query_one("SELECT count(*) FROM buckets WHERE name = 'wire'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
