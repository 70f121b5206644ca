//! The newest entries of the Raft log, kept decoded in memory.
//!
//! Every entry is read back soon after it is appended: by the state
//! machine, which applies it on every node, and on the leader by each
//! follower's replication stream. Read from RocksDB, each of those reads is
//! an iterator seek plus a decode; a profile of a follower under 64 clients'
//! inserts put 8% of its CPU there. The tail answers them from memory when
//! it holds the whole range asked for, and RocksDB answers the rest (a
//! follower far behind, a restart).
//!
//! The tail mirrors the log: `append`, `truncate_from` and `purge_through`
//! follow the log store's writes of the same names, so it never holds an
//! entry the log does not. It keeps at most [`MAX_ENTRIES`] entries and
//! [`MAX_BYTES`] of their encoded size, dropping the oldest first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::entry::RaftEntry;
use openraft::type_config::alias::EntryOf;

use crate::types::TypeConfig;

/// Enough for every entry between two applies, and for followers a few
/// round trips behind, at the batch sizes pgbench's 64 clients make.
pub(crate) const MAX_ENTRIES: usize = 8192;
/// A bound on memory whatever the entries' sizes (a batch may be large).
pub(crate) const MAX_BYTES: usize = 16 << 20;

type Entry = EntryOf<TypeConfig>;

/// Shared by every clone of the log store (its readers included).
#[derive(Clone, Default)]
pub(crate) struct LogTail {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Consecutive entries, oldest first, with their encoded sizes.
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl Inner {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.index())
    }

    fn next_index(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.index() + 1)
    }

    fn pop_front(&mut self) {
        if let Some((_, size)) = self.entries.pop_front() {
            self.bytes -= size;
        }
    }

    fn pop_back(&mut self) {
        if let Some((_, size)) = self.entries.pop_back() {
            self.bytes -= size;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

impl LogTail {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The tail is only a cache: a panic while it was held cannot have
        // left it inconsistent with the log in a way that matters more than
        // an empty tail, so a poisoned lock is cleared and used.
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                guard.clear();
                guard
            }
        }
    }

    /// Records entries just written to the log, with their encoded sizes.
    /// Entries that do not follow the tail's last one start a new tail.
    pub(crate) fn append(&self, entries: impl IntoIterator<Item = (Entry, usize)>) {
        let mut tail = self.lock();
        for (entry, size) in entries {
            if tail.next_index() != Some(entry.index()) {
                tail.clear();
            }
            tail.bytes += size;
            tail.entries.push_back((entry, size));
            while tail.entries.len() > MAX_ENTRIES || tail.bytes > MAX_BYTES {
                tail.pop_front();
            }
        }
    }

    /// Forgets entries at `index` and after (the log truncated them).
    pub(crate) fn truncate_from(&self, index: u64) {
        let mut tail = self.lock();
        while tail.next_index().is_some_and(|next| next > index) {
            tail.pop_back();
        }
    }

    /// Forgets entries at `index` and before (the log purged them).
    pub(crate) fn purge_through(&self, index: u64) {
        let mut tail = self.lock();
        while tail.first_index().is_some_and(|first| first <= index) {
            tail.pop_front();
        }
    }

    /// The entries `start <= index < end`, if the tail holds every one of
    /// them. A range reaching past the last entry is the log's to answer:
    /// the tail may lag the log while an append is between the two.
    pub(crate) fn get(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        if start >= end {
            return Some(vec![]);
        }
        let tail = self.lock();
        let (first, next) = (tail.first_index()?, tail.next_index()?);
        if start < first || end > next {
            return None;
        }
        let range = (start - first) as usize..(end - first) as usize;
        Some(tail.entries.range(range).map(|(e, _)| e.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use openraft::entry::RaftEntry;
    use openraft::LogId;

    use super::*;

    fn entry(term: u64, index: u64) -> Entry {
        let leader = openraft::vote::leader_id_adv::LeaderId { term, node_id: 1 };
        Entry::new_blank(LogId::new(leader, index))
    }

    fn indexes(entries: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        entries.map(|v| v.iter().map(|e| e.index()).collect())
    }

    #[test]
    fn answers_only_ranges_it_holds_whole() {
        let tail = LogTail::default();
        assert_eq!(indexes(tail.get(1, 5)), None);
        tail.append((3..=6).map(|i| (entry(1, i), 10)));
        assert_eq!(indexes(tail.get(3, 7)), Some(vec![3, 4, 5, 6]));
        assert_eq!(indexes(tail.get(4, 6)), Some(vec![4, 5]));
        assert_eq!(indexes(tail.get(5, 5)), Some(vec![]));
        // Past the last entry or before the first: the log answers.
        assert_eq!(indexes(tail.get(5, 8)), None);
        assert_eq!(indexes(tail.get(5, u64::MAX)), None);
        assert_eq!(indexes(tail.get(2, 5)), None);
    }

    #[test]
    fn follows_truncation_and_purge() {
        let tail = LogTail::default();
        tail.append((1..=5).map(|i| (entry(1, i), 10)));
        tail.truncate_from(4);
        assert_eq!(indexes(tail.get(1, 4)), Some(vec![1, 2, 3]));
        assert_eq!(indexes(tail.get(1, 5)), None);
        // A new leader's entries replace the truncated ones.
        tail.append((4..=5).map(|i| (entry(2, i), 10)));
        let got = tail.get(4, 6).unwrap();
        assert!(got
            .iter()
            .all(|e| e.log_id().committed_leader_id().term == 2));
        tail.purge_through(2);
        assert_eq!(indexes(tail.get(3, 6)), Some(vec![3, 4, 5]));
        assert_eq!(indexes(tail.get(2, 6)), None);
        tail.purge_through(9);
        assert_eq!(indexes(tail.get(3, 6)), None);
    }

    #[test]
    fn a_gap_starts_a_new_tail() {
        let tail = LogTail::default();
        tail.append((1..=3).map(|i| (entry(1, i), 10)));
        // After a snapshot install the log continues far ahead.
        tail.append([(entry(1, 100), 10)]);
        assert_eq!(indexes(tail.get(1, 4)), None);
        assert_eq!(indexes(tail.get(100, 101)), Some(vec![100]));
    }

    #[test]
    fn keeps_within_its_bounds() {
        let tail = LogTail::default();
        tail.append((1..=(MAX_ENTRIES as u64 + 10)).map(|i| (entry(1, i), 1)));
        assert_eq!(indexes(tail.get(1, 2)), None);
        assert_eq!(indexes(tail.get(11, 12)), Some(vec![11]));
        tail.append([(entry(1, MAX_ENTRIES as u64 + 11), MAX_BYTES)]);
        let last = MAX_ENTRIES as u64 + 11;
        assert_eq!(indexes(tail.get(last, last + 1)), Some(vec![last]));
        assert_eq!(indexes(tail.get(11, 12)), None);
    }
}
