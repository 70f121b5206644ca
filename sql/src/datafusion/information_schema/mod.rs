//! `information_schema` as PostgreSQL shows it. DataFusion's own schema
//! answers for the tables it has (`tables`, `views`, `schemata`,
//! `routines`, ...), but its `columns` gives Arrow's type names (`Utf8`,
//! `Timestamp(µs, "UTC")`) and no defaults, and it has no constraint
//! views, which ORMs read to map columns and keys. Those are bucketdb's:
//! [`columns`] and the [`constraints`] views.

mod columns;
mod constraints;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::{CatalogProviderList, MemTable, SchemaProvider, TableProvider};
use datafusion::common::Result;

use crate::catalog::Catalog;

pub use columns::default_expression;

#[derive(Debug)]
pub struct InformationSchema {
    inner: InformationSchemaProvider,
    list: Arc<dyn CatalogProviderList>,
    catalog: Arc<Catalog>,
    /// The catalog the built-in tables are in, as constraint views name it.
    catalog_name: String,
}

impl InformationSchema {
    pub fn new(
        list: Arc<dyn CatalogProviderList>,
        catalog: Arc<Catalog>,
        catalog_name: &str,
    ) -> InformationSchema {
        InformationSchema {
            inner: InformationSchemaProvider::new(list.clone()),
            list,
            catalog,
            catalog_name: catalog_name.to_string(),
        }
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.extend(constraints::NAMES.iter().map(|n| n.to_string()));
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let name = name.to_ascii_lowercase();
        let batch = if name == "columns" {
            columns::columns(self.list.as_ref(), &self.catalog).await?
        } else if let Some(view) = constraints::View::of(&name) {
            view.batch(&self.catalog, &self.catalog_name)?
        } else {
            return self.inner.table(&name).await;
        };
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        Ok(Some(Arc::new(table)))
    }

    fn table_exist(&self, name: &str) -> bool {
        constraints::View::of(&name.to_ascii_lowercase()).is_some() || self.inner.table_exist(name)
    }
}
