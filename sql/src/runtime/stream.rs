//! Result rows that arrive in chunks: the first chunk is in hand, the rest
//! come from a scan still running (bounded, so a slow client pauses it).

use crate::error::SqlResult;
use crate::value::Value;

/// Later chunks of a streamed result; any of them may be an error.
pub type RowChunks = tokio::sync::mpsc::Receiver<SqlResult<Vec<Vec<Value>>>>;

/// A result being read: its first chunk and the rest.
pub struct RowStream {
    pub first: Vec<Vec<Value>>,
    pub rest: RowChunks,
}

impl RowStream {
    /// Waits for the first chunk of `rest` (an error fails the statement
    /// as a whole) and keeps the rest coming.
    pub async fn start(mut rest: RowChunks) -> SqlResult<RowStream> {
        let first = match rest.recv().await {
            Some(chunk) => chunk?,
            None => vec![],
        };
        Ok(RowStream { first, rest })
    }

    /// Every row, waiting for the stream to end.
    pub async fn collect(self) -> SqlResult<Vec<Vec<Value>>> {
        let RowStream {
            mut first,
            mut rest,
        } = self;
        while let Some(chunk) = rest.recv().await {
            first.extend(chunk?);
        }
        Ok(first)
    }
}
