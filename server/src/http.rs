//! The HTTP endpoint: `/metrics` (Prometheus), `/health` (the process
//! serves), `/ready` (this node knows a leader and can serve SQL).

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
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(render))
        .with_state(HttpState { node, metrics });
    axum::serve(listener, app).await
}

async fn ready(State(s): State<HttpState>) -> (StatusCode, String) {
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
