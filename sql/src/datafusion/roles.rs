//! `pg_catalog.pg_roles` from the roles in the replicated state: the
//! pg_catalog provider asks a context for role names, then for each role;
//! both answers come from one snapshot taken at the first question, so a
//! role dropped in between cannot make the table inconsistent. Passwords
//! are never shown (`rolpassword` is NULL, as in PostgreSQL's view).

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion_pg_catalog::pg_catalog::context::{PgCatalogContextProvider, Role};

use crate::auth::Roles;
use crate::error::SqlResult;

/// Reads the roles as the node holds them now.
pub type LoadRoles = Arc<dyn Fn() -> SqlResult<Roles> + Send + Sync>;

#[derive(Clone)]
pub struct RoleCatalog {
    load: LoadRoles,
    snapshot: Arc<Mutex<Option<Roles>>>,
}

impl fmt::Debug for RoleCatalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoleCatalog")
    }
}

impl RoleCatalog {
    pub fn new(load: LoadRoles) -> RoleCatalog {
        RoleCatalog {
            load,
            snapshot: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Roles>> {
        self.snapshot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl PgCatalogContextProvider for RoleCatalog {
    async fn roles(&self) -> Vec<String> {
        let fresh = (self.load)().unwrap_or_default();
        let names = fresh.iter().map(|r| r.name.clone()).collect();
        *self.lock() = Some(fresh);
        names
    }

    async fn role(&self, name: &str) -> Option<Role> {
        let guard = self.lock();
        let roles = guard.as_ref()?;
        let r = roles.get(name)?;
        Some(Role {
            name: r.name.clone(),
            is_superuser: r.superuser,
            can_login: r.login,
            can_create_db: false,
            can_create_role: r.superuser,
            can_create_user: r.superuser,
            can_replication: false,
            grants: vec![],
            inherited_roles: roles.member_of(name).map(str::to_string).collect(),
        })
    }
}
