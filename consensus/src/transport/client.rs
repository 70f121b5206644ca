//! The sending side: a pool of open connections per peer address, reused
//! across requests. A connection carries one request at a time; a request
//! that needs a connection while all are busy opens another, and at most
//! [`IDLE_PER_PEER`] idle ones are kept. A connection that saw any error is
//! dropped, so the next request reconnects.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::faults::Faults;
use super::frame;
use super::hello::{Hello, HelloReply, GROUP, MAX_HELLO, PROTOCOL};
use super::message::{Request, Response};
use super::tls::{BoxLink, NodeTls, HANDSHAKE_TIMEOUT};
use crate::identity::Identity;
use crate::types::NodeInfo;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

const IDLE_PER_PEER: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Bytes of a snapshot file per frame.
const SNAPSHOT_CHUNK: usize = 1 << 20;

/// Why a request failed, split by whether the peer may have acted on it.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Nothing was sent: no connection could be made (or the link is cut).
    #[error("peer {addr} unreachable: {reason}")]
    NotSent { addr: String, reason: String },
    /// The request was sent, but no reply came back in time or the
    /// connection broke: the peer may have done it.
    #[error("no reply from {addr}: {reason}")]
    NoReply { addr: String, reason: String },
}

/// Who this node is to the peers it calls.
#[derive(Clone)]
pub struct Caller {
    pub node_id: u64,
    pub identity: Identity,
    /// Mutual TLS; `None` speaks plain TCP (loopback or `--insecure`).
    pub tls: Option<NodeTls>,
}

#[derive(Clone)]
pub struct Peers {
    idle: Arc<Mutex<HashMap<String, Vec<BoxLink>>>>,
    faults: Faults,
    caller: Caller,
    /// Why each peer last refused this node's hello, until it welcomes it
    /// again (`cluster_nodes()` shows it).
    refusals: Arc<Mutex<HashMap<u64, String>>>,
}

impl Peers {
    pub fn new(faults: Faults, caller: Caller) -> Peers {
        Peers {
            idle: Arc::default(),
            faults,
            caller,
            refusals: Arc::default(),
        }
    }

    /// Why node `target` refuses this node's connections, if it does.
    pub fn refusal_of(&self, target: u64) -> Option<String> {
        lock(&self.refusals).get(&target).cloned()
    }

    /// Asks node `target` at `addr` for its incarnation (a hello that
    /// expects none), to record when adding it to the cluster.
    pub async fn identify(&self, target: u64, addr: &str) -> Result<String, CallError> {
        let (link, incarnation) =
            self.open(target, addr, None)
                .await
                .map_err(|reason| CallError::NotSent {
                    addr: addr.to_string(),
                    reason,
                })?;
        self.give_back(addr, link);
        Ok(incarnation)
    }

    /// Opens a connection to node `target` at `addr`: TCP, TLS when
    /// configured, then the hello the callee must welcome, expecting it to
    /// be `incarnation` if known. Returns the callee's incarnation too.
    async fn open(
        &self,
        target: u64,
        addr: &str,
        incarnation: Option<&str>,
    ) -> Result<(BoxLink, String), String> {
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connect timed out after {CONNECT_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        conn.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut link: BoxLink = match &self.caller.tls {
            Some(tls) => tls
                .connect(addr, target, conn)
                .await
                .map_err(|e| format!("TLS: {e}"))?,
            None => Box::new(conn),
        };
        let hello = Hello {
            protocol: PROTOCOL,
            cluster: self.caller.identity.get(),
            group: GROUP,
            from: self.caller.node_id,
            to: target,
            to_incarnation: incarnation.map(str::to_string),
        };
        let greeted = async {
            frame::send(&mut link, &hello).await?;
            frame::recv_limited::<_, HelloReply>(&mut link, MAX_HELLO).await
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, greeted).await {
            Ok(Ok(HelloReply::Welcome { incarnation })) => {
                lock(&self.refusals).remove(&target);
                Ok((link, incarnation))
            }
            Ok(Ok(HelloReply::Refused(why))) => {
                lock(&self.refusals).insert(target, why.clone());
                Err(format!("refused: {why}"))
            }
            Ok(Err(e)) => Err(format!("hello: {e}")),
            Err(_) => Err("hello timed out".into()),
        }
    }

    async fn connection(&self, target: u64, node: &NodeInfo) -> Result<BoxLink, CallError> {
        let addr = node.raft_addr.as_str();
        let not_sent = |reason: String| CallError::NotSent {
            addr: addr.to_string(),
            reason,
        };
        if self.faults.is_blocked(target) {
            return Err(not_sent("link cut by fault injection".into()));
        }
        if let Some(conn) = self.lock().get_mut(addr).and_then(Vec::pop) {
            return Ok(conn);
        }
        self.open(target, addr, node.incarnation.as_deref())
            .await
            .map(|(link, _)| link)
            .map_err(not_sent)
    }

    fn give_back(&self, addr: &str, conn: BoxLink) {
        let mut idle = self.lock();
        let list = idle.entry(addr.to_string()).or_default();
        if list.len() < IDLE_PER_PEER {
            list.push(conn);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<BoxLink>>> {
        lock(&self.idle)
    }

    /// Sends `req` to node `target` (at `node`'s address, expected to be
    /// its incarnation) and waits up to `timeout` for its reply.
    pub async fn call(
        &self,
        target: u64,
        node: &NodeInfo,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let addr = node.raft_addr.as_str();
        let mut conn = self.connection(target, node).await?;
        let exchange = async {
            frame::send(&mut conn, req).await?;
            frame::recv::<_, Response>(&mut conn).await
        };
        let reply = self.finish(target, addr, exchange, timeout).await?;
        self.give_back(addr, conn);
        Ok(reply)
    }

    /// Streams a snapshot: the request, the file in chunks, an empty frame,
    /// then waits for the reply. The file is read chunk by chunk, never
    /// whole.
    pub async fn send_snapshot(
        &self,
        target: u64,
        node: &NodeInfo,
        req: &Request,
        file: &Path,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let addr = node.raft_addr.as_str();
        let mut conn = self.connection(target, node).await?;
        let exchange = async {
            frame::send(&mut conn, req).await?;
            let mut f = tokio::fs::File::open(file).await?;
            let mut buf = vec![0u8; SNAPSHOT_CHUNK];
            loop {
                let n = f.read(&mut buf).await?;
                frame::write_frame(&mut conn, &buf[..n]).await?;
                if n == 0 {
                    break;
                }
            }
            frame::recv::<_, Response>(&mut conn).await
        };
        let reply = self.finish(target, addr, exchange, timeout).await?;
        self.give_back(addr, conn);
        Ok(reply)
    }

    async fn finish(
        &self,
        target: u64,
        addr: &str,
        exchange: impl std::future::Future<Output = std::io::Result<Response>>,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let no_reply = |reason: String| CallError::NoReply {
            addr: addr.to_string(),
            reason,
        };
        let reply = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| no_reply(format!("timed out after {timeout:?}")))?
            .map_err(|e| no_reply(e.to_string()))?;
        // A link cut while the request was in flight loses the reply.
        if self.faults.is_blocked(target) {
            return Err(no_reply("link cut by fault injection".into()));
        }
        Ok(reply)
    }
}
