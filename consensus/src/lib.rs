//! bucketdb consensus: openraft over the `storage` crate.
//!
//! Every write is a [`Command`] (a planned KV batch) proposed through Raft;
//! even a single node is a one-voter Raft cluster, so replication adds nodes,
//! not a second write path. Reads ask [`RaftNode::read_barrier`] for the
//! consistency their session chose, then read a [`bucketdb_storage::ReadView`].
//! Any node accepts both: a follower carries them to the leader over the
//! node transport.

mod cluster;
mod codec;
mod error;
mod log_store;
mod network;
mod node;
mod routing;
mod state_machine;
mod transport;
mod types;

pub use cluster::{Member, MembershipChange, CHANGE_TIMEOUT};
pub use error::ConsensusError;
pub use node::{Bootstrap, NodeConfig, NodeStatus, RaftNode, ReadConsistency};
pub use transport::Faults;
pub use types::{Command, CommandResponse, NodeInfo, TypeConfig};
