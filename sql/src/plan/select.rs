//! Planning a query: FROM (a table or a table function), WHERE with the
//! access path it allows, projection, GROUP BY / aggregates / HAVING,
//! ORDER BY, LIMIT and OFFSET.

use sqlparser::ast::{self, SelectItem, SetExpr, TableFactor};

use super::join::{two_relations, LookupJoin, TwoTables};
use super::table_scope;
use crate::bind::{column_name, ident, table_name, Binder, Ctx, Scope};
use crate::catalog::{Catalog, Table, TableId};
use crate::error::{SqlError, SqlResult};
use crate::expr::{AggCall, Expr};
use crate::functions::{TableFn, TableFnCall};
use crate::runtime::Work;
use crate::scan::Access;
use crate::value::{OutColumn, SqlType, Value};

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
    /// The table read (with a join, the driving one, which `access` finds).
    pub table: Option<TableId>,
    /// A second table, looked up by key for each row `access` finds.
    pub join: Option<LookupJoin>,
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

impl SelectPlan {
    /// How long reading its rows takes: short for a few point gets (with
    /// a lookup join, one more get per row found).
    pub fn work(&self) -> Work {
        match (self.table, &self.function) {
            (Some(table), None) => self.access.work(table),
            _ => Work::MayScan,
        }
    }
}

/// Why a table function in a join is left to DataFusion.
const JOINED: &str = "in a join is planned by DataFusion";

pub(super) fn plan_query(
    catalog: &Catalog,
    q: &ast::Query,
    b: &mut Binder,
) -> SqlResult<SelectPlan> {
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
    let joined = match two_relations(&select.from)? {
        Some(r) => Some(TwoTables {
            first: from_table(catalog, r.first, b, JOINED)?,
            second: from_table(catalog, r.second, b, JOINED)?,
            on: r.on,
        }),
        None => None,
    };
    let (table, function, scope) = match (select.from.as_slice(), &joined) {
        (_, Some(two)) => (Some(two.first.0), None, two.scope()?),
        ([], None) => (None, None, Scope::default()),
        ([twj, ..], None) => match from_item(catalog, &twj.relation, b)? {
            (Source::Table(t), q) => (Some(t), None, table_scope(t, &q)),
            (Source::Function(f), q) => {
                let mut scope = Scope::default();
                for (name, ty) in f.function.columns() {
                    scope.push(&q, name, *ty, false);
                }
                (None, Some(f), scope)
            }
        },
    };
    let filter = match &select.selection {
        Some(e) => Some(b.bind(e, &scope, Ctx::want(SqlType::Bool))?.0),
        None => None,
    };
    let (table, access, join, filter) = match &joined {
        Some(two) => {
            let p = two.plan(filter, b, &scope)?;
            (
                Some(catalog.get(p.driving)),
                Some(p.access),
                Some(p.join),
                p.filter,
            )
        }
        None => (table, None, None, filter),
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
                ast::Expr::Identifier(i) if proj.columns.iter().any(|c| c.name == ident(i)) => {
                    let name = ident(i);
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
    let access = access.unwrap_or_else(|| {
        table
            .map(|t| Access::derive(t, filter.as_ref()))
            .unwrap_or_default()
    });
    Ok(SelectPlan {
        table: table.map(|t| t.id),
        join,
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
        name,
        alias,
        args,
        with_ordinality: false,
        ..
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
    let qualifier = alias.as_ref().map(|a| ident(&a.name)).unwrap_or(name);
    Ok((source, qualifier))
}

/// A built-in table FROM names where a table function is refused with
/// `refusal` (after the function's name): only tables take writes, and
/// only tables are joined here (a table function in a join goes to
/// DataFusion).
pub(super) fn from_table<'c>(
    catalog: &'c Catalog,
    relation: &TableFactor,
    b: &mut Binder,
    refusal: &str,
) -> SqlResult<(&'c Table, String)> {
    match from_item(catalog, relation, b)? {
        (Source::Table(t), q) => Ok((t, q)),
        (Source::Function(f), _) => Err(SqlError::feature_not_supported(format!(
            "{}() {refusal}",
            f.function.name()
        ))),
    }
}

fn literal_count(b: &mut Binder, e: &ast::Expr, scope: &Scope) -> SqlResult<Expr> {
    Ok(b.bind(e, scope, Ctx::want(SqlType::Int8))?.0)
}

pub(super) fn projection(
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
                // `t.*`: the columns of the relation FROM names t.
                let qualifier = match item {
                    SelectItem::QualifiedWildcard(
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                        _,
                    ) => Some(table_name(n)?),
                    SelectItem::QualifiedWildcard(..) => {
                        return Err(SqlError::feature_not_supported(format!(
                            "{item} is not supported"
                        )))
                    }
                    _ => None,
                };
                if let Some(q) = &qualifier {
                    if !scope.columns.iter().any(|c| &c.qualifier == q) {
                        return Err(SqlError::undefined_table(format!(
                            "missing FROM-clause entry for table \"{q}\""
                        )));
                    }
                }
                for (i, c) in scope.columns.iter().enumerate().filter(|(_, c)| {
                    !c.qualified_only && qualifier.as_ref().is_none_or(|q| &c.qualifier == q)
                }) {
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
                    name: ident(alias),
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
