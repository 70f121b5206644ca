//! `information_schema._pg_expandarray(array)`, the set-returning function
//! pgjdbc's `getPrimaryKeys` calls in a SELECT list: one row `(x, n)` per
//! element, `x` the element and `n` its 1-based position; and the field
//! access `(record).x` it reads them with.
//!
//! DataFusion has neither, so the call becomes
//! `unnest(pg_expandarray_pairs(array))`: a function that pairs each
//! element with its position, as a list of `{x, n}` structs, which unnest
//! spreads into rows side by side with the SELECT list's other unnests,
//! as PostgreSQL runs its set-returning functions; `(e).f` becomes
//! `get_field(e, 'f')`.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, ListArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use sqlparser::ast::{self, AccessExpr, Expr, FunctionArguments, Statement, VisitMut, VisitorMut};

use super::sql_ast::{call, named};

const PAIRS: &str = "pg_expandarray_pairs";

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut ExpandArray);
}

struct ExpandArray;

impl VisitorMut for ExpandArray {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        match e {
            Expr::Function(f) if named(&f.name, "_pg_expandarray") => {
                if let FunctionArguments::List(list) = &f.args {
                    if let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(array))] =
                        list.args.as_slice()
                    {
                        *e = call("unnest", vec![call(PAIRS, vec![array.clone()])]);
                    }
                }
            }
            Expr::CompoundFieldAccess { root, access_chain }
                if matches!(**root, Expr::Nested(_)) =>
            {
                if let [AccessExpr::Dot(Expr::Identifier(field))] = access_chain.as_slice() {
                    let name =
                        Expr::Value(ast::Value::SingleQuotedString(field.value.clone()).into());
                    *e = call("get_field", vec![(**root).clone(), name]);
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// `pg_expandarray_pairs(list)`: the list's elements as `{x, n}` structs.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Pairs {
    signature: Signature,
}

fn pair_fields(element: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("x", element.clone(), true),
        Field::new("n", DataType::Int32, false),
    ])
}

impl ScalarUDFImpl for Pairs {
    fn name(&self) -> &str {
        PAIRS
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::List(f)] => Ok(DataType::new_list(
                DataType::Struct(pair_fields(f.data_type())),
                true,
            )),
            other => plan_err!("_pg_expandarray takes an array, not {other:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("_pg_expandarray takes one argument");
        };
        let input = arg.to_array(args.number_rows)?;
        let Some(lists) = input.as_list_opt::<i32>() else {
            return exec_err!("_pg_expandarray takes an array");
        };
        let offsets = lists.offsets();
        let mut positions = Vec::with_capacity(lists.values().len());
        for w in offsets.windows(2) {
            positions.extend(1..=(w[1] - w[0]));
        }
        let values = lists.values().slice(
            offsets[0] as usize,
            (offsets[offsets.len() - 1] - offsets[0]) as usize,
        );
        let fields = pair_fields(values.data_type());
        let pairs = StructArray::try_new(
            fields.clone(),
            vec![values, Arc::new(Int32Array::from(positions)) as ArrayRef],
            None,
        )?;
        let rebased = datafusion::arrow::buffer::OffsetBuffer::new(
            offsets
                .iter()
                .map(|o| o - offsets[0])
                .collect::<Vec<_>>()
                .into(),
        );
        let out = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Struct(fields), true)),
            rebased,
            Arc::new(pairs),
            lists.nulls().cloned(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Pairs {
        signature: Signature::any(1, Volatility::Immutable),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(&dialect, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt);
        stmt.to_string()
    }

    #[test]
    fn expandarray_becomes_an_unnest_of_pairs() {
        assert_eq!(
            rewritten(
                "SELECT (information_schema._pg_expandarray(i.indkey)).n AS s, \
                 information_schema._pg_expandarray(i.indkey) AS k FROM i"
            ),
            "SELECT get_field((unnest(pg_expandarray_pairs(i.indkey))), 'n') AS s, \
             unnest(pg_expandarray_pairs(i.indkey)) AS k FROM i"
        );
        assert_eq!(
            rewritten("SELECT * FROM r WHERE r.a = (r.keys).x"),
            "SELECT * FROM r WHERE r.a = get_field((r.keys), 'x')"
        );
    }

    #[tokio::test]
    async fn pairs_number_the_elements() {
        let ctx = SessionContext::new();
        register(&ctx);
        let batches = ctx
            .sql(
                "SELECT get_field(p, 'x') AS x, get_field(p, 'n') AS n FROM \
                 (SELECT unnest(pg_expandarray_pairs(make_array(7, 8, 9))) AS p)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let b = &batches[0];
        let xs = b
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let ns = b
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::Int32Type>();
        assert_eq!(xs.values().to_vec(), vec![7, 8, 9]);
        assert_eq!(ns.values().to_vec(), vec![1, 2, 3]);
    }
}
