//! Counts of what the node transport turned away, for `/metrics`.

use std::sync::atomic::AtomicU64;

#[derive(Debug, Default)]
pub struct Refusals {
    /// Connections that failed mutual TLS (plaintext, unknown CA, no
    /// client certificate).
    pub tls: AtomicU64,
    /// Connections whose hello was refused (another cluster, another
    /// node, not a hello at all).
    pub hello: AtomicU64,
    /// Requests from a non-member, or a Raft message claiming another
    /// sender.
    pub requests: AtomicU64,
    /// Snapshots refused: corrupt, truncated, or over the size bound.
    pub snapshots: AtomicU64,
}
