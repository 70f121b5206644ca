//! When a node builds a snapshot (and so may purge its log).
//!
//! A snapshot writes every row of the state machine, so it costs in
//! proportion to the state, while openraft's own policy builds one every
//! `n` entries whatever the state's size: with `n` = 10,000, a state of a
//! million rows would export a hundred rows for every entry written.
//! Measured on a 3-node cluster under 5,000 upserts/s for 20 s (the state
//! growing to 100,000 rows): 7% more CPU per write, and twice the mean
//! latency, than with no snapshots at all.
//!
//! So a snapshot is due when the entries applied since the last one reach
//! `snapshot_every` *and* the number of rows the last snapshot held. Its
//! cost then stays below about one row exported per entry applied, and the
//! log kept behind it is at most about as long as the state has rows.
//!
//! The state machine checks after each entry it applies (as openraft's own
//! policy does) and wakes a task that asks openraft to build one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::Raft;
use tokio::sync::{watch, Notify};

use crate::state_machine::StateMachine;
use crate::types::TypeConfig;

/// Shared by the state machine, which applies and snapshots, and the task
/// that asks openraft for snapshots.
#[derive(Clone)]
pub(crate) struct SnapshotSchedule {
    inner: Arc<Inner>,
}

struct Inner {
    every: u64,
    /// The rows of the newest snapshot this node built or installed; 0
    /// until it has one in this run (a restarted node's first snapshot then
    /// comes after `every` entries).
    rows: AtomicU64,
    /// One past the index of the newest snapshot or request for one: the
    /// entries since are counted from here. openraft ignores a request
    /// while it builds, and a snapshot is known only once built.
    base: AtomicU64,
    due: Notify,
}

/// Whether a snapshot is due at `applied`, counting from `base`.
fn due(applied: u64, base: u64, every: u64, rows: u64) -> bool {
    (applied + 1).saturating_sub(base) >= every.max(rows)
}

impl SnapshotSchedule {
    pub(crate) fn new(every: u64) -> SnapshotSchedule {
        SnapshotSchedule {
            inner: Arc::new(Inner {
                every,
                rows: AtomicU64::new(0),
                base: AtomicU64::new(0),
                due: Notify::new(),
            }),
        }
    }

    /// After the entry at `index` was applied: asks for a snapshot if one
    /// is due.
    pub(crate) fn applied(&self, index: u64) {
        let i = &self.inner;
        let base = i.base.load(Ordering::Relaxed);
        if due(index, base, i.every, i.rows.load(Ordering::Relaxed)) {
            i.base.store(index + 1, Ordering::Relaxed);
            i.due.notify_one();
        }
    }

    /// A snapshot of `rows` rows, up to and including `index`, was built or
    /// installed.
    pub(crate) fn snapshotted(&self, index: u64, rows: u64) {
        self.inner.rows.store(rows, Ordering::Relaxed);
        self.inner.base.fetch_max(index + 1, Ordering::Relaxed);
    }

    /// Asks openraft for a snapshot whenever one is due, until `stop` or
    /// the Raft core ends.
    pub(crate) fn spawn(
        &self,
        raft: Raft<TypeConfig, StateMachine>,
        mut stop: watch::Receiver<bool>,
    ) {
        let policy = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = policy.inner.due.notified() => {}
                    _ = stop.changed() => return,
                }
                if raft.trigger().snapshot().await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_after_every_entries_and_no_sooner_than_the_state_has_rows() {
        // No snapshot yet: counted from the first entry (index 0).
        assert!(!due(18, 0, 20, 0));
        assert!(due(19, 0, 20, 0));
        // A small state: every `every` entries, as openraft's own policy.
        assert!(!due(39, 21, 20, 5));
        assert!(due(40, 21, 20, 5));
        // A state of 100,000 rows waits for 100,000 entries.
        assert!(!due(90_000, 1, 20, 100_000));
        assert!(due(100_000, 1, 20, 100_000));
        // Never due behind the newest snapshot.
        assert!(!due(5, 10, 1, 0));
    }

    #[tokio::test]
    async fn asks_once_per_threshold_and_counts_from_the_newest_snapshot() {
        let p = SnapshotSchedule::new(10);
        let asked = |p: &SnapshotSchedule| {
            let n = p.inner.due.notified();
            tokio::pin!(n);
            n.as_mut().enable()
        };
        for i in 0..9 {
            p.applied(i);
        }
        assert!(!asked(&p));
        p.applied(9);
        assert!(asked(&p));
        // Asked at 9: not again until ten entries later.
        p.applied(12);
        assert!(!asked(&p));
        // The snapshot holds 50 rows: the next waits 50 entries.
        p.snapshotted(9, 50);
        p.applied(40);
        assert!(!asked(&p));
        p.applied(59);
        assert!(asked(&p));
        // An installed snapshot far ahead moves the count with it.
        p.snapshotted(500, 5);
        p.applied(505);
        assert!(!asked(&p));
    }
}
