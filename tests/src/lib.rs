//! Test harness: starts the real `bucketdb` binary on ephemeral ports with
//! its own data directory, and connects real clients to it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod cluster;
pub mod inproc;
pub mod tls;

/// How long a server may take to start.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Runs `bucketdb cert …` and checks it succeeded.
pub fn cert(args: &[&str]) {
    let out = Command::new(binary())
        .arg("cert")
        .args(args)
        .output()
        .expect("bucketdb cert runs");
    assert!(
        out.status.success(),
        "bucketdb cert {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// This crate's directory. `cargo test` names it at run time; the path
/// compiled in is only a fallback, since a build is reused by checkouts at
/// other paths that share its target directory (CI's fresh clones do).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The binary under test: `$BUCKETDB_BIN`, or the debug build.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("BUCKETDB_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest_dir().join("../target"));
    target.join("debug/bucketdb")
}

/// A running bucketdb process.
pub struct Server {
    child: Option<Child>,
    pub sql_addr: SocketAddr,
    pub raft_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The superuser's password, when the server was given one
    /// (`--superuser-password-file`): clients then log in with it.
    pub password: Option<String>,
    /// The CA that signed the node's certificate (`ca.crt` of
    /// `--certs-dir`), when it requires TLS (`--require-tls`): clients then
    /// verify the server against it.
    pub ca: Option<PathBuf>,
    _tmp: Option<tempfile::TempDir>,
    /// The server's log lines, when it was started to capture them
    /// ([`Server::start_logging`]); otherwise the log goes to the test's
    /// stderr.
    log: Option<std::sync::Mutex<mpsc::Receiver<String>>>,
}

impl Server {
    /// Starts a fresh single-node server with `extra` flags whose log
    /// ([`Server::log_lines`]) the test reads.
    pub fn start_logging(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut s = Server::spawn(&tmp.path().join("data"), extra, true);
        s._tmp = Some(tmp);
        s
    }

    /// The log lines the server has written so far (a server started with
    /// [`Server::start_logging`]; none otherwise).
    pub fn log_lines(&self) -> Vec<String> {
        self.log
            .as_ref()
            .and_then(|rx| rx.lock().ok().map(|rx| rx.try_iter().collect()))
            .unwrap_or_default()
    }

    /// Starts a fresh single-node server in a new temporary data directory.
    pub fn start() -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("data");
        let mut s = Server::start_in(&dir, &[]);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a fresh single-node server where every connection logs in
    /// with a password (`--auth scram`); the superuser's is `password`.
    pub fn start_scram(password: &str) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let file = tmp.path().join("superuser-password");
        std::fs::write(&file, password).expect("password file");
        let dir = tmp.path().join("data");
        let mut s = Server::start_in(
            &dir,
            &[
                "--auth",
                "scram",
                "--superuser-password-file",
                file.to_str().expect("utf-8 path"),
            ],
        );
        s._tmp = Some(tmp);
        s
    }

    /// Starts a fresh single-node server that takes only TLS connections
    /// with passwords (`--auth scram --require-tls`), its certificate made
    /// by `bucketdb cert` for `localhost` and `127.0.0.1`.
    pub fn start_tls(password: &str) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let certs = tmp.path().join("certs");
        let certs_dir = certs.to_str().expect("utf-8 path");
        cert(&["create-ca", "--certs-dir", certs_dir]);
        cert(&[
            "create-node",
            "--certs-dir",
            certs_dir,
            "--host",
            "localhost",
            "--host",
            "127.0.0.1",
            "--node-id",
            "1",
        ]);
        let file = tmp.path().join("superuser-password");
        std::fs::write(&file, password).expect("password file");
        let mut s = Server::start_in(
            &tmp.path().join("data"),
            &[
                "--auth",
                "scram",
                "--superuser-password-file",
                file.to_str().expect("utf-8 path"),
                "--certs-dir",
                certs_dir,
                "--require-tls",
            ],
        );
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on `data_dir` (which may hold data already). Each
    /// address flag not in `extra` gets an ephemeral port.
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        Server::spawn(data_dir, extra, false)
    }

    fn spawn(data_dir: &Path, extra: &[&str], capture_log: bool) -> Server {
        let password = extra
            .iter()
            .position(|a| *a == "--superuser-password-file")
            .and_then(|i| extra.get(i + 1))
            .map(|f| std::fs::read_to_string(f).expect("password file"));
        let certs_dir = extra
            .iter()
            .position(|a| *a == "--certs-dir")
            .and_then(|i| extra.get(i + 1));
        let ca = certs_dir
            .filter(|_| extra.contains(&"--require-tls"))
            .map(|d| Path::new(d).join("ca.crt"));
        let mut cmd = Command::new(binary());
        cmd.args(["--data-dir", data_dir.to_str().expect("utf-8 path")]);
        for flag in ["--sql-addr", "--raft-addr", "--http-addr"] {
            if !extra.contains(&flag) {
                cmd.args([flag, "127.0.0.1:0"]);
            }
        }
        if !extra.contains(&"--log") {
            cmd.args(["--log", "warn,openraft=error"]);
        }
        let mut child = cmd
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(if capture_log {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()));
        let log = child.stderr.take().map(|stderr| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            std::sync::Mutex::new(rx)
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("bucketdb ready") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = rx
            .recv_timeout(START_DEADLINE)
            .expect("server did not report ready in time");
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        };
        Server {
            sql_addr: field("sql="),
            raft_addr: field("raft="),
            http_addr: field("http="),
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            password,
            ca,
            _tmp: None,
            log,
        }
    }

    /// A connection string for tokio-postgres and psql, as the superuser.
    pub fn conninfo(&self) -> String {
        self.conninfo_as("postgres", self.password.as_deref())
    }

    /// A connection string for `user`, with `password` if given.
    pub fn conninfo_as(&self, user: &str, password: Option<&str>) -> String {
        let mut s = format!(
            "host={} port={} user={user} dbname=bucketdb",
            self.sql_addr.ip(),
            self.sql_addr.port()
        );
        if let Some(p) = password {
            let quoted = p.replace('\\', "\\\\").replace('\'', "\\'");
            s.push_str(&format!(" password='{quoted}'"));
        }
        s
    }

    /// Connects as `user` with `password`, or says why not.
    pub async fn connect_as(
        &self,
        user: &str,
        password: Option<&str>,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        self.open(&self.conninfo_as(user, password)).await
    }

    /// Connects with `conninfo`: over TLS, verifying the server, when it
    /// requires TLS.
    async fn open(&self, conninfo: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let mut config: tokio_postgres::Config = conninfo.parse()?;
        let client = match &self.ca {
            Some(ca) => {
                config.ssl_mode(tokio_postgres::config::SslMode::Require);
                let (client, conn) = config.connect(tls::connector(ca)).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                client
            }
            None => {
                let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                client
            }
        };
        Ok(client)
    }

    pub async fn connect(&self) -> tokio_postgres::Client {
        self.connect_with("").await
    }

    /// Connects with extra conninfo (e.g. `options='-c consistency=local'`).
    pub async fn connect_with(&self, extra: &str) -> tokio_postgres::Client {
        self.open(&format!("{} {extra}", self.conninfo()))
            .await
            .expect("connect")
    }

    /// Sets, for a libpq-style client, the environment that makes it log
    /// in as the superuser: its password, and TLS verified against the CA
    /// when the server requires TLS (node-postgres reads the CA from
    /// `NODE_EXTRA_CA_CERTS`).
    pub fn client_env(&self, cmd: &mut Command) {
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        if let Some(ca) = &self.ca {
            cmd.env("PGSSLMODE", "verify-full")
                .env("PGSSLROOTCERT", ca)
                .env("NODE_EXTRA_CA_CERTS", ca);
        }
    }

    /// Runs psql with `args` and returns (success, stdout, stderr).
    pub fn psql(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new("psql");
        self.client_env(&mut cmd);
        let out = cmd
            .arg(self.conninfo())
            .args(["-X", "-v", "ON_ERROR_STOP=1"])
            .args(args)
            .output()
            .expect("psql runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Kills the process with SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        for _ in 0..200 {
            if let Ok(Some(status)) = c.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        panic!("server did not exit within 10s of SIGTERM");
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_string())
        .unwrap_or_else(|| format!("not a server error: {e}"))
}

impl Server {
    /// Runs a client program (a driver test script) with the server's host
    /// and port appended to `args`, and checks it succeeded and printed
    /// `expect`.
    pub fn run_client(&self, program: &str, args: &[&str], dir: &Path, expect: &str) {
        let mut cmd = Command::new(program);
        self.client_env(&mut cmd);
        let out = cmd
            .current_dir(dir)
            .args(args)
            .arg(self.sql_addr.ip().to_string())
            .arg(self.sql_addr.port().to_string())
            .output()
            .unwrap_or_else(|e| panic!("{program} does not run ({e}); make test installs it"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(expect),
            "{program} {args:?} failed\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
