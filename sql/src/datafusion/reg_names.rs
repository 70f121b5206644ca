//! OIDs shown as names, as PostgreSQL prints a `regclass`, `regtype` or
//! `regnamespace`: `x::regclass` in a SELECT list is the relation's name
//! (psql's `\d` lists referencing tables so), `'int4'::regtype` is
//! `integer`, and a cast of one on to text (`attrelid::regclass::text =
//! 'objects'`) compares names wherever it stands. datafusion-pg-catalog
//! plans these types as a plain `int4`, so the OID showed instead.
//!
//! A relation's or schema's name is its catalog row's (`(SELECT r.relname
//! FROM pg_catalog.pg_class r WHERE r.oid = x)`), a type's is
//! `format_type(x, NULL)`. Output columns keep their names (see
//! `postgres_names`); casts elsewhere (comparisons, joins) keep comparing
//! OIDs. A cast of a name (`'objects'::regclass`) stays inside the lookup
//! for [`super::reg_lookup`] to resolve.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, SelectItem, SetExpr, Statement, VisitMut, VisitorMut};

use super::reg_lookup::{computed_class, names_object, RegKind};
use super::sql_ast::parsed_expr;
use crate::bind::typname;

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut Names);
}

struct Names;

impl VisitorMut for Names {
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
            if let Some(name) = shown(expr) {
                *expr = name;
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Cast {
            expr: inner,
            data_type,
            ..
        } = e
        {
            if matches!(
                typname(&data_type.to_string()).as_str(),
                "text" | "varchar" | "name"
            ) {
                if let Some(name) = shown(inner) {
                    *e = name;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The name `e` shows if it is a cast to an OID type that prints as one.
fn shown(e: &Expr) -> Option<Expr> {
    let Expr::Cast {
        expr: inner,
        data_type,
        ..
    } = e
    else {
        return None;
    };
    let kind = RegKind::of(data_type)?;
    // A relation name computed from the row is shown once its lookup
    // succeeds: its name found by the same comparisons, not a lookup
    // inside a lookup (a correlated subquery DataFusion cannot plan).
    let mut operand = inner.as_ref();
    while let Expr::Nested(nested) = operand {
        operand = nested;
    }
    if kind == RegKind::Class && matches!(operand, Expr::BinaryOp { .. }) && names_object(operand) {
        let name = format!("({operand})");
        return parsed_expr(&format!(
            "CASE WHEN {e} IS NOT NULL THEN {} END",
            computed_class(&name, "relname")
        ));
    }
    // A name is looked up as the cast; a column holds the OID already.
    let oid = if names_object(inner) {
        e.to_string()
    } else {
        inner.to_string()
    };
    let sql = match kind {
        RegKind::Class => {
            format!("(SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = {oid})")
        }
        RegKind::Namespace => {
            format!("(SELECT r.nspname FROM pg_catalog.pg_namespace r WHERE r.oid = {oid})")
        }
        RegKind::Type => format!("format_type({oid}, NULL)"),
        // A regproc column holds the name already (see `regproc`).
        RegKind::Proc => return None,
    };
    parsed_expr(&sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::sql_ast::rewritten(sql, rewrite)
    }

    #[test]
    fn output_casts_show_names() {
        assert_eq!(
            rewritten("SELECT conname, conrelid::pg_catalog.regclass AS ontable FROM pg_constraint"),
            "SELECT conname, (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = conrelid) AS ontable FROM pg_constraint"
        );
        assert_eq!(
            rewritten("SELECT c.conrelid::regclass FROM pg_constraint c"),
            "SELECT (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = c.conrelid) FROM pg_constraint c"
        );
        assert_eq!(
            rewritten("SELECT 'objects'::regclass, atttypid::regtype FROM a"),
            "SELECT (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = 'objects'::REGCLASS), format_type(atttypid, NULL) FROM a"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM a WHERE attrelid::regclass::text = 'objects'"),
            "SELECT 1 FROM a WHERE (SELECT r.relname FROM pg_catalog.pg_class r WHERE r.oid = attrelid) = 'objects'"
        );
        let kept = "SELECT x FROM t WHERE t.r = c.oid::REGCLASS";
        assert_eq!(rewritten(kept), kept);
    }
}
