//! Planning: a parsed statement becomes a [`Prepared`] plan with its
//! parameter types and result columns, ready to run many times.

use sqlparser::ast::{self, AssignmentTarget, SelectItem, SetExpr, Statement, TableFactor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::access::Access;
use crate::bind::{column_name, object_name, table_name, AggCall, Binder, Ctx, Scope};
use crate::catalog::{Catalog, Default as ColDefault, Table, TableId};
use crate::copy::{copy_options, plan_copy_in, CopyInPlan, CopyOptions};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::system::{self, AdminCall};
use crate::table_fn::{TableFn, TableFnCall};
use crate::value::{SqlType, Value};

/// A result column.
#[derive(Debug, Clone, PartialEq)]
pub struct OutColumn {
    pub name: String,
    pub ty: SqlType,
}

/// Result expressions over an input row.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub items: Vec<Expr>,
    pub columns: Vec<OutColumn>,
}

#[derive(Debug, Clone)]
pub enum SortSource {
    /// A result column.
    Output(usize),
    /// An expression over the input row.
    Input(Expr),
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub source: SortSource,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug, Clone)]
pub struct SelectPlan {
    pub table: Option<TableId>,
    /// A table function in FROM instead of a table.
    pub function: Option<TableFnCall>,
    pub access: Access,
    pub filter: Option<Expr>,
    pub projection: Projection,
    pub aggs: Vec<AggCall>,
    /// GROUP BY expressions over the input row. In a grouped query (one
    /// with aggregates or GROUP BY) projection, HAVING and ORDER BY read a
    /// group's slots: aggregate results, then these keys (see
    /// [`group_scope`]).
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub order: Vec<SortKey>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
}

