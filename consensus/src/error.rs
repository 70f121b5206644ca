use thiserror::Error;

/// Why a proposal, a read barrier or a membership change did not go through.
#[derive(Debug, Error)]
pub enum ConsensusError {
    /// This node is not the leader and could not reach one; `leader` is the
    /// one it knows of, if any.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<u64> },
    /// No leader or no quorum within the deadline; nothing was done, and
    /// retrying may succeed.
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The request reached the log but its outcome is unknown (the leader
    /// changed or the deadline passed after it was sent): it may or may not
    /// have been applied.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
    /// A membership change that the cluster refuses, with the reason.
    #[error("{0}")]
    Refused(String),
    /// A learner was added (the change is committed) but did not catch up
    /// in time: it stays a learner, not yet fit to promote. Not retried:
    /// adding it again would change nothing.
    #[error("{0}")]
    NotCaughtUp(String),
    /// The node cannot go on (storage failure, shutting down).
    #[error("raft node failed: {0}")]
    Fatal(String),
    /// The write is bigger than this node's limits allow; nothing was done.
    #[error("{0}")]
    TooLarge(bucketdb_storage::LimitExceeded),
    /// The data directory is (nearly) full; nothing was done.
    #[error("disk full: {0}")]
    DiskFull(String),
    /// This node stopped serving after a fatal storage or Raft error.
    #[error("{0}")]
    Failed(String),
    /// A backup that could not be taken, or a restore that refused one.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    #[error(transparent)]
    Storage(#[from] bucketdb_storage::StorageError),
    /// The node's own files (its cluster id) could not be read or written.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
}

impl ConsensusError {
    /// The same error for another waiter of a shared request (see
    /// `read_batch`): what a caller may retry stays retryable; errors
    /// holding sources keep their text.
    pub(crate) fn shared(&self) -> ConsensusError {
        use ConsensusError::*;
        match self {
            NotLeader { leader } => NotLeader { leader: *leader },
            Unavailable(m) => Unavailable(m.clone()),
            Ambiguous(m) => Ambiguous(m.clone()),
            Refused(m) => Refused(m.clone()),
            NotCaughtUp(m) => NotCaughtUp(m.clone()),
            Fatal(m) => Fatal(m.clone()),
            TooLarge(l) => TooLarge(l.clone()),
            DiskFull(m) => DiskFull(m.clone()),
            Failed(m) => Failed(m.clone()),
            Backup(_) | Storage(_) | Io(_) => Fatal(self.to_string()),
        }
    }
}
