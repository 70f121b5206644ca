//! Execution: reads run on one read view after the session's read barrier;
//! writes are planned into a KV batch on the current state and proposed
//! through Raft, re-planned when a precondition reports a conflict.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bucketdb_consensus::RaftNode;
use bucketdb_storage::{
    keys, ApplyOutcome, Expect, KvBatch, KvOp, Precondition, Rejection, StoredRow, Violation,
};
use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::aggregate::AggState;
use crate::analytic::{self, Analytic, AnalyticPlan, QueryScope, ScanSource, TxnScans};
use crate::catalog::{Catalog, Table, TableId};
use crate::copy;
use crate::error::{SqlError, SqlResult};
use crate::expr::{truthy, EvalEnv, Expr};
use crate::interrupt::Interrupt;
use crate::listing;
use crate::plan::{
    self, DeletePlan, InsertPlan, OnConflict, Plan, Prepared, Projection, SelectPlan, SortSource,
    UpdatePlan,
};
use crate::session::Session;
use crate::source::RowSource;
use crate::table_fn::TableFn;
use crate::txn::Txn;
use crate::value::{SqlType, Value};
use crate::versions;

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

/// The result of one statement.
#[derive(Debug)]
pub enum Output {
    /// Rows, and the command word(s) the tag starts with (`SELECT`,
    /// `INSERT 0`, `UPDATE`, `DELETE`, `SHOW`); the row count completes it.
    Rows {
        columns: Vec<plan::OutColumn>,
        rows: Vec<Vec<Value>>,
        command: String,
    },
    /// A SELECT's rows as they are read: the first chunk, then the rest
    /// from a scan that runs on while the client takes them (bounded, so a
    /// slow client pauses the scan). A later chunk may be an error.
    RowStream {
        columns: Vec<plan::OutColumn>,
        first: Vec<Vec<Value>>,
        rest: tokio::sync::mpsc::Receiver<SqlResult<Vec<Vec<Value>>>>,
    },
    /// A complete command tag (`INSERT 0 3`, `SET`).
    Command(String),
    /// `COPY … FROM STDIN` started: the client sends this many columns.
    CopyIn { columns: usize },
    /// `COPY … TO STDOUT`: one encoded line per row.
    CopyOut { columns: usize, data: Vec<Vec<u8>> },
    /// BEGIN, COMMIT or ROLLBACK: its tag, and whether a transaction is
    /// open after it (the wire protocol reports the status).
    Transaction { tag: &'static str, open: bool },
}

impl Output {
    /// A result's rows, waiting for a streaming one to end (`None`: the
    /// statement returns no rows).
    pub async fn into_rows(self) -> SqlResult<Option<Vec<Vec<Value>>>> {
        match self {
            Output::Rows { rows, .. } => Ok(Some(rows)),
            Output::RowStream {
                first, mut rest, ..
            } => {
                let mut rows = first;
                while let Some(chunk) = rest.recv().await {
                    rows.extend(chunk?);
                }
                Ok(Some(rows))
            }
            _ => Ok(None),
        }
    }
}

/// Aggregation state of a grouped query, one entry per group in the order
/// groups were first seen.
#[derive(Default)]
struct Groups {
    index: HashMap<String, usize>,
    groups: Vec<(Vec<Value>, Vec<AggState>)>,
}

impl Groups {
    fn add(&mut self, s: &SelectPlan, row: &[Value], env: &EvalEnv) -> SqlResult<()> {
        let key = s
            .group_by
            .iter()
            .map(|e| e.eval(row, &[], env))
            .collect::<SqlResult<Vec<_>>>()?;
        // Values are not hashable (floats); their debug form identifies them.
        let id = format!("{key:?}");
        let next = self.groups.len();
        let i = *self.index.entry(id).or_insert(next);
        if i == next {
            self.groups
                .push((key, s.aggs.iter().map(AggState::new).collect()));
        }
        for (state, call) in self.groups[i].1.iter_mut().zip(&s.aggs) {
            state.update(call, row, env)?;
        }
        Ok(())
    }

