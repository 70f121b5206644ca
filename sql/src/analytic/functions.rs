//! Functions DataFusion queries need beyond DataFusion's and pg_catalog's
//! own: `version()` answers as bucketdb's planner does (drivers parse it),
//! and psql's `\df` asks for `pg_function_is_visible`,
//! `pg_get_function_result` and `pg_get_function_arguments`.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};

use crate::session::version_string;

fn constant(
    name: &str,
    args: Vec<DataType>,
    value: ScalarValue,
) -> datafusion::logical_expr::ScalarUDF {
    let ty = value.data_type();
    create_udf(
        name,
        args,
        ty,
        Volatility::Stable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(value.clone()))),
    )
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(constant(
        "version",
        vec![],
        ScalarValue::Utf8(Some(version_string())),
    ));
    // pg_catalog's pg_proc holds PostgreSQL's built-ins only, all in
    // pg_catalog, which `\df` leaves out; these let its query run.
    ctx.register_udf(constant(
        "pg_function_is_visible",
        vec![DataType::Int32],
        ScalarValue::Boolean(Some(true)),
    ));
    for name in ["pg_get_function_result", "pg_get_function_arguments"] {
        ctx.register_udf(constant(
            name,
            vec![DataType::Int32],
            ScalarValue::Utf8(None),
        ));
    }
}
