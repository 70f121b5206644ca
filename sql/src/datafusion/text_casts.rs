//! A timestamp or an array cast to text reads as PostgreSQL prints it
//! (`2026-12-04 06:26:50.05427+00`, `{1,2}`, `{"a b",c}`). DataFusion's
//! cast printed RFC 3339 with nanoseconds
//! (`2026-12-04T06:26:50.016573779Z`) and lists in Arrow's form
//! (`[1, 2]`), so `now()::text` and `ARRAY[1, 2]::text` differed between
//! the two planners and from PostgreSQL. An analyzer rule, after type
//! coercion, replaces each such cast with a call that prints the value's
//! text form as the wire sends it ([`crate::value::Value::to_text_as`]):
//! microseconds, and a timestamp without time zone without the offset.

use std::sync::Arc;

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use super::analyzer_pass::rewrite_exprs;
use super::convert::{column_values, sql_type};
use super::one_operand::map_operand;

/// The analyzer rule; it must run after DataFusion's type coercion.
#[derive(Debug)]
pub struct TextCasts {
    udf: Arc<ScalarUDF>,
}

impl TextCasts {
    pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(TextCasts {
            udf: Arc::new(ScalarUDF::new_from_impl(Printed {
                signature: Signature::any(1, Volatility::Immutable),
            })),
        })
    }

    fn printed(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::Cast(Cast { expr, field }) = &e else {
            return Ok(Transformed::no(e));
        };
        let data_type = field.data_type();
        if !matches!(
            data_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) || !matches!(
            expr.get_type(schema),
            Ok(DataType::Timestamp(_, _)
                | DataType::List(_)
                | DataType::LargeList(_)
                | DataType::FixedSizeList(_, _))
        ) {
            return Ok(Transformed::no(e));
        }
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            self.udf.clone(),
            vec![expr.as_ref().clone()],
        ));
        Ok(Transformed::yes(match data_type {
            DataType::Utf8 => call,
            other => Expr::Cast(Cast::new(Box::new(call), other.clone())),
        }))
    }
}

impl AnalyzerRule for TextCasts {
    fn name(&self) -> &str {
        "bucketdb_text_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_exprs(plan, |e, schema| self.printed(e, schema))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Printed {
    signature: Signature,
}

impl ScalarUDFImpl for Printed {
    fn name(&self) -> &str {
        "bucketdb_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    /// A cast's column name is its operand's, so this call's is too.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [v] => Ok(v.schema_name().to_string()),
            _ => Err(DataFusionError::Internal(
                "bucketdb_text takes one operand".into(),
            )),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_operand(self.name(), &args, |values| {
            let ty = sql_type(values.data_type());
            let text: StringArray = column_values(values)?
                .iter()
                .map(|v| (!v.is_null()).then(|| v.to_text_as(ty)))
                .collect();
            Ok(Arc::new(text))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, ListArray, TimestampNanosecondArray};
    use datafusion::arrow::datatypes::{Field, Int32Type};

    fn printed(values: Arc<dyn Array>) -> Vec<Option<String>> {
        let rows = values.len();
        let field = Arc::new(Field::new("t", values.data_type().clone(), true));
        let out = Printed {
            signature: Signature::any(1, Volatility::Immutable),
        }
        .invoke_with_args(ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(values)],
            arg_fields: vec![field],
            number_rows: rows,
            return_field: Arc::new(Field::new("t", DataType::Utf8, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
        .unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("an array in, an array out");
        };
        a.as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect()
    }

    #[test]
    fn timestamps_print_as_postgresql_prints_them() {
        let at = 1_764_830_810_016_573_779i64;
        let zoned = TimestampNanosecondArray::from(vec![Some(at), None]).with_timezone("+00:00");
        assert_eq!(
            printed(Arc::new(zoned)),
            vec![Some("2025-12-04 06:46:50.016573+00".to_string()), None]
        );
        let plain = TimestampNanosecondArray::from(vec![Some(at), None]);
        assert_eq!(
            printed(Arc::new(plain)),
            vec![Some("2025-12-04 06:46:50.016573".to_string()), None]
        );
    }

    #[test]
    fn arrays_print_in_postgresql_array_form() {
        let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
        ]);
        assert_eq!(
            printed(Arc::new(lists)),
            vec![Some("{1,NULL,3}".to_string()), None, Some("{}".to_string())]
        );
    }
}
