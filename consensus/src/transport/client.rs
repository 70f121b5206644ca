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
use super::message::{Request, Response};

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

#[derive(Clone, Default)]
pub struct Peers {
    idle: Arc<Mutex<HashMap<String, Vec<TcpStream>>>>,
    faults: Faults,
}

impl Peers {
    pub fn new(faults: Faults) -> Peers {
        Peers {
            idle: Arc::default(),
            faults,
        }
    }

    async fn connection(&self, target: u64, addr: &str) -> Result<TcpStream, CallError> {
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
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| not_sent(format!("connect timed out after {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| not_sent(e.to_string()))?;
        conn.set_nodelay(true)
            .map_err(|e| not_sent(e.to_string()))?;
        Ok(conn)
    }

    fn give_back(&self, addr: &str, conn: TcpStream) {
        let mut idle = self.lock();
        let list = idle.entry(addr.to_string()).or_default();
        if list.len() < IDLE_PER_PEER {
            list.push(conn);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<TcpStream>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `req` to node `target` at `addr` and waits up to `timeout` for
    /// its reply.
    pub async fn call(
        &self,
        target: u64,
        addr: &str,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let mut conn = self.connection(target, addr).await?;
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
        addr: &str,
        req: &Request,
        file: &Path,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let mut conn = self.connection(target, addr).await?;
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
