//! `generate_subscripts(array, dim)` in a SELECT list, which SQLAlchemy's
//! key reflection pairs with `unnest(array)` to number an index's columns.
//! DataFusion has no such function; for the one-dimensional arrays the
//! catalogs hold, `unnest(range(1, CASE WHEN dim = 1 THEN
//! cardinality(array) + 1 ELSE 1 END))` yields the same subscripts (none
//! for another dimension), and DataFusion runs the unnests of one SELECT
//! list side by side, as PostgreSQL runs its set-returning functions.

use std::ops::ControlFlow;

use super::sql_ast::{call, named};

use sqlparser::ast::helpers::attached_token::AttachedToken;
use sqlparser::ast::{
    BinaryOperator, CaseWhen, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Statement, Value, VisitMut, VisitorMut,
};

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut Subscripts);
}

struct Subscripts;

impl VisitorMut for Subscripts {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        let named = named(&f.name, "generate_subscripts");
        let FunctionArguments::List(list) = &f.args else {
            return ControlFlow::Continue(());
        };
        let args: Vec<&Expr> = list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect();
        let [array, dim] = args.as_slice() else {
            return ControlFlow::Continue(());
        };
        if !named {
            return ControlFlow::Continue(());
        }
        let one = || Expr::Value(Value::Number("1".into(), false).into());
        let length = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(call("cardinality", vec![(*array).clone()])),
            data_type: DataType::BigInt(None),
            array: false,
            format: None,
        };
        let past_last = Expr::BinaryOp {
            left: Box::new(length),
            op: BinaryOperator::Plus,
            right: Box::new(one()),
        };
        let upper = Expr::Case {
            case_token: AttachedToken::empty(),
            end_token: AttachedToken::empty(),
            operand: None,
            conditions: vec![CaseWhen {
                condition: Expr::BinaryOp {
                    left: Box::new((*dim).clone()),
                    op: BinaryOperator::Eq,
                    right: Box::new(one()),
                },
                result: past_last,
            }],
            else_result: Some(Box::new(one())),
        };
        *e = call("unnest", vec![call("range", vec![one(), upper])]);
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    #[test]
    fn subscripts_of_the_first_dimension_become_a_range() {
        let sql = "SELECT unnest(indkey), generate_subscripts(indkey, 1) FROM pg_index";
        let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt);
        assert_eq!(
            stmt.to_string(),
            "SELECT unnest(indkey), unnest(range(1, CASE WHEN 1 = 1 THEN CAST(cardinality(indkey) AS BIGINT) + 1 ELSE 1 END)) FROM pg_index"
        );
    }
}
