//! openraft's view of the node transport: one client per target node, all
//! sharing the node's connection pool.

use std::future::Future;
use std::time::Duration;

use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::{OptionalSend, RaftNetworkFactory, RaftNetworkV2};

use crate::state_machine::SnapshotFile;
use crate::transport::{CallError, Peers, Request, Response};
use crate::types::{NodeInfo, TypeConfig};

/// Time allowed for an append that carries entries.
const APPEND_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Network {
    pub peers: Peers,
}

pub struct PeerClient {
    target: u64,
    node: NodeInfo,
    peers: Peers,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &NodeInfo) -> PeerClient {
        PeerClient {
            target,
            node: node.clone(),
            peers: self.peers.clone(),
        }
    }
}

fn rpc_error(e: CallError) -> RPCError<TypeConfig> {
    match e {
        CallError::NotSent { .. } => RPCError::Unreachable(Unreachable::new(&e)),
        CallError::NoReply { .. } => RPCError::Network(NetworkError::new(&e)),
    }
}

impl PeerClient {
    async fn call(
        &self,
        req: Request,
        option: &RPCOption,
    ) -> Result<Response, RPCError<TypeConfig>> {
        let reply = self
            .peers
            .call(self.target, &self.node, &req, option.soft_ttl())
            .await
            .map_err(rpc_error)?;
        match reply {
            // The peer could not serve it (it is shutting down): to openraft
            // that is a network fault, retried after backoff.
            Response::Error(e) => Err(RPCError::Network(NetworkError::from_string(format!(
                "node {} failed the request: {e:?}",
                self.target
            )))),
            other => Ok(other),
        }
    }

    fn unexpected(&self, what: &str) -> RPCError<TypeConfig> {
        RPCError::Network(NetworkError::from_string(format!(
            "node {} answered {what} with an unexpected message",
            self.target
        )))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // openraft gives every append the heartbeat interval; a batch of
        // large entries to a catching-up node (which fsyncs them) needs
        // longer, or it would time out and be resent forever.
        let option = if rpc.entries.is_empty() {
            option
        } else {
            RPCOption::new(option.hard_ttl().max(APPEND_TIMEOUT))
        };
        match self.call(Request::AppendEntries(rpc), &option).await? {
            Response::AppendEntries(r) => Ok(r),
            _ => Err(self.unexpected("append-entries")),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(Request::Vote(rpc), &option).await? {
            Response::Vote(r) => Ok(r),
            _ => Err(self.unexpected("vote")),
        }
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(Request::PreVote(rpc), &option).await? {
            Response::Vote(r) => Ok(r),
            _ => Err(self.unexpected("pre-vote")),
        }
    }

    async fn transfer_leader(
        &mut self,
        rpc: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(Request::TransferLeader(rpc), &option).await? {
            Response::TransferLeader(r) => Ok(r),
            _ => Err(self.unexpected("transfer-leader")),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, SnapshotFile>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let req = Request::Snapshot {
            vote,
            meta: snapshot.meta.clone(),
        };
        let send = self.peers.send_snapshot(
            self.target,
            &self.node,
            &req,
            &snapshot.snapshot.path,
            option.hard_ttl(),
        );
        let reply = tokio::select! {
            closed = cancel => return Err(StreamingError::Closed(closed)),
            reply = send => reply,
        };
        match reply {
            Ok(Response::Snapshot(r)) => Ok(r),
            Ok(Response::Error(e)) => Err(StreamingError::Network(NetworkError::from_string(
                format!("node {} refused the snapshot: {e:?}", self.target),
            ))),
            Ok(_) => Err(StreamingError::Network(NetworkError::from_string(
                "unexpected reply to a snapshot",
            ))),
            Err(e @ CallError::NotSent { .. }) => {
                Err(StreamingError::Unreachable(Unreachable::new(&e)))
            }
            Err(e) => Err(StreamingError::Network(NetworkError::new(&e))),
        }
    }
}
