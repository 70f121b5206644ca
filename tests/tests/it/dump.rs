//! pg_dump and pg_restore of PostgreSQL's client package against real
//! servers: a data-only dump, plain (loaded with psql) and custom format
//! (loaded with pg_restore), makes a fresh bucketdb hold the same rows,
//! object versions included, which then behave as they did.

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
    // Versions: `null` ones written before versioning was enabled, then
    // kept as noncurrent; overwrites; delete markers with ids and `null`
    // ones; a suspended bucket's `null` version on top of older ones.
    "INSERT INTO buckets (name) VALUES ('vers'), ('kept')",
    "INSERT INTO objects (bucket, key, size) VALUES ('vers', 'n1', 1), ('vers', 'n2', 2), ('kept', 'k', 1)",
    "UPDATE buckets SET versioning = 'enabled' WHERE name IN ('vers', 'kept')",
    "UPDATE objects SET size = 11 WHERE bucket = 'vers' AND key = 'n1'",
    "INSERT INTO objects (bucket, key, size) VALUES ('vers', 'h', 1)",
    "UPDATE objects SET size = 2 WHERE bucket = 'vers' AND key = 'h'",
    "UPDATE objects SET size = 3, tags = '{\"v\": 3}' WHERE bucket = 'vers' AND key = 'h'",
    "DELETE FROM objects WHERE bucket = 'vers' AND key = 'n2'",
    "UPDATE objects SET size = 2 WHERE bucket = 'kept' AND key = 'k'",
    "UPDATE buckets SET versioning = 'suspended' WHERE name = 'vers'",
    "UPDATE objects SET size = 4 WHERE bucket = 'vers' AND key = 'h'",
    "INSERT INTO objects (bucket, key, size) VALUES ('vers', 'm', 5)",
    "DELETE FROM objects WHERE bucket = 'vers' AND key = 'm'",
];

/// What is done to the versions after the restore, on the origin and the
/// restored node alike: a new version, a `null` one removed for good
/// (the version under it becomes current again), a delete marker removed.
const AFTER: &[&str] = &[
    "UPDATE objects SET size = 3 WHERE bucket = 'kept' AND key = 'k'",
    "DELETE FROM object_versions WHERE bucket = 'vers' AND key = 'h' AND version_id = 'null'",
    "DELETE FROM object_versions WHERE bucket = 'vers' AND key = 'n2' AND is_delete_marker",
];

/// Every table's rows, in key order, as psql prints them unaligned.
const TABLES: &[&str] = &[
    "SELECT * FROM buckets ORDER BY name",
    "SELECT * FROM objects ORDER BY bucket, key",
    // In its own order: each object's versions newest first.
    "SELECT * FROM object_versions",
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
        .arg("--data-only")
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

    // The restored versions behave as the originals: the same writes
    // leave the same versions (ids and times of new ones aside), and a
    // new version is newer than every restored one.
    let shape = |server: &Server| {
        let q = "SELECT bucket, key, is_latest, is_delete_marker, size, tags FROM object_versions";
        let (ok, out, err) = server.psql(&[
            "-At",
            "-c",
            q,
            "-c",
            "SELECT bucket, key, version_id = 'null', size, tags FROM objects ORDER BY bucket, key",
        ]);
        assert!(ok, "{err}");
        out
    };
    for server in [&origin, &target] {
        for statement in AFTER {
            let (ok, _, err) = server.psql(&["-c", statement]);
            assert!(ok, "{statement}: {err}");
        }
    }
    assert_eq!(shape(&target), shape(&origin));
    let ids = |order: &str| {
        let q = format!("SELECT version_id FROM object_versions WHERE bucket = 'kept' {order}");
        target.psql(&["-At", "-c", &q]).1
    };
    assert_eq!(ids("").lines().count(), 3, "{}", ids(""));
    assert_eq!(ids(""), ids("ORDER BY version_id"));
    let (_, latest, _) = target.psql(&[
        "-At",
        "-c",
        "SELECT size FROM object_versions WHERE bucket = 'kept' AND is_latest",
    ]);
    assert_eq!(latest.trim(), "3");
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
        // pg_dump empties the search path, so the referenced table is
        // named with its schema (as pg_dump's own preamble is written).
        "    ADD CONSTRAINT objects_bucket_fkey FOREIGN KEY (bucket) REFERENCES public.buckets(name);",
        "SELECT pg_catalog.set_config('search_path', '', false);",
        // Functions are named by their argument types (pg_proc.proargtypes).
        "-- Name: cluster_add_learner(bigint, text, text); Type: FUNCTION;",
    ] {
        assert!(script.contains(line), "{line}: {script}");
    }
    // `public` has PostgreSQL's standard comment, so none is written.
    assert!(!script.contains("COMMENT ON SCHEMA"), "{script}");
}
