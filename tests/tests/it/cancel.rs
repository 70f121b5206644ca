//! Stopping long statements: statement_timeout and the protocol's
//! CancelRequest both end a scan with 57014, and the session goes on.

use std::time::{Duration, Instant};

use bucketdb_tests::{sqlstate, Server};

const ROWS: usize = 40_000;
const LONG_SCAN: &str = "SELECT count(*) FROM objects WHERE etag LIKE '%no-such-etag%'";

async fn load(c: &tokio_postgres::Client) {
    c.batch_execute("INSERT INTO buckets (name) VALUES ('scan')")
        .await
        .unwrap();
    for start in (0..ROWS).step_by(1000) {
        let values: Vec<String> = (start..start + 1000)
            .map(|i| format!("('scan', 'k{i:06}', {i}, 'etag{i}')"))
            .collect();
        c.batch_execute(&format!(
            "INSERT INTO objects (bucket, key, size, etag) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_and_cancel_stop_a_scan() {
    let server = Server::start();
    let c = server.connect().await;
    load(&c).await;

    // statement_timeout: a full scan of 40k rows takes far longer than 1 ms.
    c.batch_execute("SET statement_timeout = '1ms'")
        .await
        .unwrap();
    let err = c.query_one(LONG_SCAN, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    // A point lookup is well within it... or not: only check that the
    // session works once the limit is lifted.
    c.batch_execute("SET statement_timeout = 0").await.unwrap();
    let n: i64 = c.query_one(LONG_SCAN, &[]).await.unwrap().get(0);
    assert_eq!(n, 0);

    // CancelRequest: cancel a running scan; bounded attempts, since the
    // cancel may arrive before or after the scan runs.
    let token = c.cancel_token();
    let mut canceled = false;
    let started = Instant::now();
    for attempt in 0..20 {
        assert!(started.elapsed() < Duration::from_secs(60));
        let query = c.query_one(LONG_SCAN, &[]);
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(5 + attempt)).await;
            token.cancel_query(tokio_postgres::NoTls).await.unwrap();
        };
        let (result, ()) = tokio::join!(query, cancel);
        match result {
            Err(e) => {
                assert_eq!(sqlstate(&e), "57014", "{e:?}");
                canceled = true;
                break;
            }
            Ok(row) => assert_eq!(row.get::<_, i64>(0), 0),
        }
    }
    assert!(canceled, "no scan was canceled in 20 attempts");
    // A cancel does not leak into the next statement.
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, ROWS as i64);

    // A write stopped by the timeout before it was proposed changes nothing.
    c.batch_execute("SET statement_timeout = '1ms'")
        .await
        .unwrap();
    let err = c
        .execute("UPDATE objects SET size = -1 WHERE etag LIKE '%0%'", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "57014");
    c.batch_execute("RESET statement_timeout").await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects WHERE size < 0", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}
