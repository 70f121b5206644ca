//! `COPY … FROM STDIN`: psql's `\copy` (simple protocol) and tokio-postgres
//! `copy_in` (extended protocol), batches, and bad rows with line numbers.

use bucketdb_tests::{sqlstate, Server};
use futures::SinkExt;

async fn copy_in(
    c: &tokio_postgres::Client,
    sql: &str,
    data: String,
) -> Result<u64, tokio_postgres::Error> {
    let sink = c.copy_in::<_, bytes::Bytes>(sql).await?;
    futures::pin_mut!(sink);
    // Sent in small chunks so that records straddle CopyData messages.
    for chunk in data
        .as_bytes()
        .chunks(if data.len() > 1 << 20 { 1 << 16 } else { 777 })
    {
        sink.send(bytes::Bytes::copy_from_slice(chunk)).await?;
    }
    sink.finish().await
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn copy_from_stdin_loads_in_batches_and_reports_bad_lines() {
    let server = Server::start();
    let c = server.connect().await;
    c.batch_execute("INSERT INTO buckets (name) VALUES ('bulk')")
        .await
        .unwrap();

    // 2,500 rows of CSV with a header, quoted fields and NULLs: three batches.
    let mut csv = String::from("bucket,key,size,content_type\n");
    for i in 0..2500 {
        let ct = if i % 2 == 0 {
            "\"text/plain; charset=\"\"utf-8\"\"\""
        } else {
            ""
        };
        csv.push_str(&format!("bulk,\"dir,{i:05}\",{i},{ct}\n"));
    }
    let n = copy_in(
        &c,
        "COPY objects (bucket, key, size, content_type) FROM STDIN (FORMAT csv, HEADER)",
        csv,
    )
    .await
    .unwrap();
    assert_eq!(n, 2500);
    let row = c
        .query_one(
            "SELECT count(*), sum(size), count(content_type) FROM objects WHERE bucket = 'bulk'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 2500);
    assert_eq!(row.get::<_, i64>(1), (0..2500).sum::<i64>());
    assert_eq!(
        row.get::<_, i64>(2),
        1250,
        "empty unquoted CSV fields are NULL"
    );
    let ct: String = c
        .query_one(
            "SELECT content_type FROM objects WHERE bucket = 'bulk' AND key = 'dir,00000'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ct, "text/plain; charset=\"utf-8\"");
    // Defaults fill the columns not given.
    let class: String = c
        .query_one(
            "SELECT storage_class FROM objects WHERE bucket = 'bulk' AND key = 'dir,00001'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(class, "STANDARD");

    // A bad value fails the COPY with its line; the session goes on.
    let mut bad = String::new();
    for i in 0..10 {
        let size = if i == 6 {
            "lots".to_string()
        } else {
            i.to_string()
        };
        bad.push_str(&format!("bulk\tbad/{i}\t{size}\n"));
    }
    let e = copy_in(&c, "COPY objects (bucket, key, size) FROM STDIN", bad)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22P02");
    assert!(message(&e).contains("line 7"), "{e:?}");
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects WHERE key LIKE 'bad/%'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the failing batch wrote nothing");

    // A duplicate key, and a wrong column count, also name their line.
    let e = copy_in(
        &c,
        "COPY objects (bucket, key) FROM STDIN (FORMAT csv)",
        "bulk,fresh\nbulk,dir,00003\n".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "22P04");
    assert!(message(&e).contains("line 2"), "{e:?}");
    let e = copy_in(
        &c,
        "COPY objects (bucket, key) FROM STDIN (FORMAT csv)",
        "bulk,fresh\n\"bulk\",\"dir,00003\"\n".into(),
    )
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
    assert!(message(&e).contains("line 2"), "{e:?}");
    // A CSV quote that never closes cannot grow the server's buffer
    // without bound: past 16 MiB the COPY fails.
    let endless = format!("bulk,\"{}", "x".repeat(17 << 20));
    let e = copy_in(
        &c,
        "COPY objects (bucket, key) FROM STDIN (FORMAT csv)",
        endless,
    )
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&e), "22P04");
    assert!(message(&e).contains("record longer than"), "{e:?}");
    let n: i64 = c
        .query_one("SELECT count(*) FROM objects WHERE bucket = 'bulk'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2500);

    // COPY TO STDOUT: a query in CSV with a header, a table in text format;
    // what comes out loads back in.
    let out = copy_out(
        &c,
        "COPY (SELECT key, size, content_type FROM objects WHERE bucket = 'bulk' ORDER BY key LIMIT 2) TO STDOUT (FORMAT csv, HEADER)",
    )
    .await;
    assert_eq!(
        out,
        "key,size,content_type\n\"dir,00000\",0,\"text/plain; charset=\"\"utf-8\"\"\"\n\"dir,00001\",1,\n"
    );
    let text = copy_out(&c, "COPY buckets (name, owner) TO STDOUT").await;
    assert_eq!(text, "bulk\t\\N\n");
    c.batch_execute("INSERT INTO buckets (name) VALUES ('bulk2')")
        .await
        .unwrap();
    let dump = copy_out(
        &c,
        "COPY (SELECT 'bulk2', key, size, content_type FROM objects WHERE bucket = 'bulk') TO STDOUT",
    )
    .await;
    let n = copy_in(
        &c,
        "COPY objects (bucket, key, size, content_type) FROM STDIN",
        dump,
    )
    .await
    .unwrap();
    assert_eq!(n, 2500);
    let same: i64 = c
        .query_one(
            "SELECT count(*) FROM objects WHERE bucket = 'bulk2' AND content_type = 'text/plain; charset=\"utf-8\"'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(same, 1250);
}

async fn copy_out(c: &tokio_postgres::Client, sql: &str) -> String {
    use futures::StreamExt;
    let stream = c.copy_out(sql).await.unwrap();
    futures::pin_mut!(stream);
    let mut out = vec![];
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn psql_backslash_copy_loads_a_file() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("objects.csv");
    let mut csv = String::from("key,size\n");
    for i in 0..1200 {
        csv.push_str(&format!("f{i:04},{i}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let copy = format!(
        "\\copy objects (key, size) FROM '{}' WITH (FORMAT csv, HEADER)",
        file.display()
    );
    // `bucket` has no default: the file fills key and size, the COPY fails
    // on line 2 with a not-null error; then the bucket column is given.
    let (ok, _, err) = server.psql(&[
        "-c",
        "INSERT INTO buckets (name) VALUES ('files')",
        "-c",
        &copy,
    ]);
    assert!(!ok);
    assert!(err.contains("line 2"), "{err}");
    let csv2: String = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("bucket,{l}\n")
            } else {
                format!("files,{l}\n")
            }
        })
        .collect();
    std::fs::write(&file, csv2).unwrap();
    let copy = format!(
        "\\copy objects (bucket, key, size) FROM '{}' WITH (FORMAT csv, HEADER)",
        file.display()
    );
    let (ok, out, err) = server.psql(&[
        "-c",
        &copy,
        "-At",
        "-c",
        "SELECT count(*), sum(size) FROM objects",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("COPY 1200"), "{out}");
    assert!(
        out.contains(&format!("1200|{}", (0..1200).sum::<i64>())),
        "{out}"
    );
}
