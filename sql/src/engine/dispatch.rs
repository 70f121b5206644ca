//! The one dispatch over statement kinds: parameters coerced to their
//! types, then each kind of plan to the code that runs it.

use super::prepared::Route;
use super::{Engine, Output, Prepared, Session};
use crate::copy;
use crate::error::{SqlError, SqlResult};
use crate::expr::EvalEnv;
use crate::fastpath;
use crate::plan::Plan;
use crate::runtime::Interrupt;
use crate::value::{SqlType, Value};

/// The open transaction a savepoint statement acts on.
fn open_txn<'a>(session: &'a mut Session, what: &str) -> SqlResult<&'a mut crate::txn::Txn> {
    session.txn.as_mut().ok_or_else(|| {
        SqlError::no_active_sql_transaction(format!(
            "{what} can only be used in transaction blocks"
        ))
    })
}

fn no_savepoint(e: crate::txn::NoSuchSavepoint) -> SqlError {
    SqlError::invalid_savepoint(format!("savepoint \"{}\" does not exist", e.0))
}

impl Engine {
    pub(super) async fn run_statement(
        &self,
        session: &mut Session,
        p: &Prepared,
        interrupt: &Interrupt,
        params: Vec<Value>,
    ) -> SqlResult<Output> {
        if params.len() < p.param_types.len() {
            return Err(SqlError::protocol_violation(format!(
                "statement needs {} parameters, {} given",
                p.param_types.len(),
                params.len()
            )));
        }
        let params = params
            .into_iter()
            .zip(
                p.param_types
                    .iter()
                    .chain(std::iter::repeat(&SqlType::Text)),
            )
            .map(|(v, t)| v.coerce(*t))
            .collect::<SqlResult<Vec<_>>>()?;
        let plan = match &p.route {
            Route::DataFusion(a) => {
                return self
                    .datafusion_read(session, a, p, &params, interrupt)
                    .await
            }
            Route::Fast(plan) => &**plan,
            Route::Define { name, statement } => {
                return Ok(Output::Define {
                    name: name.clone(),
                    statement: statement.clone(),
                })
            }
            Route::Execute { name, params } => {
                return Ok(Output::Execute {
                    name: name.clone(),
                    params: params.clone(),
                })
            }
        };
        match plan {
            Plan::Set { name, value } => {
                match value {
                    Some(v) => session.settings_mut().set(name, v)?,
                    None => session.settings_mut().reset(name)?,
                }
                Ok(Output::Command("SET".into()))
            }
            Plan::Explain(lines) => Ok(Output::Rows {
                columns: p.columns.clone(),
                rows: lines.iter().map(|l| vec![Value::Text(l.clone())]).collect(),
                command: "EXPLAIN".into(),
            }),
            Plan::ResetAll => {
                session.settings_mut().reset_all();
                Ok(Output::Command("RESET".into()))
            }
            Plan::ShowAll => Ok(Output::Rows {
                columns: p.columns.clone(),
                rows: session
                    .settings()
                    .all()
                    .map(|(name, value)| {
                        vec![
                            Value::Text(name.into()),
                            Value::Text(value.into()),
                            Value::Null,
                        ]
                    })
                    .collect(),
                command: "SHOW".into(),
            }),
            Plan::Show { name } => {
                let read_only = session.txn.as_ref().is_some_and(|t| t.read_only);
                let value = match name.as_str() {
                    "transaction_read_only" if read_only => "on".to_string(),
                    _ => session.settings().show(name)?,
                };
                Ok(Output::Rows {
                    columns: p.columns.clone(),
                    rows: vec![vec![Value::Text(value)]],
                    command: "SHOW".into(),
                })
            }
            Plan::Begin { read_only } => self.begin(session, *read_only).await,
            Plan::LockShared => match session.in_transaction() {
                true => Ok(Output::Command("LOCK TABLE".into())),
                false => Err(SqlError::no_active_sql_transaction(
                    "LOCK TABLE can only be used in transaction blocks",
                )),
            },
            Plan::TransactionAccess { read_only } => {
                // Outside a transaction it changes nothing (PostgreSQL
                // warns), as SET TRANSACTION does there.
                if let Some(txn) = session.txn.as_mut() {
                    txn.read_only = *read_only;
                }
                Ok(Output::Command("SET".into()))
            }
            Plan::Rollback => {
                session.txn = None;
                Ok(Output::Transaction {
                    tag: "ROLLBACK",
                    open: false,
                })
            }
            Plan::Commit => self.commit(session, interrupt).await,
            Plan::Savepoint(name) => {
                open_txn(session, "SAVEPOINT")?.savepoint(name);
                Ok(Output::Command("SAVEPOINT".into()))
            }
            Plan::Release(name) => {
                open_txn(session, "RELEASE SAVEPOINT")?
                    .release(name)
                    .map_err(no_savepoint)?;
                Ok(Output::Command("RELEASE".into()))
            }
            Plan::RollbackTo(name) => {
                open_txn(session, "ROLLBACK TO SAVEPOINT")?
                    .rollback_to(name)
                    .map_err(no_savepoint)?;
                Ok(Output::Command("ROLLBACK".into()))
            }
            Plan::Deallocate(name) => Ok(Output::Deallocate {
                name: name.clone(),
                tag: if name.is_some() {
                    "DEALLOCATE"
                } else {
                    "DEALLOCATE ALL"
                },
            }),
            Plan::DiscardAll => {
                if session.in_transaction() {
                    return Err(SqlError::new(
                        crate::error::SqlState::ActiveSqlTransaction,
                        "DISCARD ALL cannot run inside a transaction block",
                    ));
                }
                session.settings_mut().reset_all();
                Ok(Output::Deallocate {
                    name: None,
                    tag: "DISCARD ALL",
                })
            }
            Plan::CopyIn(plan) => Ok(Output::CopyIn {
                columns: self.copy_start(session, plan)?,
            }),
            Plan::Select(s) if fastpath::streams(&self.catalog, s) && !session.in_transaction() => {
                self.select_stream(session, s, p, params, interrupt).await
            }
            Plan::Select(s) => Ok(Output::Rows {
                columns: p.columns.clone(),
                command: "SELECT".into(),
                rows: self.select_rows(session, s, &params, interrupt).await?,
            }),
            Plan::CopyOut { select, options } => {
                let rows = self
                    .select_rows(session, select, &params, interrupt)
                    .await?;
                Ok(Output::CopyOut {
                    columns: select.projection.columns.len(),
                    data: copy::encode_rows(options, &select.projection.columns, &rows),
                })
            }
            Plan::Insert(_) | Plan::Update(_) | Plan::Delete(_) | Plan::Roles(_)
                if session.txn.as_ref().is_some_and(|t| t.read_only) =>
            {
                Err(SqlError::read_only_sql_transaction(format!(
                    "cannot execute {} in a read-only transaction",
                    plan.kind().to_ascii_uppercase()
                )))
            }
            Plan::Insert(_) | Plan::Update(_) | Plan::Delete(_) if session.in_transaction() => {
                self.write_in_txn(session, plan, p, &params, interrupt)
            }
            Plan::Insert(_) | Plan::Update(_) | Plan::Delete(_) => {
                self.write(session, plan, p, &params, interrupt).await
            }
            Plan::Roles(statement) => self.change_roles(session, statement, interrupt).await,
            Plan::Admin(call) => {
                let env = EvalEnv::at_now(&params, session.settings(), interrupt);
                let args = call
                    .args
                    .iter()
                    .map(|a| a.eval(&[], &[], &env))
                    .collect::<SqlResult<Vec<_>>>()?;
                let in_transaction = session.in_transaction();
                let value = call
                    .function
                    .run(&self.node, session.settings_mut(), in_transaction, args)
                    .await?;
                Ok(Output::Rows {
                    columns: p.columns.clone(),
                    rows: vec![vec![value]],
                    command: "SELECT".into(),
                })
            }
        }
    }
}
