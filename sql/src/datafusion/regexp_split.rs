//! `regexp_split_to_array(text, pattern)` and the set-returning
//! `regexp_split_to_table(text, pattern)`, which DataFusion lacks: the
//! text split at every match of the pattern (Rust's regex syntax, which
//! agrees with PostgreSQL's for the common forms). The table form is
//! `unnest(regexp_split_to_array(…))`, in a SELECT list or in FROM. A
//! pattern that does not compile is 2201B.

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
use regex::Regex;
use sqlparser::ast::{
    Expr, FunctionArguments, Ident, Statement, TableAlias, TableAliasColumnDef, TableFactor,
    VisitMut, VisitorMut,
};

use super::roles::external;
use super::sql_ast::{call, named, positional};
use crate::error::SqlError;

const TO_ARRAY: &str = "regexp_split_to_array";
const TO_TABLE: &str = "regexp_split_to_table";

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut SplitToTable);
}

struct SplitToTable;

impl VisitorMut for SplitToTable {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(f) = e {
            if named(&f.name, TO_TABLE) {
                if let FunctionArguments::List(list) = &f.args {
                    *e = call("unnest", vec![call(TO_ARRAY, positional(&list.args))]);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = t
        {
            if named(name, TO_TABLE) {
                let inner = positional(&args.args);
                // Its one column is named as PostgreSQL names a function's
                // in FROM: by the alias, else by the function.
                let mut alias = alias.take().unwrap_or_else(|| TableAlias {
                    explicit: true,
                    name: Ident::new(TO_TABLE),
                    columns: vec![],
                    at: None,
                });
                if alias.columns.is_empty() {
                    alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
                }
                *t = TableFactor::UNNEST {
                    alias: Some(alias),
                    array_exprs: vec![call(TO_ARRAY, inner)],
                    with_offset: false,
                    with_offset_alias: None,
                    with_ordinality: false,
                };
            }
        }
        ControlFlow::Continue(())
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SplitToArray {
    signature: Signature,
}

impl ScalarUDFImpl for SplitToArray {
    fn name(&self) -> &str {
        TO_ARRAY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text, pattern] = args.args.as_slice() else {
            return exec_err!("{TO_ARRAY} takes a text and a pattern");
        };
        let rows = args.number_rows;
        let texts = cast(&text.to_array(rows)?, &DataType::Utf8)?;
        let patterns = cast(&pattern.to_array(rows)?, &DataType::Utf8)?;
        let (texts, patterns) = (texts.as_any(), patterns.as_any());
        let (Some(texts), Some(patterns)) = (
            texts.downcast_ref::<datafusion::arrow::array::StringArray>(),
            patterns.downcast_ref::<datafusion::arrow::array::StringArray>(),
        ) else {
            return exec_err!("{TO_ARRAY} takes text");
        };
        let mut out = ListBuilder::new(StringBuilder::new())
            .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        let mut compiled: Option<(String, Regex)> = None;
        for i in 0..rows {
            if texts.is_null(i) || patterns.is_null(i) {
                out.append(false);
                continue;
            }
            let p = patterns.value(i);
            if compiled.as_ref().is_none_or(|(q, _)| q != p) {
                let re = Regex::new(p).map_err(|e| {
                    external(SqlError::invalid_regular_expression(format!(
                        "invalid regular expression: {e}"
                    )))
                })?;
                compiled = Some((p.to_string(), re));
            }
            if let Some((_, re)) = &compiled {
                for piece in re.split(texts.value(i)) {
                    out.values().append_value(piece);
                }
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(SplitToArray {
        signature: Signature::any(2, Volatility::Immutable),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_to_table_is_an_unnest() {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(
            &dialect,
            "SELECT regexp_split_to_table(k, '/') FROM t, regexp_split_to_table('a b', '\\s+') AS w",
        )
        .unwrap()
        .remove(0);
        rewrite(&mut stmt);
        assert_eq!(
            stmt.to_string(),
            "SELECT unnest(regexp_split_to_array(k, '/')) FROM t, UNNEST(regexp_split_to_array('a b', '\\s+')) AS w (w)"
        );
    }
}
