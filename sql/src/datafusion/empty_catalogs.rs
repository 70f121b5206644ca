//! PostgreSQL catalogs bucketdb has nothing to list in, where
//! datafusion-pg-catalog lacks them or gives their columns types queries
//! cannot use: bucketdb has no transforms (pg_dump reads `pg_transform` to
//! exclude their functions) and no partitioned tables (pg_dump asks
//! `… = ANY(partclass)` of `pg_partitioned_table`, whose `oidvector` the
//! library holds as text), and no rewrite rules: the library's
//! `pg_rewrite` holds PostgreSQL's rules for its own system views, whose
//! relations are not in this `pg_class` (pg_dump refuses a rule without
//! its relation), nor row security policies (`pg_policy`, whose roles
//! pg_dump compares as an array) nor security labels (`pg_seclabel`,
//! `pg_seclabels`) nor settings per role and database
//! (`pg_db_role_setting`, whose `setconfig` array pg_dump unnests). Each
//! is an empty table with PostgreSQL's columns, so
//! queries over it plan and find no rows.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::Result;

/// A column's type: PostgreSQL's, as Arrow holds it.
#[derive(Clone, Copy)]
enum Column {
    Oid,
    Int2,
    Int4,
    Bool,
    Char,
    /// `int2vector` and `oidvector`: lists.
    Oids,
    /// `name` and `pg_node_tree`: text.
    Text,
    /// `text[]`.
    Texts,
}

impl Column {
    fn data_type(self) -> DataType {
        match self {
            Column::Oid => DataType::Int32,
            Column::Int2 => DataType::Int16,
            Column::Int4 => DataType::Int32,
            Column::Bool => DataType::Boolean,
            Column::Char | Column::Text => DataType::Utf8,
            Column::Oids => DataType::new_list(DataType::Int32, true),
            Column::Texts => DataType::new_list(DataType::Utf8, true),
        }
    }
}

/// Each empty catalog and its columns.
const EMPTY: &[(&str, &[(&str, Column)])] = &[
    (
        "pg_transform",
        &[
            ("oid", Column::Oid),
            ("trftype", Column::Oid),
            ("trflang", Column::Oid),
            ("trffromsql", Column::Oid),
            ("trftosql", Column::Oid),
        ],
    ),
    (
        "pg_partitioned_table",
        &[
            ("partrelid", Column::Oid),
            ("partstrat", Column::Char),
            ("partnatts", Column::Int2),
            ("partdefid", Column::Oid),
            ("partattrs", Column::Oids),
            ("partclass", Column::Oids),
            ("partcollation", Column::Oids),
            ("partexprs", Column::Text),
        ],
    ),
    (
        "pg_rewrite",
        &[
            ("oid", Column::Oid),
            ("rulename", Column::Text),
            ("ev_class", Column::Oid),
            ("ev_type", Column::Char),
            ("ev_enabled", Column::Char),
            ("is_instead", Column::Bool),
            ("ev_qual", Column::Text),
            ("ev_action", Column::Text),
        ],
    ),
    (
        "pg_policy",
        &[
            ("oid", Column::Oid),
            ("polname", Column::Text),
            ("polrelid", Column::Oid),
            ("polcmd", Column::Char),
            ("polpermissive", Column::Bool),
            ("polroles", Column::Oids),
            ("polqual", Column::Text),
            ("polwithcheck", Column::Text),
        ],
    ),
    (
        "pg_db_role_setting",
        &[
            ("setdatabase", Column::Oid),
            ("setrole", Column::Oid),
            ("setconfig", Column::Texts),
        ],
    ),
    (
        "pg_seclabel",
        &[
            ("objoid", Column::Oid),
            ("classoid", Column::Oid),
            ("objsubid", Column::Int4),
            ("provider", Column::Text),
            ("label", Column::Text),
        ],
    ),
    (
        "pg_seclabels",
        &[
            ("objoid", Column::Oid),
            ("classoid", Column::Oid),
            ("objsubid", Column::Int4),
            ("objtype", Column::Text),
            ("objnamespace", Column::Oid),
            ("objname", Column::Text),
            ("provider", Column::Text),
            ("label", Column::Text),
        ],
    ),
];

pub fn names() -> impl Iterator<Item = &'static str> {
    EMPTY.iter().map(|(name, _)| *name)
}

/// The empty table `name`, if it is one of these.
pub fn table(name: &str) -> Option<Result<Arc<dyn TableProvider>>> {
    let (_, columns) = EMPTY.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(c, ty)| Field::new(*c, ty.data_type(), true))
            .collect::<Vec<_>>(),
    ));
    Some(MemTable::try_new(schema, vec![vec![]]).map(|t| Arc::new(t) as Arc<dyn TableProvider>))
}