    /// Each group's slots: aggregate results, then the group's keys. Without
    /// GROUP BY there is exactly one group, even over no rows.
    fn finish(mut self, s: &SelectPlan) -> Vec<Vec<Value>> {
        if self.groups.is_empty() && s.group_by.is_empty() {
            self.groups
                .push((vec![], s.aggs.iter().map(AggState::new).collect()));
        }
        self.groups
            .into_iter()
            .map(|(key, states)| {
                states
                    .into_iter()
                    .map(AggState::finish)
                    .chain(key)
                    .collect()
            })
            .collect()
    }
}

/// The rows a SELECT reads.
enum Input<'a> {
    Table(&'a dyn RowSource),
    /// A table function's rows.
    Rows(Vec<Vec<Value>>),
    /// No FROM: one empty row.
    Nothing,
}

/// The SQL engine of a node.
pub struct Engine {
    node: RaftNode,
    /// Shared with scans that stream on after the statement returns.
    catalog: Arc<Catalog>,
    /// Reads the fast planner does not take.
    analytic: Analytic,
}

/// Runs a synchronous scan or plan. On the multi-threaded runtime the worker
/// hands its other tasks (other connections, CancelRequests) to the rest of
/// the pool first, so a long scan does not stall them.
pub(crate) fn cpu_bound<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

pub(crate) fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub(crate) fn row_values(table: &Table, row: &StoredRow) -> Vec<Value> {
    let mut v: Vec<Value> = row.columns.iter().map(Value::from_datum).collect();
    v.resize(table.columns.len(), Value::Null);
    v
}

fn project(p: &Projection, row: &[Value], aggs: &[Value], env: &EvalEnv) -> SqlResult<Vec<Value>> {
    p.items.iter().map(|e| e.eval(row, aggs, env)).collect()
}

pub(crate) fn passes(filter: &Option<Expr>, row: &[Value], env: &EvalEnv) -> SqlResult<bool> {
    match filter {
        Some(f) => truthy(&f.eval(row, &[], env)?),
        None => Ok(true),
    }
}

fn count_arg(e: &Option<Expr>, env: &EvalEnv, what: &str) -> SqlResult<Option<usize>> {
    match e {
        None => Ok(None),
        Some(e) => match e.eval(&[], &[], env)? {
            Value::Null => Ok(None),
            Value::Int(i) if i >= 0 => Ok(Some(i as usize)),
            _ => Err(SqlError {
                code: "2201W",
                message: format!("{what} must not be negative"),
            }),
        },
    }
}

impl Engine {
    pub fn new(node: RaftNode) -> SqlResult<Engine> {
        let catalog = Arc::new(Catalog::new());
        Ok(Engine {
            node,
            analytic: Analytic::new(catalog.clone())?,
            catalog,
        })
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn node(&self) -> &RaftNode {
        &self.node
    }

    /// Parses a query string into statements.
    pub fn parse(&self, sql: &str) -> SqlResult<Vec<Statement>> {
        Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| SqlError::syntax(e.to_string()))
    }

    /// Plans a statement: with bucketdb's own planner, or, for a read it
    /// does not take, with DataFusion. When both refuse, DataFusion's error
    /// is reported where the fast planner only lacked the feature (0A000)
    /// or the relation (42P01, e.g. a pg_catalog table), unless DataFusion
    /// lacks one of bucketdb's own functions (see [`analytic::refusal`]).
    /// `source` is the
    /// statement's text when the query string held only it: known client
    /// catalog queries are recognised by their text.
    pub async fn prepare(
        &self,
        stmt: &Statement,
        source: Option<&str>,
        given: &[Option<SqlType>],
    ) -> SqlResult<Prepared> {
        match plan::plan(&self.catalog, stmt, given) {
            Err(e) if analytic::takes(stmt, &e) => self
                .analytic
                .prepare(stmt, source, given)
                .await
                .map_err(|df| analytic::refusal(e, df)),
            planned => planned,
        }
    }

