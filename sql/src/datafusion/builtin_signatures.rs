//! The arguments and result of PostgreSQL's built-in functions as
//! `pg_get_function_arguments` and `pg_get_function_result` print them
//! (`min integer, max integer`; `SETOF record`; `TABLE(a oid, …)`), read
//! from the `pg_proc` and `pg_type` datafusion-pg-catalog exports, so that
//! psql's `\df` shows a built-in's types instead of empty cells.
//!
//! The export keeps `proargtypes` as space-separated OIDs and
//! `proargnames`, `proargmodes` and `proallargtypes` as bracketed lists
//! (`['min', 'max']`); a row whose lists do not parse is left undescribed
//! (NULL) rather than guessed. The export has no argument defaults, so
//! none is printed.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{DataFusionError, Result};
use datafusion_pg_catalog::pg_catalog::ArrowTable;

use super::regtype::Types;

/// How `\df` shows one function.
#[derive(Clone, Debug, PartialEq)]
pub struct Described {
    pub arguments: String,
    pub result: String,
}

/// The built-ins of `pg_proc` by OID, described with the names of `types`.
pub fn builtin(pg_proc: &ArrowTable, types: &Types) -> Result<HashMap<i32, Described>> {
    let mut out = HashMap::new();
    for batch in pg_proc.data() {
        let oids = int_column(batch, "oid")?;
        let returns = int_column(batch, "prorettype")?;
        let sets = cast(column(batch, "proretset")?, &DataType::Boolean)?;
        let sets = sets.as_boolean();
        let [argtypes, names, modes, all] = [
            "proargtypes",
            "proargnames",
            "proargmodes",
            "proallargtypes",
        ]
        .map(|c| column(batch, c).and_then(|a| Ok(cast(a, &DataType::Utf8)?)));
        let (argtypes, names, modes, all) = (argtypes?, names?, modes?, all?);
        let text = |a: &dyn Array, i: usize| {
            let a = a.as_string::<i32>();
            a.is_valid(i).then(|| a.value(i).to_string())
        };
        for i in 0..batch.num_rows() {
            let row = Row {
                argtypes: text(&argtypes, i).unwrap_or_default(),
                names: text(&names, i),
                modes: text(&modes, i),
                all: text(&all, i),
                returns: returns.value(i),
                set: sets.is_valid(i) && sets.value(i),
            };
            if let Some(described) = row.describe(types) {
                out.insert(oids.value(i), described);
            }
        }
    }
    Ok(out)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| DataFusionError::Internal(format!("the export lacks {name}")))
}

fn int_column(batch: &RecordBatch, name: &str) -> Result<datafusion::arrow::array::Int32Array> {
    let a = cast(column(batch, name)?, &DataType::Int32)?;
    Ok(a.as_primitive::<Int32Type>().clone())
}

/// One `pg_proc` row's argument and result columns, as the export has them.
struct Row {
    argtypes: String,
    names: Option<String>,
    modes: Option<String>,
    all: Option<String>,
    returns: i32,
    set: bool,
}

impl Row {
    fn describe(&self, types: &Types) -> Option<Described> {
        let oids: Vec<i32> = match &self.all {
            Some(all) => list(all)?
                .iter()
                .map(|o| o.parse().ok())
                .collect::<Option<_>>()?,
            None => self
                .argtypes
                .split_whitespace()
                .map(|o| o.parse().ok())
                .collect::<Option<_>>()?,
        };
        let names = match &self.names {
            Some(n) => list(n)?,
            None => vec![String::new(); oids.len()],
        };
        let modes = match &self.modes {
            Some(m) => list(m)?,
            None => vec!["i".to_string(); oids.len()],
        };
        if names.len() != oids.len() || modes.len() != oids.len() {
            return None;
        }
        let mut arguments = Vec::new();
        let mut table = Vec::new();
        for ((oid, name), mode) in oids.iter().zip(&names).zip(&modes) {
            let ty = types.name(*oid)?;
            let named = match name.is_empty() {
                true => ty,
                false => format!("{name} {ty}"),
            };
            match mode.as_str() {
                "i" => arguments.push(named),
                "o" => arguments.push(format!("OUT {named}")),
                "b" => arguments.push(format!("INOUT {named}")),
                "v" => arguments.push(format!("VARIADIC {named}")),
                "t" => table.push(named),
                _ => return None,
            }
        }
        let result = match (table.is_empty(), self.set) {
            (false, _) => format!("TABLE({})", table.join(", ")),
            (true, true) => format!("SETOF {}", types.name(self.returns)?),
            (true, false) => types.name(self.returns)?,
        };
        Some(Described {
            arguments: arguments.join(", "),
            result,
        })
    }
}

/// The items of the export's `['a', 'b']` (or `[1, 2]`) lists.
fn list(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(vec![]);
    }
    inner
        .split(',')
        .map(|item| {
            let item = item.trim();
            Some(match item.strip_prefix('\'') {
                Some(quoted) => quoted.strip_suffix('\'')?.to_string(),
                None => item.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables;

    use super::*;

    fn described() -> HashMap<i32, Described> {
        let statics = PgCatalogStaticTables::try_new().unwrap();
        builtin(&statics.pg_proc, &Types::load(&statics).unwrap()).unwrap()
    }

    #[test]
    fn built_ins_print_as_postgresql_prints_them() {
        let all = described();
        let has = |arguments: &str, result: &str| {
            let d = Described {
                arguments: arguments.into(),
                result: result.into(),
            };
            assert!(all.values().any(|x| *x == d), "{arguments} -> {result}");
        };
        has("double precision", "double precision");
        has("min integer, max integer", "integer");
        has("text, timestamp with time zone", "timestamp with time zone");
        has("anyarray", "SETOF anyelement");
        has(
            "acl aclitem[], OUT grantor oid, OUT grantee oid, OUT privilege_type text, \
             OUT is_grantable boolean",
            "SETOF record",
        );
    }

    #[test]
    fn export_lists_parse_or_are_refused() {
        assert_eq!(list("['a', 'b']"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(list("[26, 20]"), Some(vec!["26".into(), "20".into()]));
        assert_eq!(list("[]"), Some(vec![]));
        assert_eq!(list("{a,b}"), None);
    }
}