#[derive(Debug, Clone)]
pub enum OnConflict {
    Error,
    Nothing,
    /// Assignments and filter over the existing row followed by EXCLUDED.
    Update {
        assignments: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

#[derive(Debug, Clone)]
pub struct InsertPlan {
    pub table: TableId,
    /// One entry per table column and row: the given value, or the default.
    pub rows: Vec<Vec<Option<Expr>>>,
    /// `INSERT … SELECT`: the query, and the table column each of its
    /// result columns fills (`rows` is then empty).
    pub select: Option<(Box<SelectPlan>, Vec<usize>)>,
    pub on_conflict: OnConflict,
    pub returning: Option<Projection>,
}

#[derive(Debug, Clone)]
pub struct UpdatePlan {
    pub table: TableId,
    pub access: Access,
    pub filter: Option<Expr>,
    pub assignments: Vec<(usize, Expr)>,
    pub returning: Option<Projection>,
}

#[derive(Debug, Clone)]
pub struct DeletePlan {
    pub table: TableId,
    pub access: Access,
    pub filter: Option<Expr>,
    pub returning: Option<Projection>,
}

#[derive(Debug, Clone)]
pub enum Plan {
    Empty,
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
    /// A cluster administration call (`SELECT cluster_promote(2)`).
    Admin(AdminCall),
    /// `COPY table FROM STDIN`.
    CopyIn(CopyInPlan),
    /// `COPY table | (query) TO STDOUT`.
    CopyOut {
        select: SelectPlan,
        options: CopyOptions,
    },
    /// A read planned by DataFusion (see [`crate::analytic`]).
    Analytic(crate::analytic::AnalyticPlan),
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK`.
    Rollback,
}

#[derive(Debug, Clone)]
pub struct Prepared {
    pub plan: Plan,
    pub param_types: Vec<SqlType>,
    pub columns: Vec<OutColumn>,
}

impl Prepared {
    /// A short name of the statement's kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self.plan {
            Plan::Empty => "empty",
            Plan::Select(_) => "select",
            Plan::Analytic(_) => "analytic",
            Plan::Insert(_) => "insert",
            Plan::Update(_) => "update",
            Plan::Delete(_) => "delete",
            Plan::Set { .. } | Plan::ResetAll => "set",
            Plan::Explain(_) => "explain",
            Plan::Show { .. } => "show",
            Plan::Admin(_) => "admin",
            Plan::Begin | Plan::Commit | Plan::Rollback => "transaction",
            Plan::CopyIn(_) | Plan::CopyOut { .. } => "copy",
        }
    }
}

fn table_scope(table: &Table, qualifier: &str) -> Scope {
    let mut s = Scope::default();
    for c in &table.columns {
        s.push(qualifier, c.name, c.ty, false);
    }
    s
}

/// Plans one statement. `given` holds parameter types the client declared
/// (`None`: let the statement decide).
pub fn plan(catalog: &Catalog, stmt: &Statement, given: &[Option<SqlType>]) -> SqlResult<Prepared> {
    let mut b = Binder {
        params: given.to_vec(),
        aggs: vec![],
    };
    let mut admin_column = None;
    let plan = match stmt {
        Statement::Query(q) => match admin_call(q, &mut b)? {
            Some((call, column)) => {
                admin_column = Some(column);
                Plan::Admin(call)
            }
            None => Plan::Select(plan_query(catalog, q, &mut b)?),
        },
        Statement::Insert(ins) => Plan::Insert(plan_insert(catalog, ins, &mut b)?),
        Statement::Update(up) => Plan::Update(plan_update(catalog, up, &mut b)?),
        Statement::Delete(del) => Plan::Delete(plan_delete(catalog, del, &mut b)?),
        Statement::Set(set) => plan_set(set)?,
        Statement::Explain {
            statement,
            analyze: false,
            ..
        } => Plan::Explain(explain(&plan(catalog, statement, given)?.plan, catalog)),
        Statement::Reset(r) => match &r.reset {
            ast::Reset::ALL => Plan::ResetAll,
            ast::Reset::ConfigurationParameter(name) => Plan::Set {
                name: object_name(name)?,
                value: None,
            },
        },
        Statement::ShowVariable { variable } => Plan::Show {
            name: variable
                .iter()
                .map(|i| i.value.to_lowercase())
                .collect::<Vec<_>>()
                .join(" "),
        },
        Statement::StartTransaction { .. } => Plan::Begin,
        Statement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            ..
        } => {
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
                ) => Plan::CopyIn(plan_copy_in(catalog, table_name, columns, options)?),
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
                    Plan::CopyOut {
                        select: plan_query(catalog, &query, &mut b)?,
                        options,
                    }
                }
                _ => {
                    return Err(SqlError::feature_not_supported(
                        "COPY supports FROM STDIN and TO STDOUT (use psql's \\copy for files)",
                    ))
                }
            }
        }
        Statement::Commit { chain: false, .. } => Plan::Commit,
        Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Plan::Rollback,
        Statement::Commit { .. } | Statement::Rollback { .. } | Statement::Savepoint { .. } => {
            return Err(SqlError::feature_not_supported(
                "savepoints and AND CHAIN are not supported",
            ))
        }
        other => {
            return Err(SqlError::feature_not_supported(format!(
                "statement not supported: {}",
                first_words(&other.to_string())
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
        Plan::Explain(_) => vec![OutColumn {
            name: "QUERY PLAN".into(),
            ty: SqlType::Text,
        }],
        Plan::Admin(_) => admin_column.into_iter().collect(),
        Plan::Set { .. }
        | Plan::Analytic(_)
        | Plan::ResetAll
        | Plan::Empty
        | Plan::Begin
        | Plan::CopyIn(_)
        | Plan::CopyOut { .. }
        | Plan::Commit
        | Plan::Rollback => vec![],
    };
    Ok(Prepared {
        plan,
        param_types: b.param_types(),
        columns,
    })
}

/// The lines EXPLAIN shows for a plan, outermost step first.
fn explain(plan: &Plan, catalog: &Catalog) -> Vec<String> {
    let scan = |id: TableId, access: &Access, filter: &Option<Expr>| {
        let mut lines = vec![access.describe(catalog.get(id))];
        if filter.is_some() {
            lines.push("  Filter: WHERE clause on every row found".into());
        }
        lines
    };
    match plan {
        Plan::Select(s) => {
            let mut lines = vec![];
            let grouped = !s.aggs.is_empty() || !s.group_by.is_empty();
            if s.limit.is_some() || s.offset.is_some() {
                lines.push(if s.order.is_empty() && !grouped {
                    "Limit (stops the scan early)".to_string()
                } else {
                    "Limit".to_string()
                });
            }
            if !s.order.is_empty() {
                lines.push(format!("Sort: {} key(s)", s.order.len()));
            }
            if grouped {
                lines.push(format!(
                    "Aggregate: {} aggregate(s), {} group key(s){}",
                    s.aggs.len(),
                    s.group_by.len(),
                    if s.having.is_some() { ", HAVING" } else { "" }
                ));
            }
            match (s.table, &s.function) {
                (Some(id), _) => lines.extend(scan(id, &s.access, &s.filter)),
                (None, Some(f)) => {
                    lines.push(format!("Function scan of {}()", f.function.name()));
                    if s.filter.is_some() {
                        lines.push("  Filter: WHERE clause on every row".into());
                    }
                }
                (None, None) => lines.push("Result: one row, no table".into()),
            }
            lines
        }
        Plan::Insert(i) => match &i.select {
            None => vec![format!(
                "Insert into {}: {} row(s), one Raft proposal",
                catalog.get(i.table).name,
                i.rows.len()
            )],
            Some((q, _)) => {
                let mut lines = vec![format!(
                    "Insert into {} from a query, one Raft proposal",
                    catalog.get(i.table).name
                )];
                if let Some(id) = q.table {
                    lines.extend(scan(id, &q.access, &q.filter));
                }
                lines
            }
        },
        Plan::Update(u) => std::iter::once(format!(
            "Update {}: one Raft proposal",
            catalog.get(u.table).name
        ))
        .chain(scan(u.table, &u.access, &u.filter))
        .collect(),
        Plan::Delete(d) => std::iter::once(format!(
            "Delete from {}: one Raft proposal",
            catalog.get(d.table).name
        ))
        .chain(scan(d.table, &d.access, &d.filter))
        .collect(),
        Plan::Explain(lines) => lines.clone(),
        // Never nested: DataFusion explains its own plans.
        Plan::Analytic(_) => vec!["Planned by DataFusion".into()],
        Plan::Admin(_) => vec!["Cluster administration call".into()],
        Plan::Begin | Plan::Commit | Plan::Rollback => vec!["Transaction control".into()],
        Plan::CopyIn(c) => vec![format!(
            "Copy into {} from the client, {} rows per Raft proposal",
            catalog.get(c.table).name,
            crate::copy::BATCH_ROWS
        )],
        Plan::CopyOut { .. } => vec!["Copy query results to the client".into()],
        Plan::Set { .. } | Plan::ResetAll | Plan::Show { .. } | Plan::Empty => {
            vec!["Utility statement".into()]
        }
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn plan_set(set: &ast::Set) -> SqlResult<Plan> {
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
        other => Err(SqlError::feature_not_supported(format!(
            "{other} is not supported"
        ))),
    }
}

/// What a FROM item reads.
enum Source<'c> {
    Table(&'c Table),
    Function(TableFnCall),
}

/// Resolves a FROM item to a built-in table or table function, and the
/// name it goes by.
fn from_item<'c>(
    catalog: &'c Catalog,
    relation: &TableFactor,
    b: &mut Binder,
) -> SqlResult<(Source<'c>, String)> {
    let TableFactor::Table {
        name, alias, args, ..
    } = relation
    else {
        return Err(SqlError::feature_not_supported(format!(
            "FROM {relation} is not supported yet"
        )));
    };
    let name = table_name(name)?;
    let source = match args {
        None => Source::Table(catalog.table(&name)?),
        Some(a) => match TableFn::lookup(&name) {
            Some(f) => Source::Function(f.bind_call(&a.args, b)?),
            None => {
                return Err(SqlError::undefined_function(format!(
                    "function {name}() does not exist"
                )))
            }
        },
    };
    let qualifier = alias
        .as_ref()
        .map(|a| a.name.value.to_lowercase())
        .unwrap_or(name);
    Ok((source, qualifier))
}

/// The table a write names: only built-in tables take writes.
fn from_table<'c>(
    catalog: &'c Catalog,
    relation: &TableFactor,
    b: &mut Binder,
) -> SqlResult<(&'c Table, String)> {
    match from_item(catalog, relation, b)? {
        (Source::Table(t), q) => Ok((t, q)),
        (Source::Function(f), _) => Err(SqlError::feature_not_supported(format!(
            "{}() is read-only",
            f.function.name()
        ))),
    }
}

/// `SELECT admin_fn(…)`, if that is what the query is.
fn admin_call(q: &ast::Query, b: &mut Binder) -> SqlResult<Option<(AdminCall, OutColumn)>> {
    match &*q.body {
        SetExpr::Select(s) if q.order_by.is_none() && q.limit_clause.is_none() => {
            system::plan_admin(s, b)
        }
        _ => Ok(None),
    }
}

fn literal_count(b: &mut Binder, e: &ast::Expr, scope: &Scope) -> SqlResult<Expr> {
    Ok(b.bind(e, scope, Ctx::want(SqlType::Int8))?.0)
}

fn projection(
    items: &[SelectItem],
    b: &mut Binder,
    scope: &Scope,
    allow_agg: bool,
) -> SqlResult<Projection> {
    let mut p = Projection::default();
    let ctx = Ctx {
        expected: None,
        allow_agg,
    };
    for item in items {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                if scope.columns.is_empty() {
                    return Err(SqlError::syntax(
                        "SELECT * with no tables specified is not valid",
                    ));
                }
                for (i, c) in scope
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.qualified_only)
                {
                    p.items.push(Expr::Column(i));
                    p.columns.push(OutColumn {
                        name: c.name.clone(),
                        ty: c.ty,
                    });
                }
            }
            SelectItem::UnnamedExpr(e) => {
                let (x, ty) = b.bind(e, scope, ctx)?;
                p.items.push(x);
                p.columns.push(OutColumn {
                    name: column_name(e),
                    ty,
                });
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let (x, ty) = b.bind(expr, scope, ctx)?;
                p.items.push(x);
                p.columns.push(OutColumn {
                    name: alias.value.clone(),
                    ty,
                });
            }
            other => {
                return Err(SqlError::feature_not_supported(format!(
                    "{other} is not supported"
                )))
            }
        }
    }
    Ok(p)
}

/// What a GROUP BY item stands for: `GROUP BY 2` is the second select item,
/// `GROUP BY alias` the item with that alias; anything else is itself.
fn group_target<'q>(e: &'q ast::Expr, items: &'q [SelectItem]) -> SqlResult<&'q ast::Expr> {
    let item_expr = |item: &'q SelectItem| match item {
        SelectItem::UnnamedExpr(x) | SelectItem::ExprWithAlias { expr: x, .. } => Some(x),
        _ => None,
    };
    match e {
        ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
            let n: usize = v.value.to_string().parse().unwrap_or(0);
            n.checked_sub(1)
                .and_then(|i| items.get(i))
                .and_then(item_expr)
                .ok_or_else(|| {
                    SqlError::invalid_parameter_value(format!(
                        "GROUP BY position {n} is not in select list"
                    ))
                })
        }
        ast::Expr::Identifier(i) => Ok(items
            .iter()
            .find_map(|item| match item {
                SelectItem::ExprWithAlias { expr, alias } if alias.value == i.value => Some(expr),
                _ => None,
            })
            .unwrap_or(e)),
        _ => Ok(e),
    }
}

/// Rewrites an expression of a grouped query to read a group's slots:
/// `Agg(i)` stays the i-th aggregate, a subexpression equal to the j-th
/// GROUP BY expression becomes slot `n_aggs + j`, and any other column
/// reference is an error, as in PostgreSQL.
fn group_scope(e: Expr, group_by: &[Expr], n_aggs: usize) -> SqlResult<Expr> {
    e.rewrite(&|x| {
        if let Some(j) = group_by.iter().position(|g| g == x) {
            return Ok(Some(Expr::Agg(n_aggs + j)));
        }
        match x {
            Expr::Column(_) => Err(SqlError::grouping_error(
                "column must appear in the GROUP BY clause or be used in an aggregate function",
            )),
            _ => Ok(None),
        }
    })
}

fn plan_query(catalog: &Catalog, q: &ast::Query, b: &mut Binder) -> SqlResult<SelectPlan> {
    if q.with.is_some() || q.fetch.is_some() || !q.locks.is_empty() {
        return Err(SqlError::feature_not_supported(
            "WITH, FETCH and FOR UPDATE are not supported yet",
        ));
    }
    let select = match &*q.body {
        SetExpr::Select(s) => s,
        _ => {
            return Err(SqlError::feature_not_supported(
                "only simple SELECT queries are supported yet",
            ))
        }
    };
    if select.distinct.is_some() {
        return Err(SqlError::feature_not_supported(
            "DISTINCT is not supported yet",
        ));
    }
    let group_exprs = match &select.group_by {
        ast::GroupByExpr::Expressions(e, modifiers) if modifiers.is_empty() => e,
        _ => {
            return Err(SqlError::feature_not_supported(
                "GROUP BY ALL / ROLLUP / CUBE are not supported",
            ))
        }
    };
    let (table, function, scope) = match select.from.as_slice() {
        [] => (None, None, Scope::default()),
        [twj] if twj.joins.is_empty() => match from_item(catalog, &twj.relation, b)? {
            (Source::Table(t), q) => (Some(t), None, table_scope(t, &q)),
            (Source::Function(f), q) => {
                let mut scope = Scope::default();
                for (name, ty) in f.function.columns() {
                    scope.push(&q, name, *ty, false);
                }
                (None, Some(f), scope)
            }
        },
        _ => {
            return Err(SqlError::feature_not_supported(
                "joins are not supported yet",
            ))
        }
    };
    let filter = match &select.selection {
        Some(e) => Some(b.bind(e, &scope, Ctx::want(SqlType::Bool))?.0),
        None => None,
    };
    let group_by = group_exprs
        .iter()
        .map(|e| {
            let e = group_target(e, &select.projection)?;
            b.bind(e, &scope, Ctx::PLAIN).map(|x| x.0)
        })
        .collect::<SqlResult<Vec<_>>>()?;
    let mut proj = projection(&select.projection, b, &scope, true)?;
    let having = select
        .having
        .as_ref()
        .map(|e| {
            let ctx = Ctx {
                expected: Some(SqlType::Bool),
                allow_agg: true,
            };
            b.bind(e, &scope, ctx).map(|x| x.0)
        })
        .transpose()?;
    let mut order = vec![];
    if let Some(ob) = &q.order_by {
        let exprs = match &ob.kind {
            ast::OrderByKind::Expressions(e) => e,
            ast::OrderByKind::All(_) => {
                return Err(SqlError::feature_not_supported("ORDER BY ALL"))
            }
        };
        for o in exprs {
            let source = match &o.expr {
                ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                    let n: usize = v.value.to_string().parse().unwrap_or(0);
                    if n == 0 || n > proj.columns.len() {
                        return Err(SqlError::invalid_parameter_value(format!(
                            "ORDER BY position {n} is not in select list"
                        )));
                    }
                    SortSource::Output(n - 1)
                }
                ast::Expr::Identifier(i)
                    if proj
                        .columns
                        .iter()
                        .any(|c| c.name == i.value.to_lowercase()) =>
                {
                    let name = i.value.to_lowercase();
                    SortSource::Output(
                        proj.columns
                            .iter()
                            .position(|c| c.name == name)
                            .unwrap_or(0),
                    )
                }
                e => SortSource::Input(
                    b.bind(
                        e,
                        &scope,
                        Ctx {
                            expected: None,
                            allow_agg: true,
                        },
                    )?
                    .0,
                ),
            };
            let desc = o.options.asc == Some(false);
            order.push(SortKey {
                source,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
    }
    let (limit, offset) = match &q.limit_clause {
        None => (None, None),
        Some(ast::LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => (
            limit
                .as_ref()
                .map(|l| literal_count(b, l, &scope))
                .transpose()?,
            offset
                .as_ref()
                .map(|o| literal_count(b, &o.value, &scope))
                .transpose()?,
        ),
        Some(_) => {
            return Err(SqlError::feature_not_supported(
                "this LIMIT form is not supported",
            ))
        }
    };
    let grouped = !b.aggs.is_empty() || !group_by.is_empty();
    let having = if grouped {
        let n = b.aggs.len();
        proj.items = std::mem::take(&mut proj.items)
            .into_iter()
            .map(|e| group_scope(e, &group_by, n))
            .collect::<SqlResult<_>>()?;
        for key in &mut order {
            if let SortSource::Input(e) = &mut key.source {
                *e = group_scope(std::mem::replace(e, Expr::Const(Value::Null)), &group_by, n)?;
            }
        }
        having.map(|h| group_scope(h, &group_by, n)).transpose()?
    } else if having.is_some() {
        return Err(SqlError::grouping_error(
            "HAVING needs GROUP BY or an aggregate",
        ));
    } else {
        None
    };
    let access = table
        .map(|t| Access::derive(t, filter.as_ref()))
        .unwrap_or_default();
    Ok(SelectPlan {
        table: table.map(|t| t.id),
        function,
        access,
        filter,
        projection: proj,
        aggs: std::mem::take(&mut b.aggs),
        group_by,
        having,
        order,
        limit,
        offset,
    })
}

fn returning(
    items: &Option<Vec<SelectItem>>,
    b: &mut Binder,
    scope: &Scope,
) -> SqlResult<Option<Projection>> {
    items
        .as_ref()
        .map(|i| projection(i, b, scope, false))
        .transpose()
}

fn assignment_column(table: &Table, a: &ast::Assignment) -> SqlResult<usize> {
    match &a.target {
        AssignmentTarget::ColumnName(n) => table.column_index(&object_name(n)?),
        AssignmentTarget::Tuple(_) => Err(SqlError::feature_not_supported(
            "tuple assignment is not supported",
        )),
    }
}

fn plan_insert(catalog: &Catalog, ins: &ast::Insert, b: &mut Binder) -> SqlResult<InsertPlan> {
    let name = match &ins.table {
        ast::TableObject::TableName(n) => table_name(n)?,
        other => {
            return Err(SqlError::feature_not_supported(format!(
                "INSERT INTO {other}"
            )))
        }
    };
    let table = catalog.table(&name)?;
    table.check_writable("insert into")?;
    let targets: Vec<usize> = if ins.columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| table.column_index(&object_name(c)?))
            .collect::<SqlResult<_>>()?
    };
    for (i, t) in targets.iter().enumerate() {
        if targets[..i].contains(t) {
            return Err(SqlError::syntax(format!(
                "column \"{}\" specified more than once",
                table.columns[*t].name
            )));
        }
    }
    let source = ins
        .source
        .as_ref()
        .ok_or_else(|| SqlError::syntax("INSERT needs VALUES"))?;
    let mut select = None;
    let no_values = vec![];
    let values = match &*source.body {
        SetExpr::Values(v) => &v.rows,
        _ => {
            let q = plan_query(catalog, source, b)?;
            if q.function.is_some() {
                return Err(SqlError::feature_not_supported(
                    "INSERT ... SELECT from a table function",
                ));
            }
            if q.projection.columns.len() != targets.len() {
                return Err(SqlError::syntax(format!(
                    "INSERT has {} target columns but the query returns {}",
                    targets.len(),
                    q.projection.columns.len()
                )));
            }
            select = Some((Box::new(q), targets.clone()));
            &no_values
        }
    };
    let empty = Scope::default();
    let mut rows = vec![];
    for row in values {
        let row = &row.content;
        if row.len() > targets.len() {
            return Err(SqlError::syntax(
                "INSERT has more expressions than target columns",
            ));
        }
        if row.len() < targets.len() {
            return Err(SqlError::syntax(
                "INSERT has more target columns than expressions",
            ));
        }
        let mut full: Vec<Option<Expr>> = vec![None; table.columns.len()];
        for (e, &t) in row.iter().zip(&targets) {
            if matches!(e, ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default")) {
                continue;
            }
            let ty = table.columns[t].ty;
            let (x, _) = b.bind(e, &empty, Ctx::want(ty))?;
            full[t] = Some(Expr::Cast(Box::new(x), ty));
        }
        rows.push(full);
    }
    let on_conflict = match &ins.on {
        None => OnConflict::Error,
        Some(ast::OnInsert::OnConflict(oc)) => {
            if let Some(target) = &oc.conflict_target {
                let cols = match target {
                    ast::ConflictTarget::Columns(c) => c,
                    ast::ConflictTarget::OnConstraint(_) => {
                        return Err(SqlError::feature_not_supported("ON CONFLICT ON CONSTRAINT"))
                    }
                };
                let mut idx = cols
                    .iter()
                    .map(|c| table.column_index(&c.value.to_lowercase()))
                    .collect::<SqlResult<Vec<_>>>()?;
                idx.sort_unstable();
                if idx != table.key {
                    return Err(SqlError {
                        code: "42P10",
                        message: "there is no unique or exclusion constraint matching the ON CONFLICT specification".into(),
                    });
                }
            }
            match &oc.action {
                ast::OnConflictAction::DoNothing => OnConflict::Nothing,
                ast::OnConflictAction::DoUpdate(du) => {
                    if oc.conflict_target.is_none() {
                        return Err(SqlError::syntax(
                            "ON CONFLICT DO UPDATE requires a conflict target",
                        ));
                    }
                    let mut scope = table_scope(table, table.name);
                    for c in &table.columns {
                        scope.push("excluded", c.name, c.ty, true);
                    }
                    let assignments = update_assignments(table, &du.assignments, b, &scope)?;
                    let filter = du
                        .selection
                        .as_ref()
                        .map(|e| b.bind(e, &scope, Ctx::want(SqlType::Bool)).map(|x| x.0))
                        .transpose()?;
                    OnConflict::Update {
                        assignments,
                        filter,
                    }
                }
            }
        }
        Some(_) => return Err(SqlError::feature_not_supported("ON DUPLICATE KEY")),
    };
    let returning = returning(&ins.returning, b, &table_scope(table, table.name))?;
    Ok(InsertPlan {
        table: table.id,
        rows,
        select,
        on_conflict,
        returning,
    })
}

fn update_assignments(
    table: &Table,
    assignments: &[ast::Assignment],
    b: &mut Binder,
    scope: &Scope,
) -> SqlResult<Vec<(usize, Expr)>> {
    let mut out: Vec<(usize, Expr)> = vec![];
    for a in assignments {
        let col = assignment_column(table, a)?;
        if out.iter().any(|(c, _)| *c == col) {
            return Err(SqlError::syntax(format!(
                "multiple assignments to same column \"{}\"",
                table.columns[col].name
            )));
        }
        let ty = table.columns[col].ty;
        let value = if matches!(&a.value, ast::Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default"))
        {
            default_expr(table, col)
        } else if matches!(table.columns[col].default, ColDefault::Assigned(_)) {
            return Err(SqlError::generated_always(format!(
                "column \"{}\" can only be updated to DEFAULT: it is assigned by the database",
                table.columns[col].name
            )));
        } else {
            b.bind(&a.value, scope, Ctx::want(ty))?.0
        };
        out.push((col, Expr::Cast(Box::new(value), ty)));
    }
    Ok(out)
}

/// The expression a column's default stands for.
pub fn default_expr(table: &Table, col: usize) -> Expr {
    match table.columns[col].default {
        ColDefault::Null => Expr::Const(Value::Null),
        ColDefault::Text(t) => Expr::Const(Value::Text(t.to_string())),
        ColDefault::Int(i) => Expr::Const(Value::Int(i)),
        ColDefault::Now => Expr::Func(crate::expr::Func::Now, vec![]),
        ColDefault::Assigned(t) => Expr::Const(Value::Text(t.to_string())),
    }
}

fn single_table<'c>(
    catalog: &'c Catalog,
    twj: &ast::TableWithJoins,
    b: &mut Binder,
) -> SqlResult<(&'c Table, String)> {
    if !twj.joins.is_empty() {
        return Err(SqlError::feature_not_supported(
            "joins are not supported yet",
        ));
    }
    from_table(catalog, &twj.relation, b)
}

fn plan_update(catalog: &Catalog, up: &ast::Update, b: &mut Binder) -> SqlResult<UpdatePlan> {
    if up.from.is_some() || up.limit.is_some() || !up.order_by.is_empty() {
        return Err(SqlError::feature_not_supported(
            "UPDATE ... FROM/ORDER BY/LIMIT",
        ));
    }
    let (table, q) = single_table(catalog, &up.table, b)?;
    table.check_writable("update")?;
    let scope = table_scope(table, &q);
    let assignments = update_assignments(table, &up.assignments, b, &scope)?;
    let filter = up
        .selection
        .as_ref()
        .map(|e| b.bind(e, &scope, Ctx::want(SqlType::Bool)).map(|x| x.0))
        .transpose()?;
    let returning = returning(&up.returning, b, &scope)?;
    Ok(UpdatePlan {
        table: table.id,
        access: Access::derive(table, filter.as_ref()),
        filter,
        assignments,
        returning,
    })
}

fn plan_delete(catalog: &Catalog, del: &ast::Delete, b: &mut Binder) -> SqlResult<DeletePlan> {
    if del.using.is_some()
        || del.limit.is_some()
        || !del.order_by.is_empty()
        || !del.tables.is_empty()
    {
        return Err(SqlError::feature_not_supported(
            "DELETE ... USING/ORDER BY/LIMIT",
        ));
    }
    let from = match &del.from {
        ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
    };
    let [twj] = from.as_slice() else {
        return Err(SqlError::feature_not_supported(
            "DELETE from several tables",
        ));
    };
    let (table, q) = single_table(catalog, twj, b)?;
    let scope = table_scope(table, &q);
    let filter = del
        .selection
        .as_ref()
        .map(|e| b.bind(e, &scope, Ctx::want(SqlType::Bool)).map(|x| x.0))
        .transpose()?;
    let returning = returning(&del.returning, b, &scope)?;
    Ok(DeletePlan {
        table: table.id,
        access: Access::derive(table, filter.as_ref()),
        filter,
        returning,
    })
}
