//! Scalar subqueries of psql's `\d` that DataFusion cannot plan but whose
//! value is known: NULL, because they join a relation on rows that do not
//! exist. bucketdb has no triggers (foreign keys are kept by the state
//! machine) and no sequences, so `pg_trigger` and `pg_sequence` are empty
//! (SQLAlchemy's column reflection asks the latter for identity
//! options); and no column has a collation of its
//! own (`pg_attribute.attcollation` is 0, which no collation's OID is), so
//! a lookup of `pg_collation` by it finds nothing. A subquery that
//! inner-joins such a relation and computes no aggregate has no rows:
//! it is rewritten as NULL, which is its value, not a guess.

use std::ops::ControlFlow;

use super::scalar_subquery::has_aggregate;

use sqlparser::ast::{
    Expr, GroupByExpr, JoinOperator, ObjectNamePart, Query, SelectItem, SetExpr, Statement,
    TableFactor, TableWithJoins, Value, VisitMut, VisitorMut,
};

/// The relations known to be empty.
const EMPTY: [&str; 2] = ["pg_trigger", "pg_sequence"];

/// The column no row of `pg_collation` matches.
const NO_COLLATION: &str = "attcollation";

/// Rewrites the subqueries known to be NULL; `is_aggregate` says which
/// function names are aggregates (which have a row over no rows).
pub fn rewrite(stmt: &mut Statement, is_aggregate: &dyn Fn(&str) -> bool) {
    let _ = stmt.visit(&mut EmptySubqueries { is_aggregate });
}

struct EmptySubqueries<'a> {
    is_aggregate: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for EmptySubqueries<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Subquery(q) = e {
            if over_nothing(q, self.is_aggregate) {
                *e = Expr::Value(Value::Null.into());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Whether `q` is a plain SELECT (no aggregate, grouping, set operation or
/// CTE) whose FROM inner-joins the empty relation.
fn over_nothing(q: &Query, is_aggregate: &dyn Fn(&str) -> bool) -> bool {
    let SetExpr::Select(s) = &*q.body else {
        return false;
    };
    let plain = q.with.is_none()
        && s.having.is_none()
        && matches!(&s.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty())
        && s.projection.iter().all(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                !has_aggregate(e, is_aggregate)
            }
            _ => false,
        });
    plain && (s.from.iter().any(joins_empty) || by_no_collation(s))
}

/// Whether `s` reads `pg_collation` and requires `<x>.oid =
/// <y>.attcollation`.
fn by_no_collation(s: &sqlparser::ast::Select) -> bool {
    let reads_collations = s.from.iter().any(|t| {
        std::iter::once(&t.relation)
            .chain(t.joins.iter().map(|j| &j.relation))
            .any(|f| named(f, "pg_collation"))
    });
    let mut required = vec![];
    if let Some(w) = &s.selection {
        conjuncts(w, &mut required);
    }
    reads_collations
        && required.iter().any(|e| match e {
            Expr::BinaryOp {
                left,
                op: sqlparser::ast::BinaryOperator::Eq,
                right,
            } => {
                let ends = |e: &Expr, name: &str| {
                    matches!(e, Expr::CompoundIdentifier(p) if p.last().is_some_and(|i| i.value.eq_ignore_ascii_case(name)))
                };
                (ends(left, "oid") && ends(right, NO_COLLATION))
                    || (ends(right, "oid") && ends(left, NO_COLLATION))
            }
            _ => false,
        })
}

/// The terms of `e` joined by AND.
fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

/// Whether the empty relation is in `t` other than on the optional side
/// of an outer join.
fn joins_empty(t: &TableWithJoins) -> bool {
    is_empty(&t.relation)
        || t.joins.iter().any(|j| {
            matches!(
                j.join_operator,
                JoinOperator::Inner(_) | JoinOperator::Join(_) | JoinOperator::CrossJoin(_)
            ) && is_empty(&j.relation)
        })
}

fn is_empty(f: &TableFactor) -> bool {
    EMPTY.iter().any(|t| named(f, t))
}

fn named(f: &TableFactor, table: &str) -> bool {
    match f {
        TableFactor::Table {
            name, args: None, ..
        } => matches!(
            name.0.last(),
            Some(ObjectNamePart::Identifier(i)) if i.value.eq_ignore_ascii_case(table)
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> String {
        let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt, &|n| n == "count");
        stmt.to_string()
    }

    #[test]
    fn subqueries_over_the_empty_table_are_null() {
        assert_eq!(
            rewritten(
                "SELECT (SELECT u.tgrelid::regclass FROM pg_catalog.pg_trigger AS u, \
                 f(t.x) WITH ORDINALITY AS a(relid, depth) WHERE u.tgrelid = a.relid LIMIT 1) FROM t"
            ),
            "SELECT NULL FROM t"
        );
        assert_eq!(
            rewritten(
                "SELECT (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t \
                 WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation \
                 FROM pg_attribute a"
            ),
            "SELECT NULL AS attcollation FROM pg_attribute a"
        );
        // An aggregate has a row over no rows; an outer join keeps rows.
        for kept in [
            "SELECT (SELECT count(*) FROM pg_trigger) FROM t",
            "SELECT (SELECT c.x FROM c LEFT JOIN pg_trigger g ON g.tgrelid = c.x) FROM t",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }
}
