//! The expression binder: one case per kind of expression, with the
//! operands of a comparison typed from each other.

use sqlparser::ast::{self, UnaryOperator};

use super::names::{ident, sql_type};
use super::operators::{compared_by_key, jsonb_key};
use super::{Binder, Ctx, Scope};
use crate::error::{SqlError, SqlResult};
use crate::expr::{CmpOp, Expr, Func};
use crate::value::{Element, SqlType, Value};

pub(super) fn is_untyped(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Value(v) => matches!(
            v.value,
            ast::Value::Placeholder(_) | ast::Value::SingleQuotedString(_) | ast::Value::Null
        ),
        ast::Expr::Nested(inner) => is_untyped(inner),
        _ => false,
    }
}

/// Whether `a` and `b` can be compared: equal types, two numbers, or text
/// with `json` (compared as text, as `jsonb` would compare these values'
/// text forms only when equal; bucketdb keeps json as written).
pub(super) fn comparable(a: SqlType, b: SqlType) -> bool {
    a == b || (a.is_numeric() && b.is_numeric()) || (a.is_textual() && b.is_textual())
}

impl Binder {
    /// `left = ANY(right)` (`negated`: `left <> ALL(right)`): `right` is
    /// an array of `left`'s type, which an untyped parameter or literal
    /// takes, as PostgreSQL resolves `key = ANY($1)` to `text[]`.
    fn in_array(
        &mut self,
        left: &ast::Expr,
        right: &ast::Expr,
        negated: bool,
        scope: &Scope,
        ctx: Ctx,
    ) -> SqlResult<(Expr, SqlType)> {
        if matches!(right, ast::Expr::Subquery(_)) {
            return Err(SqlError::feature_not_supported(
                "ANY/ALL (subquery) is not supported here",
            ));
        }
        let (x, ty) = self.bind(
            left,
            scope,
            Ctx {
                expected: None,
                ..ctx
            },
        )?;
        let element = Element::of(ty).ok_or_else(|| {
            SqlError::feature_not_supported(format!("arrays of {} are not supported", ty.name()))
        })?;
        let (array, aty) = self.bind(
            right,
            scope,
            Ctx {
                expected: Some(SqlType::Array(element)),
                ..ctx
            },
        )?;
        match aty {
            SqlType::Array(e) if comparable(ty, e.scalar()) => Ok((
                Expr::InArray {
                    expr: Box::new(x),
                    array: Box::new(array),
                    negated,
                },
                SqlType::Bool,
            )),
            other => Err(SqlError::undefined_function(format!(
                "operator does not exist: {} = ANY ({})",
                ty.name(),
                other.name()
            ))),
        }
    }

    /// Binds a pair of operands so that an untyped side takes the other's type.
    pub(super) fn pair(
        &mut self,
        l: &ast::Expr,
        r: &ast::Expr,
        scope: &Scope,
        ctx: Ctx,
    ) -> SqlResult<((Expr, SqlType), (Expr, SqlType))> {
        let sub = Ctx {
            expected: None,
            ..ctx
        };
        if is_untyped(l) && !is_untyped(r) {
            let rb = self.bind(r, scope, sub)?;
            let lb = self.bind(
                l,
                scope,
                Ctx {
                    expected: Some(rb.1),
                    ..ctx
                },
            )?;
            Ok((lb, rb))
        } else {
            let lb = self.bind(l, scope, sub)?;
            let rb = self.bind(
                r,
                scope,
                Ctx {
                    expected: Some(lb.1),
                    ..ctx
                },
            )?;
            Ok((lb, rb))
        }
    }

