//! Role management in SQL: CREATE / ALTER / DROP ROLE, GRANT and REVOKE of
//! table privileges and of role memberships. A statement is planned from
//! the parse tree ([`RoleStatement::plan`]) and built, each time it runs,
//! into one KV batch on the current roles ([`RoleStatement::build`]),
//! every row it read guarded by its revision so a concurrent change makes
//! the state machine refuse it and the engine build it again.

use bucketdb_storage::keys;
use bucketdb_storage::{Expect, KvBatch, KvOp, Precondition, Violation};
use sqlparser::ast::{
    self, Action, Expr, GrantObjects, Grantee, GranteeName, ObjectName, Password, RoleOption,
    Statement,
};

use super::privilege::Privileges;
use super::roles::{Role, Roles, BOOTSTRAP_SUPERUSER};
use super::scram::Verifier;
use crate::bind::{ident, object_name};
use crate::catalog::{Catalog, TableId};
use crate::error::{SqlError, SqlResult, SqlState};

/// Attributes a CREATE or ALTER ROLE sets; `None`: not mentioned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleOptions {
    pub superuser: Option<bool>,
    pub login: Option<bool>,
    /// `Some(None)`: `PASSWORD NULL`, which removes the password.
    pub password: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RoleStatement {
    Create {
        name: String,
        if_not_exists: bool,
        options: RoleOptions,
    },
    Alter {
        name: String,
        options: RoleOptions,
    },
    Drop {
        names: Vec<String>,
        if_exists: bool,
    },
    Grant {
        privileges: Privileges,
        tables: Vec<TableId>,
        roles: Vec<String>,
    },
    Revoke {
        privileges: Privileges,
        tables: Vec<TableId>,
        roles: Vec<String>,
    },
    /// `GRANT granted TO members`.
    GrantRole {
        granted: Vec<String>,
        members: Vec<String>,
    },
    RevokeRole {
        granted: Vec<String>,
        members: Vec<String>,
    },
}

fn password(p: &Password) -> SqlResult<Option<String>> {
    match p {
        Password::NullPassword => Ok(None),
        Password::Password(Expr::Value(v)) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => {
                Ok(Some(s.clone()))
            }
            ast::Value::Null => Ok(None),
            _ => Err(SqlError::syntax("a password is a string literal")),
        },
        Password::Password(_) => Err(SqlError::syntax("a password is a string literal")),
    }
}

fn grantees(list: &[Grantee]) -> SqlResult<Vec<String>> {
    list.iter()
        .map(|g| match &g.name {
            Some(GranteeName::ObjectName(n)) => object_name(n),
            _ => Err(SqlError::feature_not_supported(format!(
                "grantee {g} is not supported: name a role"
            ))),
        })
        .collect()
}

fn tables(catalog: &Catalog, objects: &Option<GrantObjects>) -> SqlResult<Vec<TableId>> {
    match objects {
        Some(GrantObjects::Tables(names)) => names
            .iter()
            .map(|n| Ok(catalog.table(&crate::bind::table_name(n)?)?.id))
            .collect(),
        Some(GrantObjects::AllTablesInSchema { schemas })
            if schemas
                .iter()
                .all(|s| object_name(s).is_ok_and(|s| s == "public")) =>
        {
            Ok(vec![
                TableId::Buckets,
                TableId::Objects,
                TableId::Versions,
                TableId::Uploads,
                TableId::Parts,
            ])
        }
        _ => Err(SqlError::feature_not_supported(
            "privileges are granted on tables (ON objects, ON ALL TABLES IN SCHEMA public)",
        )),
    }
}

/// The role names of `GRANT ROLE a, ROLE b` (how the parser reads
/// PostgreSQL's `GRANT a, b TO c`, see the `parse` module), or `None` when
/// the actions are privileges.
fn role_actions(actions: &[Action]) -> Option<SqlResult<Vec<String>>> {
    if !actions.iter().any(|a| matches!(a, Action::Role { .. })) {
        return None;
    }
    Some(
        actions
            .iter()
            .map(|a| match a {
                Action::Role { role } => object_name(role),
                _ => Err(SqlError::syntax(
                    "GRANT names either privileges or roles, not both",
                )),
            })
            .collect(),
    )
}

fn names(list: &[ObjectName]) -> SqlResult<Vec<String>> {
    list.iter().map(object_name).collect()
}

