//! The `pg_catalog` schema DataFusion queries see: datafusion-pg-catalog's,
//! except for the tables bucketdb answers itself: `pg_proc` also lists
//! bucketdb's functions ([`super::pg_proc`]), `pg_type` puts its
//! information_schema types in the listed schema ([`super::pg_type`]),
//! `pg_roles`, `pg_authid` and
//! `pg_auth_members` hold the replicated roles ([`super::roles`]),
//! `pg_settings` the session's settings ([`super::settings_table`]),
//! `pg_class` gains the `relacl` column ([`super::privileges`]), and the
//! tables that describe keys, defaults and column types tell the built-in
//! tables' own ([`super::pg_keys`]).

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProviderList, SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::{PgCatalogSchemaProvider, PgCatalogStaticTables};
use sqlparser::ast::{visit_relations_mut, Ident, ObjectNamePart, Statement};

use super::pg_keys::{self, KeyTable, KeyTableKind, LiveTables};
use super::pg_proc::ProcTable;
use super::pg_type::TypeTable;
use super::privileges::ScopedFunctions;
use super::roles::{RoleTable, RoleTableKind};
use super::settings_table::{self, SettingsTable};
use super::{empty_catalogs, pg_database, pg_description};
use super::{regproc, regtype};
use crate::catalog::Catalog;

/// datafusion-pg-catalog's schema. Its role answers are not used (the
/// role tables here replace them), so it is given no roles.
pub type PgCatalog = PgCatalogSchemaProvider<Arc<dyn CatalogProviderList>, EmptyContextProvider>;

#[derive(Debug)]
struct CatalogSchema {
    inner: Arc<PgCatalog>,
    proc: Arc<ProcTable>,
    types: Arc<TypeTable>,
    scoped: Arc<ScopedFunctions>,
    catalog: Arc<Catalog>,
}

impl CatalogSchema {
    /// The library's own table `name`.
    fn library_table(&self, name: &str) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .build_table_by_name(name)?
            .ok_or_else(|| DataFusionError::Internal(format!("pg_catalog has no {name}")))?
            .try_into_table_provider()
    }

    fn key_table(&self, kind: KeyTableKind) -> Result<Arc<dyn TableProvider>> {
        let live = LiveTables {
            pg_class: self.library_table("pg_class")?,
            pg_namespace: self.library_table("pg_namespace")?,
            pg_attribute: self.library_table("pg_attribute")?,
        };
        let table = Arc::new(KeyTable::new(kind, live, self.catalog.clone()));
        match kind {
            KeyTableKind::Class => self.scoped.with_acl(table),
            _ => Ok(table),
        }
    }
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
        if name.eq_ignore_ascii_case(settings_table::NAME) {
            return Ok(Some(Arc::new(SettingsTable::new())));
        }
        if let Some(empty) = empty_catalogs::table(name) {
            return empty.map(Some);
        }
        if name.eq_ignore_ascii_case("pg_proc") {
            return self.proc.provider().map(Some);
        }
        if name.eq_ignore_ascii_case("pg_type") {
            return self.types.provider().map(Some);
        }
        if let Some(kind) = KeyTableKind::of(name) {
            return self.key_table(kind).map(Some);
        }
        let table = self.inner.table(name).await?;
        if name.eq_ignore_ascii_case(pg_database::NAME) {
            return Ok(table.map(pg_database::wrap));
        }
        if name.eq_ignore_ascii_case(pg_description::NAME) {
            if let (Some(table), Some(namespaces)) =
                (table, self.inner.table("pg_namespace").await?)
            {
                return Ok(Some(pg_description::wrap(table, namespaces)));
            }
            return Err(DataFusionError::Internal(
                "pg_description needs pg_namespace".into(),
            ));
        }
        Ok(table)
    }

    fn table_exist(&self, name: &str) -> bool {
        RoleTableKind::of(name).is_some()
            || KeyTableKind::of(name).is_some()
            || empty_catalogs::table(name).is_some()
            || self.inner.table_exist(name)
    }
}

/// Sets up `pg_catalog` in `catalog_name` (after datafusion-pg-catalog's
/// own setup) and the functions that answer for the asking session.
pub fn install(ctx: &SessionContext, catalog_name: &str, catalog: Arc<Catalog>) -> Result<()> {
    let statics = Arc::new(PgCatalogStaticTables::try_new()?);
    // pg_type's names, read once: for `to_regtype`, `::regtype[]` and
    // the built-ins' signatures in `\df`.
    let types = Arc::new(regtype::Types::load(&statics)?);
    regtype::register(ctx, types.clone());
    regproc::register(ctx, &statics)?;
    let inner = Arc::new(PgCatalog::try_new(
        ctx.state().catalog_list().clone(),
        statics.clone(),
        EmptyContextProvider,
    )?);
    let proc = Arc::new(ProcTable::new(inner.clone(), &statics)?);
    proc.register_describe(ctx, &types)?;
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
    let scoped = Arc::new(ScopedFunctions::new(catalog.clone(), relations));
    scoped.register(ctx);
    pg_keys::register(ctx, &catalog);
    target.register_schema(
        "pg_catalog",
        Arc::new(CatalogSchema {
            types: Arc::new(TypeTable::new(inner.clone())?),
            inner,
            proc,
            scoped,
            catalog,
        }),
    )?;
    Ok(())
}

/// The schema's table names: the provider's and bucketdb's own.
fn names(inner: &PgCatalog) -> Vec<String> {
    let mut names = inner.table_names();
    for own in RoleTableKind::NAMES
        .into_iter()
        .chain(KeyTableKind::OWN)
        .chain(empty_catalogs::names())
    {
        if !names.iter().any(|n| n == own) {
            names.push(own.to_string());
        }
    }
    names
}

/// Whether the (lower-case) query text names one of the catalog tables
/// bucketdb adds.
pub fn mentions_own_tables(lower: &str) -> bool {
    KeyTableKind::OWN
        .into_iter()
        .chain(empty_catalogs::names())
        .any(|t| lower.contains(t))
}

/// Qualifies, as `pg_catalog.X`, the unqualified references to the
/// catalog tables bucketdb adds: the library's rules qualify only its own
/// tables, and an unqualified name is otherwise looked up in `public`.
pub fn qualify_own_tables(stmt: &mut Statement) {
    let own: Vec<&str> = KeyTableKind::OWN
        .into_iter()
        .chain(empty_catalogs::names())
        .collect();
    let _ = visit_relations_mut(stmt, |name| {
        if let [ObjectNamePart::Identifier(i)] = name.0.as_slice() {
            if i.quote_style.is_none() && own.iter().any(|o| i.value.eq_ignore_ascii_case(o)) {
                name.0
                    .insert(0, ObjectNamePart::Identifier(Ident::new("pg_catalog")));
            }
        }
        ControlFlow::<()>::Continue(())
    });
}
