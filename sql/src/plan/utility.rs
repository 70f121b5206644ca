//! Planning the statements that are not reads or writes of rows: SET,
//! COPY (both directions) and admin calls.

use sqlparser::ast::{self, SetExpr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::select::plan_query;
use super::Plan;
use crate::bind::{ident, object_name, table_name, Binder};
use crate::catalog::Catalog;
use crate::copy::{copy_options, CopyInPlan, CopyOptions};
use crate::error::{SqlError, SqlResult};
use crate::functions::admin::{bind_admin, AdminCall};
use crate::value::OutColumn;

/// The first words of a statement, to name it in an error.
pub(super) fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

pub(super) fn plan_set(set: &ast::Set) -> SqlResult<Plan> {
    match set {
        ast::Set::SingleAssignment {
            variable, values, ..
        } => {
            let name = object_name(variable)?;
            let value = match values.as_slice() {
                [ast::Expr::Value(v)] => match &v.value {
                    ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => {
                        Some(s.clone())
                    }
                    ast::Value::Number(n, _) => Some(n.clone()),
                    ast::Value::Boolean(b) => Some(if *b { "on" } else { "off" }.into()),
                    other => Some(other.to_string()),
                },
                [ast::Expr::Identifier(i)] if i.value.eq_ignore_ascii_case("default") => None,
                [ast::Expr::Identifier(i)] => Some(i.value.clone()),
                vals => Some(
                    vals.iter()
                        .map(|v| v.to_string().trim_matches('\'').to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            };
            Ok(Plan::Set { name, value })
        }
        ast::Set::SetTimeZone { value, .. } => Ok(Plan::Set {
            name: "timezone".into(),
            value: Some(value.to_string().trim_matches('\'').to_string()),
        }),
        ast::Set::SetNames { charset_name, .. } => Ok(Plan::Set {
            name: "client_encoding".into(),
            value: Some(charset_name.to_string().trim_matches('\'').to_string()),
        }),
        ast::Set::SetTransaction {
            modes,
            snapshot: None,
            session,
        } => plan_transaction_modes(modes, *session),
        other => Err(SqlError::feature_not_supported(format!(
            "{other} is not supported"
        ))),
    }
}

/// `SET [SESSION CHARACTERISTICS AS] TRANSACTION …`. Every transaction
/// is serializable, which the SQL standard allows for any level asked
/// for, so the isolation levels are accepted and change nothing. READ
/// ONLY holds for the open transaction (pg_dump asks for it); as the
/// session's default it is refused rather than promised and not kept.
fn plan_transaction_modes(modes: &[ast::TransactionMode], session: bool) -> SqlResult<Plan> {
    match (read_only(modes), session) {
        (Some(true), true) => Err(SqlError::feature_not_supported(
            "read-only sessions are not supported",
        )),
        (Some(read_only), false) => Ok(Plan::TransactionAccess { read_only }),
        // Nothing to set: `transaction_isolation` stays "serializable".
        _ => Ok(Plan::Set {
            name: "transaction_isolation".into(),
            value: Some("serializable".into()),
        }),
    }
}

/// `LOCK TABLE t, … IN ACCESS SHARE MODE` (pg_dump's, before it reads):
/// it only keeps the tables from being altered or dropped, which never
/// happens to bucketdb's tables, so it is granted at once. A stronger mode
/// would promise to hold off writers, which bucketdb's optimistic
/// transactions do not do, so it is refused.
pub(super) fn plan_lock(catalog: &Catalog, lock: &ast::Lock) -> SqlResult<Plan> {
    for t in &lock.tables {
        catalog.table(&table_name(&t.name)?)?;
    }
    match lock.lock_mode {
        Some(ast::LockTableMode::AccessShare) => Ok(Plan::LockShared),
        _ => Err(SqlError::feature_not_supported(
            "LOCK TABLE is supported only IN ACCESS SHARE MODE",
        )),
    }
}

/// The access mode `modes` ask for, if any: READ ONLY is `Some(true)`.
pub(super) fn read_only(modes: &[ast::TransactionMode]) -> Option<bool> {
    modes.iter().rev().find_map(|m| match m {
        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadOnly) => Some(true),
        ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite) => Some(false),
        _ => None,
    })
}

/// The setting a `SHOW` names, given its words in lowercase: PostgreSQL's
/// multi-word forms name settings too. `None` for `SHOW ALL`.
pub(super) fn show_name(words: &str) -> Option<String> {
    let words = words.to_ascii_lowercase();
    Some(match words.as_str() {
        "all" => return None,
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        // sqlparser takes SESSION as MySQL's scope keyword and leaves
        // `SHOW SESSION AUTHORIZATION` with one word.
        "session authorization" | "authorization" => "session_authorization".into(),
        _ => words,
    })
}

/// The statement `DEALLOCATE` names (folded unless quoted, as PostgreSQL
/// does); `None` for `ALL`.
pub(super) fn deallocated(name: &ast::Ident) -> Option<String> {
    match name.quote_style {
        None if name.value.eq_ignore_ascii_case("all") => None,
        _ => Some(ident(name)),
    }
}

/// `SELECT admin_fn(…)`, if that is what the query is.
pub(super) fn admin_call(
    q: &ast::Query,
    b: &mut Binder,
) -> SqlResult<Option<(AdminCall, OutColumn)>> {
    match &*q.body {
        SetExpr::Select(s) if q.order_by.is_none() && q.limit_clause.is_none() => bind_admin(s, b),
        _ => Ok(None),
    }
}

/// Plans `COPY table [(columns)] FROM STDIN`.
fn plan_copy_in(
    catalog: &Catalog,
    name: &ast::ObjectName,
    columns: &[ast::Ident],
    options: CopyOptions,
) -> SqlResult<CopyInPlan> {
    // COPY into object_versions restores versions (see fastpath::restore).
    let table = catalog.table(&table_name(name)?)?;
    let columns = if columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        columns
            .iter()
            .map(|c| table.column_index(&ident(c)))
            .collect::<SqlResult<Vec<_>>>()?
    };
    Ok(CopyInPlan {
        table: table.id,
        columns,
        options,
    })
}

