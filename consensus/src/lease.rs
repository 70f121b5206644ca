//! Lease reads on the leader without a round through openraft's core.
//!
//! openraft confirms a lease read by sending a message to its core task and
//! waiting for the reply: one hand-off each way per read (and per write,
//! whose barrier is a lease read), on two cores shared by three nodes the
//! largest cost of a leader's read after the lookup itself. The core
//! publishes everything that decision needs in its metrics after every turn
//! of its loop, so the leader can decide from them instead:
//!
//! - **Still the leader.** A quorum acknowledged a heartbeat or an append
//!   sent less than [`LEASE_AGE`] ago (`last_quorum_acked` is the send time
//!   of the newest message a quorum acknowledged). Those voters refuse any
//!   other candidate for the election timeout after they heard it, so no
//!   other leader can have been elected, and none can have acknowledged a
//!   write. The metrics may be a turn of the loop old; an older
//!   acknowledgement only makes the check stricter.
//! - **Everything acknowledged is applied here.** An entry of this leader's
//!   own term is applied: its first entry (the blank one every new leader
//!   commits) comes after everything earlier leaders committed. What this
//!   leader acknowledged it applied before it answered.
//! - **No leadership transfer under way.** A transfer asks the other voters
//!   to drop their lease and elect the target at once; openraft refuses
//!   reads from then on, and so does this path, from before it is asked
//!   (see [`LeaderLease::transfer`]).
//!
//! Anything else (a stale lease, a new leader's blank entry not yet
//! applied, a transfer, or a single voter once 400 ms have passed since its
//! election, its only acknowledgement) goes through openraft as before.
//! This is the check openraft's core makes for a lease read; only where it
//! runs changed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::type_config::alias::WatchReceiverOf;
use openraft::{Instant, RaftMetrics, ServerState, TokioInstant};

use crate::types::TypeConfig;

/// How long the leader trusts a quorum's acknowledgement (measured from
/// when it sent what was acknowledged). A follower refuses to vote for
/// another leader for `election_timeout_max` (600 ms,
/// [`crate::node::ELECTION_TIMEOUT_MAX`]) after it last heard from this
/// one, on its own clock, and it heard later than the leader
/// sent; so no other leader can have been elected while the leader's
/// lease holds, as long as the two clocks' rates differ by less than the
/// third of the lease left as margin (quartz clocks differ by millionths).
/// Heartbeats go out every 100 ms, so the lease is normally renewed long
/// before it runs out.
pub(crate) const LEASE_AGE: Duration = Duration::from_millis(400);

/// What a leader needs besides openraft's metrics to serve a lease read on
/// its own.
#[derive(Clone, Default)]
pub(crate) struct LeaderLease {
    /// The index of the last entry the state machine applied, set before
    /// the entry's proposer is answered (the metrics learn it later).
    applied: Arc<AtomicU64>,
    /// Leadership transfers under way from this node.
    transfers: Arc<AtomicU64>,
    /// One more than the newest term in which this node handed its
    /// leadership over (or tried to); 0 if it never did.
    transferred_through: Arc<AtomicU64>,
}

/// Keeps lease reads off while it lives (a transfer under way), and in
/// every term up to the one in which it is dropped.
pub(crate) struct Transfer {
    lease: LeaderLease,
    metrics: MetricsWatch,
}

type MetricsWatch = WatchReceiverOf<TypeConfig, RaftMetrics<TypeConfig>>;

impl LeaderLease {
    /// The state machine has applied the entry at `index`.
    pub(crate) fn applied(&self, index: u64) {
        self.applied.fetch_max(index, Ordering::Release);
    }

