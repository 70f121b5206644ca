//! `json_build_object(key, value, …)`: a JSON object from alternating keys
//! and values, as PostgreSQL builds one (SQLAlchemy's column reflection
//! asks for it). Values keep their JSON kind: numbers, booleans and NULL
//! as such, JSON columns as the documents they hold, the rest as strings.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use serde_json::{Map, Number, Value as Json};

use super::convert::{field, field_sql_type};
use crate::error::SqlError;
use crate::value::SqlType;

#[derive(Debug, PartialEq, Eq, Hash)]
struct BuildObject {
    signature: Signature,
}

impl ScalarUDFImpl for BuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> Result<Arc<Field>> {
        Ok(Arc::new(field(self.name(), SqlType::Json, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !args.args.len().is_multiple_of(2) {
            return Err(DataFusionError::External(Box::new(
                SqlError::invalid_parameter_value(
                    "argument list must have even number of elements",
                ),
            )));
        }
        let rows = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let json_args: Vec<bool> = args
            .arg_fields
            .iter()
            .map(|f| matches!(field_sql_type(f), SqlType::Json | SqlType::Jsonb))
            .collect();
        let out = (0..rows)
            .map(|row| {
                let mut object = Map::new();
                for pair in (0..arrays.len()).step_by(2) {
                    let key = ScalarValue::try_from_array(&arrays[pair], row)?;
                    if key.is_null() {
                        return Err(DataFusionError::External(Box::new(
                            SqlError::invalid_parameter_value(
                                "null value not allowed for object key",
                            ),
                        )));
                    }
                    let value = ScalarValue::try_from_array(&arrays[pair + 1], row)?;
                    object.insert(text(&key), json(&value, json_args[pair + 1]));
                }
                Ok(Some(Json::Object(object).to_string()))
            })
            .collect::<Result<Vec<Option<String>>>>()?;
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    }
}

fn text(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other => other.to_string(),
    }
}

fn json(v: &ScalarValue, is_json: bool) -> Json {
    if v.is_null() {
        return Json::Null;
    }
    match v {
        ScalarValue::Boolean(Some(b)) => Json::Bool(*b),
        ScalarValue::Int8(Some(i)) => Json::from(*i),
        ScalarValue::Int16(Some(i)) => Json::from(*i),
        ScalarValue::Int32(Some(i)) => Json::from(*i),
        ScalarValue::Int64(Some(i)) => Json::from(*i),
        ScalarValue::UInt8(Some(i)) => Json::from(*i),
        ScalarValue::UInt16(Some(i)) => Json::from(*i),
        ScalarValue::UInt32(Some(i)) => Json::from(*i),
        ScalarValue::UInt64(Some(i)) => Json::from(*i),
        ScalarValue::Float32(Some(f)) => {
            Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number)
        }
        ScalarValue::Float64(Some(f)) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        other => {
            let s = text(other);
            match is_json {
                true => serde_json::from_str(&s).unwrap_or(Json::String(s)),
                false => Json::String(s),
            }
        }
    }
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(BuildObject {
        signature: Signature::variadic_any(Volatility::Immutable),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_json_kind() {
        assert_eq!(json(&ScalarValue::Int64(Some(3)), false), Json::from(3));
        assert_eq!(
            json(&ScalarValue::Boolean(Some(true)), false),
            Json::Bool(true)
        );
        assert_eq!(json(&ScalarValue::Utf8(None), false), Json::Null);
        assert_eq!(
            json(&ScalarValue::Utf8(Some("[1]".into())), true),
            serde_json::json!([1])
        );
        assert_eq!(
            json(&ScalarValue::Utf8(Some("[1]".into())), false),
            Json::String("[1]".into())
        );
    }
}
