//! What the one-operand functions that bucketdb's analyzer rules call
//! share: the operand read as an array, and the result given back as a
//! scalar when the operand was one, so a constant stays a constant.

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

/// `f` applied to the single operand of `name`'s call.
pub fn map_operand(
    name: &str,
    args: &ScalarFunctionArgs,
    f: impl FnOnce(&ArrayRef) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let scalar = matches!(args.args.as_slice(), [ColumnarValue::Scalar(_)]);
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let [values] = arrays.as_slice() else {
        return Err(DataFusionError::Internal(format!(
            "{name} takes one operand"
        )));
    };
    let out = f(values)?;
    Ok(match scalar {
        true => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
        false => ColumnarValue::Array(out),
    })
}
