//! Python drivers (psycopg 3, asyncpg) through a real server: each runs a
//! script under `tests/python/` that asserts as it goes.

use std::process::Command;

use bucketdb_tests::Server;

fn run_script(name: &str) {
    let server = Server::start();
    let script = format!("{}/python/{name}_driver.py", env!("CARGO_MANIFEST_DIR"));
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
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{name} ok")));
}

#[test]
fn psycopg_driver_works() {
    run_script("psycopg");
}

#[test]
fn asyncpg_driver_works() {
    run_script("asyncpg");
}
