//! What a statement answers: rows (gathered or streaming), a command tag,
//! the start of a COPY, or a change of transaction state.

use super::Prepared;
use crate::error::SqlResult;
use crate::runtime::{RowChunks, RowStream};
use crate::value::{OutColumn, Value};

/// The result of one statement.
#[derive(Debug)]
pub enum Output {
    /// Rows, and the command word(s) the tag starts with (`SELECT`,
    /// `INSERT 0`, `UPDATE`, `DELETE`, `SHOW`); the row count completes it.
    Rows {
        columns: Vec<OutColumn>,
        rows: Vec<Vec<Value>>,
        command: String,
    },
    /// A SELECT's rows as they are read: the first chunk, then the rest
    /// from a scan that runs on while the client takes them (bounded, so a
    /// slow client pauses the scan). A later chunk may be an error.
    RowStream {
        columns: Vec<OutColumn>,
        first: Vec<Vec<Value>>,
        rest: RowChunks,
    },
    /// A complete command tag (`INSERT 0 3`, `SET`).
    Command(String),
    /// `COPY … FROM STDIN` started: the client sends this many columns.
    CopyIn { columns: usize },
    /// `COPY … TO STDOUT`: one encoded line per row.
    CopyOut { columns: usize, data: Vec<Vec<u8>> },
    /// BEGIN, COMMIT or ROLLBACK: its tag, and whether a transaction is
    /// open after it (the wire protocol reports the status).
    Transaction { tag: &'static str, open: bool },
    /// `DEALLOCATE` or `DISCARD ALL`: the connection's prepared statement
    /// `name`, or all of them (`None`), are to go. The connection holds
    /// them, so it removes them and answers `tag`.
    Deallocate {
        name: Option<String>,
        tag: &'static str,
    },
    /// `PREPARE`: the connection is to keep `statement` under `name`.
    Define {
        name: String,
        statement: Box<Prepared>,
    },
    /// `EXECUTE`: the connection is to run its statement `name`.
    Execute { name: String, params: Vec<Value> },
}

impl Output {
    /// A streamed SELECT result.
    pub(super) fn stream(columns: Vec<OutColumn>, stream: RowStream) -> Output {
        Output::RowStream {
            columns,
            first: stream.first,
            rest: stream.rest,
        }
    }

    /// A write's result: its tag, or its RETURNING rows.
    pub(super) fn written(
        columns: &[OutColumn],
        command: &str,
        count: u64,
        returned: Vec<Vec<Value>>,
    ) -> Output {
        if columns.is_empty() {
            Output::Command(format!("{command} {count}"))
        } else {
            Output::Rows {
                columns: columns.to_vec(),
                rows: returned,
                command: command.into(),
            }
        }
    }

    /// A result's rows, waiting for a streaming one to end (`None`: the
    /// statement returns no rows).
    pub async fn into_rows(self) -> SqlResult<Option<Vec<Vec<Value>>>> {
        match self {
            Output::Rows { rows, .. } => Ok(Some(rows)),
            Output::RowStream { first, rest, .. } => {
                RowStream { first, rest }.collect().await.map(Some)
            }
            _ => Ok(None),
        }
    }
}
