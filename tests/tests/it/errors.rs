//! Bad input gets the right SQLSTATE, and the session and the server go on.

use std::io::Write;

use bucketdb_tests::{sqlstate, Server};

#[tokio::test]
async fn a_bad_parameter_gets_its_sqlstate_and_the_session_goes_on() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('full'); INSERT INTO objects (bucket, key) VALUES ('full', 'k')")
        .await
        .unwrap();

    // The table of statements and their SQLSTATEs is tests/slt/errors.slt;
    // here, a bad value that arrives as a bound parameter.
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
