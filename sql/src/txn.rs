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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use bucketdb_storage::{
    Datum, Expect, KvBatch, KvOp, OwnedView, Precondition, StoredRow, Violation,
};

use crate::error::SqlResult;
use crate::source::{KeyedVisit, RowSource};

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
        self.ranges.extend(other.ranges);
    }
}

/// An open transaction of a session.
pub struct Txn {
    /// Shared with copies made for DataFusion's scans ([`Txn::copy`]).
    snapshot: Arc<OwnedView>,
    /// The transaction's writes: the row after it, or `None` for deleted.
    writes: BTreeMap<Vec<u8>, Option<Vec<Datum>>>,
    reads: ReadSet,
    /// A statement failed: everything but ROLLBACK/COMMIT is refused.
    pub failed: bool,
}

impl Txn {
    pub fn new(snapshot: OwnedView) -> Txn {
        Txn {
            snapshot: Arc::new(snapshot),
            writes: BTreeMap::new(),
            reads: ReadSet::default(),
            failed: false,
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
            failed: false,
        }
    }

    /// A view for one statement; [`Txn::finish_statement`] keeps what it
    /// read.
    pub fn view(&self) -> TxnView<'_> {
        TxnView {
            txn: self,
            reads: RefCell::new(ReadSet::default()),
        }
    }

    /// Records a statement's reads and writes. Its preconditions are not
    /// kept: they describe the snapshot, which the read set covers.
    pub fn finish_statement(&mut self, reads: ReadSet, batch: KvBatch) {
        self.reads.merge(reads);
        for op in batch.ops {
            match op {
                KvOp::Put { key, columns } => self.writes.insert(key, Some(columns)),
                KvOp::Delete { key } => self.writes.insert(key, None),
            };
        }
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

/// One statement's view of a transaction: snapshot plus own writes, with
/// the reads it makes recorded.
pub struct TxnView<'a> {
    txn: &'a Txn,
    reads: RefCell<ReadSet>,
}

impl TxnView<'_> {
    pub fn into_reads(self) -> ReadSet {
        self.reads.into_inner()
    }
}

fn own_row(columns: &Option<Vec<Datum>>) -> Option<StoredRow> {
    columns.as_ref().map(|c| StoredRow {
        // Not yet written: no revision. Never used as a precondition.
        revision: 0,
        columns: c.clone(),
    })
}

impl RowSource for TxnView<'_> {
    fn get(&self, key: &[u8]) -> SqlResult<Option<StoredRow>> {
        if let Some(own) = self.txn.writes.get(key) {
            return Ok(own_row(own));
        }
        let row = self.txn.snapshot.borrow_dependent().get(key)?;
        self.reads.borrow_mut().point(key, row.as_ref());
        Ok(row)
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<Vec<u8>>,
        visit: &mut KeyedVisit<'_>,
    ) -> SqlResult<()> {
        let below_end = |k: &[u8]| end.as_ref().is_none_or(|e| k < e.as_slice());
        let mut base = self
            .txn
            .snapshot
            .borrow_dependent()
            .scan(start, end.clone())
            .peekable();
        let mut own = self
            .txn
            .writes
            .range(start.to_vec()..)
            .take_while(|(k, _)| below_end(k))
            .peekable();
        // What the snapshot held in the part of the range visited.
        let (mut rows, mut max_revision) = (0u64, 0u64);
        let mut stopped_after: Option<Vec<u8>> = None;
        loop {
            let base_key = match base.peek() {
                Some(Ok((k, _))) => Some(k.to_vec()),
                Some(Err(_)) => {
                    if let Some(Err(e)) = base.next() {
                        return Err(e.into());
                    }
                    None
                }
                None => None,
            };
            let own_key = own.peek().map(|(k, _)| k.to_vec());
            let take_base = match (&base_key, &own_key) {
                (None, None) => break,
                (Some(b), Some(o)) => b < o,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            let (key, row) = if take_base {
                let Some(Ok((k, row))) = base.next() else {
                    break;
                };
                rows += 1;
                max_revision = max_revision.max(row.revision);
                (k.to_vec(), Some(row))
            } else {
                if base_key.is_some() && base_key == own_key {
                    // Shadowed by the transaction's own write, but read.
                    if let Some(Ok((_, row))) = base.next() {
                        rows += 1;
                        max_revision = max_revision.max(row.revision);
                    }
                }
                match own.next() {
                    Some((k, c)) => (k.clone(), own_row(c)),
                    None => break,
                }
            };
            if let Some(row) = row {
                if visit(&key, row)?.is_break() {
                    stopped_after = Some(key);
                    break;
                }
            }
        }
        let end = match stopped_after {
            Some(mut last) => {
                last.push(0);
                Some(last)
            }
            None => end,
        };
        self.reads.borrow_mut().ranges.push(Precondition {
            key: start.to_vec(),
            expect: Expect::RangeUnchanged {
                end,
                rows,
                max_revision,
            },
            violation: Violation::Conflict,
        });
        Ok(())
    }
}
