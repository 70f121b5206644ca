//! Framing on a node-to-node TCP stream: a big-endian `u32` length, then
//! that many bytes. Messages are [`crate::codec`]-encoded; snapshot chunks
//! are raw bytes.

use std::io;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec;

/// Largest frame a peer may announce: an append of up to
/// `max_payload_entries` large entries fits; a larger length is a corrupt or
/// hostile stream. Memory is only taken for frames that actually arrive.
pub const MAX_FRAME: usize = 512 << 20;

/// How long a peer may leave a frame half-sent before the stream is
/// dropped: a length followed by nothing must not hold a connection.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes read at a time into a frame's body, which grows as they arrive.
const READ_CHUNK: usize = 64 << 10;

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
    read_frame_within(r, max, STALL_TIMEOUT).await
}

/// Reads one frame of at most `max` bytes, its body arriving with no pause
/// longer than `stall`.
async fn read_frame_within<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
    stall: Duration,
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
    // Grown as bytes arrive, not taken at the announced length.
    let mut body = Vec::with_capacity(len.min(READ_CHUNK));
    let mut chunk = vec![0u8; len.clamp(1, READ_CHUNK)];
    while body.len() < len {
        let want = (len - body.len()).min(chunk.len());
        let n = tokio::time::timeout(stall, r.read(&mut chunk[..want]))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "peer stalled mid-frame"))??;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed the stream mid-frame",
            ));
        }
        body.extend_from_slice(&chunk[..n]);
    }
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

    #[tokio::test]
    async fn a_frame_announced_and_never_sent_is_dropped() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        // 100 MiB announced, 10 bytes sent, then silence.
        a.write_all(&(100u32 << 20).to_be_bytes()).await.unwrap();
        a.write_all(&[7; 10]).await.unwrap();
        let started = std::time::Instant::now();
        let e = read_frame_within(&mut b, MAX_FRAME, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        // A frame that arrives in pieces is whole.
        let (mut c, mut d) = tokio::io::duplex(16);
        let writer = tokio::spawn(async move {
            write_frame(&mut c, &[9u8; 200_000]).await.unwrap();
        });
        let got = read_frame(&mut d).await.unwrap().unwrap();
        assert_eq!(got, vec![9u8; 200_000]);
        writer.await.unwrap();
    }

    /// Fuzzing of the node frame decoder: whatever bytes a peer sends, a
    /// frame is read or refused and a message decoded or refused, without
    /// a panic and without taking memory the bytes do not bring.
    mod fuzz {
        use proptest::collection::vec;
        use proptest::prelude::*;

        use super::*;
        use crate::transport::{Hello, HelloReply, Request, Response};

        fn decode_all(bytes: &[u8]) {
            let _ = codec::decode::<Request>(bytes);
            let _ = codec::decode::<Response>(bytes);
            let _ = codec::decode::<Hello>(bytes);
            let _ = codec::decode::<HelloReply>(bytes);
        }

        /// Valid messages to mutate: every shape a peer sends.
        fn samples() -> Vec<Vec<u8>> {
            use bucketdb_storage::{Datum, Expect, KvBatch, KvOp, Precondition, Violation};
            let batch = KvBatch {
                preconditions: vec![Precondition {
                    key: b"k".to_vec(),
                    expect: Expect::RangeUnchanged {
                        end: Some(b"z".to_vec()),
                        rows: 3,
                        max_revision: 9,
                    },
                    violation: Violation::Conflict,
                }],
                ops: vec![KvOp::Put {
                    key: b"k".to_vec(),
                    columns: vec![Datum::Text("v".into()), Datum::Int(-1), Datum::Null],
                }],
                timestamp: 7,
            };
            vec![
                codec::encode(&Request::Propose(batch)).unwrap(),
                codec::encode(&Request::Members).unwrap(),
                codec::encode(&Request::Digest(42)).unwrap(),
                codec::encode(&Response::Checked(3)).unwrap(),
            ]
        }

        proptest! {
            #[test]
            fn any_bytes_decode_or_are_refused(mut bytes in vec(any::<u8>(), 0..2048)) {
                decode_all(&bytes);
                // With the encoding's version byte, past the first check.
                bytes.insert(0, 1);
                decode_all(&bytes);
            }

            #[test]
            fn mutated_messages_decode_or_are_refused(
                flips in vec((any::<prop::sample::Index>(), 1..=255u8), 1..6),
                cut in any::<prop::sample::Index>(),
            ) {
                for mut bytes in samples() {
                    for (at, x) in &flips {
                        let i = at.index(bytes.len());
                        bytes[i] ^= x;
                    }
                    decode_all(&bytes);
                    bytes.truncate(cut.index(bytes.len() + 1));
                    decode_all(&bytes);
                }
            }

            #[test]
            fn any_stream_reads_as_frames_or_fails(bytes in vec(any::<u8>(), 0..4096)) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
                rt.block_on(async {
                    let mut input: &[u8] = &bytes;
                    // Each frame takes at least its 4-byte length.
                    for _ in 0..=bytes.len() / 4 {
                        match read_frame_within(&mut input, 1 << 20, Duration::from_millis(50)).await {
                            Ok(Some(body)) => decode_all(&body),
                            Ok(None) | Err(_) => break,
                        }
                    }
                });
            }
        }
    }
}
