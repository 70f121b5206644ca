//! `FROM r CROSS JOIN LATERAL unnest(r.x) [WITH ORDINALITY] AS t(c [, o])`
//! (and `JOIN LATERAL … ON true`, and the forms without LATERAL, `FROM r,
//! unnest(r.x) t`, since PostgreSQL makes a function in FROM lateral by
//! itself): a row of `r` per element of its own array. DataFusion has no lateral table
//! functions ("table function 'unnest' not found"), but unnests in a
//! select list row by row, so the pair becomes one derived table under
//! `r`'s name:
//!
//! `(SELECT r.*, unnest(r.x) AS c [, unnest(range(1, cardinality(r.x) +
//! 1)) AS o] FROM r) AS r`
//!
//! and the query's `t.c` and `t.o` are read as `r.c` and `r.o`. Two
//! unnests in one select list advance together, so `o` numbers the
//! elements from 1. The function's column is named as PostgreSQL names
//! it: the alias's column, else the alias, else `unnest`. A table that
//! already has a column of that name makes the derived table ambiguous,
//! which DataFusion refuses (an error, not a wrong answer).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, JoinConstraint, JoinOperator, Query, SetExpr,
    Statement, TableFactor, TableWithJoins, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Whether the (lower-case) query text may unnest in FROM.
pub fn mentioned(lower: &str) -> bool {
    lower.contains("unnest")
}

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut Lateral);
}

struct Lateral;

impl VisitorMut for Lateral {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(select) = q.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        let mut renames = Vec::new();
        // The comma form: an unnest (and what joins it) after a lone
        // relation.
        let mut i = 1;
        while i < select.from.len() {
            let pair = (&select.from[i - 1], &select.from[i]);
            if pair.0.joins.is_empty() {
                if let Some(merged) = merge(&pair.0.relation, &pair.1.relation) {
                    renames.push((merged.function_alias.clone(), merged.outer.clone()));
                    let joins = select.from.remove(i).joins;
                    select.from[i - 1] = TableWithJoins {
                        relation: merged.factor,
                        joins,
                    };
                    continue;
                }
            }
            i += 1;
        }
        // The join form: the first join of a relation.
        for twj in &mut select.from {
            let Some(join) = twj.joins.first() else {
                continue;
            };
            if !cross(&join.join_operator) {
                continue;
            }
            if let Some(merged) = merge(&twj.relation, &join.relation) {
                renames.push((merged.function_alias.clone(), merged.outer.clone()));
                twj.relation = merged.factor;
                twj.joins.remove(0);
            }
        }
        if !renames.is_empty() {
            let _ = q.visit(&mut Renames {
                renames,
                inner: Vec::new(),
                depth: 0,
            });
        }
        ControlFlow::Continue(())
    }
}

/// Whether a join pairs every row with every element: `CROSS JOIN` or an
/// inner join `ON true`.
fn cross(op: &JoinOperator) -> bool {
    match op {
        JoinOperator::CrossJoin(JoinConstraint::None) => true,
        JoinOperator::Join(JoinConstraint::On(Expr::Value(v)))
        | JoinOperator::Inner(JoinConstraint::On(Expr::Value(v))) => {
            matches!(v.value, Value::Boolean(true))
        }
        _ => false,
    }
}

/// A relation and its unnest made one derived table.
struct Merged {
    factor: TableFactor,
    /// The name the unnest's columns were qualified with.
    function_alias: Option<Ident>,
    /// The derived table's name (the relation's).
    outer: Ident,
}

/// `relation` and the unnest `function` after it as one derived table, if
/// `function` is one array's unnest and `relation` a named table or
/// subquery. A function in FROM sees the relations before it with or
/// without LATERAL, in PostgreSQL.
fn merge(relation: &TableFactor, function: &TableFactor) -> Option<Merged> {
    let outer = match relation {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            a.name.clone()
        }
        TableFactor::Table {
            name, alias: None, ..
        } => name.0.last()?.as_ident()?.clone(),
        _ => return None,
    };
    let (array, ordinality, alias) = match function {
        TableFactor::Function {
            name,
            args,
            with_ordinality,
            alias,
            ..
        } if is_unnest(name) => match args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => (e, *with_ordinality, alias),
            _ => return None,
        },
        TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset: false,
            with_ordinality,
            ..
        } => match array_exprs.as_slice() {
            [e] => (e, *with_ordinality, alias),
            _ => return None,
        },
        _ => return None,
    };
    let columns: Vec<&Ident> = alias
        .as_ref()
        .map(|a| a.columns.iter().map(|c| &c.name).collect())
        .unwrap_or_default();
    let value = columns
        .first()
        .copied()
        .or(alias.as_ref().map(|a| &a.name))
        .cloned()
        .unwrap_or_else(|| Ident::new("unnest"));
    let mut items = format!("{outer}.*, unnest({array}) AS {value}");
    if ordinality {
        let number = columns
            .get(1)
            .map(|c| (*c).clone())
            .unwrap_or_else(|| Ident::new("ordinality"));
        items.push_str(&format!(
            ", unnest(range(1, CAST(cardinality({array}) AS BIGINT) + 1)) AS {number}"
        ));
    } else if columns.len() > 1 {
        return None;
    }
    let sql = format!("SELECT * FROM (SELECT {items} FROM {relation}) AS {outer}");
    let mut parsed = Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?;
    let Some(Statement::Query(q)) = parsed.pop() else {
        return None;
    };
    let SetExpr::Select(mut s) = *q.body else {
        return None;
    };
    let factor = s.from.pop()?.relation;
    Some(Merged {
        factor,
        function_alias: alias.as_ref().map(|a| a.name.clone()),
        outer,
    })
}

