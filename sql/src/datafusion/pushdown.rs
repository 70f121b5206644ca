//! Filters DataFusion hands a table scan, translated into bucketdb
//! expressions. A translated filter is declared `Exact`: the scan derives
//! its access path from it (bucket/key equality, IN lists, LIKE prefixes,
//! ranges) and applies all of it to every row, so DataFusion drops its own
//! Filter and may push LIMIT into the scan as well. Anything else
//! (functions, casts, arithmetic) stays with DataFusion.

use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{BinaryExpr, Expr as DfExpr, Like, Operator};

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
                .map(|e| literal(e).filter(|v| !v.is_null()).map(Expr::Const))
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

fn text_literal(e: &DfExpr) -> Option<Expr> {
    match literal(e)? {
        v @ Value::Text(_) => Some(Expr::Const(v)),
        _ => None,
    }
}

/// A comparison operand: a column, or a literal of a type bucketdb
/// compares the way DataFusion does.
fn operand(table: &Table, e: &DfExpr) -> Option<Expr> {
    column(table, e).or_else(|| literal(e).map(Expr::Const))
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;
    use crate::catalog::{Catalog, TableId};

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
