//! `regproc` columns cast to `oid` (pg_dump reads `oprcode::oid`,
//! `prsstart::oid`, …). PostgreSQL stores a function's OID in them and
//! prints its name; datafusion-pg-catalog keeps only the printed name, so
//! the cast failed. The cast becomes `regproc_oid(name)`: the OID of the
//! `pg_proc` row of that name, as PostgreSQL's `regprocin` finds it. An
//! overloaded name is printed qualified (`pg_catalog.jsonb_delete`) and
//! needs the argument types: for `oprcode` those are the operator's own
//! (`oprleft`, `oprright`), so the call passes them too. A cast of such a
//! column to `regproc` (`amhandler::pg_catalog.regproc`) is the name it
//! already holds.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables;
use sqlparser::ast::{
    CastKind, DataType as SqlDataType, Expr, Ident, ObjectNamePart, Statement, Value, VisitMut,
    VisitorMut,
};

use super::sql_ast::call;

/// The catalogs' `regproc` columns, with the columns naming the argument
/// types where the name alone may be ambiguous.
const COLUMNS: &[(&str, Option<(&str, &str)>)] = &[
    ("oprcode", Some(("oprleft", "oprright"))),
    ("amhandler", None),
    ("oprrest", None),
    ("oprjoin", None),
    ("prsstart", None),
    ("prstoken", None),
    ("prsend", None),
    ("prsheadline", None),
    ("prslextype", None),
    ("tmplinit", None),
    ("tmpllexize", None),
];

/// Whether the (lower-case) query text names a `regproc` column.
pub fn mentioned(lower: &str) -> bool {
    COLUMNS.iter().any(|(c, _)| lower.contains(c))
}

/// Rewrites every `col::oid` of a `regproc` column.
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut OidCasts);
}

struct OidCasts;

impl VisitorMut for OidCasts {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let Expr::Cast {
            expr, data_type, ..
        } = e
        else {
            return ControlFlow::Continue(());
        };
        let target = match type_name(data_type) {
            Some(t) if t.eq_ignore_ascii_case("oid") => Target::Oid,
            Some(t) if t.eq_ignore_ascii_case("regproc") => Target::Name,
            _ => return ControlFlow::Continue(()),
        };
        let (qualifier, column) = match expr.as_ref() {
            Expr::Identifier(i) => (vec![], i.value.to_ascii_lowercase()),
            Expr::CompoundIdentifier(parts) if !parts.is_empty() => (
                parts[..parts.len() - 1].to_vec(),
                parts[parts.len() - 1].value.to_ascii_lowercase(),
            ),
            _ => return ControlFlow::Continue(()),
        };
        let Some((_, args)) = COLUMNS.iter().find(|(c, _)| *c == column) else {
            return ControlFlow::Continue(());
        };
        if target == Target::Name {
            *e = (**expr).clone();
            return ControlFlow::Continue(());
        }
        let sibling = |name: &str| {
            if qualifier.is_empty() {
                return Expr::Identifier(Ident::new(name));
            }
            let mut parts = qualifier.clone();
            parts.push(Ident::new(name));
            Expr::CompoundIdentifier(parts)
        };
        let (left, right) = match args {
            Some((left, right)) => (sibling(left), sibling(right)),
            None => (no_type(), no_type()),
        };
        *e = call("regproc_oid", vec![(**expr).clone(), left, right]);
        ControlFlow::Continue(())
    }
}

/// `0::integer`: no argument type given.
fn no_type() -> Expr {
    Expr::Cast {
        kind: CastKind::DoubleColon,
        expr: Box::new(Expr::Value(Value::Number("0".into(), false).into())),
        data_type: SqlDataType::Integer(None),
        array: false,
        format: None,
    }
}

/// What a `regproc` column is cast to: its function's OID, or the name.
#[derive(PartialEq)]
enum Target {
    Oid,
    Name,
}

/// The last part of a named type (`pg_catalog.regproc` is `regproc`).
fn type_name(t: &SqlDataType) -> Option<&str> {
    match t {
        SqlDataType::Custom(name, args) if args.is_empty() => match name.0.last() {
            Some(ObjectNamePart::Identifier(i)) => Some(&i.value),
            _ => None,
        },
        _ => None,
    }
}

/// `pg_proc`'s functions by name: each one's argument types (as
/// `proargtypes` prints them) and OID.
struct Procs {
    by_name: HashMap<String, Vec<(String, i32)>>,
}

