//! The node transport: length-prefixed MessagePack frames over TCP, with
//! pooled connections. It carries openraft's RPCs (append, vote, pre-vote,
//! transfer-leader, snapshot) and the cluster's own requests (forwarded
//! writes, read index, membership changes). See `docs/decisions.md` for why
//! a framed protocol rather than gRPC.

mod client;
mod faults;
mod frame;
mod message;
pub(crate) mod server;

pub use client::{CallError, Peers};
pub use faults::Faults;
pub use message::{Request, Response};
