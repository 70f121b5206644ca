//! psql, the tool operators use, against a real server.

use bucketdb_tests::Server;

#[test]
fn psql_creates_reads_and_reports_errors() {
    let server = Server::start();
    let (ok, out, err) = server.psql(&[
        "-c",
        "INSERT INTO buckets (name, owner) VALUES ('media', 'ops')",
        "-c",
        "INSERT INTO objects (bucket, key, size, content_type) VALUES ('media', 'a/b.png', 42, 'image/png')",
        "-c",
        "SELECT bucket, key, size, content_type FROM objects",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("INSERT 0 1"), "{out}");
    assert!(out.contains("a/b.png"), "{out}");
    assert!(out.contains("image/png"), "{out}");
    assert!(out.contains("(1 row)"), "{out}");

    // Unaligned, tuples-only output is what scripts parse.
    let (ok, out, _) = server.psql(&[
        "-At",
        "-c",
        "SELECT key, size FROM objects WHERE bucket = 'media'",
    ]);
    assert!(ok);
    assert_eq!(out.trim(), "a/b.png|42");

    // An error: psql prints it with the server's message and fails.
    let (ok, _, err) = server.psql(&["-c", "INSERT INTO buckets (name) VALUES ('media')"]);
    assert!(!ok);
    assert!(
        err.contains("duplicate key value violates unique constraint"),
        "{err}"
    );

    // The timestamp text format is PostgreSQL's.
    let (ok, out, _) = server.psql(&["-At", "-c", "SELECT created_at FROM buckets"]);
    assert!(ok);
    let ts = out.trim();
    assert!(ts.ends_with("+00") && ts.len() >= 22, "{ts}");
}
