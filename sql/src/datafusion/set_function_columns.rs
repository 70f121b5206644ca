//! The column of a one-column set-returning call in FROM is named as
//! PostgreSQL names it: after the alias if there is one, else after the
//! function (`SELECT * FROM generate_series(1, 3)` has the column
//! `generate_series`, `unnest(…) AS u` the column `u`). DataFusion names
//! it `value` or after the whole expression, so a client fetching the
//! column by name found none. The call gets the column alias PostgreSQL
//! would give it; one already written is kept.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Ident, ObjectNamePart, Statement, TableAlias, TableAliasColumnDef, TableFactor, VisitMut,
    VisitorMut,
};

/// Set-returning functions of one output column.
const ONE_COLUMN: &[&str] = &["generate_series"];

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut NameColumns);
}

struct NameColumns;

impl VisitorMut for NameColumns {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let (alias, function) = match factor {
            TableFactor::Table {
                name,
                alias,
                args: Some(_),
                with_ordinality: false,
                ..
            } => match name.0.last() {
                Some(ObjectNamePart::Identifier(f))
                    if ONE_COLUMN.contains(&f.value.to_ascii_lowercase().as_str()) =>
                {
                    let f = f.clone();
                    (alias, f)
                }
                _ => return ControlFlow::Continue(()),
            },
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } if array_exprs.len() == 1 => (alias, Ident::new("unnest")),
            _ => return ControlFlow::Continue(()),
        };
        let alias = alias.get_or_insert_with(|| TableAlias {
            explicit: true,
            name: function,
            columns: vec![],
            at: None,
        });
        if alias.columns.is_empty() {
            alias.columns = vec![TableAliasColumnDef {
                name: alias.name.clone(),
                data_type: None,
            }];
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt);
        stmt.to_string()
    }

    #[test]
    fn the_column_takes_the_alias_or_the_function_name() {
        assert_eq!(
            rewritten("SELECT * FROM generate_series(1, 3)"),
            "SELECT * FROM generate_series(1, 3) AS generate_series (generate_series)"
        );
        assert_eq!(
            rewritten("SELECT g FROM generate_series(1, 3) g"),
            "SELECT g FROM generate_series(1, 3) g (g)"
        );
        assert_eq!(
            rewritten("SELECT * FROM unnest(ARRAY[1, 2]) AS u"),
            "SELECT * FROM UNNEST(ARRAY[1, 2]) AS u (u)"
        );
        // Kept: column aliases written, several arrays, other tables.
        for kept in [
            "SELECT * FROM generate_series(1, 3) AS g (n)",
            "SELECT * FROM UNNEST(ARRAY[1], ARRAY[2])",
            "SELECT * FROM objects",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }
}
