//! `to_regtype(name)`: a type's OID from its name, or NULL when no type
//! has it (psycopg asks it for `hstore` when SQLAlchemy connects). The
//! names are `pg_type`'s (datafusion-pg-catalog ships PostgreSQL's), the
//! SQL spellings of the built-in types (`integer`, `double precision`),
//! optionally qualified by `pg_catalog.`, and `name[]` for an array type.
//!
//! Also `x::regtype[]`: a list of types shown by their names, as
//! PostgreSQL prints a `regtype[]` (`{integer,text}`). `x` may be an array
//! literal of names or OIDs (`'{int4,text}'`), an array of OIDs, or an
//! `oidvector`'s text (`23 25`, as the exported `pg_proc.proargtypes`
//! holds it). datafusion-pg-catalog knew no type `regtype[]`.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables;

use sqlparser::ast::{self, Expr, Statement, VisitMut, VisitorMut};

use super::sql_ast::{call, null};
use crate::bind::{typname, TYPE_SPELLINGS};
use crate::error::SqlError;

/// `pg_type`'s names and OIDs: names to OIDs, element OIDs to their
/// array types' OIDs, and OIDs to what `format_type` shows.
#[derive(Debug)]
pub(super) struct Types {
    by_name: HashMap<String, i32>,
    array_of: HashMap<i32, i32>,
    /// `typname`, and the element type of an array type.
    by_oid: HashMap<i32, (String, Option<i32>)>,
}

impl Types {
    pub(super) fn load(statics: &PgCatalogStaticTables) -> Result<Types> {
        let mut by_name = HashMap::new();
        let mut array_of = HashMap::new();
        let mut by_oid = HashMap::new();
        for batch in statics.pg_type.data() {
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| DataFusionError::Internal(format!("pg_type has no {name}")))
            };
            let names = column("typname")?.as_string::<i32>().clone();
            let oids = column("oid")?.as_primitive::<Int32Type>().clone();
            let arrays = column("typarray")?.as_primitive::<Int32Type>().clone();
            let elements = cast(column("typelem")?, &DataType::Int32)?;
            let elements = elements.as_primitive::<Int32Type>();
            let categories = cast(column("typcategory")?, &DataType::Utf8)?;
            let categories = categories.as_string::<i32>();
            for i in 0..batch.num_rows() {
                by_name.insert(names.value(i).to_string(), oids.value(i));
                if arrays.value(i) != 0 {
                    array_of.insert(oids.value(i), arrays.value(i));
                }
                let element = (categories.value(i) == "A" && elements.value(i) != 0)
                    .then(|| elements.value(i));
                by_oid.insert(oids.value(i), (names.value(i).to_string(), element));
            }
        }
        Ok(Types {
            by_name,
            array_of,
            by_oid,
        })
    }

    pub(super) fn oid(&self, name: &str) -> Option<i32> {
        let name = name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
        if let Some(element) = name.strip_suffix("[]") {
            return self.array_of.get(&self.oid(element)?).copied();
        }
        self.by_name.get(&typname(name)).copied()
    }

    /// `format_type(oid, NULL)`: the SQL spelling of a built-in type
    /// (`integer`, `timestamp with time zone`), `"char"`, `elem[]` for an
    /// array type, else the `typname`.
    pub(super) fn name(&self, oid: i32) -> Option<String> {
        let (name, element) = self.by_oid.get(&oid)?;
        if let Some(element) = element {
            return Some(format!("{}[]", self.name(*element)?));
        }
        if name == "char" {
            return Some("\"char\"".into());
        }
        // `numeric` is its own SQL name; `decimal` only spells it.
        let spelled = TYPE_SPELLINGS
            .iter()
            .find(|(_, t)| t == name && name != "numeric")
            .map(|(sql, _)| sql.to_string());
        Some(spelled.unwrap_or_else(|| name.clone()))
    }
}

/// The function a cast to `regtype[]` becomes.
const ARRAY_FN: &str = "bucketdb_regtype_array";

/// Whether the (lower-case) query text may cast to `regtype[]`.
pub fn mentioned(lower: &str) -> bool {
    lower.contains("regtype[")
}

/// Rewrites every cast to `regtype[]` as a call of [`ARRAY_FN`].
pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut ArrayCasts);
}

struct ArrayCasts;

impl VisitorMut for ArrayCasts {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Cast {
            expr,
            data_type:
                ast::DataType::Array(
                    ast::ArrayElemTypeDef::SquareBracket(element, _)
                    | ast::ArrayElemTypeDef::AngleBracket(element),
                ),
            ..
        } = e
        {
            if typname(&element.to_string()) == "regtype" {
                let operand = std::mem::replace(expr.as_mut(), null());
                *e = call(ARRAY_FN, vec![operand]);
            }
        }
        ControlFlow::Continue(())
    }
}

