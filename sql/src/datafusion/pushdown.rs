//! Filters DataFusion hands a table scan, translated into bucketdb
//! expressions. A translated filter is declared `Exact`: the scan derives
//! its access path from it (bucket/key equality, IN lists, LIKE prefixes,
//! ranges) and applies all of it to every row, so DataFusion drops its own
//! Filter and may push LIMIT into the scan as well. A constant operand
//! (`'obj-' || '5'`) is folded first. A filter that translates only once
//! its parameters are bound ([`bound_later`]) is declared `Inexact`:
//! DataFusion keeps its Filter, and the scan uses it for its access path
//! when the bound values let it. Anything else (functions of columns,
//! casts of columns, arithmetic on columns) stays with DataFusion.

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{BinaryExpr, Expr as DfExpr, ExprSchemable, Like, Operator};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;

use super::convert::literal_value;
use crate::catalog::Table;
use crate::expr::{CmpOp, Expr};
use crate::value::Value;

/// `filter` as a bucketdb expression over `table`'s full row, if every part
/// of it has an exact counterpart.
pub fn translate(table: &Table, filter: &DfExpr) -> Option<Expr> {
    let t = |e: &DfExpr| translate(table, e).map(Box::new);
    match filter {
        DfExpr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => Some(Expr::And(t(left)?, t(right)?)),
            Operator::Or => Some(Expr::Or(t(left)?, t(right)?)),
            _ => {
                let op = cmp_op(*op)?;
                Some(Expr::Cmp(
                    op,
                    Box::new(operand(table, left)?),
                    Box::new(operand(table, right)?),
                ))
            }
        },
        DfExpr::Like(Like {
            negated,
            expr,
            pattern,
            escape_char: None | Some('\\'),
            case_insensitive,
        }) => Some(Expr::Like {
            expr: Box::new(column(table, expr)?),
            pattern: Box::new(text_literal(pattern)?),
            negated: *negated,
            case_insensitive: *case_insensitive,
        }),
        DfExpr::InList(InList {
            expr,
            list,
            negated,
        }) => Some(Expr::InList {
            expr: Box::new(column(table, expr)?),
            list: list
                .iter()
                .map(|e| constant(e).filter(|v| !v.is_null()).map(Expr::Const))
                .collect::<Option<Vec<_>>>()?,
            negated: *negated,
        }),
        DfExpr::IsNull(e) => Some(Expr::IsNull(Box::new(column(table, e)?), false)),
        DfExpr::IsNotNull(e) => Some(Expr::IsNull(Box::new(column(table, e)?), true)),
        DfExpr::Not(e) => Some(Expr::Not(t(e)?)),
        // What DataFusion's simplifier may leave of a pushed filter after
        // it was declared exact (`key <> NULL` is NULL): kept, not refused.
        DfExpr::Literal(..) => match literal(filter)? {
            v @ (Value::Bool(_) | Value::Null) => Some(Expr::Const(v)),
            _ => None,
        },
        _ => None,
    }
}

fn cmp_op(op: Operator) -> Option<CmpOp> {
    Some(match op {
        Operator::Eq => CmpOp::Eq,
        Operator::NotEq => CmpOp::NotEq,
        Operator::Lt => CmpOp::Lt,
        Operator::LtEq => CmpOp::LtEq,
        Operator::Gt => CmpOp::Gt,
        Operator::GtEq => CmpOp::GtEq,
        _ => return None,
    })
}

fn column(table: &Table, e: &DfExpr) -> Option<Expr> {
    match e {
        DfExpr::Column(c) => table.column_index(&c.name).ok().map(Expr::Column),
        _ => None,
    }
}

fn literal(e: &DfExpr) -> Option<Value> {
    match e {
        DfExpr::Literal(s, _) => literal_value(s),
        _ => None,
    }
}

/// A literal, or an expression of literals DataFusion folds into one (a
/// bound parameter inside `'obj-' || $1`). Only immutable functions fold;
/// one that fails to evaluate is left to fail where DataFusion runs it.
fn constant(e: &DfExpr) -> Option<Value> {
    if let DfExpr::Literal(..) = e {
        return literal(e);
    }
    if e.any_column_refs() || has_placeholder(e) {
        return None;
    }
    let folded = ExprSimplifier::new(SimplifyContext::default())
        .simplify(e.clone())
        .ok()?;
    literal(&folded)
}

fn text_literal(e: &DfExpr) -> Option<Expr> {
    match constant(e)? {
        v @ Value::Text(_) => Some(Expr::Const(v)),
        _ => None,
    }
}

/// A comparison operand: a column, or a constant of a type bucketdb
/// compares the way DataFusion does.
fn operand(table: &Table, e: &DfExpr) -> Option<Expr> {
    column(table, e).or_else(|| constant(e).map(Expr::Const))
}

fn has_placeholder(e: &DfExpr) -> bool {
    let mut found = false;
    let _ = e.apply(|e| {
        found = matches!(e, DfExpr::Placeholder(_));
        Ok(match found {
            true => TreeNodeRecursion::Stop,
            false => TreeNodeRecursion::Continue,
        })
    });
    found
}

