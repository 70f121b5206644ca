//! What the analyzer rules that rewrite expressions share: a pass over
//! every expression of a plan and of its subqueries, bottom up, with the
//! schema of the node's inputs, so a rewrite can ask an operand's type.
//! Each top-level expression keeps its name, as DataFusion's own type
//! coercion keeps it: a rewritten operand must not rename an output column
//! (the plan's schema would no longer match the one it was checked with).

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan};

/// `plan` with `f` applied to each expression (and each of their
/// subexpressions), given the schema its operands are read from.
pub fn rewrite_exprs(
    plan: LogicalPlan,
    f: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|plan| {
        let mut schema = DFSchema::empty();
        for input in plan.inputs() {
            schema.merge(input.schema());
        }
        let names = NamePreserver::new(&plan);
        plan.map_expressions(|e| {
            let name = names.save(&e);
            e.transform_up(|e| f(e, &schema))
                .map(|t| t.update_data(|e| name.restore(e)))
        })
    })
    .map(|t| t.data)
}
