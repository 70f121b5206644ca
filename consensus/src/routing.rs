//! Carrying a request to the leader: find it (waiting while an election
//! runs), do the work here if this node leads, or forward it over the node
//! transport, and try again while leadership moves, up to a deadline.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use openraft::async_runtime::WatchReceiver;

use crate::error::ConsensusError;
use crate::node::RaftNode;
use crate::transport::{CallError, Request, Response};
use crate::types::NodeInfo;

/// Pause between attempts while leadership is moving.
const RETRY_PAUSE: Duration = Duration::from_millis(25);

/// Where a request that needs the leader goes.
pub(crate) enum Route {
    Here,
    /// The leader's node id and how to reach it.
    Leader(u64, NodeInfo),
}

impl RaftNode {
    /// Finds the leader, waiting up to `timeout` for one to be known.
    async fn route(&self, timeout: Duration) -> Result<Route, ConsensusError> {
        let leader = self.wait_for_leader_within(timeout).await?;
        if leader == self.node_id() {
            return Ok(Route::Here);
        }
        // Only the leader's entry is copied: this runs before every read
        // and write a follower forwards.
        let info = (self.raft.metrics().borrow_watched())
            .membership_config
            .membership()
            .get_node(&leader)
            .cloned();
        match info {
            Some(info) => Ok(Route::Leader(leader, info)),
            None => Err(ConsensusError::Unavailable(format!(
                "leader {leader} is not in this node's membership yet"
            ))),
        }
    }

    /// Runs `attempt` against the current leader until it gives an answer
    /// other than "not the leader" / "unavailable", or `timeout` passes.
    /// `attempt` gets the route and the time left.
    pub(crate) async fn on_leader<T>(
        &self,
        timeout: Duration,
        attempt: impl Fn(RaftNode, Route, Duration) -> BoxFuture<'static, Result<T, ConsensusError>>,
    ) -> Result<T, ConsensusError> {
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let result = match self.route(remaining).await {
                Ok(route) => attempt(self.clone(), route, remaining).await,
                Err(e) => Err(e),
            };
            match result {
                Err(ConsensusError::NotLeader { .. } | ConsensusError::Unavailable(_))
                    if Instant::now() + RETRY_PAUSE < deadline =>
                {
                    tokio::time::sleep(RETRY_PAUSE).await
                }
                Err(ConsensusError::NotLeader { leader }) => {
                    return Err(ConsensusError::Unavailable(format!(
                        "no leader accepted the request within {timeout:?} (last known leader: {leader:?})"
                    )))
                }
                other => return other,
            }
        }
    }

    /// Sends `req` to the leader. A request that never left is
    /// `Unavailable` (safe to retry); one without a reply is `Ambiguous`.
    pub(crate) async fn forward(
        &self,
        leader: u64,
        node: &NodeInfo,
        req: Request,
        timeout: Duration,
    ) -> Result<Response, ConsensusError> {
        match self.peers.call(leader, node, &req, timeout).await {
            Ok(Response::Error(e)) => Err(e.into()),
            Ok(reply) => Ok(reply),
            Err(e @ CallError::NotSent { .. }) => Err(ConsensusError::Unavailable(e.to_string())),
            Err(e @ CallError::NoReply { .. }) => Err(ConsensusError::Ambiguous(e.to_string())),
        }
    }
}
