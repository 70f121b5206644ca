//! The fixed catalog: the built-in tables, their columns, keys and
//! defaults ([`tables`]), the rules a row must follow and the key it is
//! stored at ([`rows`]), and how a storage key or a refusal of the state
//! machine is named to a client ([`naming`]).

mod constraints;
mod naming;
mod rows;
mod tables;

pub use constraints::{Constraint, ConstraintKind};
pub use naming::{duplicate_key, rejection_error};

use crate::error::{SqlError, SqlResult};
use crate::value::SqlType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableId {
    Buckets,
    Objects,
    Uploads,
    Parts,
    /// `object_versions`: read-only but for DELETE; made of the `objects`
    /// rows and the stored versions (see the `scan::versions` module).
    Versions,
}

/// What a column holds when an INSERT does not name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    Null,
    Text(&'static str),
    Int(i64),
    /// The statement's timestamp, fixed by the planner on the leader.
    Now,
    /// Assigned by the state machine when it applies the write (version
    /// ids); a statement may only leave it at this placeholder.
    Assigned(&'static str),
}

/// Extra rule a column's value must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    NotNull,
    Json,
    NonNegative,
    OneOf(&'static [&'static str]),
}

/// The values of `buckets.versioning`.
pub const VERSIONING: &[&str] = &["disabled", "enabled", "suspended"];

#[derive(Debug, Clone)]
pub struct Column {
    pub name: &'static str,
    pub ty: SqlType,
    pub default: Default,
    pub check: Check,
}

#[derive(Debug)]
pub struct Table {
    pub id: TableId,
    pub name: &'static str,
    pub columns: Vec<Column>,
    /// Positions of the primary-key columns, in key order.
    pub key: Vec<usize>,
    /// The parent the state machine requires a row to have, and which
    /// cannot be deleted while the row exists.
    pub foreign_key: Option<ForeignKey>,
}

/// A foreign key the state machine enforces (see `storage::apply`).
#[derive(Debug)]
pub struct ForeignKey {
    pub name: &'static str,
    /// Positions of the referencing columns, in key order.
    pub columns: Vec<usize>,
    pub parent: TableId,
    /// Positions of the referenced columns, matching `columns`.
    pub parent_columns: Vec<usize>,
}

/// All built-in tables, built once.
#[derive(Debug)]
pub struct Catalog {
    pub buckets: Table,
    pub objects: Table,
    pub uploads: Table,
    pub parts: Table,
    pub versions: Table,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog {
            buckets: tables::buckets(),
            objects: tables::objects(),
            uploads: tables::uploads(),
            parts: tables::parts(),
            versions: tables::versions(),
        }
    }

    pub fn table(&self, name: &str) -> SqlResult<&Table> {
        match name {
            "buckets" => Ok(&self.buckets),
            "objects" => Ok(&self.objects),
            "multipart_uploads" => Ok(&self.uploads),
            "multipart_parts" => Ok(&self.parts),
            "object_versions" => Ok(&self.versions),
            other => Err(SqlError::undefined_table(format!(
                "relation \"{other}\" does not exist"
            ))),
        }
    }

    pub fn get(&self, id: TableId) -> &Table {
        match id {
            TableId::Buckets => &self.buckets,
            TableId::Objects => &self.objects,
            TableId::Uploads => &self.uploads,
            TableId::Parts => &self.parts,
            TableId::Versions => &self.versions,
        }
    }
}

impl std::default::Default for Catalog {
    fn default() -> Self {
        Catalog::new()
    }
}

impl Table {
    pub fn column_index(&self, name: &str) -> SqlResult<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                SqlError::undefined_column(format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    self.name
                ))
            })
    }

    pub fn is_key_column(&self, idx: usize) -> bool {
        self.key.contains(&idx)
    }

    /// The name of the table's primary-key constraint, as PostgreSQL
    /// names one (`objects_pkey`).
    pub fn key_constraint(&self) -> String {
        format!("{}_pkey", self.name)
    }
}
