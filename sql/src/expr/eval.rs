//! Evaluating a bound expression over a row, with SQL's three-valued
//! logic and PostgreSQL's errors for overflow and division by zero.

use std::cmp::Ordering;

use super::functions::call;
use super::like::like;
use super::{ArithOp, CmpOp, EvalEnv, Expr};
use crate::error::{SqlError, SqlResult};
use crate::value::{SqlType, Value};

impl Expr {
    /// The expression's value over `row` (the input row's columns) and
    /// `aggs` (a group's slots in a grouped query).
    pub fn eval(&self, row: &[Value], aggs: &[Value], env: &EvalEnv) -> SqlResult<Value> {
        let ev = |e: &Expr| e.eval(row, aggs, env);
        Ok(match self {
            Expr::Const(v) => v.clone(),
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Param(i) => env.params.get(*i).cloned().ok_or_else(|| {
                SqlError::protocol_violation(format!("no value for parameter ${}", i + 1))
            })?,
            Expr::Agg(i) => aggs.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Not(e) => match ev(e)? {
                Value::Null => Value::Null,
                v => Value::Bool(!truthy(&v)?),
            },
            Expr::Neg(e) => {
                match ev(e)? {
                    Value::Null => Value::Null,
                    Value::Int(i) => Value::Int(i.checked_neg().ok_or_else(|| {
                        SqlError::numeric_value_out_of_range("bigint out of range")
                    })?),
                    Value::Float(f) => Value::Float(-f),
                    v => {
                        return Err(SqlError::undefined_function(format!(
                            "operator does not exist: - {v}"
                        )))
                    }
                }
            }
            Expr::And(a, b) => {
                let l = ev(a)?;
                if matches!(l, Value::Bool(false)) {
                    return Ok(Value::Bool(false));
                }
                let r = ev(b)?;
                match (l, r) {
                    (_, Value::Bool(false)) => Value::Bool(false),
                    (Value::Null, _) | (_, Value::Null) => Value::Null,
                    (l, r) => Value::Bool(truthy(&l)? && truthy(&r)?),
                }
            }
            Expr::Or(a, b) => {
                let l = ev(a)?;
                if matches!(l, Value::Bool(true)) {
                    return Ok(Value::Bool(true));
                }
                let r = ev(b)?;
                match (l, r) {
                    (_, Value::Bool(true)) => Value::Bool(true),
                    (Value::Null, _) | (_, Value::Null) => Value::Null,
                    (l, r) => Value::Bool(truthy(&l)? || truthy(&r)?),
                }
            }
            Expr::Cmp(op, a, b) => compare(*op, &ev(a)?, &ev(b)?),
            Expr::Arith(op, a, b) => arith(*op, ev(a)?, ev(b)?)?,
            Expr::Concat(a, b) => match (ev(a)?, ev(b)?) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                // Each side as cast to text (a boolean is `true`, as in
                // PostgreSQL, not its output form `t`).
                (l, r) => {
                    let (l, r) = (l.coerce(SqlType::Text)?, r.coerce(SqlType::Text)?);
                    Value::Text(format!("{}{}", l.to_text(), r.to_text()))
                }
            },
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => match (ev(expr)?, ev(pattern)?) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                (v, p) => {
                    let (v, p) = if *case_insensitive {
                        (v.to_text().to_lowercase(), p.to_text().to_lowercase())
                    } else {
                        (v.to_text(), p.to_text())
                    };
                    Value::Bool(like(&v, &p) != *negated)
                }
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = ev(expr)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let items = list.iter().map(ev).collect::<SqlResult<Vec<_>>>()?;
                is_in(&v, &items, *negated)
            }
            Expr::InArray {
                expr,
                array,
                negated,
            } => match (ev(expr)?, ev(array)?) {
                (Value::Null, _) | (_, Value::Null) => Value::Null,
                (v, Value::Array(items)) => is_in(&v, &items, *negated),
                (_, other) => {
                    return Err(SqlError::datatype_mismatch(format!(
                        "op ANY/ALL (array) requires an array, not {}",
                        other.to_text()
                    )))
                }
            },
            Expr::IsNull(e, negated) => Value::Bool(ev(e)?.is_null() != *negated),
            Expr::Cast(e, ty) => ev(e)?.coerce(*ty)?,
            Expr::Func(f, args) => {
                let vals = args.iter().map(ev).collect::<SqlResult<Vec<_>>>()?;
                call(*f, vals, env)?
            }
        })
    }
}

