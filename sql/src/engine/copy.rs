//! Driving `COPY … FROM STDIN`: the session holds the COPY while the
//! client sends data, and every full batch is written as one Raft entry
//! as soon as it is parsed.

use bucketdb_storage::{ApplyOutcome, KvBatch};

use super::{Engine, Session};
use crate::catalog::rejection_error;
use crate::copy::{at_line, CopyIn, CopyInPlan};
use crate::error::{SqlError, SqlResult};
use crate::expr::EvalEnv;
use crate::fastpath;
use crate::runtime::{cpu_bound, Interrupt};

impl Engine {
    /// Starts `COPY … FROM STDIN` in the session; the columns the client
    /// sends per record.
    pub(super) fn copy_start(&self, session: &mut Session, plan: &CopyInPlan) -> SqlResult<usize> {
        if session.in_transaction() {
            return Err(SqlError::feature_not_supported(
                "COPY FROM STDIN inside a transaction is not supported",
            ));
        }
        let copy = CopyIn::new(plan.clone(), self.node.limits().max_write_bytes);
        let columns = copy.columns();
        session.copy = Some(copy);
        Ok(columns)
    }

    /// Takes a chunk of COPY data from the client.
    pub async fn copy_data(
        &self,
        session: &mut Session,
        interrupt: &Interrupt,
        data: &[u8],
    ) -> SqlResult<()> {
        let Some(mut copy) = session.copy.take() else {
            return Err(SqlError::protocol_violation("no COPY in progress"));
        };
        copy.feed(data);
        // Every full batch, so a large chunk of data is not held whole.
        while copy.batch_ready() {
            if let Err(e) = self.copy_flush(session, &mut copy, interrupt).await {
                copy.fail(e);
            }
        }
        session.copy = Some(copy);
        Ok(())
    }

    /// The client's end of data: writes what is left; the command tag.
    pub async fn copy_done(
        &self,
        session: &mut Session,
        interrupt: &Interrupt,
    ) -> SqlResult<String> {
        let Some(mut copy) = session.copy.take() else {
            return Err(SqlError::protocol_violation("no COPY in progress"));
        };
        copy.end_of_data();
        while copy.has_pending() {
            if let Err(e) = self.copy_flush(session, &mut copy, interrupt).await {
                copy.fail(e);
            }
        }
        copy.outcome()
    }

    /// The client gave up: nothing more is written.
    pub fn copy_fail(&self, session: &mut Session) {
        session.copy = None;
    }

    /// Writes up to one batch of pending rows as one Raft entry.
    async fn copy_flush(
        &self,
        session: &mut Session,
        copy: &mut CopyIn,
        interrupt: &Interrupt,
    ) -> SqlResult<()> {
        let records = copy.take_batch();
        // Records, not ops: a restore writes nothing for a version that
        // is there already.
        let n = records.len() as u64;
        let table = self.catalog.get(copy.plan().table);
        self.write_barrier(session).await?;
        let env = EvalEnv::at_now(&[], session.settings(), interrupt);
        let (batch, lines) = cpu_bound(|| {
            let view = self.node.store().read_view();
            fastpath::build_copy_batch(&self.catalog, copy.plan(), &records, &view, &env)
        })?;
        let batch = KvBatch {
            timestamp: env.now,
            ..batch
        };
        interrupt.check()?;
        if batch.is_empty() {
            copy.written(n);
            return Ok(());
        }
        match self.node.propose(batch).await? {
            ApplyOutcome::Applied { index } => {
                session.settings_mut().observe(index);
                copy.written(n);
                Ok(())
            }
            ApplyOutcome::Rejected(r) => {
                let e = rejection_error(table, &r);
                Err(match lines.get(&r.key) {
                    Some(line) => at_line(*line, e),
                    None => e,
                })
            }
        }
    }
}
