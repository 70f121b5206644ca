//! Stopping a running statement: a client's CancelRequest or the session's
//! `statement_timeout`. Scans check it every few hundred rows, and writes
//! check it before they are proposed, so an interrupted write never commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{SqlError, SqlResult};

#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    cancel: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Interrupt {
    /// `cancel` is set by the connection's CancelRequest handler; it is
    /// cleared here, since a cancel only stops the statement then running.
    pub fn start(cancel: Arc<AtomicBool>, deadline: Option<Instant>) -> Interrupt {
        cancel.store(false, Ordering::SeqCst);
        Interrupt { cancel, deadline }
    }

    pub fn check(&self) -> SqlResult<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(SqlError::query_canceled(
                "canceling statement due to user request",
            ));
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(SqlError::query_canceled(
                "canceling statement due to statement timeout",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::error::SqlState;

    #[test]
    fn cancel_and_deadline() {
        let flag = Arc::new(AtomicBool::new(true));
        let i = Interrupt::start(flag.clone(), None);
        assert!(
            i.check().is_ok(),
            "a cancel from before the statement is dropped"
        );
        flag.store(true, Ordering::SeqCst);
        assert_eq!(i.check().unwrap_err().state, SqlState::QueryCanceled);
        let past = Interrupt::start(
            Arc::default(),
            Some(Instant::now() - Duration::from_millis(1)),
        );
        assert_eq!(past.check().unwrap_err().state, SqlState::QueryCanceled);
    }
}
