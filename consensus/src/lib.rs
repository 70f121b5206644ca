//! bucketdb consensus: openraft over the `storage` crate.
//!
//! Every write is a [`Command`] (a planned KV batch) proposed through Raft;
//! even a single node is a one-voter Raft cluster, so replication adds nodes,
//! not a second write path. Reads ask [`RaftNode::read_barrier`] for the
//! consistency their session chose, then read a [`bucketdb_storage::ReadView`].

mod codec;
mod error;
mod log_store;
mod network;
mod node;
mod state_machine;
mod types;

pub use error::ConsensusError;
pub use node::{NodeConfig, NodeStatus, RaftNode, ReadConsistency};
pub use types::{Command, CommandResponse, NodeInfo, TypeConfig};
