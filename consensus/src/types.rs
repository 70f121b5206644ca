//! The openraft type configuration of bucketdb.

use std::fmt;

use bucketdb_storage::{ApplyOutcome, KvBatch};
use serde::{Deserialize, Serialize};

/// What a node is reachable at, as recorded in the replicated membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub raft_addr: String,
    pub sql_addr: String,
    /// The incarnation of the node's data directory when it was added: a
    /// node whose directory was replaced has another and is refused (see
    /// `transport::hello`). `None` in memberships written before it was
    /// recorded: not checked.
    #[serde(default)]
    pub incarnation: Option<String>,
}

impl fmt::Display for NodeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "raft={} sql={}", self.raft_addr, self.sql_addr)
    }
}

/// The application data of a log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// A planned write; its values were fixed by the leader's planner.
    Write(KvBatch),
    /// A consistency check: each replica digests its state as of this
    /// entry (see `check.rs`). Changes nothing.
    Check,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Write(b) => write!(
                f,
                "write({} ops, {} preconditions)",
                b.ops.len(),
                b.preconditions.len()
            ),
            Command::Check => f.write_str("check"),
        }
    }
}

/// What applying an entry returned to its proposer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CommandResponse {
    /// A blank or membership entry.
    Done,
    Write(ApplyOutcome),
}

openraft::declare_raft_types!(
    /// bucketdb's Raft types.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = u64,
        Node = NodeInfo,
);
