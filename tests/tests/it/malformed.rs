//! Malformed statements and protocol garbage after startup: every one gets
//! an error (never XX000 from a panic), and the server keeps serving with
//! its data intact.

use std::io::{Read, Write};
use std::time::Duration;

use bucketdb_tests::{sqlstate, Server};

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "INSERT INTO",
    "UPDATE",
    "DELETE FROM",
    "buckets",
    "objects",
    "WHERE",
    "VALUES",
    "(",
    ")",
    ",",
    "'x'",
    "''",
    "'",
    "1",
    "-9223372036854775808",
    "99999999999999999999",
    "$1",
    "NULL",
    "=",
    "<>",
    "LIKE",
    "'%'",
    "ORDER BY",
    "LIMIT",
    "-1",
    "key",
    "bucket",
    "name",
    "size",
    "*",
    "count(*)",
    "sum(key)",
    "::bigint",
    "::timestamptz",
    "SET",
    "consistency",
    "ON CONFLICT",
    "DO UPDATE SET",
    "DO NOTHING",
    "RETURNING",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    ";",
    "é",
    "🙂",
    "/*",
    "--",
    "\\",
    "E'\\x'",
    "1e400",
    "now()",
    "version(",
];

#[tokio::test]
async fn random_statements_get_errors_not_crashes() {
    let mut server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('keep'); INSERT INTO objects (bucket, key, size) VALUES ('keep', 'k', 1)")
        .await
        .unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..500 {
        let n = 1 + rng.next() % 12;
        let sql: Vec<&str> = (0..n).map(|_| rng.pick(FRAGMENTS)).collect();
        let sql = sql.join(" ");
        if sql.contains("DELETE") || sql.contains("UPDATE") || sql.contains("INSERT") {
            // Writes may legitimately succeed; keep the check on reads and errors.
            continue;
        }
        match c.simple_query(&sql).await {
            Ok(_) => {}
            Err(e) => {
                let code = sqlstate(&e);
                assert_ne!(code, "XX000", "{sql:?}: {e:?}");
                assert!(!code.starts_with("not a server error"), "{sql:?}: {e:?}");
            }
        }
    }
    assert!(server.is_running());
    let row = c
        .query_one(
            "SELECT size FROM objects WHERE bucket = 'keep' AND key = 'k'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
}

/// A startup message for user `postgres`, protocol 3.0.
fn startup() -> Vec<u8> {
    let mut body = vec![0, 3, 0, 0];
    body.extend_from_slice(b"user\0postgres\0database\0bucketdb\0\0");
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend(body);
    msg
}

#[test]
fn garbage_messages_after_startup() {
    let mut server = Server::start();
    let garbage: Vec<Vec<u8>> = vec![
        // Unknown message type.
        vec![b'!', 0, 0, 0, 4],
        // A Query whose length runs past the end.
        vec![b'Q', 0, 0, 0, 200, b'S', b'E'],
        // A Parse with a negative parameter count.
        [
            vec![b'P', 0, 0, 0, 12, 0],
            b"x\0".to_vec(),
            vec![0xff, 0xff],
        ]
        .concat(),
        // Bind to a statement that does not exist.
        [
            vec![b'B', 0, 0, 0, 14, 0],
            b"nope\0".to_vec(),
            vec![0, 0, 0, 0, 0, 0],
        ]
        .concat(),
        // A huge declared length.
        vec![b'Q', 0x7f, 0xff, 0xff, 0xff],
    ];
    for g in &garbage {
        let mut s = std::net::TcpStream::connect(server.sql_addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(&startup()).unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(g);
        let _ = s.read(&mut buf);
    }
    assert!(server.is_running());
    let (ok, out, err) = server.psql(&["-At", "-c", "SELECT 40 + 2"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "42");
}
