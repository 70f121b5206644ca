//! Configuration: flags, `BUCKETDB_*` environment variables and a TOML file
//! (`--config`), in that order of precedence, then built-in defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use serde::Deserialize;

use crate::limits::{LimitArgs, Limits};

/// How SQL clients prove who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Any client may connect as any role that exists and may log in (like
    /// PostgreSQL's `trust`); only for loopback addresses without --insecure.
    #[default]
    Trust,
    /// Every connection, loopback included, logs in with a password
    /// (SCRAM-SHA-256).
    Scram,
}

/// How a linearizable read's leader confirms it still leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadConfirm {
    /// By its lease: a quorum answered its heartbeats within the last
    /// 400 ms (followers refuse to elect another leader for 600 ms), so a
    /// read costs no round of its own; assumes the nodes' clocks run at
    /// rates that differ by less than a third.
    #[default]
    Lease,
    /// By a quorum round that starts after the read arrived (ReadIndex):
    /// no assumption about clocks, a round trip to a quorum per batch of
    /// reads.
    Quorum,
}

/// bucketdb: a replicated metadata database for object storage that speaks
/// the PostgreSQL wire protocol.
///
/// With an empty data directory and no other option, the node initialises a
/// single-voter cluster and serves SQL at once.
#[derive(Parser, Debug, Default)]
#[command(name = "bucketdb", version, args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Something other than serving (with no command, the node serves).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML file with any of the settings below (keys as the flags, with
    /// underscores: node_id, data_dir, ...). Flags and environment win over it.
    #[arg(long, env = "BUCKETDB_CONFIG")]
    pub config: Option<PathBuf>,
    /// This node's id in the cluster [default: 1]
    #[arg(long, env = "BUCKETDB_NODE_ID")]
    pub node_id: Option<u64>,
    /// Directory of the node's RocksDB, snapshots and state [default: ./bucketdb-data]
    #[arg(long, env = "BUCKETDB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the PostgreSQL-protocol listener (port 0: any free port) [default: 127.0.0.1:5433]
    #[arg(long, env = "BUCKETDB_SQL_ADDR")]
    pub sql_addr: Option<SocketAddr>,
    /// Address other nodes reach this node at for Raft traffic [default: 127.0.0.1:7433]
    #[arg(long, env = "BUCKETDB_RAFT_ADDR")]
    pub raft_addr: Option<SocketAddr>,
    /// Address of the HTTP endpoint: /metrics, /health, /ready [default: 127.0.0.1:8433]
    #[arg(long, env = "BUCKETDB_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Build a snapshot and purge the Raft log every this many entries, and no sooner than the last snapshot had rows [default: 10000]
    #[arg(long, env = "BUCKETDB_SNAPSHOT_EVERY")]
    pub snapshot_every: Option<u64>,
    /// Seconds a write or a linearizable read may wait for a leader or quorum [default: 5]
    #[arg(long, env = "BUCKETDB_TIMEOUT_SECS")]
    pub timeout_secs: Option<u64>,
    /// How the leader confirms it leads before a linearizable read [default: lease]
    #[arg(long, env = "BUCKETDB_READ_CONFIRM", value_enum)]
    pub read_confirm: Option<ReadConfirm>,
    /// Log filter, as RUST_LOG (e.g. info, bucketdb=debug) [default: info]
    #[arg(long, env = "BUCKETDB_LOG")]
    pub log: Option<String>,
    /// With an empty data directory: join the cluster that serves SQL at
    /// this address (any member), as a learner first, then as a voter.
    #[arg(long, env = "BUCKETDB_JOIN", conflicts_with = "no_init")]
    pub join: Option<String>,
    /// With an empty data directory: do not form a cluster; wait until an
    /// operator adds this node with cluster_add_learner().
    #[arg(long, env = "BUCKETDB_NO_INIT")]
    pub no_init: bool,
    /// With an empty data directory: form a new single-voter cluster (what
    /// a node given neither --join nor --no-init does too).
    #[arg(long, env = "BUCKETDB_INIT", conflicts_with_all = ["join", "no_init"])]
    pub init: bool,
    /// How SQL clients authenticate [default: trust]
    #[arg(long, env = "BUCKETDB_AUTH", value_enum)]
    pub auth: Option<AuthMode>,
    /// File whose first line is the password to give the superuser
    /// `postgres` at start (or set BUCKETDB_SUPERUSER_PASSWORD)
    #[arg(long, env = "BUCKETDB_SUPERUSER_PASSWORD_FILE")]
    pub superuser_password_file: Option<PathBuf>,
    /// Directory with node.crt and node.key (PEM): TLS on the SQL port
    #[arg(long, env = "BUCKETDB_CERTS_DIR")]
    pub certs_dir: Option<PathBuf>,
    /// Refuse SQL connections that do not use TLS
    #[arg(long, env = "BUCKETDB_REQUIRE_TLS")]
    pub require_tls: bool,
    /// Allow non-loopback addresses without --auth scram and TLS: anyone who
    /// reaches the ports can then read and change everything
    #[arg(long, env = "BUCKETDB_INSECURE")]
    pub insecure: bool,
    /// Log every SQL statement a client sends (its text, at Query and
    /// Parse), to see what a tool asks
    #[arg(long, env = "BUCKETDB_LOG_STATEMENTS")]
    pub log_statements: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Make the certificate files TLS needs (CA, nodes, clients)
    Cert {
        #[command(subcommand)]
        action: crate::cert::CertCommand,
    },
    /// Make a new data directory from a backup (`SELECT cluster_backup(…)`):
    /// started, it is a new single-node cluster holding exactly the
    /// backup's state, which grows with cluster_add_learner
    Restore {
        /// The backup directory
        #[arg(long)]
        from: PathBuf,
        /// The data directory to make (absent or empty)
        #[arg(long)]
        data_dir: PathBuf,
        /// The node id the restored node will start with
        #[arg(long, default_value_t = 1)]
        node_id: u64,
    },
}