/// Plans `COPY table [(columns)] FROM STDIN` and `COPY table | (query) TO
/// STDOUT`.
pub(super) fn plan_copy(
    catalog: &Catalog,
    source: &ast::CopySource,
    to: bool,
    target: &ast::CopyTarget,
    options: &[ast::CopyOption],
    legacy_options: &[ast::CopyLegacyOption],
    b: &mut Binder,
) -> SqlResult<Plan> {
    if !legacy_options.is_empty() {
        return Err(SqlError::feature_not_supported(
            "COPY's pre-9.0 option syntax; use (FORMAT csv, HEADER)",
        ));
    }
    let options = copy_options(options)?;
    match (source, to, target) {
        (
            ast::CopySource::Table {
                table_name,
                columns,
            },
            false,
            ast::CopyTarget::Stdin,
        ) => Ok(Plan::CopyIn(plan_copy_in(
            catalog, table_name, columns, options,
        )?)),
        (source, true, ast::CopyTarget::Stdout) => {
            let query = match source {
                ast::CopySource::Query(q) => q.clone(),
                ast::CopySource::Table {
                    table_name,
                    columns,
                } => {
                    let list = if columns.is_empty() {
                        "*".to_string()
                    } else {
                        columns
                            .iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let sql = format!("SELECT {list} FROM {table_name}");
                    match Parser::parse_sql(&PostgreSqlDialect {}, &sql)
                        .map_err(|e| SqlError::syntax(e.to_string()))?
                        .pop()
                    {
                        Some(Statement::Query(q)) => q,
                        _ => return Err(SqlError::internal("COPY source query")),
                    }
                }
            };
            Ok(Plan::CopyOut {
                select: plan_query(catalog, &query, b)?,
                options,
            })
        }
        _ => Err(SqlError::feature_not_supported(
            "COPY supports FROM STDIN and TO STDOUT (use psql's \\copy for files)",
        )),
    }
}
