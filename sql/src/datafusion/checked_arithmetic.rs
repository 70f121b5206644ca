//! Integer `+`, `-`, `*` and negation that raise 22003 on overflow, as
//! PostgreSQL's do. DataFusion's physical planner builds these wrapping
//! (`size * 9223372036854775807` answered `-10`, a wrong answer with no
//! error) and offers no setting to change it, so an analyzer rule, after
//! type coercion has made both operands one integer type, replaces each
//! such operation with a call that uses Arrow's checked kernels. The call
//! names its column as the operator did, so plans that refer to it by name
//! (a projection over an aggregate) still find it. Division and remainder
//! are checked by DataFusion already; other types keep DataFusion's
//! operators.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_expr_common::datum::apply;

use super::analyzer_pass::rewrite_exprs;
use crate::error::SqlError;

/// The analyzer rule; it must run after DataFusion's type coercion.
#[derive(Debug)]
pub struct CheckedArithmetic {
    add: Arc<ScalarUDF>,
    sub: Arc<ScalarUDF>,
    mul: Arc<ScalarUDF>,
    neg: Arc<ScalarUDF>,
}

impl CheckedArithmetic {
    pub fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
        let udf = |op| Arc::new(ScalarUDF::new_from_impl(Checked::new(op)));
        Arc::new(CheckedArithmetic {
            add: udf(Operator::Plus),
            sub: udf(Operator::Minus),
            mul: udf(Operator::Multiply),
            neg: Arc::new(ScalarUDF::new_from_impl(Checked::negation())),
        })
    }

    fn udf(&self, op: Operator) -> Option<&Arc<ScalarUDF>> {
        match op {
            Operator::Plus => Some(&self.add),
            Operator::Minus => Some(&self.sub),
            Operator::Multiply => Some(&self.mul),
            _ => None,
        }
    }

    /// `e` made checked when it is integer `+`, `-`, `*` or negation.
    fn checked(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        if let Expr::Negative(inner) = &e {
            if !inner.get_type(schema).is_ok_and(|t| t.is_integer()) {
                return Ok(Transformed::no(e));
            }
            let args = vec![inner.as_ref().clone()];
            return Ok(Transformed::yes(Expr::ScalarFunction(
                ScalarFunction::new_udf(self.neg.clone(), args),
            )));
        }
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
            return Ok(Transformed::no(e));
        };
        let Some(udf) = self.udf(*op) else {
            return Ok(Transformed::no(e));
        };
        // An operand whose type cannot be told (it failed to plan, and
        // DataFusion reports why) keeps the operator.
        let (Ok(l), Ok(r)) = (left.get_type(schema), right.get_type(schema)) else {
            return Ok(Transformed::no(e));
        };
        if l != r || !l.is_integer() {
            return Ok(Transformed::no(e));
        }
        let args = vec![left.as_ref().clone(), right.as_ref().clone()];
        Ok(Transformed::yes(Expr::ScalarFunction(
            ScalarFunction::new_udf(udf.clone(), args),
        )))
    }
}

impl AnalyzerRule for CheckedArithmetic {
    fn name(&self) -> &str {
        "bucketdb_checked_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_exprs(plan, |e, schema| self.checked(e, schema))
    }
}

/// One checked operator on two values of one integer type, or negation
/// (`Minus` with one operand) of one.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    op: Operator,
    unary: bool,
    name: String,
    signature: Signature,
}

impl Checked {
    fn new(op: Operator) -> Self {
        Checked {
            name: format!("bucketdb_checked_{}", op_word(op)),
            op,
            unary: false,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }

    fn negation() -> Self {
        Checked {
            name: "bucketdb_checked_neg".into(),
            op: Operator::Minus,
            unary: true,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn negate(v: &ColumnarValue) -> Result<ColumnarValue> {
        match v {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(numeric::neg(a.as_ref())?)),
            ColumnarValue::Scalar(s) => {
                let a = numeric::neg(s.to_array()?.as_ref())?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    a.as_ref(),
                    0,
                )?))
            }
        }
    }

    fn run(&self, args: &[ColumnarValue]) -> Result<ColumnarValue> {
        match (self.unary, args) {
            (true, [v]) => Self::negate(v),
            (false, [l, r]) => self.kernel(l, r),
            _ => Err(DataFusionError::Internal(format!(
                "{} given {} operands",
                self.name,
                args.len()
            ))),
        }
    }

    fn kernel(&self, l: &ColumnarValue, r: &ColumnarValue) -> Result<ColumnarValue> {
        type Kernel = fn(
            &dyn datafusion::arrow::array::Datum,
            &dyn datafusion::arrow::array::Datum,
        ) -> std::result::Result<ArrayRef, ArrowError>;
        let f: Kernel = match self.op {
            Operator::Plus => numeric::add,
            Operator::Minus => numeric::sub,
            _ => numeric::mul,
        };
        apply(l, r, f)
    }
}

