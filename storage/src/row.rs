//! Row codec: how a table row is stored as a RocksDB value.
//!
//! A value is one format-version byte followed by a MessagePack array
//! `[revision, [datum, ...]]`. The revision is the Raft log index of the entry
//! that last wrote the row; preconditions compare it (optimistic concurrency).

use serde::{Deserialize, Serialize};

use crate::error::StorageError;

const ROW_FORMAT_V1: u8 = 1;

/// One column value as stored. Timestamps are microseconds since the Unix
/// epoch, UTC.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Datum {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    Timestamp(i64),
}

/// A row together with the revision that wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRow {
    pub revision: u64,
    pub columns: Vec<Datum>,
}

impl StoredRow {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![ROW_FORMAT_V1];
        // Encoding plain data into a Vec cannot fail.
        rmp_serde::encode::write(&mut out, self).expect("row encodes");
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<StoredRow, StorageError> {
        match bytes.split_first() {
            Some((&ROW_FORMAT_V1, rest)) => {
                rmp_serde::from_slice(rest).map_err(|e| StorageError::Corrupt(e.to_string()))
            }
            Some((v, _)) => Err(StorageError::Corrupt(format!("unknown row format {v}"))),
            None => Err(StorageError::Corrupt("empty row value".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trips() {
        let row = StoredRow {
            revision: 42,
            columns: vec![
                Datum::Text("a".into()),
                Datum::Int(-7),
                Datum::Null,
                Datum::Timestamp(1_700_000_000_000_000),
                Datum::Bool(true),
            ],
        };
        assert_eq!(StoredRow::decode(&row.encode()).unwrap(), row);
    }

    #[test]
    fn unknown_format_is_an_error() {
        assert!(StoredRow::decode(&[9, 1, 2]).is_err());
        assert!(StoredRow::decode(&[]).is_err());
    }
}
