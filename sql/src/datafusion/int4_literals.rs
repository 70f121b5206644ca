//! An integer literal that fits in 32 bits is an `integer`, as
//! PostgreSQL types it: `SELECT 1 … FROM a JOIN b` is described as int4,
//! `pg_typeof(1)` is `integer`, `2147483647 + 1` is out of range.
//! DataFusion types every integer literal `bigint`, so a driver read an
//! int8 where PostgreSQL sends an int4. The literal becomes
//! `CAST(n AS INT)` where its type is what the client sees: in the
//! outermost select lists (each branch of a set operation; not where a
//! select groups by an expression, which its items must match), alone or in
//! arithmetic, CASE results and parentheses, in VALUES rows, and as the
//! argument of `pg_typeof`. Elsewhere literals keep DataFusion's type,
//! since some functions take only `bigint` and `ORDER BY 1` is a position;
//! where an `integer` meets a `bigint`, type coercion widens it.

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    OrderBy, OrderByKind, Select, SelectItem, SetExpr, Statement, UnaryOperator, Value, VisitMut,
    VisitorMut,
};

use super::sql_ast::{cast, named};

pub fn rewrite(stmt: &mut Statement) {
    if let Statement::Query(q) = stmt {
        body(&mut q.body);
        // An ORDER BY expression may have to match a select item.
        if let Some(OrderBy {
            kind: OrderByKind::Expressions(items),
            ..
        }) = &mut q.order_by
        {
            for item in items {
                if !matches!(item.expr, Expr::Value(_)) {
                    typed(&mut item.expr);
                }
            }
        }
    }
    let _ = stmt.visit(&mut TypeOfArguments);
}

/// Whether a select groups by columns and positions only: an expression
/// grouped by must match its select item, and a literal inside a call
/// there keeps its type.
fn groups_by_columns(s: &Select) -> bool {
    match &s.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            modifiers.is_empty()
                && exprs.iter().all(|e| {
                    matches!(
                        e,
                        Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_)
                    )
                })
        }
        GroupByExpr::All(_) => false,
    }
}

fn body(b: &mut SetExpr) {
    match b {
        SetExpr::Select(s) if groups_by_columns(s) => {
            for item in &mut s.projection {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                {
                    typed(e);
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            body(left);
            body(right);
        }
        SetExpr::Values(v) => v.rows.iter_mut().flat_map(|r| r.iter_mut()).for_each(typed),
        SetExpr::Query(q) => body(&mut q.body),
        _ => {}
    }
}

/// Casts the literals of `e` whose type is `e`'s own.
fn typed(e: &mut Expr) {
    match e {
        Expr::Value(v) => {
            if let Value::Number(n, false) = &v.value {
                if n.parse::<i32>().is_ok() {
                    *e = cast(e.clone(), DataType::Int(None));
                }
            }
        }
        Expr::Nested(inner) => typed(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => {
            // `-2147483648` fits although `2147483648` does not.
            if let Expr::Value(v) = expr.as_ref() {
                if let Value::Number(n, false) = &v.value {
                    if format!("-{n}").parse::<i32>().is_ok() && n.parse::<i32>().is_err() {
                        let literal = e.clone();
                        *e = cast(Expr::Nested(Box::new(literal)), DataType::Int(None));
                        return;
                    }
                }
            }
            typed(expr)
        }
        Expr::BinaryOp { left, op, right } if arithmetic(op) => {
            typed(left);
            typed(right);
        }
        Expr::Case {
            conditions,
            else_result,
            ..
        } => {
            for c in conditions {
                typed(&mut c.result);
            }
            if let Some(e) = else_result {
                typed(e);
            }
        }
        _ => {}
    }
}

fn arithmetic(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo
    )
}

/// `pg_typeof(1)` asks the literal's type.
struct TypeOfArguments;

impl VisitorMut for TypeOfArguments {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = e {
            if named(&f.name, "pg_typeof") {
                if let FunctionArguments::List(list) = &mut f.args {
                    for arg in &mut list.args {
                        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(a)) = arg {
                            typed(a);
                        }
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::sql_ast::rewritten(sql, rewrite)
    }

    #[test]
    fn literals_the_client_sees_are_integers() {
        assert_eq!(
            rewritten("SELECT 1, 2 + 3 AS n, 4294967296, o.size + 1 FROM o ORDER BY 1 LIMIT 1"),
            "SELECT CAST(1 AS INT), CAST(2 AS INT) + CAST(3 AS INT) AS n, 4294967296, o.size + CAST(1 AS INT) FROM o ORDER BY 1 LIMIT 1"
        );
        assert_eq!(
            rewritten("SELECT CASE WHEN a THEN 1 ELSE -2147483648 END FROM t UNION SELECT 2"),
            "SELECT CASE WHEN a THEN CAST(1 AS INT) ELSE CAST((-2147483648) AS INT) END FROM t UNION SELECT CAST(2 AS INT)"
        );
        assert_eq!(
            rewritten("SELECT pg_typeof(1), substr(k, 1) FROM t WHERE x = 1"),
            "SELECT pg_typeof(CAST(1 AS INT)), SUBSTR(k, 1) FROM t WHERE x = 1"
        );
        let grouped = "SELECT o.size * 2, count(*) FROM o GROUP BY o.size * 2";
        assert_eq!(rewritten(grouped), grouped);
        assert_eq!(
            rewritten("SELECT DISTINCT o.size * 2 FROM o ORDER BY o.size * 2, 1"),
            "SELECT DISTINCT o.size * CAST(2 AS INT) FROM o ORDER BY o.size * CAST(2 AS INT), 1"
        );
        assert_eq!(
            rewritten("SELECT * FROM (VALUES (1)) AS v(a)"),
            "SELECT * FROM (VALUES (1)) AS v (a)"
        );
    }
}