    /// Runs a prepared statement with parameter values (already decoded).
    /// Inside a transaction that already failed only COMMIT and ROLLBACK
    /// run; an error fails the transaction.
    pub async fn execute(
        &self,
        session: &mut Session,
        p: &Prepared,
        interrupt: &Interrupt,
        params: Vec<Value>,
    ) -> SqlResult<Output> {
        let failed = session.txn.as_ref().is_some_and(|t| t.failed);
        if failed && !matches!(p.plan, Plan::Commit | Plan::Rollback) {
            return Err(SqlError::in_failed_sql_transaction(
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let result = self.run_statement(session, p, interrupt, params).await;
        if result.is_err() {
            session.fail_transaction();
        }
        result
    }

    async fn run_statement(
        &self,
        session: &mut Session,
        p: &Prepared,
        interrupt: &Interrupt,
        params: Vec<Value>,
    ) -> SqlResult<Output> {
        if params.len() < p.param_types.len() {
            return Err(SqlError::protocol_violation(format!(
                "statement needs {} parameters, {} given",
                p.param_types.len(),
                params.len()
            )));
        }
        let params = params
            .into_iter()
            .zip(
                p.param_types
                    .iter()
                    .chain(std::iter::repeat(&SqlType::Text)),
            )
            .map(|(v, t)| v.coerce(*t))
            .collect::<SqlResult<Vec<_>>>()?;
        match &p.plan {
            Plan::Empty => Ok(Output::Command(String::new())),
            Plan::Set { name, value } => {
                match value {
                    Some(v) => session.set(name, v)?,
                    None => session.reset(name)?,
                }
                Ok(Output::Command("SET".into()))
            }
            Plan::Explain(lines) => Ok(Output::Rows {
                columns: p.columns.clone(),
                rows: lines.iter().map(|l| vec![Value::Text(l.clone())]).collect(),
                command: "EXPLAIN".into(),
            }),
            Plan::ResetAll => {
                session.reset_all();
                Ok(Output::Command("RESET".into()))
            }
            Plan::Show { name } => {
                let value = session.show(name)?;
                Ok(Output::Rows {
                    columns: p.columns.clone(),
                    rows: vec![vec![Value::Text(value)]],
                    command: "SHOW".into(),
                })
            }
            Plan::Begin => {
                if session.txn.is_none() {
                    let seen = self
                        .node
                        .read_barrier(session.consistency(), session.seen_index())
                        .await?;
                    session.observe(seen);
                    session.txn = Some(Txn::new(self.node.store().owned_view()));
                }
                Ok(Output::Transaction {
                    tag: "BEGIN",
                    open: true,
                })
            }
            Plan::Rollback => {
                session.txn = None;
                Ok(Output::Transaction {
                    tag: "ROLLBACK",
                    open: false,
                })
            }
            Plan::Commit => self.commit(session, interrupt).await,
            Plan::CopyIn(plan) => Ok(Output::CopyIn {
                columns: self.copy_start(session, plan)?,
            }),
            Plan::Analytic(a) => self.analytic_read(session, a, p, &params, interrupt).await,
            Plan::Select(s) if streams(&self.catalog, s) && session.txn.is_none() => {
                self.select_stream(session, s, p, params, interrupt).await
            }
            Plan::Select(s) => Ok(Output::Rows {
                columns: p.columns.clone(),
                command: "SELECT".into(),
                rows: self.select_rows(session, s, &params, interrupt).await?,
            }),
            Plan::CopyOut { select, options } => {
                let rows = self
                    .select_rows(session, select, &params, interrupt)
                    .await?;
                Ok(Output::CopyOut {
                    columns: select.projection.columns.len(),
                    data: copy::encode_rows(options, &select.projection.columns, &rows),
                })
            }
            Plan::Insert(_) | Plan::Update(_) | Plan::Delete(_) if session.txn.is_some() => {
                self.write_in_txn(session, p, &params, interrupt)
            }
            Plan::Insert(_) | Plan::Update(_) | Plan::Delete(_) => {
                self.write(session, p, &params, interrupt).await
            }
            Plan::Admin(call) => {
                let env = EvalEnv {
                    params: &params,
                    now: now_micros(),
                    session,
                    interrupt,
                };
                let args = call
                    .args
                    .iter()
                    .map(|a| a.eval(&[], &[], &env))
                    .collect::<SqlResult<Vec<_>>>()?;
                let value = call.function.run(&self.node, session, args).await?;
                Ok(Output::Rows {
                    columns: p.columns.clone(),
                    rows: vec![vec![value]],
                    command: "SELECT".into(),
                })
            }
        }
    }

    /// A read DataFusion planned. Outside a transaction it reads a view
    /// taken after the read barrier and streams; inside one it reads the
    /// transaction's snapshot and writes, gathers its rows, and adds what
    /// its scans read to the transaction's read set, as any read there does.
    async fn analytic_read(
        &self,
        session: &mut Session,
        a: &AnalyticPlan,
        p: &Prepared,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        let columns = p.columns.clone();
        let Some(txn) = &session.txn else {
            let seen = self
                .node
                .read_barrier(session.consistency(), session.seen_index())
                .await?;
            session.observe(seen);
            let scope = QueryScope {
                source: ScanSource::View(self.node.store().owned_view()),
                interrupt: interrupt.clone(),
                session: session.detached(),
            };
            return self.analytic.run(a, columns, params, scope).await;
        };
        let (scans, done) = TxnScans::new(txn.copy());
        let scope = QueryScope {
            source: ScanSource::Txn(scans),
            interrupt: interrupt.clone(),
            session: session.detached(),
        };
        let output = self.analytic.run(a, columns.clone(), params, scope).await?;
        let rows = output.into_rows().await?.unwrap_or_default();
        let reads = done.finish().await?;
        if let Some(txn) = session.txn.as_mut() {
            txn.finish_statement(reads, KvBatch::default());
        }
        Ok(Output::Rows {
            columns,
            rows,
            command: "SELECT".into(),
        })
    }

    fn select(
        &self,
        s: &SelectPlan,
        input: Input<'_>,
        env: &EvalEnv,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let mut rows = vec![];
        select_into(&self.catalog, s, input, env, &mut |row| {
            rows.push(row);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(rows)
    }

    /// A SELECT that can hand out rows as it finds them (see [`streams`]):
    /// its scan runs on a blocking thread over a read view of its own and
    /// sends chunks through a bounded channel. The first chunk (or the
    /// error) is awaited here, so a statement that fails early fails as a
    /// whole, as before.
    async fn select_stream(
        &self,
        session: &mut Session,
        s: &SelectPlan,
        p: &Prepared,
        params: Vec<Value>,
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        let seen = self
            .node
            .read_barrier(session.consistency(), session.seen_index())
            .await?;
        session.observe(seen);
        let view = self.node.store().owned_view();
        let (tx, mut rx) = tokio::sync::mpsc::channel(STREAM_CHUNKS_AHEAD);
        let (catalog, plan, settings, interrupt) = (
            self.catalog.clone(),
            s.clone(),
            session.detached(),
            interrupt.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let env = EvalEnv {
                params: &params,
                now: now_micros(),
                session: &settings,
                interrupt: &interrupt,
            };
            let mut chunk = Vec::with_capacity(STREAM_CHUNK_ROWS);
            let scan = std::panic::AssertUnwindSafe(|| {
                select_into(
                    &catalog,
                    &plan,
                    Input::Table(view.borrow_dependent()),
                    &env,
                    &mut |row| {
                        chunk.push(row);
                        if chunk.len() < STREAM_CHUNK_ROWS {
                            return Ok(ControlFlow::Continue(()));
                        }
                        // The receiver is gone (client left, portal
                        // closed): stop reading.
                        match tx.blocking_send(Ok(std::mem::take(&mut chunk))) {
                            Ok(()) => Ok(ControlFlow::Continue(())),
                            Err(_) => Ok(ControlFlow::Break(())),
                        }
                    },
                )
            });
            // A scan that died must not look like a complete result.
            let result = std::panic::catch_unwind(scan)
                .unwrap_or_else(|_| Err(SqlError::internal("the scan stopped unexpectedly")));
            let last = result.map(|()| chunk);
            if !matches!(&last, Ok(c) if c.is_empty()) {
                let _ = tx.blocking_send(last);
            }
        });
        let first = match rx.recv().await {
            Some(chunk) => chunk?,
            None => vec![],
        };
        Ok(Output::RowStream {
            columns: p.columns.clone(),
            first,
            rest: rx,
        })
    }

    async fn write(
        &self,
        session: &mut Session,
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
            let seen = self.node.write_barrier(session.seen_index()).await?;
            session.observe(seen);
            // Fixed here, before the entry enters the log: replicas never
            // read the clock.
            let env = EvalEnv {
                params,
                now: now_micros(),
                session,
                interrupt,
            };
            let (batch, returned, count, command, table) = cpu_bound(|| {
                match &p.plan {
                    // The rows an INSERT … SELECT copies must still be the
                    // same when it applies: planned as a one-statement
                    // transaction, its reads become preconditions.
                    Plan::Insert(InsertPlan {
                        select: Some(_), ..
                    }) => {
                        let mut txn = Txn::new(self.node.store().owned_view());
                        let view = txn.view();
                        let (b, r, n, c, t) = self.plan_write(p, &view, &env)?;
                        let reads = view.into_reads();
                        txn.finish_statement(reads, b);
                        Ok((txn.into_batch().unwrap_or_default(), r, n, c, t))
                    }
                    _ => {
                        let view = self.node.store().read_view();
                        self.plan_write(p, &view, &env)
                    }
                }
            })?;
            let batch = KvBatch {
                timestamp: env.now,
                ..batch
            };
            if !batch.is_empty() {
                // Last chance to stop: once proposed, the write completes.
                interrupt.check()?;
                match self.node.propose(batch).await? {
                    ApplyOutcome::Applied { revision } => session.observe(revision),
                    ApplyOutcome::Rejected(r) if r.violation == Violation::Conflict => continue,
                    ApplyOutcome::Rejected(r) => {
                        return Err(rejection_error(self.catalog.get(table), &r))
                    }
                }
            }
            return Ok(write_output(p, command, count, returned));
        }
        Err(SqlError::serialization_failure(
            "could not serialize access due to concurrent update",
        ))
    }

    /// The rows of a SELECT: in a transaction from its view, otherwise from
    /// a read view taken after the session's read barrier.
    async fn select_rows(
        &self,
        session: &mut Session,
        s: &SelectPlan,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Vec<Vec<Value>>> {
        if session.txn.is_some() && reads_data(s) {
            return self.select_in_txn(session, s, params, interrupt);
        }
        let view = if reads_data(s) {
            let seen = self
                .node
                .read_barrier(session.consistency(), session.seen_index())
                .await?;
            session.observe(seen);
            Some(self.node.store().read_view())
        } else {
            None
        };
        let env = EvalEnv {
            params,
            now: now_micros(),
            session,
            interrupt,
        };
        match (&view, &s.function) {
            (Some(view), Some(call)) => {
                let args = call
                    .args
                    .iter()
                    .map(|a| a.eval(&[], &[], &env))
                    .collect::<SqlResult<Vec<_>>>()?;
                cpu_bound(|| {
                    let rows = match call.function {
                        TableFn::ListObjects => {
                            listing::list_objects(view, &self.catalog.objects, &args, interrupt)?
                        }
                        TableFn::BucketStats => listing::bucket_stats(view, &args)?,
                        TableFn::ListObjectVersions => {
                            versions::list_object_versions(view, &args, interrupt)?
                        }
                        other => {
                            return Err(SqlError::internal(format!(
                                "{}() does not read data",
                                other.name()
                            )))
                        }
                    };
                    self.select(s, Input::Rows(rows), &env)
                })
            }
            (Some(view), None) => cpu_bound(|| self.select(s, Input::Table(view), &env)),
            (None, Some(call)) => {
                let rows = call.function.cluster_rows(&self.node).await?;
                self.select(s, Input::Rows(rows), &env)
            }
            (None, None) => self.select(s, Input::Nothing, &env),
        }
    }

    /// Plans a write statement on `view` into its batch, RETURNING rows,
    /// row count, command word and table.
    fn plan_write(&self, p: &Prepared, view: &dyn RowSource, env: &EvalEnv) -> SqlResult<Planned> {
        match &p.plan {
            Plan::Insert(ins) => {
                let (b, r, n) = self.plan_insert(ins, view, env)?;
                Ok((b, r, n, "INSERT 0", ins.table))
            }
            Plan::Update(up) => {
                let (b, r, n) = self.plan_update(up, view, env)?;
                Ok((b, r, n, "UPDATE", up.table))
            }
            Plan::Delete(del) => {
                let (b, r, n) = self.plan_delete(del, view, env)?;
                Ok((b, r, n, "DELETE", del.table))
            }
            _ => Err(SqlError::internal("not a write")),
        }
    }

    /// A write inside a transaction: planned on the transaction's view and
    /// kept in the session until COMMIT.
    fn write_in_txn(
        &self,
        session: &mut Session,
        p: &Prepared,
        params: &[Value],
        interrupt: &Interrupt,
    ) -> SqlResult<Output> {
        self.in_txn(session, params, interrupt, |view, env| {
            let (batch, returned, count, command, _) = self.plan_write(p, view, env)?;
            Ok((write_output(p, command, count, returned), batch))
        })
    }

    /// A SELECT inside a transaction: its snapshot plus its own writes.
    fn select_in_txn(
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
            Ok((self.select(s, Input::Table(view), env)?, KvBatch::default()))
        })
    }

    /// Runs one statement on the open transaction's view; keeps what it
    /// read and the batch it planned (empty for a read) in the transaction.
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
        let env = EvalEnv {
            params,
            now: now_micros(),
            session,
            interrupt,
        };
        let result = cpu_bound(|| {
            let view = txn.view();
            let (out, batch) = statement(&view, &env)?;
            Ok::<_, SqlError>((out, batch, view.into_reads()))
        });
        let out = result.map(|(out, batch, reads)| {
            txn.finish_statement(reads, batch);
            out
        });
        session.txn = Some(txn);
        out
    }

    /// COMMIT: one proposal of the transaction's writes, guarded by what it
    /// read. Whatever happens the transaction is over.
    async fn commit(&self, session: &mut Session, interrupt: &Interrupt) -> SqlResult<Output> {
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
            ApplyOutcome::Applied { revision } => {
                session.observe(revision);
                Ok(end("COMMIT"))
            }
            ApplyOutcome::Rejected(r) => {
                let table = match keys::decode(&r.key) {
                    Some(keys::DecodedKey::Bucket { .. }) => &self.catalog.buckets,
                    Some(keys::DecodedKey::Upload { .. }) => &self.catalog.uploads,
                    Some(keys::DecodedKey::Part { .. }) => &self.catalog.parts,
                    Some(keys::DecodedKey::Version { .. }) => &self.catalog.versions,
                    _ => &self.catalog.objects,
                };
                Err(rejection_error(table, &r))
            }
        }
    }

