//! Explicit transactions: BEGIN takes a snapshot after the read barrier,
//! each statement runs on the transaction's view and keeps its reads and
//! writes there, COMMIT proposes them as one guarded batch.

use bucketdb_storage::{ApplyOutcome, KvBatch};

use super::{Engine, Output, Prepared, Session};
use crate::catalog::rejection_error;
use crate::error::{SqlError, SqlResult};
use crate::expr::EvalEnv;
use crate::fastpath::{self, Input};
use crate::plan::{Plan, SelectPlan};
use crate::runtime::{cpu_bound, now_micros, Interrupt};
use crate::scan::RowSource;
use crate::txn::Txn;
use crate::value::Value;

impl Engine {
    /// BEGIN: a snapshot no older than what the session has seen.
    pub(super) async fn begin(&self, session: &mut Session, read_only: bool) -> SqlResult<Output> {
        if session.txn.is_none() {
            self.read_barrier(session).await?;
            let mut txn = Txn::new(self.node.store().owned_view());
            txn.read_only = read_only;
            session.txn = Some(txn);
        }
        Ok(Output::Transaction {
            tag: "BEGIN",
            open: true,
        })
    }

    /// A write inside a transaction: built on the transaction's view and
    /// kept in the session until COMMIT.
    pub(super) fn write_in_txn(
        &self,
        session: &mut Session,
        plan: &Plan,
        p: &Prepared,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        self.in_txn(session, params, interrupt, |view, env| {
            let built = fastpath::build_write(&self.catalog, plan, view, env)?;
            let out = Output::written(&p.columns, built.command, built.count, built.returned);
            Ok((out, built.batch))
        })
    }

    /// A SELECT inside a transaction: its snapshot plus its own writes.
    pub(super) fn select_in_txn(
        &self,
        session: &mut Session,
        s: &SelectPlan,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Vec<Vec<Value>>> {
        if s.table.is_none() {
            return Err(SqlError::feature_not_supported(
                "list_objects() and bucket_stats() cannot be used inside a transaction yet",
            ));
        }
        self.in_txn(session, params, interrupt, |view, env| {
            let rows = fastpath::select_rows(&self.catalog, s, Input::Table(view), env)?;
            Ok((rows, KvBatch::default()))
        })
    }

    /// Runs one statement on the open transaction's view; keeps what it
    /// read and the batch it built (empty for a read) in the transaction.
    fn in_txn<T>(
        &self,
        session: &mut Session,
        params: &[Value],
        interrupt: &Interrupt,
        statement: impl FnOnce(&dyn RowSource, &EvalEnv) -> SqlResult<(T, KvBatch)>,
    ) -> SqlResult<T> {
        let Some(mut txn) = session.txn.take() else {
            return Err(SqlError::internal("no open transaction"));
        };
        let env = EvalEnv::at_now(params, session.settings(), interrupt);
        let result = cpu_bound(|| {
            let view = txn.view();
            let (out, batch) = statement(&view, &env)?;
            Ok::<_, SqlError>((out, batch, view.into_reads()))
        });
        let limits = self.node.limits();
        let out = result.and_then(|(out, batch, reads)| {
            txn.finish_statement(reads, batch, limits)
                .map_err(|e| SqlError::program_limit_exceeded(e.to_string()))?;
            Ok(out)
        });
        session.txn = Some(txn);
        out
    }

    /// COMMIT: one proposal of the transaction's writes, guarded by what it
    /// read. Whatever happens the transaction is over.
    pub(super) async fn commit(
        &self,
        session: &mut Session,
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        let end = |tag| Output::Transaction { tag, open: false };
        let Some(txn) = session.txn.take() else {
            return Ok(end("COMMIT"));
        };
        if txn.failed {
            return Ok(end("ROLLBACK"));
        }
        let Some(mut batch) = txn.into_batch() else {
            return Ok(end("COMMIT"));
        };
        batch.timestamp = now_micros();
        interrupt.check()?;
        match self.node.propose(batch).await? {
            ApplyOutcome::Applied { index } => {
                session.settings_mut().observe(index);
                Ok(end("COMMIT"))
            }
            ApplyOutcome::Rejected(r) => {
                Err(rejection_error(self.catalog.table_of_key(&r.key), &r))
            }
        }
    }
}
