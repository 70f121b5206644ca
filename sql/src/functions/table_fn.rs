//! Functions usable in FROM: their names, parameters, result columns, and
//! the binding of a call's arguments (positional or `name => value`).
//!
//! Their rows go through the ordinary SELECT machinery (filter, sort,
//! project, aggregate). Cluster functions ask Raft (see [`super::cluster`]);
//! data functions read the statement's read view (see [`super::listing`]
//! and [`super::list_versions`]).

use sqlparser::ast;

use super::{sql_literal, Signature};
use crate::bind::{ident, Binder, Ctx, Scope};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::value::{SqlType, Value};

/// A function usable in FROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFn {
    /// One row per member, as the leader sees it.
    ClusterNodes,
    /// This node's own Raft state.
    ClusterStatus,
    /// Every replica's digest at one log index, compared.
    ClusterCheck,
    /// S3 ListObjectsV2 over one bucket.
    ListObjects,
    /// Object count and bytes per bucket, maintained on apply.
    BucketStats,
    /// S3 ListObjectVersions over one bucket.
    ListObjectVersions,
}

/// A planned call: the function and one bound argument per parameter.
#[derive(Debug, Clone)]
pub struct TableFnCall {
    pub function: TableFn,
    pub args: Vec<Expr>,
}