    fn returning(
        &self,
        r: &Option<Projection>,
        row: &[Value],
        env: &EvalEnv,
        out: &mut Vec<Vec<Value>>,
    ) -> SqlResult<()> {
        if let Some(p) = r {
            out.push(project(p, row, &[], env)?);
        }
        Ok(())
    }

    fn plan_insert(
        &self,
        ins: &InsertPlan,
        view: &dyn RowSource,
        env: &EvalEnv,
    ) -> SqlResult<(KvBatch, Vec<Vec<Value>>, u64)> {
        let table = self.catalog.get(ins.table);
        let mut batch = KvBatch::default();
        let mut returned = vec![];
        let mut seen = HashSet::new();
        let mut n = 0;
        let queried;
        let templates = match &ins.select {
            None => &ins.rows,
            Some((q, targets)) => {
                let input = match q.table {
                    Some(_) => Input::Table(view),
                    None => Input::Nothing,
                };
                queried = self
                    .select(q, input, env)?
                    .into_iter()
                    .map(|values| {
                        let mut full: Vec<Option<Expr>> = vec![None; table.columns.len()];
                        for (v, &t) in values.into_iter().zip(targets) {
                            full[t] = Some(Expr::Const(v));
                        }
                        full
                    })
                    .collect::<Vec<_>>();
                &queried
            }
        };
        for template in templates {
            let mut row = Vec::with_capacity(template.len());
            for (i, e) in template.iter().enumerate() {
                let v = match e {
                    Some(e) => e.eval(&[], &[], env)?,
                    None => plan::default_expr(table, i).eval(&[], &[], env)?,
                };
                row.push(v.coerce(table.columns[i].ty)?);
            }
            table.check_row(&row)?;
            table.check_assigned(&row)?;
            let key = table.row_key(&row)?;
            if !seen.insert(key.clone()) {
                match &ins.on_conflict {
                    OnConflict::Nothing => continue,
                    OnConflict::Update { .. } => {
                        return Err(SqlError::cardinality_violation(
                            "ON CONFLICT DO UPDATE command cannot affect row a second time",
                        ))
                    }
                    OnConflict::Error => return Err(duplicate_key(table, &key)),
                }
            }
            match (view.get(&key)?, &ins.on_conflict) {
                (None, on_conflict) => {
                    batch.preconditions.push(Precondition {
                        key: key.clone(),
                        expect: Expect::Absent,
                        violation: match on_conflict {
                            OnConflict::Error => Violation::UniqueViolation,
                            // Someone inserted it meanwhile: re-plan, which
                            // takes the conflict path.
                            _ => Violation::Conflict,
                        },
                    });
                    self.returning(&ins.returning, &row, env, &mut returned)?;
                    batch.ops.push(put(key, &row));
                    n += 1;
                }
                (Some(_), OnConflict::Error) => return Err(duplicate_key(table, &key)),
                (Some(_), OnConflict::Nothing) => {}
                (
                    Some(existing),
                    OnConflict::Update {
                        assignments,
                        filter,
                    },
                ) => {
                    let old = row_values(table, &existing);
                    let mut both = old.clone();
                    both.extend(row.iter().cloned());
                    if !passes(filter, &both, env)? {
                        continue;
                    }
                    let mut new = old;
                    for (col, e) in assignments {
                        if table.is_key_column(*col) {
                            return Err(SqlError::feature_not_supported(
                                "ON CONFLICT DO UPDATE cannot change key columns",
                            ));
                        }
                        new[*col] = e.eval(&both, &[], env)?;
                    }
                    table.check_row(&new)?;
                    batch.preconditions.push(Precondition {
                        key: key.clone(),
                        expect: Expect::Revision(existing.revision),
                        violation: Violation::Conflict,
                    });
                    self.returning(&ins.returning, &new, env, &mut returned)?;
                    batch.ops.push(put(key, &new));
                    n += 1;
                }
            }
        }
        Ok((batch, returned, n))
    }

