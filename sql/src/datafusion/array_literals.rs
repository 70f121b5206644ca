//! Array literals in PostgreSQL's text form: `'{1,2,NULL}'::int[]`.
//! DataFusion casts a string to a list by casting the whole string to the
//! element type, so the text form is read here, at planning, with the
//! parser the wire uses for array parameters, and the cast becomes
//! `CAST(ARRAY[1, 2, NULL] AS INT[])`. A malformed literal is refused
//! with 22P02 before anything runs, as PostgreSQL refuses it.

use std::ops::ControlFlow;

use sqlparser::ast::{self, ArrayElemTypeDef, CastKind, DataType, Expr, Statement, VisitorMut};

use super::sql_ast::{null, visit_until_error};
use crate::bind::declared_type;
use crate::error::{SqlError, SqlResult};
use crate::value::{Element, SqlType, Value};

pub fn rewrite(stmt: &mut Statement) -> SqlResult<()> {
    visit_until_error(stmt, &mut ArrayLiterals)
}

struct ArrayLiterals;

impl VisitorMut for ArrayLiterals {
    type Break = SqlError;

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<SqlError> {
        let Expr::Cast {
            expr, data_type, ..
        } = e
        else {
            return ControlFlow::Continue(());
        };
        let Expr::Value(v) = expr.as_ref() else {
            return ControlFlow::Continue(());
        };
        let ast::Value::SingleQuotedString(text) = &v.value else {
            return ControlFlow::Continue(());
        };
        let DataType::Array(
            ArrayElemTypeDef::SquareBracket(element, _) | ArrayElemTypeDef::AngleBracket(element),
        ) = data_type
        else {
            return ControlFlow::Continue(());
        };
        // Elements of a type bucketdb does not know (`"char"[]`, `oid[]`)
        // are read as text and left to the cast.
        let ty = match declared_type(element) {
            Ok(t) => Element::of(t).map_or(SqlType::Array(Element::Text), SqlType::Array),
            Err(_) => SqlType::Array(Element::Text),
        };
        let items = match Value::Text(text.clone()).coerce(ty) {
            Ok(Value::Array(items)) => items,
            Ok(_) => return ControlFlow::Continue(()),
            Err(err) => return ControlFlow::Break(err),
        };
        let array = Expr::Array(ast::Array {
            elem: items.iter().map(literal).collect(),
            named: true,
        });
        *e = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(array),
            data_type: data_type.clone(),
            array: false,
            format: None,
        };
        ControlFlow::Continue(())
    }
}

/// An element as a SQL literal; the cast around the array gives it its
/// type, so text is enough for timestamps.
fn literal(v: &Value) -> Expr {
    let value = match v {
        Value::Null => return null(),
        Value::Bool(b) => ast::Value::Boolean(*b),
        Value::Int(_) | Value::Float(_) => ast::Value::Number(v.to_text(), false),
        Value::Text(_) | Value::Timestamp(_) | Value::Interval(_) | Value::Array(_) => {
            ast::Value::SingleQuotedString(v.to_text())
        }
    };
    Expr::Value(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> SqlResult<String> {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(&dialect, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt).map(|()| stmt.to_string())
    }

    #[test]
    fn text_arrays_become_array_constructors() {
        assert_eq!(
            rewritten("SELECT '{1, 2,NULL}'::int[]").unwrap(),
            "SELECT CAST(ARRAY[1, 2, NULL] AS INT[])"
        );
        assert_eq!(
            rewritten(r#"SELECT '{"a b",c}'::text[], '{}'::bigint[]"#).unwrap(),
            "SELECT CAST(ARRAY['a b', 'c'] AS TEXT[]), CAST(ARRAY[] AS BIGINT[])"
        );
        assert_eq!(rewritten("SELECT 'x'::text").unwrap(), "SELECT 'x'::TEXT");
        assert_eq!(
            rewritten(r#"SELECT '{r,"p"}'::"char"[]"#).unwrap(),
            r#"SELECT CAST(ARRAY['r', 'p'] AS "char"[])"#
        );
    }

    #[test]
    fn malformed_arrays_are_refused() {
        assert_eq!(
            rewritten("SELECT '{1,2'::int[]").unwrap_err().code(),
            "22P02"
        );
        assert_eq!(
            rewritten("SELECT '{1,x}'::int[]").unwrap_err().code(),
            "22P02"
        );
    }
}
