//! Bound expressions and their evaluation.

use std::cmp::Ordering;

use crate::error::{SqlError, SqlResult};
use crate::interrupt::Interrupt;
use crate::session::Session;
use crate::value::{SqlType, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Scalar functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Now,
    Lower,
    Upper,
    Length,
    Coalesce,
    Version,
    CurrentDatabase,
    CurrentSchema,
    CurrentUser,
    CurrentSetting,
    /// `json -> key|index`: the element, as JSON text.
    JsonGet,
    /// `json ->> key|index`: the element as text (a JSON string unquoted).
    JsonGetText,
}

/// An expression bound to a row layout and to parameter positions.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Const(Value),
    /// A column of the input row.
    Column(usize),
    /// A statement parameter (`$1` is 0).
    Param(usize),
    /// The result of the n-th aggregate of the query.
    Agg(usize),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    IsNull(Box<Expr>, bool),
    Cast(Box<Expr>, SqlType),
    Func(Func, Vec<Expr>),
}

/// What evaluation may look at besides the row.
pub struct EvalEnv<'a> {
    pub params: &'a [Value],
    /// The statement's timestamp (microseconds), fixed once per statement.
    pub now: i64,
    pub session: &'a Session,
    pub interrupt: &'a Interrupt,
}

impl Expr {
    /// Whether any node of the tree satisfies `pred`.
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        if pred(self) {
            return true;
        }
        match self {
            Expr::Const(_) | Expr::Column(_) | Expr::Param(_) | Expr::Agg(_) => false,
            Expr::Not(x) | Expr::Neg(x) | Expr::IsNull(x, _) | Expr::Cast(x, _) => x.any(pred),
            Expr::And(a, b)
            | Expr::Or(a, b)
            | Expr::Cmp(_, a, b)
            | Expr::Arith(_, a, b)
            | Expr::Concat(a, b) => a.any(pred) || b.any(pred),
            Expr::Like { expr, pattern, .. } => expr.any(pred) || pattern.any(pred),
            Expr::InList { expr, list, .. } => expr.any(pred) || list.iter().any(|e| e.any(pred)),
            Expr::Func(_, args) => args.iter().any(|e| e.any(pred)),
        }
    }

    /// Rebuilds the tree bottom-up, letting `f` replace any node first; `f`
    /// returns `Ok(None)` to keep a node and descend into it.
    pub fn rewrite(self, f: &dyn Fn(&Expr) -> SqlResult<Option<Expr>>) -> SqlResult<Expr> {
        if let Some(replaced) = f(&self)? {
            return Ok(replaced);
        }
        let r = |e: Box<Expr>| -> SqlResult<Box<Expr>> { Ok(Box::new(e.rewrite(f)?)) };
        Ok(match self {
            e @ (Expr::Const(_) | Expr::Column(_) | Expr::Param(_) | Expr::Agg(_)) => e,
            Expr::Not(x) => Expr::Not(r(x)?),
            Expr::Neg(x) => Expr::Neg(r(x)?),
            Expr::IsNull(x, n) => Expr::IsNull(r(x)?, n),
            Expr::Cast(x, t) => Expr::Cast(r(x)?, t),
            Expr::And(a, b) => Expr::And(r(a)?, r(b)?),
            Expr::Or(a, b) => Expr::Or(r(a)?, r(b)?),
            Expr::Cmp(op, a, b) => Expr::Cmp(op, r(a)?, r(b)?),
            Expr::Arith(op, a, b) => Expr::Arith(op, r(a)?, r(b)?),
            Expr::Concat(a, b) => Expr::Concat(r(a)?, r(b)?),
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => Expr::Like {
                expr: r(expr)?,
                pattern: r(pattern)?,
                negated,
                case_insensitive,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: r(expr)?,
                list: list
                    .into_iter()
                    .map(|e| e.rewrite(f))
                    .collect::<SqlResult<_>>()?,
                negated,
            },
            Expr::Func(func, args) => Expr::Func(
                func,
                args.into_iter()
                    .map(|e| e.rewrite(f))
                    .collect::<SqlResult<_>>()?,
            ),
        })
    }

    /// Whether the value is the same for every row (no column, no aggregate).
    pub fn is_row_independent(&self) -> bool {
        !self.any(&|e| matches!(e, Expr::Column(_) | Expr::Agg(_)))
    }

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
                (l, r) => Value::Text(format!("{}{}", l.to_text(), r.to_text())),
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
                let mut saw_null = false;
                for item in list {
                    let i = ev(item)?;
                    match v.sql_cmp(&i) {
                        Some(Ordering::Equal) => return Ok(Value::Bool(!negated)),
                        None if i.is_null() => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            Expr::IsNull(e, negated) => Value::Bool(ev(e)?.is_null() != *negated),
            Expr::Cast(e, ty) => ev(e)?.coerce(*ty)?,
            Expr::Func(f, args) => {
                let vals = args.iter().map(ev).collect::<SqlResult<Vec<_>>>()?;
                call(*f, vals, env)?
            }
        })
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

