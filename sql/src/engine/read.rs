//! Reads outside a transaction: the session's read barrier first (its
//! consistency level, never older than what it has seen), then one read
//! view for the whole statement.

use super::{Engine, Output, Prepared, Session};
use crate::datafusion::{DataFusionPlan, QueryScope, ScanSource, TxnScans};
use crate::error::SqlResult;
use crate::expr::EvalEnv;
use crate::fastpath::{self, Input};
use crate::plan::SelectPlan;
use crate::runtime::{cpu_bound, run_sync, Interrupt, RowStream};
use crate::value::Value;

impl Engine {
    /// Waits until this node may serve the session's next read.
    pub(super) async fn read_barrier(&self, session: &mut Session) -> SqlResult<()> {
        let settings = session.settings();
        let seen = self
            .node
            .read_barrier(settings.consistency(), settings.seen_index())
            .await?;
        session.settings_mut().observe(seen);
        Ok(())
    }

    /// The rows of a SELECT: in a transaction from its view, otherwise from
    /// a read view taken after the session's read barrier.
    pub(super) async fn select_rows(
        &self,
        session: &mut Session,
        s: &SelectPlan,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let reads_data = fastpath::reads_data(s);
        if session.in_transaction() && reads_data {
            return self.select_in_txn(session, s, params, interrupt);
        }
        let view = if reads_data {
            self.read_barrier(session).await?;
            Some(self.node.store().read_view())
        } else {
            None
        };
        let env = EvalEnv::at_now(params, session.settings(), interrupt);
        let catalog = &*self.catalog;
        match (&view, &s.function) {
            (Some(view), Some(call)) => {
                let args = call
                    .args
                    .iter()
                    .map(|a| a.eval(&[], &[], &env))
                    .collect::<SqlResult<Vec<_>>>()?;
                cpu_bound(|| {
                    let rows =
                        fastpath::function_rows(view, catalog, call.function, &args, interrupt)?;
                    fastpath::select_rows(catalog, s, Input::Rows(rows), &env)
                })
            }
            (Some(view), None) => run_sync(s.work(), || {
                fastpath::select_rows(catalog, s, Input::Table(view), &env)
            }),
            (None, Some(call)) => {
                let rows = call.function.cluster_rows(&self.node).await?;
                fastpath::select_rows(catalog, s, Input::Rows(rows), &env)
            }
            (None, None) => fastpath::select_rows(catalog, s, Input::Nothing, &env),
        }
    }

    /// A SELECT that hands out rows as it finds them (see
    /// [`fastpath::streams`]). The first chunk (or the error) is awaited
    /// here, so a statement that fails early fails as a whole.
    pub(super) async fn select_stream(
        &self,
        session: &mut Session,
        s: &SelectPlan,
        p: &Prepared,
        params: Vec<Value>,
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        self.read_barrier(session).await?;
        let chunks = fastpath::stream_select(
            self.catalog.clone(),
            s.clone(),
            self.node.store().owned_view(),
            params,
            session.settings().clone(),
            interrupt.clone(),
        );
        Ok(Output::stream(
            p.columns.clone(),
            RowStream::start(chunks).await?,
        ))
    }

    /// A read DataFusion planned. Outside a transaction it reads a view
    /// taken after the read barrier and streams; inside one it reads the
    /// transaction's snapshot and writes, gathers its rows, and adds what
    /// its scans read to the transaction's read set, as any read there does.
    pub(super) async fn datafusion_read(
        &self,
        session: &mut Session,
        a: &DataFusionPlan,
        p: &Prepared,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        let columns = p.columns.clone();
        let command = if a.is_explain() { "EXPLAIN" } else { "SELECT" };
        let Some(txn) = &session.txn else {
            self.read_barrier(session).await?;
            let scope = QueryScope::new(
                ScanSource::View(self.node.store().owned_view()),
                interrupt.clone(),
                session.settings().clone(),
            );
            let stream = self.datafusion.run(a, params, scope).await?;
            if a.is_explain() {
                return Ok(Output::Rows {
                    columns,
                    rows: stream.collect().await?,
                    command: command.into(),
                });
            }
            return Ok(Output::stream(columns, stream));
        };
        let (scans, done) = TxnScans::new(txn.copy());
        let scope = QueryScope::new(
            ScanSource::Txn(scans),
            interrupt.clone(),
            session.settings().clone(),
        );
        let rows = self
            .datafusion
            .run(a, params, scope)
            .await?
            .collect()
            .await?;
        let reads = done.finish().await?;
        if let Some(txn) = session.txn.as_mut() {
            txn.finish_read(reads);
        }
        Ok(Output::Rows {
            columns,
            rows,
            command: command.into(),
        })
    }
}
