//! PostgreSQL's array constructor from a subquery, `ARRAY(SELECT e …)`,
//! which DataFusion does not plan, rewritten as the scalar subquery
//! `coalesce((SELECT array_agg(e ORDER BY …) …), make_array())`: over no
//! rows `array_agg` gives NULL where PostgreSQL gives an empty array.
//! psql's `\du` and `\d+` use it, correlated with the outer row;
//! DataFusion decorrelates an aggregating scalar subquery, so the rewrite
//! keeps working there. A subquery over `unnest(<rel>.reloptions)` (\d+'s
//! storage options) or `pg_options_to_table(fdwoptions)` (pg_dump's, of
//! every options column) is the empty array it is: no relation, column,
//! foreign-data wrapper or server here has options (nor is there an event
//! trigger with tags), and DataFusion cannot unnest a correlated column in
//! FROM.

use std::ops::ControlFlow;

use super::sql_ast::{call, function, named};

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArguments,
    GroupByExpr, OrderByKind, Query, SelectItem, SetExpr, Statement, TableFactor, VisitMut,
    VisitorMut,
};

/// Rewrites every `ARRAY(subquery)` in `stmt` the rewrite applies to: a
/// plain SELECT of one expression, without DISTINCT, GROUP BY, HAVING,
/// LIMIT or OFFSET. Others are left for DataFusion to refuse.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut ArraySubqueries);
}

struct ArraySubqueries;

impl VisitorMut for ArraySubqueries {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(Function {
            name,
            args: FunctionArguments::Subquery(query),
            ..
        }) = e
        else {
            return ControlFlow::Continue(());
        };
        if !name.to_string().eq_ignore_ascii_case("array") {
            return ControlFlow::Continue(());
        }
        if over_no_options(query) {
            *e = call("make_array", vec![]);
            return ControlFlow::Continue(());
        }
        if let Some(q) = aggregated(query) {
            *e = call(
                "coalesce",
                vec![Expr::Subquery(Box::new(q)), call("make_array", vec![])],
            );
        }
        ControlFlow::Continue(())
    }
}

/// The catalogs' array columns that are NULL in every row here: options
/// (nothing has any) and event triggers' tags (there are none).
const NO_OPTIONS: [&str; 7] = [
    "evttags",
    "reloptions",
    "attoptions",
    "attfdwoptions",
    "fdwoptions",
    "srvoptions",
    "umoptions",
];

/// Whether `query` reads only `unnest(x.reloptions)` or
/// `pg_options_to_table(x.fdwoptions)` (of any options column), which is
/// NULL in every row, so it has no rows.
fn over_no_options(query: &Query) -> bool {
    let SetExpr::Select(select) = &*query.body else {
        return false;
    };
    let [from] = select.from.as_slice() else {
        return false;
    };
    let arg = match &from.relation {
        TableFactor::Table {
            name,
            args: Some(args),
            ..
        } if named(name, "unnest") || named(name, "pg_options_to_table") => {
            match args.args.as_slice() {
                [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => e,
                _ => return false,
            }
        }
        TableFactor::UNNEST {
            array_exprs,
            with_offset: false,
            with_ordinality: false,
            ..
        } => match array_exprs.as_slice() {
            [e] => e,
            _ => return false,
        },
        _ => return false,
    };
    let column = match arg {
        Expr::CompoundIdentifier(parts) => parts.last(),
        Expr::Identifier(i) => Some(i),
        _ => None,
    };
    let options =
        column.is_some_and(|c| NO_OPTIONS.iter().any(|o| c.value.eq_ignore_ascii_case(o)));
    options && from.joins.is_empty() && select.selection.is_none()
}

/// `query` with its one output expression wrapped in `array_agg`, its
/// ORDER BY moved into the aggregate.
fn aggregated(query: &Query) -> Option<Query> {
    if query.with.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
        || !query.locks.is_empty()
    {
        return None;
    }
    let SetExpr::Select(select) = &*query.body else {
        return None;
    };
    let plain = select.distinct.is_none()
        && select.having.is_none()
        && matches!(&select.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty());
    let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
        select.projection.as_slice()
    else {
        return None;
    };
    if !plain {
        return None;
    }
    let order = match query.order_by.as_ref().map(|o| &o.kind) {
        None => vec![],
        Some(OrderByKind::Expressions(exprs)) => exprs.clone(),
        Some(OrderByKind::All(_)) => return None,
    };
    let mut clauses = vec![];
    if !order.is_empty() {
        clauses.push(FunctionArgumentClause::OrderBy(order));
    }
    let agg = function("array_agg", vec![item.clone()], clauses);
    let mut select = select.clone();
    select.projection = vec![SelectItem::UnnamedExpr(agg)];
    let mut q = query.clone();
    q.body = Box::new(SetExpr::Select(select));
    q.order_by = None;
    Some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut stmt =
            sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql)
                .unwrap()
                .remove(0);
        rewrite(&mut stmt);
        stmt.to_string()
    }

    #[test]
    fn options_of_no_relation_are_empty() {
        assert_eq!(
            rewritten(
                "SELECT array_to_string(c.reloptions || ARRAY(SELECT 'toast.' || x FROM pg_catalog.unnest(tc.reloptions) x), ', ') FROM c"
            ),
            "SELECT array_to_string(c.reloptions || make_array(), ', ') FROM c"
        );
        assert_eq!(
            rewritten(
                "SELECT array_to_string(ARRAY(SELECT quote_ident(option_name) FROM pg_options_to_table(fdwoptions) ORDER BY option_name), ',') FROM w"
            ),
            "SELECT array_to_string(make_array(), ',') FROM w"
        );
    }

    #[test]
    fn array_of_a_subquery_becomes_an_aggregate() {
        assert_eq!(
            rewritten(
                "SELECT r.a, ARRAY(SELECT b.n FROM b WHERE b.r = r.id ORDER BY b.n) AS m FROM r"
            ),
            "SELECT r.a, coalesce((SELECT array_agg(b.n ORDER BY b.n) FROM b WHERE b.r = r.id), make_array()) AS m FROM r"
        );
    }

    #[test]
    fn other_arrays_stay() {
        for sql in [
            "SELECT ARRAY[1, 2]",
            "SELECT ARRAY(SELECT a, b FROM t)",
            "SELECT ARRAY(SELECT DISTINCT a FROM t)",
            "SELECT ARRAY(SELECT a FROM t LIMIT 2)",
            "SELECT ARRAY(SELECT a FROM t GROUP BY a)",
        ] {
            assert_eq!(rewritten(sql), sql);
        }
    }
}
