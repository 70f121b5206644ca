//! Literals and `$n` parameters: an untyped one takes the type its context
//! wants.

use sqlparser::ast;

use super::{Binder, Ctx};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::value::{SqlType, Value};

impl Binder {
    pub(super) fn literal(&mut self, v: &ast::Value, ctx: Ctx) -> SqlResult<(Expr, SqlType)> {
        let (value, ty) = match v {
            ast::Value::Number(s, _) => match s.parse::<i64>() {
                Ok(i) => (
                    Value::Int(i),
                    if i32::try_from(i).is_ok() {
                        SqlType::Int4
                    } else {
                        SqlType::Int8
                    },
                ),
                Err(_) => (
                    Value::Float(s.parse::<f64>().map_err(|_| {
                        SqlError::invalid_text_representation(format!("invalid number {s}"))
                    })?),
                    SqlType::Float8,
                ),
            },
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::DoubleQuotedString(s) => {
                let t = ctx.expected.unwrap_or(SqlType::Text);
                return Ok((Expr::Const(Value::Text(s.clone()).coerce(t)?), t));
            }
            ast::Value::DollarQuotedString(d) => (Value::Text(d.value.clone()), SqlType::Text),
            ast::Value::Boolean(b) => (Value::Bool(*b), SqlType::Bool),
            ast::Value::Null => {
                return Ok((
                    Expr::Const(Value::Null),
                    ctx.expected.unwrap_or(SqlType::Text),
                ))
            }
            ast::Value::Placeholder(p) => return self.param(p, ctx),
            other => {
                return Err(SqlError::feature_not_supported(format!(
                    "literal {other} is not supported"
                )))
            }
        };
        Ok((Expr::Const(value), ty))
    }
}
