//! The roles as a node holds them: loaded from the replicated state (so
//! every node decides the same), then asked who may do what.
//!
//! Stored rows (keys in `bucketdb_storage::keys`):
//! - a role: `[superuser, login, verifier or NULL]`;
//! - a grant, role × table: `[privilege bits]`;
//! - a membership, member × granted role: `[]`.
//!
//! The bootstrap superuser `postgres` exists from the start, as after
//! PostgreSQL's initdb: until it is written (given a password), it is held
//! here without a row.

use std::collections::{BTreeMap, BTreeSet};

use bucketdb_storage::keys::{self, DecodedKey};
use bucketdb_storage::{Datum, StoredRow};

use super::privilege::Privileges;
use crate::catalog::{Catalog, TableId};
use crate::error::{SqlError, SqlResult};
use crate::scan::RowSource;

/// The superuser every cluster starts with.
pub const BOOTSTRAP_SUPERUSER: &str = "postgres";

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub superuser: bool,
    pub login: bool,
    /// The SCRAM verifier, in PostgreSQL's text form.
    pub verifier: Option<String>,
    /// The revision of its row; `None` for the bootstrap superuser not yet
    /// written.
    pub revision: Option<u64>,
}

impl Role {
    pub fn columns(&self) -> Vec<Datum> {
        vec![
            Datum::Bool(self.superuser),
            Datum::Bool(self.login),
            self.verifier.clone().map_or(Datum::Null, Datum::Text),
        ]
    }

    fn from_row(name: &str, row: &StoredRow) -> SqlResult<Role> {
        match row.columns.as_slice() {
            [Datum::Bool(superuser), Datum::Bool(login), verifier] => Ok(Role {
                name: name.to_string(),
                superuser: *superuser,
                login: *login,
                verifier: match verifier {
                    Datum::Text(v) => Some(v.clone()),
                    _ => None,
                },
                revision: Some(row.revision),
            }),
            _ => Err(SqlError::internal(format!(
                "corrupt row of role \"{name}\""
            ))),
        }
    }
}