impl Procs {
    fn load(statics: &PgCatalogStaticTables) -> Result<Procs> {
        let mut by_name: HashMap<String, Vec<(String, i32)>> = HashMap::new();
        for batch in statics.pg_proc.data() {
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| DataFusionError::Internal(format!("pg_proc has no {name}")))
            };
            let names = column("proname")?.as_string::<i32>().clone();
            let args = column("proargtypes")?.as_string::<i32>().clone();
            let oids = column("oid")?.as_primitive::<Int32Type>().clone();
            for i in 0..batch.num_rows() {
                by_name
                    .entry(names.value(i).to_string())
                    .or_default()
                    .push((args.value(i).to_string(), oids.value(i)));
            }
        }
        Ok(Procs { by_name })
    }

    /// The OID `name` stands for; `args` (an operator's left and right
    /// types, 0 for none; both 0: not known) tell overloads apart. `None`
    /// for `-`, the printed form of no function.
    fn oid(&self, name: &str, args: (i32, i32)) -> Result<Option<i32>> {
        let args = Some(args).filter(|a| *a != (0, 0));
        if name == "-" {
            return Ok(None);
        }
        let bare = name.strip_prefix("pg_catalog.").unwrap_or(name);
        let candidates = self.by_name.get(bare).map_or(&[][..], Vec::as_slice);
        let found: Vec<i32> = match (candidates, args) {
            ([(_, oid)], _) => vec![*oid],
            (_, Some((left, right))) => {
                let wanted = [left, right]
                    .iter()
                    .filter(|t| **t != 0)
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                candidates
                    .iter()
                    .filter(|(a, _)| *a == wanted)
                    .map(|(_, oid)| *oid)
                    .collect()
            }
            _ => candidates.iter().map(|(_, oid)| *oid).collect(),
        };
        match found.as_slice() {
            [oid] => Ok(Some(*oid)),
            [] => Err(DataFusionError::Execution(format!(
                "function \"{name}\" does not exist"
            ))),
            _ => Err(DataFusionError::Execution(format!(
                "more than one function named \"{name}\""
            ))),
        }
    }
}

pub fn register(ctx: &SessionContext, statics: &PgCatalogStaticTables) -> Result<()> {
    let procs = Arc::new(Procs::load(statics)?);
    ctx.register_udf(create_udf(
        "regproc_oid",
        vec![DataType::Utf8, DataType::Int32, DataType::Int32],
        DataType::Int32,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = arrays
                .first()
                .and_then(|a| a.as_string_opt::<i32>())
                .ok_or_else(|| DataFusionError::Internal("regproc_oid of a non-text".into()))?;
            let types = |k: usize| {
                arrays
                    .get(k)
                    .and_then(|a| a.as_primitive_opt::<Int32Type>())
                    .ok_or_else(|| {
                        DataFusionError::Internal("regproc_oid of non-integer types".into())
                    })
            };
            let (left, right) = (types(1)?, types(2)?);
            let mut out = Vec::with_capacity(names.len());
            for i in 0..names.len() {
                if names.is_null(i) {
                    out.push(None);
                    continue;
                }
                let types = (left.value(i), right.value(i));
                out.push(procs.oid(names.value(i), types)?);
            }
            Ok(ColumnarValue::Array(Arc::new(Int32Array::from(out))))
        }),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procs() -> Procs {
        Procs::load(&PgCatalogStaticTables::try_new().unwrap()).unwrap()
    }

    #[test]
    fn names_resolve_to_the_functions_postgresql_stores() {
        let p = procs();
        // int48eq is unique; jsonb_delete(jsonb, text) is told apart by
        // its argument types (3802 jsonb, 25 text).
        assert_eq!(p.oid("int48eq", (20, 23)).unwrap(), Some(852));
        let by_types = p.oid("pg_catalog.jsonb_delete", (3802, 25)).unwrap();
        assert!(by_types.is_some());
        assert_ne!(
            by_types,
            p.oid("pg_catalog.jsonb_delete", (3802, 23)).unwrap()
        );
        assert!(p.oid("pg_catalog.jsonb_delete", (0, 0)).is_err());
        assert!(p.oid("no_such_function", (0, 0)).is_err());
        assert_eq!(p.oid("-", (0, 0)).unwrap(), None);
    }

    #[test]
    fn regproc_casts_become_lookups() {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let mut stmt = sqlparser::parser::Parser::parse_sql(
            &dialect,
            "SELECT o.oprcode::oid, oprrest::oid, oprname::oid, amhandler::pg_catalog.regproc FROM x o",
        )
        .unwrap()
        .remove(0);
        rewrite(&mut stmt);
        assert_eq!(
            stmt.to_string(),
            "SELECT regproc_oid(o.oprcode, o.oprleft, o.oprright), regproc_oid(oprrest, 0::INTEGER, 0::INTEGER), \
             oprname::oid, amhandler FROM x o"
        );
    }
}
