//! Cluster administration as SQL functions.
//!
//! Table functions (`SELECT … FROM cluster_nodes()`, declared in
//! [`crate::table_fn`]) produce rows that the ordinary SELECT machinery
//! filters, sorts and projects. Admin functions
//! (`SELECT cluster_promote(2)`) change the cluster, so they run only as a
//! statement of their own: a SELECT of that one call, never inside another
//! expression where evaluation order or repetition would be unclear.

use bucketdb_consensus::{MembershipChange, NodeInfo, RaftNode};
use sqlparser::ast;

use crate::bind::{Binder, Ctx, Scope};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::plan::OutColumn;
use crate::session::Session;
use crate::table_fn::{Signature, TableFn};
use crate::value::{SqlType, Value};

impl TableFn {
    /// The function's rows now. `cluster_nodes()` asks the leader;
    /// `cluster_status()` answers from this node alone.
    pub async fn cluster_rows(self, node: &RaftNode) -> SqlResult<Vec<Vec<Value>>> {
        let int = |v: Option<u64>| v.map_or(Value::Null, |i| Value::Int(i as i64));
        match self {
            TableFn::ClusterNodes => Ok(node
                .members()
                .await?
                .into_iter()
                .map(|m| {
                    vec![
                        Value::Int(m.node_id as i64),
                        Value::Text(m.raft_addr),
                        Value::Text(m.sql_addr),
                        Value::Text(m.role),
                        Value::Bool(m.voter),
                        int(m.matched_index),
                        int(m.lag),
                        int(m.last_contact_ms),
                        Value::Bool(m.reachable),
                    ]
                })
                .collect()),
            TableFn::ClusterStatus => {
                let s = node.status();
                let membership = serde_json::json!({
                    "voters": s.voters,
                    "learners": s.learners,
                });
                Ok(vec![vec![
                    Value::Int(s.node_id as i64),
                    Value::Text(s.state),
                    int(s.leader_id),
                    Value::Int(s.term as i64),
                    int(s.last_log_index),
                    int(s.commit_index),
                    int(s.applied_index),
                    int(s.snapshot_index),
                    int(s.purged_index),
                    Value::Text(membership.to_string()),
                ]])
            }
            TableFn::ListObjects | TableFn::BucketStats | TableFn::ListObjectVersions => Err(
                SqlError::internal(format!("{}() reads data, not cluster state", self.name())),
            ),
        }
    }
}

/// A function with a side effect (on the cluster, or on the session's
/// settings), so it is planned as a call of its own, never per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminFn {
    AddLearner,
    Promote,
    Remove,
    TransferLeader,
    Snapshot,
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
    pub const ALL: [AdminFn; 6] = [
        AdminFn::AddLearner,
        AdminFn::Promote,
        AdminFn::Remove,
        AdminFn::TransferLeader,
        AdminFn::Snapshot,
        AdminFn::SetConfig,
    ];

    fn lookup(name: &str) -> Option<AdminFn> {
        AdminFn::ALL.into_iter().find(|f| f.name() == name)
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
            AdminFn::SetConfig => "set_config",
        }
    }

    /// Runs the call. Membership changes return the log index the change
    /// committed at; a leader transfer returns the new leader's id; a
    /// snapshot returns its index; `set_config` the setting's new value.
    pub async fn run(
        self,
        node: &RaftNode,
        session: &mut Session,
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
                    if session.txn.is_some() {
                        return Err(SqlError::feature_not_supported(
                            "set_config(..., is_local => true) inside a transaction",
                        ));
                    }
                    return Ok(Value::Text(value.clone()));
                }
                session.set(name, value)?;
                Value::Text(session.show(name)?)
            }
        })
    }
}

fn is_host_port(s: &str) -> bool {
    s.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// Recognises `SELECT admin_fn(args) [AS alias]` and binds its arguments.
pub fn plan_admin(
    select: &ast::Select,
    b: &mut Binder,
) -> SqlResult<Option<(AdminCall, OutColumn)>> {
    let (expr, alias) = match select.projection.as_slice() {
        [ast::SelectItem::UnnamedExpr(e)] => (e, None),
        [ast::SelectItem::ExprWithAlias { expr, alias }] => (expr, Some(alias.value.clone())),
        _ => return Ok(None),
    };
    let ast::Expr::Function(f) = expr else {
        return Ok(None);
    };
    let Some(function) = AdminFn::lookup(&f.name.to_string().to_lowercase()) else {
        return Ok(None);
    };
    if !select.from.is_empty() || select.selection.is_some() {
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