/// `v IN (items)`, or NOT IN: NULL, not false, when no item is equal and
/// one is NULL, as SQL's three-valued logic has it.
fn is_in(v: &Value, items: &[Value], negated: bool) -> Value {
    let mut saw_null = false;
    for i in items {
        match v.sql_cmp(i) {
            Some(Ordering::Equal) => return Value::Bool(!negated),
            None if i.is_null() => saw_null = true,
            _ => {}
        }
    }
    if saw_null {
        Value::Null
    } else {
        Value::Bool(negated)
    }
}

/// Whether a row passes a filter (no filter: every row does).
pub fn passes(filter: &Option<Expr>, row: &[Value], env: &EvalEnv) -> SqlResult<bool> {
    match filter {
        Some(f) => truthy(&f.eval(row, &[], env)?),
        None => Ok(true),
    }
}

/// A WHERE clause keeps a row only when its condition is true (not NULL).
pub fn truthy(v: &Value) -> SqlResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(SqlError::datatype_mismatch(format!(
            "argument of WHERE must be type boolean, not \"{other}\""
        ))),
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> Value {
    match a.sql_cmp(b) {
        None => Value::Null,
        Some(o) => Value::Bool(match op {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::NotEq => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::LtEq => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::GtEq => o != Ordering::Less,
        }),
    }
}

fn arith(op: ArithOp, a: Value, b: Value) -> SqlResult<Value> {
    let overflow = || SqlError::numeric_value_out_of_range("bigint out of range");
    Ok(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::Int(x), Value::Int(y)) => Value::Int(match op {
            ArithOp::Add => x.checked_add(y).ok_or_else(overflow)?,
            ArithOp::Sub => x.checked_sub(y).ok_or_else(overflow)?,
            ArithOp::Mul => x.checked_mul(y).ok_or_else(overflow)?,
            ArithOp::Div | ArithOp::Mod if y == 0 => {
                return Err(SqlError::division_by_zero("division by zero"))
            }
            ArithOp::Div => x.checked_div(y).ok_or_else(overflow)?,
            ArithOp::Mod => x.checked_rem(y).ok_or_else(overflow)?,
        }),
        (x, y) => {
            let (Some(x), Some(y)) = (as_f64(&x), as_f64(&y)) else {
                return Err(SqlError::undefined_function(format!(
                    "operator does not exist for {x} and {y}"
                )));
            };
            if matches!(op, ArithOp::Div | ArithOp::Mod) && y == 0.0 {
                return Err(SqlError::division_by_zero("division by zero"));
            }
            Value::Float(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
                ArithOp::Mod => x % y,
            })
        }
    })
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;
    use crate::runtime::Interrupt;
    use crate::settings::Settings;

    #[test]
    fn three_valued_logic() {
        let s = Settings::new("u", "d");
        let env = EvalEnv {
            params: &[],
            now: 0,
            settings: &s,
            interrupt: &Interrupt::default(),
        };
        let null = || Box::new(Expr::Const(Value::Null));
        let f = || Box::new(Expr::Const(Value::Bool(false)));
        assert_eq!(
            Expr::And(null(), f()).eval(&[], &[], &env).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            Expr::Or(null(), f()).eval(&[], &[], &env).unwrap(),
            Value::Null
        );
        let div = Expr::Arith(
            ArithOp::Div,
            Box::new(Expr::Const(Value::Int(1))),
            Box::new(Expr::Const(Value::Int(0))),
        );
        assert_eq!(
            div.eval(&[], &[], &env).unwrap_err().state,
            SqlState::DivisionByZero
        );
    }
}
