//! The drivers users connect with, each running a script that asserts as it
//! goes against a real server: psycopg 3 and asyncpg (`python/`),
//! node-postgres (`node/`), pgjdbc (`java/`, run in Java's source-file
//! mode). `make test` installs them.

use std::path::Path;

use bucketdb_tests::Server;

fn dir(sub: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(sub)
}

#[test]
fn psycopg() {
    Server::start().run_client(
        "python3",
        &["psycopg_driver.py"],
        &dir("python"),
        "psycopg ok",
    );
}

#[test]
fn asyncpg() {
    Server::start().run_client(
        "python3",
        &["asyncpg_driver.py"],
        &dir("python"),
        "asyncpg ok",
    );
}

#[test]
fn node_postgres() {
    Server::start().run_client("node", &["pg_driver.js"], &dir("node"), "node-postgres ok");
}

#[test]
fn pgjdbc() {
    Server::start().run_client(
        "java",
        &["-cp", "/usr/share/java/postgresql.jar", "JdbcDriver.java"],
        &dir("java"),
        "pgjdbc ok",
    );
}