/// SQL LIKE with `%`, `_` and `\` as the escape character.
pub fn like(value: &str, pattern: &str) -> bool {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // Iterative matcher with backtracking to the last '%'.
    let (mut vi, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi, vi));
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == v[vi] => {
                    pi += 2;
                    vi += 1;
                    continue;
                }
                '_' => {
                    pi += 1;
                    vi += 1;
                    continue;
                }
                c if c != '\\' && c == v[vi] => {
                    pi += 1;
                    vi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sv)) => {
                pi = sp + 1;
                vi = sv + 1;
                star = Some((sp, sv + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// The literal prefix of a LIKE pattern (before its first wildcard), and
/// whether the pattern is exactly that prefix followed by `%`.
pub fn like_prefix(pattern: &str) -> (String, bool) {
    let mut prefix = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => {
                let rest: String = std::iter::once(c).chain(chars).collect();
                return (prefix, rest == "%");
            }
            '\\' => match chars.next() {
                Some(n) => prefix.push(n),
                None => return (prefix, false),
            },
            c => prefix.push(c),
        }
    }
    (prefix, false)
}

fn call(f: Func, args: Vec<Value>, env: &EvalEnv) -> SqlResult<Value> {
    let text_fn = |args: Vec<Value>, op: fn(&str) -> Value| match args.into_iter().next() {
        Some(Value::Null) | None => Value::Null,
        Some(v) => op(&v.to_text()),
    };
    Ok(match f {
        Func::Now => Value::Timestamp(env.now),
        Func::Lower => text_fn(args, |s| Value::Text(s.to_lowercase())),
        Func::Upper => text_fn(args, |s| Value::Text(s.to_uppercase())),
        Func::Length => text_fn(args, |s| Value::Int(s.chars().count() as i64)),
        Func::Coalesce => args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        Func::Version => Value::Text(crate::session::version_string()),
        Func::CurrentDatabase => Value::Text(env.session.database().to_string()),
        Func::CurrentSchema => Value::Text("public".into()),
        Func::CurrentUser => Value::Text(env.session.user().to_string()),
        Func::CurrentSetting => match args.into_iter().next() {
            Some(Value::Text(name)) => Value::Text(env.session.show(&name)?),
            _ => Value::Null,
        },
        Func::JsonGet | Func::JsonGetText => {
            let mut it = args.into_iter();
            match (it.next(), it.next()) {
                (Some(Value::Text(doc)), Some(path)) => {
                    json_element(&doc, &path, matches!(f, Func::JsonGetText))?
                }
                _ => Value::Null,
            }
        }
    })
}

/// The element of JSON text `doc` at an object key (text) or an array
/// index (integer; negative counts from the end), as PostgreSQL's `->`
/// (JSON text) or `->>` (`as_text`: a string unquoted, JSON null as NULL).
/// A missing element is NULL.
fn json_element(doc: &str, path: &Value, as_text: bool) -> SqlResult<Value> {
    let parsed: serde_json::Value = serde_json::from_str(doc).map_err(|e| {
        SqlError::invalid_text_representation(format!("invalid input syntax for type json: {e}"))
    })?;
    let element = match (&parsed, path) {
        (serde_json::Value::Object(map), Value::Text(k)) => map.get(k),
        (serde_json::Value::Array(items), Value::Int(i)) => {
            let len = items.len() as i64;
            let at = if *i < 0 { len + i } else { *i };
            usize::try_from(at).ok().and_then(|at| items.get(at))
        }
        _ => None,
    };
    Ok(match element {
        None => Value::Null,
        Some(serde_json::Value::Null) if as_text => Value::Null,
        Some(serde_json::Value::String(s)) if as_text => Value::Text(s.clone()),
        Some(other) => Value::Text(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_access_follows_postgres() {
        let doc = r#"{"a": "x", "n": 3, "z": null, "list": [1, "two", {"k": true}]}"#;
        let get = |path: Value, as_text| json_element(doc, &path, as_text).unwrap();
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(get(t("a"), false), t("\"x\""));
        assert_eq!(get(t("a"), true), t("x"));
        assert_eq!(get(t("n"), true), t("3"));
        assert_eq!(get(t("z"), false), t("null"));
        assert_eq!(get(t("z"), true), Value::Null);
        assert_eq!(get(t("missing"), true), Value::Null);
        assert_eq!(get(Value::Int(0), true), Value::Null, "not an array");
        let list = json_element(doc, &t("list"), false).unwrap();
        let Value::Text(list) = list else { panic!() };
        assert_eq!(json_element(&list, &Value::Int(1), true).unwrap(), t("two"));
        assert_eq!(
            json_element(&list, &Value::Int(-1), false).unwrap(),
            t(r#"{"k":true}"#)
        );
        assert_eq!(
            json_element(&list, &Value::Int(9), false).unwrap(),
            Value::Null
        );
        assert_eq!(
            json_element("{oops", &t("a"), true).unwrap_err().code,
            "22P02"
        );
    }

    #[test]
    fn like_matches_like_postgres() {
        assert!(like("photos/2024/a.jpg", "photos/%"));
        assert!(like("abc", "a_c"));
        assert!(like("abc", "%"));
        assert!(!like("abc", "a_"));
        assert!(like("a%c", "a\\%c"));
        assert!(!like("abc", "a\\%c"));
        assert!(like("aXbXc", "%b%c"));
        assert!(!like("", "_"));
    }

    #[test]
    fn like_prefix_extraction() {
        assert_eq!(like_prefix("photos/%"), ("photos/".into(), true));
        assert_eq!(like_prefix("a_b%"), ("a".into(), false));
        assert_eq!(like_prefix("50\\%%"), ("50%".into(), true));
        assert_eq!(like_prefix("exact"), ("exact".into(), false));
    }

    #[test]
    fn three_valued_logic() {
        let s = Session::new("u", "d");
        let env = EvalEnv {
            params: &[],
            now: 0,
            session: &s,
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
        assert_eq!(div.eval(&[], &[], &env).unwrap_err().code, "22012");
    }
}
