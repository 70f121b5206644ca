//! The library's `pg_description`, with the comment of `public` on
//! bucketdb's `public` namespace. The library keeps PostgreSQL's OID for
//! it (2200) while its `pg_namespace` numbers `public` anew, so
//! `obj_description`, psql's `\dn+` and pg_dump found no comment (pg_dump
//! then wrote `COMMENT ON SCHEMA public IS ''` to clear PostgreSQL's).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::pg_keys::read;

pub const NAME: &str = "pg_description";

/// `pg_namespace`'s OID in PostgreSQL, the `classoid` of a schema's comment.
const PG_NAMESPACE: i64 = 2615;
/// The OID PostgreSQL gives `public`.
const POSTGRES_PUBLIC: i64 = 2200;

/// The library's `pg_description`, its comment on `public` moved to the
/// OID `namespaces` (the live `pg_namespace`) gives `public`.
pub fn wrap(
    inner: Arc<dyn TableProvider>,
    namespaces: Arc<dyn TableProvider>,
) -> Arc<dyn TableProvider> {
    Arc::new(Renumbered { inner, namespaces })
}

#[derive(Debug)]
struct Renumbered {
    inner: Arc<dyn TableProvider>,
    namespaces: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for Renumbered {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
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
        let public = public_oid(&read(&self.namespaces, state).await?)?;
        let rows = read(&self.inner, state).await?;
        let column = |name: &str| {
            rows.schema()
                .index_of(name)
                .map_err(|e| DataFusionError::Internal(format!("pg_description: {e}")))
        };
        let (objoid, classoid) = (column("objoid")?, column("classoid")?);
        let mut columns = rows.columns().to_vec();
        columns[objoid] = moved(&columns[objoid], &columns[classoid], public)?;
        let batch = RecordBatch::try_new(rows.schema(), columns)?;
        MemTable::try_new(self.schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `public`'s OID in a `pg_namespace` batch.
fn public_oid(namespaces: &RecordBatch) -> Result<i64> {
    let (Some(oids), Some(names)) = (
        namespaces.column_by_name("oid"),
        namespaces.column_by_name("nspname"),
    ) else {
        return Err(DataFusionError::Internal(
            "pg_namespace lacks oid or nspname".into(),
        ));
    };
    let names = cast(names, &DataType::Utf8)?;
    let oids = cast(oids, &DataType::Int64)?;
    let oids = oids.as_primitive::<Int64Type>();
    names
        .as_string::<i32>()
        .iter()
        .position(|n| n == Some("public"))
        .filter(|&i| oids.is_valid(i))
        .map(|i| oids.value(i))
        .ok_or_else(|| DataFusionError::Internal("pg_namespace has no public".into()))
}

/// `objoid` with PostgreSQL's `public` replaced by `public` where the
/// row is a schema's comment.
fn moved(objoid: &ArrayRef, classoid: &ArrayRef, public: i64) -> Result<ArrayRef> {
    let objs = cast(objoid, &DataType::Int64)?;
    let classes = cast(classoid, &DataType::Int64)?;
    let (objs, classes) = (
        objs.as_primitive::<Int64Type>(),
        classes.as_primitive::<Int64Type>(),
    );
    let out: Int64Array = (0..objs.len())
        .map(|i| {
            let obj = objs.is_valid(i).then(|| objs.value(i));
            let schema_comment = classes.is_valid(i) && classes.value(i) == PG_NAMESPACE;
            match obj {
                Some(POSTGRES_PUBLIC) if schema_comment => Some(public),
                other => other,
            }
        })
        .collect();
    Ok(cast(&out, objoid.data_type())?)
}
