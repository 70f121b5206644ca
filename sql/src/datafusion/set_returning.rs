//! `generate_series` and `unnest` as PostgreSQL's set-returning functions.
//!
//! In FROM, a one-column function's column is named for the table alias
//! (`SELECT g FROM generate_series(1, 3) g`), or for the function without
//! one; DataFusion names it `value` (or for the whole UNNEST expression),
//! so the alias is given its column. In a select list, `generate_series`
//! returns a row per value in PostgreSQL; DataFusion's is a scalar that
//! returns an array, which would answer `{1,2,3}` in one row, so each call
//! there is unnested.

use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions_mut, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    Query, SelectItem, SetExpr, Statement, TableAlias, TableAliasColumnDef, TableFactor, VisitMut,
    VisitorMut,
};

use super::sql_ast::{call, named};

const SERIES: &str = "generate_series";
const UNNEST: &str = "unnest";

/// Names the columns of one-column set-returning functions in FROM,
/// numbers their rows for `WITH ORDINALITY`, and unnests
/// `generate_series` in select lists.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut SetReturning);
}

/// Whether a statement (lowercased) may have anything to rewrite.
pub fn mentioned(lower: &str) -> bool {
    lower.contains(SERIES) || lower.contains(UNNEST) || lower.contains("ordinality")
}

/// `f(…) WITH ORDINALITY [AS t (…)]` as `(SELECT *, row_number() OVER ()
/// AS ordinality FROM f(…)) AS t (…)`: the function's rows numbered from
/// 1 in the order it returns them (one partition, so the window keeps
/// that order), under the alias the query gave, or the function's name.
/// DataFusion ignored the clause on a function (no ordinality column:
/// `SELECT * FROM generate_series(5, 7) WITH ORDINALITY` answered one
/// column) and refused it on UNNEST.
fn number_rows(factor: &mut TableFactor) {
    // Worked on a copy: the query keeps its clause (and DataFusion's
    // refusal of it) unless the rewrite is made whole.
    let mut inner = factor.clone();
    let (function, alias) = match &mut inner {
        TableFactor::Table {
            name,
            alias,
            args: Some(_),
            with_ordinality: ordinality @ true,
            ..
        } => {
            *ordinality = false;
            let function = name.0.last().map(|p| p.to_string());
            (function, alias.take())
        }
        TableFactor::UNNEST {
            alias,
            with_ordinality: ordinality @ true,
            ..
        } => {
            *ordinality = false;
            (Some(UNNEST.to_string()), alias.take())
        }
        _ => return,
    };
    let sql = format!("SELECT *, row_number() OVER () AS ordinality FROM {inner}");
    let (Some(function), Ok(subquery)) = (
        function,
        sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
            .try_with_sql(&sql)
            .and_then(|mut p| p.parse_query()),
    ) else {
        return;
    };
    *factor = TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(alias.unwrap_or_else(|| TableAlias {
            explicit: true,
            name: Ident::new(function),
            columns: vec![],
            at: None,
        })),
        sample: None,
    };
}

struct SetReturning;

impl VisitorMut for SetReturning {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        number_rows(factor);
        match factor {
            TableFactor::Table {
                name,
                alias,
                args: Some(_),
                with_ordinality: false,
                ..
            } if named(name, SERIES) => name_column(alias, SERIES),
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } if array_exprs.len() == 1 => name_column(alias, UNNEST),
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        unnest_series(&mut query.body);
        ControlFlow::Continue(())
    }
}

/// Gives a one-column function's table its column: named for the alias,
/// or for the function when there is no alias.
fn name_column(alias: &mut Option<TableAlias>, function: &str) {
    let alias = alias.get_or_insert_with(|| TableAlias {
        explicit: true,
        name: Ident::new(function),
        columns: vec![],
        at: None,
    });
    if alias.columns.is_empty() {
        alias
            .columns
            .push(TableAliasColumnDef::from_name(alias.name.value.clone()));
    }
}

fn unnest_series(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for item in &mut select.projection {
                let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item
                else {
                    continue;
                };
                let _ = visit_expressions_mut(e, |e| {
                    unnest_call(e);
                    ControlFlow::<()>::Continue(())
                });
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            unnest_series(left);
            unnest_series(right);
        }
        _ => {}
    }
}

/// Visited children first: `generate_series(…)` becomes
/// `unnest(generate_series(…))`, and an `unnest` the query wrote around
/// it (or a second visit, from a subquery in a select list) is not
/// doubled.
fn unnest_call(e: &mut Expr) {
    let Expr::Function(f) = e else {
        return;
    };
    if named(&f.name, SERIES) {
        *e = call(UNNEST, vec![e.clone()]);
    } else if named(&f.name, UNNEST) {
        if let Some(inner @ Expr::Function(g)) = only_arg(f) {
            if named(&g.name, UNNEST) && only_arg(g).is_some() {
                *e = inner.clone();
            }
        }
    }
}

fn only_arg(f: &Function) -> Option<&Expr> {
    match &f.args {
        FunctionArguments::List(list) => match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::sql_ast::rewritten(sql, rewrite)
    }

    #[test]
    fn one_column_functions_in_from_are_named_for_their_alias() {
        assert_eq!(
            rewritten("SELECT g FROM generate_series(1, 3) g"),
            "SELECT g FROM generate_series(1, 3) g (g)"
        );
        assert_eq!(
            rewritten("SELECT * FROM generate_series(1, 3)"),
            "SELECT * FROM generate_series(1, 3) AS generate_series (generate_series)"
        );
        assert_eq!(
            rewritten("SELECT * FROM unnest(ARRAY[1]) u"),
            "SELECT * FROM UNNEST(ARRAY[1]) u (u)"
        );
        // Columns the query names stand.
        assert_eq!(
            rewritten("SELECT x FROM generate_series(1, 3) AS g (x)"),
            "SELECT x FROM generate_series(1, 3) AS g (x)"
        );
    }

    #[test]
    fn with_ordinality_numbers_the_rows() {
        assert_eq!(
            rewritten("SELECT * FROM generate_series(5, 7) WITH ORDINALITY"),
            "SELECT * FROM (SELECT *, row_number() OVER () AS ordinality FROM generate_series(5, 7) AS generate_series (generate_series)) AS generate_series"
        );
        assert_eq!(
            rewritten("SELECT n, i FROM unnest(ARRAY['a']) WITH ORDINALITY AS u (n, i)"),
            "SELECT n, i FROM (SELECT *, row_number() OVER () AS ordinality FROM UNNEST(ARRAY['a']) AS unnest (unnest)) AS u (n, i)"
        );
    }

    #[test]
    fn generate_series_in_a_select_list_returns_rows() {
        assert_eq!(
            rewritten("SELECT generate_series(1, 2) + 1 AS n"),
            "SELECT unnest(generate_series(1, 2)) + 1 AS n"
        );
        assert_eq!(
            rewritten("SELECT unnest(generate_series(1, 2))"),
            "SELECT unnest(generate_series(1, 2))"
        );
        assert_eq!(
            rewritten("SELECT (SELECT max(x) FROM t WHERE y = 1), generate_series(1, 2) FROM u"),
            "SELECT (SELECT max(x) FROM t WHERE y = 1), unnest(generate_series(1, 2)) FROM u"
        );
        assert_eq!(
            rewritten("SELECT (SELECT generate_series(1, 2) LIMIT 1)"),
            "SELECT (SELECT unnest(generate_series(1, 2)) LIMIT 1)"
        );
    }
}
