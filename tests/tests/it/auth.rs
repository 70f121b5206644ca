//! Passwords, roles and privileges through real clients: SCRAM logins
//! with tokio-postgres and psql, what a stranger learns (nothing but
//! 28P01), GRANT / REVOKE and role memberships taking effect on open
//! sessions, refusals that change nothing, the refusal to start exposed,
//! and roles in a 3-node cluster.

use std::process::Command;
use std::time::{Duration, Instant};

use bucketdb_tests::cluster::Cluster;
use bucketdb_tests::{binary, cert, sqlstate, Server};

const SUPERUSER_PASSWORD: &str = "root-pw";

/// The SQLSTATE of a failed connection attempt.
async fn login_error(s: &Server, user: &str, password: Option<&str>) -> String {
    match s.connect_as(user, password).await {
        Ok(_) => "connected".into(),
        Err(e) => sqlstate(&e),
    }
}

#[tokio::test]
async fn scram_logins_reveal_nothing_to_strangers() {
    let s = Server::start_scram(SUPERUSER_PASSWORD);
    let root = s.connect().await;
    root.batch_execute(
        "CREATE USER app PASSWORD 'app-pw'; CREATE ROLE quiet LOGIN; CREATE ROLE group_only PASSWORD 'g'",
    )
    .await
    .unwrap();
    let app = s.connect_as("app", Some("app-pw")).await.unwrap();
    let row = app
        .query_one("SELECT current_user, session_user", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "app");
    assert_eq!(row.get::<_, String>(1), "app");
    // Wrong password, unknown role, a role without a password and one that
    // may not log in: the same answer.
    for (user, password) in [
        ("app", "wrong"),
        ("postgres", "app-pw"),
        ("nobody", "app-pw"),
        ("quiet", ""),
        ("group_only", "g"),
    ] {
        assert_eq!(
            login_error(&s, user, Some(password)).await,
            "28P01",
            "{user}"
        );
    }
    // psql shows PostgreSQL's message, and nothing else.
    let out = Command::new("psql")
        .arg(s.conninfo_as("nobody", Some("x")))
        .args(["-X", "-w", "-c", "SELECT 1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("password authentication failed for user \"nobody\""),
        "{err}"
    );
    let (ok, out, err) = s.psql(&["-tAc", "SELECT current_user"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "postgres");
    // A password changed by ALTER ROLE is the one that works from now on.
    root.batch_execute("ALTER ROLE app PASSWORD 'new-pw'")
        .await
        .unwrap();
    assert_eq!(login_error(&s, "app", Some("app-pw")).await, "28P01");
    assert!(s.connect_as("app", Some("new-pw")).await.is_ok());
    // The open session of app goes on.
    app.query_one("SELECT 1", &[]).await.unwrap();
}

#[tokio::test]
async fn the_superuser_password_is_kept_across_restarts_and_changed_by_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pw");
    let dir = tmp.path().join("data");
    let start = |pw: &str| {
        std::fs::write(&file, pw).unwrap();
        let f = file.to_str().unwrap().to_string();
        Server::start_in(&dir, &["--auth", "scram", "--superuser-password-file", &f])
    };
    let mut s = start("first");
    s.connect().await;
    s.terminate();
    let s = start("second");
    assert_eq!(login_error(&s, "postgres", Some("first")).await, "28P01");
    s.connect().await;
}

#[tokio::test]
async fn trust_admits_roles_that_may_log_in_and_strangers_as_the_superuser() {
    let s = Server::start();
    let root = s.connect().await;
    root.batch_execute("CREATE ROLE reader; CREATE USER app")
        .await
        .unwrap();
    let who = |c: tokio_postgres::Client| async move {
        c.query_one("SELECT current_user", &[])
            .await
            .unwrap()
            .get::<_, String>(0)
    };
    // A bare psql names the OS user: on a trusting node, that is postgres.
    assert_eq!(
        who(s.connect_as("root", None).await.unwrap()).await,
        "postgres"
    );
    assert_eq!(who(s.connect_as("app", None).await.unwrap()).await, "app");
    assert_eq!(login_error(&s, "reader", None).await, "28000");
}

