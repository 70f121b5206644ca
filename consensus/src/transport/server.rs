//! The receiving side: accepts peer connections and answers each request
//! with one reply. A connection is served only after mutual TLS (when
//! configured) and a hello this node welcomes (see [`super::hello`]), and
//! each request only from a member (or the leader this node follows), as
//! itself. A malformed frame closes
//! that connection only; nothing a peer sends can stop the node.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::frame;
use super::hello::{admit, refuse_request, Admission, Hello, HelloReply, MAX_HELLO};
use super::message::{RemoteError, Request, Response};
use super::tls::{BoxLink, PeerCertificate, HANDSHAKE_TIMEOUT};
use crate::node::RaftNode;
use crate::state_machine::SnapshotFile;
use crate::types::TypeConfig;

/// Serves peers until the node stops.
pub async fn serve(listener: TcpListener, node: RaftNode, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => return,
            a = listener.accept() => a,
        };
        let (conn, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("raft transport accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let node = node.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.changed() => {}
                r = connection(conn, node) => if let Err(e) = r {
                    tracing::debug!(%peer, "raft connection closed: {e}");
                }
            }
        });
    }
}

async fn connection(conn: TcpStream, node: RaftNode) -> std::io::Result<()> {
    conn.set_nodelay(true)?;
    let refusals = node.refusals();
    let (mut conn, cert): (BoxLink, _) = match node.tls() {
        Some(tls) => match tls.accept(conn).await {
            Ok((link, cert)) => (link, Some(cert)),
            Err(e) => {
                refusals.tls.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("raft connection refused: TLS: {e}");
                return Ok(());
            }
        },
        None => (Box::new(conn), None),
    };
    let Some(from) = welcome(&mut conn, &node, cert.as_ref()).await? else {
        refusals.hello.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    };
    while let Some(body) = frame::read_frame(&mut conn).await? {
        let req: Request = crate::codec::decode(&body)?;
        if let Some(why) = refuse_request(&req, from, node.admits_peer(from)) {
            refusals.requests.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("raft request refused: {why}");
            // A snapshot's chunks would follow: end the connection instead.
            return frame::send(&mut conn, &Response::Error(RemoteError::Refused(why))).await;
        }
        let reply = match req {
            Request::Snapshot { vote, meta } => {
                match receive_snapshot(&mut conn, &node, vote, meta).await? {
                    Ok(reply) => reply,
                    Err(why) => {
                        refusals.snapshots.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(from, "snapshot refused: {why}");
                        // Chunks may still be on their way: end the stream.
                        let refusal = Response::Error(RemoteError::Refused(why));
                        return frame::send(&mut conn, &refusal).await;
                    }
                }
            }
            other => answer(&node, other).await,
        };
        frame::send(&mut conn, &reply).await?;
    }
    conn.shutdown().await
}

/// Reads the caller's hello and answers it; the caller's node id if it is
/// welcome. A caller new to this node's cluster-less state gives it its
/// cluster id. Over TLS, the caller's certificate must name the node it
/// claims to be, before anything else in the hello counts.
async fn welcome(
    conn: &mut BoxLink,
    node: &RaftNode,
    cert: Option<&PeerCertificate>,
) -> std::io::Result<Option<u64>> {
    let hello = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        frame::recv_limited::<_, Hello>(conn, MAX_HELLO),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no hello"))?;
    let hello = match hello {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("raft connection refused: not a hello: {e}");
            return Ok(None);
        }
    };
    let identity = node.identity();
    let admission = match cert.and_then(|c| c.refuses(hello.from)) {
        Some(why) => Admission::Refuse(why),
        None => admit(
            &hello,
            node.node_id(),
            identity.incarnation(),
            identity.get().as_ref(),
        ),
    };
    let verdict = match admission {
        Admission::Adopt(id) => match identity.adopt(id.clone()) {
            Ok(_) => {
                tracing::info!(cluster = %id, from = hello.from, "joined cluster");
                Ok(())
            }
            Err(e) => Err(format!("cannot record the cluster id: {e}")),
        },
        Admission::Admit => Ok(()),
        Admission::Refuse(why) => Err(why),
    };
    match verdict {
        Ok(()) => {
            let incarnation = identity.incarnation().to_string();
            frame::send(conn, &HelloReply::Welcome { incarnation }).await?;
            Ok(Some(hello.from))
        }
        Err(why) => {
            tracing::warn!("raft connection refused: {why}");
            frame::send(conn, &HelloReply::Refused(why)).await?;
            Ok(None)
        }
    }
}