impl RoleStatement {
    /// The role statement `stmt` is, if it is one.
    pub fn plan(catalog: &Catalog, stmt: &Statement) -> Option<SqlResult<RoleStatement>> {
        let planned = match stmt {
            Statement::CreateRole(c) => Self::plan_create(c),
            Statement::AlterRole { name, operation } => Self::plan_alter(name, operation),
            Statement::Drop {
                object_type: ast::ObjectType::Role | ast::ObjectType::User,
                if_exists,
                names: list,
                ..
            } => names(list).map(|names| RoleStatement::Drop {
                names,
                if_exists: *if_exists,
            }),
            Statement::Grant(g) => {
                Self::plan_grant(catalog, &g.privileges, &g.objects, &g.grantees, true).and_then(
                    |s| {
                        if g.with_grant_option {
                            Err(SqlError::feature_not_supported(
                                "WITH GRANT OPTION is not supported: only superusers grant",
                            ))
                        } else {
                            Ok(s)
                        }
                    },
                )
            }
            Statement::Revoke(r) => {
                Self::plan_grant(catalog, &r.privileges, &r.objects, &r.grantees, false)
            }
            _ => return None,
        };
        Some(planned)
    }

    fn plan_create(c: &ast::CreateRole) -> SqlResult<RoleStatement> {
        let [name] = c.names.as_slice() else {
            return Err(SqlError::feature_not_supported(
                "CREATE ROLE makes one role at a time",
            ));
        };
        let unsupported = c.inherit == Some(false)
            || c.bypassrls.is_some()
            || c.create_db.is_some()
            || c.create_role.is_some()
            || c.replication.is_some()
            || c.connection_limit.is_some()
            || c.valid_until.is_some()
            || !c.in_role.is_empty()
            || !c.in_group.is_empty()
            || !c.role.is_empty()
            || !c.user.is_empty()
            || !c.admin.is_empty();
        if unsupported {
            return Err(SqlError::feature_not_supported(
                "CREATE ROLE takes LOGIN, NOLOGIN, SUPERUSER, NOSUPERUSER and PASSWORD; grant memberships with GRANT role TO role",
            ));
        }
        Ok(RoleStatement::Create {
            name: object_name(name)?,
            if_not_exists: c.if_not_exists,
            options: RoleOptions {
                superuser: c.superuser,
                login: c.login,
                password: c.password.as_ref().map(password).transpose()?,
            },
        })
    }

    fn plan_alter(name: &ast::Ident, op: &ast::AlterRoleOperation) -> SqlResult<RoleStatement> {
        let ast::AlterRoleOperation::WithOptions { options: list } = op else {
            return Err(SqlError::feature_not_supported(
                "ALTER ROLE takes LOGIN, NOLOGIN, SUPERUSER, NOSUPERUSER and PASSWORD",
            ));
        };
        let mut options = RoleOptions::default();
        for o in list {
            match o {
                RoleOption::Login(b) => options.login = Some(*b),
                RoleOption::SuperUser(b) => options.superuser = Some(*b),
                RoleOption::Password(p) => options.password = Some(password(p)?),
                RoleOption::Inherit(true) => {}
                other => {
                    return Err(SqlError::feature_not_supported(format!(
                        "role option {other} is not supported"
                    )))
                }
            }
        }
        Ok(RoleStatement::Alter {
            name: ident(name),
            options,
        })
    }

    fn plan_grant(
        catalog: &Catalog,
        privileges: &ast::Privileges,
        objects: &Option<GrantObjects>,
        to: &[Grantee],
        grant: bool,
    ) -> SqlResult<RoleStatement> {
        let roles = grantees(to)?;
        if let ast::Privileges::Actions(actions) = privileges {
            if let Some(granted) = role_actions(actions) {
                let granted = granted?;
                return Ok(if grant {
                    RoleStatement::GrantRole {
                        granted,
                        members: roles,
                    }
                } else {
                    RoleStatement::RevokeRole {
                        granted,
                        members: roles,
                    }
                });
            }
        }
        let privileges = match privileges {
            ast::Privileges::All { .. } => Privileges::ALL,
            ast::Privileges::Actions(actions) => Privileges::of_actions(actions)?,
        };
        let tables = tables(catalog, objects)?;
        Ok(if grant {
            RoleStatement::Grant {
                privileges,
                tables,
                roles,
            }
        } else {
            RoleStatement::Revoke {
                privileges,
                tables,
                roles,
            }
        })
    }

