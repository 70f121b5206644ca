//! Intervals compare as PostgreSQL compares them: by their length, a month
//! counted as 30 days and a day as 24 hours (`interval_cmp_value`), so
//! `interval '25 hours' > interval '1 day'` and `interval '1 day' =
//! interval '24 hours'`. Arrow compares an interval's months, then its
//! days, then its nanoseconds, and DataFusion casts a difference of
//! timestamps to an interval of nanoseconds alone, so `now() -
//! last_modified > interval '1 day'` was false for an object a thousand
//! days old: a wrong answer with no error. An analyzer rule, after type
//! coercion, compares each side's length in microseconds instead.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNanoType, IntervalUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use super::analyzer_pass::rewrite_exprs;
use super::one_operand::map_operand;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The analyzer rule; it must run after DataFusion's type coercion.
#[derive(Debug)]
pub struct IntervalOrder {
    length: Arc<ScalarUDF>,
}

impl IntervalOrder {
    pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(IntervalOrder {
            length: Arc::new(ScalarUDF::new_from_impl(Length {
                signature: Signature::any(1, Volatility::Immutable),
            })),
        })
    }

    fn compared(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
            return Ok(Transformed::no(e));
        };
        let comparison = matches!(
            op,
            Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom
        );
        let interval = |x: &Expr| matches!(x.get_type(schema), Ok(DataType::Interval(_)));
        if !comparison || !interval(left) || !interval(right) {
            return Ok(Transformed::no(e));
        }
        let length = |x: &Expr| {
            Box::new(Expr::ScalarFunction(ScalarFunction::new_udf(
                self.length.clone(),
                vec![x.clone()],
            )))
        };
        Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
            left: length(left),
            op: *op,
            right: length(right),
        })))
    }
}

impl AnalyzerRule for IntervalOrder {
    fn name(&self) -> &str {
        "bucketdb_interval_order"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_exprs(plan, |e, schema| self.compared(e, schema))
    }
}

/// An interval's length in microseconds, as PostgreSQL orders intervals
/// (saturating: ±292,000 years).
fn length_micros(months: i32, days: i32, nanoseconds: i64) -> i64 {
    let days = i64::from(months) * 30 + i64::from(days);
    days.saturating_mul(MICROS_PER_DAY)
        .saturating_add(nanoseconds / 1000)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Length {
    signature: Signature,
}

impl ScalarUDFImpl for Length {
    fn name(&self) -> &str {
        "bucketdb_interval_length"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_operand(self.name(), &args, |values| {
            let values = cast(values, &DataType::Interval(IntervalUnit::MonthDayNano))?;
            let values = values.as_primitive::<IntervalMonthDayNanoType>();
            let lengths: Int64Array = (0..values.len())
                .map(|i| {
                    (!values.is_null(i)).then(|| {
                        let v = values.value(i);
                        length_micros(v.months, v.days, v.nanoseconds)
                    })
                })
                .collect();
            Ok(Arc::new(lengths))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_a_month_as_30_days_and_a_day_as_24_hours() {
        let hour = 3_600_000_000_000i64;
        assert!(length_micros(0, 0, 25 * hour) > length_micros(0, 1, 0));
        assert_eq!(length_micros(0, 1, 0), length_micros(0, 0, 24 * hour));
        assert_eq!(length_micros(1, 0, 0), length_micros(0, 30, 0));
        assert!(length_micros(0, -1, 0) < length_micros(0, 0, -hour));
        assert_eq!(length_micros(i32::MAX, i32::MAX, i64::MAX), i64::MAX);
    }
}
