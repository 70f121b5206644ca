//! A connection's session as the engine keeps it: its settings, and the
//! open transaction or COPY, if any.

use crate::copy::CopyIn;
use crate::settings::Settings;
use crate::txn::Txn;

pub struct Session {
    settings: Settings,
    /// The open explicit transaction, if any.
    pub(super) txn: Option<Txn>,
    /// A `COPY … FROM STDIN` receiving data.
    pub(super) copy: Option<CopyIn>,
}

impl Session {
    pub fn new(user: &str, database: &str) -> Session {
        Session {
            settings: Settings::new(user, database),
            txn: None,
            copy: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Whether an explicit transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// Whether the open transaction failed (it refuses all but its end
    /// and ROLLBACK TO SAVEPOINT).
    pub fn transaction_failed(&self) -> bool {
        self.txn.as_ref().is_some_and(|t| t.failed)
    }

    /// A statement failed: an open transaction refuses everything but
    /// ROLLBACK (or COMMIT, which then rolls back) from now on.
    pub fn fail_transaction(&mut self) {
        if let Some(t) = &mut self.txn {
            t.failed = true;
        }
    }
}
