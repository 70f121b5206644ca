//! Size limits on what one write may carry. A batch becomes one Raft entry,
//! travels in one node-transport frame and its rows in snapshot records:
//! every bound here is far below those, so nothing a client can write is
//! too big to replicate, to snapshot or to restore.

use std::fmt;

use crate::batch::{Expect, KvBatch, KvOp};
use crate::row::Datum;
use crate::snapshot::MAX_FIELD;

/// The bounds one node enforces on the writes it proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one column value.
    pub max_value_bytes: usize,
    /// Bytes of one row: its key and every value.
    pub max_row_bytes: usize,
    /// Bytes of everything one statement or transaction writes.
    pub max_write_bytes: usize,
    /// Range reads one transaction may depend on (each is re-read by every
    /// replica when the transaction commits).
    pub max_read_ranges: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_value_bytes: 4 << 20,
            max_row_bytes: 8 << 20,
            max_write_bytes: 64 << 20,
            max_read_ranges: 1024,
        }
    }
}

/// The one bound a write is over.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LimitExceeded {
    Value { bytes: usize, max: usize },
    Row { bytes: usize, max: usize },
    Write { bytes: usize, max: usize },
    ReadRanges { ranges: usize, max: usize },
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitExceeded::Value { bytes, max } => {
                write!(f, "a value of {bytes} bytes exceeds the maximum of {max} (max_value_bytes)")
            }
            LimitExceeded::Row { bytes, max } => {
                write!(f, "a row of {bytes} bytes exceeds the maximum of {max} (max_row_bytes)")
            }
            LimitExceeded::Write { bytes, max } => write!(
                f,
                "the write set of {bytes} bytes exceeds the maximum of {max} (max_write_bytes)"
            ),
            LimitExceeded::ReadRanges { ranges, max } => write!(
                f,
                "the transaction depends on {ranges} range reads, more than the maximum of {max} (max_read_ranges)"
            ),
        }
    }
}

impl std::error::Error for LimitExceeded {}

// Sizes are upper bounds of a batch's encoding in a log entry (MessagePack
// with named variants, keys as arrays of small integers), so that a write
// within `max_write_bytes` is an entry within the frame.

/// Bytes a value takes at most in an entry.
pub fn datum_bytes(d: &Datum) -> usize {
    match d {
        Datum::Text(t) => t.len() + 16,
        _ => 24,
    }
}

/// Bytes a key takes at most in an entry (a byte may take two).
fn key_bytes(key: &[u8]) -> usize {
    2 * key.len() + 16
}

/// Bytes of a row: its key and values.
pub fn row_bytes(key: &[u8], columns: &[Datum]) -> usize {
    key_bytes(key) + columns.iter().map(datum_bytes).sum::<usize>()
}

/// Bytes a write of `key` adds to a batch: a put of `columns`, or a
/// delete (`None`).
pub fn write_bytes(key: &[u8], columns: Option<&[Datum]>) -> usize {
    32 + match columns {
        Some(columns) => row_bytes(key, columns),
        None => key_bytes(key),
    }
}

/// Bytes an operation adds to a batch.
pub fn op_bytes(op: &KvOp) -> usize {
    write_bytes(op.key(), op.columns())
}

/// The largest row any configuration may allow: its encoding must fit a
/// snapshot record with room to spare.
pub const MAX_ROW_CEILING: usize = MAX_FIELD as usize / 2;
/// The largest write set any configuration may allow: one Raft entry must
/// fit a node-transport frame (512 MiB) with room to spare.
pub const MAX_WRITE_CEILING: usize = 128 << 20;

