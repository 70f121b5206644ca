//! The KV batch: what a planned write becomes, and what a Raft log entry
//! carries. It is fully deterministic: every value in it (timestamps, ids)
//! was fixed by the planner on the leader before the entry entered the log.

use serde::{Deserialize, Serialize};

use crate::row::Datum;

/// A planned write: preconditions over the state before the batch, then the
/// operations. Applied all-or-nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KvBatch {
    pub preconditions: Vec<Precondition>,
    pub ops: Vec<KvOp>,
    /// When the statement or transaction ran (microseconds since the Unix
    /// epoch, from the proposer's clock): the time of the rows the state
    /// machine writes on its own, such as delete markers.
    #[serde(default)]
    pub timestamp: i64,
}

impl KvBatch {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A condition on one key that must hold when the batch is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Precondition {
    pub key: Vec<u8>,
    pub expect: Expect,
    /// What it means when the condition does not hold; reported back so the
    /// SQL layer can answer with the right SQLSTATE (or retry a conflict).
    pub violation: Violation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expect {
    /// No row at the key.
    Absent,
    /// The row at the key was last written by this revision (log index).
    Revision(u64),
    /// The rows from the precondition's key up to `end` (exclusive; none:
    /// to the end of the table space) are still the ones a transaction
    /// read: as many, and none written after `max_revision`. Every write
    /// stamps a new, higher revision and a delete lowers the count, so this
    /// detects any change to the range, phantoms included.
    RangeUnchanged {
        end: Option<Vec<u8>>,
        rows: u64,
        max_revision: u64,
    },
}

/// Why a batch was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Violation {
    /// A row with that primary key exists.
    UniqueViolation,
    /// A row refers to a parent that does not exist (object without bucket).
    MissingParent,
    /// A parent still has children (deleting a non-empty bucket).
    HasChildren,
    /// Something the statement read has changed since: re-plan or abort.
    Conflict,
    /// A value breaks a rule (S3 naming).
    InvalidValue,
}

/// One write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum KvOp {
    /// Stores the row at the key, stamped with the entry's log index.
    Put { key: Vec<u8>, columns: Vec<Datum> },
    /// Removes the row at the key, if any.
    Delete { key: Vec<u8> },
    /// Stores an object version as it was where it was dumped (a restore
    /// through `COPY`): an `objects` row, the current version, or a stored
    /// version. Versioning does not act on it: the version keeps its id,
    /// and `seq`, the sequence its id was made from, orders it among its
    /// object's versions. For an `objects` row `seq` is the row's revision
    /// (`None`: this entry's, for a `null` version, whose id carries none);
    /// a stored version's key holds its sequence, and `seq` must repeat it.
    /// Applying the op moves the revisions of later entries past `seq`, so
    /// that versions made after the restore are newer.
    Restore {
        key: Vec<u8>,
        columns: Vec<Datum>,
        seq: Option<u64>,
    },
}

impl KvOp {
    pub fn key(&self) -> &[u8] {
        match self {
            KvOp::Put { key, .. } | KvOp::Delete { key } | KvOp::Restore { key, .. } => key,
        }
    }

    /// The row the op stores (`None`: it removes one).
    pub fn columns(&self) -> Option<&[Datum]> {
        match self {
            KvOp::Put { columns, .. } | KvOp::Restore { columns, .. } => Some(columns),
            KvOp::Delete { .. } => None,
        }
    }
}