    /// Rows matching a plan's access path and filter.
    fn matching(
        &self,
        table: &Table,
        access: &crate::access::Access,
        filter: &Option<Expr>,
        view: &dyn RowSource,
        env: &EvalEnv,
    ) -> SqlResult<Vec<(StoredRow, Vec<Value>)>> {
        let mut out = vec![];
        access.scan(table, view, env, &mut |stored| {
            let row = row_values(table, &stored);
            if passes(filter, &row, env)? {
                out.push((stored, row));
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    fn plan_update(
        &self,
        up: &UpdatePlan,
        view: &dyn RowSource,
        env: &EvalEnv,
    ) -> SqlResult<(KvBatch, Vec<Vec<Value>>, u64)> {
        let table = self.catalog.get(up.table);
        let mut batch = KvBatch::default();
        let mut returned = vec![];
        let mut written = HashSet::new();
        let matches = self.matching(table, &up.access, &up.filter, view, env)?;
        let n = matches.len() as u64;
        let old_keys: HashSet<Vec<u8>> = matches
            .iter()
            .map(|(_, row)| table.row_key(row))
            .collect::<SqlResult<_>>()?;
        for (stored, old) in matches {
            let mut new = old.clone();
            for (col, e) in &up.assignments {
                new[*col] = e.eval(&old, &[], env)?;
            }
            table.check_row(&new)?;
            let old_key = table.row_key(&old)?;
            let new_key = table.row_key(&new)?;
            batch.preconditions.push(Precondition {
                key: old_key.clone(),
                expect: Expect::Revision(stored.revision),
                violation: Violation::Conflict,
            });
            if new_key != old_key {
                if !old_keys.contains(&new_key) {
                    batch.preconditions.push(Precondition {
                        key: new_key.clone(),
                        expect: Expect::Absent,
                        violation: Violation::UniqueViolation,
                    });
                }
                if !written.contains(&old_key) {
                    batch.ops.push(KvOp::Delete { key: old_key });
                }
            }
            if !written.insert(new_key.clone()) {
                return Err(duplicate_key(table, &new_key));
            }
            self.returning(&up.returning, &new, env, &mut returned)?;
            batch.ops.push(put(new_key, &new));
        }
        Ok((batch, returned, n))
    }

    fn plan_delete(
        &self,
        del: &DeletePlan,
        view: &dyn RowSource,
        env: &EvalEnv,
    ) -> SqlResult<(KvBatch, Vec<Vec<Value>>, u64)> {
        let table = self.catalog.get(del.table);
        let mut batch = KvBatch::default();
        let mut returned = vec![];
        let matches = self.matching(table, &del.access, &del.filter, view, env)?;
        let n = matches.len() as u64;
        for (stored, row) in matches {
            // A version is stored at one key (checked unchanged) and named
            // to the state machine by another (see `versions::Located`).
            let (stored_at, key) = match table.id {
                TableId::Versions => {
                    let at = versions::Located::of(&stored)?;
                    (at.stored_key(), at.version_key())
                }
                _ => {
                    let key = table.row_key(&row)?;
                    (key.clone(), key)
                }
            };
            batch.preconditions.push(Precondition {
                key: stored_at,
                expect: Expect::Revision(stored.revision),
                violation: Violation::Conflict,
            });
            self.returning(&del.returning, &row, env, &mut returned)?;
            batch.ops.push(KvOp::Delete { key });
        }
        Ok((batch, returned, n))
    }
}

/// A planned write: batch, RETURNING rows, row count, command word, table.
type Planned = (
    KvBatch,
    Vec<Vec<Value>>,
    u64,
    &'static str,
    crate::catalog::TableId,
);

/// Runs a SELECT, handing each result row to `out` in order until it
/// breaks. Without grouping or ORDER BY a row goes out as soon as the scan
/// finds it; otherwise all are gathered (and sorted) first.
fn select_into(
    catalog: &Catalog,
    s: &SelectPlan,
    input: Input<'_>,
    env: &EvalEnv,
    out: &mut dyn FnMut(Vec<Value>) -> SqlResult<ControlFlow<()>>,
) -> SqlResult<()> {
    let limit = count_arg(&s.limit, env, "LIMIT")?;
    let offset = count_arg(&s.offset, env, "OFFSET")?.unwrap_or(0);
    let grouped = !s.aggs.is_empty() || !s.group_by.is_empty();
    let stop_after = match (s.order.is_empty() && !grouped, limit) {
        (true, Some(l)) => Some(l.saturating_add(offset)),
        _ => None,
    };
    // Result rows with their sort keys; `row` is the input row, or empty
    // and `slots` the group's slots in a grouped query.
    let emit = |row: &[Value], slots: &[Value]| -> SqlResult<(Vec<Value>, Vec<Value>)> {
        let values = project(&s.projection, row, slots, env)?;
        let keys = s
            .order
            .iter()
            .map(|k| match &k.source {
                SortSource::Output(i) => Ok(values[*i].clone()),
                SortSource::Input(e) => e.eval(row, slots, env),
            })
            .collect::<SqlResult<Vec<_>>>()?;
        Ok((keys, values))
    };
    let direct = s.order.is_empty() && !grouped;
    let mut groups = Groups::default();
    let mut gathered: Vec<(Vec<Value>, Vec<Value>)> = vec![];
    let mut passed = 0usize;
    let mut visit = |row: Vec<Value>| -> SqlResult<ControlFlow<()>> {
        if stop_after.is_some_and(|n| passed >= n) {
            return Ok(ControlFlow::Break(()));
        }
        if !passes(&s.filter, &row, env)? {
            return Ok(ControlFlow::Continue(()));
        }
        passed += 1;
        if grouped {
            groups.add(s, &row, env)?;
        } else if direct {
            if passed > offset {
                return out(emit(&row, &[])?.1);
            }
        } else {
            gathered.push(emit(&row, &[])?);
        }
        Ok(ControlFlow::Continue(()))
    };
    match (s.table, input) {
        (Some(id), Input::Table(view)) => {
            let table = catalog.get(id);
            s.access.scan(table, view, env, &mut |stored| {
                visit(row_values(table, &stored))
            })?;
        }
        (_, Input::Rows(rows)) => {
            for row in rows {
                if visit(row)?.is_break() {
                    break;
                }
            }
        }
        _ => {
            let _ = visit(vec![])?;
        }
    }
    if grouped {
        for slots in groups.finish(s) {
            if let Some(h) = &s.having {
                if !truthy(&h.eval(&[], &slots, env)?)? {
                    continue;
                }
            }
            gathered.push(emit(&[], &slots)?);
        }
    }
    if direct {
        return Ok(());
    }
    if !s.order.is_empty() {
        gathered.sort_by(|(a, _), (b, _)| {
            for (k, (x, y)) in s.order.iter().zip(a.iter().zip(b)) {
                let o = match (x.is_null(), y.is_null()) {
                    (true, false) if k.nulls_first => std::cmp::Ordering::Less,
                    (false, true) if k.nulls_first => std::cmp::Ordering::Greater,
                    _ if k.desc && x.is_null() == y.is_null() => y.sort_cmp(x),
                    _ => x.sort_cmp(y),
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    let rows = gathered.into_iter().map(|(_, v)| v).skip(offset);
    for row in rows.take(limit.unwrap_or(usize::MAX)) {
        if out(row)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// Rows per chunk a streaming SELECT sends, and chunks it may read ahead
/// of the client.
const STREAM_CHUNK_ROWS: usize = 256;
const STREAM_CHUNKS_AHEAD: usize = 4;

/// Whether a SELECT can send rows as its scan finds them: it reads a table
/// and neither groups nor sorts.
/// Point lookups stay inline: a handful of rows gains nothing from a
/// thread and a channel.
fn streams(catalog: &Catalog, s: &SelectPlan) -> bool {
    s.table.is_some_and(|t| !s.access.is_point(catalog.get(t)))
        && s.order.is_empty()
        && s.aggs.is_empty()
        && s.group_by.is_empty()
}

/// Whether a SELECT reads the state machine (a table or a data function).
fn reads_data(s: &SelectPlan) -> bool {
    s.table.is_some() || s.function.as_ref().is_some_and(|f| f.function.reads_data())
}

/// The result of a write: its tag, or its RETURNING rows.
fn write_output(p: &Prepared, command: &str, count: u64, returned: Vec<Vec<Value>>) -> Output {
    if p.columns.is_empty() {
        Output::Command(format!("{command} {count}"))
    } else {
        Output::Rows {
            columns: p.columns.clone(),
            rows: returned,
            command: command.into(),
        }
    }
}

pub(crate) fn put(key: Vec<u8>, row: &[Value]) -> KvOp {
    KvOp::Put {
        key,
        columns: row.iter().map(Value::to_datum).collect(),
    }
}

fn describe_key(key: &[u8]) -> String {
    match keys::decode(key) {
        Some(keys::DecodedKey::Bucket { name }) => {
            format!("(name)=({})", String::from_utf8_lossy(name))
        }
        Some(keys::DecodedKey::Object { bucket, key }) => format!(
            "(bucket, key)=({}, {})",
            String::from_utf8_lossy(bucket),
            String::from_utf8_lossy(key)
        ),
        Some(keys::DecodedKey::Upload { bucket, upload_id }) => format!(
            "(bucket, upload_id)=({}, {})",
            String::from_utf8_lossy(bucket),
            String::from_utf8_lossy(upload_id)
        ),
        Some(keys::DecodedKey::Part {
            bucket,
            upload_id,
            part_number,
        }) => format!(
            "(bucket, upload_id, part_number)=({}, {}, {part_number})",
            String::from_utf8_lossy(bucket),
            String::from_utf8_lossy(upload_id)
        ),
        Some(keys::DecodedKey::Version { bucket, key, .. }) => format!(
            "(bucket, key)=({}, {})",
            String::from_utf8_lossy(bucket),
            String::from_utf8_lossy(&key)
        ),
        None => "(?)".into(),
    }
}

pub(crate) fn duplicate_key(table: &Table, key: &[u8]) -> SqlError {
    SqlError::unique_violation(format!(
        "duplicate key value violates unique constraint \"{}_pkey\": Key {} already exists.",
        table.name,
        describe_key(key)
    ))
}

/// Maps the state machine's refusal to the SQL error a client expects.
pub(crate) fn rejection_error(table: &Table, r: &Rejection) -> SqlError {
    match r.violation {
        Violation::UniqueViolation => duplicate_key(table, &r.key),
        Violation::MissingParent => SqlError::foreign_key_violation(format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}_parent_fkey\": {}",
            table.name, table.name, r.detail
        )),
        Violation::HasChildren => SqlError::foreign_key_violation(format!(
            "update or delete on table \"{}\" violates a foreign key constraint: {}",
            table.name, r.detail
        )),
        Violation::InvalidValue => SqlError::check_violation(r.detail.clone()),
        Violation::Conflict => SqlError::serialization_failure(
            "could not serialize access due to concurrent update",
        ),
    }
}