/// `x::regtype[]`'s value: the names of the types `x` lists.
#[derive(Debug)]
struct RegtypeArray {
    types: Arc<Types>,
    signature: Signature,
}

impl PartialEq for RegtypeArray {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.types, &other.types)
    }
}

impl Eq for RegtypeArray {}

impl std::hash::Hash for RegtypeArray {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        ARRAY_FN.hash(state)
    }
}

impl ScalarUDFImpl for RegtypeArray {
    fn name(&self) -> &str {
        ARRAY_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::new_list(DataType::Utf8, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args
            .args
            .first()
            .ok_or_else(|| DataFusionError::Internal(format!("{ARRAY_FN} takes one argument")))?
            .to_array(args.number_rows)?;
        let mut out = ListBuilder::new(StringBuilder::new());
        for row in 0..input.len() {
            match self.oids(&input, row)? {
                None => out.append_null(),
                Some(oids) => {
                    for oid in oids {
                        let name = self.types.name(oid).unwrap_or_else(|| oid.to_string());
                        out.values().append_value(name);
                    }
                    out.append(true);
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

impl RegtypeArray {
    /// The OIDs row `row` of `input` lists; `None` if it is NULL.
    fn oids(&self, input: &ArrayRef, row: usize) -> Result<Option<Vec<i32>>> {
        if input.is_null(row) {
            return Ok(None);
        }
        // An array's items (OIDs, or names once an array literal is read),
        // else the text of an array literal or of an `oidvector`.
        let words: Vec<String> = match input.data_type() {
            DataType::List(_) | DataType::LargeList(_) => {
                let items = match input.as_list_opt::<i32>() {
                    Some(l) => l.value(row),
                    None => input.as_list::<i64>().value(row),
                };
                let items = cast(&items, &DataType::Utf8)?;
                let items = items.as_string::<i32>();
                items.iter().flatten().map(str::to_string).collect()
            }
            _ => {
                let text = cast(&input.slice(row, 1), &DataType::Utf8)?;
                let text = text.as_string::<i32>().value(0).trim().to_string();
                match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    Some(inner) => inner
                        .split(',')
                        .map(|w| w.trim().trim_matches('"').to_string())
                        .filter(|w| !w.is_empty())
                        .collect(),
                    None => text.split_whitespace().map(str::to_string).collect(),
                }
            }
        };
        words
            .into_iter()
            .map(|w| match w.parse::<i32>() {
                Ok(oid) => Ok(oid),
                Err(_) => self.types.oid(&w).ok_or_else(|| {
                    DataFusionError::External(Box::new(SqlError::undefined_object(format!(
                        "type \"{w}\" does not exist"
                    ))))
                }),
            })
            .collect::<Result<Vec<i32>>>()
            .map(Some)
    }
}

pub fn register(ctx: &SessionContext, types: Arc<Types>) {
    ctx.register_udf(ScalarUDF::from(RegtypeArray {
        types: types.clone(),
        signature: Signature::any(1, Volatility::Stable),
    }));
    ctx.register_udf(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let names = ColumnarValue::values_to_arrays(args)?;
            let names: &StringArray = names
                .first()
                .and_then(|a| a.as_string_opt::<i32>())
                .ok_or_else(|| DataFusionError::Internal("to_regtype of a non-text".into()))?;
            let oids: Int32Array = names.iter().map(|n| n.and_then(|n| types.oid(n))).collect();
            Ok(ColumnarValue::Array(Arc::new(oids)))
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_as_postgresql_resolves_them() {
        let types = Types::load(&PgCatalogStaticTables::try_new().unwrap()).unwrap();
        assert_eq!(types.oid("int4"), Some(23));
        assert_eq!(types.oid("integer"), Some(23));
        assert_eq!(types.oid("pg_catalog.json"), Some(114));
        assert_eq!(types.oid("text[]"), Some(1009));
        assert_eq!(types.oid("character varying(10)"), Some(1043));
        assert_eq!(types.oid("hstore"), None);
        assert_eq!(
            types.name(1184).as_deref(),
            Some("timestamp with time zone")
        );
        assert_eq!(types.name(1231).as_deref(), Some("numeric[]"));
        assert_eq!(types.name(18).as_deref(), Some("\"char\""));
    }

    #[test]
    fn casts_to_regtype_arrays_become_calls() {
        let out = super::super::sql_ast::rewritten(
            "SELECT p.proargtypes::regtype[], x::pg_catalog.regtype[], y::regtype, z::int[]",
            rewrite,
        );
        assert_eq!(
            out,
            "SELECT bucketdb_regtype_array(p.proargtypes), bucketdb_regtype_array(x), \
             y::regtype, z::INT[]"
        );
    }
}
