//! A SELECT that sends rows as its scan finds them (see
//! [`super::streams`]): the scan runs on a blocking thread over a read view
//! of its own and sends chunks through a bounded channel, so a slow client
//! pauses it and a closed portal stops it.

use std::ops::ControlFlow;
use std::sync::Arc;

use bucketdb_storage::OwnedView;

use super::select::{select_into, Input};
use crate::catalog::Catalog;
use crate::error::SqlError;
use crate::expr::EvalEnv;
use crate::plan::SelectPlan;
use crate::runtime::{Interrupt, RowChunks};
use crate::settings::Settings;
use crate::value::Value;

/// Rows per chunk a streaming SELECT sends, and chunks it may read ahead
/// of the client.
const STREAM_CHUNK_ROWS: usize = 256;
const STREAM_CHUNKS_AHEAD: usize = 4;

/// Starts the scan of `plan` over `view`; its rows arrive in chunks.
pub fn stream_select(
    catalog: Arc<Catalog>,
    plan: SelectPlan,
    view: OwnedView,
    params: Vec<Value>,
    settings: Settings,
    interrupt: Interrupt,
) -> RowChunks {
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let env = EvalEnv::at_now(&params, &settings, &interrupt);
        let mut chunk = Vec::with_capacity(STREAM_CHUNK_ROWS);
        let scan = std::panic::AssertUnwindSafe(|| {
            select_into(
                &catalog,
                &plan,
                Input::Table(view.borrow_dependent()),
                &env,
                &mut |row| {
                    chunk.push(row);
                    if chunk.len() < STREAM_CHUNK_ROWS {
                        return Ok(ControlFlow::Continue(()));
                    }
                    // The receiver is gone (client left, portal closed):
                    // stop reading.
                    match tx.blocking_send(Ok(std::mem::take(&mut chunk))) {
                        Ok(()) => Ok(ControlFlow::Continue(())),
                        Err(_) => Ok(ControlFlow::Break(())),
                    }
                },
            )
        });
        // A scan that died must not look like a complete result.
        let result = std::panic::catch_unwind(scan)
            .unwrap_or_else(|_| Err(SqlError::internal("the scan stopped unexpectedly")));
        let last = result.map(|()| chunk);
        if !matches!(&last, Ok(c) if c.is_empty()) {
            let _ = tx.blocking_send(last);
        }
    });
    rx
}
