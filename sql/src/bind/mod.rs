//! Binding: sqlparser expressions become typed [`Expr`]s over a row
//! layout ([`Scope`]), and the types of `$n` parameters are inferred from
//! where they are used. Split by construct: names ([`names`]), scopes
//! ([`scope`]), literals and parameters ([`literals`]), operators
//! ([`operators`]), function calls and aggregates ([`functions`]).

mod expressions;
mod functions;
mod literals;
mod names;
mod operators;
mod scope;

pub use names::{
    column_name, ident, object_name, sql_type as declared_type, table_name, typname, TYPE_SPELLINGS,
};
pub use operators::compared_by_key;
pub use scope::Scope;

use crate::error::{SqlError, SqlResult};
use crate::expr::{AggCall, Expr};
use crate::value::SqlType;

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

/// The most parameters a statement may have: the wire protocol counts
/// them in 16 bits. Checked before any table sized by a parameter's
/// number is grown, so `$4000000000` cannot ask for gigabytes.
pub const MAX_PARAMS: usize = 65_535;

/// Refuses a parameter number past [`MAX_PARAMS`] (54000, as PostgreSQL).
pub fn check_param_count(n: usize) -> SqlResult<()> {
    if n > MAX_PARAMS {
        return Err(SqlError::program_limit_exceeded(format!(
            "number of parameters must be between 0 and {MAX_PARAMS}"
        )));
    }
    Ok(())
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

    pub(super) fn param(&mut self, text: &str, ctx: Ctx) -> SqlResult<(Expr, SqlType)> {
        let n: usize = text
            .strip_prefix('$')
            .and_then(|s| s.parse().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| SqlError::syntax(format!("invalid parameter {text}")))?;
        check_param_count(n)?;
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
}

#[cfg(test)]
mod tests {
    use sqlparser::ast;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::*;
    use crate::error::SqlState;

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
    fn errors_have_postgres_states() {
        let mut b = Binder::default();
        let err =
            |sql: &str, b: &mut Binder| b.bind(&expr(sql), &scope(), Ctx::PLAIN).unwrap_err().state;
        assert_eq!(err("nope = 1", &mut b), SqlState::UndefinedColumn);
        assert_eq!(
            err("size = 'abc'", &mut b),
            SqlState::InvalidTextRepresentation
        );
        assert_eq!(err("key = 1", &mut b), SqlState::UndefinedFunction);
        assert_eq!(err("count(*) > 1", &mut b), SqlState::GroupingError);
        assert_eq!(err("frobnicate(key)", &mut b), SqlState::UndefinedFunction);
    }
}
