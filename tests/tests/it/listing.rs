//! `list_objects(…)` with ListObjectsV2 semantics and `bucket_stats(…)`,
//! through a real server and tokio-postgres.

use bucketdb_tests::Server;
use tokio_postgres::Client;

/// Rows of one page: (key, is_prefix, next_continuation_token).
type Page = Vec<(String, bool, Option<String>)>;

async fn page(
    c: &Client,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Page {
    c.query(sql, params)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn keys(p: &Page) -> Vec<&str> {
    p.iter().map(|(k, _, _)| k.as_str()).collect()
}

#[tokio::test]
async fn list_objects_follows_list_objects_v2() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('photos');
         INSERT INTO objects (bucket, key, size) VALUES
           ('photos', '2023/a.jpg', 1), ('photos', '2023/b.jpg', 2),
           ('photos', '2024/jan/c.jpg', 3), ('photos', '2024/d.jpg', 4),
           ('photos', 'index.html', 5), ('photos', 'readme', 6),
           ('photos', 'z/→/e', 7);",
    )
    .await
    .unwrap();
    let q = "SELECT key, is_prefix, next_continuation_token FROM list_objects($1, $2, $3, $4, $5)";

    // Delimiter at the root: folders collapse into common prefixes.
    let p = page(&c, q, &[&"photos", &"", &"/", &None::<String>, &1000i64]).await;
    assert_eq!(keys(&p), ["2023/", "2024/", "index.html", "readme", "z/"]);
    assert_eq!(
        p.iter().map(|r| r.1).collect::<Vec<_>>(),
        [true, true, false, false, true]
    );
    assert!(
        p.iter().all(|r| r.2.is_none()),
        "a complete page has no token"
    );

    // A prefix and a delimiter one level down.
    let p = page(
        &c,
        q,
        &[&"photos", &"2024/", &"/", &None::<String>, &1000i64],
    )
    .await;
    assert_eq!(keys(&p), ["2024/d.jpg", "2024/jan/"]);

    // No delimiter: every key under the prefix.
    let p = page(
        &c,
        q,
        &[
            &"photos",
            &"2024/",
            &None::<String>,
            &None::<String>,
            &1000i64,
        ],
    )
    .await;
    assert_eq!(keys(&p), ["2024/d.jpg", "2024/jan/c.jpg"]);

    // start_after is exclusive.
    let p = page(
        &c,
        q,
        &[&"photos", &"", &None::<String>, &"2024/d.jpg", &2i64],
    )
    .await;
    assert_eq!(keys(&p), ["2024/jan/c.jpg", "index.html"]);

    // Paging with max_keys: a common prefix counts once; the token on the
    // last row resumes exactly where the page stopped, and the pages
    // together equal one full listing.
    let full = page(&c, q, &[&"photos", &"", &"/", &None::<String>, &1000i64]).await;
    let mut pages = vec![];
    let mut token: Option<String> = None;
    for _ in 0..10 {
        let p = page(
            &c,
            "SELECT key, is_prefix, next_continuation_token FROM list_objects('photos', delimiter => '/', max_keys => 2, continuation_token => $1)",
            &[&token],
        )
        .await;
        assert!(p.len() <= 2);
        token = p.last().and_then(|r| r.2.clone());
        pages.extend(p.into_iter().map(|(k, d, _)| (k, d)));
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        pages,
        full.into_iter().map(|(k, d, _)| (k, d)).collect::<Vec<_>>()
    );

    // Multibyte delimiter; ordinary SQL over the function's rows.
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM list_objects('photos', 'z/', '→') WHERE is_prefix",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let total: i64 = c
        .query_one(
            "SELECT sum(size) FROM list_objects('photos', prefix => '2023/')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 3);

    // Errors: unknown bucket, bad max_keys, bad token, unknown argument.
    for (sql, code) in [
        ("SELECT * FROM list_objects('nothere')", "42704"),
        (
            "SELECT * FROM list_objects('photos', max_keys => 0)",
            "22023",
        ),
        (
            "SELECT * FROM list_objects('photos', continuation_token => 'zz')",
            "22023",
        ),
        (
            "SELECT * FROM list_objects('photos', colour => 'red')",
            "42883",
        ),
        ("SELECT * FROM list_objects()", "42883"),
    ] {
        let e = c.query(sql, &[]).await.unwrap_err();
        assert_eq!(e.code().unwrap().code(), code, "{sql}");
    }
    // max_keys above 1000 is capped, not refused.
    let n = c
        .query(
            "SELECT * FROM list_objects('photos', max_keys => 5000)",
            &[],
        )
        .await
        .unwrap()
        .len();
    assert_eq!(n, 7);
}

#[tokio::test]
async fn bucket_stats_follow_every_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut server = Server::start_in(&dir, &[]);
    let c = server.connect().await;
    let stats = |b: &'static str| {
        let c = &c;
        async move {
            let r = c
                .query(
                    "SELECT object_count, total_size FROM bucket_stats($1)",
                    &[&b],
                )
                .await
                .unwrap();
            r.first().map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        }
    };
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('aaa'), ('bbb');
         INSERT INTO objects (bucket, key, size) VALUES ('aaa', 'x', 10), ('aaa', 'y', 20), ('bbb', 'x', 1);",
    )
    .await
    .unwrap();
    assert_eq!(stats("aaa").await, Some((2, 30)));
    c.batch_execute(
        "UPDATE objects SET size = 5 WHERE bucket = 'aaa' AND key = 'x';
         INSERT INTO objects (bucket, key, size) VALUES ('aaa', 'y', 100)
           ON CONFLICT (bucket, key) DO UPDATE SET size = EXCLUDED.size;
         UPDATE objects SET key = 'z' WHERE bucket = 'bbb' AND key = 'x';",
    )
    .await
    .unwrap();
    assert_eq!(stats("aaa").await, Some((2, 105)));
    assert_eq!(stats("bbb").await, Some((1, 1)));
    // Refused writes change nothing.
    assert!(c
        .execute(
            "INSERT INTO objects (bucket, key, size) VALUES ('aaa', 'x', 1)",
            &[]
        )
        .await
        .is_err());
    assert_eq!(stats("aaa").await, Some((2, 105)));
    c.batch_execute("DELETE FROM objects WHERE bucket = 'aaa' AND key = 'x'")
        .await
        .unwrap();
    assert_eq!(stats("aaa").await, Some((1, 100)));
    // Every bucket, and the stats agree with a scan.
    let all = c
        .query(
            "SELECT bucket, object_count FROM bucket_stats() ORDER BY bucket",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    for r in &all {
        let b: String = r.get(0);
        let scanned: i64 = c
            .query_one("SELECT count(*) FROM objects WHERE bucket = $1", &[&b])
            .await
            .unwrap()
            .get(0);
        assert_eq!(r.get::<_, i64>(1), scanned, "{b}");
    }
    // A dropped and re-created bucket starts from zero; unknown: no row.
    c.batch_execute(
        "DELETE FROM objects WHERE bucket = 'bbb'; DELETE FROM buckets WHERE name = 'bbb';
         INSERT INTO buckets (name) VALUES ('bbb');",
    )
    .await
    .unwrap();
    assert_eq!(stats("bbb").await, Some((0, 0)));
    assert_eq!(stats("ccc").await, None);
    // The counters survive a SIGKILL and restart (they are state).
    drop(c);
    server.kill();
    let server = Server::start_in(&dir, &[]);
    let c = server.connect().await;
    let r = c
        .query_one(
            "SELECT object_count, total_size FROM bucket_stats('aaa')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (1, 100));
}