/// Whether `filter` has parameters and translates once they are bound: a
/// plan optimized before its parameters are known (see `plan_reuse`)
/// keeps the key access of `key = 'obj-' || $1`.
pub fn bound_later(table: &Table, filter: &DfExpr) -> bool {
    has_placeholder(filter) && translates_when_constant(table, filter)
}

/// Whether `filter` translates with each of its constant expressions a
/// literal: decided on a stand-in value of each one's type (`''`, `0`).
/// At the scan, a filter that does not translate but passes this was
/// declared inexact: a bound value that did not fold is DataFusion's.
pub fn translates_when_constant(table: &Table, filter: &DfExpr) -> bool {
    let empty = DFSchema::empty();
    let stand_in = filter.clone().transform_down(|e| {
        if matches!(e, DfExpr::Literal(..)) || e.any_column_refs() {
            return Ok(Transformed::no(e));
        }
        let value = ScalarValue::new_default(&e.get_type(&empty)?)?;
        Ok(Transformed::new(
            DfExpr::Literal(value, None),
            true,
            TreeNodeRecursion::Jump,
        ))
    });
    stand_in.is_ok_and(|t| translate(table, &t.data).is_some())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::logical_expr::{binary_expr, col, lit};

    use super::*;
    use datafusion::logical_expr::expr::Placeholder;

    use crate::catalog::{Catalog, TableId};

    fn placeholder(id: &str, ty: DataType) -> DfExpr {
        DfExpr::Placeholder(Placeholder::new_with_field(
            id.into(),
            Some(std::sync::Arc::new(Field::new("", ty, true))),
        ))
    }

    #[test]
    fn constant_conditions_translate() {
        let catalog = Catalog::new();
        let objects = catalog.get(TableId::Objects);
        let null = lit(datafusion::common::ScalarValue::Boolean(None));
        assert_eq!(translate(objects, &null), Some(Expr::Const(Value::Null)));
        assert_eq!(
            translate(objects, &lit(true)),
            Some(Expr::Const(Value::Bool(true)))
        );
        assert_eq!(translate(objects, &lit(3)), None);
    }

    #[test]
    fn key_conditions_translate() {
        let catalog = Catalog::new();
        let objects = catalog.get(TableId::Objects);
        let f = col("bucket")
            .eq(lit("b1"))
            .and(col("key").like(lit("photos/%")));
        let e = translate(objects, &f).expect("translates");
        let access = crate::scan::Access::derive(objects, Some(&e));
        assert!(access.first.is_some());
        assert!(access.bounds.like.is_some());
        let f = col("key").in_list(vec![lit("a"), lit("b")], false);
        assert!(translate(objects, &f).is_some());
    }

    #[test]
    fn constant_operands_are_folded() {
        let catalog = Catalog::new();
        let objects = catalog.get(TableId::Objects);
        let concat = |r: DfExpr| binary_expr(lit("obj-"), Operator::StringConcat, r);
        let e = translate(objects, &col("key").eq(concat(lit("5")))).expect("folds");
        let Expr::Cmp(CmpOp::Eq, _, right) = e else {
            panic!("not a comparison: {e:?}");
        };
        assert_eq!(*right, Expr::Const(Value::Text("obj-5".into())));
        // Evaluated where DataFusion runs it, so that it fails there.
        let failing = binary_expr(lit(1), Operator::Divide, lit(0));
        assert!(translate(objects, &col("size").eq(failing)).is_none());
    }

    #[test]
    fn a_filter_with_parameters_translates_once_they_are_bound() {
        let catalog = Catalog::new();
        let objects = catalog.get(TableId::Objects);
        let param = |ty: DataType| placeholder("$1", ty);
        let key = col("key").eq(binary_expr(
            lit("obj-"),
            Operator::StringConcat,
            param(DataType::Utf8),
        ));
        assert!(translate(objects, &key).is_none());
        assert!(bound_later(objects, &key));
        let prefix = col("key").like(param(DataType::Utf8));
        assert!(bound_later(objects, &prefix));
        let listed = col("key").in_list(vec![param(DataType::Utf8)], false);
        assert!(bound_later(objects, &listed));
        // A function of a column stays with DataFusion, bound or not.
        let f = datafusion::functions::expr_fn::lower(col("key")).eq(param(DataType::Utf8));
        assert!(!bound_later(objects, &f));
        assert!(!bound_later(objects, &col("key").eq(lit("a"))));
    }

    #[test]
    fn functions_and_unknown_columns_stay_with_datafusion() {
        let catalog = Catalog::new();
        let objects = catalog.get(TableId::Objects);
        let f = datafusion::functions::expr_fn::lower(col("key")).eq(lit("a"));
        assert!(translate(objects, &f).is_none());
        assert!(translate(objects, &col("nope").eq(lit(1))).is_none());
        // One untranslatable side makes the whole OR untranslatable.
        let f = col("bucket")
            .eq(lit("b1"))
            .or(datafusion::functions::expr_fn::upper(col("key")).eq(lit("A")));
        assert!(translate(objects, &f).is_none());
    }
}