fn is_unnest(name: &sqlparser::ast::ObjectName) -> bool {
    match name.0.as_slice() {
        [n] => n
            .as_ident()
            .is_some_and(|i| i.value.eq_ignore_ascii_case("unnest")),
        [schema, n] => {
            schema
                .as_ident()
                .is_some_and(|i| i.value.eq_ignore_ascii_case("pg_catalog"))
                && n.as_ident()
                    .is_some_and(|i| i.value.eq_ignore_ascii_case("unnest"))
        }
        _ => false,
    }
}

/// Reads `t.c` as `r.c` for each merged function alias `t` of table `r`,
/// except inside a subquery whose own FROM names something `t`.
struct Renames {
    renames: Vec<(Option<Ident>, Ident)>,
    /// The names declared by the FROM of each subquery being visited.
    inner: Vec<Vec<Ident>>,
    /// How deep the visit is in queries (the rewritten one is 1).
    depth: usize,
}

impl VisitorMut for Renames {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        if self.depth > 1 {
            self.inner.push(declared(q));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
        if self.depth > 1 {
            self.inner.pop();
        }
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(parts) = e {
            if let [qualifier, _] = parts.as_mut_slice() {
                for (from, to) in &self.renames {
                    let Some(from) = from else { continue };
                    let shadowed = self.inner.iter().flatten().any(|n| same(n, from));
                    if !shadowed && same(from, qualifier) {
                        *qualifier = to.clone();
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The names a query's FROM gives its relations (aliases, else table
/// names).
fn declared(q: &Query) -> Vec<Ident> {
    let SetExpr::Select(s) = q.body.as_ref() else {
        return vec![];
    };
    let name = |f: &TableFactor| match f {
        TableFactor::Table { alias: Some(a), .. }
        | TableFactor::Derived { alias: Some(a), .. }
        | TableFactor::Function { alias: Some(a), .. }
        | TableFactor::UNNEST { alias: Some(a), .. } => Some(a.name.clone()),
        TableFactor::Table { name, .. } => name.0.last()?.as_ident().cloned(),
        _ => None,
    };
    s.from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
        .filter_map(name)
        .collect()
}

/// Whether two identifiers name the same thing (unquoted ones fold case).
fn same(a: &Ident, b: &Ident) -> bool {
    match (a.quote_style, b.quote_style) {
        (None, None) => a.value.eq_ignore_ascii_case(&b.value),
        _ => a.value == b.value,
    }
}

#[cfg(test)]
mod tests {
    use super::super::sql_ast::rewritten;
    use super::*;

    #[test]
    fn lateral_unnests_become_one_derived_table() {
        assert_eq!(
            rewritten(
                "SELECT c.conname, k.attnum, k.ord FROM pg_constraint c \
                 CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                 WHERE k.attnum > 0 ORDER BY k.ord",
                rewrite
            ),
            "SELECT c.conname, c.attnum, c.ord FROM (SELECT c.*, unnest(c.conkey) AS attnum, \
             unnest(range(1, CAST(cardinality(c.conkey) AS BIGINT) + 1)) AS ord \
             FROM pg_constraint c) AS c WHERE c.attnum > 0 ORDER BY c.ord"
        );
        assert_eq!(
            rewritten(
                "SELECT b.name, x FROM buckets b, unnest(b.tags_list) x",
                rewrite
            ),
            "SELECT b.name, x FROM (SELECT b.*, unnest(b.tags_list) AS x FROM buckets b) AS b"
        );
        // A subquery's own `k` is its own.
        assert_eq!(
            rewritten(
                "SELECT k.n FROM c, unnest(c.a) k(n) WHERE EXISTS (SELECT 1 FROM t k WHERE k.n = 1)",
                rewrite
            ),
            "SELECT c.n FROM (SELECT c.*, unnest(c.a) AS n FROM c) AS c \
             WHERE EXISTS (SELECT 1 FROM t k WHERE k.n = 1)"
        );
        assert_eq!(
            rewritten(
                "SELECT t.u FROM pg_index JOIN LATERAL unnest(pg_index.indkey) AS t(u) ON true",
                rewrite
            ),
            "SELECT pg_index.u FROM (SELECT pg_index.*, unnest(pg_index.indkey) AS u \
             FROM pg_index) AS pg_index"
        );
    }

    #[test]
    fn other_joins_are_left_alone() {
        for sql in [
            "SELECT * FROM a JOIN LATERAL unnest(a.x) AS t ON t = 1",
            "SELECT * FROM a LEFT JOIN LATERAL unnest(a.x) AS t ON true",
            "SELECT * FROM a, UNNEST(a.x, a.y) AS t",
            "SELECT * FROM UNNEST(ARRAY[1, 2]) AS t",
        ] {
            assert_eq!(rewritten(sql, rewrite), sql);
        }
    }
}
