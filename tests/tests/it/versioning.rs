//! Object versioning through SQL: S3's rules for enabled and suspended
//! buckets, `object_versions`, permanent deletes that promote the previous
//! version, `list_object_versions(…)`, and version ids that every replica
//! of a 3-node cluster agrees on.

use std::time::{Duration, Instant};

use bucketdb_tests::cluster::Cluster;
use bucketdb_tests::{sqlstate, Server};
use tokio_postgres::Client;

/// (version_id, is_latest, is_delete_marker, size) of one object, newest
/// first.
async fn versions(c: &Client, key: &str) -> Vec<(String, bool, bool, Option<i64>)> {
    c.query(
        "SELECT version_id, is_latest, is_delete_marker, size FROM object_versions
         WHERE bucket = 'vbk' AND key = $1",
        &[&key],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

async fn current_size(c: &Client, key: &str) -> Option<i64> {
    c.query_opt(
        "SELECT size FROM objects WHERE bucket = 'vbk' AND key = $1",
        &[&key],
    )
    .await
    .unwrap()
    .map(|r| r.get(0))
}

#[tokio::test]
async fn versioned_bucket_keeps_versions_and_delete_markers() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('vbk');
         INSERT INTO objects (bucket, key, size) VALUES ('vbk', 'doc', 1);
         UPDATE buckets SET versioning = 'enabled' WHERE name = 'vbk';",
    )
    .await
    .unwrap();
    // The object from before versioning is the `null` version.
    assert_eq!(
        versions(&c, "doc").await,
        [("null".into(), true, false, Some(1))]
    );

    // An overwrite keeps the old version; an UPDATE is an overwrite too.
    c.batch_execute(
        "INSERT INTO objects (bucket, key, size) VALUES ('vbk', 'doc', 2)
           ON CONFLICT (bucket, key) DO UPDATE SET size = EXCLUDED.size;
         UPDATE objects SET size = 3 WHERE bucket = 'vbk' AND key = 'doc';",
    )
    .await
    .unwrap();
    let v = versions(&c, "doc").await;
    assert_eq!(v.len(), 3, "{v:?}");
    assert_eq!((v[0].1, v[0].3), (true, Some(3)));
    assert_eq!((v[1].1, v[1].3), (false, Some(2)));
    assert_eq!(v[2], ("null".into(), false, false, Some(1)));
    assert!(v[0].0 < v[1].0, "version ids sort newest first: {v:?}");
    let current: String = c
        .query_one(
            "SELECT version_id FROM objects WHERE bucket = 'vbk' AND key = 'doc'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, v[0].0, "objects shows the latest version");

    // DELETE FROM objects writes a delete marker: the object is gone from
    // objects but every version stays.
    assert_eq!(
        c.execute(
            "DELETE FROM objects WHERE bucket = 'vbk' AND key = 'doc'",
            &[]
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(current_size(&c, "doc").await, None);
    let v = versions(&c, "doc").await;
    assert_eq!(v.len(), 4);
    assert_eq!((v[0].1, v[0].2, v[0].3), (true, true, None), "{v:?}");
    let listed: i64 = c
        .query_one("SELECT count(*) FROM list_objects('vbk')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        listed, 0,
        "list_objects skips a key whose latest is a delete marker"
    );

    // Removing the delete marker for good brings the object back.
    let marker = v[0].0.clone();
    assert_eq!(
        c.execute(
            "DELETE FROM object_versions WHERE bucket = 'vbk' AND key = 'doc' AND version_id = $1",
            &[&marker],
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(current_size(&c, "doc").await, Some(3));
    // Removing the current version promotes the previous one.
    let latest = versions(&c, "doc").await[0].0.clone();
    c.execute(
        "DELETE FROM object_versions WHERE bucket = 'vbk' AND key = 'doc' AND version_id = $1",
        &[&latest],
    )
    .await
    .unwrap();
    assert_eq!(current_size(&c, "doc").await, Some(2));
    assert_eq!(versions(&c, "doc").await.len(), 2);

    // Suspended: new writes are the `null` version, which replaces the
    // previous `null` version; older versions stay.
    c.batch_execute(
        "UPDATE buckets SET versioning = 'suspended' WHERE name = 'vbk';
         UPDATE objects SET size = 4 WHERE bucket = 'vbk' AND key = 'doc';",
    )
    .await
    .unwrap();
    let v = versions(&c, "doc").await;
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[0], ("null".into(), true, false, Some(4)));
    assert_eq!(v[1].3, Some(2));

    // Rules and errors.
    for (sql, code) in [
        (
            "UPDATE buckets SET versioning = 'disabled' WHERE name = 'vbk'",
            "23514",
        ),
        (
            "INSERT INTO objects (bucket, key, version_id) VALUES ('vbk', 'x', 'mine')",
            "428C9",
        ),
        (
            "UPDATE objects SET version_id = 'mine' WHERE bucket = 'vbk'",
            "428C9",
        ),
        (
            "INSERT INTO object_versions (bucket, key) VALUES ('vbk', 'x')",
            "42809",
        ),
        (
            "UPDATE object_versions SET size = 1 WHERE bucket = 'vbk'",
            "42809",
        ),
        ("DELETE FROM buckets WHERE name = 'vbk'", "23503"),
    ] {
        let e = c.execute(sql, &[]).await.unwrap_err();
        assert_eq!(sqlstate(&e), code, "{sql}: {e:?}");
    }
    // Emptying the bucket means removing every version.
    c.batch_execute(
        "DELETE FROM object_versions WHERE bucket = 'vbk';
         DELETE FROM buckets WHERE name = 'vbk';",
    )
    .await
    .unwrap();
    let left: i64 = c
        .query_one("SELECT count(*) FROM buckets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[tokio::test]
async fn list_object_versions_pages_and_rolls_up_prefixes() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name, versioning) VALUES ('vbk', 'enabled')")
        .await
        .unwrap();
    // a: 3 versions, dir/x and dir/y: 1 each, b: a version and a marker.
    for (key, size) in [
        ("a", 1i64),
        ("a", 2),
        ("a", 3),
        ("dir/x", 1),
        ("dir/y", 1),
        ("b", 5),
    ] {
        c.execute(
            "INSERT INTO objects (bucket, key, size) VALUES ('vbk', $1, $2)
             ON CONFLICT (bucket, key) DO UPDATE SET size = EXCLUDED.size",
            &[&key, &size],
        )
        .await
        .unwrap();
    }
    c.execute(
        "DELETE FROM objects WHERE bucket = 'vbk' AND key = 'b'",
        &[],
    )
    .await
    .unwrap();

    let all: Vec<(String, Option<String>, bool)> = c
        .query(
            "SELECT key, version_id, is_prefix FROM list_object_versions('vbk', delimiter => '/')",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let keys: Vec<(&str, bool)> = all.iter().map(|r| (r.0.as_str(), r.2)).collect();
    assert_eq!(
        keys,
        [
            ("a", false),
            ("a", false),
            ("a", false),
            ("b", false),
            ("b", false),
            ("dir/", true)
        ]
    );
    // Pages of two resume where the markers say, even inside one key.
    let mut seen = vec![];
    let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
    for _ in 0..10 {
        let rows = c
            .query(
                "SELECT key, version_id, is_prefix, next_key_marker, next_version_id_marker
                 FROM list_object_versions('vbk', delimiter => '/', key_marker => $1,
                                           version_id_marker => $2, max_keys => 2)",
                &[&km, &vm],
            )
            .await
            .unwrap();
        for r in &rows {
            seen.push((r.get::<_, String>(0), r.get::<_, Option<String>>(1)));
        }
        let last = rows.last().unwrap();
        km = last.get(3);
        vm = last.get(4);
        if km.is_none() {
            break;
        }
    }
    let expected: Vec<(String, Option<String>)> =
        all.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    assert_eq!(seen, expected);

    let e = c
        .query("SELECT * FROM list_object_versions('nobucket')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42704");
}

/// Version ids come from the log, so every replica stores the same ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_agree_on_version_ids() {
    let cluster = Cluster::start(3, &[]);
    let c = cluster.server(0).connect().await;
    c.batch_execute(
        "INSERT INTO buckets (name, versioning) VALUES ('vbk', 'enabled');
         INSERT INTO objects (bucket, key, size) VALUES ('vbk', 'k', 1);
         UPDATE objects SET size = 2 WHERE bucket = 'vbk' AND key = 'k';
         DELETE FROM objects WHERE bucket = 'vbk' AND key = 'k';
         INSERT INTO objects (bucket, key, size) VALUES ('vbk', 'k', 3);",
    )
    .await
    .unwrap();
    let expected = versions(&c, "k").await;
    assert_eq!(expected.len(), 4, "{expected:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 1..3 {
        let node = cluster.server(i).connect().await;
        // Local reads, so each node answers from its own replica.
        node.batch_execute("SET consistency = 'local'")
            .await
            .unwrap();
        loop {
            let got = versions(&node, "k").await;
            if got == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {i}: {got:?} vs {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
