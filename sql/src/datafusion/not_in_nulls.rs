//! `x NOT IN (subquery)` answers as PostgreSQL's does when NULLs are about.
//! DataFusion plans it as a null-aware anti join, which only its hash join
//! carries out, and only for one equi-key and no other condition: the
//! uncorrelated `column NOT IN (SELECT c …)`. A constant or an expression
//! on the left (`'zz' NOT IN (SELECT etag …)`: no equi-key) went to a
//! nested loop join that ignores null-awareness, and a correlated subquery
//! kept its extra condition beside the key, which the hash join's
//! null-awareness does not see; both answered rows PostgreSQL does not
//! (its `NOT IN` is NULL, so false, when the subquery yields a NULL, or
//! when `x` is NULL and the subquery yields anything), a wrong count with
//! no error. Its `push_down_filter` also moved a condition on the
//! subquery's side into the subquery, dropping the NULL rows it needed.
//!
//! This rule, in `push_down_filter`'s place, rewrites such a join first as
//! the plain anti join it means: keep an outer row when no subquery row
//! (meeting the correlation) has `x = c OR c IS NULL OR x IS NULL`, and
//! then hands every plan to `push_down_filter`.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{not_impl_err, Result};
use datafusion::logical_expr::utils::{conjunction, split_conjunction_owned};
use datafusion::logical_expr::{BinaryExpr, Expr, Join, LogicalPlan, Operator};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::push_down_filter::PushDownFilter;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

#[derive(Debug, Default)]
pub struct NotInNulls {
    inner: PushDownFilter,
}

impl NotInNulls {
    /// The rule to put in `push_down_filter`'s place.
    pub fn rule() -> Arc<dyn OptimizerRule + Send + Sync> {
        Arc::new(NotInNulls::default())
    }
}

/// `join` as a plain anti join, if it is a null-aware one that the hash
/// join cannot carry out.
fn plain_anti_join(join: &Join) -> Result<Option<Join>> {
    if !join.null_aware || (join.on.len() == 1 && join.filter.is_none()) {
        return Ok(None);
    }
    // The NOT IN's own equality compares with the subquery's column, the
    // first of its side (the decorrelation appends the correlated columns
    // after it); it is an equi-key or one of the conditions. The other
    // keys (correlations) stay keys.
    let Some(column) = join.right.schema().columns().into_iter().next() else {
        return not_impl_err!("NOT IN (subquery) of this form is not supported");
    };
    let column = Expr::Column(column);
    let mut on = join.on.clone();
    let mut conditions = join
        .filter
        .clone()
        .map_or_else(Vec::new, split_conjunction_owned);
    let (x, c) = if let Some(i) = on.iter().position(|(_, r)| *r == column) {
        on.remove(i)
    } else if let Some(i) = conditions.iter().position(|e| compares_with(e, &column)) {
        match conditions.remove(i) {
            Expr::BinaryExpr(BinaryExpr { left, right, .. }) if *right == column => (*left, *right),
            Expr::BinaryExpr(BinaryExpr { left, right, .. }) => (*right, *left),
            _ => return not_impl_err!("NOT IN (subquery) of this form is not supported"),
        }
    } else {
        return not_impl_err!("NOT IN (subquery) of this form is not supported");
    };
    let matched_or_unknown = x.clone().eq(c.clone()).or(c.is_null()).or(x.is_null());
    conditions.push(matched_or_unknown);
    Ok(Some(Join {
        on,
        filter: conjunction(conditions),
        null_aware: false,
        ..join.clone()
    }))
}

/// Whether `e` is `… = column` or `column = …`.
fn compares_with(e: &Expr, column: &Expr) -> bool {
    matches!(e, Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right })
        if left.as_ref() == column || right.as_ref() == column)
}

impl OptimizerRule for NotInNulls {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        self.inner.apply_order()
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let plan = match plan {
            LogicalPlan::Join(join) => match plain_anti_join(&join)? {
                Some(plain) => return Ok(Transformed::yes(LogicalPlan::Join(plain))),
                None => LogicalPlan::Join(join),
            },
            // A filter right above such a join would push its conditions
            // into the join before this rule reaches it.
            LogicalPlan::Filter(mut filter) => {
                if let LogicalPlan::Join(join) = filter.input.as_ref() {
                    if let Some(plain) = plain_anti_join(join)? {
                        filter.input = Arc::new(LogicalPlan::Join(plain));
                    }
                }
                LogicalPlan::Filter(filter)
            }
            other => other,
        };
        self.inner.rewrite(plan, config)
    }
}
