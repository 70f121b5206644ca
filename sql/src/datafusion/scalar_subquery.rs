//! A scalar subquery that does not aggregate (`(SELECT d.adbin FROM
//! pg_attrdef d WHERE d.adrelid = a.attrelid …)`, psql's `\d` has several)
//! is, in PostgreSQL, its one row's value, NULL over no rows, and an error
//! over more. DataFusion only decorrelates a subquery that aggregates, so
//! it is rewritten as `scalar_subquery_row(array_agg(e))`: the same value,
//! NULL, or error 21000, whichever PostgreSQL gives. A condition of its
//! WHERE that reads only the outer row (`AND a.atthasdef`), which
//! DataFusion cannot decorrelate either, is moved out: `CASE WHEN cond
//! THEN (subquery) END` has the same value.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    BinaryOperator, CaseWhen, Expr, GroupByExpr, ObjectNamePart, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor, Visit, VisitMut, Visitor, VisitorMut,
};

use super::sql_ast::{call, null};
use crate::error::SqlError;

/// The name of the function that takes the one row's value.
const ROW: &str = "scalar_subquery_row";

/// Rewrites the scalar subqueries of `stmt` that do not aggregate;
/// `is_aggregate` says which function names are aggregates.
pub fn rewrite(stmt: &mut Statement, is_aggregate: &dyn Fn(&str) -> bool) {
    let _ = stmt.visit(&mut Subqueries { is_aggregate });
}

struct Subqueries<'a> {
    is_aggregate: &'a dyn Fn(&str) -> bool,
}

impl VisitorMut for Subqueries<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Subquery(q) = e {
            if let Some(outer) = self.aggregate(q) {
                let subquery = std::mem::replace(e, null());
                *e = Expr::Case {
                    case_token: AttachedToken::empty(),
                    end_token: AttachedToken::empty(),
                    operand: None,
                    conditions: vec![CaseWhen {
                        condition: outer,
                        result: subquery,
                    }],
                    else_result: None,
                };
            }
        }
        ControlFlow::Continue(())
    }
}

impl Subqueries<'_> {
    /// Wraps `q`'s one output in `scalar_subquery_row(array_agg(…))` if
    /// `q` is a plain SELECT that does not aggregate (no aggregate, GROUP
    /// BY, HAVING, DISTINCT, LIMIT, ORDER BY or window). Returns the
    /// conditions taken out of its WHERE, which read only the outer row.
    fn aggregate(&self, q: &mut Query) -> Option<Expr> {
        if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() || q.order_by.is_some()
        {
            return None;
        }
        let SetExpr::Select(s) = q.body.as_mut() else {
            return None;
        };
        let plain = s.distinct.is_none()
            && s.having.is_none()
            && matches!(&s.group_by, GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty());
        if !plain {
            return None;
        }
        let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
            s.projection.as_mut_slice()
        else {
            return None;
        };
        if has_aggregate(item, self.is_aggregate) {
            return None;
        }
        let value = std::mem::replace(item, null());
        *item = call(ROW, vec![call("array_agg", vec![value])]);
        let inner = relation_names(s);
        let mut kept = vec![];
        let mut outer = vec![];
        if let Some(w) = s.selection.take() {
            for term in conjuncts(w) {
                if reads_only_outer(&term, &inner) {
                    outer.push(term);
                } else {
                    kept.push(term);
                }
            }
        }
        s.selection = and_all(kept);
        and_all(outer)
    }
}

/// The names the relations of `s`'s FROM are known by (aliases, else
/// their table names), in lowercase.
fn relation_names(s: &Select) -> Vec<String> {
    let mut names = vec![];
    for t in &s.from {
        for f in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
            let name = match f {
                TableFactor::Table { alias: Some(a), .. }
                | TableFactor::Derived { alias: Some(a), .. } => Some(a.name.value.clone()),
                TableFactor::Table { name, .. } => match name.0.last() {
                    Some(ObjectNamePart::Identifier(i)) => Some(i.value.clone()),
                    _ => None,
                },
                _ => None,
            };
            // A relation whose name is unknown may be anything's: nothing
            // is moved out.
            names.push(name.map_or_else(|| "*".to_string(), |n| n.to_ascii_lowercase()));
        }
    }
    names
}

/// Whether `e` reads columns, all of them qualified by names that are not
/// the subquery's relations, and holds no subquery.
fn reads_only_outer(e: &Expr, inner: &[String]) -> bool {
    if inner.iter().any(|n| n == "*") {
        return false;
    }
    let mut check = OuterOnly { inner, columns: 0 };
    Visit::visit(e, &mut check).is_continue() && check.columns > 0
}

struct OuterOnly<'a> {
    inner: &'a [String],
    columns: usize,
}

