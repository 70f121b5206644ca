//! Aggregates (count, sum, min, max, avg): the bound call and its
//! accumulator.

use super::{EvalEnv, Expr};
use crate::error::{SqlError, SqlResult};
use crate::value::{SqlType, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// One aggregate of a query; [`Expr::Agg`] refers to it by position.
#[derive(Debug, Clone, PartialEq)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    pub ty: SqlType,
}

/// The running state of one aggregate over the rows of a group.
pub enum AggState {
    Count(i64),
    Sum(Option<Value>),
    Extreme { max: bool, best: Option<Value> },
    Avg { sum: f64, n: i64 },
}

impl AggState {
    pub fn new(call: &AggCall) -> AggState {
        match call.func {
            AggFunc::CountStar | AggFunc::Count => AggState::Count(0),
            AggFunc::Sum => AggState::Sum(None),
            AggFunc::Min => AggState::Extreme {
                max: false,
                best: None,
            },
            AggFunc::Max => AggState::Extreme {
                max: true,
                best: None,
            },
            AggFunc::Avg => AggState::Avg { sum: 0.0, n: 0 },
        }
    }

    pub fn update(&mut self, call: &AggCall, row: &[Value], env: &EvalEnv) -> SqlResult<()> {
        let v = match &call.arg {
            Some(e) => e.eval(row, &[], env)?,
            None => Value::Bool(true),
        };
        if v.is_null() {
            return Ok(());
        }
        match self {
            AggState::Count(n) => *n += 1,
            AggState::Sum(acc) => {
                *acc = Some(match (acc.take(), v) {
                    (None, v) => v,
                    (Some(Value::Int(a)), Value::Int(b)) => {
                        Value::Int(a.checked_add(b).ok_or_else(|| {
                            SqlError::numeric_value_out_of_range("bigint out of range")
                        })?)
                    }
                    (Some(a), b) => Value::Float(as_f64(&a) + as_f64(&b)),
                })
            }
            AggState::Extreme { max, best } => {
                let replace = match best {
                    None => true,
                    Some(b) => {
                        let o = v.sort_cmp(b);
                        if *max {
                            o.is_gt()
                        } else {
                            o.is_lt()
                        }
                    }
                };
                if replace {
                    *best = Some(v);
                }
            }
            AggState::Avg { sum, n } => {
                *sum += as_f64(&v);
                *n += 1;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Value {
        match self {
            AggState::Count(n) => Value::Int(n),
            AggState::Sum(v) => v.unwrap_or(Value::Null),
            AggState::Extreme { best, .. } => best.unwrap_or(Value::Null),
            AggState::Avg { n: 0, .. } => Value::Null,
            AggState::Avg { sum, n } => Value::Float(sum / n as f64),
        }
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}