/// Counts rows as the superuser.
async fn count(c: &tokio_postgres::Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn privileges_are_checked_at_every_statement_and_refusals_change_nothing() {
    let s = Server::start();
    let root = s.connect().await;
    root.batch_execute(
        "CREATE USER app; CREATE ROLE reader;
         INSERT INTO buckets (name) VALUES ('priv');
         INSERT INTO objects (bucket, key, size) VALUES ('priv', 'a', 1), ('priv', 'b', 2)",
    )
    .await
    .unwrap();
    let app = s.connect_as("app", None).await.unwrap();
    let select = app
        .prepare("SELECT key FROM objects WHERE bucket = 'priv'")
        .await
        .unwrap();
    let denied = |r: Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>| {
        sqlstate(&r.expect_err("refused"))
    };
    assert_eq!(denied(app.query(&select, &[]).await), "42501");
    // A bundle: reader holds SELECT, app gets it by membership.
    root.batch_execute("GRANT SELECT ON objects TO reader; GRANT reader TO app")
        .await
        .unwrap();
    assert_eq!(app.query(&select, &[]).await.unwrap().len(), 2);
    // Through DataFusion (an aggregate) and a table function too.
    app.query("SELECT bucket, count(*) FROM objects GROUP BY bucket", &[])
        .await
        .unwrap();
    app.query("SELECT * FROM list_objects('priv')", &[])
        .await
        .unwrap();
    // Writes need their own privilege, and a refusal writes nothing.
    for sql in [
        "INSERT INTO objects (bucket, key) VALUES ('priv', 'c')",
        "UPDATE objects SET size = 9 WHERE bucket = 'priv'",
        "DELETE FROM objects WHERE bucket = 'priv'",
        "DELETE FROM buckets",
        "SELECT * FROM buckets",
        "SELECT * FROM cluster_status()",
        "SELECT cluster_snapshot()",
        "CREATE ROLE sneaky SUPERUSER",
        "ALTER ROLE app SUPERUSER",
        "GRANT ALL ON objects TO app",
    ] {
        let e = app.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "42501", "{sql}");
    }
    assert_eq!(count(&root, "objects").await, 2);
    assert_eq!(count(&root, "buckets").await, 1);
    let sizes: Vec<i64> = root
        .query("SELECT size FROM objects ORDER BY key", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(sizes, [1, 2]);
    assert!(root
        .query("SELECT 1 FROM pg_catalog.pg_roles WHERE false", &[])
        .await
        .is_ok());
    // Granted, the same statements run.
    root.batch_execute("GRANT INSERT, UPDATE, DELETE ON objects TO app")
        .await
        .unwrap();
    app.batch_execute("INSERT INTO objects (bucket, key) VALUES ('priv', 'c')")
        .await
        .unwrap();
    app.batch_execute("UPDATE objects SET size = 9 WHERE key = 'c'")
        .await
        .unwrap();
    // Revoked from the bundle: refused at the next statement of the open
    // session, with the statement prepared before.
    root.batch_execute("REVOKE SELECT ON objects FROM reader")
        .await
        .unwrap();
    assert_eq!(denied(app.query(&select, &[]).await), "42501");
    root.batch_execute("GRANT SELECT ON objects TO reader; REVOKE reader FROM app")
        .await
        .unwrap();
    assert_eq!(denied(app.query(&select, &[]).await), "42501");
    // Dropping a role takes its grants and memberships with it.
    root.batch_execute("DROP ROLE reader").await.unwrap();
    let e = root.batch_execute("GRANT reader TO app").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42704");
    let e = root.batch_execute("DROP ROLE postgres").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42501");
    let e = root.batch_execute("CREATE ROLE app").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42710");
    let e = root
        .batch_execute("BEGIN; CREATE ROLE t; COMMIT")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "25001");
}

