//! The HTTP endpoint: `/metrics` (Prometheus), `/health` (the node does
//! its work: 503 once a fatal error stopped it, or while its disk is full),
//! `/ready` (this node knows a leader and can serve SQL).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bucketdb_consensus::RaftNode;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

#[derive(Clone)]
struct HttpState {
    node: RaftNode,
    metrics: Arc<Metrics>,
}

pub async fn serve(
    listener: TcpListener,
    node: RaftNode,
    metrics: Arc<Metrics>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .with_state(HttpState { node, metrics });
    axum::serve(listener, app).await
}

async fn health(State(s): State<HttpState>) -> (StatusCode, String) {
    match s.node.health() {
        Ok(()) => (StatusCode::OK, "ok\n".into()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn ready(State(s): State<HttpState>) -> (StatusCode, String) {
    if let Some(why) = s.node.failure() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: failed: {why}\n"),
        );
    }
    let status = s.node.status();
    match status.leader_id {
        Some(leader) => (
            StatusCode::OK,
            format!("ready: leader {leader}, role {}\n", status.state),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no leader known\n".into(),
        ),
    }
}

async fn render(State(s): State<HttpState>) -> String {
    s.metrics.render(&s.node)
}
