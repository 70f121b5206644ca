//! Names as SQL writes them: identifiers (folded to lower case unless
//! quoted), object and table names, type names, and the names PostgreSQL
//! gives unnamed result columns. Every name a statement gives passes
//! through [`ident`].

use sqlparser::ast::{self, DataType};

use crate::error::{SqlError, SqlResult};
use crate::value::{Element, SqlType};

/// An identifier as SQL means it: folded to lower case unless quoted.
pub fn ident(i: &ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

/// The unqualified, normalised last part of an object name.
pub fn object_name(name: &ast::ObjectName) -> SqlResult<String> {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(i)) => Ok(ident(i)),
        _ => Err(SqlError::syntax(format!("unsupported name {name}"))),
    }
}

/// The qualifier (schema) of a table name, if given.
pub fn table_name(name: &ast::ObjectName) -> SqlResult<String> {
    if name.0.len() > 1 {
        let schema = match &name.0[name.0.len() - 2] {
            ast::ObjectNamePart::Identifier(i) => ident(i),
            _ => String::new(),
        };
        if schema != "public" {
            return Err(SqlError::undefined_table(format!(
                "relation \"{name}\" does not exist"
            )));
        }
    }
    object_name(name)
}

/// Maps a SQL type name to one of ours.
pub fn sql_type(dt: &DataType) -> SqlResult<SqlType> {
    Ok(match dt {
        DataType::Text | DataType::Varchar(_) | DataType::String(_) => SqlType::Text,
        DataType::JSON => SqlType::Json,
        DataType::JSONB => SqlType::Jsonb,
        DataType::BigInt(_) | DataType::Int8(_) => SqlType::Int8,
        DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => SqlType::Int4,
        DataType::SmallInt(_) | DataType::Int2(_) => SqlType::Int2,
        DataType::Bool | DataType::Boolean => SqlType::Bool,
        DataType::Float8 | DataType::Double(_) | DataType::DoublePrecision | DataType::Real => {
            SqlType::Float8
        }
        DataType::Timestamp(_, ast::TimezoneInfo::Tz | ast::TimezoneInfo::WithTimeZone) => {
            SqlType::Timestamptz
        }
        DataType::Timestamp(_, _) => SqlType::Timestamp,
        DataType::Array(
            ast::ArrayElemTypeDef::SquareBracket(inner, _)
            | ast::ArrayElemTypeDef::AngleBracket(inner),
        ) => match Element::of(sql_type(inner)?) {
            Some(e) => SqlType::Array(e),
            None => {
                return Err(SqlError::feature_not_supported(format!(
                    "type {dt} is not supported"
                )))
            }
        },
        DataType::Custom(name, _) => match object_name(name)?.as_str() {
            "timestamptz" => SqlType::Timestamptz,
            "timestamp" => SqlType::Timestamp,
            "text" | "varchar" | "name" => SqlType::Text,
            "json" => SqlType::Json,
            "jsonb" => SqlType::Jsonb,
            "int8" => SqlType::Int8,
            "int4" => SqlType::Int4,
            "int2" => SqlType::Int2,
            "float8" => SqlType::Float8,
            "bool" => SqlType::Bool,
            other => {
                return Err(SqlError::undefined_object(format!(
                    "type \"{other}\" does not exist"
                )))
            }
        },
        other => {
            return Err(SqlError::feature_not_supported(format!(
                "type {other} is not supported"
            )))
        }
    })
}

/// The name PostgreSQL gives an unnamed result column.
pub fn column_name(e: &ast::Expr) -> String {
    figured(e).0
}

/// How sure a column's name is, as PostgreSQL's `FigureColname` ranks
/// them: a column's or a function's name beats a cast's type name, which
/// beats `?column?`.
#[derive(Clone, Copy)]
enum Strength {
    Unnamed,
    TypeName,
    Named,
}

