//! Where a statement reads rows from: a read view alone (autocommit), or a
//! transaction's snapshot overlaid with its own writes (the `txn` module).
//! Tests use an in-memory source ([`MemRows`]).

use std::ops::ControlFlow;

use bucketdb_storage::{ReadView, StoredRow};

use crate::error::SqlResult;

/// Called with each row a scan visits, and its key; breaks to stop.
pub type KeyedVisit<'v> = dyn FnMut(&[u8], StoredRow) -> SqlResult<ControlFlow<()>> + 'v;

/// Rows by key, as one statement sees them.
pub trait RowSource {
    /// The row at `key`, if any.
    fn get(&self, key: &[u8]) -> SqlResult<Option<StoredRow>>;

    /// Visits rows (with their keys) with `start <= key < end` (no end: to
    /// the end of the table space) in key order, until `visit` breaks.
    fn scan(&self, start: &[u8], end: Option<Vec<u8>>, visit: &mut KeyedVisit<'_>)
        -> SqlResult<()>;
}

impl RowSource for ReadView<'_> {
    fn get(&self, key: &[u8]) -> SqlResult<Option<StoredRow>> {
        Ok(ReadView::get(self, key)?)
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<Vec<u8>>,
        visit: &mut KeyedVisit<'_>,
    ) -> SqlResult<()> {
        for item in ReadView::scan(self, start, end) {
            let (key, row) = item?;
            if visit(&key, row)?.is_break() {
                break;
            }
        }
        Ok(())
    }
}

/// Rows held in memory, for tests of what is built from a given state.
#[cfg(test)]
#[derive(Debug, Default, Clone)]
pub struct MemRows(pub std::collections::BTreeMap<Vec<u8>, StoredRow>);

#[cfg(test)]
impl MemRows {
    /// Adds a row at `key` written at log index `revision`.
    pub fn put(&mut self, key: Vec<u8>, revision: u64, columns: Vec<bucketdb_storage::Datum>) {
        self.0.insert(key, StoredRow { revision, columns });
    }
}

#[cfg(test)]
impl RowSource for MemRows {
    fn get(&self, key: &[u8]) -> SqlResult<Option<StoredRow>> {
        Ok(self.0.get(key).cloned())
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<Vec<u8>>,
        visit: &mut KeyedVisit<'_>,
    ) -> SqlResult<()> {
        for (k, row) in self.0.range(start.to_vec()..) {
            if end.as_ref().is_some_and(|e| k >= e) {
                break;
            }
            if visit(k, row.clone())?.is_break() {
                break;
            }
        }
        Ok(())
    }
}
