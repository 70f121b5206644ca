//! `pg_catalog.pg_type`: datafusion-pg-catalog's static export of
//! PostgreSQL's types, with its `information_schema` types moved into the
//! `information_schema` namespace the provider's `pg_namespace` lists.
//! The export carries PostgreSQL's OID for that schema, which is not the
//! provider's, and pg_dump checks that every type's schema exists (as
//! `pg_proc.rs` does for functions).

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion_pg_catalog::pg_catalog::{ArrowTable, PgCatalogStaticTables};
use futures::{stream, TryStreamExt};

use super::catalog_schema::PgCatalog;
use super::pg_proc::{namespace_oid, renumbered};

#[derive(Debug)]
pub struct TypeTable {
    schema: SchemaRef,
    catalog: Arc<PgCatalog>,
    builtin: Arc<ArrowTable>,
}

impl TypeTable {
    pub fn new(catalog: Arc<PgCatalog>) -> Result<TypeTable> {
        let builtin = PgCatalogStaticTables::try_new()?.pg_type.clone();
        Ok(TypeTable {
            schema: builtin.schema(),
            catalog,
            builtin,
        })
    }

    /// The table, to answer `pg_catalog.pg_type`.
    pub fn provider(self: &Arc<Self>) -> Result<Arc<dyn TableProvider>> {
        let table = StreamingTable::try_new(self.schema.clone(), vec![self.clone()])?;
        Ok(Arc::new(table))
    }
}

impl PartitionStream for TypeTable {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let builtin = self.builtin.data().to_vec();
        let catalog = self.catalog.clone();
        let rows = stream::once(async move {
            let information_schema = namespace_oid(&catalog, ctx, "information_schema").await?;
            let batches = builtin
                .iter()
                .map(|b| renumbered(b, "typnamespace", information_schema))
                .collect::<Result<Vec<_>>>()?;
            Ok::<_, DataFusionError>(stream::iter(batches.into_iter().map(Ok)))
        })
        .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), rows))
    }
}
