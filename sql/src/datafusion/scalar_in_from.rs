//! A scalar function called in FROM, as PostgreSQL allows (`SELECT * FROM
//! current_schema()`): a table of one row and one column, named after the
//! function or the alias. DataFusion only calls table functions there, so
//! such a call is rewritten as the derived table `(SELECT f(args) AS
//! column) AS alias`.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Function, FunctionArgumentList, FunctionArguments, Ident, ObjectNamePart, Query, Select,
    SelectItem, SetExpr, Statement, TableAlias, TableFactor, VisitMut, VisitorMut,
};

/// Rewrites the calls in FROM of functions `is_scalar` says are scalar.
pub fn rewrite(stmt: &mut Statement, is_scalar: &dyn Fn(&str) -> bool) {
    let _ = stmt.visit(&mut ScalarsInFrom { is_scalar });
}

struct ScalarsInFrom<'a> {
    is_scalar: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for ScalarsInFrom<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name,
            alias,
            args: Some(args),
            with_ordinality: false,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Some(ObjectNamePart::Identifier(function)) = name.0.last() else {
            return ControlFlow::Continue(());
        };
        if !(self.is_scalar)(&function.value.to_ascii_lowercase()) {
            return ControlFlow::Continue(());
        }
        let column = alias
            .as_ref()
            .map(|a| a.columns.first().map_or(&a.name, |c| &c.name))
            .unwrap_or(function)
            .clone();
        let table = alias.as_ref().map_or(function, |a| &a.name).clone();
        let call = Expr::Function(Function {
            name: name.clone(),
            uses_odbc_syntax: false,
            parameters: FunctionArguments::None,
            args: FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: None,
                args: args.args.clone(),
                clauses: vec![],
            }),
            filter: None,
            null_treatment: None,
            over: None,
            within_group: vec![],
        });
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(one_row(call, column)),
            alias: Some(TableAlias {
                explicit: true,
                name: table,
                columns: vec![],
                at: None,
            }),
            sample: None,
        };
        ControlFlow::Continue(())
    }
}

/// `SELECT expr AS column`.
fn one_row(expr: Expr, column: Ident) -> Query {
    let select = Select {
        projection: vec![SelectItem::ExprWithAlias {
            expr,
            alias: column,
        }],
        ..empty_select()
    };
    Query {
        body: Box::new(SetExpr::Select(Box::new(select))),
        ..empty_query()
    }
}

fn parsed(sql: &str) -> Query {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    match Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .ok()
        .and_then(|mut v| v.pop())
    {
        Some(Statement::Query(q)) => *q,
        _ => unreachable!("a fixed query parses"),
    }
}

/// An empty SELECT, to fill in.
fn empty_select() -> Select {
    match *empty_query().body {
        SetExpr::Select(s) => *s,
        _ => unreachable!("SELECT 1 is a select"),
    }
}

fn empty_query() -> Query {
    parsed("SELECT 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut stmt = Statement::Query(Box::new(parsed(sql)));
        rewrite(&mut stmt, &|n| n == "current_schema");
        stmt.to_string()
    }

    #[test]
    fn scalar_calls_in_from_become_one_row_tables() {
        assert_eq!(
            rewritten("SELECT * FROM current_schema()"),
            "SELECT * FROM (SELECT current_schema() AS current_schema) AS current_schema"
        );
        assert_eq!(
            rewritten("SELECT s FROM pg_catalog.current_schema() AS s"),
            "SELECT s FROM (SELECT pg_catalog.current_schema() AS s) AS s"
        );
        assert_eq!(
            rewritten("SELECT * FROM generate_series(1, 2)"),
            "SELECT * FROM generate_series(1, 2)"
        );
    }
}
