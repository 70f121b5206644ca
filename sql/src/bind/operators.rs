//! Operators: LIKE, comparisons, AND/OR, JSON access, concatenation and
//! arithmetic, each with the operand types PostgreSQL accepts.

use sqlparser::ast::{self, BinaryOperator};

use super::expressions::comparable;
use super::{Binder, Ctx, Scope};
use crate::error::{SqlError, SqlResult};
use crate::expr::{ArithOp, CmpOp, Expr, Func};
use crate::value::{SqlType, Value};

impl Binder {
    pub(super) fn like(
        &mut self,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        negated: bool,
        ci: bool,
        scope: &Scope,
        ctx: Ctx,
    ) -> SqlResult<(Expr, SqlType)> {
        let text = Ctx {
            expected: Some(SqlType::Text),
            ..ctx
        };
        let (x, xt) = self.bind(expr, scope, text)?;
        let (p, _) = self.bind(pattern, scope, text)?;
        if !xt.is_textual() {
            return Err(SqlError::undefined_function(format!(
                "operator does not exist: {} ~~ text",
                xt.name()
            )));
        }
        Ok((
            Expr::Like {
                expr: Box::new(x),
                pattern: Box::new(p),
                negated,
                case_insensitive: ci,
            },
            SqlType::Bool,
        ))
    }

    /// `(a, b) = (x, y)` is `a = x AND b = y`, and `<>` is `a <> x OR
    /// b <> y`: PostgreSQL's row comparison, NULLs included. Written so, a
    /// key given as a row (`(bucket, key) = ($1, $2)`) is a point access.
    fn row_comparison(
        &mut self,
        l: &[ast::Expr],
        op: &BinaryOperator,
        r: &[ast::Expr],
        scope: &Scope,
        ctx: Ctx,
    ) -> SqlResult<(Expr, SqlType)> {
        if l.len() != r.len() {
            return Err(SqlError::syntax(
                "unequal number of entries in row expressions",
            ));
        }
        let join: fn(Box<Expr>, Box<Expr>) -> Expr = match op {
            BinaryOperator::Eq => Expr::And,
            BinaryOperator::NotEq => Expr::Or,
            other => {
                return Err(SqlError::feature_not_supported(format!(
                    "row comparison with {other} is not supported"
                )))
            }
        };
        let mut out: Option<Expr> = None;
        for (a, b) in l.iter().zip(r) {
            let (e, _) = self.binary(a, op, b, scope, ctx)?;
            out = Some(match out {
                None => e,
                Some(prev) => join(Box::new(prev), Box::new(e)),
            });
        }
        let out = out.ok_or_else(|| SqlError::syntax("empty row expression"))?;
        Ok((out, SqlType::Bool))
    }

