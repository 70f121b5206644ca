//! bucketdb's own functions: table functions usable in FROM
//! ([`table_fn`]) with their rows (listing, versions, cluster state), and
//! admin functions with side effects ([`admin`]); and how each is
//! described to catalog browsers ([`Signature`], the rows of `pg_proc`).

pub mod admin;
pub mod cluster;
pub mod list_versions;
pub mod listing;
pub mod table_fn;

pub use admin::{AdminCall, AdminFn};
pub use table_fn::{TableFn, TableFnCall};

use crate::value::{SqlType, Value};

/// bucketdb's own functions: those usable in FROM, then the admin ones.
pub fn own_functions() -> impl Iterator<Item = Signature> {
    TableFn::ALL
        .into_iter()
        .map(TableFn::signature)
        .chain(AdminFn::ALL.into_iter().map(AdminFn::signature))
}

/// A function as the catalog shows it, in PostgreSQL's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: &'static str,
    /// As `pg_get_function_arguments` renders them.
    pub arguments: String,
    /// The arguments' types, in order (`pg_proc.proargtypes`).
    pub argument_types: Vec<SqlType>,
    /// As `pg_get_function_result` renders it.
    pub result: String,
    /// Whether the function is used in FROM (returns rows).
    pub returns_set: bool,
}

/// A parameter's default as PostgreSQL prints it (`''::text`, `1000`).
pub(crate) fn sql_literal(v: &Value, ty: SqlType) -> String {
    match v {
        Value::Null => format!("NULL::{}", ty.name()),
        Value::Text(s) => format!("'{}'::{}", s.replace('\'', "''"), ty.name()),
        other => other.to_text(),
    }
}
