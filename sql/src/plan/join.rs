//! Joins of two built-in tables by key, planned by bucketdb's own planner:
//! one table's access path finds its rows (the driving table), and for
//! each of them the other table's rows are looked up by the key values
//! that row gives (`objects o JOIN buckets b ON b.name = o.bucket WHERE
//! o.bucket = $1 AND o.key = $2` is two point gets). DataFusion answered
//! such a read with a hash join planned per execution, an order of
//! magnitude slower than the point get it wraps.
//!
//! Only inner joins (`JOIN … ON`, `INNER JOIN … ON`, `FROM a, b`) whose
//! driving table is found by its key (a point get or a prefix) and whose
//! other table is found by its key from each driving row are planned here;
//! any other join goes to DataFusion as before. ON is an inner join's
//! condition like WHERE's, so the two are applied together to each joined
//! row.

use sqlparser::ast::{self, JoinConstraint, JoinOperator, TableWithJoins};

use crate::bind::{Binder, Ctx, Scope};
use crate::catalog::{Table, TableId};
use crate::error::{SqlError, SqlResult};
use crate::expr::Expr;
use crate::scan::Access;
use crate::value::{SqlType, Value};

/// The table looked up for each row of a SELECT's driving table.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupJoin {
    pub table: TableId,
    /// Whether the looked-up table is the first in FROM, so its columns
    /// come first in each joined row (as the query's scope has them).
    pub looked_up_first: bool,
    /// The SELECT's condition over the looked-up table's columns, then the
    /// driving table's: each driving row's values replace the latter, and
    /// the lookup's access path is derived from what is left.
    pub condition: Expr,
}

/// FROM's two relations, before they are resolved.
pub(super) struct TwoRelations<'q> {
    pub first: &'q ast::TableFactor,
    pub second: &'q ast::TableFactor,
    /// ON of `JOIN … ON` (none for `FROM a, b`).
    pub on: Option<&'q ast::Expr>,
}

/// The two relations of an inner join, if FROM is one: two relations
/// joined by `[INNER] JOIN … ON`, or listed with a comma. `None` when FROM
/// names at most one relation; refused (to DataFusion) for other joins.
pub(super) fn two_relations(from: &[TableWithJoins]) -> SqlResult<Option<TwoRelations<'_>>> {
    let refuse = || {
        Err(SqlError::feature_not_supported(
            "this join is planned by DataFusion",
        ))
    };
    match from {
        [] => Ok(None),
        [one] if one.joins.is_empty() => Ok(None),
        [one] if one.joins.len() == 1 => match &one.joins[0].join_operator {
            JoinOperator::Join(JoinConstraint::On(on))
            | JoinOperator::Inner(JoinConstraint::On(on)) => Ok(Some(TwoRelations {
                first: &one.relation,
                second: &one.joins[0].relation,
                on: Some(on),
            })),
            _ => refuse(),
        },
        [a, b] if a.joins.is_empty() && b.joins.is_empty() => Ok(Some(TwoRelations {
            first: &a.relation,
            second: &b.relation,
            on: None,
        })),
        _ => refuse(),
    }
}

/// Two built-in tables in FROM, with the names they go by.
pub(super) struct TwoTables<'c, 'q> {
    pub first: (&'c Table, String),
    pub second: (&'c Table, String),
    pub on: Option<&'q ast::Expr>,
}

/// The plan of a join of two tables: the driving table, its access path,
/// the lookup, and the condition (ON and WHERE) over the joined row.
pub(super) struct JoinPlan {
    pub driving: TableId,
    pub access: Access,
    pub join: LookupJoin,
    pub filter: Option<Expr>,
}

impl TwoTables<'_, '_> {
    /// The scope of a joined row: the first table's columns, then the
    /// second's.
    pub fn scope(&self) -> SqlResult<Scope> {
        let ((t1, q1), (t2, q2)) = (&self.first, &self.second);
        if q1 == q2 {
            return Err(SqlError::feature_not_supported(format!(
                "table name \"{q1}\" specified more than once"
            )));
        }
        let mut scope = super::table_scope(t1, q1);
        scope.columns.extend(super::table_scope(t2, q2).columns);
        Ok(scope)
    }

    /// Binds ON with WHERE (`filter`, already bound over [`Self::scope`])
    /// and chooses the driving table: one found by its key whose rows give
    /// the other's key. Refused (to DataFusion) when neither order does.
    pub fn plan(&self, filter: Option<Expr>, b: &mut Binder, scope: &Scope) -> SqlResult<JoinPlan> {
        let on = self
            .on
            .map(|e| b.bind(e, scope, Ctx::want(SqlType::Bool)).map(|x| x.0))
            .transpose()?;
        let filter = match (on, filter) {
            (Some(a), Some(w)) => Some(Expr::And(Box::new(a), Box::new(w))),
            (a, w) => a.or(w),
        };
        let refuse = || {
            SqlError::feature_not_supported(
                "a join that is not found by key is planned by DataFusion",
            )
        };
        let condition = filter.clone().ok_or_else(refuse)?;
        let (t1, t2) = (self.first.0, self.second.0);
        let (n1, n2) = (t1.columns.len(), t2.columns.len());
        // The condition over the second table's columns, then the first's.
        let swapped = condition.clone().rewrite(&|e| {
            Ok(match e {
                Expr::Column(c) if *c < n1 => Some(Expr::Column(n2 + c)),
                Expr::Column(c) => Some(Expr::Column(c - n1)),
                _ => None,
            })
        })?;
        // (driving, its condition, looked up, the lookup's condition).
        let orders = [
            (t1, &condition, t2, swapped.clone(), false),
            (t2, &swapped, t1, condition.clone(), true),
        ];
        let mut best: Option<(usize, JoinPlan)> = None;
        for (driving, own, looked_up, lookup, looked_up_first) in orders {
            let access = Access::derive(driving, Some(own));
            if access.first.is_none() || !looks_up_by_key(looked_up, &lookup)? {
                continue;
            }
            // A point get drives best; between equals, FROM's order.
            let rank = usize::from(!access.is_point(driving));
            if best.as_ref().is_some_and(|(r, _)| *r <= rank) {
                continue;
            }
            best = Some((
                rank,
                JoinPlan {
                    driving: driving.id,
                    access,
                    join: LookupJoin {
                        table: looked_up.id,
                        looked_up_first,
                        condition: lookup,
                    },
                    filter: filter.clone(),
                },
            ));
        }
        best.map(|(_, p)| p).ok_or_else(refuse)
    }
}

/// Whether `condition` (over `table`'s columns, then the driving table's)
/// finds `table`'s rows by key once a driving row's values are in it.
fn looks_up_by_key(table: &Table, condition: &Expr) -> SqlResult<bool> {
    let n = table.columns.len();
    // Any value stands for the driving row's: only the shape matters.
    let shape = condition.clone().rewrite(&|e| {
        Ok(match e {
            Expr::Column(c) if *c >= n => Some(Expr::Const(Value::Null)),
            _ => None,
        })
    })?;
    Ok(Access::derive(table, Some(&shape)).first.is_some())
}
