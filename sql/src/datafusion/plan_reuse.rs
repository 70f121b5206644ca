//! A prepared read keeps its optimized plan. Optimizing is the larger part
//! of what DataFusion spends on a short read (a point lookup joined to its
//! bucket spent 37% of its CPU there), and it depends on nothing a bound
//! parameter changes: so a prepared statement is optimized once, with its
//! placeholders in place, and each execution binds the values into that
//! plan and makes only the physical plan.
//!
//! Not every plan can be kept. Optimizing folds a function of constants
//! into its value, so a plan calling anything not immutable (`now()`,
//! `current_user`, `random()`) is optimized at each execution, as are
//! EXPLAINs (which show the optimizer's work) and plans with a parameter
//! of unknown type. Filters on parameters that bucketdb's scans could use
//! for their access path (`key = 'obj-' || $1`) are pushed down inexact
//! until bound: see `pushdown::bound_later`.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility};

/// `plan` optimized with its parameters unbound, when that plan gives
/// every execution the same answer as optimizing it with the values bound.
pub fn optimized_once(
    state: &SessionState,
    plan: &LogicalPlan,
    params: &[Option<datafusion::arrow::datatypes::DataType>],
) -> Option<LogicalPlan> {
    let explains = matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_));
    if explains || params.iter().any(Option::is_none) || !immutable(plan) {
        return None;
    }
    state.optimize(plan).ok()
}

/// Whether every function `plan` calls, in subqueries too, is immutable.
fn immutable(plan: &LogicalPlan) -> bool {
    let mut immutable = true;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                if let Expr::ScalarFunction(f) = e {
                    immutable &= f.func.signature().volatility == Volatility::Immutable;
                }
                Ok(match immutable {
                    true => TreeNodeRecursion::Continue,
                    false => TreeNodeRecursion::Stop,
                })
            })
        })
    });
    immutable
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn plan(sql: &str) -> (SessionState, LogicalPlan) {
        let state = SessionContext::new().state();
        let plan = state.create_logical_plan(sql).await.expect("plans");
        (state, plan)
    }

    #[tokio::test]
    async fn only_plans_of_immutable_functions_are_kept() {
        let int = [Some(DataType::Int64)];
        let (state, p) = plan("SELECT abs($1::bigint) + 1").await;
        assert!(optimized_once(&state, &p, &int).is_some());
        let (state, p) = plan("SELECT now(), $1::bigint").await;
        assert!(optimized_once(&state, &p, &int).is_none());
        let (state, p) = plan("SELECT 1 WHERE 2 IN (SELECT random() * $1::bigint)").await;
        assert!(optimized_once(&state, &p, &int).is_none());
        let (state, p) = plan("EXPLAIN SELECT $1::bigint").await;
        assert!(optimized_once(&state, &p, &int).is_none());
        let (state, p) = plan("SELECT $1").await;
        assert!(optimized_once(&state, &p, &[None]).is_none());
    }
}
