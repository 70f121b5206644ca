//! `sum` of bigints that raises 22003 when the total leaves bigint's range,
//! as the fast planner's does. DataFusion's `sum` adds wrapping: two rows
//! of 9223372036854775800 summed to -16, a wrong answer with no error.
//! (PostgreSQL's `sum(bigint)` is `numeric` and does not overflow at all;
//! bucketdb answers `bigint` on both paths, so an error is the honest
//! answer past its range.) An analyzer rule swaps the function of each
//! non-DISTINCT `sum` over a bigint in an aggregation for this one, which
//! is also named `sum`, so the column's name and every plan that refers
//! to it stay as they were. Window sums and DISTINCT sums keep
//! DataFusion's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, ExprSchemable, LogicalPlan, Signature,
    Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use crate::error::SqlError;

/// The analyzer rule; it runs after type coercion.
#[derive(Debug)]
pub struct CheckedSum {
    sum: Arc<AggregateUDF>,
}

impl CheckedSum {
    pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(CheckedSum {
            sum: Arc::new(AggregateUDF::new_from_impl(Sum {
                signature: Signature::exact(vec![DataType::Int64], Volatility::Immutable),
            })),
        })
    }

    /// `e` with the checked `sum` when it is DataFusion's over a bigint.
    fn checked(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::AggregateFunction(AggregateFunction { func, params }) = &e else {
            return Ok(Transformed::no(e));
        };
        if func.name() != "sum" || params.distinct || params.args.len() != 1 {
            return Ok(Transformed::no(e));
        }
        if !params.args[0]
            .get_type(schema)
            .is_ok_and(|t| t == DataType::Int64)
        {
            return Ok(Transformed::no(e));
        }
        Ok(Transformed::yes(Expr::AggregateFunction(
            AggregateFunction {
                func: self.sum.clone(),
                params: params.clone(),
            },
        )))
    }
}

impl AnalyzerRule for CheckedSum {
    fn name(&self) -> &str {
        "bucketdb_checked_sum"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let LogicalPlan::Aggregate(_) = &plan else {
                return Ok(Transformed::no(plan));
            };
            let mut schema = DFSchema::empty();
            for input in plan.inputs() {
                schema.merge(input.schema());
            }
            plan.map_expressions(|e| e.transform_up(|e| self.checked(e, &schema)))
        })
        .map(|t| t.data)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Sum {
    signature: Signature,
}

impl AggregateUDFImpl for Sum {
    fn name(&self) -> &str {
        "sum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Total::default()))
    }
}

/// The running total; `None` until a non-NULL value arrives, so the sum
/// of no values (or only NULLs) is NULL.
#[derive(Debug, Default)]
struct Total {
    sum: Option<i64>,
}

impl Total {
    fn add(&mut self, values: &ArrayRef) -> Result<()> {
        let values = values.as_primitive_opt::<Int64Type>().ok_or_else(|| {
            DataFusionError::Internal(format!("sum of {} as bigint", values.data_type()))
        })?;
        if values.null_count() == values.len() {
            return Ok(());
        }
        let mut sum = self.sum.unwrap_or(0);
        for v in values.iter().flatten() {
            sum = sum.checked_add(v).ok_or_else(|| {
                DataFusionError::External(Box::new(SqlError::numeric_value_out_of_range(
                    "bigint out of range",
                )))
            })?;
        }
        self.sum = Some(sum);
        Ok(())
    }
}

impl Accumulator for Total {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        values.iter().try_for_each(|v| self.add(v))
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        states.iter().try_for_each(|v| self.add(v))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(self.sum))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn array(v: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(v))
    }

    #[test]
    fn sums_skip_nulls_and_none_is_null() {
        let mut t = Total::default();
        t.update_batch(&[array(vec![None])]).unwrap();
        assert_eq!(t.evaluate().unwrap(), ScalarValue::Int64(None));
        t.update_batch(&[array(vec![Some(3), None, Some(-1)])])
            .unwrap();
        t.merge_batch(&[array(vec![Some(10)])]).unwrap();
        assert_eq!(t.evaluate().unwrap(), ScalarValue::Int64(Some(12)));
    }

    #[test]
    fn a_total_past_bigint_is_22003() {
        let mut t = Total::default();
        let near = 9_223_372_036_854_775_800;
        let e = t
            .update_batch(&[array(vec![Some(near), Some(near)])])
            .unwrap_err();
        let sql = super::super::errors::to_sql_error(e);
        assert_eq!(sql.state, crate::error::SqlState::NumericValueOutOfRange);
        // Partial totals that each fit overflow when merged, too.
        let mut t = Total::default();
        t.update_batch(&[array(vec![Some(near)])]).unwrap();
        assert!(t.merge_batch(&[array(vec![Some(near)])]).is_err());
    }
}
