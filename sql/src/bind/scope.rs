//! The columns an expression may name, and resolving a (qualified) name
//! to one of them.

use crate::error::{SqlError, SqlResult};
use crate::value::SqlType;

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

    pub(super) fn resolve(
        &self,
        qualifier: Option<&str>,
        name: &str,
    ) -> SqlResult<(usize, SqlType)> {
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
