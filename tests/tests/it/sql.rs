//! The SQL surface of issue #2 through tokio-postgres against a real server.

use bucketdb_tests::{sqlstate, Server};

#[tokio::test]
async fn buckets_and_objects_round_trip() {
    let server = Server::start();
    let c = server.connect().await;

    let n = c
        .execute(
            "INSERT INTO buckets (name, owner) VALUES ('photos', 'alice'), ('logs', 'bob')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let rows = c
        .query(
            "SELECT name, owner, region, versioning, created_at FROM buckets ORDER BY name",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, String>(0), "logs");
    assert_eq!(rows[1].get::<_, String>(1), "alice");
    assert_eq!(rows[1].get::<_, String>(2), "default");
    assert_eq!(rows[1].get::<_, String>(3), "disabled");
    let created: chrono::DateTime<chrono::Utc> = rows[0].get(4);
    assert!((chrono::Utc::now() - created).num_seconds().abs() < 60);

    for i in 0..20 {
        c.execute(
            "INSERT INTO objects (bucket, key, size, etag, user_metadata) VALUES ($1, $2, $3, $4, $5)",
            &[&"photos", &format!("2024/{i:02}.jpg"), &(i as i64 * 100), &format!("etag{i}"), &serde_json::json!({"a": 1})],
        )
        .await
        .unwrap();
    }
    c.execute(
        "INSERT INTO objects (bucket, key) VALUES ('photos', 'readme.txt')",
        &[],
    )
    .await
    .unwrap();

    let row = c
        .query_one("SELECT version_id, storage_class, size FROM objects WHERE bucket = 'photos' AND key = 'readme.txt'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "null");
    assert_eq!(row.get::<_, String>(1), "STANDARD");
    assert_eq!(row.get::<_, i64>(2), 0);

    // Prefix scan, ordering, limit and offset.
    let rows = c
        .query(
            "SELECT key FROM objects WHERE bucket = 'photos' AND key LIKE '2024/%' ORDER BY key DESC LIMIT 3 OFFSET 1",
            &[],
        )
        .await
        .unwrap();
    let keys: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(keys, vec!["2024/18.jpg", "2024/17.jpg", "2024/16.jpg"]);

    // Aggregates.
    let row = c
        .query_one(
            "SELECT count(*), sum(size), max(key) FROM objects WHERE bucket = $1",
            &[&"photos"],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 21);
    assert_eq!(row.get::<_, i64>(1), (0..20).map(|i| i * 100).sum::<i64>());
    assert_eq!(row.get::<_, String>(2), "readme.txt");

    // Key ranges and IN lists, and a filter on a non-key column.
    let n = c
        .query(
            "SELECT key FROM objects WHERE bucket = 'photos' AND key >= '2024/05' AND key < '2024/08'",
            &[],
        )
        .await
        .unwrap()
        .len();
    assert_eq!(n, 3);
    let n = c
        .query(
            "SELECT key FROM objects WHERE bucket = 'photos' AND key IN ('2024/01.jpg', '2024/02.jpg', 'nope')",
            &[],
        )
        .await
        .unwrap()
        .len();
    assert_eq!(n, 2);
    let n = c
        .query("SELECT key FROM objects WHERE size > 1500", &[])
        .await
        .unwrap()
        .len();
    assert_eq!(n, 4);
}

#[tokio::test]
async fn upserts_updates_deletes_and_returning() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('bkt')")
        .await
        .unwrap();
    c.execute(
        "INSERT INTO objects (bucket, key, size, etag) VALUES ('bkt', 'a', 1, 'e1')",
        &[],
    )
    .await
    .unwrap();

    // DO NOTHING: the existing row stays.
    let n = c
        .execute(
            "INSERT INTO objects (bucket, key, size) VALUES ('bkt', 'a', 99) ON CONFLICT (bucket, key) DO NOTHING",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 0);

    // DO UPDATE with EXCLUDED and RETURNING.
    let rows = c
        .query(
            "INSERT INTO objects (bucket, key, size, etag) VALUES ('bkt', 'a', 5, 'e2'), ('bkt', 'b', 7, 'e3') \
             ON CONFLICT (bucket, key) DO UPDATE SET size = objects.size + EXCLUDED.size, etag = EXCLUDED.etag \
             RETURNING key, size, etag",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![("a".into(), 6, "e2".into()), ("b".into(), 7, "e3".into())]
    );

    // Conditional update (If-Match): only with the current etag.
    let stale = c
        .execute(
            "UPDATE objects SET size = 0 WHERE bucket = 'bkt' AND key = 'a' AND etag = 'e1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(stale, 0);
    let rows = c
        .query(
            "UPDATE objects SET size = size * 2 WHERE bucket = $1 AND key = $2 AND etag = $3 RETURNING size",
            &[&"bkt", &"a", &"e2"],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 12);

    let rows = c
        .query(
            "DELETE FROM objects WHERE bucket = 'bkt' AND size < 10 RETURNING key",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "b");
    let n = c
        .execute("DELETE FROM objects WHERE bucket = 'bkt'", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n = c
        .execute("DELETE FROM buckets WHERE name = 'bkt'", &[])
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        c.query("SELECT * FROM buckets", &[]).await.unwrap().len(),
        0
    );
}

#[tokio::test]
async fn command_tags_through_simple_protocol() {
    let server = Server::start();
    let c = server.connect().await;
    let msgs = c
        .simple_query(
            "INSERT INTO buckets (name) VALUES ('aaa'), ('bbb'), ('ccc'); \
             UPDATE buckets SET owner = 'x' WHERE name <> 'aaa'; \
             SELECT name FROM buckets; \
             DELETE FROM buckets WHERE owner = 'x'",
        )
        .await
        .unwrap();
    let counts: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(counts, vec![3, 2, 3, 2]);
}

#[tokio::test]
async fn concurrent_writers_on_one_key_all_succeed_or_conflict_cleanly() {
    let server = Server::start();
    let setup = server.connect().await;
    setup
        .batch_execute("INSERT INTO buckets (name) VALUES ('ctr'); INSERT INTO objects (bucket, key, size) VALUES ('ctr', 'n', 0)")
        .await
        .unwrap();
    let mut tasks = vec![];
    for _ in 0..8 {
        let c = server.connect().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                c.execute(
                    "UPDATE objects SET size = size + 1 WHERE bucket = 'ctr' AND key = 'n'",
                    &[],
                )
                .await
                .map_err(|e| sqlstate(&e))?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let row = setup
        .query_one(
            "SELECT size FROM objects WHERE bucket = 'ctr' AND key = 'n'",
            &[],
        )
        .await
        .unwrap();
    // Every increment was applied exactly once: no lost updates.
    assert_eq!(row.get::<_, i64>(0), 80);
}

#[tokio::test]
async fn updating_a_key_moves_the_row() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('mvb'); \
         INSERT INTO objects (bucket, key, size) VALUES ('mvb', 'a', 1), ('mvb', 'b', 2), ('mvb', 'c', 3)",
    )
    .await
    .unwrap();
    let n = c
        .execute(
            "UPDATE objects SET key = 'z' WHERE bucket = 'mvb' AND key = 'a'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let err = c
        .execute(
            "UPDATE objects SET key = 'c' WHERE bucket = 'mvb' AND key = 'b'",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23505");
    // Moving every row by one is fine: no two rows end on one key.
    c.execute(
        "UPDATE objects SET key = key || '1' WHERE bucket = 'mvb'",
        &[],
    )
    .await
    .unwrap();
    let keys: Vec<(String, i64)> = c
        .query(
            "SELECT key, size FROM objects WHERE bucket = 'mvb' ORDER BY key",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        keys,
        vec![("b1".into(), 2), ("c1".into(), 3), ("z1".into(), 1)]
    );
    // A bucket's objects cannot move to a bucket that does not exist.
    let err = c
        .execute(
            "UPDATE objects SET bucket = 'nowhere' WHERE bucket = 'mvb'",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23503");
}

#[tokio::test]
async fn group_by_having_and_order_by_aggregates() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('aaa'), ('bbb'), ('ccc'); \
         INSERT INTO objects (bucket, key, size, content_type) VALUES \
           ('aaa', '1', 10, 'image/png'), ('aaa', '2', 20, 'image/png'), ('aaa', '3', 5, 'text/plain'), \
           ('bbb', '1', 100, 'image/png'), ('ccc', '1', 1, NULL)",
    )
    .await
    .unwrap();
    let rows = c
        .query(
            "SELECT bucket, count(*) AS n, sum(size) FROM objects GROUP BY bucket HAVING count(*) >= 1 ORDER BY sum(size) DESC",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("bbb".into(), 1, 100),
            ("aaa".into(), 3, 35),
            ("ccc".into(), 1, 1)
        ]
    );
    // Positional GROUP BY, an expression key, HAVING that filters groups.
    let rows = c
        .query(
            "SELECT upper(content_type) AS ct, max(size) FROM objects WHERE bucket = $1 GROUP BY 1 HAVING max(size) > 6 ORDER BY ct",
            &[&"aaa"],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![("IMAGE/PNG".into(), 20)]);
    // Without GROUP BY an aggregate over no rows is one row; with it, none.
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'none'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    let rows = c
        .query(
            "SELECT bucket, count(*) FROM objects WHERE bucket = 'none' GROUP BY bucket",
            &[],
        )
        .await
        .unwrap();
    assert!(rows.is_empty());
    // A column neither grouped nor aggregated is refused, as in PostgreSQL.
    let err = c
        .query("SELECT bucket, key FROM objects GROUP BY bucket", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42803");
}

#[tokio::test]
async fn explain_shows_the_access_path() {
    let server = Server::start();
    let c = server.connect().await;
    let plan = |sql: String| {
        let c = &c;
        async move {
            c.query(&sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    let p = plan("EXPLAIN SELECT * FROM objects WHERE bucket = 'b' AND key = 'k'".into()).await;
    assert!(p.contains("Point get on objects"), "{p}");
    let p = plan(
        "EXPLAIN SELECT key FROM objects WHERE bucket = 'b' AND key LIKE 'photos/%' LIMIT 10"
            .into(),
    )
    .await;
    assert!(
        p.contains("Range seek on objects") && p.contains("LIKE prefix"),
        "{p}"
    );
    assert!(p.contains("stops the scan early"), "{p}");
    let p = plan("EXPLAIN SELECT count(*) FROM objects WHERE size > 10".into()).await;
    assert!(
        p.contains("Full scan of objects") && p.contains("Aggregate"),
        "{p}"
    );
    let p = plan("EXPLAIN DELETE FROM buckets WHERE name IN ('a', 'b')".into()).await;
    assert!(p.contains("Point get on buckets: 2 name(s)"), "{p}");
}

/// `->` and `->>` on the JSON columns (user metadata, tags), as in
/// PostgreSQL, in filters and results, with parameters.
#[tokio::test]
async fn json_access_to_user_metadata_and_tags() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute(
        r#"INSERT INTO buckets (name) VALUES ('meta');
           INSERT INTO objects (bucket, key, user_metadata, tags) VALUES
             ('meta', 'a', '{"owner": "ann", "n": 1}', '{"list": ["x", "y"]}'),
             ('meta', 'b', '{"owner": "bob", "n": 5}', NULL),
             ('meta', 'c', '{"owner": null}', '{"list": []}');"#,
    )
    .await
    .unwrap();
    let keys =
        |rows: Vec<tokio_postgres::Row>| -> Vec<String> { rows.iter().map(|r| r.get(0)).collect() };
    let owned = c
        .query(
            "SELECT key FROM objects WHERE bucket = 'meta' AND user_metadata::jsonb ->> 'owner' = $1",
            &[&"bob"],
        )
        .await
        .unwrap();
    assert_eq!(keys(owned), ["b"]);
    let big = c
        .query(
            "SELECT key FROM objects WHERE bucket = 'meta' AND (user_metadata ->> 'n')::bigint > 2",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(keys(big), ["b"]);
    let rows = c
        .query(
            "SELECT key, user_metadata -> 'owner', tags -> 'list' ->> 1 FROM objects WHERE bucket = 'meta' ORDER BY key",
            &[],
        )
        .await
        .unwrap();
    // `->` yields json (the driver parses it), `->>` text.
    let got: Vec<(String, Option<serde_json::Value>, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [
            ("a".into(), Some(serde_json::json!("ann")), Some("y".into())),
            ("b".into(), Some(serde_json::json!("bob")), None),
            ("c".into(), Some(serde_json::Value::Null), None),
        ]
    );
    let e = c.query("SELECT 'not json' ->> 'k'", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "22P02");
}

/// A scan's rows are sent as they are read (in chunks, through a bounded
/// channel): every row arrives once and in key order, LIMIT/OFFSET hold,
/// an error met after rows were sent still reaches the client with its
/// SQLSTATE, and the connection goes on.
#[tokio::test]
async fn streamed_scans_are_complete_ordered_and_fail_cleanly() {
    const ROWS: i64 = 3000;
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('big')")
        .await
        .unwrap();
    for start in (1..=ROWS).step_by(500) {
        let values: Vec<String> = (start..start + 500)
            .map(|n| format!("('big', 'k{n:05}', {n})"))
            .collect();
        c.batch_execute(&format!(
            "INSERT INTO objects (bucket, key, size) VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap();
    }
    for protocol in ["extended", "simple"] {
        let keys: Vec<String> = if protocol == "extended" {
            c.query("SELECT key FROM objects WHERE bucket = $1", &[&"big"])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        } else {
            c.simple_query("SELECT key FROM objects WHERE bucket = 'big'")
                .await
                .unwrap()
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some(r.get(0).unwrap().to_string())
                    }
                    _ => None,
                })
                .collect()
        };
        let expected: Vec<String> = (1..=ROWS).map(|n| format!("k{n:05}")).collect();
        assert_eq!(keys, expected, "{protocol}");
    }
    let page: Vec<i64> = c
        .query(
            "SELECT size FROM objects WHERE bucket = 'big' AND size % 2 = 0 LIMIT 3 OFFSET 1000",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(page, [2002, 2004, 2006]);
    // Division by zero at row 2500, after several chunks went out.
    let e = c
        .query(
            "SELECT 10 / (size - 2500) FROM objects WHERE bucket = 'big'",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22012");
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'big'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, ROWS);
}
