//! Explicit transactions through real servers: own writes visible inside,
//! nothing outside until COMMIT, one snapshot for every read, lost updates,
//! write skew and phantoms refused at COMMIT with 40001, the failed state,
//! and the same guarantees across nodes of a 3-node cluster.

use bucketdb_tests::cluster::Cluster;
use bucketdb_tests::{sqlstate, Server};
use tokio_postgres::Client;

async fn size_of(c: &Client, key: &str) -> i64 {
    c.query_one(
        "SELECT size FROM objects WHERE bucket = 'txn' AND key = $1",
        &[&key],
    )
    .await
    .unwrap()
    .get(0)
}

async fn setup(c: &Client) {
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('txn');
         INSERT INTO objects (bucket, key, size) VALUES ('txn', 'x', 10), ('txn', 'oncall/alice', 1), ('txn', 'oncall/bob', 1);",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn transactions_commit_roll_back_and_read_one_snapshot() {
    let server = Server::start();
    let a = server.connect().await;
    let b = server.connect().await;
    setup(&a).await;

    // Own writes are visible inside, invisible outside until COMMIT.
    a.batch_execute("BEGIN; INSERT INTO objects (bucket, key, size) VALUES ('txn', 'new', 1); UPDATE objects SET size = 11 WHERE bucket = 'txn' AND key = 'x'")
        .await
        .unwrap();
    assert_eq!(size_of(&a, "x").await, 11);
    let n: i64 = a
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'txn'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4, "the scan merges the transaction's insert");
    assert_eq!(size_of(&b, "x").await, 10);
    assert!(b
        .query_opt(
            "SELECT 1 FROM objects WHERE bucket = 'txn' AND key = 'new'",
            &[]
        )
        .await
        .unwrap()
        .is_none());
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(size_of(&b, "x").await, 11);
    assert_eq!(size_of(&b, "new").await, 1);

    // ROLLBACK leaves nothing behind; DELETE inside hides the row inside.
    a.batch_execute("BEGIN; DELETE FROM objects WHERE bucket = 'txn' AND key = 'new'")
        .await
        .unwrap();
    assert!(a
        .query_opt(
            "SELECT 1 FROM objects WHERE bucket = 'txn' AND key = 'new'",
            &[]
        )
        .await
        .unwrap()
        .is_none());
    a.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(size_of(&a, "new").await, 1);

    // One snapshot: a change committed meanwhile is not seen, even by a
    // read-only transaction, which then commits fine.
    a.batch_execute("BEGIN").await.unwrap();
    assert_eq!(size_of(&a, "x").await, 11);
    b.execute(
        "UPDATE objects SET size = 99 WHERE bucket = 'txn' AND key = 'x'",
        &[],
    )
    .await
    .unwrap();
    assert_eq!(size_of(&a, "x").await, 11);
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(size_of(&a, "x").await, 99);

    // A failed statement fails the transaction until ROLLBACK; COMMIT of a
    // failed transaction rolls back.
    a.batch_execute("BEGIN; UPDATE objects SET size = 1 WHERE bucket = 'txn' AND key = 'x'")
        .await
        .unwrap();
    let e = a
        .batch_execute("SELECT nosuchcolumn FROM objects")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42703");
    let e = a.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02");
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(
        size_of(&a, "x").await,
        99,
        "the failed transaction wrote nothing"
    );

    // So does a statement that fails to parse through the extended
    // protocol (a Parse message).
    a.batch_execute("BEGIN").await.unwrap();
    let e = a.prepare("SELEC 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
    let e = a.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02");
    a.batch_execute("ROLLBACK").await.unwrap();

    // The driver's transaction API, with a nested transaction (a
    // savepoint) that fails and is rolled back alone: the outer one goes
    // on and commits its own write.
    let mut a = a;
    let mut t = a.transaction().await.unwrap();
    t.execute(
        "UPDATE objects SET size = size + 1 WHERE bucket = 'txn' AND key = 'x'",
        &[],
    )
    .await
    .unwrap();
    {
        let nested = t.transaction().await.unwrap();
        nested
            .execute(
                "UPDATE objects SET size = 1000 WHERE bucket = 'txn' AND key = 'x'",
                &[],
            )
            .await
            .unwrap();
        let e = nested.execute("SELEC 1", &[]).await.unwrap_err();
        assert_eq!(sqlstate(&e), "42601");
        nested.rollback().await.unwrap();
    }
    let row = t
        .query_one(
            "SELECT size FROM objects WHERE bucket = 'txn' AND key = 'x'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 100, "back to the savepoint");
    t.commit().await.unwrap();
    assert_eq!(size_of(&b, "x").await, 100);
}

#[tokio::test]
async fn lost_updates_write_skew_and_phantoms_fail_at_commit() {
    let server = Server::start();
    let t1 = server.connect().await;
    let t2 = server.connect().await;
    setup(&t1).await;

    // Lost update: both read x and write x + 1; the second COMMIT fails.
    for t in [&t1, &t2] {
        t.batch_execute("BEGIN").await.unwrap();
        let x = size_of(t, "x").await;
        t.execute(
            "UPDATE objects SET size = $1 WHERE bucket = 'txn' AND key = 'x'",
            &[&(x + 1)],
        )
        .await
        .unwrap();
    }
    t1.batch_execute("COMMIT").await.unwrap();
    let e = t2.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(sqlstate(&e), "40001");
    t2.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(size_of(&t2, "x").await, 11, "exactly one increment");

    // Write skew: each checks that two are on call, then takes one off.
    let on_call =
        "SELECT count(*) FROM objects WHERE bucket = 'txn' AND key LIKE 'oncall/%' AND size = 1";
    for (t, who) in [(&t1, "oncall/alice"), (&t2, "oncall/bob")] {
        t.batch_execute("BEGIN").await.unwrap();
        let n: i64 = t.query_one(on_call, &[]).await.unwrap().get(0);
        assert_eq!(n, 2);
        t.execute(
            "UPDATE objects SET size = 0 WHERE bucket = 'txn' AND key = $1",
            &[&who],
        )
        .await
        .unwrap();
    }
    t1.batch_execute("COMMIT").await.unwrap();
    let e = t2.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(sqlstate(&e), "40001");
    let n: i64 = t2.query_one(on_call, &[]).await.unwrap().get(0);
    assert_eq!(n, 1, "someone stays on call");

    // Phantom: a row inserted into a range the transaction scanned.
    t1.batch_execute("BEGIN").await.unwrap();
    let before: i64 = t1
        .query_one(
            "SELECT count(*) FROM objects WHERE bucket = 'txn' AND key LIKE 'logs/%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    t1.execute(
        "INSERT INTO objects (bucket, key, size) VALUES ('txn', 'summary', $1)",
        &[&before],
    )
    .await
    .unwrap();
    t2.execute(
        "INSERT INTO objects (bucket, key) VALUES ('txn', 'logs/1')",
        &[],
    )
    .await
    .unwrap();
    let e = t1.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(sqlstate(&e), "40001");
    assert!(t2
        .query_opt(
            "SELECT 1 FROM objects WHERE bucket = 'txn' AND key = 'summary'",
            &[]
        )
        .await
        .unwrap()
        .is_none());
    // A rejected COMMIT ends the transaction: the session goes on.
    t1.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(size_of(&t1, "x").await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_on_different_nodes_cannot_lose_updates() {
    let c = Cluster::start(3, &[]);
    let clients = [
        c.server(0).connect().await,
        c.server(1).connect().await,
        c.server(2).connect().await,
    ];
    setup(&clients[0]).await;
    // Every node opens a transaction that reads x and writes x + 1; one
    // commits, the others fail with 40001.
    for t in &clients {
        t.batch_execute("BEGIN").await.unwrap();
        let x = size_of(t, "x").await;
        assert_eq!(x, 10);
        t.execute(
            "UPDATE objects SET size = $1 WHERE bucket = 'txn' AND key = 'x'",
            &[&(x + 1)],
        )
        .await
        .unwrap();
    }
    let mut committed = 0;
    for t in &clients {
        match t.batch_execute("COMMIT").await {
            Ok(()) => committed += 1,
            Err(e) => {
                assert_eq!(sqlstate(&e), "40001");
                t.batch_execute("ROLLBACK").await.unwrap();
            }
        }
    }
    assert_eq!(committed, 1);
    for t in &clients {
        assert_eq!(size_of(t, "x").await, 11);
    }
    // A transaction through a follower commits a multi-row batch atomically.
    clients[1]
        .batch_execute(
            "BEGIN;
             INSERT INTO objects (bucket, key, size) VALUES ('txn', 'part/1', 5), ('txn', 'part/2', 6);
             DELETE FROM objects WHERE bucket = 'txn' AND key = 'oncall/bob';
             COMMIT;",
        )
        .await
        .unwrap();
    let n: i64 = clients[2]
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'txn'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
}

#[tokio::test]
async fn insert_select_copies_rows_in_autocommit_and_in_transactions() {
    let server = Server::start();
    let c = server.connect().await;
    setup(&c).await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('backup')")
        .await
        .unwrap();
    let n = c
        .execute(
            "INSERT INTO objects (bucket, key, size) SELECT 'backup', key, size * 2 FROM objects WHERE bucket = $1 AND key LIKE 'oncall/%'",
            &[&"txn"],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    let rows = c
        .query(
            "SELECT key, size FROM objects WHERE bucket = 'backup' ORDER BY key",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        [
            ("oncall/alice".to_string(), 2),
            ("oncall/bob".to_string(), 2)
        ]
    );
    // Running it again collides on the key: 23505, nothing written.
    let e = c
        .execute(
            "INSERT INTO objects (bucket, key) SELECT 'backup', key FROM objects WHERE bucket = 'txn'",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
    // In a transaction the query sees the transaction's own writes, and
    // ON CONFLICT DO NOTHING skips the existing keys.
    c.batch_execute(
        "BEGIN;
         INSERT INTO objects (bucket, key, size) VALUES ('txn', 'late', 3);
         INSERT INTO objects (bucket, key, size) SELECT 'backup', key, size FROM objects WHERE bucket = 'txn' ON CONFLICT DO NOTHING;
         COMMIT;",
    )
    .await
    .unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'backup'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4, "alice, bob, x and late");
    // Column count mismatch is a clear error.
    let e = c
        .execute(
            "INSERT INTO objects (bucket, key) SELECT 'backup', key, size FROM objects",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
}