fn figured(e: &ast::Expr) -> (String, Strength) {
    match e {
        ast::Expr::Identifier(i) => (ident(i), Strength::Named),
        ast::Expr::CompoundIdentifier(parts) => {
            (parts.last().map(ident).unwrap_or_default(), Strength::Named)
        }
        ast::Expr::Function(f) => match object_name(&f.name) {
            Ok(name) => (name, Strength::Named),
            Err(_) => ("?column?".into(), Strength::Unnamed),
        },
        // A cast of what has no name of its own is named for its type
        // (`1::int` is `int4`, `'a'::regclass::text` is `text`).
        ast::Expr::Cast {
            expr, data_type, ..
        } => match figured(expr) {
            named @ (_, Strength::Named) => named,
            _ => (cast_name(data_type), Strength::TypeName),
        },
        ast::Expr::Nested(expr) => figured(expr),
        ast::Expr::Case { .. } => ("case".into(), Strength::TypeName),
        _ => ("?column?".into(), Strength::Unnamed),
    }
}

/// SQL's names of types whose `pg_type.typname` differs.
pub const TYPE_SPELLINGS: &[(&str, &str)] = &[
    ("integer", "int4"),
    ("int", "int4"),
    ("smallint", "int2"),
    ("bigint", "int8"),
    ("boolean", "bool"),
    ("real", "float4"),
    ("double precision", "float8"),
    ("double", "float8"),
    ("float", "float8"),
    ("character varying", "varchar"),
    ("character", "bpchar"),
    ("char", "bpchar"),
    ("decimal", "numeric"),
    ("dec", "numeric"),
    ("timestamp with time zone", "timestamptz"),
    ("timestamp without time zone", "timestamp"),
    ("time with time zone", "timetz"),
    ("time without time zone", "time"),
];

/// The `typname` a type's SQL spelling means (`Integer` is `int4`,
/// `pg_catalog.varchar(10)` is `varchar`, `int[]` is `int4`), with a
/// modifier, an array suffix and the `pg_catalog` qualifier left off.
pub fn typname(spelling: &str) -> String {
    let lower = spelling.trim().to_ascii_lowercase();
    let lower = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
    let mut bare = String::with_capacity(lower.len());
    let mut depth = 0usize;
    for c in lower.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => bare.push(c),
            _ => {}
        }
    }
    let bare = bare.split_whitespace().collect::<Vec<_>>().join(" ");
    TYPE_SPELLINGS
        .iter()
        .find(|(sql, _)| *sql == bare)
        .map_or(bare.clone(), |(_, name)| name.to_string())
}

/// The name PostgreSQL gives a result column that casts an unnamed
/// expression: the type's `typname`.
pub fn cast_name(dt: &DataType) -> String {
    typname(&dt.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_spellings_name_their_typname() {
        for (spelling, name) in [
            ("INTEGER", "int4"),
            ("pg_catalog.regclass", "regclass"),
            ("CHARACTER VARYING(10)", "varchar"),
            ("TIMESTAMP(3) WITH TIME ZONE", "timestamptz"),
            ("INT[]", "int4"),
            ("DOUBLE PRECISION", "float8"),
            ("jsonb", "jsonb"),
        ] {
            assert_eq!(typname(spelling), name, "{spelling}");
        }
    }

    #[test]
    fn columns_are_named_as_postgresql_names_them() {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        for (sql, name) in [
            ("o.size", "size"),
            ("1::int", "int4"),
            ("'objects'::regclass::text", "text"),
            ("attrelid::regclass::text", "attrelid"),
            ("now()::text", "now"),
            ("(CASE WHEN a THEN 1 END)::int8", "int8"),
            ("1 + 2", "?column?"),
        ] {
            let e = sqlparser::parser::Parser::new(&dialect)
                .try_with_sql(sql)
                .unwrap()
                .parse_expr()
                .unwrap();
            assert_eq!(column_name(&e), name, "{sql}");
        }
    }
}
