//! Binding: sqlparser expressions → typed [`Expr`]s over a row layout,
//! inferring the types of `$n` parameters from where they are used.

use sqlparser::ast::{
    self, BinaryOperator, DataType, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
};

use crate::error::{SqlError, SqlResult};
use crate::expr::{ArithOp, CmpOp, Expr, Func};
use crate::value::{SqlType, Value};

/// One column visible to an expression.
#[derive(Debug, Clone)]
pub struct ScopeColumn {
    pub qualifier: String,
    pub name: String,
    pub ty: SqlType,
    /// Only reachable qualified (the EXCLUDED row of ON CONFLICT).
    pub qualified_only: bool,
}

/// The columns an expression may reference, in row order.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    pub fn push(&mut self, qualifier: &str, name: &str, ty: SqlType, qualified_only: bool) {
        self.columns.push(ScopeColumn {
            qualifier: qualifier.to_string(),
            name: name.to_string(),
            ty,
            qualified_only,
        });
    }

    fn resolve(&self, qualifier: Option<&str>, name: &str) -> SqlResult<(usize, SqlType)> {
        let mut found = self.columns.iter().enumerate().filter(|(_, c)| {
            c.name == name
                && match qualifier {
                    Some(q) => c.qualifier == q,
                    None => !c.qualified_only,
                }
        });
        match (found.next(), found.next()) {
            (Some((i, c)), None) => Ok((i, c.ty)),
            (Some(_), Some(_)) => Err(SqlError::ambiguous_column(format!(
                "column reference \"{name}\" is ambiguous"
            ))),
            (None, _) => Err(SqlError::undefined_column(match qualifier {
                Some(q) => format!("column {q}.{name} does not exist"),
                None => format!("column \"{name}\" does not exist"),
            })),
        }
    }
}

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

/// Binding state of one statement: parameter types found so far, and the
/// aggregates of the query being bound.
#[derive(Debug, Default)]
pub struct Binder {
    pub params: Vec<Option<SqlType>>,
    pub aggs: Vec<AggCall>,
}

/// Where an expression is being bound.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// The type the surrounding context wants (types untyped literals and
    /// parameters).
    pub expected: Option<SqlType>,
    pub allow_agg: bool,
}

impl Ctx {
    pub const PLAIN: Ctx = Ctx {
        expected: None,
        allow_agg: false,
    };

    pub fn want(ty: SqlType) -> Ctx {
        Ctx {
            expected: Some(ty),
            allow_agg: false,
        }
    }
}

fn ident(i: &ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// The unqualified, normalised last part of an object name.
pub fn object_name(name: &ast::ObjectName) -> SqlResult<String> {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(i)) => Ok(ident(i)),
        _ => Err(SqlError::syntax(format!("unsupported name {name}"))),
    }
}

/// The qualifier (schema) of a table name, if given.
pub fn table_name(name: &ast::ObjectName) -> SqlResult<String> {
    if name.0.len() > 1 {
        let schema = match &name.0[name.0.len() - 2] {
            ast::ObjectNamePart::Identifier(i) => ident(i),
            _ => String::new(),
        };
        if schema != "public" {
            return Err(SqlError::undefined_table(format!(
                "relation \"{name}\" does not exist"
            )));
        }
    }
    object_name(name)
}

/// Maps a SQL type name to one of ours.
pub fn sql_type(dt: &DataType) -> SqlResult<SqlType> {
    Ok(match dt {
        DataType::Text
        | DataType::Varchar(_)
        | DataType::String(_)
        | DataType::JSON
        | DataType::JSONB => SqlType::Text,
        DataType::BigInt(_) | DataType::Int8(_) => SqlType::Int8,
        DataType::Int(_)
        | DataType::Integer(_)
        | DataType::Int4(_)
        | DataType::SmallInt(_)
        | DataType::Int2(_) => SqlType::Int4,
        DataType::Bool | DataType::Boolean => SqlType::Bool,
        DataType::Float8 | DataType::Double(_) | DataType::DoublePrecision | DataType::Real => {
            SqlType::Float8
        }
        DataType::Timestamp(_, _) => SqlType::Timestamptz,
        DataType::Custom(name, _) => match object_name(name)?.as_str() {
            "timestamptz" => SqlType::Timestamptz,
            "text" | "varchar" | "json" | "jsonb" | "name" => SqlType::Text,
            "int8" => SqlType::Int8,
            "int4" | "int2" => SqlType::Int4,
            "float8" => SqlType::Float8,
            "bool" => SqlType::Bool,
            other => {
                return Err(SqlError::undefined_object(format!(
                    "type \"{other}\" does not exist"
                )))
            }
        },
        other => {
            return Err(SqlError::feature_not_supported(format!(
                "type {other} is not supported"
            )))
        }
    })
}

fn is_untyped(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Value(v) => matches!(
            v.value,
            ast::Value::Placeholder(_) | ast::Value::SingleQuotedString(_) | ast::Value::Null
        ),
        ast::Expr::Nested(inner) => is_untyped(inner),
        _ => false,
    }
}