#[test]
fn a_node_refuses_to_listen_exposed_without_passwords_and_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let mut c = Command::new(binary());
        c.args(["--data-dir", tmp.path().join("d").to_str().unwrap()])
            .args(["--raft-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args(extra);
        c.output().unwrap()
    };
    let out = run(&["--sql-addr", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--auth scram and TLS") && err.contains("--insecure"),
        "{err}"
    );
    let out = run(&["--sql-addr", "0.0.0.0:0", "--auth", "scram"]);
    assert_eq!(out.status.code(), Some(2));
    // Nothing was created: the node did not start.
    assert!(!tmp.path().join("d").exists());
}

/// The rows of `sql` (one statement, no parameters) as text.
async fn texts(c: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let mut out = vec![];
    for m in c.simple_query(sql).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            out.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
        }
    }
    out
}

fn row(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some(v.to_string())).collect()
}

#[tokio::test]
async fn catalogs_answer_each_session_with_its_own_roles_and_privileges() {
    let s = Server::start();
    let root = s.connect().await;
    root.batch_execute(
        "CREATE ROLE reader;
         CREATE USER app PASSWORD 'app-pw';
         GRANT SELECT ON objects TO reader;
         GRANT reader TO app;
         GRANT INSERT ON objects TO app",
    )
    .await
    .unwrap();
    let app = s.connect_as("app", Some("app-pw")).await.unwrap();
    let asks = "SELECT has_table_privilege('objects', 'SELECT'), \
        has_table_privilege('public.objects', 'DELETE'), \
        has_table_privilege('buckets', 'SELECT'), \
        has_table_privilege('pg_class', 'SELECT'), \
        has_table_privilege('pg_authid', 'SELECT')";
    assert_eq!(
        texts(&app, asks).await,
        vec![row(&["t", "f", "f", "t", "f"])]
    );
    assert_eq!(
        texts(&root, asks).await,
        vec![row(&["t", "t", "t", "t", "t"])]
    );
    let others = "SELECT has_table_privilege('app', 'objects', 'INSERT'), \
        has_table_privilege('reader', 'objects', 'INSERT'), \
        has_table_privilege('reader', 'objects', 'SELECT')";
    assert_eq!(texts(&app, others).await, vec![row(&["t", "f", "t"])]);
    // Per row, and as a prepared statement's parameter.
    let by_row: bool = app
        .query_one(
            "SELECT bool_and(has_table_privilege(relname, 'SELECT')) FROM pg_class \
             WHERE relname IN ('objects', 'buckets')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!by_row);
    let may: bool = app
        .query_one("SELECT has_table_privilege($1, 'INSERT')", &[&"objects"])
        .await
        .unwrap()
        .get(0);
    assert!(may);
    for (sql, code) in [
        ("SELECT has_table_privilege('nosuch', 'SELECT')", "42P01"),
        ("SELECT has_table_privilege('objects', 'SELEC')", "22023"),
        (
            "SELECT has_table_privilege('ghost', 'objects', 'SELECT')",
            "42704",
        ),
        ("SELECT rolname, rolpassword FROM pg_authid", "42501"),
    ] {
        let e = app.simple_query(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), code, "{sql}");
    }
    // current_user in a query DataFusion plans, joined with the roles.
    assert_eq!(
        texts(
            &app,
            "SELECT current_user AS c, session_user AS s, r.rolsuper FROM pg_roles r WHERE r.rolname = current_user"
        )
        .await,
        vec![row(&["app", "app", "f"])]
    );
    // Verifiers: in pg_authid for superusers, masked in pg_roles.
    let authid = texts(
        &root,
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'",
    )
    .await;
    let verifier = authid[0][0].clone().unwrap();
    assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    assert!(!verifier.contains("app-pw"));
    assert_eq!(
        texts(
            &root,
            "SELECT rolpassword FROM pg_roles WHERE rolname = 'app'"
        )
        .await,
        vec![row(&["********"])]
    );
    assert_eq!(
        texts(
            &root,
            "SELECT g.rolname, m.rolname, pg_get_userbyid(a.grantor) FROM pg_auth_members a \
             JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member"
        )
        .await,
        vec![row(&["reader", "app", "postgres"])]
    );
    // psql's \du and \dp.
    let (ok, du, err) = s.psql(&["-c", "\\du"]);
    assert!(ok, "{err}");
    let line = |name: &str, text: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_string()
    };
    assert!(line("postgres", &du).contains("Superuser"), "{du}");
    assert!(line("reader", &du).contains("Cannot login"), "{du}");
    assert!(line("app", &du).contains("{reader}"), "{du}");
    assert!(line("postgres", &du).trim_end().ends_with("{}"), "{du}");
    let (ok, dp, err) = s.psql(&["-c", "\\dp objects"]);
    assert!(ok, "{err}");
    assert!(
        dp.contains("app=a/postgres") && dp.contains("reader=r/postgres"),
        "{dp}"
    );
    root.batch_execute("REVOKE ALL ON objects FROM app; REVOKE ALL ON objects FROM reader")
        .await
        .unwrap();
    let (_, dp, _) = s.psql(&["-c", "\\dp objects"]);
    assert!(!dp.contains("app=") && !dp.contains("reader="), "{dp}");
    assert_eq!(
        texts(&app, "SELECT has_table_privilege('objects', 'SELECT')").await,
        vec![row(&["f"])]
    );
}

