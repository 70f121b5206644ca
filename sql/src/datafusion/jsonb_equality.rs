//! `jsonb` values are equal as PostgreSQL's jsonb equality has them: their
//! numbers compare as numerics, so `'{"a":1.0}'::jsonb = '{"a":1}'::jsonb`
//! is true. A `jsonb` here is its normal text (a Utf8 tagged `jsonb`), which
//! keeps each number's digits, and Arrow compared those texts: a wrong
//! answer with no error. An analyzer rule, after type coercion, compares
//! each side's equality key ([`crate::jsonb::equality_key`]) instead, in
//! `=`, `<>`, `IS [NOT] DISTINCT FROM` and `IN (...)` where one side is a
//! `jsonb` and the other a `jsonb` or text (an untyped literal, as
//! PostgreSQL would read it as `jsonb`). bucketdb's own planner does the
//! same (`Func::JsonbKey`).
//!
//! `<` and `>` with a `json` or `jsonb` side, and `||` with a `jsonb`
//! side, are refused (0A000):
//! Arrow compared and joined the texts (`'10'::jsonb > '2'` was false, and
//! `||` glued two documents into one text), where PostgreSQL orders jsonb
//! by its own rules and merges documents.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::{InList, ScalarFunction};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use super::analyzer_pass::rewrite_exprs;
use super::convert::field_sql_type;
use super::one_operand::map_operand;
use crate::bind::compared_by_key;
use crate::value::SqlType;

/// The analyzer rule; it must run after DataFusion's type coercion.
#[derive(Debug)]
pub struct JsonbEquality {
    key: Arc<ScalarUDF>,
}

impl JsonbEquality {
    pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(JsonbEquality {
            key: Arc::new(ScalarUDF::new_from_impl(Key {
                signature: Signature::any(1, Volatility::Immutable),
            })),
        })
    }

    fn key(&self, x: Expr) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(self.key.clone(), vec![x]))
    }

    fn compared(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let keyed = |sides: &[&Expr]| {
            let types = sides.iter().map(|x| match x.to_field(schema) {
                Ok((_, f)) if f.data_type() == &DataType::Utf8 => Some(field_sql_type(&f)),
                _ => None,
            });
            types
                .collect::<Option<Vec<SqlType>>>()
                .is_some_and(|t| compared_by_key(&t))
        };
        let is_json = |x: &Expr| match x.to_field(schema) {
            Ok((_, f)) => matches!(field_sql_type(&f), SqlType::Jsonb | SqlType::Json),
            Err(_) => false,
        };
        let is_jsonb = |x: &Expr| match x.to_field(schema) {
            Ok((_, f)) => field_sql_type(&f) == SqlType::Jsonb,
            Err(_) => false,
        };
        if let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e {
            let refused = match op {
                Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => {
                    Some("ordering comparisons (<, >) of jsonb are not supported")
                }
                Operator::StringConcat => Some("jsonb || (merging documents) is not supported"),
                _ => None,
            };
            let refused = match op {
                Operator::StringConcat => refused.filter(|_| is_jsonb(left) || is_jsonb(right)),
                _ => refused.filter(|_| is_json(left) || is_json(right)),
            };
            if let Some(why) = refused {
                return Err(DataFusionError::External(Box::new(
                    crate::error::SqlError::feature_not_supported(why),
                )));
            }
        }
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(
                    op,
                    Operator::Eq
                        | Operator::NotEq
                        | Operator::IsDistinctFrom
                        | Operator::IsNotDistinctFrom
                ) && keyed(&[&left, &right]) =>
            {
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: Box::new(self.key(*left)),
                    op,
                    right: Box::new(self.key(*right)),
                })))
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) if keyed(
                &std::iter::once(expr.as_ref())
                    .chain(&list)
                    .collect::<Vec<_>>(),
            ) =>
            {
                Ok(Transformed::yes(Expr::InList(InList {
                    expr: Box::new(self.key(*expr)),
                    list: list.into_iter().map(|x| self.key(x)).collect(),
                    negated,
                })))
            }
            e => Ok(Transformed::no(e)),
        }
    }
}

impl AnalyzerRule for JsonbEquality {
    fn name(&self) -> &str {
        "bucketdb_jsonb_equality"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_exprs(plan, |e, schema| self.compared(e, schema))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    signature: Signature,
}

impl ScalarUDFImpl for Key {
    fn name(&self) -> &str {
        "bucketdb_jsonb_key"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_operand(self.name(), &args, |values| {
            let values = cast(values, &DataType::Utf8)?;
            let keys = values
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(crate::jsonb::equality_key).transpose())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            Ok(Arc::new(StringArray::from(keys)))
        })
    }
}
