//! psql's `\dp` asks, beside each table's ACL, for its column privileges
//! (`pg_attribute.attacl`). bucketdb has none, and the library's
//! `pg_attribute` lacks a typed `attacl`, so an output column computed
//! from it is replaced by what PostgreSQL shows for none: the empty
//! string `array_to_string` gives over no rows. (Policies, the other
//! column `\dp` asks for, are read from the empty `pg_policy`: see
//! `known_empty`.)

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, SelectItem, SetExpr, Statement, Value, VisitMut, VisitorMut};

/// Rewrites the output columns of `stmt` that read column privileges.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut NoColumnPrivileges);
}

struct NoColumnPrivileges;

/// Whether `e` reads column privileges.
fn reads_column_privileges(e: &Expr) -> bool {
    e.to_string().to_ascii_lowercase().contains("attacl")
}

impl VisitorMut for NoColumnPrivileges {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = &mut *q.body {
            for item in &mut select.projection {
                if let SelectItem::ExprWithAlias { expr, .. } = item {
                    if reads_column_privileges(expr) {
                        *expr = Expr::value(Value::SingleQuotedString(String::new()));
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_column_acl_columns_become_empty() {
        let mut stmt = sqlparser::parser::Parser::parse_sql(
            &sqlparser::dialect::PostgreSqlDialect {},
            "SELECT c.relname AS \"Name\", array_to_string(c.relacl, ',') AS \"Access privileges\", \
             array_to_string(ARRAY(SELECT attname FROM pg_attribute WHERE attacl IS NOT NULL), ',') AS \"Column privileges\", \
             array_to_string(ARRAY(SELECT polname FROM pg_catalog.pg_policy pol), ',') AS \"Policies\" FROM pg_class c",
        )
        .unwrap()
        .remove(0);
        rewrite(&mut stmt);
        assert_eq!(
            stmt.to_string(),
            "SELECT c.relname AS \"Name\", array_to_string(c.relacl, ',') AS \"Access privileges\", '' AS \"Column privileges\", array_to_string(ARRAY(SELECT polname FROM pg_catalog.pg_policy pol), ',') AS \"Policies\" FROM pg_class c"
        );
    }
}
