//! node-postgres (`pg` from npm) through a real server.

use std::process::Command;

use bucketdb_tests::Server;

#[test]
fn node_postgres_driver_works() {
    let server = Server::start();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/node");
    let out = Command::new("node")
        .current_dir(dir)
        .arg("pg_driver.js")
        .arg(server.sql_addr.ip().to_string())
        .arg(server.sql_addr.port().to_string())
        .output()
        .expect("node runs (make test installs it)");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("node-postgres ok"));
}
