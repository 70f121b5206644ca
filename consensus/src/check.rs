//! `cluster_check()`: do the replicas hold the same state?
//!
//! A check is an entry in the log. Each replica, applying it, digests its
//! rows as of exactly that entry (an owned RocksDB snapshot taken in the
//! apply loop, digested beside it), so the digests of replicas that agree
//! are equal whatever else they have applied since. The node that runs the
//! check proposes the entry and asks every member for its digest at it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bucketdb_storage::{StateDigest, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::error::ConsensusError;
use crate::node::{unexpected_reply, RaftNode};
use crate::routing::Route;
use crate::transport::{Request, Response};
use crate::types::{Command, CommandResponse};

/// Digests of the most recent checks kept by a replica.
const KEPT: usize = 16;

/// One member's answer to a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub node_id: u64,
    /// The log index of the check entry every digest is taken at.
    pub index: u64,
    /// The member's digest, or why it gave none.
    pub digest: Result<StateDigest, String>,
}

/// The digests a replica took at check entries, by log index.
#[derive(Clone, Default)]
pub(crate) struct Digests {
    taken: Arc<Mutex<BTreeMap<u64, Result<StateDigest, String>>>>,
    done: Arc<Notify>,
}

impl Digests {
    /// Digests the state applied up to `index`, now, beside the apply loop.
    pub(crate) fn take(&self, store: &Store, index: u64) {
        let view = store.owned_view();
        let digests = self.clone();
        tokio::task::spawn_blocking(move || {
            let digest = view.digest().map_err(|e| e.to_string());
            let mut taken = digests.taken.lock().unwrap_or_else(|p| p.into_inner());
            taken.insert(index, digest);
            while taken.len() > KEPT {
                taken.pop_first();
            }
            drop(taken);
            digests.done.notify_waiters();
        });
    }

    /// The digest taken at `index`, waiting up to `timeout` for it.
    pub(crate) async fn at(&self, index: u64, timeout: Duration) -> Result<StateDigest, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done = self.done.notified();
            if let Some(d) = self
                .taken
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&index)
            {
                return d.clone();
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                return Err(format!("no digest at index {index} within {timeout:?}"));
            }
        }
    }
}

impl RaftNode {
    /// Proposes a check and gathers every member's digest at it.
    pub async fn check(&self) -> Result<Vec<CheckReport>, ConsensusError> {
        let timeout = self.config.timeout;
        let index = self
            .on_leader(timeout, |node, route, remaining| {
                Box::pin(async move {
                    match route {
                        Route::Here => node.propose_check_here().await,
                        Route::Leader(id, info) => {
                            match node.forward(id, &info, Request::Check, remaining).await? {
                                Response::Checked(index) => Ok(index),
                                _ => Err(unexpected_reply("a check")),
                            }
                        }
                    }
                })
            })
            .await?;
        let members = self.members().await?;
        let mut reports = Vec::with_capacity(members.len());
        for m in members {
            let digest = if m.node_id == self.node_id() {
                self.digest_here(index).await
            } else {
                let info = crate::types::NodeInfo {
                    raft_addr: m.raft_addr.clone(),
                    sql_addr: m.sql_addr.clone(),
                    incarnation: None,
                };
                match self
                    .peers
                    .call(m.node_id, &info, &Request::Digest(index), timeout * 2)
                    .await
                {
                    Ok(Response::Digest(d)) => d,
                    Ok(Response::Error(e)) => Err(format!("{e:?}")),
                    Ok(_) => Err("an unexpected reply".into()),
                    Err(e) => Err(e.to_string()),
                }
            };
            reports.push(CheckReport {
                node_id: m.node_id,
                index,
                digest,
            });
        }
        Ok(reports)
    }

    /// On the leader: puts a check entry in the log; its index.
    pub(crate) async fn propose_check_here(&self) -> Result<u64, ConsensusError> {
        self.failure.check()?;
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.raft.client_write(Command::Check)).await {
            Err(_) => Err(ConsensusError::Ambiguous(format!(
                "check not committed within {timeout:?}"
            ))),
            Ok(Err(e)) => Err(match e.forward_to_leader() {
                Some(f) => ConsensusError::NotLeader {
                    leader: f.leader_id,
                },
                None => ConsensusError::Unavailable(e.to_string()),
            }),
            Ok(Ok(resp)) => match resp.data {
                CommandResponse::Done => Ok(resp.log_id.index()),
                CommandResponse::Write(_) => Err(unexpected_reply("a check entry")),
            },
        }
    }

    /// This replica's digest at the check entry `index`, once applied.
    pub(crate) async fn digest_here(&self, index: u64) -> Result<StateDigest, String> {
        let timeout = self.config.timeout;
        self.raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "check applied")
            .await
            .map_err(|e| format!("the check entry was not applied here: {e}"))?;
        self.digests.at(index, timeout).await
    }
}