/// The same settings as read from the TOML file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    node_id: Option<u64>,
    data_dir: Option<PathBuf>,
    sql_addr: Option<SocketAddr>,
    raft_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    snapshot_every: Option<u64>,
    timeout_secs: Option<u64>,
    read_confirm: Option<ReadConfirm>,
    log: Option<String>,
    join: Option<String>,
    no_init: Option<bool>,
    init: Option<bool>,
    auth: Option<AuthMode>,
    superuser_password_file: Option<PathBuf>,
    certs_dir: Option<PathBuf>,
    require_tls: Option<bool>,
    insecure: Option<bool>,
    log_statements: Option<bool>,
    /// The `[limits]` table.
    #[serde(default)]
    limits: LimitArgs,
}

/// What a node with an empty data directory does.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// Form a single-voter cluster.
    Init,
    /// Ask the member serving SQL at this address to add this node.
    Join(String),
    /// Wait to be added.
    Wait,
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub node_id: u64,
    pub data_dir: PathBuf,
    pub sql_addr: SocketAddr,
    pub raft_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub snapshot_every: u64,
    pub timeout_secs: u64,
    pub read_confirm: ReadConfirm,
    pub log: String,
    pub start: Start,
    pub auth: AuthMode,
    /// The password for `postgres`, from the environment or a file.
    pub superuser_password: Option<String>,
    pub certs_dir: Option<PathBuf>,
    pub require_tls: bool,
    pub insecure: bool,
    pub log_statements: bool,
    pub limits: Limits,
}

impl Config {
    /// Why this configuration must not start: a non-loopback address
    /// without passwords and TLS, unless --insecure says so.
    pub fn exposure(&self) -> Option<String> {
        if self.insecure || (self.auth == AuthMode::Scram && self.certs_dir.is_some()) {
            return None;
        }
        let exposed = [("SQL", self.sql_addr), ("Raft", self.raft_addr)]
            .into_iter()
            .find(|(_, a)| !a.ip().is_loopback())?;
        Some(format!(
            "refusing to listen on {} address {} without --auth scram and TLS (--certs-dir); give --insecure to allow anyone who reaches it to read and change everything",
            exposed.0, exposed.1
        ))
    }
}

