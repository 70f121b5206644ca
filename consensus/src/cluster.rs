//! Cluster administration: membership changes and the leader's view of
//! every member. Both run on the leader; any node forwards them there.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::error::ClientWriteError;
use openraft::{ChangeMembers, Instant as _, ServerState};
use serde::{Deserialize, Serialize};

use crate::error::ConsensusError;
use crate::node::{unexpected_reply, RaftNode};
use crate::routing::Route;
use crate::transport::{Request, Response};
use crate::types::{NodeInfo, TypeConfig};

/// How long a membership change may take. Adding a learner waits for it to
/// catch up, which may mean sending a large snapshot.
pub const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long adding a learner waits, by default, for it to hold the entry
/// that added it: a little less than a forwarded change waits, so that
/// this error, not the forwarding node's timeout, reaches the caller.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(105);

/// A member heard from within this long counts as reachable.
const REACHABLE_WITHIN: Duration = Duration::from_millis(1500);

/// One row of `cluster_nodes()`, as the leader sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub node_id: u64,
    pub raft_addr: String,
    pub sql_addr: String,
    /// 'leader', 'follower' or 'learner'.
    pub role: String,
    pub voter: bool,
    pub matched_index: Option<u64>,
    /// Entries behind the leader's last log index.
    pub lag: Option<u64>,
    pub last_contact_ms: Option<u64>,
    pub reachable: bool,
    /// Why the member refuses the leader's connections (another cluster,
    /// a replaced data directory), if it does.
    pub refused: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Add a non-voting member and wait until it has caught up.
    AddLearner { id: u64, info: NodeInfo },
    /// Make a learner a voter.
    Promote { id: u64 },
    /// Take a member (voter or learner) out of the cluster.
    Remove { id: u64 },
    /// Hand leadership to a voter.
    TransferLeader { id: u64 },
}

fn refused(msg: impl Into<String>) -> ConsensusError {
    ConsensusError::Refused(msg.into())
}

impl RaftNode {
    /// Carries out a membership change on the leader; returns the log index
    /// the change committed at, if it wrote one.
    pub async fn change_membership(
        &self,
        change: MembershipChange,
    ) -> Result<Option<u64>, ConsensusError> {
        self.on_leader(CHANGE_TIMEOUT, |node, route, remaining| {
            let change = change.clone();
            Box::pin(async move {
                match route {
                    Route::Here => node.change_membership_here(change).await,
                    Route::Leader(id, info) => match node
                        .forward(id, &info, Request::ChangeMembership(change), remaining)
                        .await?
                    {
                        Response::Changed(index) => Ok(index),
                        _ => Err(unexpected_reply("a membership change")),
                    },
                }
            })
        })
        .await
    }

    /// Every member with its replication progress, from the leader.
    pub async fn members(&self) -> Result<Vec<Member>, ConsensusError> {
        let timeout = self.config.timeout;
        self.on_leader(timeout, |node, route, remaining| {
            Box::pin(async move {
                match route {
                    Route::Here => node.members_here(),
                    Route::Leader(id, info) => {
                        match node.forward(id, &info, Request::Members, remaining).await {
                            Ok(Response::Members(m)) => Ok(m),
                            Ok(_) => Err(unexpected_reply("a members request")),
                            Err(ConsensusError::Ambiguous(m)) => {
                                Err(ConsensusError::Unavailable(m))
                            }
                            Err(e) => Err(e),
                        }
                    }
                }
            })
        })
        .await
    }

    fn leading(&self) -> Result<(), ConsensusError> {
        let m = self.raft.metrics().borrow_watched().clone();
        if m.state == ServerState::Leader {
            Ok(())
        } else {
            Err(ConsensusError::NotLeader {
                leader: m.current_leader,
            })
        }
    }

