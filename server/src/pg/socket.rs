//! One client connection's message loop: pgwire's, with what a server
//! that strangers can reach needs around it. The startup must finish within
//! a deadline; a session idle too long (in a transaction, which pins a
//! snapshot of the store, or out of one) is ended as PostgreSQL ends it; no
//! message may grow past a bound while it arrives; and a connection over
//! `max_connections` is told so (53300) and closed.
//!
//! Output is held until the server would wait for the client: pgwire
//! flushes after each of ParseComplete, BindComplete, CommandComplete and
//! ReadyForQuery, which made one statement cost four `sendto`s and four
//! client wake-ups. Like PostgreSQL, which flushes before it blocks on a
//! read, the loop sends what a message produced once no whole message is
//! waiting in the read buffer.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bucketdb_sql::{SqlError, SqlState};
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, SinkExt, StreamExt};
use pgwire::api::{ClientInfo, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{negotiate_tls, process_error, process_message, MaybeTls};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::codec::{Framed, FramedParts};

use super::{Connection, Handlers};

/// Time a client has to finish TLS, startup and authentication.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes a message may need beyond the largest statement or write it
/// carries (its framing, the read that completes it).
const MESSAGE_SLACK: usize = 1 << 20;
/// Bytes of output held back at most: a long result streams in pieces of
/// this size instead of growing the buffer.
const HOLD_MAX: usize = 64 << 10;

/// The bounds a connection is served within.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Bytes of SQL text in one Query or Parse message (54000 beyond).
    pub max_statement_bytes: usize,
    /// Bytes one message may take while it arrives; beyond, the
    /// connection is ended (54000), whatever the message.
    pub max_message_bytes: usize,
    /// Every session's `idle_in_transaction_session_timeout` to begin with.
    pub idle_in_transaction: Duration,
    /// Every session's `idle_session_timeout` to begin with.
    pub idle_session: Duration,
}

impl ConnectionLimits {
    pub fn new(
        max_statement_bytes: usize,
        max_write_bytes: usize,
        idle_in_transaction: Duration,
        idle_session: Duration,
    ) -> ConnectionLimits {
        ConnectionLimits {
            max_statement_bytes,
            max_message_bytes: max_statement_bytes.max(max_write_bytes) + MESSAGE_SLACK,
            idle_in_transaction,
            idle_session,
        }
    }
}

/// Serves one accepted socket until the client leaves or is sent away.
/// Without a `permit` the server is at `max_connections`: the client is
/// refused after its startup message (a cancel request is still served).
pub async fn serve(
    socket: TcpStream,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    conn: Arc<Connection>,
    permit: Option<OwnedSemaphorePermit>,
) -> io::Result<()> {
    let limits = conn.limits.clone();
    let Ok(negotiated) = tokio::time::timeout(STARTUP_TIMEOUT, negotiate_tls(socket, tls)).await
    else {
        return Ok(());
    };
    let Some(framed) = negotiated? else {
        return Ok(());
    };
    // The bytes read towards the message being decoded now.
    let arriving = Arc::new(AtomicUsize::new(0));
    let parts = framed.into_parts();
    let mut io_parts = FramedParts::new(
        Bounded {
            inner: parts.io,
            arriving: arriving.clone(),
            max: limits.max_message_bytes,
            held: Vec::new(),
            sent: 0,
            release: false,
        },
        parts.codec,
    );
    io_parts.read_buf = parts.read_buf;
    io_parts.write_buf = parts.write_buf;
    let mut socket = Framed::from_parts(io_parts);

    let handlers = Handlers(conn.clone());
    let startup = handlers.startup_handler();
    let simple = handlers.simple_query_handler();
    let extended = handlers.extended_query_handler();
    let copy = handlers.copy_handler();
    let cancel = handlers.cancel_handler();
    let startup_deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;

    loop {
        if !whole_message_buffered(socket.read_buffer()) {
            socket.get_mut().release = true;
            let flushed = socket.flush().await;
            socket.get_mut().release = false;
            flushed?;
        }
        let starting = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        let idle = if starting {
            Some((
                startup_deadline.saturating_duration_since(tokio::time::Instant::now()),
                None,
            ))
        } else {
            // Waiting here, no statement runs: waiting for a statement, a
            // Sync after an error, or COPY data all count as idle.
            conn.idle_timeout().await
        };
        // pgwire's decoder panics on some malformed messages (a length
        // field past the end of the body): that is a client's protocol
        // violation, answered as one.
        let decoded = AssertUnwindSafe(socket.next()).catch_unwind();
        let next = match idle {
            Some((after, why)) => match tokio::time::timeout(after, decoded).await {
                Ok(next) => next,
                Err(_) => {
                    if let Some(e) = why {
                        send_fatal(&mut socket, &e).await;
                    }
                    return Ok(());
                }
            },
            None => decoded.await,
        };
        let Ok(next) = next else {
            let e = SqlError::new(SqlState::ProtocolViolation, "invalid message format");
            send_fatal(&mut socket, &e).await;
            return Ok(());
        };
        // What is already buffered belongs to the next message.
        arriving.store(socket.read_buffer().len(), Ordering::Relaxed);
        let msg = match next {
            Some(Ok(msg)) => msg,
            Some(Err(PgWireError::IoError(e))) if e.kind() == io::ErrorKind::FileTooLarge => {
                let e = SqlError::new(SqlState::ProgramLimitExceeded, e.to_string());
                send_fatal(&mut socket, &e).await;
                linger(socket.get_mut()).await;
                return Ok(());
            }
            Some(Err(PgWireError::IoError(_))) | None => return Ok(()),
            Some(Err(e)) => {
                let e = SqlError::new(SqlState::ProtocolViolation, e.to_string());
                send_fatal(&mut socket, &e).await;
                return Ok(());
            }
        };
        if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
            return Ok(());
        }
        if permit.is_none() && !matches!(msg, PgWireFrontendMessage::CancelRequest(_)) {
            let e = SqlError::new(
                SqlState::TooManyConnections,
                "sorry, too many clients already",
            );
            send_fatal(&mut socket, &e).await;
            return Ok(());
        }
        let extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => msg.is_extended_query(),
        };
        if let Some(len) = statement_len(&msg).filter(|n| *n > limits.max_statement_bytes) {
            let e = SqlError::new(
                SqlState::ProgramLimitExceeded,
                format!(
                    "statement of {len} bytes exceeds max_statement_bytes ({})",
                    limits.max_statement_bytes
                ),
            );
            // As any failed statement, it fails an open transaction.
            let status = conn.statement_failed().await;
            socket.set_transaction_status(status);
            process_error(&mut socket, super::user_error(&e), extended_query).await?;
            continue;
        }
        let processed = AssertUnwindSafe(process_message(
            msg,
            &mut socket,
            startup.clone(),
            simple.clone(),
            extended.clone(),
            copy.clone(),
            cancel.clone(),
        ))
        .catch_unwind()
        .await;
        match processed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let status = conn.statement_failed().await;
                socket.set_transaction_status(status);
                process_error(&mut socket, e, extended_query).await?
            }
            // A bug: the connection ends, counted, and the node goes on.
            Err(_) => {
                conn.metrics.panicked();
                tracing::error!("a statement's handling panicked; its connection is closed");
                let e = SqlError::internal("internal error: the connection is closed");
                send_fatal(&mut socket, &e).await;
                return Ok(());
            }
        }
    }
}

