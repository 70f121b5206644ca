//! `information_schema.columns` with PostgreSQL's type names (`text`,
//! `bigint`, `json`, `timestamp with time zone`) and `udt_name`s, and the
//! built-in tables' defaults and nullability from bucketdb's catalog.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::information_schema::INFORMATION_SCHEMA;
use datafusion::catalog::CatalogProviderList;
use datafusion::common::Result;

use crate::catalog::{Catalog, Default};
use crate::datafusion::convert::field_sql_type;
use crate::value::SqlType;

/// Every column of every table outside `information_schema`, a row each.
pub async fn columns(list: &dyn CatalogProviderList, own: &Catalog) -> Result<RecordBatch> {
    let mut rows = Columns::default();
    for catalog_name in list.catalog_names() {
        let Some(catalog) = list.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            if schema_name == INFORMATION_SCHEMA {
                continue;
            }
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            let mut tables = schema.table_names();
            tables.sort();
            for table_name in tables {
                let Some(table) = schema.table(&table_name).await? else {
                    continue;
                };
                let builtin = (schema_name == "public")
                    .then(|| own.table(&table_name).ok())
                    .flatten();
                for (i, field) in table.schema().fields().iter().enumerate() {
                    let default = builtin.and_then(|t| t.columns.get(i)).map(|c| c.default);
                    rows.push(&catalog_name, &schema_name, &table_name, i, field, default);
                }
            }
        }
    }
    rows.batch()
}

/// A column's type as `information_schema` names it: `data_type`,
/// `udt_name`, and numeric and datetime precision.
struct PgType {
    data_type: &'static str,
    udt_name: String,
    numeric_precision: Option<i32>,
    datetime_precision: Option<i32>,
}

fn pg_type(field: &Field) -> PgType {
    let t = |data_type, udt: &str, numeric, datetime| PgType {
        data_type,
        udt_name: udt.to_string(),
        numeric_precision: numeric,
        datetime_precision: datetime,
    };
    match field.data_type() {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => t("smallint", "int2", Some(16), None),
        DataType::Int32 | DataType::UInt16 => t("integer", "int4", Some(32), None),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => {
            t("bigint", "int8", Some(64), None)
        }
        DataType::Float16 | DataType::Float32 => t("real", "float4", Some(24), None),
        DataType::Float64 => t("double precision", "float8", Some(53), None),
        DataType::Boolean => t("boolean", "bool", None, None),
        DataType::Timestamp(_, Some(_)) => {
            t("timestamp with time zone", "timestamptz", None, Some(6))
        }
        DataType::Timestamp(_, None) => {
            t("timestamp without time zone", "timestamp", None, Some(6))
        }
        DataType::Date32 | DataType::Date64 => t("date", "date", None, Some(0)),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            t("bytea", "bytea", None, None)
        }
        DataType::List(inner) | DataType::LargeList(inner) | DataType::FixedSizeList(inner, _) => {
            let element = pg_type(inner);
            t("ARRAY", &format!("_{}", element.udt_name), None, None)
        }
        _ => match field_sql_type(field) {
            SqlType::Json => t("json", "json", None, None),
            SqlType::Jsonb => t("jsonb", "jsonb", None, None),
            _ => t("text", "text", None, None),
        },
    }
}

/// A default as PostgreSQL prints its expression (`pg_get_expr`).
pub fn default_expression(default: Default) -> Option<String> {
    match default {
        Default::Null => None,
        Default::Text(s) | Default::Assigned(s) => {
            Some(format!("'{}'::text", s.replace('\'', "''")))
        }
        Default::Int(i) => Some(i.to_string()),
        Default::Now => Some("now()".into()),
    }
}

#[derive(Default)]
struct Columns {
    text: [Vec<Option<String>>; 11],
    ints: [Vec<Option<i32>>; 6],
}

/// The text columns, then the integer ones, in the order of [`schema`].
const TEXT: [&str; 11] = [
    "table_catalog",
    "table_schema",
    "table_name",
    "column_name",
    "column_default",
    "is_nullable",
    "data_type",
    "udt_catalog",
    "udt_schema",
    "udt_name",
    "is_updatable",
];
const INTS: [&str; 6] = [
    "ordinal_position",
    "character_maximum_length",
    "character_octet_length",
    "numeric_precision",
    "numeric_scale",
    "datetime_precision",
];