#[tokio::test]
async fn roles_reach_every_node_of_a_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pw");
    std::fs::write(&file, SUPERUSER_PASSWORD).unwrap();
    let f = file.to_str().unwrap();
    // TLS only, on every node: the joining nodes verify the first one's
    // certificate against the cluster's CA.
    let certs = tmp.path().join("certs");
    let d = certs.to_str().unwrap();
    cert(&["create-ca", "--certs-dir", d]);
    // One certificate for the three nodes, naming each of their ids.
    cert(&[
        "create-node",
        "--certs-dir",
        d,
        "--host",
        "127.0.0.1",
        "--node-id",
        "1",
        "--node-id",
        "2",
        "--node-id",
        "3",
    ]);
    let c = Cluster::start(
        3,
        &[
            "--auth",
            "scram",
            "--superuser-password-file",
            f,
            "--certs-dir",
            d,
            "--require-tls",
        ],
    );
    let leader = c.leader(Duration::from_secs(30)).await;
    let root = c.server(leader).connect().await;
    root.batch_execute(
        "CREATE USER app PASSWORD 'app-pw';
         INSERT INTO buckets (name) VALUES ('everywhere');
         GRANT SELECT ON buckets TO app",
    )
    .await
    .unwrap();
    // Made on the leader, the role logs in on every node once it applied.
    let mut sessions = vec![];
    for (i, s) in c.up() {
        let deadline = Instant::now() + Duration::from_secs(10);
        let app = loop {
            match s.connect_as("app", Some("app-pw")).await {
                Ok(app) => break app,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("node {i}: {e}"),
            }
        };
        let n: i64 = app
            .query_one("SELECT count(*) FROM buckets", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "node {i}");
        sessions.push((i, app));
    }
    // Revoked on the leader: refused on every node (a linearizable read
    // waits for the revoke to apply there).
    root.batch_execute("REVOKE SELECT ON buckets FROM app")
        .await
        .unwrap();
    for (i, app) in &sessions {
        let e = app
            .query_one("SELECT count(*) FROM buckets", &[])
            .await
            .expect_err("revoked");
        assert_eq!(sqlstate(&e), "42501", "node {i}");
        let may: bool = app
            .query_one("SELECT has_table_privilege('buckets', 'SELECT')", &[])
            .await
            .unwrap()
            .get(0);
        assert!(!may, "node {i}");
        let e = app
            .batch_execute("INSERT INTO buckets (name) VALUES ('nope')")
            .await
            .expect_err("no insert");
        assert_eq!(sqlstate(&e), "42501", "node {i}");
    }
    let n: i64 = root
        .query_one("SELECT count(*) FROM buckets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn tls_with_certificates_made_by_bucketdb_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = tmp.path().join("certs");
    let dir = certs.to_str().unwrap();
    cert(&["create-ca", "--certs-dir", dir]);
    cert(&[
        "create-node",
        "--certs-dir",
        dir,
        "--host",
        "localhost",
        "--host",
        "127.0.0.1",
        "--node-id",
        "1",
    ]);
    cert(&["create-client", "--certs-dir", dir, "--user", "app"]);
    // A second CA over the first is refused: it would orphan every node.
    let again = Command::new(binary())
        .args(["cert", "create-ca", "--certs-dir", dir])
        .output()
        .unwrap();
    assert!(!again.status.success());
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, SUPERUSER_PASSWORD).unwrap();
    let mut s = Server::start_in(
        &tmp.path().join("data"),
        &[
            "--auth",
            "scram",
            "--superuser-password-file",
            pw.to_str().unwrap(),
            "--certs-dir",
            dir,
            "--require-tls",
        ],
    );
    let ca = certs.join("ca.crt");
    let psql = |sslmode: &str, root: &str| {
        let conninfo = format!(
            "host=localhost port={} user=postgres dbname=bucketdb sslmode={sslmode} sslrootcert={root}",
            s.sql_addr.port()
        );
        let out = Command::new("psql")
            .arg(conninfo)
            .args(["-X", "-w", "-tAc", "SELECT current_user"])
            .env("PGPASSWORD", SUPERUSER_PASSWORD)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ca_path = ca.to_str().unwrap();
    assert_eq!(psql("require", ca_path).1, "postgres");
    let (ok, out, err) = psql("verify-full", ca_path);
    assert!(ok && out == "postgres", "{err}");
    // The node's certificate does not verify against another CA.
    let other = tmp.path().join("other");
    cert(&["create-ca", "--certs-dir", other.to_str().unwrap()]);
    let (ok, _, err) = psql("verify-full", other.join("ca.crt").to_str().unwrap());
    assert!(!ok && err.contains("certificate verify failed"), "{err}");
    // Plaintext is refused with 28000, before any password is asked.
    let (ok, _, err) = psql("disable", ca_path);
    assert!(!ok && err.contains("accepts only TLS connections"), "{err}");
    let verifying = s.ca.take();
    assert_eq!(
        sqlstate(
            &s.connect_as("postgres", Some(SUPERUSER_PASSWORD))
                .await
                .unwrap_err()
        ),
        "28000"
    );
    s.ca = verifying;
    // psycopg (libpq) verifies the server and logs in with the password.
    let script = "import psycopg, sys\n\
        with psycopg.connect(sys.argv[1]) as c:\n    \
        print(c.execute('SELECT current_user').fetchone()[0], c.info.pgconn.ssl_in_use)\n";
    let conninfo = format!(
        "host=localhost port={} user=postgres dbname=bucketdb sslmode=verify-full sslrootcert={ca_path} password={SUPERUSER_PASSWORD}",
        s.sql_addr.port()
    );
    let out = Command::new("python3")
        .args(["-c", script, &conninfo])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "postgres True",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // tokio-postgres over rustls, verifying against the CA; another CA
    // fails the handshake.
    s.ca = Some(other.join("ca.crt"));
    let e = s
        .connect_as("postgres", Some(SUPERUSER_PASSWORD))
        .await
        .unwrap_err();
    assert!(
        format!("{e:?}").to_lowercase().contains("certificate"),
        "{e:?}"
    );
    s.ca = Some(ca.clone());
    let user: String = s
        .connect()
        .await
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, "postgres");
}
