//! Parameters of every type drivers send, in binary (tokio-postgres
//! prepared statements) and text (declared and untyped) formats.

use bucketdb_tests::{sqlstate, Server};
use chrono::{TimeZone, Utc};
use tokio_postgres::types::Type;

#[tokio::test]
async fn parameters_in_binary_and_text_formats() {
    let server = Server::start();
    let c = server.connect().await;
    c.execute("INSERT INTO buckets (name) VALUES ($1)", &[&"params"])
        .await
        .unwrap();

    // Binary: int2, int4, int8, text, varchar, timestamptz declared by the client.
    let stmt = c
        .prepare_typed(
            "INSERT INTO objects (bucket, key, size, last_modified) VALUES ($1, $2, $3, $4)",
            &[Type::VARCHAR, Type::TEXT, Type::INT2, Type::TIMESTAMPTZ],
        )
        .await
        .unwrap();
    let ts = Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap();
    c.execute(&stmt, &[&"params", &"small", &7i16, &ts])
        .await
        .unwrap();
    let stmt = c
        .prepare_typed(
            "INSERT INTO objects (bucket, key, size) VALUES ($1, $2, $3)",
            &[Type::TEXT, Type::TEXT, Type::INT4],
        )
        .await
        .unwrap();
    c.execute(&stmt, &[&"params", &"medium", &70_000i32])
        .await
        .unwrap();
    // Server-inferred types (int8 for size).
    c.execute(
        "INSERT INTO objects (bucket, key, size) VALUES ($1, $2, $3)",
        &[&"params", &"large", &(1i64 << 40)],
    )
    .await
    .unwrap();

    let row = c
        .query_one(
            "SELECT size, last_modified FROM objects WHERE bucket = $1 AND key = $2",
            &[&"params", &"small"],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 7);
    assert_eq!(row.get::<_, chrono::DateTime<Utc>>(1), ts);

    // Text format with declared types, and untyped (unknown) parameters.
    let rows = c
        .query_typed(
            "SELECT key FROM objects WHERE bucket = $1 AND size >= $2 ORDER BY size",
            &[(&"params", Type::TEXT), (&"70000", Type::UNKNOWN)],
        )
        .await
        .unwrap();
    let keys: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(keys, vec!["medium", "large"]);

    let n = c
        .query_typed(
            "UPDATE objects SET size = $1 WHERE bucket = $2 AND key = $3",
            &[
                (&"123", Type::UNKNOWN),
                (&"params", Type::UNKNOWN),
                (&"small", Type::UNKNOWN),
            ],
        )
        .await
        .unwrap();
    assert!(n.is_empty());
    let row = c
        .query_one(
            "SELECT size FROM objects WHERE bucket = 'params' AND key = 'small'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 123);

    // A parameter that does not parse as its type is a clean error.
    let err = c
        .query_typed(
            "SELECT key FROM objects WHERE size = $1",
            &[(&"twelve", Type::UNKNOWN)],
        )
        .await
        .unwrap_err();
    assert_eq!(bucketdb_tests::sqlstate(&err), "22P02");

    // LIMIT takes a parameter too.
    let rows = c
        .query(
            "SELECT key FROM objects WHERE bucket = $1 LIMIT $2",
            &[&"params", &2i64],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn session_settings_and_startup_options() {
    let server = Server::start();
    let c = server.connect().await;
    let v: String = c.query_one("SHOW consistency", &[]).await.unwrap().get(0);
    assert_eq!(v, "linearizable");
    c.batch_execute("SET consistency = 'local'").await.unwrap();
    let v: String = c.query_one("SHOW consistency", &[]).await.unwrap().get(0);
    assert_eq!(v, "local");
    c.batch_execute("SET consistency TO linearizable")
        .await
        .unwrap();
    c.batch_execute("SET consistency = 'local'; RESET consistency")
        .await
        .unwrap();
    let v: String = c.query_one("SHOW consistency", &[]).await.unwrap().get(0);
    assert_eq!(v, "linearizable");

    let local = server.connect_with("options='-c consistency=local'").await;
    let v: String = local
        .query_one("SHOW consistency", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "local");

    let v: String = c
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert!(v.split('.').next().unwrap().parse::<u32>().is_ok(), "{v}");
    let v: String = c.query_one("SELECT version()", &[]).await.unwrap().get(0);
    assert!(v.starts_with("PostgreSQL "), "{v}");
    let v: String = c
        .query_one("SELECT current_setting('application_name')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "");
    let v: String = c
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "bucketdb");

    // set_config: as SET, returning the new value; is_local outside a
    // transaction changes nothing (as in PostgreSQL).
    let v: String = c
        .query_one(
            "SELECT set_config('application_name', $1, false)",
            &[&"via-set-config"],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "via-set-config");
    let v: String = c
        .query_one("SELECT current_setting('application_name')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "via-set-config");
    let v: String = c
        .query_one("SELECT set_config('consistency', 'local', true)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "local");
    let v: String = c.query_one("SHOW consistency", &[]).await.unwrap().get(0);
    assert_eq!(v, "linearizable");
    let e = c
        .query_one("SELECT set_config('no_such_setting', 'x', false)", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42704");
    // Inside a larger query it refuses to run for any row, and over no
    // rows (pg_dump's probe for a setting bucketdb lacks) it never does.
    let e = c
        .query(
            "SELECT set_config(name, 'x', false) FROM pg_settings WHERE name = 'application_name'",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "0A000");
    let none = c
        .query(
            "SELECT set_config(name, 'x', false) FROM pg_settings WHERE name = 'no_such_setting'",
            &[],
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    let v: String = c
        .query_one(
            "SELECT pg_catalog.set_config('application_name', 'dump', false)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "dump");
}

/// The extended protocol's row limit: Execute with max_rows sends that many
/// rows and suspends the portal; the next Execute goes on where it stopped.
#[tokio::test]
async fn portal_row_limit_suspends_and_resumes() {
    let server = Server::start();
    let mut c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('pages')")
        .await
        .unwrap();
    let values: Vec<String> = (1..=25)
        .map(|n| format!("('pages', 'k{n:02}', {n})"))
        .collect();
    c.execute(
        &format!(
            "INSERT INTO objects (bucket, key, size) VALUES {}",
            values.join(", ")
        ),
        &[],
    )
    .await
    .unwrap();
    let txn = c.transaction().await.unwrap();
    let portal = txn
        .bind(
            "SELECT key FROM objects WHERE bucket = $1 ORDER BY key",
            &[&"pages"],
        )
        .await
        .unwrap();
    let mut seen: Vec<String> = vec![];
    let mut fetches = 0;
    loop {
        let rows = txn.query_portal(&portal, 10).await.unwrap();
        fetches += 1;
        assert!(rows.len() <= 10, "at most max_rows per Execute");
        seen.extend(rows.iter().map(|r| r.get::<_, String>(0)));
        if rows.len() < 10 || fetches > 5 {
            break;
        }
    }
    txn.commit().await.unwrap();
    assert_eq!(fetches, 3, "25 rows in pages of 10");
    let mut expected = seen.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(seen.len(), 25);
    assert_eq!(seen, expected, "in order, none repeated");
}

/// `DEALLOCATE ALL` drops every prepared statement of the connection
/// (pgjdbc and others send it after a ROLLBACK); a name never prepared is
/// 26000.
#[tokio::test]
async fn deallocate_drops_prepared_statements() {
    let server = Server::start();
    let c = server.connect().await;
    let one = c.prepare("SELECT 1").await.unwrap();
    let two = c.prepare("SELECT 2").await.unwrap();
    c.query(&one, &[]).await.unwrap();
    let e = c
        .batch_execute("DEALLOCATE nothing_here")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "26000");
    c.query(&two, &[]).await.unwrap();
    c.batch_execute("DEALLOCATE ALL").await.unwrap();
    for gone in [&one, &two] {
        let e = c.query(gone, &[]).await.unwrap_err();
        assert_eq!(sqlstate(&e), "26000", "{e:?}");
    }
    // The connection goes on: new statements prepare and run.
    let three = c.prepare("SELECT 3").await.unwrap();
    assert_eq!(c.query_one(&three, &[]).await.unwrap().get::<_, i32>(0), 3);
}
