//! pgjdbc (Debian's libpostgresql-jdbc-java) through a real server; the
//! Java program runs in source-file mode, so no build step is needed.

use std::process::Command;

use bucketdb_tests::Server;

#[test]
fn pgjdbc_driver_works() {
    let server = Server::start();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/java");
    let out = Command::new("java")
        .current_dir(dir)
        .args(["-cp", "/usr/share/java/postgresql.jar", "JdbcDriver.java"])
        .arg(server.sql_addr.ip().to_string())
        .arg(server.sql_addr.port().to_string())
        .output()
        .expect("java runs (make test installs it)");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pgjdbc ok"));
}
