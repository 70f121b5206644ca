//! Scalar subqueries of psql's `\d` that DataFusion cannot plan but whose
//! value is known: NULL, because they join a relation on rows that do not
//! exist. bucketdb has no triggers (foreign keys are kept by the state
//! machine), no sequences and no publications, so `pg_trigger`,
//! `pg_sequence` and `pg_publication_rel` are empty
//! (SQLAlchemy's column reflection asks the latter for identity
//! options); and no column has a collation of its
//! own (`pg_attribute.attcollation` is 0, which no collation's OID is), so
//! a lookup of `pg_collation` by it finds nothing. A subquery that
//! inner-joins such a relation and computes no aggregate has no rows:
//! it is rewritten as NULL, which is its value, not a guess. The same
//! holds for the catalogs bucketdb has nothing to list in
//! (`empty_catalogs`: policies, rules, ...), and a query over one has no
//! rows whose output it would compute: subqueries in its named output
//! columns (pg_dump's over `pg_policy`, correlated so that DataFusion
//! cannot plan them) are NULL too. `ARRAY(subquery)` over such a relation
//! is the empty array (psql's `\dp` lists policies so).

use std::ops::ControlFlow;

use super::scalar_subquery::has_aggregate;
use super::{empty_catalogs, sql_ast};

use sqlparser::ast::{
    Expr, Function, FunctionArguments, GroupByExpr, JoinOperator, ObjectNamePart, Query,
    SelectItem, SetExpr, Statement, TableFactor, TableWithJoins, Value, Visit, VisitMut, Visitor,
    VisitorMut,
};

/// The relations known to be empty, beside `empty_catalogs`'.
const EMPTY: [&str; 3] = ["pg_trigger", "pg_sequence", "pg_publication_rel"];

/// Whether the (lower-case) query text names a relation known to be empty.
pub fn mentioned(lower: &str) -> bool {
    EMPTY
        .into_iter()
        .chain(empty_catalogs::names())
        .chain([NO_COLLATION])
        .any(|t| lower.contains(t))
}

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

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        // Aggregates of its subqueries do not give the query a row.
        let own_aggregate = |e: &Expr| {
            let mut finder = OwnAggregate {
                is_aggregate: self.is_aggregate,
                depth: 0,
            };
            e.visit(&mut finder).is_break()
        };
        if !over_nothing(q, &own_aggregate) {
            return ControlFlow::Continue(());
        }
        if let SetExpr::Select(s) = q.body.as_mut() {
            for item in &mut s.projection {
                if let SelectItem::ExprWithAlias { expr, .. } = item {
                    if has_subquery(expr) {
                        *expr = Expr::Value(Value::Null.into());
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        // `ARRAY(subquery)` over no rows is the empty array.
        if let Expr::Function(Function {
            name,
            args: FunctionArguments::Subquery(q),
            ..
        }) = e
        {
            if sql_ast::named(name, "array")
                && over_nothing(q, &|e| has_aggregate(e, self.is_aggregate))
            {
                *e = sql_ast::call("make_array", vec![]);
                return ControlFlow::Continue(());
            }
        }
        if let Expr::Subquery(q) = e {
            if over_nothing(q, &|e| has_aggregate(e, self.is_aggregate)) {
                *e = Expr::Value(Value::Null.into());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Whether `q` is a plain SELECT (no aggregate, as `aggregates` tells of
/// an output expression, no grouping, set operation or CTE) whose FROM
/// inner-joins the empty relation.
fn over_nothing(q: &Query, aggregates: &dyn Fn(&Expr) -> bool) -> bool {
    let SetExpr::Select(s) = &*q.body else {
        return false;
    };
    let plain = q.with.is_none()
        && s.having.is_none()
        && matches!(&s.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty())
        && s.projection.iter().all(|item| match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                !aggregates(e)
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
    EMPTY
        .into_iter()
        .chain(empty_catalogs::names())
        .any(|t| named(f, t))
}

/// Breaks at an aggregate or window call outside any nested query.
struct OwnAggregate<'a> {
    is_aggregate: &'a dyn Fn(&str) -> bool,
    depth: usize,
}

impl Visitor for OwnAggregate<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Function(f)
                if self.depth == 0
                    && (f.over.is_some()
                        || (self.is_aggregate)(&f.name.to_string().to_ascii_lowercase())) =>
            {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// Whether a query is nested anywhere in `e`.
fn has_subquery(e: &Expr) -> bool {
    struct Finds;
    impl Visitor for Finds {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
    }
    e.visit(&mut Finds).is_break()
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

    fn rewritten(sql: &str) -> String {
        super::super::sql_ast::rewritten(sql, |s| rewrite(s, &|n| n == "count"))
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

    #[test]
    fn a_query_over_an_empty_catalog_computes_no_subquery() {
        assert_eq!(
            rewritten(
                "SELECT pol.oid, array_to_string(ARRAY(SELECT rolname FROM pg_roles                  WHERE oid = ANY(pol.polroles)), ', ') AS polroles                  FROM s JOIN pg_catalog.pg_policy pol ON s.x = pol.polrelid"
            ),
            "SELECT pol.oid, NULL AS polroles FROM s JOIN pg_catalog.pg_policy pol ON s.x = pol.polrelid"
        );
        // An aggregate of the subquery gives the outer query no row.
        assert_eq!(
            rewritten(
                "SELECT oid, (CASE WHEN pr.prattrs IS NOT NULL THEN (SELECT count(attname)                  FROM pg_attribute WHERE attrelid = pr.prrelid) END) prattrs                  FROM pg_catalog.pg_publication_rel pr"
            ),
            "SELECT oid, NULL AS prattrs FROM pg_catalog.pg_publication_rel pr"
        );
        // Over a relation that has rows, the subquery stays.
        let kept = "SELECT (SELECT 1 FROM r) AS one FROM pg_class";
        assert_eq!(rewritten(kept), kept);
    }
}
