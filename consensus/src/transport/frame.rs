//! Framing on a node-to-node TCP stream: a big-endian `u32` length, then
//! that many bytes. Messages are [`crate::codec`]-encoded; snapshot chunks
//! are raw bytes.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec;

/// Largest frame a peer may announce: an append of up to
/// `max_payload_entries` large entries fits; a larger length is a corrupt or
/// hostile stream. Memory is only taken for frames that actually arrive.
pub const MAX_FRAME: usize = 512 << 20;

pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> io::Result<()> {
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("frame of {} bytes exceeds {MAX_FRAME}", body.len()),
        ));
    }
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(body);
    w.write_all(&buf).await?;
    w.flush().await
}

/// Reads one frame; `None` when the peer closed the stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<u8>>> {
    read_frame_limited(r, MAX_FRAME).await
}

/// Reads one frame of at most `max` bytes.
pub async fn read_frame_limited<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer announced a frame of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

pub async fn send<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> io::Result<()> {
    write_frame(w, &codec::encode(msg)?).await
}

/// Reads one message; a closed stream is an error here, since a reply or a
/// request was due.
pub async fn recv<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> io::Result<T> {
    recv_limited(r, MAX_FRAME).await
}

/// Reads one message of at most `max` bytes (a hello, from a peer not yet
/// admitted).
pub async fn recv_limited<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    max: usize,
) -> io::Result<T> {
    match read_frame_limited(r, max).await? {
        Some(body) => codec::decode(&body),
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "peer closed the connection",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversized_lengths_are_refused() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        send(&mut a, &("hello".to_string(), 7u64)).await.unwrap();
        write_frame(&mut a, b"").await.unwrap();
        let got: (String, u64) = recv(&mut b).await.unwrap();
        assert_eq!(got, ("hello".to_string(), 7));
        assert_eq!(read_frame(&mut b).await.unwrap(), Some(vec![]));

        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(read_frame(&mut b).await.is_err());
        let (mut e, mut f) = tokio::io::duplex(1 << 16);
        write_frame(&mut e, &[0u8; 100]).await.unwrap();
        assert!(read_frame_limited(&mut f, 99).await.is_err());
        drop(a);
        let (mut c, d) = tokio::io::duplex(64);
        drop(d);
        assert_eq!(read_frame(&mut c).await.unwrap(), None);
    }
}
