//! Autocommit writes: build the batch on a state that holds every
//! acknowledged write, propose it, and when a precondition reports a
//! conflict, build it again on the newer state (with backoff, within a
//! budget, then 40001).

use std::time::{Duration, Instant};

use bucketdb_storage::{ApplyOutcome, KvBatch, Violation};

use super::{Engine, Output, Prepared, Session};
use crate::catalog::rejection_error;
use crate::error::{SqlError, SqlResult};
use crate::expr::EvalEnv;
use crate::fastpath::{self, Built};
use crate::plan::{InsertPlan, Plan};
use crate::runtime::{run_sync, Interrupt};
use crate::txn::Txn;
use crate::value::Value;

/// How long an autocommit write keeps re-planning after conflicts before it
/// gives up with 40001.
const CONFLICT_RETRY_BUDGET: Duration = Duration::from_secs(5);

/// A pause before re-planning after the `attempt`-th conflict: exponential
/// with jitter, so that writers contending on one row stop colliding in
/// lockstep.
fn conflict_backoff(attempt: u32) -> Duration {
    let cap_us = 200u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    Duration::from_micros(nanos % cap_us)
}

impl Engine {
    /// Waits until this node's state holds every write acknowledged so
    /// far (the session's included), so a write built on it misses none.
    pub(super) async fn write_barrier(&self, session: &mut Session) -> SqlResult<()> {
        let seen = self
            .node
            .write_barrier(session.settings().seen_index())
            .await?;
        session.settings_mut().observe(seen);
        Ok(())
    }

    pub(super) async fn write(
        &self,
        session: &mut Session,
        plan: &Plan,
        p: &Prepared,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        let started = Instant::now();
        for attempt in 0u32.. {
            if attempt > 0 {
                if started.elapsed() > CONFLICT_RETRY_BUDGET {
                    break;
                }
                tokio::time::sleep(conflict_backoff(attempt)).await;
            }
            // Plan on a state that holds every write acknowledged so far,
            // on a follower or a new leader too: preconditions catch rows
            // that change after this, but a write that finds nothing to do
            // is never proposed, so its "0 rows" must not come from a stale
            // state. (The leader's lease stands in for a quorum round.)
            self.write_barrier(session).await?;
            // Fixed here, before the entry enters the log: replicas never
            // read the clock.
            let env = EvalEnv::at_now(params, session.settings(), interrupt);
            let built = run_sync(plan.write_work(), || self.build_autocommit(plan, &env))?;
            let batch = KvBatch {
                timestamp: env.now,
                ..built.batch
            };
            if !batch.is_empty() {
                // Last chance to stop: once proposed, the write completes.
                interrupt.check()?;
                match self.node.propose(batch).await? {
                    ApplyOutcome::Applied { index } => session.settings_mut().observe(index),
                    ApplyOutcome::Rejected(r) if r.violation == Violation::Conflict => continue,
                    ApplyOutcome::Rejected(r) => {
                        return Err(rejection_error(self.catalog.get(built.table), &r))
                    }
                }
            }
            return Ok(Output::written(
                &p.columns,
                built.command,
                built.count,
                built.returned,
            ));
        }
        Err(SqlError::serialization_failure(
            "could not serialize access due to concurrent update",
        ))
    }

    /// Builds an autocommit write on the current state.
    fn build_autocommit(&self, plan: &Plan, env: &EvalEnv) -> SqlResult<Built> {
        match plan {
            // The rows an INSERT … SELECT copies must still be the same
            // when it applies: built as a one-statement transaction, its
            // reads become preconditions.
            Plan::Insert(InsertPlan {
                select: Some(_), ..
            }) => {
                let mut txn = Txn::new(self.node.store().owned_view());
                let view = txn.view();
                let built = fastpath::build_write(&self.catalog, plan, &view, env)?;
                let reads = view.into_reads();
                let Built {
                    batch,
                    returned,
                    count,
                    command,
                    table,
                } = built;
                txn.finish_statement(reads, batch, self.node.limits())
                    .map_err(|e| SqlError::program_limit_exceeded(e.to_string()))?;
                Ok(Built {
                    batch: txn.into_batch().unwrap_or_default(),
                    returned,
                    count,
                    command,
                    table,
                })
            }
            _ => {
                let view = self.node.store().read_view();
                fastpath::build_write(&self.catalog, plan, &view, env)
            }
        }
    }
}
