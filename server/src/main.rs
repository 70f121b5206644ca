//! The `bucketdb` binary: one node, serving SQL over the PostgreSQL wire
//! protocol and an HTTP endpoint, writing through Raft onto RocksDB.

mod cert;
mod config;
mod http;
mod join;
mod limits;
mod metrics;
mod pg;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bucketdb_consensus::{
    Bootstrap, Confirm, Faults, NodeConfig, NodeInfo, NodeTls, RaftNode, CATCH_UP_TIMEOUT,
};
use bucketdb_sql::{Engine, QueryMemory};
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{Args, AuthMode, Command, Config, ReadConfirm, Start};
use crate::metrics::Metrics;

/// Rust allocations (planning, rows, protocol buffers) go through mimalloc;
/// RocksDB keeps its own C++ allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // One line with its causes: anyhow's Debug form would add a
        // backtrace wherever RUST_BACKTRACE is set.
        Err(e) => {
            eprintln!("bucketdb: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let mut args = Args::parse();
    match args.command.take() {
        Some(Command::Cert { action }) => return cert::run(action),
        Some(Command::Restore {
            from,
            data_dir,
            node_id,
        }) => {
            let restored = bucketdb_consensus::restore(&from, &data_dir, node_id)
                .with_context(|| format!("restoring {}", from.display()))?;
            println!(
                "restored {} rows at index {} into {} (node {node_id}, new cluster {})",
                restored.records,
                restored.index,
                data_dir.display(),
                restored.cluster_id
            );
            return Ok(());
        }
        None => {}
    }
    let config = Config::load(args)?;
    if let Some(why) = config.exposure() {
        eprintln!("bucketdb: {why}");
        std::process::exit(2);
    }
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log))
        .context("invalid --log filter")?;
    if config.log_statements {
        filter = filter.add_directive(pg::STATEMENT_LOG_DIRECTIVE.parse()?);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    // Bind first, so the addresses recorded in the membership are real.
    let sql_listener = TcpListener::bind(config.sql_addr)
        .await
        .with_context(|| format!("binding SQL address {}", config.sql_addr))?;
    let raft_listener = TcpListener::bind(config.raft_addr)
        .await
        .with_context(|| format!("binding Raft address {}", config.raft_addr))?;
    let http_listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("binding HTTP address {}", config.http_addr))?;
    let sql_addr = sql_listener.local_addr()?;
    let raft_addr = raft_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let node_tls = match &config.certs_dir {
        Some(dir) => Some(NodeTls::load(dir, config.node_id).context("node transport TLS")?),
        None => {
            // Loud where the port is exposed (`--insecure`), a note on
            // loopback.
            let why = "node transport is not authenticated (no --certs-dir): anyone who reaches";
            if raft_addr.ip().is_loopback() {
                tracing::info!("{why} {raft_addr} can speak Raft to this node");
            } else {
                tracing::warn!("{why} {raft_addr} can speak Raft to this node");
            }
            None
        }
    };
    let node = RaftNode::start(
        NodeConfig {
            node_id: config.node_id,
            data_dir: config.data_dir.clone(),
            info: NodeInfo {
                raft_addr: raft_addr.to_string(),
                sql_addr: sql_addr.to_string(),
                incarnation: None,
            },
            bootstrap: match config.start {
                Start::Init => Bootstrap::Single,
                Start::Join(_) | Start::Wait => Bootstrap::Wait,
            },
            snapshot_every: config.snapshot_every,
            timeout: Duration::from_secs(config.timeout_secs),
            faults: Faults::default(),
            tls: node_tls,
            limits: config
                .limits
                .writes()
                .map_err(|e| anyhow::anyhow!("limits: {e}"))?,
            min_free_disk: config.limits.min_free_disk_bytes,
            max_snapshot_bytes: config.limits.max_snapshot_bytes,
            read_confirm: match config.read_confirm {
                ReadConfirm::Lease => Confirm::Lease,
                ReadConfirm::Quorum => Confirm::Quorum,
            },
            catch_up_timeout: CATCH_UP_TIMEOUT,
        },
        raft_listener,
    )
    .await
    .with_context(|| format!("starting node in {}", config.data_dir.display()))?;

    let metrics = Arc::new(Metrics::new());
    let memory = QueryMemory {
        per_query: config.limits.query_memory_bytes as usize,
        per_node: config.limits.node_query_memory_bytes as usize,
    };
    let engine = Arc::new(Engine::new(node.clone(), memory).context("setting up the SQL engine")?);
    tokio::spawn(http::serve(http_listener, node.clone(), metrics.clone()));
    let tls = match &config.certs_dir {
        Some(dir) => Some(tls::acceptor(dir)?),
        None => None,
    };
    let auth = Arc::new(pg::AuthPolicy::new(config.auth, config.require_tls));
    let limits = &config.limits;
    let connection_limits = pg::ConnectionLimits::new(
        limits.max_statement_bytes as usize,
        limits.max_write_bytes as usize,
        Duration::from_secs(limits.idle_in_transaction_session_timeout_secs),
        Duration::from_secs(limits.idle_session_timeout_secs),
    );
    let server = tokio::spawn(pg::serve(
        sql_listener,
        engine.clone(),
        metrics,
        auth,
        tls,
        limits.max_connections as usize,
        connection_limits,
    ));

    match &config.start {
        Start::Join(member) => {
            join::join(
                &node,
                member,
                &raft_addr.to_string(),
                &sql_addr.to_string(),
                config.superuser_password.as_deref(),
                config.certs_dir.as_deref(),
            )
            .await
            .with_context(|| format!("joining the cluster through {member}"))?;
        }
        Start::Wait if !node.is_initialized().await? => {
            tracing::info!("waiting to be added to a cluster (cluster_add_learner)");
        }
        // A member restarting may find no quorum yet; it serves anyway
        // (local reads work, writes wait for a leader).
        Start::Init | Start::Wait => match node.wait_for_leader().await {
            Ok(leader) => tracing::info!(node_id = config.node_id, leader, "raft node up"),
            Err(e) => tracing::warn!(node_id = config.node_id, "serving without a leader: {e}"),
        },
    }

    if let Some(password) = &config.superuser_password {
        if node.is_initialized().await? {
            engine
                .set_superuser_password(password)
                .await
                .context("setting the superuser's password")?;
        }
    } else if config.auth == AuthMode::Scram {
        tracing::warn!("--auth scram without BUCKETDB_SUPERUSER_PASSWORD: only roles given a password can log in");
    }

    tracing::info!(%sql_addr, %raft_addr, %http_addr, data_dir = %config.data_dir.display(), "listening");
    // Tests and scripts read this line to learn the (possibly ephemeral) ports.
    println!("bucketdb ready sql={sql_addr} raft={raft_addr} http={http_addr}");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    server.abort();
    node.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
