//! Explicit transactions (BEGIN … COMMIT), optimistic.
//!
//! A transaction reads one snapshot, taken at BEGIN, overlaid with its own
//! writes, which stay in the session until COMMIT. Every row it reads from
//! the snapshot is remembered: point reads as the revision seen (or
//! absence), scans as the range read with its row count and highest
//! revision. COMMIT proposes one batch: those reads as preconditions, the
//! writes as operations. If anything the transaction read changed in the
//! meantime the state machine refuses the batch and COMMIT fails with 40001
//! with nothing written: lost updates and write skew cannot commit.

use std::collections::BTreeMap;
use std::sync::Arc;

use bucketdb_storage::limits::write_bytes;
use bucketdb_storage::{
    Datum, Expect, KvBatch, KvOp, LimitExceeded, Limits, OwnedView, Precondition, StoredRow,
    Violation,
};

mod view;

pub use view::TxnView;

/// Range reads compared with each other for containment, at most.
const DEDUP_RANGES: usize = 256;

/// What a transaction read from its snapshot.
#[derive(Debug, Default)]
pub struct ReadSet {
    points: BTreeMap<Vec<u8>, Expect>,
    ranges: Vec<Precondition>,
}

impl ReadSet {
    fn point(&mut self, key: &[u8], row: Option<&StoredRow>) {
        self.points
            .entry(key.to_vec())
            .or_insert_with(|| match row {
                Some(r) => Expect::Revision(r.revision),
                None => Expect::Absent,
            });
    }

    pub fn merge(&mut self, other: ReadSet) {
        for (k, e) in other.points {
            self.points.entry(k).or_insert(e);
        }
        for range in other.ranges {
            self.add_range(range);
        }
    }

    /// Keeps one guard per stretch of keys: every range was read from the
    /// same snapshot, so a range inside another adds nothing (any change
    /// in it changes the outer one's count or highest revision). A
    /// transaction that scans the same rows many times makes every replica
    /// re-read them once at commit, not once per scan.
    fn add_range(&mut self, range: Precondition) {
        // Past this many the transaction is near its limit anyway: ranges
        // are kept as they come, and the limit refuses it, without a
        // quadratic search first.
        if self.ranges.len() < DEDUP_RANGES {
            if self.ranges.iter().any(|r| covers(r, &range)) {
                return;
            }
            self.ranges.retain(|r| !covers(&range, r));
        }
        self.ranges.push(range);
    }

    /// The distinct ranges the transaction's result depends on.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }
}

/// Whether range guard `outer` spans every key of `inner`.
fn covers(outer: &Precondition, inner: &Precondition) -> bool {
    let (
        Expect::RangeUnchanged { end: outer_end, .. },
        Expect::RangeUnchanged { end: inner_end, .. },
    ) = (&outer.expect, &inner.expect)
    else {
        return false;
    };
    outer.key <= inner.key
        && match (outer_end, inner_end) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(o), Some(i)) => i <= o,
        }
}

/// An open transaction of a session.
pub struct Txn {
    /// Shared with copies made for DataFusion's scans ([`Txn::copy`]).
    snapshot: Arc<OwnedView>,
    /// The transaction's writes: the row after it, or `None` for deleted.
    writes: BTreeMap<Vec<u8>, Option<Vec<Datum>>>,
    reads: ReadSet,
    /// Bytes of `writes`, as the write limits count them.
    write_bytes: usize,
    /// Open savepoints, oldest first.
    savepoints: Vec<Savepoint>,
    /// A statement failed: everything but ROLLBACK/COMMIT (and ROLLBACK
    /// TO a savepoint) is refused.
    pub failed: bool,
    /// `BEGIN READ ONLY` / `SET TRANSACTION READ ONLY`: writes are refused
    /// (25006).
    pub read_only: bool,
}

/// A mark in a transaction's writes (`SAVEPOINT name`). Its reads are not
/// marked: what a statement read was seen by the client even if its
/// writes are rolled back, so it stays guarded at COMMIT, as PostgreSQL's
/// serializable transactions keep the reads of a rolled-back
/// subtransaction.
struct Savepoint {
    name: String,
    writes: BTreeMap<Vec<u8>, Option<Vec<Datum>>>,
    write_bytes: usize,
}

/// Why a savepoint statement was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct NoSuchSavepoint(pub String);

