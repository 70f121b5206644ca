//! SQL syntax trees the rewrites of this module build: function calls,
//! NULL and type names.

use sqlparser::ast::{
    ArrayElemTypeDef, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    TimezoneInfo,
};

use crate::value::SqlType;

/// The call `name(args …)`, with `clauses` (ORDER BY) after the arguments.
pub fn function(name: &str, args: Vec<Expr>, clauses: Vec<FunctionArgumentClause>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses,
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// The call `name(args …)`.
pub fn call(name: &str, args: Vec<Expr>) -> Expr {
    function(name, args, vec![])
}

/// `CAST(e AS ty)`.
pub fn cast(e: Expr, ty: DataType) -> Expr {
    Expr::Cast {
        kind: sqlparser::ast::CastKind::Cast,
        expr: Box::new(e),
        data_type: ty,
        array: false,
        format: None,
    }
}

/// Runs `visitor` over `stmt`: the rewrites that can refuse a statement
/// stop at their first error, which this returns.
pub fn visit_until_error(
    stmt: &mut sqlparser::ast::Statement,
    visitor: &mut impl sqlparser::ast::VisitorMut<Break = crate::error::SqlError>,
) -> crate::error::SqlResult<()> {
    use sqlparser::ast::VisitMut;
    match stmt.visit(visitor) {
        std::ops::ControlFlow::Break(e) => Err(e),
        std::ops::ControlFlow::Continue(()) => Ok(()),
    }
}

/// `sql` parsed as one expression, for rewrites that build theirs as text.
pub fn parsed_expr(sql: &str) -> Option<Expr> {
    sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(sql)
        .ok()?
        .parse_expr()
        .ok()
}

/// `sql`'s one statement, for the rewrites' tests.
#[cfg(test)]
pub fn statement(sql: &str) -> sqlparser::ast::Statement {
    sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql)
        .unwrap()
        .remove(0)
}

/// `sql` as `rewrite` leaves it, printed, for the rewrites' tests.
#[cfg(test)]
pub fn rewritten(sql: &str, rewrite: impl FnOnce(&mut sqlparser::ast::Statement)) -> String {
    let mut stmt = statement(sql);
    rewrite(&mut stmt);
    stmt.to_string()
}

pub fn null() -> Expr {
    Expr::Value(sqlparser::ast::Value::Null.into())
}

/// The SQL type naming `ty`, for casts the rewrites add.
pub fn data_type(ty: SqlType) -> DataType {
    match ty {
        SqlType::Bool => DataType::Boolean,
        SqlType::Int2 => DataType::SmallInt(None),
        SqlType::Int4 => DataType::Integer(None),
        SqlType::Int8 => DataType::BigInt(None),
        SqlType::Float8 => DataType::DoublePrecision,
        SqlType::Text => DataType::Text,
        SqlType::Json => DataType::JSON,
        SqlType::Jsonb => DataType::JSONB,
        SqlType::Timestamptz => DataType::Timestamp(None, TimezoneInfo::WithTimeZone),
        SqlType::Timestamp => DataType::Timestamp(None, TimezoneInfo::WithoutTimeZone),
        SqlType::Interval => DataType::Interval {
            fields: None,
            precision: None,
        },
        SqlType::Array(e) => DataType::Array(ArrayElemTypeDef::SquareBracket(
            Box::new(data_type(e.scalar())),
            None,
        )),
        SqlType::Int2Vector | SqlType::OidVector => {
            DataType::Custom(ObjectName::from(vec![Ident::new(ty.name())]), vec![])
        }
    }
}

/// Whether `name`'s last part is `wanted` (any case): `pg_catalog.f` is
/// `f`, as DataFusion resolves functions by bare name.
pub fn named(name: &ObjectName, wanted: &str) -> bool {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .is_some_and(|i| i.value.eq_ignore_ascii_case(wanted))
}

/// The unnamed expression arguments of a call, in order.
pub fn positional(args: &[FunctionArg]) -> Vec<Expr> {
    args.iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}