    pub(crate) async fn change_membership_here(
        &self,
        change: MembershipChange,
    ) -> Result<Option<u64>, ConsensusError> {
        self.leading()?;
        // One change at a time: a second one is refused rather than queued,
        // so an operator never has a change applied later than they think.
        let Ok(_guard) = self.changing.try_lock() else {
            return Err(refused(
                "another membership change is in progress; retry when it has finished",
            ));
        };
        let m = self.raft.metrics().borrow_watched().clone();
        let membership = m.membership_config.membership().clone();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let known = |id: u64| membership.get_node(&id).cloned();
        let result = match change {
            MembershipChange::AddLearner { id, info } => {
                if voters.contains(&id) {
                    return Err(refused(format!("node {id} is already a voter")));
                }
                // The node's data directory, recorded so that the same id
                // coming back with a wiped one is told apart.
                let incarnation = self
                    .peers
                    .identify(id, &info.raft_addr)
                    .await
                    .map_err(|e| refused(format!("node {id} cannot be added: {e}")))?;
                let info = NodeInfo {
                    incarnation: Some(incarnation),
                    ..info
                };
                if let Some(existing) = known(id) {
                    if (&existing.raft_addr, &existing.sql_addr)
                        != (&info.raft_addr, &info.sql_addr)
                    {
                        return Err(refused(format!(
                            "node id {id} already belongs to a member at {existing}"
                        )));
                    }
                    if existing.incarnation.is_some() && existing.incarnation != info.incarnation {
                        return Err(refused(format!(
                            "node {id} is already a member with another data directory (it was wiped or replaced): remove it with cluster_remove({id}) first"
                        )));
                    }
                }
                // Not openraft's blocking add: it waits, without a timeout,
                // until the learner is within `replication_lag_threshold`
                // of the leader's last entry, a target that moves with
                // every write; under load a learner can stay behind it for
                // good. The wait below is for the entry that added it.
                let index = self.raft.add_learner(id, info, false).await;
                let index = index.map(|r| Some(r.log_id.index()));
                if let Ok(Some(i)) = index {
                    self.wait_caught_up(id, i).await?;
                }
                index
            }
            MembershipChange::Promote { id } => {
                if voters.contains(&id) {
                    return Err(refused(format!("node {id} is already a voter")));
                }
                if known(id).is_none() {
                    return Err(refused(format!(
                        "node {id} is not a learner of this cluster; add it with cluster_add_learner first"
                    )));
                }
                self.raft
                    .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
                    .await
                    .map(|r| Some(r.log_id.index()))
            }
            MembershipChange::Remove { id } => {
                if known(id).is_none() {
                    return Err(refused(format!("node {id} is not a member")));
                }
                let change = if voters.contains(&id) {
                    if voters.len() == 1 {
                        return Err(refused(format!(
                            "node {id} is the only voter; a cluster needs at least one"
                        )));
                    }
                    ChangeMembers::RemoveVoters(BTreeSet::from([id]))
                } else {
                    ChangeMembers::RemoveNodes(BTreeSet::from([id]))
                };
                self.raft
                    .change_membership(change, false)
                    .await
                    .map(|r| Some(r.log_id.index()))
            }
            MembershipChange::TransferLeader { id } => {
                if !voters.contains(&id) {
                    return Err(refused(format!(
                        "node {id} is not a voter; only a voter can lead"
                    )));
                }
                if id != self.node_id() {
                    self.transfer_leader_to(id).await?;
                }
                return Ok(None);
            }
        };
        result.map_err(|e| match e.api_error() {
            Some(ClientWriteError::ForwardToLeader(f)) => ConsensusError::NotLeader {
                leader: f.leader_id,
            },
            Some(ClientWriteError::ChangeMembershipError(c)) => refused(c.to_string()),
            _ => ConsensusError::Fatal(e.to_string()),
        })
    }

