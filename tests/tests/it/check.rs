//! `cluster_check()` compares the replicas' states at one log index: it
//! agrees on a healthy cluster (the cluster and fault tests end with it)
//! and names a replica whose rows changed behind Raft's back.

use bucketdb_sql::{Output, Session, Value};
use bucketdb_storage::{keys, Datum, KvBatch, KvOp};
use bucketdb_tests::inproc::{sql, InProcCluster};

async fn rows(out: Output) -> Vec<Vec<Value>> {
    match out {
        Output::Rows { rows, .. } => rows,
        Output::RowStream {
            mut first,
            mut rest,
            ..
        } => {
            while let Some(chunk) = rest.recv().await {
                first.extend(chunk.unwrap());
            }
            first
        }
        other => panic!("not rows: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_check_names_the_replica_that_diverged() {
    let mut c = InProcCluster::start(3).await;
    let leader = c.leader().await;
    let engine = c.node(leader).engine.clone();
    let mut s = Session::new("postgres", "bucketdb");
    for name in ["one", "two", "three"] {
        sql(
            &engine,
            &mut s,
            &format!("INSERT INTO buckets (name) VALUES ('{name}')"),
            vec![],
        )
        .await
        .unwrap();
    }
    c.assert_consistent().await;
    let check = "SELECT node_id, agrees, rows FROM cluster_check() ORDER BY node_id";
    let healthy = rows(sql(&engine, &mut s, check, vec![]).await.unwrap()).await;
    assert_eq!(healthy.len(), 3);
    assert!(
        healthy.iter().all(|r| r[1] == Value::Bool(true)),
        "{healthy:?}"
    );

    // A row written into one follower's store, not through the log.
    let f = (leader + 1) % 3;
    let stray = KvBatch {
        ops: vec![KvOp::Put {
            key: keys::bucket("stray"),
            columns: vec![Datum::Text("stray".into())],
        }],
        ..Default::default()
    };
    c.node(f).node.store().apply_batch(&stray, 1, &[]).unwrap();
    let found = rows(sql(&engine, &mut s, check, vec![]).await.unwrap()).await;
    for r in &found {
        let diverged = r[0] == Value::Int(f as i64 + 1);
        assert_eq!(r[1], Value::Bool(!diverged), "{found:?}");
    }
    // Only a superuser may run it.
    sql(&engine, &mut s, "CREATE ROLE app LOGIN", vec![])
        .await
        .unwrap();
    let mut app = Session::new("app", "bucketdb");
    let e = sql(&engine, &mut app, check, vec![]).await.unwrap_err();
    assert_eq!(e.code(), "42501", "{e}");
    c.shutdown().await;
}
