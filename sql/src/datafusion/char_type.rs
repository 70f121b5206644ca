//! PostgreSQL's one-byte `"char"` type, which the catalogs use for kinds
//! (`relkind`, `contype`) and which pg_dump casts literals to
//! (`'r'::"char"`). The library's catalogs hold those columns as text, so
//! a cast to `"char"` is a cast to text, which compares with them as
//! PostgreSQL's does with its `"char"` columns.

use std::ops::ControlFlow;

use sqlparser::ast::{DataType, Expr, ObjectNamePart, Statement, VisitMut, VisitorMut};

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut CharCasts);
}

struct CharCasts;

impl VisitorMut for CharCasts {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Cast { data_type, .. } = e {
            let is_char = matches!(data_type, DataType::Custom(name, modifiers)
                if modifiers.is_empty()
                    && matches!(name.0.last(), Some(ObjectNamePart::Identifier(i))
                        if i.value == "char" && i.quote_style.is_some()));
            if is_char {
                *data_type = DataType::Text;
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_casts_are_text_casts() {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(
            &dialect,
            r#"SELECT 's'::"char", CAST('r' AS pg_catalog."char"), 'x'::char"#,
        )
        .unwrap()
        .remove(0);
        rewrite(&mut stmt);
        assert_eq!(
            stmt.to_string(),
            "SELECT 's'::TEXT, CAST('r' AS TEXT), 'x'::CHAR"
        );
    }
}