    /// The command tag of the statement.
    pub fn tag(&self) -> &'static str {
        match self {
            RoleStatement::Create { .. } => "CREATE ROLE",
            RoleStatement::Alter { .. } => "ALTER ROLE",
            RoleStatement::Drop { .. } => "DROP ROLE",
            RoleStatement::Grant { .. } | RoleStatement::GrantRole { .. } => "GRANT",
            RoleStatement::Revoke { .. } | RoleStatement::RevokeRole { .. } => "REVOKE",
        }
    }

    /// Builds the statement's batch on `roles`, run by `current_user`.
    /// An empty batch: nothing to change.
    pub fn build(
        &self,
        catalog: &Catalog,
        roles: &Roles,
        current_user: &str,
    ) -> SqlResult<KvBatch> {
        let mut b = Builder {
            roles,
            batch: KvBatch::default(),
        };
        match self {
            RoleStatement::Create {
                name,
                if_not_exists,
                options,
            } => {
                if roles.get(name).is_some() {
                    if *if_not_exists {
                        return Ok(KvBatch::default());
                    }
                    return Err(SqlError::duplicate_object(format!(
                        "role \"{name}\" already exists"
                    )));
                }
                let role = Role {
                    name: name.clone(),
                    superuser: options.superuser.unwrap_or(false),
                    login: options.login.unwrap_or(false),
                    verifier: verifier(options.password.as_ref().and_then(|p| p.as_deref())),
                    revision: None,
                };
                b.put_role(&role, Violation::UniqueViolation);
            }
            RoleStatement::Alter { name, options } => {
                let mut role = b.existing(name)?.clone();
                if let Some(s) = options.superuser {
                    role.superuser = s;
                }
                if let Some(l) = options.login {
                    role.login = l;
                }
                if let Some(p) = &options.password {
                    role.verifier = verifier(p.as_deref());
                }
                if name == BOOTSTRAP_SUPERUSER && !(role.superuser && role.login) {
                    return Err(SqlError::insufficient_privilege(format!(
                        "the bootstrap superuser \"{BOOTSTRAP_SUPERUSER}\" must keep SUPERUSER and LOGIN"
                    )));
                }
                b.put_role(&role, Violation::Conflict);
            }
            RoleStatement::Drop { names, if_exists } => {
                for name in names {
                    if roles.get(name).is_none() && *if_exists {
                        continue;
                    }
                    let role = b.existing(name)?;
                    if name == BOOTSTRAP_SUPERUSER {
                        return Err(SqlError::insufficient_privilege(format!(
                            "the bootstrap superuser \"{BOOTSTRAP_SUPERUSER}\" cannot be dropped"
                        )));
                    }
                    if name == current_user {
                        return Err(SqlError::new(
                            SqlState::ObjectInUse,
                            "current user cannot be dropped",
                        ));
                    }
                    b.guard_role(role);
                    b.batch.ops.push(KvOp::Delete {
                        key: keys::role(name),
                    });
                    for (table, _, rev) in roles.grants_of(name) {
                        b.delete(keys::grant(name, table), rev);
                    }
                    for granted in roles.member_of(name) {
                        let rev = roles.membership_revision(name, granted).unwrap_or(0);
                        b.delete(keys::membership(name, granted), rev);
                    }
                    for (member, rev) in roles.members_of(name) {
                        b.delete(keys::membership(member, name), rev);
                    }
                }
            }
            RoleStatement::Grant {
                privileges,
                tables,
                roles: to,
            }
            | RoleStatement::Revoke {
                privileges,
                tables,
                roles: to,
            } => {
                let granting = matches!(self, RoleStatement::Grant { .. });
                for role in to {
                    let r = b.existing(role)?;
                    // A grant needs its role's row to exist (the bootstrap
                    // superuser may have none yet).
                    if r.revision.is_none() && granting {
                        let r = r.clone();
                        b.put_role(&r, Violation::Conflict);
                    }
                    for &table in tables {
                        let name = catalog.get(table).name;
                        let old = roles.grant(role, name);
                        let before = old.map(|(p, _)| p).unwrap_or_default();
                        let after = if granting {
                            before.union(*privileges)
                        } else {
                            before.minus(*privileges)
                        };
                        if after == before {
                            continue;
                        }
                        let key = keys::grant(role, name);
                        b.guard(&key, old.map(|(_, rev)| rev));
                        b.batch.ops.push(if after.is_empty() {
                            KvOp::Delete { key }
                        } else {
                            KvOp::Put {
                                key,
                                columns: vec![bucketdb_storage::Datum::Int(after.bits())],
                            }
                        });
                    }
                }
            }
            RoleStatement::GrantRole { granted, members } => {
                for g in granted {
                    let role = b.existing(g)?.clone();
                    for m in members {
                        let member = b.existing(m)?.clone();
                        if roles.closure(g).contains(m) {
                            return Err(SqlError::new(
                                SqlState::InvalidGrantOperation,
                                format!("role \"{m}\" is a member of role \"{g}\""),
                            ));
                        }
                        if roles.membership_revision(m, g).is_some() {
                            continue;
                        }
                        if member.revision.is_none() {
                            b.put_role(&member, Violation::Conflict);
                        }
                        let key = keys::membership(m, g);
                        b.guard(&key, None);
                        b.batch.ops.push(KvOp::Put {
                            key,
                            columns: vec![],
                        });
                    }
                    // Rewritten, so that a DROP ROLE built before this grant
                    // (which misses the new member) is refused.
                    b.put_role(&role, Violation::Conflict);
                }
            }
            RoleStatement::RevokeRole { granted, members } => {
                for g in granted {
                    b.existing(g)?;
                    for m in members {
                        b.existing(m)?;
                        if let Some(rev) = roles.membership_revision(m, g) {
                            b.delete(keys::membership(m, g), rev);
                        }
                    }
                }
            }
        }
        Ok(b.batch)
    }
}

