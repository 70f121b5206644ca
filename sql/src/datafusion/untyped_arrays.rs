//! A string literal compared with an array is read as an array of that
//! array's type, as PostgreSQL types an untyped literal by the other
//! operand: pg_dump asks `pol.polroles = '{0}'`, where DataFusion finds
//! no common type for a list and a string. An analyzer rule, because only
//! after planning are the operands' types known; it runs before type
//! coercion. The text is read with the parser array parameters use, and a
//! malformed one is 22P02.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

use super::convert::{param_scalar, sql_type};
use crate::value::{SqlType, Value};

#[derive(Debug)]
pub struct UntypedArrays;

impl UntypedArrays {
    pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
        Arc::new(UntypedArrays)
    }
}

impl AnalyzerRule for UntypedArrays {
    fn name(&self) -> &str {
        "bucketdb_untyped_arrays"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            // The inputs' schema, merged only for a string beside a
            // comparison (most plans have none).
            let inputs: Vec<Arc<DFSchema>> =
                plan.inputs().iter().map(|p| p.schema().clone()).collect();
            let mut schema = Lazy {
                inputs,
                merged: None,
            };
            plan.map_expressions(|e| e.transform_up(|e| typed(e, &mut schema)))
        })
        .map(|t| t.data)
    }
}

/// A plan node's input schema, merged when first asked for.
struct Lazy {
    inputs: Vec<Arc<DFSchema>>,
    merged: Option<DFSchema>,
}

impl Lazy {
    fn get(&mut self) -> &DFSchema {
        self.merged.get_or_insert_with(|| {
            let mut merged = DFSchema::empty();
            for input in &self.inputs {
                merged.merge(input);
            }
            merged
        })
    }
}

/// `e` with a string compared to an array made that array's type.
fn typed(e: Expr, schema: &mut Lazy) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return Ok(Transformed::no(e));
    };
    use datafusion::logical_expr::Operator as O;
    let comparison = matches!(
        op,
        O::Eq
            | O::NotEq
            | O::Lt
            | O::LtEq
            | O::Gt
            | O::GtEq
            | O::IsDistinctFrom
            | O::IsNotDistinctFrom
    );
    if !comparison {
        return Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr {
            left,
            op,
            right,
        })));
    }
    let (left, l) = as_array(*left, &right, schema)?;
    let (right, r) = as_array(*right, &left, schema)?;
    let e = Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)));
    Ok(if l || r {
        Transformed::yes(e)
    } else {
        Transformed::no(e)
    })
}

/// `side` as a list literal of `other`'s type, if `side` is a string
/// literal and `other` is an array; whether it changed.
fn as_array(side: Expr, other: &Expr, schema: &mut Lazy) -> Result<(Expr, bool)> {
    let Expr::Literal(ScalarValue::Utf8(Some(text)), _) = &side else {
        return Ok((side, false));
    };
    let Ok(list @ (DataType::List(_) | DataType::LargeList(_))) = other.get_type(schema.get())
    else {
        return Ok((side, false));
    };
    let SqlType::Array(element) = sql_type(&list) else {
        return Ok((side, false));
    };
    let value = Value::Text(text.clone())
        .coerce(SqlType::Array(element))
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let scalar = param_scalar(&value, Some(&list))?;
    Ok((Expr::Literal(scalar, None), true))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn answer(sql: &str) -> Result<Vec<RecordBatch>> {
        let state = SessionStateBuilder::new().with_default_features().build();
        let mut builder = SessionStateBuilder::new_from_existing(state);
        if let Some(analyzer) = builder.analyzer() {
            analyzer.rules.insert(0, UntypedArrays::rule());
        }
        let ctx = SessionContext::new_with_state(builder.build());
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1, 2]))])?;
        ctx.register_batch("t", batch)?;
        ctx.sql(sql).await?.collect().await
    }

    #[tokio::test]
    async fn a_string_compared_with_an_array_is_read_as_one() {
        let rows = answer("SELECT id FROM t WHERE make_array(id, 0) = '{2,0}'")
            .await
            .unwrap();
        let ids: Vec<i32> = rows
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(ids, vec![2]);
        let bad = answer("SELECT id FROM t WHERE make_array(id) = '{x'")
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("malformed array literal"), "{bad}");
    }
}
