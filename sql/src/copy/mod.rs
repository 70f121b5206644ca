//! COPY: `COPY table [(columns)] FROM STDIN [(FORMAT text | csv, HEADER,
//! DELIMITER 'c', NULL 's')]` and `COPY table | (query) TO STDOUT`. The
//! format ([`options`]), turning rows into lines ([`encode`]) and data
//! into records ([`decode`]), and the state of a COPY receiving data
//! ([`stream`]). Planning is in `plan`, writing batches in `fastpath`,
//! driving the stream in `engine`.
//!
//! Atomic unit: one batch of at most [`BATCH_ROWS`] rows and
//! [`BATCH_BYTES`] bytes is one Raft entry.
//! A bad row (unparsable, breaking a rule, a duplicate key) fails the COPY
//! with its line number; batches before it stay written, nothing of its own
//! batch is. Inside an explicit transaction COPY is refused.

mod decode;
mod encode;
mod options;
mod stream;

pub use decode::{parse_record, take_records, Scan};
pub use encode::encode_rows;
pub use options::copy_options;
pub use stream::{at_line, CopyIn};

use crate::catalog::TableId;

/// Rows per Raft entry, at most.
pub const BATCH_ROWS: usize = 1000;
/// Bytes of field data per Raft entry, at most (a batch holds at least one
/// row): wide rows make smaller batches, well within the write limits.
pub const BATCH_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

/// Format options shared by both directions.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub header: bool,
    pub delimiter: u8,
    pub null: String,
}

/// A planned `COPY … FROM STDIN`.
#[derive(Debug, Clone)]
pub struct CopyInPlan {
    pub table: TableId,
    /// Table columns in the order the data gives them.
    pub columns: Vec<usize>,
    pub options: CopyOptions,
}

/// One field of a record: `None` is NULL.
pub type Field = Option<String>;
