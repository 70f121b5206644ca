//! openraft's view of the node transport: one client per target node, all
//! sharing the node's connection pool.

use std::future::Future;
use std::time::Duration;

use bucketdb_storage::limits::op_bytes;
use openraft::entry::RaftEntry;
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{EntryOf, LogIdOf, SnapshotOf, VoteOf};
use openraft::{EntryPayload, OptionalSend, RaftNetworkFactory, RaftNetworkV2};

use crate::state_machine::SnapshotFile;
use crate::transport::{CallError, Peers, Request, Response};
use crate::types::{Command, NodeInfo, TypeConfig};

/// Time allowed for an append that carries entries.
const APPEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes of entries one append carries at most (at least one entry): far
/// below a frame, which the largest write (`max_write_bytes`) also fits.
const APPEND_BYTES: usize = 32 << 20;

/// Bytes an entry takes in an append, near enough to bound a frame.
fn entry_bytes(entry: &EntryOf<TypeConfig>) -> usize {
    match &entry.payload {
        EntryPayload::Normal(Command::Write(batch)) => {
            64 + batch.ops.iter().map(op_bytes).sum::<usize>()
                + batch
                    .preconditions
                    .iter()
                    .map(|p| 64 + p.key.len())
                    .sum::<usize>()
        }
        _ => 256,
    }
}

/// Keeps the longest prefix of `rpc`'s entries within `budget` bytes (one
/// entry at least). When entries were left out, the commit index sent goes
/// no further than the last entry sent, and the log id of that entry is
/// returned: what a success matches.
fn fit_bytes(
    rpc: &mut AppendEntriesRequest<TypeConfig>,
    budget: usize,
) -> Option<LogIdOf<TypeConfig>> {
    let mut total = 0;
    let keep = rpc
        .entries
        .iter()
        .position(|e| {
            total += entry_bytes(e);
            total > budget
        })?
        .max(1);
    if keep >= rpc.entries.len() {
        return None;
    }
    rpc.entries.truncate(keep);
    let last = rpc.entries.last().map(|e| e.log_id());
    if rpc.leader_commit > last {
        rpc.leader_commit = last;
    }
    last
}

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
        mut rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        // A backlog of large entries goes in pieces that each fit a frame:
        // the rest is asked for again after a partial success.
        let sent_up_to = fit_bytes(&mut rpc, APPEND_BYTES);
        // openraft gives every append the heartbeat interval; a batch of
        // large entries to a catching-up node (which fsyncs them) needs
        // longer, or it would time out and be resent forever.
        let option = if rpc.entries.is_empty() {
            option
        } else {
            RPCOption::new(option.hard_ttl().max(APPEND_TIMEOUT))
        };
        match self.call(Request::AppendEntries(rpc), &option).await? {
            Response::AppendEntries(AppendEntriesResponse::Success) if sent_up_to.is_some() => {
                Ok(AppendEntriesResponse::PartialSuccess(sent_up_to))
            }
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

#[cfg(test)]
mod tests {
    use bucketdb_storage::{Datum, KvBatch, KvOp};
    use openraft::testing::log_id;
    use openraft::Entry;

    use super::*;

    fn write(index: u64, bytes: usize) -> EntryOf<TypeConfig> {
        Entry {
            log_id: log_id::<TypeConfig>(1, 1, index),
            payload: EntryPayload::Normal(Command::Write(KvBatch {
                ops: vec![KvOp::Put {
                    key: b"k".to_vec(),
                    columns: vec![Datum::Text("x".repeat(bytes))],
                }],
                ..Default::default()
            })),
        }
    }

    fn append(entries: Vec<EntryOf<TypeConfig>>) -> AppendEntriesRequest<TypeConfig> {
        AppendEntriesRequest {
            vote: VoteOf::<TypeConfig>::new_committed(1, 1),
            prev_log_id: None,
            leader_commit: Some(log_id::<TypeConfig>(1, 1, 10)),
            entries,
        }
    }

    #[test]
    fn an_append_is_cut_to_its_byte_budget_and_commits_no_further() {
        let mut rpc = append((1..=10).map(|i| write(i, 1000)).collect());
        let last = fit_bytes(&mut rpc, 3500);
        assert_eq!(rpc.entries.len(), 3);
        assert_eq!(last, Some(log_id::<TypeConfig>(1, 1, 3)));
        assert_eq!(rpc.leader_commit, last);
        // One entry over the budget still goes, alone.
        let mut rpc = append(vec![write(1, 10_000), write(2, 10)]);
        assert_eq!(
            fit_bytes(&mut rpc, 3500),
            Some(log_id::<TypeConfig>(1, 1, 1))
        );
        assert_eq!(rpc.entries.len(), 1);
        // Within the budget, nothing changes.
        let mut rpc = append((1..=3).map(|i| write(i, 100)).collect());
        assert_eq!(fit_bytes(&mut rpc, 3500), None);
        assert_eq!(rpc.entries.len(), 3);
        assert_eq!(rpc.leader_commit, Some(log_id::<TypeConfig>(1, 1, 10)));
    }
}