    pub fn bind(&mut self, e: &ast::Expr, scope: &Scope, ctx: Ctx) -> SqlResult<(Expr, SqlType)> {
        use ast::Expr as E;
        let boxed = |e: Expr| Box::new(e);
        match e {
            E::Identifier(i) => {
                let name = ident(i);
                match scope.resolve(None, &name) {
                    Ok((idx, ty)) => Ok((Expr::Column(idx), ty)),
                    Err(err) => match name.as_str() {
                        "current_user" | "session_user" | "user" => {
                            Ok((Expr::Func(Func::CurrentUser, vec![]), SqlType::Text))
                        }
                        "current_timestamp" => {
                            Ok((Expr::Func(Func::Now, vec![]), SqlType::Timestamptz))
                        }
                        "current_schema" => {
                            Ok((Expr::Func(Func::CurrentSchema, vec![]), SqlType::Text))
                        }
                        _ => Err(err),
                    },
                }
            }
            E::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident).collect();
                let (q, n) = match names.as_slice() {
                    [q, n] => (q, n),
                    [schema, q, n] if schema == "public" => (q, n),
                    _ => {
                        return Err(SqlError::undefined_column(format!(
                            "column {e} does not exist"
                        )))
                    }
                };
                let (idx, ty) = scope.resolve(Some(q), n)?;
                Ok((Expr::Column(idx), ty))
            }
            E::Value(v) => self.literal(&v.value, ctx),
            E::Nested(inner) => self.bind(inner, scope, ctx),
            E::UnaryOp { op, expr } => match op {
                UnaryOperator::Not => {
                    let (x, _) = self.bind(
                        expr,
                        scope,
                        Ctx {
                            expected: Some(SqlType::Bool),
                            ..ctx
                        },
                    )?;
                    Ok((Expr::Not(boxed(x)), SqlType::Bool))
                }
                UnaryOperator::Minus => {
                    let (x, ty) = self.bind(expr, scope, ctx)?;
                    match x {
                        Expr::Const(Value::Int(i)) => Ok((Expr::Const(Value::Int(-i)), ty)),
                        Expr::Const(Value::Float(f)) => Ok((Expr::Const(Value::Float(-f)), ty)),
                        x => Ok((Expr::Neg(boxed(x)), ty)),
                    }
                }
                UnaryOperator::Plus => self.bind(expr, scope, ctx),
                other => Err(SqlError::feature_not_supported(format!(
                    "operator {other} is not supported"
                ))),
            },
            E::BinaryOp { left, op, right } => self.binary(left, op, right, scope, ctx),
            E::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.like(expr, pattern, *negated, false, scope, ctx),
            E::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.like(expr, pattern, *negated, true, scope, ctx),
            E::InList {
                expr,
                list,
                negated,
            } => {
                let sub = Ctx {
                    expected: None,
                    ..ctx
                };
                let (x, ty) = if is_untyped(expr) && !list.is_empty() {
                    let (_, lty) = self.bind(&list[0], scope, sub)?;
                    self.bind(
                        expr,
                        scope,
                        Ctx {
                            expected: Some(lty),
                            ..ctx
                        },
                    )?
                } else {
                    self.bind(expr, scope, sub)?
                };
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let (b, ity) = self.bind(
                        item,
                        scope,
                        Ctx {
                            expected: Some(ty),
                            ..ctx
                        },
                    )?;
                    if !comparable(ty, ity) {
                        return Err(SqlError::undefined_function(format!(
                            "operator does not exist: {} = {}",
                            ty.name(),
                            ity.name()
                        )));
                    }
                    items.push((b, ity));
                }
                let types: Vec<SqlType> = std::iter::once(ty)
                    .chain(items.iter().map(|i| i.1))
                    .collect();
                let (x, items): (Expr, Vec<Expr>) = match compared_by_key(&types) {
                    true => (
                        jsonb_key(x),
                        items.into_iter().map(|i| jsonb_key(i.0)).collect(),
                    ),
                    false => (x, items.into_iter().map(|i| i.0).collect()),
                };
                Ok((
                    Expr::InList {
                        expr: boxed(x),
                        list: items,
                        negated: *negated,
                    },
                    SqlType::Bool,
                ))
            }
            E::AnyOp {
                left,
                compare_op: ast::BinaryOperator::Eq,
                right,
                ..
            } => self.in_array(left, right, false, scope, ctx),
            E::AllOp {
                left,
                compare_op: ast::BinaryOperator::NotEq,
                right,
            } => self.in_array(left, right, true, scope, ctx),
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let ((x, _), (lo, _)) = self.pair(expr, low, scope, ctx)?;
                let ((x2, _), (hi, _)) = self.pair(expr, high, scope, ctx)?;
                let both = Expr::And(
                    boxed(Expr::Cmp(CmpOp::GtEq, boxed(x), boxed(lo))),
                    boxed(Expr::Cmp(CmpOp::LtEq, boxed(x2), boxed(hi))),
                );
                Ok((
                    if *negated {
                        Expr::Not(boxed(both))
                    } else {
                        both
                    },
                    SqlType::Bool,
                ))
            }
            E::IsNull(x) | E::IsNotNull(x) => {
                let (b, _) = self.bind(
                    x,
                    scope,
                    Ctx {
                        expected: None,
                        ..ctx
                    },
                )?;
                Ok((
                    Expr::IsNull(boxed(b), matches!(e, E::IsNotNull(_))),
                    SqlType::Bool,
                ))
            }
            E::Cast {
                expr, data_type, ..
            } => {
                let ty = sql_type(data_type)?;
                let (b, from) = self.bind(
                    expr,
                    scope,
                    Ctx {
                        expected: Some(ty),
                        ..ctx
                    },
                )?;
                let b = match from == SqlType::Timestamp && ty.is_textual() {
                    true => Expr::Func(Func::WallClockText, vec![b]),
                    false => b,
                };
                Ok((Expr::Cast(boxed(b), ty), ty))
            }
            E::TypedString(ts) => {
                let ty = sql_type(&ts.data_type)?;
                let text = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                Ok((Expr::Const(Value::Text(text).coerce(ty)?), ty))
            }
            E::Function(f) => self.function(f, scope, ctx),
            other => Err(SqlError::feature_not_supported(format!(
                "expression not supported: {other}"
            ))),
        }
    }
}
