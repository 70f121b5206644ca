//! pg_dump and pg_restore of PostgreSQL's client package against real
//! servers: a data-only dump, plain (loaded with psql) and custom format
//! (loaded with pg_restore), makes a fresh bucketdb hold the same rows.

use std::path::Path;
use std::process::{Command, Output};

use bucketdb_tests::Server;

/// Rows that exercise the COPY text form: a tab, quotes, a backslash, a
/// newline, non-ASCII, JSON and NULLs; a multipart upload with its parts.
const DATA: &[&str] = &[
    "INSERT INTO buckets (name, owner, tags) VALUES ('photos', 'alice', '{\"team\": \"a\"}'), ('docs', NULL, NULL)",
    "INSERT INTO objects (bucket, key, size, content_type, user_metadata) VALUES \
     ('photos', 'a/1.jpg', 10, 'image/jpeg', '{\"w\": 640, \"h\": [1, 2]}'), \
     ('photos', E'tab\\there \"q\" back\\\\slash', 7, NULL, NULL), \
     ('docs', E'line\\nbreak', 0, 'text/plain', NULL), \
     ('docs', 'ünïcødé/ß', 123456789012, NULL, '{}')",
    "INSERT INTO multipart_uploads (bucket, key, upload_id, owner) VALUES ('photos', 'big.bin', 'upload-1', 'alice')",
    "INSERT INTO multipart_parts (bucket, upload_id, part_number, size, etag) VALUES \
     ('photos', 'upload-1', 1, 5242880, 'e1'), ('photos', 'upload-1', 2, 17, 'e2')",
];

/// Every table's rows, in key order, as psql prints them unaligned.
const TABLES: &[&str] = &[
    "SELECT * FROM buckets ORDER BY name",
    "SELECT * FROM objects ORDER BY bucket, key",
    "SELECT * FROM object_versions ORDER BY bucket, key, version_id",
    "SELECT * FROM multipart_uploads ORDER BY bucket, upload_id",
    "SELECT * FROM multipart_parts ORDER BY bucket, upload_id, part_number",
];

fn contents(server: &Server) -> String {
    let mut args = vec!["-At"];
    for q in TABLES {
        args.extend(["-c", q]);
    }
    let (ok, out, err) = server.psql(&args);
    assert!(ok, "{err}");
    out
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the PostgreSQL client tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `pg_dump` of `server`'s data into `file`, with `format`.
fn dump(server: &Server, format: &str, file: &Path) {
    let mut cmd = Command::new("pg_dump");
    server.client_env(&mut cmd);
    run(cmd
        .args(["--data-only", "--exclude-table-data=object_versions"])
        .arg(format!("--format={format}"))
        .arg("--file")
        .arg(file)
        .arg("--dbname")
        .arg(server.conninfo()));
}

#[test]
fn a_data_only_dump_loads_into_a_fresh_node_plain_and_custom() {
    let origin = Server::start();
    for statement in DATA {
        let (ok, _, err) = origin.psql(&["-c", statement]);
        assert!(ok, "{statement}: {err}");
    }
    let expected = contents(&origin);
    for row in [
        "photos|alice|",
        "ünïcødé/ß|null|123456789012",
        "upload-1|2|17|e2",
    ] {
        assert!(expected.contains(row), "{row}: {expected}");
    }
    let dir = tempfile::tempdir().unwrap();

    // Plain: an SQL script of COPY statements, run by psql.
    let plain = dir.path().join("dump.sql");
    dump(&origin, "plain", &plain);
    let script = std::fs::read_to_string(&plain).unwrap();
    assert!(script.contains("COPY public.objects ("), "{script}");
    let target = Server::start();
    let (ok, out, err) = target.psql(&["-f", plain.to_str().unwrap()]);
    assert!(ok && !err.contains("ERROR"), "{out}{err}");
    assert_eq!(contents(&target), expected);

    // Custom: an archive pg_restore reads and sends as COPY.
    let archive = dir.path().join("dump.custom");
    dump(&origin, "custom", &archive);
    let target = Server::start();
    let mut cmd = Command::new("pg_restore");
    target.client_env(&mut cmd);
    run(cmd
        .args(["--data-only", "--exit-on-error", "--dbname"])
        .arg(target.conninfo())
        .arg(&archive));
    assert_eq!(contents(&target), expected);

    // Loading it again finds every key taken: nothing is doubled.
    let (ok, _, err) = target.psql(&["-f", plain.to_str().unwrap()]);
    assert!(!ok && err.contains("duplicate key"), "{err}");
    assert_eq!(contents(&target), expected);
}

#[test]
fn a_schema_only_dump_prints_the_tables_and_their_keys() {
    let server = Server::start();
    let mut cmd = Command::new("pg_dump");
    server.client_env(&mut cmd);
    let out = run(cmd
        .arg("--schema-only")
        .arg("--dbname")
        .arg(server.conninfo()));
    let script = String::from_utf8_lossy(&out.stdout);
    for table in [
        "buckets",
        "objects",
        "object_versions",
        "multipart_uploads",
        "multipart_parts",
    ] {
        assert!(
            script.contains(&format!("CREATE TABLE public.{table} (")),
            "{table}: {script}"
        );
    }
    for line in [
        "    region text DEFAULT 'default'::text NOT NULL,",
        "    user_metadata json,",
        "    ADD CONSTRAINT objects_pkey PRIMARY KEY (bucket, key);",
        "    ADD CONSTRAINT objects_bucket_fkey FOREIGN KEY (bucket) REFERENCES buckets(name);",
        // Functions are named by their argument types (pg_proc.proargtypes).
        "-- Name: cluster_add_learner(bigint, text, text); Type: FUNCTION;",
    ] {
        assert!(script.contains(line), "{line}: {script}");
    }
}