fn op_word(op: Operator) -> &'static str {
    match op {
        Operator::Plus => "add",
        Operator::Minus => "sub",
        _ => "mul",
    }
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        args.first()
            .cloned()
            .ok_or_else(|| DataFusionError::Internal(format!("{} without operands", self.name)))
    }

    /// The operator's own column name, so a plan that names this column
    /// (the projection over an aggregate) finds it after the rewrite.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [v] if self.unary => Ok(format!("(- {})", v.schema_name())),
            [l, r] => Ok(format!(
                "{} {} {}",
                l.schema_name(),
                self.op,
                r.schema_name()
            )),
            _ => Err(DataFusionError::Internal(format!(
                "{} takes two operands",
                self.name
            ))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.run(&args.args).map_err(|e| match e.find_root() {
            DataFusionError::ArrowError(a, _)
                if matches!(**a, ArrowError::ArithmeticOverflow(_)) =>
            {
                let kind = match args.return_field.data_type() {
                    DataType::Int16 => "smallint",
                    DataType::Int32 => "integer",
                    DataType::Int64 => "bigint",
                    _ => "integer",
                };
                DataFusionError::External(Box::new(SqlError::numeric_value_out_of_range(format!(
                    "{kind} out of range"
                ))))
            }
            _ => e,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::Field;

    fn call(op: Operator, l: ColumnarValue, r: ColumnarValue) -> Result<ColumnarValue> {
        invoke(Checked::new(op), vec![l, r])
    }

    fn invoke(udf: Checked, args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let field = Arc::new(Field::new("x", DataType::Int64, true));
        udf.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields: vec![field.clone(), field.clone()],
            number_rows: 2,
            return_field: field,
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    fn column(v: &[i64]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int64Array::from(v.to_vec())))
    }

    fn scalar(v: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))
    }

    #[test]
    fn in_range_results_are_the_operators() {
        let out = call(Operator::Multiply, column(&[3, -4]), scalar(5)).unwrap();
        let ColumnarValue::Array(a) = out else {
            panic!("an array in, an array out");
        };
        let a = a.as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(a.values().to_vec(), vec![15, -20]);
        let ColumnarValue::Scalar(s) = call(Operator::Minus, scalar(7), scalar(9)).unwrap() else {
            panic!("scalars in, a scalar out");
        };
        assert_eq!(s, ScalarValue::Int64(Some(-2)));
    }

    #[test]
    fn overflow_is_22003_naming_the_type() {
        for (op, l, r) in [
            (Operator::Multiply, 10, i64::MAX),
            (Operator::Plus, i64::MAX, 1),
            (Operator::Minus, i64::MIN, 1),
        ] {
            assert_out_of_range(call(op, column(&[1, l]), scalar(r)));
        }
        assert_out_of_range(invoke(Checked::negation(), vec![column(&[1, i64::MIN])]));
        assert_out_of_range(invoke(Checked::negation(), vec![scalar(i64::MIN)]));
        let ColumnarValue::Scalar(s) = invoke(Checked::negation(), vec![scalar(-5)]).unwrap()
        else {
            panic!("a scalar in, a scalar out");
        };
        assert_eq!(s, ScalarValue::Int64(Some(5)));
    }

    fn assert_out_of_range(r: Result<ColumnarValue>) {
        let e = r.expect_err("overflow is an error");
        let sql = super::super::errors::to_sql_error(e);
        assert_eq!(sql.state, crate::error::SqlState::NumericValueOutOfRange);
        assert_eq!(sql.message, "bigint out of range");
    }

    #[test]
    fn the_column_keeps_the_operators_name() {
        let udf = Checked::new(Operator::Multiply);
        let args = [
            datafusion::prelude::col("size"),
            datafusion::prelude::lit(2i64),
        ];
        let op = datafusion::prelude::col("size") * datafusion::prelude::lit(2i64);
        assert_eq!(
            udf.schema_name(&args).unwrap(),
            op.schema_name().to_string()
        );
        let neg = Checked::negation();
        let minus = -datafusion::prelude::col("size");
        assert_eq!(
            neg.schema_name(&args[..1]).unwrap(),
            minus.schema_name().to_string()
        );
    }
}
