//! `'objects'::regclass`, `'integer'::regtype`, `'public'::regnamespace`,
//! `'now'::regproc`: the OID of the named object, found as PostgreSQL's
//! input functions find it, or an error naming what does not exist.
//!
//! datafusion-pg-catalog's rewrite of these casts answered NULL for a name
//! it did not find, so `WHERE attrelid = 'nope'::regclass` matched nothing
//! instead of failing; it looked an unqualified relation up in `public`
//! only (`'pg_class'::regclass` was NULL) and a type by its `typname` only
//! (`'integer'::regtype` was NULL). Here a relation's unqualified name is
//! looked up in `pg_catalog` first and then in the current schema, a type
//! by any of its SQL spellings (`to_regtype`), and the lookup is wrapped
//! in `bucketdb_reg_found(oid, kind, name)`, which fails with
//! PostgreSQL's SQLSTATE when the OID is NULL. A numeric string is the
//! OID itself. A parameter (`$1::regclass`) is looked up when it is bound.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use sqlparser::ast::{BinaryOperator, Expr, Statement, Value, VisitMut, VisitorMut};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use super::sql_ast::parsed_expr;
use crate::bind::{ident, typname};
use crate::error::{SqlError, SqlResult, SqlState};

/// The OID types a name is cast to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RegKind {
    Class,
    Type,
    Namespace,
    Proc,
}