/// A parameter: its name, type, and the value it takes when not given
/// (`None`: it must be given).
type Param = (&'static str, SqlType, Option<Value>);

impl TableFn {
    /// Every function usable in FROM.
    pub const ALL: [TableFn; 6] = [
        TableFn::ClusterNodes,
        TableFn::ClusterStatus,
        TableFn::ClusterCheck,
        TableFn::ListObjects,
        TableFn::BucketStats,
        TableFn::ListObjectVersions,
    ];

    pub fn lookup(name: &str) -> Option<TableFn> {
        TableFn::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            TableFn::ClusterNodes => "cluster_nodes",
            TableFn::ClusterStatus => "cluster_status",
            TableFn::ClusterCheck => "cluster_check",
            TableFn::ListObjects => "list_objects",
            TableFn::BucketStats => "bucket_stats",
            TableFn::ListObjectVersions => "list_object_versions",
        }
    }

    /// Whether the rows come from the state machine (and so the statement
    /// takes the session's read barrier and a read view).
    pub fn reads_data(self) -> bool {
        matches!(
            self,
            TableFn::ListObjects | TableFn::BucketStats | TableFn::ListObjectVersions
        )
    }

    fn params(self) -> Vec<Param> {
        use SqlType::*;
        match self {
            TableFn::ClusterNodes | TableFn::ClusterStatus | TableFn::ClusterCheck => vec![],
            TableFn::ListObjects => vec![
                ("bucket", Text, None),
                ("prefix", Text, Some(Value::Text(String::new()))),
                ("delimiter", Text, Some(Value::Null)),
                ("start_after", Text, Some(Value::Null)),
                ("max_keys", Int8, Some(Value::Int(1000))),
                ("continuation_token", Text, Some(Value::Null)),
            ],
            TableFn::BucketStats => vec![("bucket", Text, Some(Value::Null))],
            TableFn::ListObjectVersions => vec![
                ("bucket", Text, None),
                ("prefix", Text, Some(Value::Text(String::new()))),
                ("delimiter", Text, Some(Value::Null)),
                ("key_marker", Text, Some(Value::Null)),
                ("version_id_marker", Text, Some(Value::Null)),
                ("max_keys", Int8, Some(Value::Int(1000))),
            ],
        }
    }

    pub fn columns(self) -> &'static [(&'static str, SqlType)] {
        use SqlType::*;
        match self {
            TableFn::ClusterNodes => &[
                ("node_id", Int8),
                ("raft_addr", Text),
                ("sql_addr", Text),
                ("role", Text),
                ("voter", Bool),
                ("matched_index", Int8),
                ("lag", Int8),
                ("last_contact_ms", Int8),
                ("reachable", Bool),
                ("refused", Text),
            ],
            TableFn::ClusterStatus => &[
                ("node_id", Int8),
                ("role", Text),
                ("leader_id", Int8),
                ("term", Int8),
                ("last_log_index", Int8),
                ("commit_index", Int8),
                ("applied_index", Int8),
                ("snapshot_index", Int8),
                ("purged_index", Int8),
                ("membership", Text),
            ],
            TableFn::ClusterCheck => &[
                ("node_id", Int8),
                ("check_index", Int8),
                ("rows", Int8),
                ("digest", Text),
                ("agrees", Bool),
                ("error", Text),
            ],
            TableFn::ListObjects => &[
                ("key", Text),
                ("is_prefix", Bool),
                ("size", Int8),
                ("etag", Text),
                ("last_modified", Timestamptz),
                ("storage_class", Text),
                ("next_continuation_token", Text),
            ],
            TableFn::BucketStats => &[
                ("bucket", Text),
                ("object_count", Int8),
                ("total_size", Int8),
            ],
            TableFn::ListObjectVersions => &[
                ("key", Text),
                ("version_id", Text),
                ("is_latest", Bool),
                ("is_delete_marker", Bool),
                ("is_prefix", Bool),
                ("size", Int8),
                ("etag", Text),
                ("last_modified", Timestamptz),
                ("storage_class", Text),
                ("next_key_marker", Text),
                ("next_version_id_marker", Text),
            ],
        }
    }

    /// How the catalog describes the function (psql's `\df`).
    pub fn signature(self) -> Signature {
        let arguments = self
            .params()
            .iter()
            .map(|(n, t, default)| match default {
                None => format!("{n} {}", t.name()),
                Some(v) => format!("{n} {} DEFAULT {}", t.name(), sql_literal(v, *t)),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let columns = self
            .columns()
            .iter()
            .map(|(n, t)| format!("{n} {}", t.name()))
            .collect::<Vec<_>>()
            .join(", ");
        Signature {
            name: self.name(),
            arguments,
            argument_types: self.params().iter().map(|(_, t, _)| *t).collect(),
            result: format!("TABLE({columns})"),
            returns_set: true,
        }
    }

    /// Binds the arguments of a call: positional ones first, then named
    /// ones; parameters not given take their defaults.
    pub fn bind_call(self, args: &[ast::FunctionArg], b: &mut Binder) -> SqlResult<TableFnCall> {
        let params = self.params();
        let signature = || self.signature().arguments;
        let mut given: Vec<Option<&ast::Expr>> = vec![None; params.len()];
        let mut named_seen = false;
        for (i, a) in args.iter().enumerate() {
            let (slot, e) = match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) if !named_seen => {
                    if i >= params.len() {
                        return Err(SqlError::undefined_function(format!(
                            "function {}() takes at most {} arguments: ({})",
                            self.name(),
                            params.len(),
                            signature()
                        )));
                    }
                    (i, e)
                }
                ast::FunctionArg::Named {
                    name,
                    arg: ast::FunctionArgExpr::Expr(e),
                    ..
                }
                | ast::FunctionArg::ExprNamed {
                    name: ast::Expr::Identifier(name),
                    arg: ast::FunctionArgExpr::Expr(e),
                    ..
                } => {
                    named_seen = true;
                    let n = ident(name);
                    let slot = params.iter().position(|(p, _, _)| *p == n).ok_or_else(|| {
                        SqlError::undefined_function(format!(
                            "function {}() has no parameter \"{n}\": ({})",
                            self.name(),
                            signature()
                        ))
                    })?;
                    (slot, e)
                }
                _ => {
                    return Err(SqlError::syntax(format!(
                        "{}(): positional arguments must come before named ones",
                        self.name()
                    )))
                }
            };
            if given[slot].replace(e).is_some() {
                return Err(SqlError::syntax(format!(
                    "{}(): argument \"{}\" given twice",
                    self.name(),
                    params[slot].0
                )));
            }
        }
        let scope = Scope::default();
        let mut bound = Vec::with_capacity(params.len());
        for ((name, ty, default), e) in params.iter().zip(given) {
            bound.push(match (e, default) {
                (Some(e), _) => b.bind(e, &scope, Ctx::want(*ty))?.0,
                (None, Some(v)) => Expr::Const(v.clone()),
                (None, None) => {
                    return Err(SqlError::undefined_function(format!(
                        "function {}() needs argument \"{name}\": ({})",
                        self.name(),
                        signature()
                    )))
                }
            });
        }
        Ok(TableFnCall {
            function: self,
            args: bound,
        })
    }
}
