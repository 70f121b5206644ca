//! PostgreSQL forms rewritten for DataFusion: datafusion-pg-catalog's
//! rewrite rules, but four, and its substitutions of known client queries.
//!
//! `FixArrayLiteral` is left out: it split `'{a,"b,c",NULL}'::int[]` at
//! every comma and made each piece a number, so a NULL element or a
//! quoted one failed to plan. [`super::array_literals`] reads the text
//! form as PostgreSQL does.
//!
//! The rule left out, `RemoveSubqueryFromProjection`, replaces every
//! correlated scalar subquery in a SELECT list by NULL and stamps LIMIT 1
//! on the others: `SELECT b.name, (SELECT count(*) FROM objects o WHERE
//! o.bucket = b.name) FROM buckets b` answered NULL for every bucket, and a
//! subquery of many rows answered one of them instead of failing. Here
//! such subqueries are planned for what they are (see
//! [`super::scalar_subquery`]).
//!
//! `RewriteRegCastToSubquery` is left out: it answered NULL for a name
//! that names nothing and missed `'pg_class'::regclass` and
//! `'integer'::regtype`; [`super::reg_lookup`] resolves such casts.
//!
//! `RewriteArrayAnyAllOperation` is left out: it made `x = ANY(arr)`
//! `array_contains(arr, x)`, which is false where PostgreSQL's is NULL (no
//! element equal, one of them NULL); [`super::pg_meanings`] keeps the
//! NULLs.
//!
//! The library's substitutions (psql's `\d` queries for row policies,
//! extended statistics and publications, which bucketdb has none of) are
//! kept: a statement the library changed beyond what its rules do is taken
//! as it made it.

use std::sync::Arc;

use datafusion_pg_catalog::sql::rules::{
    AliasDuplicatedProjectionRewrite, CurrentUserVariableToSessionUserFunctionCall,
    FixVersionColumnName, PrependUnqualifiedPgTableName, ResolveUnqualifiedIdentifier,
    RewritePgCatalogOperator, SqlStatementRewriteRule, StripCallableQualifier, StripCollate,
};
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use sqlparser::ast::Statement;

#[derive(Debug)]
pub struct Compat {
    library: PostgresCompatibilityParser,
    rules: Vec<Arc<dyn SqlStatementRewriteRule>>,
}

impl Compat {
    pub fn new() -> Compat {
        // The library's order, without RemoveSubqueryFromProjection,
        // FixArrayLiteral, RewriteRegCastToSubquery and
        // RewriteArrayAnyAllOperation.
        let rules: Vec<Arc<dyn SqlStatementRewriteRule>> = vec![
            Arc::new(AliasDuplicatedProjectionRewrite),
            Arc::new(ResolveUnqualifiedIdentifier),
            Arc::new(PrependUnqualifiedPgTableName),
            Arc::new(StripCallableQualifier),
            Arc::new(CurrentUserVariableToSessionUserFunctionCall),
            Arc::new(StripCollate),
            Arc::new(RewritePgCatalogOperator),
            Arc::new(FixVersionColumnName),
        ];
        Compat {
            library: PostgresCompatibilityParser::new(),
            rules,
        }
    }

    /// `stmt` rewritten by the rules.
    pub fn rewrite(&self, mut stmt: Statement) -> Statement {
        for rule in &self.rules {
            stmt = rule.rewrite(stmt);
        }
        stmt
    }

    /// `stmt`, parsed from `text`, rewritten: as the library substituted it
    /// if `text` is a client query it knows, else by the rules.
    pub fn rewrite_client_query(&self, stmt: &Statement, text: &str) -> Statement {
        if let Ok(mut parsed) = self.library.parse(text) {
            if parsed.len() == 1 {
                let library = parsed.remove(0);
                if library != self.library.rewrite(stmt.clone()) {
                    return library;
                }
            }
        }
        self.rewrite(stmt.clone())
    }
}
