//! `obj_description(oid, 'catalog')`, `obj_description(oid)`,
//! `col_description(table, column)` and `shobj_description(oid,
//! 'catalog')` answer from `pg_description` and `pg_shdescription`, as
//! PostgreSQL's own SQL definitions of them do: each call becomes the
//! scalar subquery of the matching row's `description` (psql's `\dn+`,
//! `\df+` and `\dT` showed no description where `pg_description` had one,
//! such as public's).
//!
//! A comment's `classoid` is the OID PostgreSQL gives the catalog the
//! object lives in (2615 for `pg_namespace`), fixed in PostgreSQL and in
//! the comments datafusion-pg-catalog ships, while the library numbers its
//! own `pg_class` rows anew (`'pg_namespace'::regclass` is not 2615). So
//! the catalog's name is mapped to PostgreSQL's OID (from the table
//! `tableoid` answers with); a name not there is looked up as a relation
//! (`'nope'` fails with 42P01, as in PostgreSQL) and has no comment. A catalog computed by the query
//! is not supported (the call fails as an unknown function).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value, VisitMut, VisitorMut,
};

use super::sql_ast::parsed_expr;
use super::tableoid::catalog_oid;

/// Whether the (lower-case) query text calls one of the functions.
pub fn mentioned(lower: &str) -> bool {
    lower.contains("_description")
}

/// Rewrites the calls of `stmt` to the description functions.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut Calls);
}

struct Calls;

impl VisitorMut for Calls {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Some(lookup) = lookup(e) {
            *e = lookup;
        }
        ControlFlow::Continue(())
    }
}

/// The subquery a call to a description function stands for.
fn lookup(e: &Expr) -> Option<Expr> {
    let Expr::Function(f) = e else {
        return None;
    };
    let name = f.name.0.last()?.as_ident()?.value.to_ascii_lowercase();
    let qualifier = match f.name.0.as_slice() {
        [_] => None,
        [q, _] => Some(q.as_ident()?.value.to_ascii_lowercase()),
        _ => return None,
    };
    if qualifier.is_some_and(|q| q != "pg_catalog") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<&Expr> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect::<Option<_>>()?;
    // The comment's alias is one no query of a client's uses: psql's
    // `\l+` calls `shobj_description(d.oid, …)` over `pg_database d`.
    let c = "bucketdb_comment";
    let (table, object, class, subid) = match (name.as_str(), args.as_slice()) {
        ("obj_description", [object]) => ("pg_description", object, None, Some("0".to_string())),
        ("obj_description", [object, catalog]) => (
            "pg_description",
            object,
            Some(catalog_arg(catalog)?),
            Some("0".to_string()),
        ),
        ("col_description", [table, column]) => (
            "pg_description",
            table,
            Some(CatalogArg::Known(catalog_oid("pg_class")?)),
            Some(format!("({column})")),
        ),
        ("shobj_description", [object, catalog]) => (
            "pg_shdescription",
            object,
            Some(catalog_arg(catalog)?),
            None,
        ),
        _ => return None,
    };
    let mut condition = format!("{c}.objoid = ({object})");
    match class {
        Some(CatalogArg::Known(oid)) => condition = format!("{c}.classoid = {oid} AND {condition}"),
        // PostgreSQL looks the name up (a missing one fails with 42P01).
        Some(CatalogArg::Other(name)) => {
            return parsed_expr(&format!(
                "CASE WHEN {name}::regclass IS NOT NULL THEN NULL::text END"
            ))
        }
        None => {}
    }
    if let Some(subid) = subid {
        condition = format!("{condition} AND {c}.objsubid = {subid}");
    }
    // At most one comment matches (PostgreSQL keys them so); `min` makes
    // the subquery an aggregate, which DataFusion joins rather than
    // evaluating per row.
    parsed_expr(&format!(
        "(SELECT min({c}.description) FROM pg_catalog.{table} AS {c} WHERE {condition})"
    ))
}

/// What a catalog argument names.
enum CatalogArg {
    /// A catalog of PostgreSQL's, by its OID.
    Known(u32),
    /// Another name, whose relation holds no comment bucketdb knows of.
    Other(String),
}

/// The catalog a literal argument names; `None` for a computed one,
/// which is left to fail as a call of an unknown function.
fn catalog_arg(catalog: &Expr) -> Option<CatalogArg> {
    let Expr::Value(v) = catalog else {
        return None;
    };
    let Value::SingleQuotedString(name) = &v.value else {
        return None;
    };
    let lower = name.to_ascii_lowercase();
    let bare = lower.trim_start_matches("pg_catalog.");
    Some(match catalog_oid(bare) {
        Some(oid) => CatalogArg::Known(oid),
        None => CatalogArg::Other(catalog.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::sql_ast::rewritten;
    use super::*;

    #[test]
    fn calls_become_lookups_of_the_comment() {
        assert_eq!(
            rewritten(
                "SELECT obj_description(n.oid, 'pg_namespace') FROM pg_namespace n",
                rewrite
            ),
            "SELECT (SELECT min(bucketdb_comment.description) \
             FROM pg_catalog.pg_description AS bucketdb_comment \
             WHERE bucketdb_comment.classoid = 2615 AND bucketdb_comment.objoid = (n.oid) \
             AND bucketdb_comment.objsubid = 0) FROM pg_namespace n"
        );
        let column = rewritten(
            "SELECT pg_catalog.col_description(c.oid, a.attnum)",
            rewrite,
        );
        assert!(column.contains("classoid = 1259 AND bucketdb_comment.objoid = (c.oid)"));
        assert!(column.contains("objsubid = (a.attnum)"));
        assert_eq!(
            rewritten("SELECT obj_description(1, 'nope')", rewrite),
            "SELECT CASE WHEN 'nope'::REGCLASS IS NOT NULL THEN NULL::TEXT END"
        );
        let shared = rewritten("SELECT shobj_description(d.oid, 'pg_database')", rewrite);
        assert!(shared.contains("pg_shdescription AS bucketdb_comment"));
        assert!(shared.contains("classoid = 1262 AND bucketdb_comment.objoid = (d.oid)"));
    }

    #[test]
    fn other_functions_and_schemas_are_left_alone() {
        for sql in [
            "SELECT other.obj_description(1, 'pg_class')",
            "SELECT obj_description(1, 2, 3)",
            "SELECT my_description(1)",
            "SELECT obj_description(1, relname) FROM pg_class",
        ] {
            assert_eq!(rewritten(sql, rewrite), sql);
        }
    }
}