    /// The index of the last entry applied here, as soon as its writes
    /// are readable.
    pub(crate) fn applied_index(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// This node is about to hand its leadership over: no lease reads
    /// until the returned guard is dropped, nor after it in any term up to
    /// the one it was dropped in (a later term, even led by this node
    /// again, has a lease of its own). Counted, not a term read now: the
    /// metrics' term may be a turn of openraft's loop behind the term the
    /// transfer happens in.
    pub(crate) fn transfer(&self, metrics: MetricsWatch) -> Transfer {
        self.transfers.fetch_add(1, Ordering::SeqCst);
        Transfer {
            lease: self.clone(),
            metrics,
        }
    }

    /// The index a linearizable read may be served at now, if this node is
    /// the leader and its lease holds (the module's three conditions); that
    /// index is already applied here. `None`: ask openraft.
    pub(crate) fn read_index(&self, m: &RaftMetrics<TypeConfig>) -> Option<u64> {
        self.read_index_at(m, TokioInstant::now())
    }

    fn read_index_at(&self, m: &RaftMetrics<TypeConfig>, now: TokioInstant) -> Option<u64> {
        let leading = m.running_state.is_ok()
            && m.state == ServerState::Leader
            && m.current_leader == Some(m.id)
            && self.transfers.load(Ordering::SeqCst) == 0
            && self.transferred_through.load(Ordering::SeqCst) <= m.current_term;
        let acked = m.last_quorum_acked.as_deref()?;
        let own_entry_applied = m.last_applied.as_ref().is_some_and(|l| {
            let leader = l.committed_leader_id();
            leader.term == m.current_term && leader.node_id == m.id
        });
        (leading && own_entry_applied && now < *acked + LEASE_AGE).then(|| self.applied_index())
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        // Read after the transfer ended: at least the term it happened in.
        let term = self.metrics.borrow_watched().current_term;
        let lease = &self.lease;
        lease
            .transferred_through
            .fetch_max(term + 1, Ordering::SeqCst);
        lease.transfers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use openraft::async_runtime::Watch;
    use openraft::metrics::SerdeInstant;
    use openraft::type_config::alias::LogIdOf;
    use openraft::type_config::alias::WatchOf;
    use openraft::LogId;

    use super::*;

    fn log_id(term: u64, node: u64, index: u64) -> LogIdOf<TypeConfig> {
        LogId::new(
            openraft::vote::leader_id_adv::LeaderId {
                term,
                node_id: node,
            },
            index,
        )
    }

    /// Node 1, leader of term 3, its blank entry (index 7) applied, a
    /// quorum's acknowledgement sent at `acked`.
    fn leader(acked: TokioInstant) -> RaftMetrics<TypeConfig> {
        let mut m = RaftMetrics::new_initial(1);
        m.state = ServerState::Leader;
        m.current_leader = Some(1);
        m.current_term = 3;
        m.last_applied = Some(log_id(3, 1, 7));
        m.last_quorum_acked = Some(SerdeInstant::new(acked));
        m
    }

    #[test]
    fn a_fresh_lease_on_the_leader_reads_at_the_applied_index() {
        let lease = LeaderLease::default();
        lease.applied(9);
        let now = TokioInstant::now();
        assert_eq!(lease.read_index_at(&leader(now), now), Some(9));
        let almost = now + LEASE_AGE - Duration::from_millis(1);
        assert_eq!(lease.read_index_at(&leader(now), almost), Some(9));
    }

    #[test]
    fn anything_short_of_a_fresh_lease_on_an_applied_own_entry_asks_openraft() {
        let lease = LeaderLease::default();
        lease.applied(9);
        let now = TokioInstant::now();
        // The lease is as old as it may be, or older.
        assert_eq!(lease.read_index_at(&leader(now), now + LEASE_AGE), None);
        // No quorum has acknowledged this leader yet.
        let mut m = leader(now);
        m.last_quorum_acked = None;
        assert_eq!(lease.read_index_at(&m, now), None);
        // A follower, or a leader that does not know itself as one.
        let mut m = leader(now);
        m.state = ServerState::Follower;
        assert_eq!(lease.read_index_at(&m, now), None);
        let mut m = leader(now);
        m.current_leader = Some(2);
        assert_eq!(lease.read_index_at(&m, now), None);
        // A new leader whose blank entry is not applied yet: the last
        // applied entry is an earlier leader's.
        let mut m = leader(now);
        m.last_applied = Some(log_id(2, 2, 6));
        assert_eq!(lease.read_index_at(&m, now), None);
        let mut m = leader(now);
        m.last_applied = None;
        assert_eq!(lease.read_index_at(&m, now), None);
    }

    #[test]
    fn a_transfer_ends_lease_reads_while_it_lasts_and_in_its_term() {
        let lease = LeaderLease::default();
        let now = TokioInstant::now();
        let (_tx, rx) = WatchOf::<TypeConfig>::channel(leader(now));
        let transfer = lease.transfer(rx);
        assert_eq!(lease.read_index_at(&leader(now), now), None);
        let mut later = leader(now);
        later.current_term = 4;
        later.last_applied = Some(log_id(4, 1, 8));
        assert_eq!(lease.read_index_at(&later, now), None);
        // It ended in term 3 (the watched metrics' term when dropped).
        drop(transfer);
        assert_eq!(lease.read_index_at(&leader(now), now), None);
        assert_eq!(lease.read_index_at(&later, now), Some(0));
    }
}
