//! Reads bucketdb's own planner does not take, run by DataFusion over the
//! built-in tables: joins, subqueries, CTEs, window functions, JSON, with
//! key conditions and LIMIT pushed into the storage scan.

use bucketdb_tests::{sqlstate, Server};

async fn load(c: &tokio_postgres::Client) {
    c.batch_execute(
        "INSERT INTO buckets (name, owner) VALUES ('photos', 'alice'), ('logs', 'bob'), ('empty', 'carol')",
    )
    .await
    .unwrap();
    for i in 0..30i64 {
        let (bucket, meta) = if i % 3 == 0 {
            ("logs", r#"{"color":"blue"}"#)
        } else {
            ("photos", r#"{"color":"red"}"#)
        };
        c.execute(
            "INSERT INTO objects (bucket, key, size, user_metadata) VALUES ($1, $2, $3, $4)",
            &[&bucket, &format!("k{i:02}"), &(i * 10), &json(meta)],
        )
        .await
        .unwrap();
    }
}

/// A JSON parameter, as a driver sends one for a `json` column.
fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

fn texts(rows: &[tokio_postgres::Row], col: usize) -> Vec<String> {
    rows.iter().map(|r| r.get::<_, String>(col)).collect()
}

#[tokio::test]
async fn joins_subqueries_ctes_and_windows() {
    let server = Server::start();
    let c = server.connect().await;
    load(&c).await;

    // LEFT JOIN with GROUP BY: the empty bucket still appears.
    let rows = c
        .query(
            "SELECT b.name, count(o.key) AS n, coalesce(sum(o.size), 0) AS bytes \
             FROM buckets b LEFT JOIN objects o ON o.bucket = b.name \
             GROUP BY b.name ORDER BY b.name",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let logs: i64 = (0..30).filter(|i| i % 3 == 0).map(|i| i * 10).sum();
    let photos: i64 = (0..30).filter(|i| i % 3 != 0).map(|i| i * 10).sum();
    assert_eq!(
        got,
        vec![
            ("empty".into(), 0, 0),
            ("logs".into(), 10, logs),
            ("photos".into(), 20, photos)
        ]
    );

    // A subquery in WHERE.
    let rows = c
        .query(
            "SELECT name FROM buckets WHERE name IN (SELECT bucket FROM objects WHERE size > 250) ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(texts(&rows, 0), vec!["logs", "photos"]);

    // A CTE and a window function.
    let rows = c
        .query(
            "WITH big AS (SELECT key, size FROM objects WHERE bucket = 'logs') \
             SELECT key, row_number() OVER (ORDER BY size DESC) AS rank FROM big ORDER BY rank LIMIT 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(texts(&rows, 0), vec!["k27", "k24", "k21"]);
    assert_eq!(rows[0].get::<_, i64>(1), 1);

    // Parameters, typed from the query, in a join.
    let rows = c
        .query(
            "SELECT o.key, b.owner FROM objects o JOIN buckets b ON b.name = o.bucket \
             WHERE o.bucket = $1 AND o.size >= $2 ORDER BY o.key",
            &[&"photos", &270i64],
        )
        .await
        .unwrap();
    assert_eq!(texts(&rows, 0), vec!["k28", "k29"]);
    assert_eq!(rows[0].get::<_, String>(1), "alice");

    // JSON in a join's filter, with Postgres operators.
    let row = c
        .query_one(
            "SELECT count(*) FROM objects o JOIN buckets b ON b.name = o.bucket \
             WHERE o.user_metadata->>'color' = 'blue' AND b.owner = 'bob'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 10);
    // `->` gives JSON, `->>` text, as in PostgreSQL.
    let row = c
        .query_one(
            "SELECT o.user_metadata->'color', o.user_metadata->>'color', o.user_metadata->'nope' \
             FROM objects o JOIN buckets b ON b.name = o.bucket WHERE o.key = 'k00'",
            &[],
        )
        .await
        .unwrap();
    // `->` is described as json (a driver decodes it), `->>` as text.
    assert_eq!(row.columns()[0].type_(), &tokio_postgres::types::Type::JSON);
    assert_eq!(
        row.get::<_, serde_json::Value>(0),
        serde_json::json!("blue")
    );
    assert_eq!(row.get::<_, String>(1), "blue");
    assert_eq!(row.get::<_, Option<serde_json::Value>>(2), None);

    // The same query again: a prepared statement runs on fresh data.
    let stmt = c
        .prepare("SELECT count(*) FROM objects o JOIN buckets b ON b.name = o.bucket")
        .await
        .unwrap();
    assert_eq!(c.query_one(&stmt, &[]).await.unwrap().get::<_, i64>(0), 30);
    c.execute(
        "INSERT INTO objects (bucket, key) VALUES ('empty', 'now-not')",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(c.query_one(&stmt, &[]).await.unwrap().get::<_, i64>(0), 31);
}

#[tokio::test]
async fn explain_shows_what_reaches_the_scan() {
    let server = Server::start();
    let c = server.connect().await;
    load(&c).await;
    let plan = |rows: Vec<tokio_postgres::SimpleQueryMessage>| {
        rows.into_iter()
            .filter_map(|m| match m {
                // One column, as PostgreSQL's EXPLAIN has.
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    assert_eq!(r.columns().len(), 1);
                    assert_eq!(r.columns()[0].name(), "QUERY PLAN");
                    Some(r.get(0).unwrap_or_default().to_string())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // An inner join found by key is bucketdb's planner's lookup join.
    let text = plan(
        c.simple_query(
            "EXPLAIN SELECT o.key FROM objects o JOIN buckets b ON b.name = o.bucket \
             WHERE o.bucket = 'photos' AND o.key LIKE 'k1%'",
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        text,
        "Lookup join: buckets found by key for each row of objects\n\
         Range seek on objects within 1 bucket(s): key LIKE prefix\n  \
         Filter: WHERE clause on every row found"
    );
    // An outer join is DataFusion's, with the key predicates in its scans.
    let text = plan(
        c.simple_query(
            "EXPLAIN SELECT o.key FROM objects o LEFT JOIN buckets b ON b.name = o.bucket \
             WHERE o.bucket = 'photos' AND o.key LIKE 'k1%'",
        )
        .await
        .unwrap(),
    );
    assert!(
        text.contains("KvScan: Range seek on objects within 1 bucket(s): key LIKE prefix"),
        "{text}"
    );
    assert!(text.contains("HashJoinExec"), "{text}");
    assert!(
        !text.contains("TableScan"),
        "the logical plan is shown: {text}"
    );
    // DataFusion carries `o.bucket = 'photos'` over the join to `b.name`.
    assert!(
        text.contains("KvScan: Point get on buckets: 1 name(s)"),
        "{text}"
    );

    // LIMIT reaches the scan when nothing filters above it.
    let text = plan(
        c.simple_query(
            "EXPLAIN SELECT s.key FROM (SELECT key FROM objects WHERE bucket = 'logs') s LIMIT 2",
        )
        .await
        .unwrap(),
    );
    assert!(
        text.contains("Prefix scan of objects in 1 bucket(s)"),
        "{text}"
    );
    assert!(text.contains("limit=2"), "{text}");
    let rows = c
        .query(
            "SELECT s.key FROM (SELECT key FROM objects WHERE bucket = 'logs') s LIMIT 2",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(texts(&rows, 0), vec!["k00", "k03"]);

    // ANALYZE runs the query: the scan reports the rows it examined and
    // the rows its pushed filters let through.
    let text = plan(
        c.simple_query(
            "EXPLAIN ANALYZE SELECT count(*) FROM (SELECT * FROM objects WHERE bucket = 'logs') s \
             WHERE s.key LIKE 'k0%' AND s.size > 20",
        )
        .await
        .unwrap(),
    );
    let scan = text
        .lines()
        .find(|l| l.contains("KvScan"))
        .unwrap_or_default();
    // k00, k03, k06, k09 are found by the key prefix; k00 (size 0) fails.
    assert!(scan.contains("rows_examined=4"), "{text}");
    assert!(scan.contains("output_rows=3"), "{text}");
}

#[tokio::test]
async fn errors_keep_their_sqlstate_and_the_session_goes_on() {
    let server = Server::start();
    let c = server.connect().await;
    load(&c).await;
    let cases = [
        (
            "SELECT nope FROM objects o JOIN buckets b ON b.name = o.bucket",
            "42703",
        ),
        (
            "SELECT * FROM objects o JOIN missing m ON m.x = o.bucket",
            "42P01",
        ),
        (
            "SELECT o.key FROM objects o JOIN buckets b ON b.name = o.bucket WHERE 1 / (o.size - o.size) > 0",
            "22012",
        ),
    ];
    for (sql, code) in cases {
        let e = c.query(sql, &[]).await.unwrap_err();
        assert_eq!(sqlstate(&e), code, "{sql}: {e}");
    }
    let row = c
        .query_one(
            "SELECT count(*) FROM objects o JOIN buckets b ON b.name = o.bucket",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 30);
}

#[tokio::test]
async fn a_long_query_stops_at_its_statement_timeout() {
    let server = Server::start();
    let c = server.connect().await;
    load(&c).await;
    c.batch_execute("SET statement_timeout = '200ms'")
        .await
        .unwrap();
    // 30^5 = 24.3 million joined rows, counted inside DataFusion.
    let started = std::time::Instant::now();
    let e = c
        .query_one(
            "SELECT count(*) FROM objects a, objects b, objects c, objects d, objects e \
             WHERE a.size + b.size + c.size + d.size + e.size >= 0",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    c.batch_execute("SET statement_timeout = 0").await.unwrap();
    let row = c
        .query_one("SELECT count(*) FROM objects", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 30);
}

/// Inside a transaction a DataFusion read sees the transaction's own
/// writes, and what it read is checked at COMMIT like any other read.
#[tokio::test]
async fn reads_in_a_transaction_see_its_writes_and_are_checked_at_commit() {
    let server = Server::start();
    let a = server.connect().await;
    let b = server.connect().await;
    load(&a).await;
    let count = "SELECT count(*) FROM objects o JOIN buckets b ON b.name = o.bucket WHERE o.bucket = 'logs'";

    a.batch_execute("BEGIN").await.unwrap();
    a.execute(
        "INSERT INTO objects (bucket, key) VALUES ('logs', 'mine')",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(a.query_one(count, &[]).await.unwrap().get::<_, i64>(0), 11);
    // Another session does not see it before COMMIT.
    assert_eq!(b.query_one(count, &[]).await.unwrap().get::<_, i64>(0), 10);
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(b.query_one(count, &[]).await.unwrap().get::<_, i64>(0), 11);

    // Write skew: `a` decides on a count another session then changes.
    a.batch_execute("BEGIN").await.unwrap();
    assert_eq!(a.query_one(count, &[]).await.unwrap().get::<_, i64>(0), 11);
    b.execute(
        "INSERT INTO objects (bucket, key) VALUES ('logs', 'theirs')",
        &[],
    )
    .await
    .unwrap();
    a.execute(
        "INSERT INTO objects (bucket, key) VALUES ('photos', 'decided')",
        &[],
    )
    .await
    .unwrap();
    let e = a.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(sqlstate(&e), "40001", "{e}");
    let row = b
        .query_one(
            "SELECT count(*) FROM objects WHERE bucket = 'photos' AND key = 'decided'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 0, "the failed COMMIT wrote nothing");
}

/// A prepared read keeps its optimized plan across executions: each one
/// binds its own values, sees the data as it is then, and calls what is
/// not immutable (`now()`) anew.
#[tokio::test]
async fn a_prepared_read_answers_each_execution_for_its_own_values() {
    let server = Server::start();
    let c = server.connect().await;
    load(&c).await;
    let point = c
        .prepare(
            "SELECT o.key, o.size, b.owner FROM objects o JOIN buckets b ON b.name = o.bucket \
             WHERE o.bucket = $1 AND o.key = 'k' || $2",
        )
        .await
        .unwrap();
    for (bucket, n, want) in [
        ("photos", "01", Some((10i64, "alice"))),
        ("logs", "03", Some((30, "bob"))),
        ("logs", "01", None),
        ("photos", "29", Some((290, "alice"))),
    ] {
        let rows = c.query(&point, &[&bucket, &n]).await.unwrap();
        let got = rows
            .first()
            .map(|r| (r.get::<_, i64>(1), r.get::<_, String>(2)));
        assert_eq!(rows.len(), usize::from(want.is_some()), "{bucket} k{n}");
        assert_eq!(got, want.map(|(s, o)| (s, o.to_string())), "{bucket} k{n}");
    }
    // The plan reads the data of each execution, not of its preparation.
    c.execute(
        "UPDATE objects SET size = 7 WHERE bucket = 'photos' AND key = 'k01'",
        &[],
    )
    .await
    .unwrap();
    let row = c.query_one(&point, &[&"photos", &"01"]).await.unwrap();
    assert_eq!(row.get::<_, i64>(1), 7);

    let listed = c
        .prepare(
            "SELECT s.key FROM (SELECT o.key FROM objects o JOIN buckets b ON b.name = o.bucket \
             WHERE o.bucket = 'logs' AND o.key IN ($1, $2)) s ORDER BY s.key LIMIT $3",
        )
        .await
        .unwrap();
    let keys = |rows: Vec<tokio_postgres::Row>| texts(&rows, 0);
    let rows = c.query(&listed, &[&"k03", &"k06", &2i64]).await.unwrap();
    assert_eq!(keys(rows), vec!["k03", "k06"]);
    let rows = c.query(&listed, &[&"k09", &"k06", &1i64]).await.unwrap();
    assert_eq!(keys(rows), vec!["k06"]);
    let none: Option<&str> = None;
    let rows = c.query(&listed, &[&none, &"k27", &5i64]).await.unwrap();
    assert_eq!(keys(rows), vec!["k27"]);

    let prefix = c
        .prepare(
            "SELECT count(*) FROM objects o JOIN buckets b ON b.name = o.bucket \
             WHERE o.key LIKE $1 AND o.size >= $2",
        )
        .await
        .unwrap();
    let count = |rows: Vec<tokio_postgres::Row>| rows[0].get::<_, i64>(0);
    assert_eq!(count(c.query(&prefix, &[&"k1%", &0i64]).await.unwrap()), 10);
    assert_eq!(
        count(c.query(&prefix, &[&"k2%", &250i64]).await.unwrap()),
        5
    );

    let clock = c
        .prepare(
            "SELECT now()::text, b.name FROM buckets b JOIN objects o ON o.bucket = b.name \
             WHERE o.key = $1",
        )
        .await
        .unwrap();
    let first: String = c.query_one(&clock, &[&"k00"]).await.unwrap().get(0);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second: String = c.query_one(&clock, &[&"k00"]).await.unwrap().get(0);
    assert_ne!(first, second, "now() was frozen into the prepared plan");
}