impl Txn {
    pub fn new(snapshot: OwnedView) -> Txn {
        Txn {
            snapshot: Arc::new(snapshot),
            writes: BTreeMap::new(),
            reads: ReadSet::default(),
            write_bytes: 0,
            savepoints: Vec::new(),
            failed: false,
            read_only: false,
        }
    }

    /// The same snapshot and writes, with no reads yet: what a statement
    /// that reads on other threads (DataFusion's scans) reads from. Its
    /// reads come back through [`Txn::finish_statement`].
    pub fn copy(&self) -> Txn {
        Txn {
            snapshot: self.snapshot.clone(),
            writes: self.writes.clone(),
            reads: ReadSet::default(),
            write_bytes: self.write_bytes,
            savepoints: Vec::new(),
            failed: false,
            read_only: self.read_only,
        }
    }

    /// `SAVEPOINT name`: marks the writes so far. A name used again marks
    /// anew; the older mark stays, reached again once this one is
    /// released (as in PostgreSQL).
    pub fn savepoint(&mut self, name: &str) {
        self.savepoints.push(Savepoint {
            name: name.to_string(),
            writes: self.writes.clone(),
            write_bytes: self.write_bytes,
        });
    }

    /// The newest savepoint called `name`.
    fn find(&self, name: &str) -> Result<usize, NoSuchSavepoint> {
        self.savepoints
            .iter()
            .rposition(|s| s.name == name)
            .ok_or_else(|| NoSuchSavepoint(name.to_string()))
    }

    /// `RELEASE SAVEPOINT name`: forgets it and every later one; the
    /// writes since stay.
    pub fn release(&mut self, name: &str) -> Result<(), NoSuchSavepoint> {
        let at = self.find(name)?;
        self.savepoints.truncate(at);
        Ok(())
    }

    /// `ROLLBACK TO SAVEPOINT name`: the writes are as they were at the
    /// mark, which stays; later marks go. A failed transaction may go on.
    pub fn rollback_to(&mut self, name: &str) -> Result<(), NoSuchSavepoint> {
        let at = self.find(name)?;
        self.savepoints.truncate(at + 1);
        let mark = &self.savepoints[at];
        self.writes = mark.writes.clone();
        self.write_bytes = mark.write_bytes;
        self.failed = false;
        Ok(())
    }