/// Every role, grant and membership at one point of the state.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    roles: BTreeMap<String, Role>,
    /// (role, table name) → privileges and the revision of the grant row.
    grants: BTreeMap<(String, String), (Privileges, u64)>,
    /// (member, granted role) → revision of the membership row.
    members: BTreeMap<(String, String), u64>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Roles {
    /// Reads the roles from `src`.
    pub fn load(src: &dyn RowSource) -> SqlResult<Roles> {
        let mut r = Roles::default();
        let start = keys::role("");
        let end = keys::prefix_end(&[keys::TAG_MEMBERS]);
        src.scan(&start, end, &mut |key, row| {
            match keys::decode(key) {
                Some(DecodedKey::Role { name }) => {
                    let name = text(name);
                    let role = Role::from_row(&name, &row)?;
                    r.roles.insert(name, role);
                }
                Some(DecodedKey::Grant { role, table }) => {
                    let bits = match row.columns.first() {
                        Some(Datum::Int(b)) => Privileges::from_bits(*b),
                        _ => Privileges::NONE,
                    };
                    r.grants
                        .insert((text(role), text(table)), (bits, row.revision));
                }
                Some(DecodedKey::Membership { member, granted }) => {
                    r.members
                        .insert((text(member), text(granted)), row.revision);
                }
                _ => {}
            }
            Ok(std::ops::ControlFlow::Continue(()))
        })?;
        r.roles
            .entry(BOOTSTRAP_SUPERUSER.to_string())
            .or_insert_with(|| Role {
                name: BOOTSTRAP_SUPERUSER.to_string(),
                superuser: true,
                login: true,
                verifier: None,
                revision: None,
            });
        Ok(r)
    }

    /// Whether `name` is a superuser in `src`, from its row alone: all
    /// most statements need to know (a superuser may run anything), at the
    /// cost of one point read instead of loading every role.
    pub fn superuser_in(src: &dyn RowSource, name: &str) -> SqlResult<bool> {
        match src.get(&keys::role(name))? {
            Some(row) => Ok(Role::from_row(name, &row)?.superuser),
            None => Ok(name == BOOTSTRAP_SUPERUSER),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    pub fn is_superuser(&self, name: &str) -> bool {
        self.roles.get(name).is_some_and(|r| r.superuser)
    }

    /// The roles `name` is a direct member of.
    pub fn member_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.members
            .range((name.to_string(), String::new())..)
            .take_while(move |((m, _), _)| m == name)
            .map(|((_, g), _)| g.as_str())
    }

    /// The members of `name`, direct only, with their membership revisions.
    pub fn members_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        self.members
            .iter()
            .filter(move |((_, g), _)| g == name)
            .map(|((m, _), rev)| (m.as_str(), *rev))
    }

    pub fn membership_revision(&self, member: &str, granted: &str) -> Option<u64> {
        self.members
            .get(&(member.to_string(), granted.to_string()))
            .copied()
    }

    /// `name` and every role it belongs to, directly or through others.
    pub fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_string()];
        while let Some(r) = todo.pop() {
            if seen.insert(r.clone()) {
                todo.extend(self.member_of(&r).map(str::to_string));
            }
        }
        seen
    }

    /// The privileges granted to exactly `role` on `table`, with the grant
    /// row's revision.
    pub fn grant(&self, role: &str, table: &str) -> Option<(Privileges, u64)> {
        self.grants
            .get(&(role.to_string(), table.to_string()))
            .copied()
    }

    /// Every grant held by `role` directly: (table, privileges, revision).
    pub fn grants_of<'a>(
        &'a self,
        role: &'a str,
    ) -> impl Iterator<Item = (&'a str, Privileges, u64)> + 'a {
        self.grants
            .range((role.to_string(), String::new())..)
            .take_while(move |((r, _), _)| r == role)
            .map(|((_, t), (p, rev))| (t.as_str(), *p, *rev))
    }

    /// Every grant on `table`: (role, privileges).
    pub fn grants_on<'a>(
        &'a self,
        table: &'a str,
    ) -> impl Iterator<Item = (&'a str, Privileges)> + 'a {
        self.grants
            .iter()
            .filter(move |((_, t), _)| t == table)
            .map(|((r, _), (p, _))| (r.as_str(), *p))
    }

    /// What `user` may do on `table`: everything for a superuser, else
    /// the union of its own grants and those of the roles it belongs to.
    pub fn privileges(&self, user: &str, table: &str) -> Privileges {
        if self.is_superuser(user) {
            return Privileges::ALL;
        }
        if !self.roles.contains_key(user) {
            return Privileges::NONE;
        }
        self.closure(user)
            .iter()
            .filter_map(|r| self.grant(r, table))
            .fold(Privileges::NONE, |acc, (p, _)| acc.union(p))
    }

    /// Checks that `user` holds `needed` on `table`; 42501 otherwise.
    pub fn require(
        &self,
        catalog: &Catalog,
        user: &str,
        table: TableId,
        needed: Privileges,
    ) -> SqlResult<()> {
        let name = catalog.get(table).name;
        let missing = needed.minus(self.privileges(user, name));
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SqlError::insufficient_privilege(format!(
                "permission denied for table {name}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::MemRows;

    fn state() -> MemRows {
        let mut m = MemRows::default();
        let role = |su, login| vec![Datum::Bool(su), Datum::Bool(login), Datum::Null];
        m.put(keys::role("admin"), 1, role(true, true));
        m.put(keys::role("reader"), 2, role(false, false));
        m.put(keys::role("app"), 3, role(false, true));
        m.put(keys::role("svc"), 4, role(false, true));
        m.put(keys::grant("reader", "objects"), 5, vec![Datum::Int(1)]);
        m.put(keys::grant("app", "objects"), 6, vec![Datum::Int(2)]);
        m.put(keys::membership("app", "reader"), 7, vec![]);
        m.put(keys::membership("svc", "app"), 8, vec![]);
        m
    }

    #[test]
    fn privileges_come_from_grants_memberships_and_superuser() {
        let r = Roles::load(&state()).unwrap();
        assert_eq!(r.privileges("admin", "buckets"), Privileges::ALL);
        assert_eq!(r.privileges("reader", "objects"), Privileges::SELECT);
        assert_eq!(
            r.privileges("app", "objects"),
            Privileges::SELECT.union(Privileges::INSERT)
        );
        // Through app, through reader.
        assert_eq!(
            r.privileges("svc", "objects"),
            r.privileges("app", "objects")
        );
        assert_eq!(r.privileges("svc", "buckets"), Privileges::NONE);
        assert_eq!(r.privileges("nobody", "objects"), Privileges::NONE);
        let catalog = Catalog::new();
        let denied = r
            .require(&catalog, "reader", TableId::Objects, Privileges::DELETE)
            .unwrap_err();
        assert_eq!(denied.state, crate::error::SqlState::InsufficientPrivilege);
        assert_eq!(denied.message, "permission denied for table objects");
    }

    #[test]
    fn the_bootstrap_superuser_exists_until_written_and_cycles_end() {
        let mut m = state();
        m.put(keys::membership("reader", "svc"), 9, vec![]);
        let r = Roles::load(&m).unwrap();
        let pg = r.get(BOOTSTRAP_SUPERUSER).unwrap();
        assert!(pg.superuser && pg.login && pg.revision.is_none());
        assert_eq!(r.closure("reader").len(), 3);
        assert!(Roles::superuser_in(&m, BOOTSTRAP_SUPERUSER).unwrap());
        assert!(Roles::superuser_in(&m, "admin").unwrap());
        assert!(!Roles::superuser_in(&m, "app").unwrap());
        assert!(!Roles::superuser_in(&m, "nobody").unwrap());
    }
}