impl Columns {
    fn push(
        &mut self,
        catalog: &str,
        schema: &str,
        table: &str,
        i: usize,
        field: &Field,
        default: Option<Default>,
    ) {
        let ty = pg_type(field);
        let is_int = ty.numeric_precision.is_some() && ty.udt_name.starts_with("int");
        let text = [
            Some(catalog.to_string()),
            Some(schema.to_string()),
            Some(table.to_string()),
            Some(field.name().clone()),
            default.and_then(default_expression),
            Some(if field.is_nullable() { "YES" } else { "NO" }.into()),
            Some(ty.data_type.to_string()),
            Some(catalog.to_string()),
            Some("pg_catalog".into()),
            Some(ty.udt_name),
            Some(if schema == "public" { "YES" } else { "NO" }.into()),
        ];
        for (column, v) in self.text.iter_mut().zip(text) {
            column.push(v);
        }
        let ints = [
            Some(i as i32 + 1),
            None,
            None,
            ty.numeric_precision,
            is_int.then_some(0),
            ty.datetime_precision,
        ];
        for (column, v) in self.ints.iter_mut().zip(ints) {
            column.push(v);
        }
    }

    fn batch(self) -> Result<RecordBatch> {
        let [catalog, schema, table, name, default, nullable, data_type, udt_catalog, udt_schema, udt_name, updatable] =
            self.text
                .map(|v| Arc::new(StringArray::from(v)) as ArrayRef);
        let [ordinal, char_max, char_octet, precision, scale, datetime] =
            self.ints.map(|v| Arc::new(Int32Array::from(v)) as ArrayRef);
        let columns = vec![
            catalog,
            schema,
            table,
            name,
            ordinal,
            default,
            nullable,
            data_type,
            char_max,
            char_octet,
            precision,
            scale,
            datetime,
            udt_catalog,
            udt_schema,
            udt_name,
            updatable,
        ];
        Ok(RecordBatch::try_new(schema_of_columns(), columns)?)
    }
}

/// `information_schema.columns`, in PostgreSQL's column order (the
/// columns bucketdb has something to say about).
fn schema_of_columns() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    let int = |n: &str| Field::new(n, DataType::Int32, true);
    Arc::new(Schema::new(vec![
        text(TEXT[0]),
        text(TEXT[1]),
        text(TEXT[2]),
        text(TEXT[3]),
        int(INTS[0]),
        text(TEXT[4]),
        text(TEXT[5]),
        text(TEXT[6]),
        int(INTS[1]),
        int(INTS[2]),
        int(INTS[3]),
        int(INTS[4]),
        int(INTS[5]),
        text(TEXT[7]),
        text(TEXT[8]),
        text(TEXT[9]),
        text(TEXT[10]),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datafusion::convert::field;

    #[test]
    fn types_and_defaults_are_named_as_postgresql_names_them() {
        let name = |f: Field| {
            let t = pg_type(&f);
            (t.data_type, t.udt_name)
        };
        assert_eq!(
            name(field("m", SqlType::Json, true)),
            ("json", "json".into())
        );
        assert_eq!(
            name(field("t", SqlType::Timestamptz, true)),
            ("timestamp with time zone", "timestamptz".into())
        );
        assert_eq!(
            name(field("n", SqlType::Int8, true)),
            ("bigint", "int8".into())
        );
        assert_eq!(
            name(field("k", SqlType::Text, true)),
            ("text", "text".into())
        );
        let list = Field::new("a", DataType::new_list(DataType::Int16, true), true);
        assert_eq!(name(list), ("ARRAY", "_int2".into()));
        assert_eq!(
            default_expression(Default::Text("it's")).unwrap(),
            "'it''s'::text"
        );
        assert_eq!(default_expression(Default::Now).unwrap(), "now()");
        assert_eq!(default_expression(Default::Null), None);
    }
}
