//! bucketdb consensus: openraft over the `storage` crate.
//!
//! Every write is a [`Command`] (a planned KV batch) proposed through Raft;
//! even a single node is a one-voter Raft cluster, so replication adds nodes,
//! not a second write path. Reads ask [`RaftNode::read_barrier`] for the
//! consistency their session chose, then read a [`bucketdb_storage::ReadView`].
//! Any node accepts both: a follower carries them to the leader over the
//! node transport.

mod backup;
mod check;
mod cluster;
mod codec;
mod error;
mod guard;
mod identity;
mod lease;
mod log_store;
mod network;
mod node;
mod read_batch;
mod routing;
mod snapshot_schedule;
mod state_machine;
mod transport;
mod types;

pub use backup::{restore, BackupError, BackupInfo};
pub use bucketdb_storage::{LimitExceeded, Limits};
pub use check::CheckReport;
pub use cluster::{Member, MembershipChange, CATCH_UP_TIMEOUT, CHANGE_TIMEOUT};
pub use error::ConsensusError;
pub use node::{Bootstrap, Confirm, NodeConfig, NodeStatus, RaftNode, ReadConsistency};
pub use transport::{node_cert_name, Faults, NodeTls};
pub use types::{Command, CommandResponse, NodeInfo, TypeConfig};

/// The node protocol's messages and framing, for tests and tools that
/// speak to a node's Raft port as a peer (or a stranger) would.
pub mod wire {
    pub use crate::identity::ClusterId;
    pub use crate::transport::{Hello, HelloReply, Request, Response, GROUP, PROTOCOL};

    /// `msg` as one frame: its length, then its encoding.
    pub fn frame<T: serde::Serialize>(msg: &T) -> std::io::Result<Vec<u8>> {
        let body = crate::codec::encode(msg)?;
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend(body);
        Ok(out)
    }

    /// Decodes a frame's body (what follows its length).
    pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> std::io::Result<T> {
        crate::codec::decode(body)
    }
}
