//! The library's `pg_database` as PostgreSQL 15 has it, for pg_dump's
//! archive entry of the database: with `datcollversion` (NULL, what
//! PostgreSQL records when the collation provider has no versions, as
//! for the C locale bucketdb sorts in), and `datlocprovider` as the
//! one-letter code PostgreSQL stores (`c` for libc), not the library's
//! word (`libc`, which pg_dump refuses).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{new_null_array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::pg_keys::read;

pub const NAME: &str = "pg_database";

/// The text columns it gains.
const ADDED: [&str; 1] = ["datcollversion"];

const PROVIDER: &str = "datlocprovider";

/// The library's `pg_database`, made PostgreSQL's.
pub fn wrap(inner: Arc<dyn TableProvider>) -> Arc<dyn TableProvider> {
    let inner_schema = inner.schema();
    let mut fields: Vec<Field> = inner_schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(ADDED.iter().map(|c| Field::new(*c, DataType::Utf8, true)));
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        inner_schema.metadata().clone(),
    ));
    Arc::new(AddedColumns { inner, schema })
}

#[derive(Debug)]
struct AddedColumns {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for AddedColumns {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows = read(&self.inner, state).await?;
        let mut columns = rows.columns().to_vec();
        if let Ok(i) = rows.schema().index_of(PROVIDER) {
            columns[i] = provider_codes(&columns[i]);
        }
        for f in &self.schema.fields()[columns.len()..] {
            columns.push(new_null_array(f.data_type(), rows.num_rows()));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        MemTable::try_new(self.schema.clone(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// Locale providers as PostgreSQL's one-letter codes.
fn provider_codes(column: &ArrayRef) -> ArrayRef {
    let Some(words) = column.as_string_opt::<i32>() else {
        return column.clone();
    };
    let codes: StringArray = words
        .iter()
        .map(|w| {
            w.map(|w| match w {
                "libc" => "c",
                "icu" => "i",
                other => other,
            })
        })
        .collect();
    Arc::new(codes)
}