    pub(super) fn binary(
        &mut self,
        l: &ast::Expr,
        op: &BinaryOperator,
        r: &ast::Expr,
        scope: &Scope,
        ctx: Ctx,
    ) -> SqlResult<(Expr, SqlType)> {
        use BinaryOperator as B;
        let b = Box::new;
        if let (ast::Expr::Tuple(ls), ast::Expr::Tuple(rs)) = (l, r) {
            return self.row_comparison(ls, op, rs, scope, ctx);
        }
        let cmp = match op {
            B::Eq => Some(CmpOp::Eq),
            B::NotEq => Some(CmpOp::NotEq),
            B::Lt => Some(CmpOp::Lt),
            B::LtEq => Some(CmpOp::LtEq),
            B::Gt => Some(CmpOp::Gt),
            B::GtEq => Some(CmpOp::GtEq),
            _ => None,
        };
        if let Some(c) = cmp {
            let ((lx, lt), (rx, rt)) = self.pair(l, r, scope, ctx)?;
            if !comparable(lt, rt) {
                return Err(SqlError::undefined_function(format!(
                    "operator does not exist: {} {op} {}",
                    lt.name(),
                    rt.name()
                )));
            }
            let ordering = !matches!(c, CmpOp::Eq | CmpOp::NotEq);
            if ordering
                && [lt, rt]
                    .iter()
                    .any(|t| matches!(t, SqlType::Json | SqlType::Jsonb))
            {
                // PostgreSQL orders jsonb by its own rules, not as text.
                return Err(SqlError::feature_not_supported(
                    "ordering comparisons (<, >) of jsonb are not supported",
                ));
            }
            let (lx, rx) = match !ordering && compared_by_key(&[lt, rt]) {
                true => (jsonb_key(lx), jsonb_key(rx)),
                false => (lx, rx),
            };
            return Ok((Expr::Cmp(c, b(lx), b(rx)), SqlType::Bool));
        }
        match op {
            B::And | B::Or => {
                let want = Ctx {
                    expected: Some(SqlType::Bool),
                    ..ctx
                };
                let (lx, _) = self.bind(l, scope, want)?;
                let (rx, _) = self.bind(r, scope, want)?;
                Ok((
                    if matches!(op, B::And) {
                        Expr::And(b(lx), b(rx))
                    } else {
                        Expr::Or(b(lx), b(rx))
                    },
                    SqlType::Bool,
                ))
            }
            B::Arrow | B::LongArrow => {
                let want_text = Ctx {
                    expected: Some(SqlType::Text),
                    ..ctx
                };
                let (doc, doc_ty) = self.bind(l, scope, want_text)?;
                if !doc_ty.is_textual() {
                    return Err(SqlError::undefined_function(format!(
                        "operator does not exist: {} {op} text",
                        doc_ty.name()
                    )));
                }
                let (path, ty) = self.bind(
                    r,
                    scope,
                    Ctx {
                        expected: None,
                        ..ctx
                    },
                )?;
                if !matches!(
                    ty,
                    SqlType::Text | SqlType::Int2 | SqlType::Int4 | SqlType::Int8
                ) {
                    return Err(SqlError::undefined_function(format!(
                        "operator does not exist: json {op} {}",
                        ty.name()
                    )));
                }
                // `->` yields json (jsonb, in its normal form, from a
                // jsonb), `->>` text, as in PostgreSQL.
                Ok(match (op, doc_ty) {
                    (B::Arrow, SqlType::Jsonb) => (
                        Expr::Cast(
                            Box::new(Expr::Func(Func::JsonGet, vec![doc, path])),
                            SqlType::Jsonb,
                        ),
                        SqlType::Jsonb,
                    ),
                    (B::Arrow, _) => (Expr::Func(Func::JsonGet, vec![doc, path]), SqlType::Json),
                    _ => (
                        Expr::Func(Func::JsonGetText, vec![doc, path]),
                        SqlType::Text,
                    ),
                })
            }
            B::StringConcat => {
                let want = Ctx {
                    expected: Some(SqlType::Text),
                    ..ctx
                };
                let (lx, lt) = self.bind(l, scope, want)?;
                let (rx, rt) = self.bind(r, scope, want)?;
                if lt == SqlType::Jsonb || rt == SqlType::Jsonb {
                    // PostgreSQL merges the documents; joining the texts
                    // would make no document at all.
                    return Err(SqlError::feature_not_supported(
                        "jsonb || (merging documents) is not supported",
                    ));
                }
                Ok((Expr::Concat(b(lx), b(rx)), SqlType::Text))
            }
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                let aop = match op {
                    B::Plus => ArithOp::Add,
                    B::Minus => ArithOp::Sub,
                    B::Multiply => ArithOp::Mul,
                    B::Divide => ArithOp::Div,
                    _ => ArithOp::Mod,
                };
                let ((lx, lt), (rx, rt)) = self.pair(l, r, scope, ctx)?;
                if !lt.is_numeric() || !rt.is_numeric() {
                    return Err(SqlError::undefined_function(format!(
                        "operator does not exist: {} {op} {}",
                        lt.name(),
                        rt.name()
                    )));
                }
                let ty = [SqlType::Float8, SqlType::Int8, SqlType::Int4]
                    .into_iter()
                    .find(|wide| lt == *wide || rt == *wide)
                    .unwrap_or(SqlType::Int2);
                let arith = Expr::Arith(aop, b(lx), b(rx));
                // Integers are computed in 64 bits: a result past its
                // type's range is refused as PostgreSQL refuses it
                // ("integer out of range"), never sent as a wider number
                // under a narrower type.
                Ok(match ty {
                    SqlType::Int4 | SqlType::Int2 => (Expr::Cast(b(arith), ty), ty),
                    _ => (arith, ty),
                })
            }
            other => Err(SqlError::feature_not_supported(format!(
                "operator {other} is not supported"
            ))),
        }
    }
}

/// Whether the operands of `=`, `<>` or `IN (...)`, of these types,
/// compare by their equality keys: one is a `jsonb` and each a `jsonb` or
/// text (an untyped literal, which PostgreSQL reads as `jsonb`). Both
/// planners ask this.
pub fn compared_by_key(types: &[SqlType]) -> bool {
    types.contains(&SqlType::Jsonb)
        && types
            .iter()
            .all(|t| matches!(t, SqlType::Jsonb | SqlType::Text))
}

/// `x`'s `jsonb` equality key. A constant's is taken once, here, not for
/// every row (one that is not JSON is left to fail where it is evaluated,
/// as before).
pub(super) fn jsonb_key(x: Expr) -> Expr {
    if let Expr::Const(Value::Text(t)) = &x {
        if let Ok(key) = crate::jsonb::equality_key(t) {
            return Expr::Const(Value::Text(key));
        }
    }
    Expr::Func(Func::JsonbKey, vec![x])
}