fn error(e: impl Into<RemoteError>) -> Response {
    Response::Error(e.into())
}

fn fatal(e: impl std::fmt::Display) -> Response {
    Response::Error(RemoteError::Fatal(e.to_string()))
}

async fn answer(node: &RaftNode, req: Request) -> Response {
    let raft = node.raft();
    match req {
        Request::AppendEntries(rpc) => match raft.append_entries(rpc).await {
            Ok(r) => Response::AppendEntries(r),
            Err(e) => fatal(e),
        },
        Request::Vote(rpc) => match raft.vote(rpc).await {
            Ok(r) => Response::Vote(r),
            Err(e) => fatal(e),
        },
        Request::PreVote(rpc) => match raft.pre_vote(rpc).await {
            Ok(r) => Response::Vote(r),
            Err(e) => fatal(e),
        },
        Request::TransferLeader(rpc) => match raft.handle_transfer_leader(rpc).await {
            Ok(r) => Response::TransferLeader(r),
            Err(e) => fatal(e),
        },
        Request::Propose(batch) => match node.propose_here(batch).await {
            Ok(o) => Response::Proposed(o),
            Err(e) => error(e),
        },
        Request::ReadIndex(confirm) => match node.read_index_here(confirm).await {
            Ok(i) => Response::ReadIndex(i),
            Err(e) => error(e),
        },
        Request::ChangeMembership(change) => match node.change_membership_here(change).await {
            Ok(i) => Response::Changed(i),
            Err(e) => error(e),
        },
        Request::Members => match node.members_here() {
            Ok(m) => Response::Members(m),
            Err(e) => error(e),
        },
        Request::Check => match node.propose_check_here().await {
            Ok(index) => Response::Checked(index),
            Err(e) => error(e),
        },
        Request::Digest(index) => Response::Digest(node.digest_here(index).await),
        Request::Snapshot { .. } => fatal("snapshot request out of place"),
    }
}

/// Writes the chunks that follow a snapshot request into a file beside the
/// node's snapshots, checks it whole, then hands it to Raft to install. The
/// file is removed if Raft did not keep it (a stale leader, an older
/// snapshot). A snapshot that is too big, truncated or corrupt is refused
/// (the inner `Err`) before Raft sees it: the node keeps its state and its
/// own snapshots.
async fn receive_snapshot(
    conn: &mut BoxLink,
    node: &RaftNode,
    vote: VoteOf<TypeConfig>,
    meta: SnapshotMetaOf<TypeConfig>,
) -> std::io::Result<Result<Response, String>> {
    let path = node.incoming_snapshot_path();
    let received = write_chunks(conn, &path, node).await;
    let checked = match received {
        Ok(Ok(())) => {
            let file = path.clone();
            match tokio::task::spawn_blocking(move || bucketdb_storage::verify_snapshot(&file))
                .await
            {
                Ok(verified) => verified.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(format!("checking the snapshot: {e}")),
            }
        }
        Ok(Err(why)) => Err(why),
        Err(e) => Err(e.to_string()),
    };
    if let Err(why) = checked {
        let _ = tokio::fs::remove_file(&path).await;
        return Ok(Err(why));
    }
    let snapshot = SnapshotOf::<TypeConfig, SnapshotFile> {
        meta,
        snapshot: SnapshotFile { path: path.clone() },
    };
    let reply = match node.raft().install_full_snapshot(vote, snapshot).await {
        Ok(r) => Response::Snapshot(r),
        Err(e) => fatal(e),
    };
    let _ = tokio::fs::remove_file(&path).await;
    Ok(Ok(reply))
}

/// Writes a snapshot's chunks to `path` until the empty chunk that ends
/// them; the inner `Err` when the snapshot outgrows what this node takes.
async fn write_chunks(
    conn: &mut BoxLink,
    path: &PathBuf,
    node: &RaftNode,
) -> std::io::Result<Result<(), String>> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut bytes = 0u64;
    loop {
        match frame::read_frame(conn).await? {
            Some(chunk) if chunk.is_empty() => break,
            Some(chunk) => {
                bytes += chunk.len() as u64;
                if let Err(why) = node.snapshot_room(bytes) {
                    return Ok(Err(why));
                }
                file.write_all(&chunk).await?
            }
            None => return Ok(Err("snapshot stream ended early".into())),
        }
    }
    file.sync_all().await?;
    Ok(Ok(()))
}
