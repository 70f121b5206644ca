use thiserror::Error;

/// Why a proposal or a read barrier did not go through.
#[derive(Debug, Error)]
pub enum ConsensusError {
    /// This node is not the leader; the write must go to `leader`.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// No quorum or no leader within the deadline; retrying may succeed.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The node cannot go on (storage failure, shutting down).
    #[error("raft node failed: {0}")]
    Fatal(String),
    #[error(transparent)]
    Storage(#[from] bucketdb_storage::StorageError),
}
