//! The node transport: length-prefixed MessagePack frames over TCP (mutual
//! TLS with `--certs-dir`), each connection opened by a hello naming the
//! cluster and both nodes, with pooled connections. It carries openraft's RPCs (append, vote, pre-vote,
//! transfer-leader, snapshot) and the cluster's own requests (forwarded
//! writes, read index, membership changes). See `docs/decisions.md` for why
//! a framed protocol rather than gRPC.

mod client;
mod faults;
mod frame;
mod hello;
mod message;
mod refusals;
pub(crate) mod server;
mod tls;

pub use client::{CallError, Caller, Peers};
pub use faults::Faults;
pub use hello::{Hello, HelloReply, GROUP, PROTOCOL};
pub use message::{Request, Response};
pub use refusals::Refusals;
pub use tls::{node_cert_name, NodeTls};
