//! `x::regclass` in a SELECT list shows the relation's name, as
//! PostgreSQL prints a regclass (psql's `\d` lists referencing tables so).
//! datafusion-pg-catalog plans the type as a plain `int4`, so the OID
//! showed instead. An output column cast so is rewritten as the name's
//! lookup, `(SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid =
//! x)` (the column keeps its name: see `postgres_names`);
//! casts elsewhere (comparisons, joins) keep comparing OIDs. A string
//! literal (`'objects'::regclass`) is left to the library, which resolves
//! it to the OID.

use std::ops::ControlFlow;

use sqlparser::ast::{
    DataType, Expr, ObjectNamePart, Query, SelectItem, SetExpr, Statement, VisitMut, VisitorMut,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut OutputCasts);
}

struct OutputCasts;

impl VisitorMut for OutputCasts {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(s) = q.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        for item in &mut s.projection {
            let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item
            else {
                continue;
            };
            let Expr::Cast {
                expr: inner,
                data_type,
                ..
            } = expr
            else {
                continue;
            };
            if !is_regclass(data_type) || matches!(**inner, Expr::Value(_)) {
                continue;
            }
            if let Some(lookup) = name_of(inner) {
                *expr = lookup;
            }
        }
        ControlFlow::Continue(())
    }
}

fn is_regclass(t: &DataType) -> bool {
    match t {
        DataType::Regclass => true,
        DataType::Custom(name, args) if args.is_empty() => matches!(
            name.0.last(),
            Some(ObjectNamePart::Identifier(i)) if i.value.eq_ignore_ascii_case("regclass")
        ),
        _ => false,
    }
}

/// `(SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = <e>)`
/// (an alias of its own: the outer query's relations may have an `oid`).
fn name_of(e: &Expr) -> Option<Expr> {
    let sql = "SELECT (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = 0)";
    let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?.pop()?;
    let Statement::Query(q) = &mut stmt else {
        return None;
    };
    let SetExpr::Select(s) = q.body.as_mut() else {
        return None;
    };
    let Some(SelectItem::UnnamedExpr(Expr::Subquery(sub))) = s.projection.pop() else {
        return None;
    };
    let mut sub = sub;
    let SetExpr::Select(inner) = sub.body.as_mut() else {
        return None;
    };
    if let Some(Expr::BinaryOp { right, .. }) = &mut inner.selection {
        **right = e.clone();
    }
    Some(Expr::Subquery(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt);
        stmt.to_string()
    }

    #[test]
    fn output_regclass_casts_show_names() {
        assert_eq!(
            rewritten("SELECT conname, conrelid::pg_catalog.regclass AS ontable FROM pg_constraint"),
            "SELECT conname, (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = conrelid) AS ontable FROM pg_constraint"
        );
        assert_eq!(
            rewritten("SELECT c.conrelid::regclass FROM pg_constraint c"),
            "SELECT (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = c.conrelid) FROM pg_constraint c"
        );
        for kept in [
            "SELECT 'objects'::REGCLASS",
            "SELECT x FROM t WHERE t.r = c.oid::REGCLASS",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }
}