/// Bytes of SQL text a message carries, if it carries a statement.
fn statement_len(msg: &PgWireFrontendMessage) -> Option<usize> {
    match msg {
        PgWireFrontendMessage::Query(q) => Some(q.query.len()),
        PgWireFrontendMessage::Parse(p) => Some(p.query.len()),
        _ => None,
    }
}

/// Whether `buf` starts with a whole message (a type byte, then a length
/// that counts itself): its answer can then go out with the last one's.
/// Startup messages have no type byte; while one is buffered this may say
/// no, which only costs a flush.
fn whole_message_buffered(buf: &[u8]) -> bool {
    match buf.get(1..5) {
        Some(len) => {
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            buf.len() > len
        }
        None => false,
    }
}

/// Tells the client why it is being disconnected (best effort: it may be
/// gone already).
async fn send_fatal<S>(socket: &mut S, e: &SqlError)
where
    S: futures::Sink<PgWireBackendMessage> + Unpin,
{
    let info = ErrorInfo::new("FATAL".to_owned(), e.code().to_owned(), e.message.clone());
    let _ = socket
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await;
    let _ = socket.close().await;
}

/// After the error that ends a connection whose client is still sending:
/// reads and drops what it sends for a moment (bounded), so that closing
/// with its bytes unread does not reset the connection before the client
/// has read the error.
async fn linger(io: &mut Bounded) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 << 10];
    let mut left = 64usize << 20;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while left > 0 {
        match tokio::time::timeout_at(deadline, io.inner.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => return,
        }
    }
}

/// The socket, failing a read once more than `max` bytes have arrived
/// towards one message (the loop resets `arriving` as each is decoded), so
/// a client announcing a huge message cannot make the server hold it.
/// Writes are held (see the module doc) until `release` is set, the
/// connection shuts down, or [`HOLD_MAX`] bytes wait.
struct Bounded {
    inner: MaybeTls,
    arriving: Arc<AtomicUsize>,
    max: usize,
    held: Vec<u8>,
    /// Bytes of `held` already written to `inner`.
    sent: usize,
    release: bool,
}

impl Bounded {
    /// Writes everything held to the socket.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.held.len() {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.held[self.sent..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.held.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        let total = self.arriving.fetch_add(read, Ordering::Relaxed) + read;
        if total > self.max {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!(
                    "message larger than {} bytes (max_statement_bytes, max_write_bytes)",
                    self.max
                ),
            )));
        }
        polled
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.held.len() >= HOLD_MAX {
            std::task::ready!(self.poll_drain(cx))?;
        }
        self.held.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.release && self.held.len() < HOLD_MAX {
            return Poll::Ready(Ok(()));
        }
        std::task::ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_drain(cx))?;
        std::task::ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::whole_message_buffered;

    #[test]
    fn a_message_counts_as_buffered_only_when_all_of_it_is() {
        // Sync: 'S', length 4 (itself), no body.
        assert!(whole_message_buffered(b"S\0\0\0\x04"));
        assert!(whole_message_buffered(b"S\0\0\0\x04Q\0"));
        // A Query announcing 9 bytes with 3 of its 5 body bytes here.
        assert!(!whole_message_buffered(b"Q\0\0\0\x09abc"));
        assert!(whole_message_buffered(b"Q\0\0\0\x09abcd\0"));
        assert!(!whole_message_buffered(b""));
        assert!(!whole_message_buffered(b"S\0\0"));
        // A length past anything this side of u32::MAX is never whole.
        assert!(!whole_message_buffered(b"Q\xff\xff\xff\xffabc"));
    }
}
