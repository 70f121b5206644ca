//! bucketdb storage: one RocksDB instance per node.
//!
//! This crate owns the RocksDB handle and its column families, the key
//! encoding of the built-in tables, the row codec, the atomic application of
//! a planned KV batch (with its preconditions), consistent read views, and the
//! export/import of state-machine snapshots. It knows nothing about Raft or
//! SQL: `consensus` stores opaque log bytes through [`RaftLogCf`] and applies
//! [`KvBatch`]es; `sql` plans batches and reads through [`ReadView`].

mod apply;
mod batch;
mod digest;
mod error;
mod group;
pub mod keys;
pub mod limits;
mod raft_log;
mod read;
mod row;
pub mod rules;
mod snapshot;
pub mod stats;
mod store;
pub mod versioning;

pub use apply::{ApplyOutcome, Rejection};
pub use batch::{Expect, KvBatch, KvOp, Precondition, Violation};
pub use digest::StateDigest;
pub use error::StorageError;
pub use group::ApplyGroup;
pub use limits::{LimitExceeded, Limits};
pub use raft_log::RaftLogCf;
pub use read::{Cursor, OwnedView, ReadView};
pub use row::{Datum, StoredRow};
pub use snapshot::{sync_parent, verify_snapshot, Exported, SnapshotReader, SnapshotWriter};
pub use store::Store;
