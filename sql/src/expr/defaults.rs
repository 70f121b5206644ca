//! What a column holds when a write leaves it out (or sets it to DEFAULT).

use super::{Expr, Func};
use crate::catalog::{Default as ColDefault, Table};
use crate::value::Value;

/// The expression column `col` of `table` defaults to.
pub fn default_expr(table: &Table, col: usize) -> Expr {
    match table.columns[col].default {
        ColDefault::Null => Expr::Const(Value::Null),
        ColDefault::Text(t) => Expr::Const(Value::Text(t.to_string())),
        ColDefault::Int(i) => Expr::Const(Value::Int(i)),
        ColDefault::Now => Expr::Func(Func::Now, vec![]),
        ColDefault::Assigned(t) => Expr::Const(Value::Text(t.to_string())),
    }
}