    /// Waits until the learner `id` has replicated up to `index`. Should
    /// this node stop leading meanwhile, the change goes to the next leader
    /// (`NotLeader` is retried), which adds the learner again (a no-op for
    /// a member it has) and waits in its turn.
    async fn wait_caught_up(&self, id: u64, index: u64) -> Result<(), ConsensusError> {
        let timeout = self.config.catch_up_timeout;
        let matched = |m: &openraft::RaftMetrics<TypeConfig>| {
            m.replication
                .as_ref()
                .and_then(|r| r.get(&id).cloned().flatten())
                .map(|l| l.index())
        };
        let caught_up =
            |m: &openraft::RaftMetrics<TypeConfig>| matched(m).is_some_and(|i| i >= index);
        // Ends either way; the metrics say which.
        let _ = self
            .raft
            .wait(Some(timeout))
            .metrics(
                |m| caught_up(m) || m.state != ServerState::Leader,
                "learner caught up, or leadership lost",
            )
            .await;
        let m = self.raft.metrics().borrow_watched().clone();
        if caught_up(&m) {
            return Ok(());
        }
        if m.state != ServerState::Leader {
            return Err(ConsensusError::NotLeader {
                leader: m.current_leader,
            });
        }
        let refused = self.peers.refusal_of(id).map_or(String::new(), |why| {
            format!("; it refuses this node: {why}")
        });
        Err(ConsensusError::NotCaughtUp(format!(
            "node {id} was added as a learner but did not catch up within {timeout:?} (it has entries up to {}, it was added at {index}, the leader is at {}{refused}); it stays a learner: is it running and reachable? cluster_nodes() shows its lag",
            matched(&m).map_or("none".into(), |i| i.to_string()),
            m.last_log_index.unwrap_or(0),
        )))
    }

    async fn transfer_leader_to(&self, id: u64) -> Result<(), ConsensusError> {
        // The other voters drop their lease of this leader when asked to
        // elect `id`: no lease reads here from before they are asked.
        let _no_lease_reads = self.lease.transfer(self.raft.metrics());
        self.raft
            .trigger()
            .transfer_leader(id)
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        self.raft
            .wait(Some(self.config.timeout))
            .metrics(|m| m.current_leader == Some(id), "leadership transferred")
            .await
            .map(|_| ())
            .map_err(|_| {
                ConsensusError::Unavailable(format!(
                    "node {id} did not take over leadership within {:?}",
                    self.config.timeout
                ))
            })
    }

    pub(crate) fn members_here(&self) -> Result<Vec<Member>, ConsensusError> {
        self.leading()?;
        let m = self.raft.metrics().borrow_watched().clone();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let last = m.last_log_index.unwrap_or(0);
        let matched: BTreeMap<u64, Option<u64>> = m
            .replication
            .iter()
            .flatten()
            .map(|(id, l)| (*id, l.as_ref().map(|l| l.index())))
            .collect();
        let contact: BTreeMap<u64, Option<u64>> = m
            .heartbeat
            .iter()
            .flatten()
            .map(|(id, t)| (*id, t.as_ref().map(|t| t.elapsed().as_millis() as u64)))
            .collect();
        Ok(membership
            .nodes()
            .map(|(&id, info)| {
                let me = id == self.node_id();
                let matched_index = if me {
                    m.last_log_index
                } else {
                    matched.get(&id).copied().flatten()
                };
                let last_contact_ms = if me {
                    Some(0)
                } else {
                    contact.get(&id).copied().flatten()
                };
                Member {
                    node_id: id,
                    raft_addr: info.raft_addr.clone(),
                    sql_addr: info.sql_addr.clone(),
                    role: if me {
                        "leader"
                    } else if voters.contains(&id) {
                        "follower"
                    } else {
                        "learner"
                    }
                    .into(),
                    voter: voters.contains(&id),
                    matched_index,
                    lag: matched_index.map(|i| last.saturating_sub(i)),
                    last_contact_ms,
                    reachable: last_contact_ms
                        .is_some_and(|ms| ms <= REACHABLE_WITHIN.as_millis() as u64),
                    refused: if me { None } else { self.peers.refusal_of(id) },
                }
            })
            .collect())
    }
}
