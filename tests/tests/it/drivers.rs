//! The drivers users connect with, each running a script that asserts as it
//! goes against a real server: psycopg 3, asyncpg and SQLAlchemy's ORM
//! (`python/`), node-postgres and Sequelize's ORM (`node/`), pgjdbc with
//! its DatabaseMetaData and EclipseLink's JPA (`java/`, run in Java's
//! source-file mode). `make test` installs them. Each runs three times: trusted;
//! logging in with a password (SCRAM-SHA-256, the password in
//! `PGPASSWORD`); and with the password over TLS only (`--require-tls`), the
//! driver verifying the server's certificate (`sslmode=verify-full`).

use std::path::PathBuf;

use bucketdb_tests::Server;

fn dir(sub: &str) -> PathBuf {
    bucketdb_tests::manifest_dir().join(sub)
}

/// A password with characters that need quoting in URLs and conninfo.
const PASSWORD: &str = "p@ss w0rd/é";

fn servers() -> [Server; 3] {
    [
        Server::start(),
        Server::start_scram(PASSWORD),
        Server::start_tls(PASSWORD),
    ]
}

#[test]
fn psycopg() {
    for s in servers() {
        s.run_client(
            "python3",
            &["psycopg_driver.py"],
            &dir("python"),
            "psycopg ok",
        );
    }
}

#[test]
fn asyncpg() {
    for s in servers() {
        s.run_client(
            "python3",
            &["asyncpg_driver.py"],
            &dir("python"),
            "asyncpg ok",
        );
    }
}

/// An ORM's first steps: reflection of the tables and their keys, then
/// inserts, updates and deletes through a mapped model.
#[test]
fn sqlalchemy_orm() {
    for s in servers() {
        s.run_client(
            "python3",
            &["sqlalchemy_orm.py"],
            &dir("python"),
            "sqlalchemy ok",
        );
    }
}

#[test]
fn node_postgres() {
    for s in servers() {
        s.run_client("node", &["pg_driver.js"], &dir("node"), "node-postgres ok");
    }
}

/// Sequelize: reflection (tables, columns, keys), then a model's inserts,
/// updates and deletes, in and out of transactions.
#[test]
fn sequelize_orm() {
    for s in servers() {
        s.run_client("node", &["sequelize_orm.js"], &dir("node"), "sequelize ok");
    }
}

#[test]
fn pgjdbc() {
    for s in servers() {
        s.run_client(
            "java",
            &["-cp", "/usr/share/java/postgresql.jar", "JdbcDriver.java"],
            &dir("java"),
            "pgjdbc ok",
        );
    }
}

/// JDBC's DatabaseMetaData (tables, columns, keys), then JPA entities
/// (EclipseLink) with a composite key: inserts, queries, updates and
/// deletes with their counts, commits and rollbacks.
#[test]
fn jpa_orm() {
    let classpath = [
        "/usr/share/java/postgresql.jar",
        "/usr/share/java/eclipselink.jar",
        "/usr/share/java/eclipselink-jpa-2.1-spec.jar",
    ]
    .join(":");
    for s in servers() {
        s.run_client(
            "java",
            &["-cp", &classpath, "JpaOrm.java"],
            &dir("java"),
            "jpa ok",
        );
    }
}
