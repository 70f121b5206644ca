//! ACL columns datafusion-pg-catalog keeps as the text form of an array
//! (`nspacl`, `proacl`: `{postgres=UC/postgres}`), which psql's `\dn+`
//! and `\df+` hand to `array_to_string`. DataFusion's `array_to_string`
//! takes only lists, so such an argument is read as PostgreSQL reads the
//! text form: `array_to_string(n.nspacl, E'\n')` becomes
//! `array_to_string(pg_text_array(n.nspacl), E'\n')`, where
//! `pg_text_array` parses text and passes a list through unchanged (so
//! `pg_class.relacl`, a real array here, is untouched). Options columns
//! (`attoptions`, which pg_dump hands to `array_to_string`) and
//! `pg_proc.protrftypes` are held the same way.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ListBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement};
use sqlparser::ast::{VisitMut, VisitorMut};

use super::roles::external;
use super::sql_ast::{call, named};
use crate::value::{Element, SqlType, Value};

const PARSE: &str = "pg_text_array";

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut AclArguments);
}

struct AclArguments;

impl VisitorMut for AclArguments {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        let named = named(&f.name, "array_to_string");
        let FunctionArguments::List(list) = &mut f.args else {
            return ControlFlow::Continue(());
        };
        if let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(array))) = list.args.first_mut() {
            if named && is_acl_column(array) {
                *array = call(PARSE, vec![array.clone()]);
            }
        }
        ControlFlow::Continue(())
    }
}

fn is_acl_column(e: &Expr) -> bool {
    let name = match e {
        Expr::Identifier(i) => &i.value,
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(i) => &i.value,
            None => return false,
        },
        _ => return false,
    };
    let name = name.to_ascii_lowercase();
    name.ends_with("acl") || name.ends_with("options") || name == TRANSFORM_TYPES
}

/// `pg_proc`'s array of transform types, text in the library.
const TRANSFORM_TYPES: &str = "protrftypes";

/// Whether the (lower-case) query text may name such a column.
pub fn mentioned(lower: &str) -> bool {
    lower.contains("acl") || lower.contains("options") || lower.contains(TRANSFORM_TYPES)
}

/// `pg_text_array(text)`: the text form of an array as a `text[]`; a list
/// is returned as it is.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextArray {
    signature: Signature,
}

fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

impl ScalarUDFImpl for TextArray {
    fn name(&self) -> &str {
        PARSE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match args.first() {
            Some(t @ DataType::List(_)) => t.clone(),
            _ => text_list(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{PARSE} takes one argument");
        };
        if matches!(arg.data_type(), DataType::List(_)) {
            return Ok(arg.clone());
        }
        let texts = cast(&arg.to_array(args.number_rows)?, &DataType::Utf8)?;
        let texts = texts
            .as_any()
            .downcast_ref::<datafusion::arrow::array::StringArray>()
            .ok_or_else(|| datafusion::common::DataFusionError::Internal("not text".into()))?;
        let mut out = ListBuilder::new(StringBuilder::new())
            .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        for text in texts.iter() {
            let Some(text) = text else {
                out.append(false);
                continue;
            };
            let parsed = Value::Text(text.to_string())
                .coerce(SqlType::Array(Element::Text))
                .map_err(external)?;
            if let Value::Array(items) = parsed {
                for item in items {
                    match item {
                        Value::Null => out.values().append_null(),
                        v => out.values().append_value(v.to_text()),
                    }
                }
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(TextArray {
        signature: Signature::any(1, Volatility::Immutable),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_arguments_are_parsed() {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(
            &dialect,
            "SELECT array_to_string(n.nspacl, ','), array_to_string(conkey, ',') FROM n",
        )
        .unwrap()
        .remove(0);
        rewrite(&mut stmt);
        assert_eq!(
            stmt.to_string(),
            "SELECT array_to_string(pg_text_array(n.nspacl), ','), array_to_string(conkey, ',') FROM n"
        );
    }

    #[tokio::test]
    async fn text_forms_become_lists() {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx
            .sql(
                "SELECT array_to_string(pg_text_array('{postgres=UC/postgres,\"a b\"}'), '|'), \
                 array_to_string(pg_text_array(make_array('x', 'y')), '|')",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let col = |i: usize| {
            batches[0]
                .column(i)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .unwrap()
                .value(0)
                .to_string()
        };
        assert_eq!(col(0), "postgres=UC/postgres|a b");
        assert_eq!(col(1), "x|y");
    }
}
