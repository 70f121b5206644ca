//! A select list may repeat a column or an expression
//! (`SELECT o.size, o.size`, `SELECT 1, 1`): PostgreSQL returns both,
//! DataFusion refuses a projection whose expressions share a name. Such a
//! statement is planned again with the select list's unnamed items given
//! names of their own (`__column1`, …); the names the client sees are
//! PostgreSQL's, computed before, so only DataFusion's internal names
//! change. Only a statement DataFusion refused for this is rewritten, so
//! every other plan is untouched.

use std::ops::ControlFlow;

use datafusion::common::DataFusionError;
use sqlparser::ast::{Expr, Ident, Query, SelectItem, SetExpr, Statement, VisitMut, VisitorMut};

/// Whether DataFusion refused a projection for names it repeats.
pub fn refused(e: &DataFusionError) -> bool {
    e.find_root()
        .message()
        .contains("require unique expression names")
}

/// Names the unnamed select items of `stmt`. In the outermost select
/// lists every item is named, and `names` (PostgreSQL's, per column) is
/// given the column's name where it kept DataFusion's; in nested queries
/// only expressions are, since a derived table's columns are referred to
/// by name.
pub fn rewrite(stmt: &mut Statement, names: &mut Option<Vec<Option<String>>>) {
    let Statement::Query(q) = stmt else {
        return;
    };
    outermost(&mut q.body, Some(names));
    let _ = q.body.visit(&mut Nested);
}

/// `names` is `None` on the right of a set operation, whose names are not
/// the result's: there every item is named.
fn outermost(body: &mut SetExpr, mut names: Option<&mut Option<Vec<Option<String>>>>) {
    match body {
        SetExpr::Select(select) => {
            for (i, item) in select.projection.iter_mut().enumerate() {
                let SelectItem::UnnamedExpr(e) = item else {
                    continue;
                };
                match names.as_deref_mut() {
                    Some(Some(names)) => {
                        if let Some(name) = names.get_mut(i) {
                            if name.is_none() {
                                *name = column_name(e);
                            }
                            // A column whose name is unknown keeps its own.
                            if name.is_none() {
                                continue;
                            }
                        }
                    }
                    // No names (a wildcard): a column keeps its own.
                    Some(None) if is_column(e) => continue,
                    _ => {}
                }
                *item = named(e.clone(), i);
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            outermost(left, names);
            outermost(right, None);
        }
        SetExpr::Query(q) => outermost(&mut q.body, names),
        _ => {}
    }
}

/// Names the expressions (not the columns) of nested select lists.
struct Nested;

impl VisitorMut for Nested {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = &mut *q.body {
            for (i, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(e) = item {
                    if !is_column(e) {
                        *item = named(e.clone(), i);
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
}

fn is_column(e: &Expr) -> bool {
    matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

/// The name PostgreSQL gives a column read as is.
fn column_name(e: &Expr) -> Option<String> {
    let ident = match e {
        Expr::Identifier(i) => i,
        Expr::CompoundIdentifier(parts) => parts.last()?,
        _ => return None,
    };
    Some(match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    })
}

fn named(expr: Expr, i: usize) -> SelectItem {
    SelectItem::ExprWithAlias {
        expr,
        alias: Ident::new(format!("__column{}", i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Statement {
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn outer_items_are_named_and_keep_their_client_names() {
        let mut stmt = parse("SELECT o.Size, o.size, 1, key AS k FROM o");
        let mut names = Some(vec![None, None, Some("?column?".into()), None]);
        rewrite(&mut stmt, &mut names);
        assert_eq!(
            stmt.to_string(),
            "SELECT o.Size AS __column1, o.size AS __column2, 1 AS __column3, key AS k FROM o"
        );
        let s = |v: &str| Some(v.to_string());
        assert_eq!(names, Some(vec![s("size"), s("size"), s("?column?"), None]));
    }

    #[test]
    fn nested_lists_keep_their_columns_and_the_right_side_names_nothing() {
        let mut stmt = parse("SELECT s.a FROM (SELECT a, a + 1 FROM t) s UNION SELECT b FROM u");
        let mut names = Some(vec![None]);
        rewrite(&mut stmt, &mut names);
        assert_eq!(
            stmt.to_string(),
            "SELECT s.a AS __column1 FROM (SELECT a, a + 1 AS __column2 FROM t) s \
             UNION SELECT b AS __column1 FROM u"
        );
        assert_eq!(names, Some(vec![Some("a".into())]));
    }

    #[test]
    fn without_names_a_column_keeps_its_own() {
        let mut stmt = parse("SELECT *, o.size, 1 FROM o");
        let mut names = None;
        rewrite(&mut stmt, &mut names);
        assert_eq!(stmt.to_string(), "SELECT *, o.size, 1 AS __column3 FROM o");
    }
}