    /// A view for one statement; [`Txn::finish_statement`] keeps what it
    /// read.
    pub fn view(&self) -> TxnView<'_> {
        TxnView::new(self)
    }

    /// Records the reads of a statement that wrote nothing.
    pub fn finish_read(&mut self, reads: ReadSet) {
        self.reads.merge(reads);
    }

    /// Records a statement's reads and writes. Its preconditions are not
    /// kept: they describe the snapshot, which the read set covers. A
    /// transaction that has grown past `limits` (what it would propose at
    /// COMMIT) is refused here, at the statement that made it too big.
    pub fn finish_statement(
        &mut self,
        reads: ReadSet,
        batch: KvBatch,
        limits: &Limits,
    ) -> Result<(), LimitExceeded> {
        self.reads.merge(reads);
        for op in batch.ops {
            if let Some(columns) = op.columns() {
                limits.check_row(op.key(), columns)?;
            }
            let (key, row) = match op {
                // A restore is a COPY's, which a transaction refuses.
                KvOp::Put { key, columns } | KvOp::Restore { key, columns, .. } => {
                    (key, Some(columns))
                }
                KvOp::Delete { key } => (key, None),
            };
            let added = write_bytes(&key, row.as_deref());
            let replaced = self
                .writes
                .get(&key)
                .map_or(0, |old| write_bytes(&key, old.as_deref()));
            self.writes.insert(key, row);
            self.write_bytes = self.write_bytes + added - replaced;
        }
        self.check(limits)
    }

    /// Whether what the transaction holds would fit one proposal.
    /// The range reads count only once the transaction writes: COMMIT
    /// proposes them as its preconditions then, and not at all for a
    /// transaction that only read (pg_dump reads every table in one).
    fn check(&self, limits: &Limits) -> Result<(), LimitExceeded> {
        limits.check_write(self.write_bytes)?;
        if !self.writes.is_empty() && self.reads.range_count() > limits.max_read_ranges {
            return Err(LimitExceeded::ReadRanges {
                ranges: self.reads.range_count(),
                max: limits.max_read_ranges,
            });
        }
        Ok(())
    }

    /// The batch COMMIT proposes, or `None` when the transaction wrote
    /// nothing (its reads were of one snapshot: nothing to check).
    pub fn into_batch(self) -> Option<KvBatch> {
        if self.writes.is_empty() {
            return None;
        }
        let mut preconditions: Vec<Precondition> = self
            .reads
            .points
            .into_iter()
            .map(|(key, expect)| Precondition {
                key,
                expect,
                violation: Violation::Conflict,
            })
            .collect();
        preconditions.extend(self.reads.ranges);
        let ops = self
            .writes
            .into_iter()
            .map(|(key, row)| match row {
                Some(columns) => KvOp::Put { key, columns },
                None => KvOp::Delete { key },
            })
            .collect();
        Some(KvBatch {
            preconditions,
            ops,
            // COMMIT stamps it.
            timestamp: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::ops::ControlFlow;

    use bucketdb_storage::{keys, Datum, KvBatch, KvOp, Store};

    use super::*;
    use crate::scan::RowSource;

    fn put(key: Vec<u8>) -> KvOp {
        KvOp::Put {
            key,
            columns: vec![Datum::Int(1)],
        }
    }

    /// A store holding buckets `aaa` (revision 1) and `bbb` (revision 2).
    fn store(dir: &std::path::Path) -> Store {
        let s = Store::open(dir).unwrap();
        for (name, revision) in [("aaa", 1), ("bbb", 2)] {
            let batch = KvBatch {
                ops: vec![put(keys::bucket(name))],
                ..KvBatch::default()
            };
            s.apply_batch(&batch, revision, &[]).unwrap();
        }
        s
    }

    fn guard(key: Vec<u8>, expect: Expect) -> Precondition {
        Precondition {
            key,
            expect,
            violation: Violation::Conflict,
        }
    }

    #[test]
    fn point_reads_guard_what_was_seen_and_own_writes_guard_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut txn = Txn::new(s.owned_view());
        let view = txn.view();
        assert!(view.get(&keys::bucket("aaa")).unwrap().is_some());
        assert!(view.get(&keys::bucket("zzz")).unwrap().is_none());
        let reads = view.into_reads();
        txn.finish_statement(
            reads,
            KvBatch {
                ops: vec![put(keys::bucket("new"))],
                ..KvBatch::default()
            },
            &Limits::default(),
        )
        .unwrap();
        // Reading its own write records nothing more.
        let view = txn.view();
        assert_eq!(view.get(&keys::bucket("new")).unwrap().unwrap().revision, 0);
        let reads = view.into_reads();
        txn.finish_read(reads);
        let batch = txn.into_batch().unwrap();
        assert_eq!(
            batch.preconditions,
            [
                guard(keys::bucket("aaa"), Expect::Revision(1)),
                guard(keys::bucket("zzz"), Expect::Absent),
            ]
        );
        assert_eq!(batch.ops, [put(keys::bucket("new"))]);
    }

    #[test]
    fn a_scan_guards_the_range_it_read_up_to_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let start = keys::buckets_start();
        let end = keys::prefix_end(&start);
        let write = || KvBatch {
            ops: vec![put(keys::bucket("ccc"))],
            ..KvBatch::default()
        };
        // A scan that stops early guards only what it covered.
        let mut txn = Txn::new(s.owned_view());
        let view = txn.view();
        view.scan(&start, end.clone(), &mut |_, _| Ok(ControlFlow::Break(())))
            .unwrap();
        let reads = view.into_reads();
        txn.finish_statement(reads, write(), &Limits::default())
            .unwrap();
        let mut after_a = keys::bucket("aaa");
        after_a.push(0);
        let short = guard(
            start.clone(),
            Expect::RangeUnchanged {
                end: Some(after_a),
                rows: 1,
                max_revision: 1,
            },
        );
        assert_eq!(txn.into_batch().unwrap().preconditions, [short]);

        // Scanned whole, many times over and after the short scan, the
        // range is guarded once: the whole range covers the rest.
        let mut txn = Txn::new(s.owned_view());
        let view = txn.view();
        view.scan(&start, end.clone(), &mut |_, _| Ok(ControlFlow::Break(())))
            .unwrap();
        for _ in 0..100 {
            let mut seen = vec![];
            view.scan(&start, end.clone(), &mut |k, _| {
                seen.push(k.to_vec());
                Ok(ControlFlow::Continue(()))
            })
            .unwrap();
            assert_eq!(seen, [keys::bucket("aaa"), keys::bucket("bbb")]);
        }
        let reads = view.into_reads();
        txn.finish_statement(reads, write(), &Limits::default())
            .unwrap();
        let whole = guard(
            start,
            Expect::RangeUnchanged {
                end,
                rows: 2,
                max_revision: 2,
            },
        );
        assert_eq!(txn.into_batch().unwrap().preconditions, [whole]);
    }

    #[test]
    fn a_transaction_past_the_limits_is_refused_at_the_statement() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let limits = Limits {
            max_value_bytes: 100,
            max_row_bytes: 200,
            max_write_bytes: 2000,
            max_read_ranges: 1,
        };
        let mut txn = Txn::new(s.owned_view());
        let row = |i: usize| KvOp::Put {
            key: keys::bucket(format!("b{i:03}")),
            columns: vec![Datum::Text("x".repeat(50))],
        };
        // Writing the same rows again does not count them twice.
        for _ in 0..5 {
            let batch = KvBatch {
                ops: (0..10).map(row).collect(),
                ..KvBatch::default()
            };
            txn.finish_statement(ReadSet::default(), batch, &limits)
                .unwrap();
        }
        let more = KvBatch {
            ops: (10..20).map(row).collect(),
            ..KvBatch::default()
        };
        assert!(matches!(
            txn.finish_statement(ReadSet::default(), more, &limits),
            Err(LimitExceeded::Write { max: 2000, .. })
        ));
        let wide = KvBatch {
            ops: vec![KvOp::Put {
                key: keys::bucket("w"),
                columns: vec![Datum::Text("x".repeat(100))],
            }],
            ..KvBatch::default()
        };
        let mut txn = Txn::new(s.owned_view());
        assert!(matches!(
            txn.finish_statement(ReadSet::default(), wide, &limits),
            Err(LimitExceeded::Value { max: 100, .. })
        ));
    }

    #[test]
    fn range_reads_are_limited_only_once_the_transaction_writes() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let limits = Limits {
            max_read_ranges: 2,
            ..Limits::default()
        };
        let mut txn = Txn::new(s.owned_view());
        // Five ranges apart, read by a transaction that writes nothing
        // (pg_dump's): nothing to propose, so nothing to limit.
        for i in 0..5 {
            let view = txn.view();
            let (start, end) = (
                keys::bucket(format!("k{i}")),
                keys::bucket(format!("k{i}z")),
            );
            view.scan(&start, Some(end), &mut |_, _| Ok(ControlFlow::Continue(())))
                .unwrap();
            txn.finish_statement(view.into_reads(), KvBatch::default(), &limits)
                .unwrap();
        }
        let write = KvBatch {
            ops: vec![put(keys::bucket("new"))],
            ..KvBatch::default()
        };
        assert!(matches!(
            txn.finish_statement(ReadSet::default(), write, &limits),
            Err(LimitExceeded::ReadRanges { ranges: 5, max: 2 })
        ));
    }

    #[test]
    fn savepoints_mark_writes_and_keep_reads() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut txn = Txn::new(s.owned_view());
        let write = |txn: &mut Txn, name: &str| {
            let batch = KvBatch {
                ops: vec![put(keys::bucket(name))],
                ..KvBatch::default()
            };
            txn.finish_statement(ReadSet::default(), batch, &Limits::default())
                .unwrap();
        };
        write(&mut txn, "one");
        txn.savepoint("a");
        write(&mut txn, "two");
        let view = txn.view();
        view.get(&keys::bucket("aaa")).unwrap();
        let reads = view.into_reads();
        txn.finish_read(reads);
        txn.savepoint("b");
        write(&mut txn, "three");
        txn.failed = true;
        txn.rollback_to("a").unwrap();
        assert!(!txn.failed);
        // `b` went with the rollback; `a` stays and can be returned to.
        assert_eq!(txn.release("b"), Err(NoSuchSavepoint("b".into())));
        write(&mut txn, "four");
        txn.rollback_to("a").unwrap();
        txn.release("a").unwrap();
        assert_eq!(txn.rollback_to("a"), Err(NoSuchSavepoint("a".into())));
        let batch = txn.into_batch().unwrap();
        assert_eq!(batch.ops, [put(keys::bucket("one"))]);
        // The read made after the mark is still guarded.
        assert_eq!(
            batch.preconditions,
            [guard(keys::bucket("aaa"), Expect::Revision(1))]
        );
    }

    #[test]
    fn a_transaction_that_wrote_nothing_proposes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut txn = Txn::new(s.owned_view());
        let view = txn.view();
        view.get(&keys::bucket("aaa")).unwrap();
        let reads = view.into_reads();
        txn.finish_read(reads);
        assert!(txn.into_batch().is_none());
    }
}
