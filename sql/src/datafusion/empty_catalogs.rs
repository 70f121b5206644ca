//! PostgreSQL catalogs datafusion-pg-catalog lacks and bucketdb has
//! nothing to list in: bucketdb has no transforms (pg_dump reads
//! `pg_transform` to exclude their functions). Each is an empty table with
//! PostgreSQL's columns, so queries over it plan and find no rows.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::Result;

/// Each empty catalog and its columns (all OIDs here).
const EMPTY: &[(&str, &[&str])] = &[(
    "pg_transform",
    &["oid", "trftype", "trflang", "trffromsql", "trftosql"],
)];

pub fn names() -> impl Iterator<Item = &'static str> {
    EMPTY.iter().map(|(name, _)| *name)
}

/// The empty table `name`, if it is one of these.
pub fn table(name: &str) -> Option<Result<Arc<dyn TableProvider>>> {
    let (_, columns) = EMPTY.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Int32, false))
            .collect::<Vec<_>>(),
    ));
    Some(MemTable::try_new(schema, vec![vec![]]).map(|t| Arc::new(t) as Arc<dyn TableProvider>))
}