impl Config {
    pub fn load(args: Args) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let addr = |s: &str| s.parse::<SocketAddr>().expect("valid default address");
        let config = Config {
            node_id: args.node_id.or(file.node_id).unwrap_or(1),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./bucketdb-data")),
            sql_addr: args
                .sql_addr
                .or(file.sql_addr)
                .unwrap_or_else(|| addr("127.0.0.1:5433")),
            raft_addr: args
                .raft_addr
                .or(file.raft_addr)
                .unwrap_or_else(|| addr("127.0.0.1:7433")),
            http_addr: args
                .http_addr
                .or(file.http_addr)
                .unwrap_or_else(|| addr("127.0.0.1:8433")),
            snapshot_every: args
                .snapshot_every
                .or(file.snapshot_every)
                .unwrap_or(10_000),
            timeout_secs: args.timeout_secs.or(file.timeout_secs).unwrap_or(5),
            read_confirm: args.read_confirm.or(file.read_confirm).unwrap_or_default(),
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            start: match (
                args.join.or(file.join),
                args.no_init || file.no_init == Some(true),
                args.init || file.init == Some(true),
            ) {
                (Some(_), true, _) => anyhow::bail!("--join and --no-init exclude each other"),
                (_, true, true) | (Some(_), _, true) => {
                    anyhow::bail!("--init excludes --join and --no-init")
                }
                (Some(addr), false, false) => Start::Join(addr),
                (None, true, false) => Start::Wait,
                (None, false, _) => Start::Init,
            },
            auth: args.auth.or(file.auth).unwrap_or_default(),
            superuser_password: match args
                .superuser_password_file
                .or(file.superuser_password_file)
            {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                ),
                None => std::env::var("BUCKETDB_SUPERUSER_PASSWORD").ok(),
            }
            .filter(|p| !p.is_empty()),
            certs_dir: args.certs_dir.or(file.certs_dir),
            require_tls: args.require_tls || file.require_tls == Some(true),
            insecure: args.insecure || file.insecure == Some(true),
            log_statements: args.log_statements || file.log_statements == Some(true),
            limits: args.limits.over(file.limits),
        };
        config
            .limits
            .validate()
            .map_err(|e| anyhow::anyhow!("limits: {e}"))?;
        anyhow::ensure!(
            !config.require_tls || config.certs_dir.is_some(),
            "--require-tls needs --certs-dir"
        );
        anyhow::ensure!(config.node_id > 0, "--node-id must be positive");
        anyhow::ensure!(
            config.snapshot_every > 0,
            "--snapshot-every must be positive"
        );
        anyhow::ensure!(config.timeout_secs > 0, "--timeout-secs must be positive");
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "node_id = 7\nsql_addr = \"127.0.0.1:6000\"\n").unwrap();
        let args = Args::try_parse_from([
            "bucketdb",
            "--config",
            path.to_str().unwrap(),
            "--node-id",
            "9",
        ])
        .unwrap();
        let c = Config::load(args).unwrap();
        assert_eq!(c.node_id, 9);
        assert_eq!(c.sql_addr, "127.0.0.1:6000".parse().unwrap());
        assert_eq!(c.http_addr, "127.0.0.1:8433".parse().unwrap());
        assert_eq!(c.data_dir, PathBuf::from("./bucketdb-data"));
        assert_eq!(c.start, Start::Init);
    }

    #[test]
    fn join_and_no_init() {
        let c =
            Config::load(Args::try_parse_from(["bucketdb", "--join", "10.0.0.1:5433"]).unwrap())
                .unwrap();
        assert_eq!(c.start, Start::Join("10.0.0.1:5433".into()));
        let c = Config::load(Args::try_parse_from(["bucketdb", "--no-init"]).unwrap()).unwrap();
        assert_eq!(c.start, Start::Wait);
        assert!(Args::try_parse_from(["bucketdb", "--no-init", "--join", "a:1"]).is_err());
        assert!(Args::try_parse_from(["bucketdb", "--init", "--join", "a:1"]).is_err());
        let c = Config::load(Args::try_parse_from(["bucketdb", "--init"]).unwrap()).unwrap();
        assert_eq!(c.start, Start::Init);
    }

    #[test]
    fn exposed_addresses_need_scram_and_tls_or_insecure() {
        let load = |extra: &[&str]| {
            let mut args = vec!["bucketdb", "--sql-addr", "0.0.0.0:5433"];
            args.extend_from_slice(extra);
            Config::load(Args::try_parse_from(args).unwrap()).unwrap()
        };
        assert!(load(&[])
            .exposure()
            .unwrap()
            .contains("SQL address 0.0.0.0:5433"));
        assert!(load(&["--auth", "scram"]).exposure().is_some());
        assert!(load(&["--auth", "scram", "--certs-dir", "/c"])
            .exposure()
            .is_none());
        assert!(load(&["--insecure"]).exposure().is_none());
        let local = Config::load(Args::try_parse_from(["bucketdb"]).unwrap()).unwrap();
        assert!(local.exposure().is_none());
        assert_eq!(local.auth, AuthMode::Trust);
    }

    #[test]
    fn auth_from_the_file_and_password_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\nignored\n").unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            format!("auth = \"scram\"\nsuperuser_password_file = {:?}\n", pw),
        )
        .unwrap();
        let args = Args::try_parse_from(["bucketdb", "--config", path.to_str().unwrap()]).unwrap();
        let c = Config::load(args).unwrap();
        assert_eq!(c.auth, AuthMode::Scram);
        assert_eq!(c.superuser_password.as_deref(), Some("s3cret"));
        assert!(Args::try_parse_from(["bucketdb", "--auth", "md5"]).is_err());
    }

    #[test]
    fn limits_from_flags_environment_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[limits]\nmax_connections = 3\nmax_row_bytes = 1048576\n",
        )
        .unwrap();
        let args = Args::try_parse_from([
            "bucketdb",
            "--config",
            path.to_str().unwrap(),
            "--max-value-bytes",
            "1000",
        ])
        .unwrap();
        let c = Config::load(args).unwrap();
        assert_eq!(c.limits.max_connections, 3);
        assert_eq!(c.limits.max_row_bytes, 1 << 20);
        assert_eq!(c.limits.max_value_bytes, 1000);
        assert_eq!(c.limits.idle_in_transaction_session_timeout_secs, 300);
        let bad = Args::try_parse_from(["bucketdb", "--max-row-bytes", "10"]).unwrap();
        assert!(Config::load(bad).is_err());
        std::fs::write(&path, "[limits]\nmax_conections = 3\n").unwrap();
        let args = Args::try_parse_from(["bucketdb", "--config", path.to_str().unwrap()]).unwrap();
        assert!(Config::load(args).is_err());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "nod_id = 7\n").unwrap();
        let args = Args::try_parse_from(["bucketdb", "--config", path.to_str().unwrap()]).unwrap();
        assert!(Config::load(args).is_err());
    }
}
