//! Bound expressions: the tree the binder produces ([`Expr`]), its
//! evaluation over a row ([`eval`]), the scalar functions ([`functions`]),
//! LIKE ([`like`]), aggregates ([`aggregate`]) and column defaults
//! ([`defaults`]).

mod aggregate;
mod defaults;
mod eval;
mod functions;
mod json_element;
mod like;

pub use aggregate::{AggCall, AggFunc, AggState};
pub use defaults::default_expr;
pub use eval::{passes, truthy};
pub use like::like_prefix;

use crate::error::SqlResult;
use crate::runtime::{now_micros, Interrupt};
use crate::settings::Settings;
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
    /// A `jsonb`'s equality key (`crate::jsonb::equality_key`): the
    /// binder compares jsonb values by it, as PostgreSQL compares their
    /// numbers as numerics (`'1.0'::jsonb = '1'::jsonb`).
    JsonbKey,
    /// A `timestamp without time zone` as text: without the `+00` a
    /// value's own text form has (it cannot tell the two types apart). The
    /// binder puts it under a cast of such a timestamp to text.
    WallClockText,
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
    /// `expr = ANY(array)`, or with `negated` `expr <> ALL(array)`: IN and
    /// NOT IN over an array value (a parameter, as drivers send a list).
    InArray {
        expr: Box<Expr>,
        array: Box<Expr>,
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
    pub settings: &'a Settings,
    pub interrupt: &'a Interrupt,
}

impl<'a> EvalEnv<'a> {
    /// An environment whose statement timestamp is now: the clock is read
    /// once per statement, here, on the node that plans it.
    pub fn at_now(
        params: &'a [Value],
        settings: &'a Settings,
        interrupt: &'a Interrupt,
    ) -> EvalEnv<'a> {
        EvalEnv {
            params,
            now: now_micros(),
            settings,
            interrupt,
        }
    }
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
            Expr::InArray { expr, array, .. } => expr.any(pred) || array.any(pred),
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
            Expr::InArray {
                expr,
                array,
                negated,
            } => Expr::InArray {
                expr: r(expr)?,
                array: r(array)?,
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
}
