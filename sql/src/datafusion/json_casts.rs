//! `e::json` and `e::jsonb` in queries DataFusion plans. DataFusion has no
//! JSON types (it refused the casts: "Unsupported SQL type JSON"), so each
//! cast becomes a call that reads its argument as text: `json` checks that
//! the text is JSON and keeps it, `jsonb` gives its normal form
//! ([`crate::jsonb`]), as bucketdb's own planner does. The result is Utf8
//! tagged with the type, so clients are told `json` or `jsonb`.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use sqlparser::ast::{Expr, Statement, VisitMut, VisitorMut};

use super::convert::{field, union_json};
use super::sql_ast::{call, null};
use crate::bind::typname;
use crate::value::{check_json, SqlType};

/// Whether the (lower-case) query text may cast to a JSON type.
pub fn mentioned(lower: &str) -> bool {
    lower.contains("json")
}

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut Casts);
}

struct Casts;

impl VisitorMut for Casts {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Cast {
            expr, data_type, ..
        } = e
        {
            let ty = match typname(&data_type.to_string()).as_str() {
                _ if matches!(data_type, sqlparser::ast::DataType::Array(_)) => None,
                "json" => Some(SqlType::Json),
                "jsonb" => Some(SqlType::Jsonb),
                _ => None,
            };
            if let Some(ty) = ty {
                let arg = std::mem::replace(expr.as_mut(), null());
                *e = call(name(ty), vec![arg]);
            }
        }
        ControlFlow::Continue(())
    }
}

/// The function a cast to `ty` (`json` or `jsonb`) calls.
fn name(ty: SqlType) -> &'static str {
    match ty {
        SqlType::Jsonb => "bucketdb_jsonb",
        _ => "bucketdb_json",
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonCast {
    ty: SqlType,
    signature: Signature,
}

impl ScalarUDFImpl for JsonCast {
    fn name(&self) -> &str {
        name(self.ty)
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _: ReturnFieldArgs) -> Result<Arc<Field>> {
        Ok(Arc::new(field(self.name(), self.ty, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let input = args
            .args
            .first()
            .ok_or_else(|| {
                DataFusionError::Internal(format!("{} takes one argument", self.name()))
            })?
            .to_array(rows)?;
        // A `->` result (a union of the JSON kinds) is read as its JSON
        // text, anything else as text.
        let texts: Vec<Option<String>> = match input.data_type() {
            DataType::Union(fields, _) => union_json(&input, fields)?,
            _ => {
                let text = cast(&input, &DataType::Utf8)?;
                let text = text.as_string::<i32>();
                text.iter().map(|v| v.map(str::to_string)).collect()
            }
        };
        let out = texts
            .iter()
            .map(|v| {
                let v = v.as_deref();
                v.map(|s| match self.ty {
                    SqlType::Jsonb => crate::jsonb::normalize(s),
                    _ => check_json(s).map(|()| s.to_string()),
                })
                .transpose()
            })
            .collect::<std::result::Result<Vec<Option<String>>, _>>()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let out: Arc<dyn Array> = Arc::new(StringArray::from(out));
        Ok(ColumnarValue::Array(out))
    }
}

pub fn register(ctx: &SessionContext) {
    for ty in [SqlType::Json, SqlType::Jsonb] {
        ctx.register_udf(ScalarUDF::new_from_impl(JsonCast {
            ty,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::super::sql_ast::rewritten;
    use super::*;

    #[test]
    fn casts_to_json_types_become_calls() {
        assert_eq!(
            rewritten(
                "SELECT '{}'::jsonb, x::json, CAST(y AS JSONB), z::text",
                rewrite
            ),
            "SELECT bucketdb_jsonb('{}'), bucketdb_json(x), bucketdb_jsonb(y), z::TEXT"
        );
        assert_eq!(
            rewritten("SELECT '{}'::jsonb[]", rewrite),
            "SELECT '{}'::JSONB[]"
        );
    }
}
