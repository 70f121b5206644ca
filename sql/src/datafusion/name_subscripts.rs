//! Subscripts of the catalogs' `name` columns. PostgreSQL's `name` is a
//! fixed array of characters, so `typname[0]` is its first character
//! (zero-based, unlike arrays): pg_dump tells array types apart by
//! `typname[0] = '_'`. The library's catalogs hold names as text, which
//! DataFusion cannot subscript, so a constant subscript of a `…name`
//! column named alone (`typname`, `relname`; not the user tables' `name`)
//! becomes the one-character substring it means.

use std::ops::ControlFlow;

use sqlparser::ast::{
    AccessExpr, Expr, Statement, Subscript, UnaryOperator, Value, VisitMut, VisitorMut,
};

use super::sql_ast::{call, null};

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut NameSubscripts);
}

struct NameSubscripts;

/// Whether `e` is a column whose name says it is a catalog's `name`.
fn is_name_column(e: &Expr) -> bool {
    let last = match e {
        Expr::Identifier(i) => i,
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(i) => i,
            None => return false,
        },
        _ => return false,
    };
    let name = last.value.to_ascii_lowercase();
    name.len() > 4 && name.ends_with("name")
}

/// The constant integer `e` is, if it is one.
fn constant(e: &Expr) -> Option<i64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => constant(expr).map(|n| -n),
        Expr::Nested(inner) => constant(inner),
        _ => None,
    }
}

impl VisitorMut for NameSubscripts {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let Expr::CompoundFieldAccess { root, access_chain } = e else {
            return ControlFlow::Continue(());
        };
        let [AccessExpr::Subscript(Subscript::Index { index })] = access_chain.as_slice() else {
            return ControlFlow::Continue(());
        };
        if !is_name_column(root) {
            return ControlFlow::Continue(());
        }
        let Some(at) = constant(index) else {
            return ControlFlow::Continue(());
        };
        let column = std::mem::replace(root.as_mut(), null());
        // Out of range is NULL in PostgreSQL; substr of a negative start
        // would count from the start instead.
        *e = if at < 0 {
            null()
        } else {
            let n = |v: i64| Expr::Value(Value::Number(v.to_string(), false).into());
            call(
                "nullif",
                vec![
                    call("substr", vec![column, n(at + 1), n(1)]),
                    Expr::Value(Value::SingleQuotedString(String::new()).into()),
                ],
            )
        };
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(&dialect, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt);
        stmt.to_string()
    }

    #[test]
    fn constant_subscripts_of_name_columns_are_characters() {
        assert_eq!(
            rewritten("SELECT typname[0] = '_', relname[2], proname[-1] FROM pg_type"),
            "SELECT nullif(substr(typname, 1, 1), '') = '_', nullif(substr(relname, 3, 1), ''), NULL FROM pg_type"
        );
        // Arrays and the user tables' columns keep their subscripts.
        assert_eq!(
            rewritten("SELECT conkey[1], name[1], typname[i] FROM t"),
            "SELECT conkey[1], name[1], typname[i] FROM t"
        );
    }
}
