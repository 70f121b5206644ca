//! Bad input gets the right SQLSTATE, and the session and the server go on.

use std::io::Write;

use bucketdb_tests::{sqlstate, Server};

#[tokio::test]
async fn errors_carry_postgres_sqlstates_and_the_session_goes_on() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('full'); INSERT INTO objects (bucket, key) VALUES ('full', 'k')")
        .await
        .unwrap();

    let cases: &[(&str, &str)] = &[
        ("INSERT INTO buckets (name) VALUES ('full')", "23505"),
        (
            "INSERT INTO objects (bucket, key) VALUES ('nobucket', 'k')",
            "23503",
        ),
        ("DELETE FROM buckets WHERE name = 'full'", "23503"),
        ("INSERT INTO buckets (name) VALUES ('UPPER')", "23514"),
        ("INSERT INTO buckets (name) VALUES ('ab')", "23514"),
        (
            "INSERT INTO buckets (name, versioning) VALUES ('vvv', 'maybe')",
            "23514",
        ),
        (
            "INSERT INTO buckets (name, tags) VALUES ('json', '{not json')",
            "22P02",
        ),
        (
            "INSERT INTO objects (bucket, key) VALUES ('full', '')",
            "23514",
        ),
        ("SELEC 1", "42601"),
        ("SELECT * FROM nowhere", "42P01"),
        ("SELECT nope FROM buckets", "42703"),
        (
            "SELECT * FROM buckets b JOIN objects o ON o.bucket = b.nope",
            "42703",
        ),
        ("CREATE TABLE t (a int)", "0A000"),
        ("SELECT size FROM objects WHERE size = 'abc'", "22P02"),
        ("SET consistency = 'eventual'", "22023"),
        ("INSERT INTO buckets (name) VALUES (NULL)", "23502"),
        ("SELECT 1/0", "22012"),
    ];
    for (sql, code) in cases {
        let err = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&err), *code, "{sql}: {err:?}");
    }
    let long_key = "k".repeat(1025);
    let err = c
        .execute(
            "INSERT INTO objects (bucket, key) VALUES ('full', $1)",
            &[&long_key],
        )
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), "23514");

    // Nothing above changed the data, and the session still works.
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let n: i64 = c
        .query_one("SELECT count(*) FROM buckets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn garbage_on_the_port_does_not_take_the_server_down() {
    let mut server = Server::start();
    let payloads: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0xff; 64],
        vec![0, 0, 0, 8, 4, 210, 22, 47],
        (0..=255u8).collect(),
        vec![0, 0, 0, 1],
        vec![0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0],
    ];
    for p in &payloads {
        if let Ok(mut s) = std::net::TcpStream::connect(server.sql_addr) {
            let _ = s.write_all(p);
            let _ = s.flush();
        }
    }
    // A half-open connection that never finishes its startup.
    let _idle = std::net::TcpStream::connect(server.sql_addr).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(server.is_running());
    let c = server.connect().await;
    let row = c.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
}
