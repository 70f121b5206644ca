//! Reading inside a transaction: its snapshot overlaid with its own
//! writes, every snapshot row read recorded for COMMIT's check.

use std::cell::RefCell;

use bucketdb_storage::{Datum, Expect, Precondition, StoredRow, Violation};

use super::{ReadSet, Txn};
use crate::error::SqlResult;
use crate::scan::{KeyedVisit, RowSource};

/// One statement's view of a transaction: snapshot plus own writes, with
/// the reads it makes recorded.
pub struct TxnView<'a> {
    txn: &'a Txn,
    reads: RefCell<ReadSet>,
}

impl TxnView<'_> {
    pub(super) fn new(txn: &Txn) -> TxnView<'_> {
        TxnView {
            txn,
            reads: RefCell::new(ReadSet::default()),
        }
    }

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