/// The verifier to store for a password given in SQL: a verifier given as
/// such (a dump's) is kept; an empty password is no password, as in
/// PostgreSQL.
fn verifier(password: Option<&str>) -> Option<String> {
    match password {
        None | Some("") => None,
        Some(p) => Some(match Verifier::parse(p) {
            Some(v) => v.to_string(),
            None => Verifier::new(p).to_string(),
        }),
    }
}

struct Builder<'r> {
    roles: &'r Roles,
    batch: KvBatch,
}

impl<'r> Builder<'r> {
    fn existing(&self, name: &str) -> SqlResult<&'r Role> {
        self.roles
            .get(name)
            .ok_or_else(|| SqlError::undefined_object(format!("role \"{name}\" does not exist")))
    }

    /// Requires `key` to be as read: at `revision`, or absent.
    fn guard(&mut self, key: &[u8], revision: Option<u64>) {
        self.batch.preconditions.push(Precondition {
            key: key.to_vec(),
            expect: revision.map_or(Expect::Absent, Expect::Revision),
            violation: Violation::Conflict,
        });
    }

    fn guard_role(&mut self, role: &Role) {
        self.guard(&keys::role(&role.name), role.revision);
    }

    /// Writes `role`'s row, guarded by the revision it was read at (absent:
    /// refused with `absent_violation`).
    fn put_role(&mut self, role: &Role, absent_violation: Violation) {
        let key = keys::role(&role.name);
        if !self.batch.preconditions.iter().any(|p| p.key == key) {
            self.batch.preconditions.push(Precondition {
                key: key.clone(),
                expect: role.revision.map_or(Expect::Absent, Expect::Revision),
                violation: if role.revision.is_some() {
                    Violation::Conflict
                } else {
                    absent_violation
                },
            });
        }
        self.batch.ops.retain(|op| op.key() != key);
        self.batch.ops.push(KvOp::Put {
            key,
            columns: role.columns(),
        });
    }

    fn delete(&mut self, key: Vec<u8>, revision: u64) {
        self.guard(&key, Some(revision));
        self.batch.ops.push(KvOp::Delete { key });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::MemRows;
    use bucketdb_storage::Datum;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn plan(sql: &str) -> SqlResult<RoleStatement> {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        RoleStatement::plan(&Catalog::new(), &stmt).expect("a role statement")
    }

    fn state() -> MemRows {
        let mut m = MemRows::default();
        m.put(
            keys::role("app"),
            3,
            vec![Datum::Bool(false), Datum::Bool(true), Datum::Null],
        );
        m.put(
            keys::role("reader"),
            4,
            vec![Datum::Bool(false), Datum::Bool(false), Datum::Null],
        );
        m.put(keys::grant("reader", "objects"), 5, vec![Datum::Int(1)]);
        m.put(keys::membership("app", "reader"), 6, vec![]);
        m
    }

    fn build(sql: &str) -> SqlResult<KvBatch> {
        let roles = Roles::load(&state()).unwrap();
        plan(sql)?.build(&Catalog::new(), &roles, "postgres")
    }

    fn state_of(e: SqlError) -> SqlState {
        e.state
    }

    #[test]
    fn create_stores_a_verifier_never_the_password() {
        let b = build("CREATE ROLE web LOGIN PASSWORD 'hunter2'").unwrap();
        assert_eq!(b.preconditions[0].expect, Expect::Absent);
        assert_eq!(b.preconditions[0].violation, Violation::UniqueViolation);
        let KvOp::Put { columns, .. } = &b.ops[0] else {
            panic!()
        };
        let Datum::Text(v) = &columns[2] else {
            panic!("{columns:?}")
        };
        assert!(v.starts_with("SCRAM-SHA-256$4096:") && !v.contains("hunter2"));
        assert!(Verifier::parse(v).unwrap().matches("hunter2"));
        assert_eq!(
            state_of(build("CREATE ROLE app").unwrap_err()),
            SqlState::DuplicateObject
        );
        assert_eq!(
            state_of(build("CREATE ROLE postgres").unwrap_err()),
            SqlState::DuplicateObject
        );
        assert!(build("CREATE ROLE IF NOT EXISTS app").unwrap().is_empty());
    }

    #[test]
    fn alter_and_drop_guard_what_they_read() {
        let b = build("ALTER ROLE app NOLOGIN").unwrap();
        assert_eq!(b.preconditions[0].expect, Expect::Revision(3));
        let b = build("DROP ROLE reader").unwrap();
        // The role, its grant, and app's membership in it all go.
        assert_eq!(b.ops.len(), 3);
        assert!(b
            .preconditions
            .iter()
            .all(|p| matches!(p.expect, Expect::Revision(_))));
        assert_eq!(
            state_of(build("DROP ROLE nobody").unwrap_err()),
            SqlState::UndefinedObject
        );
        assert!(build("DROP ROLE IF EXISTS nobody").unwrap().is_empty());
        assert_eq!(
            state_of(build("DROP ROLE postgres").unwrap_err()),
            SqlState::InsufficientPrivilege
        );
        assert_eq!(
            state_of(build("ALTER ROLE postgres NOSUPERUSER").unwrap_err()),
            SqlState::InsufficientPrivilege
        );
    }

    #[test]
    fn grants_merge_and_revokes_subtract() {
        let b = build("GRANT INSERT, UPDATE ON objects TO reader").unwrap();
        let KvOp::Put { columns, .. } = &b.ops[0] else {
            panic!()
        };
        assert_eq!(columns, &vec![Datum::Int(7)]);
        assert_eq!(b.preconditions[0].expect, Expect::Revision(5));
        let b = build("REVOKE SELECT ON objects FROM reader").unwrap();
        assert!(matches!(b.ops[0], KvOp::Delete { .. }));
        assert!(build("GRANT SELECT ON objects TO reader")
            .unwrap()
            .is_empty());
        assert_eq!(
            state_of(build("GRANT SELECT ON nope TO reader").unwrap_err()),
            SqlState::UndefinedTable
        );
        assert_eq!(
            state_of(build("GRANT SELECT ON objects TO nobody").unwrap_err()),
            SqlState::UndefinedObject
        );
        let all = build("GRANT ALL ON ALL TABLES IN SCHEMA public TO app").unwrap();
        assert_eq!(all.ops.len(), 5);
    }

    #[test]
    fn memberships_refuse_cycles() {
        let b = build("GRANT ROLE app TO reader");
        assert_eq!(state_of(b.unwrap_err()), SqlState::InvalidGrantOperation);
        let b = build("GRANT ROLE reader TO postgres").unwrap();
        assert!(b
            .ops
            .iter()
            .any(|op| op.key() == keys::membership("postgres", "reader")));
        let b = build("REVOKE ROLE reader FROM app").unwrap();
        assert_eq!(
            b.ops,
            vec![KvOp::Delete {
                key: keys::membership("app", "reader")
            }]
        );
    }
}
