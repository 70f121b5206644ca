//! Parameter types a query states by casting: `$1::boolean` means the
//! client is to send a boolean, as PostgreSQL describes it. DataFusion
//! infers a parameter's type only from what it is compared with, so a
//! parameter that is only cast would otherwise be described as text.

use std::ops::ControlFlow;

use sqlparser::ast::{visit_expressions, Expr, Statement, Value};

use crate::bind::{declared_type, MAX_PARAMS};
use crate::value::SqlType;

/// The type each cast parameter is cast to, by parameter position (from
/// 0). A parameter cast to two types takes the first; a type bucketdb
/// does not know leaves the parameter to DataFusion.
pub fn cast_types(stmt: &Statement) -> Vec<Option<SqlType>> {
    let mut out: Vec<Option<SqlType>> = vec![];
    let _ = visit_expressions(stmt, |e| {
        if let Expr::Cast {
            expr, data_type, ..
        } = e
        {
            let mut inner = expr.as_ref();
            while let Expr::Nested(e) = inner {
                inner = e;
            }
            if let Expr::Value(v) = inner {
                if let Value::Placeholder(p) = &v.value {
                    let at = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok());
                    // Past MAX_PARAMS the statement is refused where it is planned.
                    if let (Some(n @ 1..=MAX_PARAMS), Ok(ty)) = (at, declared_type(data_type)) {
                        if out.len() < n {
                            out.resize(n, None);
                        }
                        out[n - 1].get_or_insert(ty);
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(sql: &str) -> Vec<Option<SqlType>> {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let stmt = sqlparser::parser::Parser::parse_sql(&dialect, sql)
            .unwrap()
            .remove(0);
        cast_types(&stmt)
    }

    #[test]
    fn a_cast_parameter_takes_the_cast_type() {
        assert_eq!(
            types("SELECT $2::boolean, ($1)::int8, $3, $2::text"),
            vec![Some(SqlType::Int8), Some(SqlType::Bool)]
        );
        assert_eq!(
            types("SELECT relname FROM pg_class WHERE oid = $1::regclass"),
            Vec::<Option<SqlType>>::new()
        );
        assert_eq!(
            types("SELECT $1::jsonb ->> 'a'"),
            vec![Some(SqlType::Jsonb)]
        );
    }
}
