//! `--join`: a new node asks a running member, over SQL like an operator
//! would, to add it as a learner (which returns once it has caught up) and
//! then to promote it to voter. With `--certs-dir` it speaks TLS to the
//! member, verified against the cluster's CA (a member may `--require-tls`).

use std::time::{Duration, Instant};

use anyhow::Context;
use bucketdb_consensus::RaftNode;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, NoTls, Socket};

use crate::tls;

/// How long to keep trying to reach the member before giving up.
const REACH_TIMEOUT: Duration = Duration::from_secs(60);

/// Joins the cluster a member at `member_sql` belongs to. Safe to repeat: a
/// node that is already a learner is only promoted, a voter is left alone.
pub async fn join(
    node: &RaftNode,
    member_sql: &str,
    raft_addr: &str,
    sql_addr: &str,
    password: Option<&str>,
    certs_dir: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let id = node.node_id() as i64;
    let status = node.status();
    if status.voters.contains(&node.node_id()) {
        return Ok(());
    }
    let client = match certs_dir {
        Some(dir) => connect(member_sql, password, tls::connector(dir)?, SslMode::Require).await?,
        None => connect(member_sql, password, NoTls, SslMode::Disable).await?,
    };
    if !status.learners.contains(&node.node_id()) {
        tracing::info!(
            member = member_sql,
            "joining: asking to be added as a learner"
        );
        client
            .query_one(
                "SELECT cluster_add_learner($1, $2, $3)",
                &[&id, &raft_addr, &sql_addr],
            )
            .await
            .context("cluster_add_learner")?;
    }
    tracing::info!("joining: caught up, asking to be promoted to voter");
    client
        .query_one("SELECT cluster_promote($1)", &[&id])
        .await
        .context("cluster_promote")?;
    tracing::info!("joined the cluster as a voter");
    Ok(())
}

/// Connects as the superuser, with its password when the cluster has one,
/// over `tls` (which `mode` says whether to insist on).
async fn connect<T>(
    member_sql: &str,
    password: Option<&str>,
    tls: T,
    mode: SslMode,
) -> anyhow::Result<Client>
where
    T: MakeTlsConnect<Socket> + Clone,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (host, port) = member_sql
        .rsplit_once(':')
        .with_context(|| format!("--join {member_sql}: expected host:port"))?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(
            port.parse()
                .with_context(|| format!("--join {member_sql}: bad port"))?,
        )
        .user(bucketdb_sql::BOOTSTRAP_SUPERUSER)
        .dbname("bucketdb")
        .application_name("bucketdb-join")
        .connect_timeout(Duration::from_secs(2));
    if let Some(p) = password {
        config.password(p);
    }
    config.ssl_mode(mode);
    let deadline = Instant::now() + REACH_TIMEOUT;
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, conn)) => {
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::warn!("join connection: {e}");
                    }
                });
                return Ok(client);
            }
            Err(e) if Instant::now() < deadline => {
                tracing::info!("joining: member {member_sql} not reachable yet: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e).with_context(|| format!("reaching {member_sql}")),
        }
    }
}
