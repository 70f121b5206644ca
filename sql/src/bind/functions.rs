//! Function calls: aggregates (allowed only where the context says) and
//! scalar functions, with their arity and argument types.

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::names::object_name;
use super::{Binder, Ctx, Scope};
use crate::error::{SqlError, SqlResult};
use crate::expr::{AggCall, AggFunc, Expr, Func};
use crate::value::SqlType;

impl Binder {
    pub(super) fn function(
        &mut self,
        f: &ast::Function,
        scope: &Scope,
        ctx: Ctx,
    ) -> SqlResult<(Expr, SqlType)> {
        let name = object_name(&f.name)?;
        let (args, star) = match &f.args {
            FunctionArguments::None => (vec![], false),
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(SqlError::feature_not_supported(format!(
                        "{f} is not supported"
                    )));
                }
                let mut args = vec![];
                let mut star = false;
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e.clone()),
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
                        _ => {
                            return Err(SqlError::feature_not_supported(format!(
                                "{f} is not supported"
                            )))
                        }
                    }
                }
                (args, star)
            }
            FunctionArguments::Subquery(_) => {
                return Err(SqlError::feature_not_supported(
                    "subqueries are not supported",
                ))
            }
        };
        if f.filter.is_some() || f.over.is_some() {
            return Err(SqlError::feature_not_supported(format!(
                "{f} is not supported"
            )));
        }
        let agg = match name.as_str() {
            "count" if star => Some(AggFunc::CountStar),
            "count" => Some(AggFunc::Count),
            "sum" => Some(AggFunc::Sum),
            "min" => Some(AggFunc::Min),
            "max" => Some(AggFunc::Max),
            "avg" => Some(AggFunc::Avg),
            _ => None,
        };
        if let Some(func) = agg {
            if !ctx.allow_agg {
                return Err(SqlError::grouping_error(format!(
                    "aggregate function {name} is not allowed here"
                )));
            }
            let inner = Ctx::PLAIN;
            let (arg, arg_ty) = match (func, args.as_slice()) {
                (AggFunc::CountStar, []) => (None, SqlType::Int8),
                (_, [a]) => {
                    let (x, t) = self.bind(a, scope, inner)?;
                    (Some(x), t)
                }
                _ => {
                    return Err(SqlError::undefined_function(format!(
                        "function {name} takes one argument"
                    )))
                }
            };
            let ty = match func {
                AggFunc::CountStar | AggFunc::Count => SqlType::Int8,
                AggFunc::Sum if arg_ty.is_numeric() => {
                    if arg_ty == SqlType::Float8 {
                        SqlType::Float8
                    } else {
                        SqlType::Int8
                    }
                }
                AggFunc::Avg if arg_ty.is_numeric() => SqlType::Float8,
                AggFunc::Sum | AggFunc::Avg => {
                    return Err(SqlError::undefined_function(format!(
                        "function {name}({}) does not exist",
                        arg_ty.name()
                    )))
                }
                AggFunc::Min | AggFunc::Max => arg_ty,
            };
            self.aggs.push(AggCall { func, arg, ty });
            return Ok((Expr::Agg(self.aggs.len() - 1), ty));
        }
        let (func, ty, arity): (Func, SqlType, Option<usize>) = match name.as_str() {
            "now" | "current_timestamp" | "transaction_timestamp" | "statement_timestamp" => {
                (Func::Now, SqlType::Timestamptz, Some(0))
            }
            "lower" => (Func::Lower, SqlType::Text, Some(1)),
            "upper" => (Func::Upper, SqlType::Text, Some(1)),
            "length" | "char_length" => (Func::Length, SqlType::Int4, Some(1)),
            "coalesce" => (Func::Coalesce, SqlType::Text, None),
            "version" => (Func::Version, SqlType::Text, Some(0)),
            "current_database" => (Func::CurrentDatabase, SqlType::Text, Some(0)),
            "current_schema" => (Func::CurrentSchema, SqlType::Text, Some(0)),
            "current_user" | "session_user" => (Func::CurrentUser, SqlType::Text, Some(0)),
            "current_setting" => (Func::CurrentSetting, SqlType::Text, Some(1)),
            _ => {
                return Err(SqlError::undefined_function(format!(
                    "function {name} does not exist"
                )))
            }
        };
        if let Some(n) = arity {
            if args.len() != n {
                return Err(SqlError::undefined_function(format!(
                    "function {name} takes {n} argument(s), got {}",
                    args.len()
                )));
            }
        }
        let mut bound = vec![];
        let mut ty = ty;
        for (i, a) in args.iter().enumerate() {
            let want = match func {
                Func::Coalesce if i > 0 => Ctx {
                    expected: Some(ty),
                    ..ctx
                },
                Func::Coalesce => Ctx {
                    expected: ctx.expected,
                    ..ctx
                },
                _ => Ctx {
                    expected: Some(SqlType::Text),
                    ..ctx
                },
            };
            let (x, t) = self.bind(a, scope, want)?;
            if func == Func::Coalesce && i == 0 {
                ty = t;
            }
            bound.push(x);
        }
        Ok((Expr::Func(func, bound), ty))
    }
}
