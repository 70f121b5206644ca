//! `to_regtype(name)`: a type's OID from its name, or NULL when no type
//! has it (psycopg asks it for `hstore` when SQLAlchemy connects). The
//! names are `pg_type`'s (datafusion-pg-catalog ships PostgreSQL's), the
//! SQL spellings of the built-in types (`integer`, `double precision`),
//! optionally qualified by `pg_catalog.`, and `name[]` for an array type.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion_pg_catalog::pg_catalog::PgCatalogStaticTables;

use crate::bind::typname;

/// Type names to OIDs, and element OIDs to their array types' OIDs.
struct Types {
    by_name: HashMap<String, i32>,
    array_of: HashMap<i32, i32>,
}

impl Types {
    fn load(statics: &PgCatalogStaticTables) -> Result<Types> {
        let mut by_name = HashMap::new();
        let mut array_of = HashMap::new();
        for batch in statics.pg_type.data() {
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| DataFusionError::Internal(format!("pg_type has no {name}")))
            };
            let names = column("typname")?.as_string::<i32>().clone();
            let oids = column("oid")?.as_primitive::<Int32Type>().clone();
            let arrays = column("typarray")?.as_primitive::<Int32Type>().clone();
            for i in 0..batch.num_rows() {
                by_name.insert(names.value(i).to_string(), oids.value(i));
                if arrays.value(i) != 0 {
                    array_of.insert(oids.value(i), arrays.value(i));
                }
            }
        }
        Ok(Types { by_name, array_of })
    }

    fn oid(&self, name: &str) -> Option<i32> {
        let name = name.trim().to_ascii_lowercase();
        let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
        if let Some(element) = name.strip_suffix("[]") {
            return self.array_of.get(&self.oid(element)?).copied();
        }
        self.by_name.get(&typname(name)).copied()
    }
}

pub fn register(ctx: &SessionContext, statics: &PgCatalogStaticTables) -> Result<()> {
    let types = Arc::new(Types::load(statics)?);
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
    Ok(())
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
    }
}
