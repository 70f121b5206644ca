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

/// psql's meta-commands read pg_catalog through DataFusion.
#[test]
fn psql_meta_commands_describe_the_database() {
    let server = Server::start();
    let run = |cmd: &str| {
        let (ok, out, err) = server.psql(&["-c", cmd]);
        assert!(ok, "{cmd}: {err}");
        assert!(!err.contains("ERROR"), "{cmd}: {err}");
        out
    };
    let out = run("\\dt");
    assert!(out.contains("List of relations"), "{out}");
    for table in [
        "buckets",
        "objects",
        "object_versions",
        "multipart_uploads",
        "multipart_parts",
    ] {
        assert!(out.contains(table), "\\dt lacks {table}: {out}");
    }
    assert!(
        !out.contains("pg_class"),
        "\\dt lists catalog tables: {out}"
    );

    let out = run("\\d objects");
    assert!(out.contains("Table \"public.objects\""), "{out}");
    for (column, ty) in [
        ("bucket", "text"),
        ("size", "bigint"),
        ("last_modified", "timestamp with time zone"),
    ] {
        assert!(
            out.lines().any(|l| l.contains(column) && l.contains(ty)),
            "\\d objects lacks {column} {ty}: {out}"
        );
    }

    let out = run("\\l");
    assert!(out.contains("List of databases"), "{out}");
    assert!(out.contains("bucketdb"), "{out}");

    // bucketdb's functions, with their arguments and results; PostgreSQL's
    // built-ins stay out as they do in PostgreSQL.
    let out = run("\\df");
    assert!(out.contains("List of functions"), "{out}");
    let row = |name: &str| {
        out.lines()
            .find(|l| l.split('|').nth(1).map(str::trim) == Some(name))
            .unwrap_or_else(|| panic!("\\df lacks {name}: {out}"))
            .to_string()
    };
    let listing = row("list_objects");
    assert!(listing.contains("public"), "{listing}");
    assert!(listing.contains("TABLE(key text"), "{listing}");
    assert!(
        listing.contains("bucket text, prefix text DEFAULT ''::text"),
        "{listing}"
    );
    let promote = row("cluster_promote");
    assert!(
        promote.contains("bigint") && promote.contains("node_id bigint"),
        "{promote}"
    );
    assert!(!out.contains("array_agg"), "\\df lists built-ins: {out}");
    let out = run("\\df list_*");
    assert!(
        out.contains("list_objects") && out.contains("list_object_versions"),
        "{out}"
    );
    assert!(!out.contains("cluster_nodes"), "{out}");

    // The `+` forms ask for sizes and descriptions (empty here) and psql's
    // role listing uses ARRAY(subquery).
    let out = run("\\dt+");
    assert!(
        out.contains("objects") && out.contains("Description"),
        "{out}"
    );
    let out = run("\\l+");
    assert!(out.contains("bucketdb") && out.contains("Size"), "{out}");
    let out = run("\\du");
    assert!(out.contains("List of roles"), "{out}");
    // ACLs kept as the text of an array are read as arrays.
    let out = run("\\df+ list_objects");
    assert!(
        out.contains("list_objects")
            && out.contains("Access privileges")
            && out.contains("invoker"),
        "{out}"
    );
    // \d+ adds storage and description columns, and the same keys.
    let out = run("\\d+ objects");
    assert!(
        out.contains("Storage")
            && out.contains("'STANDARD'::text")
            && out.contains("\"objects_pkey\" PRIMARY KEY, btree (bucket, key)")
            && out.contains("REFERENCES buckets(name)"),
        "{out}"
    );
    // Comments are read from pg_description: public's, and a built-in's.
    let out = run("\\dn+");
    assert!(
        out.contains("public")
            && out.contains("postgres")
            && out.contains("standard public schema"),
        "{out}"
    );
    let out = run("\\dT+ int4");
    assert!(out.contains("-2 billion to 2 billion integer"), "{out}");
    // A built-in's arguments and result, as PostgreSQL prints them.
    let out = run("\\df random");
    assert!(
        out.contains("| integer          | min integer, max integer |"),
        "{out}"
    );
    let out = run("\\df aclexplode");
    assert!(
        out.contains("SETOF record") && out.contains("acl aclitem[], OUT grantor oid"),
        "{out}"
    );
    // Each index belongs to its table's owner.
    let out = run("\\di");
    assert!(
        out.contains("objects_pkey") && !out.contains("unknown (OID"),
        "{out}"
    );

    // information_schema answers too.
    let (ok, out, err) = server.psql(&[
        "-At",
        "-c",
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'buckets' ORDER BY ordinal_position",
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "name",
            "owner",
            "region",
            "versioning",
            "created_at",
            "tags"
        ]
    );
}

