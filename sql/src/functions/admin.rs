//! Admin functions: calls with a side effect on the cluster
//! (`SELECT cluster_promote(2)`) or on the session's settings
//! (`set_config`). They run only as a statement of their own: a SELECT of
//! that one call, never inside another expression where evaluation order
//! or repetition would be unclear.

use bucketdb_consensus::{MembershipChange, NodeInfo, RaftNode};
use sqlparser::ast;

use super::Signature;
use crate::bind::{ident, Binder, Ctx, Scope};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::settings::Settings;
use crate::value::{OutColumn, SqlType, Value};

/// A function with a side effect (on the cluster, or on the session's
/// settings), so it is planned as a call of its own, never per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminFn {
    AddLearner,
    Promote,
    Remove,
    TransferLeader,
    Snapshot,
    /// `cluster_backup(path)`: an online backup into a directory of the
    /// node's filesystem; returns the applied index it holds.
    Backup,
    /// `set_config(name, value, is_local)`: like SET; returns the value.
    SetConfig,
}

/// A planned admin call: the function and its bound arguments.
#[derive(Debug, Clone)]
pub struct AdminCall {
    pub function: AdminFn,
    pub args: Vec<Expr>,
}

impl AdminFn {
    /// Every admin function.
    pub const ALL: [AdminFn; 7] = [
        AdminFn::AddLearner,
        AdminFn::Promote,
        AdminFn::Remove,
        AdminFn::TransferLeader,
        AdminFn::Snapshot,
        AdminFn::Backup,
        AdminFn::SetConfig,
    ];

    pub fn lookup(name: &str) -> Option<AdminFn> {
        AdminFn::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether only a superuser may call it: every cluster function;
    /// `set_config` changes only the caller's session.
    pub fn needs_superuser(self) -> bool {
        !matches!(self, AdminFn::SetConfig)
    }

    /// How the catalog describes the function (psql's `\df`).
    pub fn signature(self) -> Signature {
        Signature {
            name: self.name(),
            arguments: self
                .params()
                .iter()
                .map(|(n, t)| format!("{n} {}", t.name()))
                .collect::<Vec<_>>()
                .join(", "),
            argument_types: self.params().iter().map(|(_, t)| *t).collect(),
            result: self.returns().name().to_string(),
            returns_set: false,
        }
    }

    fn params(self) -> &'static [(&'static str, SqlType)] {
        use SqlType::*;
        match self {
            AdminFn::AddLearner => &[("node_id", Int8), ("raft_addr", Text), ("sql_addr", Text)],
            AdminFn::Promote | AdminFn::Remove | AdminFn::TransferLeader => &[("node_id", Int8)],
            AdminFn::Snapshot => &[],
            AdminFn::Backup => &[("path", Text)],
            AdminFn::SetConfig => &[
                ("setting_name", Text),
                ("new_value", Text),
                ("is_local", Bool),
            ],
        }
    }

    /// The type of the value the call returns.
    fn returns(self) -> SqlType {
        match self {
            AdminFn::SetConfig => SqlType::Text,
            _ => SqlType::Int8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AdminFn::AddLearner => "cluster_add_learner",
            AdminFn::Promote => "cluster_promote",
            AdminFn::Remove => "cluster_remove",
            AdminFn::TransferLeader => "cluster_transfer_leader",
            AdminFn::Snapshot => "cluster_snapshot",
            AdminFn::Backup => "cluster_backup",
            AdminFn::SetConfig => "set_config",
        }
    }

    /// Runs the call. Membership changes return the log index the change
    /// committed at; a leader transfer returns the new leader's id; a
    /// snapshot and a backup return the index they hold; `set_config` the
    /// setting's new value.
    /// `in_transaction`: whether the session has a transaction open.
    pub async fn run(
        self,
        node: &RaftNode,
        settings: &mut Settings,
        in_transaction: bool,
        args: Vec<Value>,
    ) -> SqlResult<Value> {
        let id = |i: usize| -> SqlResult<u64> {
            match args.get(i) {
                Some(Value::Int(n)) if *n > 0 => Ok(*n as u64),
                _ => Err(SqlError::invalid_parameter_value(format!(
                    "{}: node_id must be a positive integer",
                    self.name()
                ))),
            }
        };
        let text = |i: usize| -> SqlResult<String> {
            match args.get(i) {
                Some(Value::Text(s)) if is_host_port(s) => Ok(s.clone()),
                _ => Err(SqlError::invalid_parameter_value(format!(
                    "{}: {} must be an address like '10.0.0.2:5433'",
                    self.name(),
                    self.params()[i].0
                ))),
            }
        };
        let index = |i: Option<u64>| Value::Int(i.unwrap_or(0) as i64);
        Ok(match self {
            AdminFn::AddLearner => {
                let change = MembershipChange::AddLearner {
                    id: id(0)?,
                    info: NodeInfo {
                        raft_addr: text(1)?,
                        sql_addr: text(2)?,
                        incarnation: None,
                    },
                };
                index(node.change_membership(change).await?)
            }
            AdminFn::Promote => index(
                node.change_membership(MembershipChange::Promote { id: id(0)? })
                    .await?,
            ),
            AdminFn::Remove => index(
                node.change_membership(MembershipChange::Remove { id: id(0)? })
                    .await?,
            ),
            AdminFn::TransferLeader => {
                let to = id(0)?;
                node.change_membership(MembershipChange::TransferLeader { id: to })
                    .await?;
                Value::Int(to as i64)
            }
            AdminFn::Snapshot => index(node.snapshot().await?),
            AdminFn::Backup => {
                let Some(Value::Text(path)) = args.first() else {
                    return Err(SqlError::invalid_parameter_value(
                        "cluster_backup: path must not be null",
                    ));
                };
                Value::Int(node.backup(std::path::Path::new(path)).await?.index as i64)
            }
            AdminFn::SetConfig => {
                let (Some(Value::Text(name)), Some(Value::Text(value))) =
                    (args.first(), args.get(1))
                else {
                    return Err(SqlError::invalid_parameter_value(
                        "set_config: setting_name and new_value must not be null",
                    ));
                };
                // A transaction-local setting would have to be undone at the
                // transaction's end; outside one it has no effect (as in
                // PostgreSQL).
                if args.get(2) == Some(&Value::Bool(true)) {
                    if in_transaction {
                        return Err(SqlError::feature_not_supported(
                            "set_config(..., is_local => true) inside a transaction",
                        ));
                    }
                    return Ok(Value::Text(value.clone()));
                }
                settings.set(name, value)?;
                Value::Text(settings.show(name)?)
            }
        })
    }
}

