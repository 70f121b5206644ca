//! psql's `\dp` asks, beside each table's ACL, for its column privileges
//! (`pg_attribute.attacl`) and row security policies (`pg_policy`).
//! bucketdb has neither, and the pg_catalog tables here lack the columns
//! those subqueries read (`polroles`, `polqual`, a typed `attacl`), so an
//! output column computed from them is replaced by what PostgreSQL shows
//! for none: the empty string `array_to_string` gives over no rows.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, SelectItem, SetExpr, Statement, Value, VisitMut, VisitorMut};

/// Rewrites the output columns of `stmt` that read column privileges or
/// policies.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut NoPolicies);
}

struct NoPolicies;

/// Whether `e` reads column privileges or policies.
fn reads_policies(e: &Expr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("pg_policy") || text.contains("attacl")
}

impl VisitorMut for NoPolicies {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = &mut *q.body {
            for item in &mut select.projection {
                if let SelectItem::ExprWithAlias { expr, .. } = item {
                    if reads_policies(expr) {
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
    fn only_policy_and_column_acl_columns_become_empty() {
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
            "SELECT c.relname AS \"Name\", array_to_string(c.relacl, ',') AS \"Access privileges\", '' AS \"Column privileges\", '' AS \"Policies\" FROM pg_class c"
        );
    }
}
