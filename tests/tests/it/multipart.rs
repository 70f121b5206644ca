//! Multipart uploads as plain SQL: start, upload parts, list them, abort or
//! complete (one transaction), with the parent rules enforced on apply.

use bucketdb_tests::{sqlstate, Server};

#[tokio::test]
async fn multipart_upload_lifecycle() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute(
        "INSERT INTO buckets (name) VALUES ('media');
         INSERT INTO multipart_uploads (bucket, key, upload_id, owner) VALUES ('media', 'movie.mp4', 'up-1', 'ann');",
    )
    .await
    .unwrap();
    let put_part = "INSERT INTO multipart_parts (bucket, upload_id, part_number, size, etag) VALUES ('media', $1, $2, $3, $4)
                    ON CONFLICT (bucket, upload_id, part_number) DO UPDATE SET size = EXCLUDED.size, etag = EXCLUDED.etag";
    // Parts out of order, one uploaded twice (the last one counts).
    for (n, size) in [(3i64, 30i64), (1, 10), (2, 999), (2, 20), (10000, 1)] {
        c.execute(put_part, &[&"up-1", &n, &size, &format!("e{n}-{size}")])
            .await
            .unwrap();
    }
    let parts: Vec<(i64, i64)> = c
        .query(
            "SELECT part_number, size FROM multipart_parts WHERE bucket = 'media' AND upload_id = 'up-1'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        parts,
        [(1, 10), (2, 20), (3, 30), (10000, 1)],
        "numeric order"
    );
    let plan: Vec<String> = c
        .query(
            "EXPLAIN SELECT * FROM multipart_parts WHERE bucket = 'media' AND upload_id = 'up-1'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        plan.iter()
            .any(|l| l.contains("Prefix scan of multipart_parts")),
        "{plan:?}"
    );

    // Rules: part numbers 1..10000, parts need their upload, uploads their
    // bucket, and a bucket or upload with children cannot go.
    for (sql, code) in [
        ("INSERT INTO multipart_parts (bucket, upload_id, part_number) VALUES ('media', 'up-1', 0)", "23514"),
        ("INSERT INTO multipart_parts (bucket, upload_id, part_number) VALUES ('media', 'up-1', 10001)", "23514"),
        ("INSERT INTO multipart_parts (bucket, upload_id, part_number) VALUES ('media', 'nope', 1)", "23503"),
        ("INSERT INTO multipart_uploads (bucket, key, upload_id) VALUES ('nobucket', 'k', 'u')", "23503"),
        ("INSERT INTO multipart_uploads (bucket, key, upload_id) VALUES ('media', 'other', 'up-1')", "23505"),
        ("DELETE FROM multipart_uploads WHERE bucket = 'media' AND upload_id = 'up-1'", "23503"),
        ("DELETE FROM buckets WHERE name = 'media'", "23503"),
    ] {
        let e = c.execute(sql, &[]).await.unwrap_err();
        assert_eq!(sqlstate(&e), code, "{sql}");
    }

    // Complete: one transaction creates the object from the parts and
    // removes the upload and its parts.
    c.batch_execute(
        "BEGIN;
         INSERT INTO objects (bucket, key, size, etag)
           SELECT 'media', 'movie.mp4', sum(size), 'multipart-4' FROM multipart_parts
           WHERE bucket = 'media' AND upload_id = 'up-1';
         DELETE FROM multipart_parts WHERE bucket = 'media' AND upload_id = 'up-1';
         DELETE FROM multipart_uploads WHERE bucket = 'media' AND upload_id = 'up-1';
         COMMIT;",
    )
    .await
    .unwrap();
    let size: i64 = c
        .query_one(
            "SELECT size FROM objects WHERE bucket = 'media' AND key = 'movie.mp4'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(size, 61);
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM multipart_parts WHERE bucket = 'media'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);

    // A part uploaded concurrently with the completion makes COMMIT fail
    // (the completion read the parts' range), so no part is lost silently.
    c.batch_execute(
        "INSERT INTO multipart_uploads (bucket, key, upload_id) VALUES ('media', 'b.bin', 'up-2');
         INSERT INTO multipart_parts (bucket, upload_id, part_number, size) VALUES ('media', 'up-2', 1, 5);",
    )
    .await
    .unwrap();
    let other = server.connect().await;
    c.batch_execute(
        "BEGIN;
         INSERT INTO objects (bucket, key, size)
           SELECT 'media', 'b.bin', sum(size) FROM multipart_parts WHERE bucket = 'media' AND upload_id = 'up-2';
         DELETE FROM multipart_parts WHERE bucket = 'media' AND upload_id = 'up-2';
         DELETE FROM multipart_uploads WHERE bucket = 'media' AND upload_id = 'up-2';",
    )
    .await
    .unwrap();
    other
        .execute(
            "INSERT INTO multipart_parts (bucket, upload_id, part_number, size) VALUES ('media', 'up-2', 2, 7)",
            &[],
        )
        .await
        .unwrap();
    let e = c.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(sqlstate(&e), "40001");
    c.batch_execute("ROLLBACK").await.unwrap();
    let parts: i64 = c
        .query_one(
            "SELECT count(*) FROM multipart_parts WHERE bucket = 'media' AND upload_id = 'up-2'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(parts, 2);
    // Abort: parts, then the upload, in one statement batch.
    c.batch_execute(
        "BEGIN;
         DELETE FROM multipart_parts WHERE bucket = 'media' AND upload_id = 'up-2';
         DELETE FROM multipart_uploads WHERE bucket = 'media' AND upload_id = 'up-2';
         COMMIT;",
    )
    .await
    .unwrap();
    let uploads: i64 = c
        .query_one("SELECT count(*) FROM multipart_uploads", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(uploads, 0);
}
