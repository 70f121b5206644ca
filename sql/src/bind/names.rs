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
        DataType::JSON | DataType::JSONB => SqlType::Json,
        DataType::BigInt(_) | DataType::Int8(_) => SqlType::Int8,
        DataType::Int(_)
        | DataType::Integer(_)
        | DataType::Int4(_)
        | DataType::SmallInt(_)
        | DataType::Int2(_) => SqlType::Int4,
        DataType::Bool | DataType::Boolean => SqlType::Bool,
        DataType::Float8 | DataType::Double(_) | DataType::DoublePrecision | DataType::Real => {
            SqlType::Float8
        }
        DataType::Timestamp(_, _) => SqlType::Timestamptz,
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
            "text" | "varchar" | "name" => SqlType::Text,
            "json" | "jsonb" => SqlType::Json,
            "int8" => SqlType::Int8,
            "int4" | "int2" => SqlType::Int4,
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
    match e {
        ast::Expr::Identifier(i) => ident(i),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident).unwrap_or_default(),
        ast::Expr::Function(f) => object_name(&f.name).unwrap_or_else(|_| "?column?".into()),
        ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) => {
            match column_name(expr).as_str() {
                "?column?" => "?column?".into(),
                n => n.to_string(),
            }
        }
        _ => "?column?".into(),
    }
}
