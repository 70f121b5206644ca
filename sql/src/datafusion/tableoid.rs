//! The system column `tableoid` of the catalog tables: the OID of the
//! catalog a row is in, which pg_dump selects from every catalog it reads
//! (`SELECT x.tableoid, x.oid, … FROM pg_extension x`) to name objects by
//! (catalog, OID). datafusion-pg-catalog's tables have no system columns,
//! and the value is a constant per table, so `x.tableoid` is written as
//! that constant where `x` is a catalog table of the query's FROM (and a
//! bare `tableoid` where one catalog table is all the FROM holds). The
//! OIDs are PostgreSQL's own.

use std::collections::HashMap;
use std::ops::ControlFlow;

use sqlparser::ast::{
    visit_expressions_mut, Expr, Ident, Query, SelectItem, SetExpr, Statement, TableFactor, Value,
    VisitMut, VisitorMut,
};

/// PostgreSQL's OIDs of its catalogs.
const CATALOG_OIDS: &[(&str, u32)] = &[
    ("pg_aggregate", 2600),
    ("pg_am", 2601),
    ("pg_attrdef", 2604),
    ("pg_attribute", 1249),
    ("pg_auth_members", 1261),
    ("pg_authid", 1260),
    ("pg_cast", 2605),
    ("pg_class", 1259),
    ("pg_collation", 3456),
    ("pg_constraint", 2606),
    ("pg_conversion", 2607),
    ("pg_database", 1262),
    ("pg_default_acl", 826),
    ("pg_depend", 2608),
    ("pg_description", 2609),
    ("pg_enum", 3501),
    ("pg_event_trigger", 3466),
    ("pg_extension", 3079),
    ("pg_foreign_data_wrapper", 2328),
    ("pg_foreign_server", 1417),
    ("pg_index", 2610),
    ("pg_inherits", 2611),
    ("pg_init_privs", 3394),
    ("pg_language", 2612),
    ("pg_largeobject_metadata", 2995),
    ("pg_namespace", 2615),
    ("pg_opclass", 2616),
    ("pg_operator", 2617),
    ("pg_opfamily", 2753),
    ("pg_policy", 3256),
    ("pg_proc", 1255),
    ("pg_publication", 6104),
    ("pg_publication_namespace", 6237),
    ("pg_publication_rel", 6106),
    ("pg_range", 3541),
    ("pg_rewrite", 2618),
    ("pg_sequence", 2224),
    ("pg_statistic_ext", 3381),
    ("pg_subscription", 6100),
    ("pg_tablespace", 1213),
    ("pg_transform", 3576),
    ("pg_trigger", 2620),
    ("pg_ts_config", 3602),
    ("pg_ts_dict", 3600),
    ("pg_ts_parser", 3601),
    ("pg_ts_template", 3764),
    ("pg_type", 1247),
];

pub(super) fn catalog_oid(name: &str) -> Option<u32> {
    CATALOG_OIDS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, oid)| *oid)
}

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut TableOids);
}

struct TableOids;

impl VisitorMut for TableOids {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        let SetExpr::Select(s) = q.body.as_mut() else {
            return ControlFlow::Continue(());
        };
        // Name (alias, or the table's own name) → the catalog's OID.
        let mut oids: HashMap<String, u32> = HashMap::new();
        let mut tables = 0;
        for t in &s.from {
            for factor in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
                tables += 1;
                let TableFactor::Table { name, alias, .. } = factor else {
                    continue;
                };
                let Some(table) = name.0.last().and_then(|p| p.as_ident()) else {
                    continue;
                };
                if let Some(oid) = catalog_oid(&table.value) {
                    let called = alias.as_ref().map_or(&table.value, |a| &a.name.value);
                    oids.insert(called.to_ascii_lowercase(), oid);
                }
            }
        }
        if oids.is_empty() {
            return ControlFlow::Continue(());
        }
        let only = (tables == 1)
            .then(|| oids.values().next().copied())
            .flatten();
        let oid_of = |e: &Expr| match e {
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                match parts[1].value.eq_ignore_ascii_case("tableoid") {
                    true => oids.get(&parts[0].value.to_ascii_lowercase()).copied(),
                    false => None,
                }
            }
            Expr::Identifier(i) if i.value.eq_ignore_ascii_case("tableoid") => only,
            _ => None,
        };
        let number = |oid: u32| Expr::Value(Value::Number(oid.to_string(), false).into());
        // A selected `x.tableoid` keeps its name: pg_dump finds the column
        // by it.
        for item in s.projection.iter_mut() {
            if let SelectItem::UnnamedExpr(e) = item {
                if let Some(oid) = oid_of(e) {
                    *item = SelectItem::ExprWithAlias {
                        expr: number(oid),
                        alias: Ident::new("tableoid"),
                    };
                }
            }
        }
        let _ = visit_expressions_mut(s.as_mut(), |e| {
            if let Some(oid) = oid_of(e) {
                *e = number(oid);
            }
            ControlFlow::<()>::Continue(())
        });
        ControlFlow::Continue(())
    }
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
    fn tableoid_is_the_catalogs_oid() {
        assert_eq!(
            rewritten(
                "SELECT x.tableoid, n.tableoid, x.oid FROM pg_extension x \
                 JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace"
            ),
            "SELECT 3079 AS tableoid, 2615 AS tableoid, x.oid FROM pg_extension x \
             JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace"
        );
        assert_eq!(
            rewritten("SELECT tableoid, oid FROM pg_class"),
            "SELECT 1259 AS tableoid, oid FROM pg_class"
        );
        assert_eq!(
            rewritten("SELECT c.oid FROM pg_class c WHERE c.tableoid = 1259"),
            "SELECT c.oid FROM pg_class c WHERE 1259 = 1259"
        );
        // A table of bucketdb's own has no such column to invent.
        assert_eq!(
            rewritten("SELECT o.tableoid FROM objects o"),
            "SELECT o.tableoid FROM objects o"
        );
    }
}