fn is_host_port(s: &str) -> bool {
    s.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// Recognises `SELECT admin_fn(args) [AS alias]` and binds its arguments.
pub fn bind_admin(
    select: &ast::Select,
    b: &mut Binder,
) -> SqlResult<Option<(AdminCall, OutColumn)>> {
    let (expr, alias) = match select.projection.as_slice() {
        [ast::SelectItem::UnnamedExpr(e)] => (e, None),
        [ast::SelectItem::ExprWithAlias { expr, alias }] => (expr, Some(ident(alias))),
        _ => return Ok(None),
    };
    let ast::Expr::Function(f) = expr else {
        return Ok(None);
    };
    let name = match f.name.0.as_slice() {
        [ast::ObjectNamePart::Identifier(i)] => ident(i),
        // pg_dump calls `pg_catalog.set_config`.
        [ast::ObjectNamePart::Identifier(s), ast::ObjectNamePart::Identifier(i)]
            if ident(s) == "pg_catalog" =>
        {
            match ident(i).as_str() {
                "set_config" => "set_config".to_string(),
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let Some(function) = AdminFn::lookup(&name) else {
        return Ok(None);
    };
    let alone = select.from.is_empty() && select.selection.is_none();
    if !alone && function == AdminFn::SetConfig {
        // Planned as a read, where set_config refuses to run for any row
        // (see `datafusion::functions`): pg_dump sends it over a
        // `pg_settings` row that does not exist here, which never runs it.
        return Ok(None);
    }
    if !alone {
        return Err(SqlError::feature_not_supported(format!(
            "{}() has side effects and must be called alone: SELECT {}(…)",
            function.name(),
            function.name()
        )));
    }
    let args: Vec<&ast::Expr> = match &f.args {
        ast::FunctionArguments::None => vec![],
        ast::FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e),
                _ => Err(SqlError::syntax(format!(
                    "{}() takes positional arguments",
                    function.name()
                ))),
            })
            .collect::<SqlResult<_>>()?,
        ast::FunctionArguments::Subquery(_) => {
            return Err(SqlError::feature_not_supported("subquery arguments"))
        }
    };
    let params = function.params();
    if args.len() != params.len() {
        return Err(SqlError::undefined_function(format!(
            "function {}({}) does not exist; it takes ({})",
            function.name(),
            args.len(),
            function.signature().arguments
        )));
    }
    let scope = Scope::default();
    let args = args
        .iter()
        .zip(params)
        .map(|(a, (_, ty))| b.bind(a, &scope, Ctx::want(*ty)).map(|x| x.0))
        .collect::<SqlResult<Vec<_>>>()?;
    Ok(Some((
        AdminCall { function, args },
        OutColumn {
            name: alias.unwrap_or_else(|| function.name().to_string()),
            ty: function.returns(),
        },
    )))
}