impl Limits {
    /// Why these limits cannot be used, if they cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_row_bytes > MAX_ROW_CEILING {
            return Err(format!(
                "max_row_bytes {} is over the ceiling of {MAX_ROW_CEILING} (a row must fit a snapshot record)",
                self.max_row_bytes
            ));
        }
        if self.max_write_bytes > MAX_WRITE_CEILING {
            return Err(format!(
                "max_write_bytes {} is over the ceiling of {MAX_WRITE_CEILING} (a write must fit one Raft message)",
                self.max_write_bytes
            ));
        }
        if self.max_value_bytes > self.max_row_bytes || self.max_row_bytes > self.max_write_bytes {
            return Err(
                "limits must grow: max_value_bytes <= max_row_bytes <= max_write_bytes".into(),
            );
        }
        Ok(())
    }

    /// Checks a row about to be written.
    pub fn check_row(&self, key: &[u8], columns: &[Datum]) -> Result<usize, LimitExceeded> {
        for d in columns {
            let bytes = datum_bytes(d);
            if bytes > self.max_value_bytes {
                return Err(LimitExceeded::Value {
                    bytes,
                    max: self.max_value_bytes,
                });
            }
        }
        let bytes = row_bytes(key, columns);
        if bytes > self.max_row_bytes {
            return Err(LimitExceeded::Row {
                bytes,
                max: self.max_row_bytes,
            });
        }
        Ok(bytes)
    }

    /// Checks a write set's total size.
    pub fn check_write(&self, bytes: usize) -> Result<(), LimitExceeded> {
        if bytes > self.max_write_bytes {
            return Err(LimitExceeded::Write {
                bytes,
                max: self.max_write_bytes,
            });
        }
        Ok(())
    }

    /// Checks a whole batch: each row, the total, and its range reads.
    pub fn check(&self, batch: &KvBatch) -> Result<(), LimitExceeded> {
        let mut total = 0;
        for op in &batch.ops {
            if let Some(columns) = op.columns() {
                self.check_row(op.key(), columns)?;
            }
            total += op_bytes(op);
        }
        total += batch
            .preconditions
            .iter()
            .map(|p| {
                64 + key_bytes(&p.key)
                    + match &p.expect {
                        Expect::RangeUnchanged { end, .. } => end.as_deref().map_or(0, key_bytes),
                        _ => 0,
                    }
            })
            .sum::<usize>();
        self.check_write(total)?;
        let ranges = batch
            .preconditions
            .iter()
            .filter(|p| matches!(p.expect, Expect::RangeUnchanged { .. }))
            .count();
        if ranges > self.max_read_ranges {
            return Err(LimitExceeded::ReadRanges {
                ranges,
                max: self.max_read_ranges,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{Precondition, Violation};

    fn put(key: &str, text: usize) -> KvOp {
        KvOp::Put {
            key: key.as_bytes().to_vec(),
            columns: vec![Datum::Int(1), Datum::Text("x".repeat(text))],
        }
    }

    fn small() -> Limits {
        Limits {
            max_value_bytes: 100,
            max_row_bytes: 150,
            max_write_bytes: 400,
            max_read_ranges: 2,
        }
    }

    #[test]
    fn each_bound_is_checked_and_named() {
        let l = small();
        let batch = |ops| KvBatch {
            ops,
            ..Default::default()
        };
        assert!(l.check(&batch(vec![put("k", 80)])).is_ok());
        assert!(matches!(
            l.check(&batch(vec![put("k", 96)])),
            Err(LimitExceeded::Value {
                bytes: 112,
                max: 100
            })
        ));
        let wide = KvOp::Put {
            key: b"k".to_vec(),
            columns: vec![Datum::Text("x".repeat(80)), Datum::Text("y".repeat(80))],
        };
        assert!(matches!(
            l.check(&batch(vec![wide])),
            Err(LimitExceeded::Row { .. })
        ));
        let many = (0..5).map(|i| put(&format!("k{i}"), 80)).collect();
        let e = l.check(&batch(many)).unwrap_err();
        assert!(matches!(e, LimitExceeded::Write { max: 400, .. }));
        assert!(e.to_string().contains("max_write_bytes"), "{e}");
    }

    #[test]
    fn range_reads_are_counted() {
        let range = |k: &str| Precondition {
            key: k.as_bytes().to_vec(),
            expect: Expect::RangeUnchanged {
                end: None,
                rows: 0,
                max_revision: 0,
            },
            violation: Violation::Conflict,
        };
        let b = KvBatch {
            preconditions: vec![range("a"), range("b"), range("c")],
            ops: vec![put("k", 1)],
            timestamp: 0,
        };
        assert!(matches!(
            small().check(&b),
            Err(LimitExceeded::ReadRanges { ranges: 3, max: 2 })
        ));
    }
}
