//! Configuration: flags, `BUCKETDB_*` environment variables and a TOML file
//! (`--config`), in that order of precedence, then built-in defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use serde::Deserialize;

/// bucketdb: a replicated metadata database for object storage that speaks
/// the PostgreSQL wire protocol.
///
/// With an empty data directory and no other option, the node initialises a
/// single-voter cluster and serves SQL at once.
#[derive(Parser, Debug, Default)]
#[command(name = "bucketdb", version)]
pub struct Args {
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
    /// Build a snapshot and purge the Raft log every this many entries [default: 10000]
    #[arg(long, env = "BUCKETDB_SNAPSHOT_EVERY")]
    pub snapshot_every: Option<u64>,
    /// Seconds a write or a linearizable read may wait for a leader or quorum [default: 5]
    #[arg(long, env = "BUCKETDB_TIMEOUT_SECS")]
    pub timeout_secs: Option<u64>,
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
    log: Option<String>,
    join: Option<String>,
    no_init: Option<bool>,
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
    pub log: String,
    pub start: Start,
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
            log: args.log.or(file.log).unwrap_or_else(|| "info".into()),
            start: match (
                args.join.or(file.join),
                args.no_init || file.no_init == Some(true),
            ) {
                (Some(_), true) => anyhow::bail!("--join and --no-init exclude each other"),
                (Some(addr), false) => Start::Join(addr),
                (None, true) => Start::Wait,
                (None, false) => Start::Init,
            },
        };
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
