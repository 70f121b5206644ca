//! `pg_settings`: the asking session's settings, one row each, with the
//! values `SHOW` gives. Drivers read fixed limits from it (pgjdbc's
//! `getImportedKeys` needs `max_index_keys`), tools read the rest. What
//! bucketdb does not track (units, categories, descriptions, bounds) is
//! NULL.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session as DfSession, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

use super::provider::planning;
use crate::settings::Settings;

pub const NAME: &str = "pg_settings";

/// The columns whose values bucketdb knows, then those it leaves NULL.
const KNOWN: [&str; 5] = ["name", "setting", "context", "vartype", "source"];
const UNKNOWN: [&str; 7] = [
    "unit",
    "category",
    "short_desc",
    "extra_desc",
    "min_val",
    "max_val",
    "enumvals",
];

#[derive(Debug)]
pub struct SettingsTable {
    schema: SchemaRef,
}

impl SettingsTable {
    pub fn new() -> SettingsTable {
        let text = |n: &str| Field::new(n, DataType::Utf8, true);
        let mut fields: Vec<Field> = KNOWN.iter().map(|n| text(n)).collect();
        fields.extend(UNKNOWN.iter().map(|n| text(n)));
        fields.extend([
            text("boot_val"),
            text("reset_val"),
            text("sourcefile"),
            Field::new("sourceline", DataType::Int32, true),
            Field::new("pending_restart", DataType::Boolean, false),
        ]);
        SettingsTable {
            schema: Arc::new(Schema::new(fields)),
        }
    }
}

/// PostgreSQL's `vartype` of a value.
fn vartype(value: &str) -> &'static str {
    if matches!(value, "on" | "off") {
        "bool"
    } else if value.parse::<i64>().is_ok() {
        "integer"
    } else {
        "string"
    }
}

fn batch(schema: &SchemaRef, settings: &Settings) -> Result<RecordBatch> {
    let rows: Vec<(&str, &str)> = settings.all().collect();
    let n = rows.len();
    let texts = |f: &dyn Fn(&str, &str) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter().map(|(k, v)| f(k, v)).collect::<Vec<_>>(),
        ))
    };
    let mut columns = vec![
        texts(&|k, _| Some(k.to_string())),
        texts(&|_, v| Some(v.to_string())),
        texts(&|k, _| {
            Some(match Settings::is_read_only(k) {
                true => "internal".into(),
                false => "user".into(),
            })
        }),
        texts(&|_, v| Some(vartype(v).into())),
        texts(&|k, v| {
            let default = settings.reset_value(k);
            Some(match default == Some(v) {
                true => "default".into(),
                false => "session".into(),
            })
        }),
    ];
    columns.extend(UNKNOWN.iter().map(|_| texts(&|_, _| None)));
    columns.extend([
        texts(&|k, _| settings.reset_value(k).map(str::to_string)),
        texts(&|k, _| settings.reset_value(k).map(str::to_string)),
        texts(&|_, _| None),
        Arc::new(Int32Array::from(vec![None; n])) as ArrayRef,
        Arc::new(BooleanArray::from(vec![false; n])),
    ]);
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[async_trait]
impl TableProvider for SettingsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(scope) = planning() else {
            return Err(DataFusionError::Internal(
                "pg_settings was scanned outside a query".into(),
            ));
        };
        let batch = batch(&self.schema, &scope.settings)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_the_sessions_settings() {
        let mut s = Settings::new("ana", "bucketdb");
        s.set("statement_timeout", "5s").unwrap();
        let table = SettingsTable::new();
        let b = batch(&table.schema, &s).unwrap();
        let col = |name: &str| {
            b.column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone()
        };
        let names = col("name");
        let row = |name: &str| (0..b.num_rows()).find(|&i| names.value(i) == name).unwrap();
        let keys = row("max_index_keys");
        assert_eq!(col("setting").value(keys), "32");
        assert_eq!(col("context").value(keys), "internal");
        assert_eq!(col("vartype").value(keys), "integer");
        let timeout = row("statement_timeout");
        assert_eq!(col("source").value(timeout), "session");
        assert_eq!(col("reset_val").value(timeout), "0");
        assert_eq!(col("context").value(timeout), "user");
        assert_eq!(col("vartype").value(row("integer_datetimes")), "bool");
    }
}
