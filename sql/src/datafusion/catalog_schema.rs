//! The `pg_catalog` schema DataFusion queries see: datafusion-pg-catalog's,
//! except for the tables bucketdb answers itself: `pg_proc` also lists
//! bucketdb's functions ([`super::pg_proc`]), `pg_roles`, `pg_authid` and
//! `pg_auth_members` hold the replicated roles ([`super::roles`]), and
//! `pg_class` gains the `relacl` column ([`super::privileges`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProviderList, SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{PgCatalogSchemaProvider, PgCatalogStaticTables};

use super::pg_proc::ProcTable;
use super::privileges::ScopedFunctions;
use super::roles::{RoleTable, RoleTableKind};
use crate::catalog::Catalog;

/// datafusion-pg-catalog's schema. Its role answers are not used (the
/// role tables here replace them), so it is given no roles.
pub type PgCatalog = PgCatalogSchemaProvider<Arc<dyn CatalogProviderList>, EmptyContextProvider>;

#[derive(Debug)]
struct CatalogSchema {
    inner: Arc<PgCatalog>,
    proc: Arc<ProcTable>,
    scoped: Arc<ScopedFunctions>,
}

#[async_trait]
impl SchemaProvider for CatalogSchema {
    fn table_names(&self) -> Vec<String> {
        names(&self.inner)
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(kind) = RoleTableKind::of(name) {
            return Ok(Some(Arc::new(RoleTable::new(kind))));
        }
        if name.eq_ignore_ascii_case("pg_proc") {
            return self.proc.provider().map(Some);
        }
        let table = self.inner.table(name).await?;
        match table {
            Some(t) if name.eq_ignore_ascii_case("pg_class") => self.scoped.with_acl(t).map(Some),
            other => Ok(other),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        RoleTableKind::of(name).is_some() || self.inner.table_exist(name)
    }
}

/// Sets up `pg_catalog` in `catalog_name` (after datafusion-pg-catalog's
/// own setup) and the functions that answer for the asking session.
pub fn install(ctx: &SessionContext, catalog_name: &str, catalog: Arc<Catalog>) -> Result<()> {
    let inner = Arc::new(PgCatalog::try_new(
        ctx.state().catalog_list().clone(),
        Arc::new(PgCatalogStaticTables::try_new()?),
        EmptyContextProvider,
    )?);
    let proc = Arc::new(ProcTable::new(inner.clone())?);
    proc.register_describe(ctx);
    let target = ctx
        .catalog(catalog_name)
        .ok_or_else(|| DataFusionError::Plan(format!("no catalog {catalog_name}")))?;
    let information_schema = target
        .schema("information_schema")
        .map(|s| s.table_names())
        .unwrap_or_default();
    let relations: BTreeSet<String> = information_schema
        .into_iter()
        .map(|t| format!("information_schema.{t}"))
        .chain(names(&inner).into_iter().map(|t| format!("pg_catalog.{t}")))
        .collect();
    let scoped = Arc::new(ScopedFunctions::new(catalog, relations));
    scoped.register(ctx);
    target.register_schema(
        "pg_catalog",
        Arc::new(CatalogSchema {
            inner,
            proc,
            scoped,
        }),
    )?;
    Ok(())
}

/// The schema's table names: the provider's and the role tables.
fn names(inner: &PgCatalog) -> Vec<String> {
    let mut names = inner.table_names();
    for own in RoleTableKind::NAMES {
        if !names.iter().any(|n| n == own) {
            names.push(own.to_string());
        }
    }
    names
}
