//! Python psycopg 3, the driver many gateways use, through a real server.

use std::process::Command;

use bucketdb_tests::Server;

#[test]
fn psycopg_driver_works() {
    let server = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/psycopg_driver.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(server.sql_addr.ip().to_string())
        .arg(server.sql_addr.port().to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("psycopg ok"));
}
