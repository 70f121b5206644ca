//! Roles at the engine: every statement checked against the session
//! role's privileges, role statements written through Raft (re-built on
//! conflicts, as autocommit writes are), and what the server asks at
//! login.

use std::time::{Duration, Instant};

use bucketdb_storage::{ApplyOutcome, Violation};

use super::{Engine, Output, Prepared, Session};
use crate::auth::scram::Verifier;
use crate::auth::{Role, RoleOptions, RoleStatement, Roles, BOOTSTRAP_SUPERUSER};
use crate::error::{SqlError, SqlResult, SqlState};
use crate::runtime::Interrupt;

/// How long a role statement keeps re-building after conflicts.
const ROLE_RETRY_BUDGET: Duration = Duration::from_secs(5);

impl Engine {
    /// The roles as this node's state holds them now.
    fn roles(&self) -> SqlResult<Roles> {
        Roles::load(&self.node.store().read_view())
    }

    /// Checks that the session's role may run `p`, on this node's roles.
    /// A role that is not a superuser here is checked on a state past the
    /// session's read barrier, so with `linearizable` a REVOKE acknowledged
    /// anywhere refuses the next statement on every node (a superuser's
    /// statements skip that round; losing SUPERUSER reaches a follower as
    /// it applies the change).
    pub(super) async fn authorize(&self, session: &mut Session, p: &Prepared) -> SqlResult<()> {
        let user = session.settings().user().to_string();
        let superuser = Roles::superuser_in(&self.node.store().read_view(), &user)?;
        session.settings_mut().set_superuser(superuser);
        if superuser || p.access.is_empty() {
            return Ok(());
        }
        self.read_barrier(session).await?;
        let roles = self.roles()?;
        session
            .settings_mut()
            .set_superuser(roles.is_superuser(&user));
        p.access.check(&self.catalog, &roles, &user)
    }

    /// The role `name`, if it exists (login checks).
    pub fn role(&self, name: &str) -> SqlResult<Option<Role>> {
        Ok(self.roles()?.get(name).cloned())
    }

    /// Gives the bootstrap superuser `password`, unless it has it already
    /// (a restart with the same setting writes nothing). Needs a leader.
    pub async fn set_superuser_password(&self, password: &str) -> SqlResult<()> {
        let current = self.role(BOOTSTRAP_SUPERUSER)?;
        let has_it = current
            .and_then(|r| r.verifier)
            .and_then(|v| Verifier::parse(&v))
            .is_some_and(|v| v.matches(password));
        if has_it {
            return Ok(());
        }
        let mut session = Session::new(BOOTSTRAP_SUPERUSER, "bucketdb");
        let statement = RoleStatement::Alter {
            name: BOOTSTRAP_SUPERUSER.into(),
            options: RoleOptions {
                password: Some(Some(password.to_string())),
                ..RoleOptions::default()
            },
        };
        self.change_roles(&mut session, &statement, &Interrupt::default())
            .await
            .map(|_| ())
    }

    /// Runs a role statement: built on the current roles, proposed, built
    /// again when a concurrent change refuses it.
    pub(super) async fn change_roles(
        &self,
        session: &mut Session,
        statement: &RoleStatement,
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        if session.in_transaction() {
            return Err(SqlError::new(
                SqlState::ActiveSqlTransaction,
                format!("{} cannot run inside a transaction block", statement.tag()),
            ));
        }
        let started = Instant::now();
        while started.elapsed() < ROLE_RETRY_BUDGET {
            self.write_barrier(session).await?;
            let roles = self.roles()?;
            let batch = statement.build(&self.catalog, &roles, session.settings().user())?;
            if batch.is_empty() {
                return Ok(Output::Command(statement.tag().into()));
            }
            interrupt.check()?;
            match self.node.propose(batch).await? {
                ApplyOutcome::Applied { index } => {
                    session.settings_mut().observe(index);
                    return Ok(Output::Command(statement.tag().into()));
                }
                ApplyOutcome::Rejected(r) => match r.violation {
                    Violation::UniqueViolation => {
                        return Err(SqlError::duplicate_object(format!(
                            "role \"{}\" already exists",
                            String::from_utf8_lossy(r.key.get(1..).unwrap_or_default())
                        )))
                    }
                    Violation::InvalidValue => {
                        return Err(SqlError::invalid_parameter_value(r.detail))
                    }
                    // Something read changed (a role went, a member or a
                    // grant came): build again on the new state.
                    Violation::Conflict | Violation::MissingParent | Violation::HasChildren => {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                },
            }
        }
        Err(SqlError::serialization_failure(
            "could not serialize access due to concurrent role changes",
        ))
    }
}
