//! `pg_typeof(any)`: the name of its argument's type, as bucketdb
//! describes that type on the wire (`integer`, `json`, `text[]`). Tools
//! and tests ask it to see which type an expression has; the answer is the
//! planned type of the argument, so it is one value for every row.
//! PostgreSQL answers a `regtype`, which prints as this name; bucketdb
//! answers the name as text.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::convert::field_sql_type;

#[derive(Debug, PartialEq, Eq, Hash)]
struct TypeOf {
    signature: Signature,
}

impl ScalarUDFImpl for TypeOf {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let field = args
            .arg_fields
            .first()
            .ok_or_else(|| DataFusionError::Internal("pg_typeof without an argument".into()))?;
        let name = match field.data_type() {
            // An untyped NULL, as PostgreSQL names it.
            DataType::Null => "unknown",
            _ => field_sql_type(field).name(),
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            name.to_string(),
        ))))
    }
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(TypeOf {
        signature: Signature::any(1, Volatility::Immutable),
    }));
}
