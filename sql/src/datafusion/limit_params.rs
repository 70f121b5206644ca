//! `LIMIT $1` and `OFFSET $1` take a bigint, as PostgreSQL describes them.
//! DataFusion infers a parameter's type from what it is compared with, and
//! a count is compared with nothing: left untyped, the parameter would be
//! described as text and a driver binding an integer would refuse it.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::tree_node::Transformed;
use datafusion::common::Result;
use datafusion::logical_expr::expr::Placeholder;
use datafusion::logical_expr::{Expr, Limit, LogicalPlan};

/// `plan` with each untyped parameter that is a LIMIT or OFFSET count
/// typed as a bigint, in subqueries too.
pub fn type_counts(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::Limit(Limit { skip, fetch, input }) => {
            let (skip, typed_skip) = typed(skip);
            let (fetch, typed_fetch) = typed(fetch);
            let limit = LogicalPlan::Limit(Limit { skip, fetch, input });
            Ok(match typed_skip || typed_fetch {
                true => Transformed::yes(limit),
                false => Transformed::no(limit),
            })
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

fn typed(count: Option<Box<Expr>>) -> (Option<Box<Expr>>, bool) {
    match count.as_deref() {
        Some(Expr::Placeholder(Placeholder { id, field: None })) => {
            let field = Arc::new(Field::new("", DataType::Int64, true));
            let typed = Expr::Placeholder(Placeholder::new_with_field(id.clone(), Some(field)));
            (Some(Box::new(typed)), true)
        }
        _ => (count, false),
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn counts_are_bigints() {
        let state = SessionContext::new().state();
        let sql = "SELECT * FROM (SELECT 1 AS a LIMIT $1) s WHERE s.a = $3 LIMIT $2 OFFSET $1";
        let plan = state.create_logical_plan(sql).await.expect("plans");
        let fields = type_counts(plan)
            .expect("typed")
            .get_parameter_fields()
            .expect("fields");
        let ty = |id: &str| fields[id].as_ref().map(|f| f.data_type().clone());
        assert_eq!(ty("$1"), Some(DataType::Int64));
        assert_eq!(ty("$2"), Some(DataType::Int64));
        assert_eq!(
            ty("$3"),
            Some(DataType::Int64),
            "compared with a bigint literal"
        );
    }
}
