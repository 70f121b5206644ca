//! Where a statement reads rows from: a read view alone (autocommit), or a
//! transaction's snapshot overlaid with its own writes (see [`crate::txn`]).

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
