//! The messages nodes exchange: openraft's RPCs, and the cluster's own
//! requests that a follower carries to the leader for its clients.

use bucketdb_storage::{ApplyOutcome, KvBatch, StateDigest};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotMetaOf, VoteOf};
use serde::{Deserialize, Serialize};

use crate::cluster::{Member, MembershipChange};
use crate::error::ConsensusError;
use crate::node::Confirm;
use crate::types::TypeConfig;

#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    PreVote(VoteRequest<TypeConfig>),
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// A whole snapshot follows as raw chunk frames, ended by an empty one.
    Snapshot {
        vote: VoteOf<TypeConfig>,
        meta: SnapshotMetaOf<TypeConfig>,
    },
    /// A client's write, planned on a follower, for the leader to propose.
    Propose(KvBatch),
    /// The leader's read index, confirmed as asked; the follower then
    /// serves the read once it has applied it.
    ReadIndex(Confirm),
    /// A membership change an operator sent to a follower.
    ChangeMembership(MembershipChange),
    /// The leader's view of every member (`cluster_nodes()`).
    Members,
    /// Put a check entry in the log (`cluster_check()`), on the leader.
    Check,
    /// This member's digest at the check entry of that index.
    Digest(u64),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Response {
    AppendEntries(AppendEntriesResponse<TypeConfig>),
    Vote(VoteResponse<TypeConfig>),
    TransferLeader(TransferLeaderResponse<TypeConfig>),
    Snapshot(SnapshotResponse<TypeConfig>),
    Proposed(ApplyOutcome),
    ReadIndex(u64),
    /// The membership change is done; the log index it committed at.
    Changed(Option<u64>),
    Members(Vec<Member>),
    /// The log index of the check entry.
    Checked(u64),
    Digest(Result<StateDigest, String>),
    Error(RemoteError),
}

/// A [`ConsensusError`] as it crosses the wire.
#[derive(Debug, Serialize, Deserialize)]
pub enum RemoteError {
    NotLeader { leader: Option<u64> },
    Unavailable(String),
    Ambiguous(String),
    Refused(String),
    NotCaughtUp(String),
    Fatal(String),
    TooLarge(bucketdb_storage::LimitExceeded),
    DiskFull(String),
}

impl From<ConsensusError> for RemoteError {
    fn from(e: ConsensusError) -> Self {
        match e {
            ConsensusError::NotLeader { leader } => RemoteError::NotLeader { leader },
            ConsensusError::Unavailable(m) => RemoteError::Unavailable(m),
            ConsensusError::Ambiguous(m) => RemoteError::Ambiguous(m),
            ConsensusError::Refused(m) => RemoteError::Refused(m),
            ConsensusError::NotCaughtUp(m) => RemoteError::NotCaughtUp(m),
            ConsensusError::TooLarge(e) => RemoteError::TooLarge(e),
            ConsensusError::DiskFull(m) => RemoteError::DiskFull(format!("on the leader: {m}")),
            other => RemoteError::Fatal(other.to_string()),
        }
    }
}

impl From<RemoteError> for ConsensusError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::NotLeader { leader } => ConsensusError::NotLeader { leader },
            RemoteError::Unavailable(m) => ConsensusError::Unavailable(m),
            RemoteError::Ambiguous(m) => ConsensusError::Ambiguous(m),
            RemoteError::Refused(m) => ConsensusError::Refused(m),
            RemoteError::NotCaughtUp(m) => ConsensusError::NotCaughtUp(m),
            RemoteError::Fatal(m) => ConsensusError::Fatal(format!("on the leader: {m}")),
            RemoteError::TooLarge(e) => ConsensusError::TooLarge(e),
            RemoteError::DiskFull(m) => ConsensusError::DiskFull(m),
        }
    }
}