/// SQL's PREPARE and EXECUTE (pg_dump prepares its per-object queries so):
/// the statements live with the connection, beside the protocol's.
#[test]
fn prepare_and_execute_in_sql() {
    let server = Server::start();
    let (ok, out, err) = server.psql(&[
        "-At",
        "-c",
        "INSERT INTO buckets (name) VALUES ('media')",
        "-c",
        "PREPARE put (text, text, bigint) AS INSERT INTO objects (bucket, key, size) VALUES ($1, $2, $3)",
        "-c",
        "EXECUTE put ('media', 'a.txt', 3)",
        "-c",
        "EXECUTE put('media', 'b.txt', '4')",
        "-c",
        "PREPARE list (text) AS SELECT key, size FROM objects WHERE bucket = $1 ORDER BY key",
        "-c",
        "EXECUTE list ('media')",
        "-c",
        "PREPARE rel (pg_catalog.oid) AS SELECT count(*) FROM pg_catalog.pg_class WHERE oid = $1",
        "-c",
        "EXECUTE rel ('0')",
        "-c",
        "DEALLOCATE list",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "INSERT 0 1",
            "PREPARE",
            "INSERT 0 1",
            "INSERT 0 1",
            "PREPARE",
            "a.txt|3",
            "b.txt|4",
            "PREPARE",
            "0",
            "DEALLOCATE"
        ],
        "{out}"
    );
    for (statements, code) in [
        (
            &["PREPARE q AS SELECT 1", "PREPARE q AS SELECT 2"][..],
            "42P05",
        ),
        (&["EXECUTE nothing"][..], "26000"),
        (&["PREPARE q AS EXECUTE q"][..], "42601"),
        (
            &["PREPARE q AS SELECT 1", "DEALLOCATE q", "EXECUTE q"][..],
            "26000",
        ),
    ] {
        let mut args = vec!["-v", "VERBOSITY=verbose"];
        for s in statements {
            args.extend(["-c", s]);
        }
        let (ok, _, err) = server.psql(&args);
        assert!(!ok && err.contains(code), "{statements:?}: {err}");
    }
}

/// `--log-statements` logs what a client sent (simple queries, and each
/// statement an extended-protocol client parses) and the errors it got, so
/// a user can see what a tool does; without it nothing is logged.
#[test]
fn log_statements_shows_what_a_client_sent() {
    let read_log = |s: &Server, wanted: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut lines: Vec<String> = vec![];
        while std::time::Instant::now() < deadline && !lines.iter().any(|l| l.contains(wanted)) {
            lines.extend(s.log_lines());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        lines
    };
    let logging = Server::start_logging(&["--log-statements"]);
    // The second statement fails (22012), so psql's own status says nothing.
    let _ = logging.psql(&["-c", "SELECT 40 + 2 AS answer", "-c", "SELECT 1 / 0"]);
    let lines = read_log(&logging, "22012");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("statement: SELECT 40 + 2 AS answer")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("22012")), "{lines:#?}");
    let quiet = Server::start_logging(&[]);
    let (ok, out, err) = quiet.psql(&["-c", "SELECT 40 + 2 AS answer"]);
    assert!(ok, "{out}{err}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let lines = quiet.log_lines();
    assert!(
        !lines.iter().any(|l| l.contains("SELECT 40 + 2")),
        "{lines:#?}"
    );
}