impl Visitor for OuterOnly<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = parts[parts.len() - 2].value.to_ascii_lowercase();
                if self.inner.contains(&qualifier) {
                    return ControlFlow::Break(());
                }
                self.columns += 1;
                ControlFlow::Continue(())
            }
            Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::InSubquery { .. }
            | Expr::Function(_) => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    }
}

fn conjuncts(e: Expr) -> Vec<Expr> {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut out = conjuncts(*left);
            out.extend(conjuncts(*right));
            out
        }
        other => vec![other],
    }
}

fn and_all(terms: Vec<Expr>) -> Option<Expr> {
    terms.into_iter().reduce(|a, b| Expr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::And,
        right: Box::new(b),
    })
}

/// Whether `e` calls an aggregate or a window function.
pub fn has_aggregate(e: &Expr, is_aggregate: &dyn Fn(&str) -> bool) -> bool {
    Visit::visit(e, &mut AggregateFinder { is_aggregate }).is_break()
}

/// Breaks at a call of an aggregate or a window function.
struct AggregateFinder<'a> {
    is_aggregate: &'a dyn Fn(&str) -> bool,
}

impl Visitor for AggregateFinder<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        match e {
            Expr::Function(f)
                if f.over.is_some()
                    || (self.is_aggregate)(&f.name.to_string().to_ascii_lowercase()) =>
            {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// `scalar_subquery_row(list)`: the list's one element, NULL for no list
/// or an empty one, error 21000 for more than one.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SubqueryRow {
    signature: Signature,
}

impl ScalarUDFImpl for SubqueryRow {
    fn name(&self) -> &str {
        ROW
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [DataType::List(f) | DataType::LargeList(f)] => Ok(f.data_type().clone()),
            other => Err(DataFusionError::Plan(format!("{ROW} of {other:?}"))),
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<Arc<Field>> {
        // The element's field, metadata included (a JSON column stays json).
        match args.arg_fields.first().map(|f| f.data_type()) {
            Some(DataType::List(f) | DataType::LargeList(f)) => Ok(Arc::new(
                f.as_ref().clone().with_name(ROW).with_nullable(true),
            )),
            other => Err(DataFusionError::Plan(format!("{ROW} of {other:?}"))),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let Some(arg) = args.args.first() else {
            return Err(DataFusionError::Plan(format!("{ROW} needs an argument")));
        };
        let lists = arg.to_array(rows)?;
        let lists = lists
            .as_list_opt::<i32>()
            .ok_or_else(|| DataFusionError::Internal(format!("{ROW} of a non-list")))?;
        let element = match lists.data_type() {
            DataType::List(f) => f.data_type().clone(),
            other => return Err(DataFusionError::Internal(format!("{ROW} of {other}"))),
        };
        let values = (0..lists.len())
            .map(|i| {
                if lists.is_null(i) {
                    return ScalarValue::try_from(&element);
                }
                let list = lists.value(i);
                match list.len() {
                    0 => ScalarValue::try_from(&element),
                    1 => ScalarValue::try_from_array(&list, 0),
                    _ => Err(DataFusionError::External(Box::new(
                        SqlError::cardinality_violation(
                            "more than one row returned by a subquery used as an expression",
                        ),
                    ))),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        if values.is_empty() {
            return Ok(ColumnarValue::Array(
                datafusion::arrow::array::new_empty_array(&element),
            ));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
    }
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(SubqueryRow {
        signature: Signature::any(1, Volatility::Immutable),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::sql_ast::rewritten(sql, |s| rewrite(s, &|n| n == "count" || n == "max"))
    }

    #[test]
    fn only_subqueries_that_do_not_aggregate_are_wrapped() {
        assert_eq!(
            rewritten("SELECT (SELECT d.x FROM d WHERE d.k = a.k) FROM a"),
            "SELECT (SELECT scalar_subquery_row(array_agg(d.x)) FROM d WHERE d.k = a.k) FROM a"
        );
        assert_eq!(
            rewritten("SELECT (SELECT d.x FROM d WHERE d.k = a.k AND a.has AND NOT a.gone) FROM a"),
            "SELECT CASE WHEN a.has AND NOT a.gone THEN (SELECT scalar_subquery_row(array_agg(d.x)) \
             FROM d WHERE d.k = a.k) END FROM a"
        );
        for kept in [
            "SELECT (SELECT count(*) FROM d WHERE d.k = a.k) FROM a",
            "SELECT (SELECT max(d.x) + 1 FROM d) FROM a",
            "SELECT (SELECT d.x FROM d LIMIT 1) FROM a",
            "SELECT (SELECT d.x FROM d GROUP BY d.x) FROM a",
            "SELECT (SELECT DISTINCT d.x FROM d) FROM a",
            "SELECT a.k IN (SELECT d.k FROM d) FROM a",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }
}
