//! The engine of a node, on top of every other layer: it parses and
//! prepares statements (bucketdb's planner first, DataFusion for the reads
//! it does not take), and runs them for a session: the one dispatch over
//! statement kinds ([`dispatch`]), reads after the session's read barrier
//! ([`read`]), autocommit writes with their retry loop ([`write`]),
//! explicit transactions ([`txn`]) and COPY streaming ([`copy`]).

mod copy;
mod dispatch;
mod output;
mod prepared;
mod read;
mod roles;
mod session;
mod txn;
mod write;

pub use output::Output;
pub use prepared::Prepared;
pub use session::Session;

use std::sync::Arc;

use bucketdb_consensus::RaftNode;
use sqlparser::ast::{self, Statement};

use crate::auth::Access;
use crate::bind;
use crate::catalog::Catalog;
use crate::datafusion::{self, DataFusion, QueryMemory};
use crate::error::{SqlError, SqlResult};
use crate::parse;
use crate::plan;
use crate::runtime::Interrupt;
use crate::value::{SqlType, Value};
use prepared::Route;

/// The SQL engine of a node.
pub struct Engine {
    node: RaftNode,
    /// Shared with scans that stream on after the statement returns.
    catalog: Arc<Catalog>,
    /// Reads the fast planner does not take.
    datafusion: DataFusion,
}

impl Engine {
    pub fn new(node: RaftNode, memory: QueryMemory) -> SqlResult<Engine> {
        let catalog = Arc::new(Catalog::new());
        Ok(Engine {
            node,
            datafusion: DataFusion::new(catalog.clone(), memory)?,
            catalog,
        })
    }

    pub fn node(&self) -> &RaftNode {
        &self.node
    }

    /// Parses a query string into statements.
    pub fn parse(&self, sql: &str) -> SqlResult<Vec<Statement>> {
        parse::parse(sql)
    }

    /// Plans a statement: with bucketdb's own planner, or, for a read it
    /// does not take, with DataFusion. When both refuse, the error that
    /// says what is missing is reported (see [`datafusion::refusal`]).
    /// `source` is the statement's text when the query string held only
    /// it: known client catalog queries are recognised by their text.
    pub async fn prepare(
        &self,
        stmt: &Statement,
        source: Option<&str>,
        given: &[Option<SqlType>],
    ) -> SqlResult<Prepared> {
        match stmt {
            Statement::Prepare {
                name,
                data_types,
                statement,
            } => return self.define(name, data_types, statement).await,
            Statement::Execute {
                name: Some(name),
                parameters,
                immediate: false,
                ..
            } => return execution(name, parameters),
            _ => {}
        }
        let access = Access::of(&self.catalog, stmt);
        match plan::plan(&self.catalog, stmt, given) {
            Ok(planned) => Ok(Prepared::fast(planned, access)),
            Err(e) if datafusion::takes(stmt, &e) => {
                let p = self
                    .datafusion
                    .prepare(stmt, source, given)
                    .await
                    .map_err(|df| datafusion::refusal(e, df))?;
                Ok(Prepared {
                    route: Route::DataFusion(p.plan),
                    param_types: p.param_types,
                    columns: p.columns,
                    access,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `PREPARE name (types) AS statement`: `statement` prepared with the
    /// declared types (a catalog type such as `oid` lets the statement
    /// decide). Its access is checked when it is executed.
    async fn define(
        &self,
        name: &ast::Ident,
        types: &[ast::DataType],
        statement: &Statement,
    ) -> SqlResult<Prepared> {
        let given = types
            .iter()
            .map(|t| match bind::declared_type(t) {
                Ok(t) => Ok(Some(t)),
                Err(_) if is_catalog_type(t) => Ok(None),
                Err(e) => Err(e),
            })
            .collect::<SqlResult<Vec<_>>>()?;
        // PostgreSQL prepares queries and writes, not statements about
        // prepared statements (PREPARE of an EXECUTE would run itself).
        if matches!(
            statement,
            Statement::Prepare { .. } | Statement::Execute { .. } | Statement::Deallocate { .. }
        ) {
            return Err(SqlError::syntax(format!(
                "cannot prepare {}",
                statement.to_string().split(' ').next().unwrap_or_default()
            )));
        }
        let inner = Box::pin(self.prepare(statement, None, &given)).await?;
        Ok(Prepared {
            route: Route::Define {
                name: bind::ident(name),
                statement: Box::new(inner),
            },
            param_types: vec![],
            columns: vec![],
            access: Access::default(),
        })
    }

    /// Runs a prepared statement with parameter values (already decoded).
    /// Inside a transaction that already failed only COMMIT and ROLLBACK
    /// run; an error fails the transaction.
    pub async fn execute(
        &self,
        session: &mut Session,
        p: &Prepared,
        interrupt: &Interrupt,
        params: Vec<Value>,
    ) -> SqlResult<Output> {
        let failed = session.txn.as_ref().is_some_and(|t| t.failed);
        // What a failed transaction still runs: its end, or a return to a
        // savepoint from before the failure.
        let ends_txn = matches!(
            &p.route,
            Route::Fast(plan) if matches!(
                **plan,
                plan::Plan::Commit | plan::Plan::Rollback | plan::Plan::RollbackTo(_)
            )
        );
        if failed && !ends_txn {
            return Err(SqlError::in_failed_sql_transaction(
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let result = match self.authorize(session, p).await {
            Ok(()) => self.run_statement(session, p, interrupt, params).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            session.fail_transaction();
        }
        result
    }
}

/// `EXECUTE name (values)`: the values must be constants, each sent as
/// the text a client would send for it.
fn execution(name: &ast::ObjectName, parameters: &[ast::Expr]) -> SqlResult<Prepared> {
    Ok(Prepared {
        route: Route::Execute {
            name: bind::object_name(name)?,
            params: parameters
                .iter()
                .map(constant)
                .collect::<SqlResult<Vec<_>>>()?,
        },
        param_types: vec![],
        columns: vec![],
        access: Access::default(),
    })
}

/// A constant `EXECUTE` parameter (a cast of one: the statement's type
/// decides), as the text a client would send for it.
fn constant(e: &ast::Expr) -> SqlResult<Value> {
    match e {
        ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) => constant(expr),
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Null => Ok(Value::Null),
            ast::Value::Number(n, _) => Ok(Value::Text(n.clone())),
            ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => {
                Ok(Value::Text(s.clone()))
            }
            ast::Value::Boolean(b) => Ok(Value::Text(b.to_string())),
            other => Err(SqlError::feature_not_supported(format!(
                "EXECUTE parameter {other} is not supported"
            ))),
        },
        _ => Err(SqlError::feature_not_supported(
            "EXECUTE parameters must be constants",
        )),
    }
}

/// Whether `t` names one of PostgreSQL's catalog types (`oid`,
/// `regclass`, …), which a parameter may be declared as.
fn is_catalog_type(t: &ast::DataType) -> bool {
    let name = match t {
        ast::DataType::Regclass => return true,
        ast::DataType::Custom(name, _) => name.to_string().to_ascii_lowercase(),
        _ => return false,
    };
    let bare = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    matches!(
        bare,
        "oid" | "regclass" | "regproc" | "regprocedure" | "regtype" | "regnamespace" | "regrole"
    )
}