impl RegKind {
    /// The kind a cast's target type names, if it is one (an array of
    /// one, `regtype[]`, is [`super::regtype`]'s).
    pub fn of(data_type: &sqlparser::ast::DataType) -> Option<RegKind> {
        if matches!(data_type, sqlparser::ast::DataType::Array(_)) {
            return None;
        }
        Some(match typname(&data_type.to_string()).as_str() {
            "regclass" => RegKind::Class,
            "regtype" => RegKind::Type,
            "regnamespace" => RegKind::Namespace,
            "regproc" => RegKind::Proc,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            RegKind::Class => "regclass",
            RegKind::Type => "regtype",
            RegKind::Namespace => "regnamespace",
            RegKind::Proc => "regproc",
        }
    }

    fn from_name(name: &str) -> Option<RegKind> {
        [
            RegKind::Class,
            RegKind::Type,
            RegKind::Namespace,
            RegKind::Proc,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    /// PostgreSQL's error for a name that names nothing of this kind.
    fn missing(self, name: &str) -> SqlError {
        match self {
            RegKind::Class => {
                SqlError::undefined_table(format!("relation \"{name}\" does not exist"))
            }
            RegKind::Type => SqlError::undefined_object(format!("type \"{name}\" does not exist")),
            RegKind::Namespace => SqlError::new(
                SqlState::InvalidSchemaName,
                format!("schema \"{name}\" does not exist"),
            ),
            RegKind::Proc => {
                SqlError::undefined_function(format!("function \"{name}\" does not exist"))
            }
        }
    }
}

/// Whether a cast's operand names the object (a literal, a parameter, or
/// a string computed with `||`) rather than holding its OID (a column).
pub fn names_object(operand: &Expr) -> bool {
    match operand {
        Expr::Value(_) => true,
        Expr::Nested(inner) => names_object(inner),
        Expr::BinaryOp {
            op: BinaryOperator::StringConcat,
            ..
        } => true,
        _ => false,
    }
}

/// Whether a statement's lower-cased text may cast a name to an OID type.
pub fn mentioned(lower: &str) -> bool {
    ["regclass", "regtype", "regnamespace", "regproc"]
        .iter()
        .any(|k| lower.contains(k))
}

/// Rewrites every cast of a string literal or a parameter to an OID type
/// as the lookup of the OID. A literal that is no name at all
/// (`'a.b.c.d'`) is refused here.
pub fn rewrite(stmt: &mut Statement) -> SqlResult<()> {
    let mut v = Lookups { error: None };
    let _ = stmt.visit(&mut v);
    v.error.map_or(Ok(()), Err)
}

struct Lookups {
    error: Option<SqlError>,
}

impl VisitorMut for Lookups {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let Expr::Cast {
            expr: operand,
            data_type,
            ..
        } = e
        else {
            return ControlFlow::Continue(());
        };
        let Some(kind) = RegKind::of(data_type) else {
            return ControlFlow::Continue(());
        };
        let mut operand = operand.as_ref();
        while let Expr::Nested(inner) = operand {
            operand = inner;
        }
        let found = match operand {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s)
                    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    Ok(Some(format!("CAST({s} AS INT)")))
                }
                Value::SingleQuotedString(s) => literal_lookup(kind, s).map(Some),
                Value::Placeholder(p) => Ok(Some(parameter_lookup(kind, p))),
                _ => Ok(None),
            },
            // A name computed from strings (`quote_ident(s) || '.' ||
            // quote_ident(t)`) is looked up once evaluated. Any other
            // operand (a column of OIDs) is an OID already.
            concat @ Expr::BinaryOp {
                op: BinaryOperator::StringConcat,
                ..
            } => Ok(Some(match kind {
                RegKind::Class => computed_class_lookup(&format!("({concat})")),
                _ => parameter_lookup(kind, &format!("({concat})")),
            })),
            _ => Ok(None),
        };
        match found {
            Ok(Some(sql)) => match parsed_expr(&sql) {
                Some(lookup) => *e = lookup,
                None => {
                    self.error = Some(SqlError::internal(format!("lookup {sql} did not parse")));
                    return ControlFlow::Break(());
                }
            },
            Ok(None) => {}
            Err(err) => {
                self.error = Some(err);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

/// `s` quoted as a SQL string literal.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The parts of a qualified name as PostgreSQL reads them: quoted parts
/// as written, the others folded to lower case.
fn name_parts(s: &str) -> SqlResult<Vec<String>> {
    let invalid = || SqlError::syntax(format!("invalid name syntax: \"{s}\""));
    let mut parser = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(s)
        .map_err(|_| invalid())?;
    let name = parser.parse_object_name(false).map_err(|_| invalid())?;
    if parser.peek_token().token != sqlparser::tokenizer::Token::EOF {
        return Err(invalid());
    }
    name.0
        .iter()
        .map(|p| p.as_ident().map(ident).ok_or_else(invalid))
        .collect()
}

/// The lookup of a literal name, checked.
fn literal_lookup(kind: RegKind, s: &str) -> SqlResult<String> {
    let found = |oid: String| {
        format!(
            "bucketdb_reg_found({oid}, '{}', {})",
            kind.name(),
            quoted(s)
        )
    };
    if kind == RegKind::Type {
        return Ok(found(format!("to_regtype({})", quoted(s))));
    }
    let parts = name_parts(s)?;
    let (schema, name) = match parts.as_slice() {
        [name] => (None, name),
        [schema, name] => (Some(schema), name),
        _ => {
            return Err(SqlError::syntax(format!(
                "improper qualified name (too many dotted names): {s}"
            )))
        }
    };
    let name = quoted(name);
    let in_schema = |column: &str| match schema {
        Some(schema) => format!("{column} = {}", quoted(schema)),
        None => format!("{column} IN ('pg_catalog', current_schema())"),
    };
    Ok(found(match kind {
        RegKind::Class => format!(
            "(SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON c.relnamespace = n.oid WHERE c.relname = {name} AND {} \
             ORDER BY n.nspname = 'pg_catalog' DESC LIMIT 1)",
            in_schema("n.nspname")
        ),
        RegKind::Proc => format!(
            "(SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n \
             ON p.pronamespace = n.oid WHERE p.proname = {name} AND {})",
            in_schema("n.nspname")
        ),
        RegKind::Namespace if schema.is_none() => {
            format!("(SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = {name})")
        }
        RegKind::Namespace | RegKind::Type => {
            return Err(SqlError::syntax(format!("invalid name syntax: \"{s}\"")))
        }
    }))
}

/// The lookup of a name bound later, as text, split by `parse_ident`.
fn parameter_lookup(kind: RegKind, p: &str) -> String {
    let text = format!("CAST({p} AS TEXT)");
    let oid = match kind {
        RegKind::Type => format!("to_regtype({text})"),
        RegKind::Namespace => {
            format!("(SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = {text})")
        }
        RegKind::Class | RegKind::Proc => {
            let (table, name, namespace) = match kind {
                RegKind::Class => ("pg_class", "relname", "relnamespace"),
                _ => ("pg_proc", "proname", "pronamespace"),
            };
            format!(
                "(SELECT c.oid FROM pg_catalog.{table} c JOIN pg_catalog.pg_namespace n \
                 ON c.{namespace} = n.oid CROSS JOIN (SELECT parse_ident({text}) AS parts) \
                 WHERE (array_length(parts, 1) = 1 AND c.{name} = parts[1] \
                 AND n.nspname IN ('pg_catalog', current_schema())) \
                 OR (array_length(parts, 1) = 2 AND n.nspname = parts[1] AND c.{name} = parts[2]) \
                 ORDER BY n.nspname = 'pg_catalog' DESC LIMIT 1)"
            )
        }
    };
    format!("bucketdb_reg_found({oid}, '{}', {text})", kind.name())
}

/// The lookup of a relation whose name the query computes, perhaps from
/// the columns of the row it is in (`(quote_ident(schemaname) || '.' ||
/// quote_ident(tablename))::regclass` over `pg_tables`): its OID, or the
/// error naming the missing relation.
fn computed_class_lookup(name: &str) -> String {
    format!(
        "bucketdb_reg_found({}, 'regclass', CAST({name} AS TEXT))",
        computed_class(name, "oid")
    )
}

/// `column` (`oid`, `relname`) of the relation a computed `name` names,
/// NULL if none. Each candidate is an aggregate over the relations' names
/// compared for equality with the name, which DataFusion turns into a
/// join; [`parameter_lookup`]'s `parse_ident` and `LIMIT` cannot be
/// decorrelated. The name matches a relation's `schema.name` or,
/// unqualified, its name in `pg_catalog` and then in the current schema,
/// each part as `quote_ident` writes it.
pub fn computed_class(name: &str, column: &str) -> String {
    let candidate = |key: &str, schema: &str| {
        format!(
            "(SELECT min(k.{column}) FROM (SELECT c.oid, c.relname, n.nspname, \
             quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified, \
             quote_ident(c.relname) AS bare FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid) k \
             WHERE k.{key} = {name}{schema})"
        )
    };
    format!(
        "COALESCE({}, {}, {})",
        candidate("qualified", ""),
        candidate("bare", " AND k.nspname = 'pg_catalog'"),
        candidate("bare", " AND k.nspname = current_schema()"),
    )
}

/// Registers `bucketdb_reg_found(oid, kind, name)`: the OID, or the
/// error of `kind` naming `name` where the OID is NULL.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "bucketdb_reg_found",
        vec![DataType::Int32, DataType::Utf8, DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let [oids, kinds, names] = arrays.as_slice() else {
                return Err(DataFusionError::Internal(
                    "bucketdb_reg_found takes three arguments".into(),
                ));
            };
            let (oids, kinds, names) = (
                oids.as_primitive::<Int32Type>(),
                kinds.as_string::<i32>(),
                names.as_string::<i32>(),
            );
            for i in 0..oids.len() {
                if oids.is_null(i) && !names.is_null(i) {
                    let kind = RegKind::from_name(kinds.value(i)).ok_or_else(|| {
                        DataFusionError::Internal(format!("no OID type {}", kinds.value(i)))
                    })?;
                    return Err(DataFusionError::External(Box::new(
                        kind.missing(names.value(i)),
                    )));
                }
            }
            Ok(ColumnarValue::Array(Arc::new(oids.clone())))
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> SqlResult<String> {
        let mut stmt = super::super::sql_ast::statement(sql);
        rewrite(&mut stmt)?;
        Ok(stmt.to_string())
    }

    #[test]
    fn names_are_read_as_postgresql_reads_them() {
        assert_eq!(name_parts("objects").unwrap(), ["objects"]);
        assert_eq!(name_parts("Public.\"My T\"").unwrap(), ["public", "My T"]);
        assert!(name_parts("a b").is_err());
        assert!(name_parts("").is_err());
    }

    #[test]
    fn casts_of_names_become_checked_lookups() {
        let out = rewritten("SELECT 1 WHERE x = 'objects'::regclass").unwrap();
        assert!(out.contains("bucketdb_reg_found((SELECT c.oid"), "{out}");
        assert!(out.contains("c.relname = 'objects'"), "{out}");
        assert!(out.contains("'pg_catalog', current_schema()"), "{out}");
        let out = rewritten("SELECT 'integer'::pg_catalog.regtype").unwrap();
        assert_eq!(
            out,
            "SELECT bucketdb_reg_found(to_regtype('integer'), 'regtype', 'integer')"
        );
        assert_eq!(
            rewritten("SELECT '16390'::regclass").unwrap(),
            "SELECT CAST(16390 AS INT)"
        );
        let out = rewritten("SELECT $1::regclass").unwrap();
        assert!(out.contains("parse_ident(CAST($1 AS TEXT))"), "{out}");
        // A name computed from strings is looked up once evaluated.
        let out = rewritten("SELECT ('obj' || 'ects')::regclass").unwrap();
        assert!(out.contains("k.bare = ('obj' || 'ects')"), "{out}");
        assert!(
            out.contains("'regclass', CAST(('obj' || 'ects') AS TEXT))"),
            "{out}"
        );
        // A column cast is an OID already.
        let kept = "SELECT c.oid::REGCLASS FROM pg_class c";
        assert_eq!(rewritten(kept).unwrap(), kept);
        let e = rewritten("SELECT 'a.b.c'::regclass").unwrap_err();
        assert_eq!(e.state, SqlState::SyntaxError);
    }
}
