//! Timestamp literals read as PostgreSQL reads them. DataFusion casts a
//! string to a timestamp with Arrow's parser, which refuses
//! `'2024-01-01 10:00'` (no seconds) and applies a zone written in a
//! literal cast to `timestamp without time zone`, where PostgreSQL ignores
//! it. An analyzer rule, after type coercion (which casts the string beside
//! a timestamp column), reads each such literal with the parser the fast
//! planner and the wire use ([`crate::value::parse_timestamp`],
//! [`crate::value::parse_wall_clock`]) and puts the timestamp in its
//! place; text that is no timestamp is refused with 22007 at planning.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

use super::analyzer_pass::rewrite_exprs;
use crate::value::{parse_timestamp, parse_wall_clock};

/// The analyzer rule; it must run after DataFusion's type coercion.
#[derive(Debug)]
pub struct TimestampLiterals;

impl TimestampLiterals {
    pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(TimestampLiterals)
    }
}

impl AnalyzerRule for TimestampLiterals {
    fn name(&self) -> &str {
        "bucketdb_timestamp_literals"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_exprs(plan, |e, _| read(e))
    }
}

/// `e` with a cast of a string literal to a timestamp replaced by the
/// timestamp, cast on to the cast's own unit where that is not
/// microseconds.
fn read(e: Expr) -> Result<Transformed<Expr>> {
    let Expr::Cast(Cast { expr, field }) = &e else {
        return Ok(Transformed::no(e));
    };
    let DataType::Timestamp(unit, zone) = field.data_type() else {
        return Ok(Transformed::no(e));
    };
    let Expr::Literal(
        ScalarValue::Utf8(Some(text))
        | ScalarValue::Utf8View(Some(text))
        | ScalarValue::LargeUtf8(Some(text)),
        _,
    ) = expr.as_ref()
    else {
        return Ok(Transformed::no(e));
    };
    let micros = match zone {
        Some(_) => parse_timestamp(text),
        None => parse_wall_clock(text),
    }
    .map_err(|err| DataFusionError::External(Box::new(err)))?;
    let literal = Expr::Literal(
        ScalarValue::TimestampMicrosecond(Some(micros), zone.clone()),
        None,
    );
    Ok(Transformed::yes(match unit {
        TimeUnit::Microsecond => literal,
        _ => Expr::Cast(Cast::new(Box::new(literal), field.data_type().clone())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{SqlError, SqlState};
    use datafusion::logical_expr::{cast, lit};

    fn zoned() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }

    #[test]
    fn literals_read_as_postgresql_reads_them() {
        let wall = DataType::Timestamp(TimeUnit::Microsecond, None);
        let at = |micros| -> Expr {
            Expr::Literal(ScalarValue::TimestampMicrosecond(Some(micros), None), None)
        };
        // 2024-01-01 10:00:00 UTC, the zone of a wall-clock literal ignored.
        let ten = 1_704_103_200_000_000;
        assert_eq!(
            read(cast(lit("2024-01-01 10:00"), wall.clone()))
                .unwrap()
                .data,
            at(ten)
        );
        assert_eq!(
            read(cast(lit("2024-01-01 10:00:00+05"), wall))
                .unwrap()
                .data,
            at(ten)
        );
        assert_eq!(
            read(cast(lit("2024-01-01 15:00:00+05"), zoned()))
                .unwrap()
                .data,
            Expr::Literal(
                ScalarValue::TimestampMicrosecond(Some(ten), Some("UTC".into())),
                None
            )
        );
        let nanos = DataType::Timestamp(TimeUnit::Nanosecond, None);
        assert_eq!(
            read(cast(lit("2024-01-01 10:00"), nanos.clone()))
                .unwrap()
                .data,
            cast(at(ten), nanos)
        );
        // Not a string literal: left to DataFusion.
        let column = cast(datafusion::logical_expr::col("k"), zoned());
        assert!(!read(column).unwrap().transformed);
    }

    #[test]
    fn text_that_is_no_timestamp_is_refused_with_22007() {
        let err = read(cast(lit("yesterday-ish"), zoned())).unwrap_err();
        let DataFusionError::External(inner) = err else {
            panic!("a SqlError inside");
        };
        let sql = inner.downcast_ref::<SqlError>().expect("a SqlError");
        assert_eq!(sql.state, SqlState::InvalidDatetimeFormat);
    }
}
