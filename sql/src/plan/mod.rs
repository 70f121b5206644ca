//! bucketdb's own planner: a parsed statement becomes a [`Planned`] plan
//! with its parameter types and result columns, ready to run many times.
//! By statement kind: queries ([`select`]), writes ([`dml`]), settings,
//! COPY and admin calls ([`utility`]), and what EXPLAIN shows
//! ([`explain`]). A read this planner refuses for a missing feature may
//! still be planned by DataFusion (the `datafusion` module, a sibling that
//! neither imports nor is imported by this module).

mod dml;
mod explain;
mod join;
mod select;
mod utility;

pub use dml::{DeletePlan, InsertPlan, OnConflict, UpdatePlan};
pub use join::LookupJoin;
pub use select::{Projection, SelectPlan, SortSource};

use sqlparser::ast::{self, Statement};

use crate::auth::RoleStatement;
use crate::bind::{ident, object_name, Binder, Scope};
use crate::catalog::{Catalog, Table};
use crate::copy::{CopyInPlan, CopyOptions};
use crate::error::{SqlError, SqlResult};
use crate::functions::AdminCall;
use crate::runtime::Work;
use crate::scan::MAX_SHORT_GETS;
use crate::value::{OutColumn, SqlType};

#[derive(Debug, Clone)]
pub enum Plan {
    Select(SelectPlan),
    Insert(InsertPlan),
    Update(UpdatePlan),
    Delete(DeletePlan),
    /// `SET name = value`; `None` resets to the default.
    Set {
        name: String,
        value: Option<String>,
    },
    /// `RESET ALL`.
    ResetAll,
    /// `EXPLAIN statement`: the lines of its plan.
    Explain(Vec<String>),
    Show {
        name: String,
    },
    /// `SHOW ALL`.
    ShowAll,
    /// A cluster administration call (`SELECT cluster_promote(2)`).
    Admin(AdminCall),
    /// CREATE / ALTER / DROP ROLE, GRANT, REVOKE.
    Roles(RoleStatement),
    /// `COPY table FROM STDIN`.
    CopyIn(CopyInPlan),
    /// `COPY table | (query) TO STDOUT`.
    CopyOut {
        select: SelectPlan,
        options: CopyOptions,
    },
    /// `BEGIN` / `START TRANSACTION` [`READ ONLY`].
    Begin {
        read_only: bool,
    },
    /// `SET TRANSACTION READ ONLY | READ WRITE`, for the open transaction.
    TransactionAccess {
        read_only: bool,
    },
    /// `LOCK TABLE … IN ACCESS SHARE MODE`: a lock against schema changes,
    /// which bucketdb's fixed tables never have, so it holds by itself.
    LockShared,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK`.
    Rollback,
    /// `SAVEPOINT name`.
    Savepoint(String),
    /// `RELEASE [SAVEPOINT] name`.
    Release(String),
    /// `ROLLBACK TO [SAVEPOINT] name`.
    RollbackTo(String),
    /// `DEALLOCATE name`, or `DEALLOCATE ALL` (`None`).
    Deallocate(Option<String>),
    /// `DISCARD ALL`: settings reset and prepared statements gone.
    DiscardAll,
}

/// A planned statement: its plan, the types of its parameters and the
/// columns of its result.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub param_types: Vec<SqlType>,
    pub columns: Vec<OutColumn>,
}

impl Plan {
    /// How long building this write takes: short for a few VALUES rows,
    /// or an UPDATE or DELETE by key (see [`crate::scan::Access::work`]).
    pub fn write_work(&self) -> Work {
        match self {
            Plan::Insert(i) if i.select.is_none() && i.rows.len() <= MAX_SHORT_GETS => Work::Short,
            Plan::Update(u) => u.access.work(u.table),
            Plan::Delete(d) => d.access.work(d.table),
            _ => Work::MayScan,
        }
    }

    /// A short name of the statement's kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Plan::Select(_) => "select",
            Plan::Insert(_) => "insert",
            Plan::Update(_) => "update",
            Plan::Delete(_) => "delete",
            Plan::Set { .. } | Plan::ResetAll => "set",
            Plan::Explain(_) => "explain",
            Plan::Show { .. } | Plan::ShowAll => "show",
            Plan::Admin(_) => "admin",
            Plan::Roles(_) => "role",
            Plan::Begin { .. }
            | Plan::TransactionAccess { .. }
            | Plan::LockShared
            | Plan::Commit
            | Plan::Rollback
            | Plan::Savepoint(_)
            | Plan::Release(_)
            | Plan::RollbackTo(_) => "transaction",
            Plan::Deallocate(_) | Plan::DiscardAll => "deallocate",
            Plan::CopyIn(_) | Plan::CopyOut { .. } => "copy",
        }
    }
}

/// The columns of `table`, named under `qualifier`.
fn table_scope(table: &Table, qualifier: &str) -> Scope {
    let mut s = Scope::default();
    for c in &table.columns {
        s.push(qualifier, c.name, c.ty, false);
    }
    s
}

/// Plans one statement. `given` holds parameter types the client declared
/// (`None`: let the statement decide).
pub fn plan(catalog: &Catalog, stmt: &Statement, given: &[Option<SqlType>]) -> SqlResult<Planned> {
    let mut b = Binder {
        params: given.to_vec(),
        aggs: vec![],
    };
    if let Some(roles) = RoleStatement::plan(catalog, stmt) {
        return Ok(Planned {
            plan: Plan::Roles(roles?),
            param_types: vec![],
            columns: vec![],
        });
    }
    let mut admin_column = None;
    let plan = match stmt {
        Statement::Query(q) => match utility::admin_call(q, &mut b)? {
            Some((call, column)) => {
                admin_column = Some(column);
                Plan::Admin(call)
            }
            None => Plan::Select(select::plan_query(catalog, q, &mut b)?),
        },
        Statement::Insert(ins) => Plan::Insert(dml::plan_insert(catalog, ins, &mut b)?),
        Statement::Update(up) => Plan::Update(dml::plan_update(catalog, up, &mut b)?),
        Statement::Delete(del) => Plan::Delete(dml::plan_delete(catalog, del, &mut b)?),
        Statement::Set(set) => utility::plan_set(set)?,
        Statement::Explain {
            statement,
            analyze: false,
            ..
        } => Plan::Explain(explain::explain(
            &plan(catalog, statement, given)?.plan,
            catalog,
        )),
        Statement::Reset(r) => match &r.reset {
            ast::Reset::ALL => Plan::ResetAll,
            ast::Reset::ConfigurationParameter(name) => Plan::Set {
                name: object_name(name)?,
                value: None,
            },
        },
        Statement::ShowVariable { variable } => {
            let words = variable.iter().map(ident).collect::<Vec<_>>().join(" ");
            match utility::show_name(&words) {
                Some(name) => Plan::Show { name },
                None => Plan::ShowAll,
            }
        }
        Statement::Lock(lock) => utility::plan_lock(catalog, lock)?,
        Statement::StartTransaction { modes, .. } => Plan::Begin {
            read_only: utility::read_only(modes) == Some(true),
        },
        Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } => utility::plan_copy(
            catalog,
            source,
            *to,
            target,
            options,
            legacy_options,
            &mut b,
        )?,
        Statement::Commit { chain: false, .. } => Plan::Commit,
        Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Plan::Rollback,
        Statement::Rollback {
            chain: false,
            savepoint: Some(name),
        } => Plan::RollbackTo(ident(name)),
        Statement::Savepoint { name } => Plan::Savepoint(ident(name)),
        Statement::ReleaseSavepoint { name } => Plan::Release(ident(name)),
        Statement::Commit { .. } | Statement::Rollback { .. } => {
            return Err(SqlError::feature_not_supported(
                "AND CHAIN is not supported",
            ))
        }
        Statement::Deallocate { name, .. } => Plan::Deallocate(utility::deallocated(name)),
        Statement::Discard {
            object_type: ast::DiscardObject::ALL,
        } => Plan::DiscardAll,
        other => {
            return Err(SqlError::feature_not_supported(format!(
                "statement not supported: {}",
                utility::first_words(&other.to_string())
            )))
        }
    };
    let columns = match &plan {
        Plan::Select(s) => s.projection.columns.clone(),
        Plan::Insert(InsertPlan { returning, .. })
        | Plan::Update(UpdatePlan { returning, .. })
        | Plan::Delete(DeletePlan { returning, .. }) => returning
            .as_ref()
            .map(|p| p.columns.clone())
            .unwrap_or_default(),
        Plan::Show { name } => vec![OutColumn {
            name: name.clone(),
            ty: SqlType::Text,
        }],
        Plan::ShowAll => ["name", "setting", "description"]
            .map(|name| OutColumn {
                name: name.into(),
                ty: SqlType::Text,
            })
            .to_vec(),
        Plan::Explain(_) => vec![OutColumn {
            name: "QUERY PLAN".into(),
            ty: SqlType::Text,
        }],
        Plan::Admin(_) => admin_column.into_iter().collect(),
        Plan::Set { .. }
        | Plan::Roles(_)
        | Plan::ResetAll
        | Plan::Begin { .. }
        | Plan::TransactionAccess { .. }
        | Plan::LockShared
        | Plan::CopyIn(_)
        | Plan::CopyOut { .. }
        | Plan::Commit
        | Plan::Rollback
        | Plan::Savepoint(_)
        | Plan::Release(_)
        | Plan::RollbackTo(_)
        | Plan::Deallocate(_)
        | Plan::DiscardAll => vec![],
    };
    Ok(Planned {
        plan,
        param_types: b.param_types(),
        columns,
    })
}
