//! `sum` of bigints that raises 22003 when the total leaves bigint's range,
//! as the fast planner's does. DataFusion's `sum` adds wrapping: two rows
//! of 9223372036854775800 summed to -16, a wrong answer with no error.
//! (PostgreSQL's `sum(bigint)` is `numeric` and does not overflow at all;
//! bucketdb answers `bigint` on both paths, so an error is the honest
//! answer past its range.) An analyzer rule swaps the function of each
//! `sum` over a bigint, in an aggregation (DISTINCT too) or a window, for
//! this one, which is also named `sum`, so the column's name and every
//! plan that refers to it stay as they were. Totals are kept in 128 bits
//! and checked when read, so only a total past bigint fails, not a step
//! on the way (a sliding window frame adds the rows entering it before it
//! takes away those leaving).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, ExprSchemable, LogicalPlan, Signature,
    Volatility, WindowFunctionDefinition,
};
use datafusion::optimizer::AnalyzerRule;

use super::analyzer_pass::rewrite_exprs;
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

    /// Whether `func` over `args` is DataFusion's `sum` of a bigint.
    fn wraps(&self, func: &AggregateUDF, args: &[Expr], schema: &DFSchema) -> bool {
        func.name() == "sum"
            && args.len() == 1
            && args[0].get_type(schema).is_ok_and(|t| t == DataType::Int64)
    }

    /// `e` with the checked `sum` when it is DataFusion's over a bigint.
    fn checked(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        match &e {
            Expr::AggregateFunction(AggregateFunction { func, params })
                if self.wraps(func, &params.args, schema) =>
            {
                Ok(Transformed::yes(Expr::AggregateFunction(
                    AggregateFunction {
                        func: self.sum.clone(),
                        params: params.clone(),
                    },
                )))
            }
            Expr::WindowFunction(w) => match &w.fun {
                WindowFunctionDefinition::AggregateUDF(func)
                    if self.wraps(func, &w.params.args, schema) =>
                {
                    let mut w = w.as_ref().clone();
                    w.fun = WindowFunctionDefinition::AggregateUDF(self.sum.clone());
                    Ok(Transformed::yes(Expr::WindowFunction(Box::new(w))))
                }
                _ => Ok(Transformed::no(e)),
            },
            _ => Ok(Transformed::no(e)),
        }
    }
}

impl AnalyzerRule for CheckedSum {
    fn name(&self) -> &str {
        "bucketdb_checked_sum"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_exprs(plan, |e, schema| self.checked(e, schema))
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

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(match args.is_distinct {
            true => Box::new(Distinct::default()),
            false => Box::new(Total::default()),
        })
    }

    /// A DISTINCT sum's partial state is the set of values seen.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let (name, ty) = match args.is_distinct {
            true => (
                "distinct",
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            ),
            false => ("value", DataType::Int64),
        };
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, name),
            ty,
            true,
        ))])
    }
}

fn out_of_range() -> DataFusionError {
    DataFusionError::External(Box::new(SqlError::numeric_value_out_of_range(
        "bigint out of range",
    )))
}

fn bigints(values: &ArrayRef) -> Result<&datafusion::arrow::array::Int64Array> {
    values.as_primitive_opt::<Int64Type>().ok_or_else(|| {
        DataFusionError::Internal(format!("sum of {} as bigint", values.data_type()))
    })
}

/// The running total and how many values make it, so the sum of no
/// values (or only NULLs, or a window frame they have all left) is NULL.
#[derive(Debug, Default)]
struct Total {
    sum: i128,
    count: u64,
}

impl Total {
    fn add(&mut self, values: &ArrayRef) -> Result<()> {
        for v in bigints(values)?.iter().flatten() {
            self.sum += i128::from(v);
            self.count += 1;
        }
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

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for values in values {
            for v in bigints(values)?.iter().flatten() {
                self.sum -= i128::from(v);
                self.count = self.count.saturating_sub(1);
            }
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match self.count {
            0 => Ok(ScalarValue::Int64(None)),
            _ => Ok(ScalarValue::Int64(Some(
                i64::try_from(self.sum).map_err(|_| out_of_range())?,
            ))),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// The distinct values seen; summed when the group is done.
#[derive(Debug, Default)]
struct Distinct {
    seen: HashSet<i64>,
}

impl Accumulator for Distinct {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for values in values {
            self.seen.extend(bigints(values)?.iter().flatten());
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for state in states {
            let lists = state.as_list_opt::<i32>().ok_or_else(|| {
                DataFusionError::Internal(format!("sum state {}", state.data_type()))
            })?;
            for list in lists.iter().flatten() {
                self.seen.extend(bigints(&list)?.iter().flatten());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self
            .seen
            .iter()
            .map(|v| ScalarValue::Int64(Some(*v)))
            .collect();
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &values,
            &DataType::Int64,
        ))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut total = Total::default();
        for v in &self.seen {
            total.sum += i128::from(*v);
            total.count += 1;
        }
        total.evaluate()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.seen.capacity() * std::mem::size_of::<i64>()
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
        t.update_batch(&[array(vec![Some(near), Some(near)])])
            .unwrap();
        let e = t.evaluate().unwrap_err();
        let sql = super::super::errors::to_sql_error(e);
        assert_eq!(sql.state, crate::error::SqlState::NumericValueOutOfRange);
        // Partial totals that each fit overflow when merged, too.
        let mut t = Total::default();
        t.update_batch(&[array(vec![Some(near)])]).unwrap();
        t.merge_batch(&[array(vec![Some(near)])]).unwrap();
        assert!(t.evaluate().is_err());
        // A step past the range that the total comes back from is no error.
        t.update_batch(&[array(vec![Some(-near)])]).unwrap();
        assert_eq!(t.evaluate().unwrap(), ScalarValue::Int64(Some(near)));
        let mut d = Distinct::default();
        d.update_batch(&[array(vec![Some(near), Some(near), Some(near)])])
            .unwrap();
        assert_eq!(d.evaluate().unwrap(), ScalarValue::Int64(Some(near)));
        d.update_batch(&[array(vec![Some(1), Some(near - 1)])])
            .unwrap();
        assert!(d.evaluate().is_err());
    }

    #[test]
    fn a_window_frame_takes_away_the_rows_leaving_it() {
        let mut t = Total::default();
        t.update_batch(&[array(vec![Some(5), Some(7)])]).unwrap();
        t.retract_batch(&[array(vec![Some(5)])]).unwrap();
        assert_eq!(t.evaluate().unwrap(), ScalarValue::Int64(Some(7)));
        t.retract_batch(&[array(vec![Some(7), None])]).unwrap();
        assert_eq!(t.evaluate().unwrap(), ScalarValue::Int64(None));
    }

    #[test]
    fn a_distinct_state_merges_as_sets() {
        let mut a = Distinct::default();
        a.update_batch(&[array(vec![Some(2), Some(3)])]).unwrap();
        let state = a.state().unwrap().remove(0).to_array().unwrap();
        let mut b = Distinct::default();
        b.update_batch(&[array(vec![Some(3)])]).unwrap();
        b.merge_batch(&[state]).unwrap();
        assert_eq!(b.evaluate().unwrap(), ScalarValue::Int64(Some(5)));
    }
}
