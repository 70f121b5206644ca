//! Parameters that are arrays: those the client declared an array type
//! for (`int2[]`, as psycopg declares a list of ints) are cast to that
//! type where they appear, and an undeclared one that `= ANY(…)` searches
//! (psycopg sends a list of strings as `unknown`, `'{a,b}'`) is cast to
//! `text[]`, as PostgreSQL resolves it for a text column. DataFusion gives
//! a placeholder the type of what it is compared with, so in
//! `key = ANY($1)` it would take `$1` for one text and refuse the array;
//! cast, `$1` is planned as what it is, as `$1::text[]` written by the
//! query is.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Expr, Statement, VisitMut, VisitorMut};

use super::sql_ast::{self, data_type, named};
use crate::value::{Element, SqlType};

/// Whether there may be anything to rewrite: a declared array, or an
/// `= ANY` (which the compatibility rules make `array_contains`).
pub fn any(given: &[Option<SqlType>], lower: &str) -> bool {
    given.iter().any(|t| matches!(t, Some(SqlType::Array(_)))) || lower.contains("any")
}

pub fn rewrite(stmt: &mut Statement, given: &[Option<SqlType>]) {
    let _ = stmt.visit(&mut DeclaredArrays { given });
}

struct DeclaredArrays<'a> {
    given: &'a [Option<SqlType>],
}

impl VisitorMut for DeclaredArrays<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = e {
            self.searched_array(f);
            return ControlFlow::Continue(());
        }
        let Expr::Value(v) = e else {
            return ControlFlow::Continue(());
        };
        let ast::Value::Placeholder(p) = &v.value else {
            return ControlFlow::Continue(());
        };
        if let Some(ty @ SqlType::Array(_)) = self.declared(p) {
            *e = cast(e.clone(), ty);
        }
        ControlFlow::Continue(())
    }
}

impl DeclaredArrays<'_> {
    fn declared(&self, placeholder: &str) -> Option<SqlType> {
        let n = placeholder.strip_prefix('$')?.parse::<usize>().ok()?;
        self.given.get(n.checked_sub(1)?).copied().flatten()
    }

    /// `array_contains($n, x)` with `$n` undeclared: `$n` becomes `text[]`.
    fn searched_array(&self, f: &mut ast::Function) {
        let named = named(&f.name, "array_contains");
        let ast::FunctionArguments::List(list) = &mut f.args else {
            return;
        };
        let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(array))) =
            list.args.first_mut()
        else {
            return;
        };
        if let Expr::Value(v) = array {
            if let ast::Value::Placeholder(p) = &v.value {
                if named && self.declared(p).is_none() {
                    *array = cast(array.clone(), SqlType::Array(Element::Text));
                }
            }
        }
    }
}

fn cast(e: Expr, ty: SqlType) -> Expr {
    sql_ast::cast(e, data_type(ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_arrays_are_cast() {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(
            &dialect,
            "SELECT key FROM objects WHERE bucket = $1 AND key = ANY($2)",
        )
        .unwrap()
        .remove(0);
        let given = [None, Some(SqlType::Array(Element::Int4))];
        assert!(any(&given, ""));
        rewrite(&mut stmt, &given);
        assert_eq!(
            stmt.to_string(),
            "SELECT key FROM objects WHERE bucket = $1 AND key = ANY(CAST($2 AS INTEGER[]))"
        );
        let mut stmt = sqlparser::parser::Parser::parse_sql(
            &dialect,
            "SELECT array_contains($1, key), array_contains($2, key) FROM objects",
        )
        .unwrap()
        .remove(0);
        rewrite(&mut stmt, &given);
        assert_eq!(
            stmt.to_string(),
            "SELECT array_contains(CAST($1 AS TEXT[]), key), \
             array_contains(CAST($2 AS INTEGER[]), key) FROM objects"
        );
    }
}