fn comparable(a: SqlType, b: SqlType) -> bool {
    a == b || (a.is_numeric() && b.is_numeric())
}

impl Binder {
    /// Parameter types, unknown ones as text (PostgreSQL does the same for
    /// a parameter that nothing constrains).
    pub fn param_types(&self) -> Vec<SqlType> {
        self.params
            .iter()
            .map(|t| t.unwrap_or(SqlType::Text))
            .collect()
    }

    fn param(&mut self, text: &str, ctx: Ctx) -> SqlResult<(Expr, SqlType)> {
        let n: usize = text
            .strip_prefix('$')
            .and_then(|s| s.parse().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| SqlError::syntax(format!("invalid parameter {text}")))?;
        let idx = n - 1;
        if self.params.len() <= idx {
            self.params.resize(idx + 1, None);
        }
        if self.params[idx].is_none() {
            self.params[idx] = ctx.expected;
        }
        let ty = self.params[idx].unwrap_or(SqlType::Text);
        Ok((Expr::Param(idx), ty))
    }

    fn literal(&mut self, v: &ast::Value, ctx: Ctx) -> SqlResult<(Expr, SqlType)> {
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

    /// Binds a pair of operands so that an untyped side takes the other's type.
    fn pair(
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
                    items.push(b);
                }
                Ok((
                    Expr::InList {
                        expr: boxed(x),
                        list: items,
                        negated: *negated,
                    },
                    SqlType::Bool,
                ))
            }
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
                let (b, _) = self.bind(
                    expr,
                    scope,
                    Ctx {
                        expected: Some(ty),
                        ..ctx
                    },
                )?;
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

    fn like(
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
        if xt != SqlType::Text {
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

    fn binary(
        &mut self,
        l: &ast::Expr,
        op: &BinaryOperator,
        r: &ast::Expr,
        scope: &Scope,
        ctx: Ctx,
    ) -> SqlResult<(Expr, SqlType)> {
        use BinaryOperator as B;
        let b = Box::new;
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
                let (doc, _) = self.bind(l, scope, want_text)?;
                let (path, ty) = self.bind(
                    r,
                    scope,
                    Ctx {
                        expected: None,
                        ..ctx
                    },
                )?;
                if !matches!(ty, SqlType::Text | SqlType::Int4 | SqlType::Int8) {
                    return Err(SqlError::undefined_function(format!(
                        "operator does not exist: json {op} {}",
                        ty.name()
                    )));
                }
                let f = if matches!(op, B::Arrow) {
                    Func::JsonGet
                } else {
                    Func::JsonGetText
                };
                Ok((Expr::Func(f, vec![doc, path]), SqlType::Text))
            }
            B::StringConcat => {
                let want = Ctx {
                    expected: Some(SqlType::Text),
                    ..ctx
                };
                let (lx, _) = self.bind(l, scope, want)?;
                let (rx, _) = self.bind(r, scope, want)?;
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
                let ty = if lt == SqlType::Float8 || rt == SqlType::Float8 {
                    SqlType::Float8
                } else if lt == SqlType::Int8 || rt == SqlType::Int8 {
                    SqlType::Int8
                } else {
                    SqlType::Int4
                };
                Ok((Expr::Arith(aop, b(lx), b(rx)), ty))
            }
            other => Err(SqlError::feature_not_supported(format!(
                "operator {other} is not supported"
            ))),
        }
    }

    fn function(
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

/// The name PostgreSQL gives an unnamed result column.
pub fn column_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(i) => ident(i),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident).unwrap_or_default(),
        ast::Expr::Function(f) => object_name(&f.name).unwrap_or_else(|_| "?column?".into()),
        ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) => {
            match column_name(expr).as_str() {
                "?column?" => "?column?".into(),
                n => n.to_string(),
            }
        }
        _ => "?column?".into(),
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::*;

    fn expr(sql: &str) -> ast::Expr {
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap()
    }

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.push("objects", "key", SqlType::Text, false);
        s.push("objects", "size", SqlType::Int8, false);
        s
    }

    #[test]
    fn parameters_take_their_type_from_context() {
        let mut b = Binder::default();
        b.bind(&expr("size > $2 AND key = $1"), &scope(), Ctx::PLAIN)
            .unwrap();
        assert_eq!(b.param_types(), vec![SqlType::Text, SqlType::Int8]);
        let mut b = Binder::default();
        b.bind(&expr("$1 = size"), &scope(), Ctx::PLAIN).unwrap();
        assert_eq!(b.param_types(), vec![SqlType::Int8]);
    }

    #[test]
    fn errors_have_postgres_codes() {
        let mut b = Binder::default();
        let err =
            |sql: &str, b: &mut Binder| b.bind(&expr(sql), &scope(), Ctx::PLAIN).unwrap_err().code;
        assert_eq!(err("nope = 1", &mut b), "42703");
        assert_eq!(err("size = 'abc'", &mut b), "22P02");
        assert_eq!(err("key = 1", &mut b), "42883");
        assert_eq!(err("count(*) > 1", &mut b), "42803");
        assert_eq!(err("frobnicate(key)", &mut b), "42883");
    }
}
