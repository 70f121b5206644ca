//! The built-in tables as DataFusion table providers. A scan reads the
//! query's read view through the same access paths as bucketdb's own
//! planner (`scan::Access`, including the merged versions stream), so
//! bucket/key equality, IN lists, LIKE prefixes, key ranges and LIMIT reach
//! the storage scan, and `EXPLAIN` shows which path was chosen.

use std::fmt;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bucketdb_storage::OwnedView;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session as DfSession, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{internal_err, DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr as DfExpr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
};

use tokio::sync::oneshot;

use super::convert::{rows_to_batch, table_schema};
use super::pushdown::{bound_later, translate, translates_when_constant};
use crate::auth::Roles;
use crate::catalog::{Catalog, TableId};
use crate::error::{SqlError, SqlResult};
use crate::expr::{passes, EvalEnv, Expr};
use crate::runtime::Interrupt;
use crate::scan::{Access, RowSource};
use crate::settings::Settings;
use crate::txn::{ReadSet, Txn};

/// Rows per record batch a scan produces, and batches it reads ahead.
const BATCH_ROWS: usize = 1024;
const BATCHES_AHEAD: usize = 2;

/// What one query's scans read, so that every table of a join sees the
/// same state, and what stops them. Given to the providers while the
/// query's physical plan is made (see [`planning_for`]).
pub struct QueryScope {
    pub source: ScanSource,
    pub interrupt: Interrupt,
    pub settings: Settings,
    /// The roles as the query's rows hold them, read when a role catalog
    /// table or a privilege function first asks (see `super::roles`).
    roles: OnceLock<Roles>,
}

impl QueryScope {
    pub fn new(source: ScanSource, interrupt: Interrupt, settings: Settings) -> QueryScope {
        QueryScope {
            source,
            interrupt,
            settings,
            roles: OnceLock::new(),
        }
    }

    /// The roles this query sees: from its own view (or transaction, whose
    /// read set then holds them), so they agree with its other tables.
    pub(super) fn roles(&self) -> SqlResult<&Roles> {
        if let Some(r) = self.roles.get() {
            return Ok(r);
        }
        let loaded = self.source.read(|src| Roles::load(src))?;
        Ok(self.roles.get_or_init(|| loaded))
    }

    /// The session's role.
    pub(super) fn user(&self) -> &str {
        self.settings.user()
    }
}

tokio::task_local! {
    /// The scope of the query whose physical plan the task is making. A
    /// task-local rather than a session config extension: the session is
    /// shared by all queries, and a per-query copy costs more than
    /// planning a point lookup.
    static PLANNING: Arc<QueryScope>;
}

/// Runs `plan`, the making of a physical plan, with `scope` given to every
/// scan it creates. DataFusion plans a query's scans within the calling
/// task, so they all see it.
pub async fn planning_for<F: std::future::Future>(scope: QueryScope, plan: F) -> F::Output {
    PLANNING.scope(Arc::new(scope), plan).await
}

/// The scope of the query whose physical plan is being made, if any.
pub(super) fn planning() -> Option<Arc<QueryScope>> {
    PLANNING.try_with(Arc::clone).ok()
}

/// Where a query's rows come from.
pub enum ScanSource {
    /// Autocommit: a view taken after the session's read barrier.
    View(OwnedView),
    /// Inside an explicit transaction: its snapshot and writes.
    Txn(TxnScans),
}

/// A transaction's state for a query's scans, and what they read: every
/// scan adds its reads before it ends, and [`TxnScans::finish`] waits for
/// all of them, so COMMIT checks everything the query saw.
pub struct TxnScans {
    txn: Txn,
    reads: Arc<Mutex<ReadSet>>,
    running: Arc<Mutex<Vec<oneshot::Receiver<()>>>>,
}

/// Collects a query's transaction reads once its rows are in.
pub struct TxnScansDone {
    reads: Arc<Mutex<ReadSet>>,
    running: Arc<Mutex<Vec<oneshot::Receiver<()>>>>,
}

/// How long a finished query waits for a scan still winding down (it
/// stops at its next row once nobody reads its output).
const SCAN_WIND_DOWN: Duration = Duration::from_secs(5);

impl TxnScans {
    pub fn new(txn: Txn) -> (TxnScans, TxnScansDone) {
        let reads = Arc::new(Mutex::new(ReadSet::default()));
        let running = Arc::new(Mutex::new(vec![]));
        let done = TxnScansDone {
            reads: reads.clone(),
            running: running.clone(),
        };
        (
            TxnScans {
                txn,
                reads,
                running,
            },
            done,
        )
    }
}

impl TxnScansDone {
    /// The reads of every scan the query ran.
    pub async fn finish(self) -> SqlResult<ReadSet> {
        let running = std::mem::take(&mut *lock(&self.running));
        for scan in running {
            if tokio::time::timeout(SCAN_WIND_DOWN, scan).await.is_err() {
                return Err(SqlError::internal(
                    "a scan of the query did not finish; its reads are unknown",
                ));
            }
        }
        Ok(std::mem::take(&mut *lock(&self.reads)))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ScanSource {
    /// A token the scan holds until its reads are recorded (transactions).
    fn started(&self) -> Option<oneshot::Sender<()>> {
        match self {
            ScanSource::View(_) => None,
            ScanSource::Txn(t) => {
                let (tx, rx) = oneshot::channel();
                lock(&t.running).push(rx);
                Some(tx)
            }
        }
    }

    /// Runs `scan` over the rows, recording a transaction's reads.
    fn read<T>(&self, scan: impl FnOnce(&dyn RowSource) -> T) -> T {
        match self {
            ScanSource::View(v) => scan(v.borrow_dependent()),
            ScanSource::Txn(t) => {
                let view = t.txn.view();
                let out = scan(&view);
                lock(&t.reads).merge(view.into_reads());
                out
            }
        }
    }
}

/// One built-in table.
#[derive(Debug)]
pub struct KvTable {
    catalog: Arc<Catalog>,
    id: TableId,
    schema: SchemaRef,
}

impl KvTable {
    pub fn new(catalog: Arc<Catalog>, id: TableId) -> KvTable {
        let schema = table_schema(catalog.get(id));
        KvTable {
            catalog,
            id,
            schema,
        }
    }
}

#[async_trait::async_trait]
impl TableProvider for KvTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&DfExpr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let table = self.catalog.get(self.id);
        Ok(filters
            .iter()
            .map(|f| match translate(table, f) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None if bound_later(table, f) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        filters: &[DfExpr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(scope) = planning() else {
            return internal_err!("a bucketdb table was scanned outside a query");
        };
        let table = self.catalog.get(self.id);
        // A filter declared inexact whose bound parameters left no
        // constant is DataFusion's to apply; any other must translate.
        let filter = filters
            .iter()
            .filter_map(|f| match translate(table, f) {
                Some(e) => Some(Ok(e)),
                None if translates_when_constant(table, f) => None,
                None => Some(internal_err!("filter {f} was not pushed down")),
            })
            .reduce(|a, b| Ok(Expr::And(Box::new(a?), Box::new(b?))))
            .transpose()?;
        let projection = projection
            .cloned()
            .unwrap_or_else(|| (0..table.columns.len()).collect());
        let schema = Arc::new(self.schema.project(&projection)?);
        let props = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(KvScanExec {
            catalog: self.catalog.clone(),
            id: self.id,
            access: Access::derive(table, filter.as_ref()),
            filter,
            projection,
            limit,
            schema,
            scope,
            props: Arc::new(props),
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }
}

/// The scan of one table for one query.
pub struct KvScanExec {
    catalog: Arc<Catalog>,
    id: TableId,
    access: Access,
    /// The pushed-down filters, applied to every row the access path finds.
    filter: Option<Expr>,
    projection: Vec<usize>,
    limit: Option<usize>,
    schema: SchemaRef,
    scope: Arc<QueryScope>,
    props: Arc<PlanProperties>,
    /// Rows sent up and rows the access path examined, for EXPLAIN ANALYZE:
    /// their ratio says how much of the scan the pushed filters discarded.
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for KvScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvScanExec")
            .field("table", &self.catalog.get(self.id).name)
            .field("access", &self.access)
            .field("limit", &self.limit)
            .finish()
    }
}

impl DisplayAs for KvScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.catalog.get(self.id);
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "KvScan: {}", self.access.describe(table))?;
                if self.filter.is_some() {
                    write!(f, ", filter pushed down")?;
                }
                if let Some(l) = self.limit {
                    write!(f, ", limit={l}")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => write!(f, "table={}", table.name),
        }
    }
}

impl ExecutionPlan for KvScanExec {
    fn name(&self) -> &str {
        "KvScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            internal_err!("KvScanExec has no children")
        }
    }

    fn fetch(&self) -> Option<usize> {
        self.limit
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let output = MetricBuilder::new(&self.metrics).output_rows(partition);
        let examined = MetricBuilder::new(&self.metrics).counter("rows_examined", partition);
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema.clone(), BATCHES_AHEAD);
        let running = self.scope.source.started();
        let tx = builder.tx();
        let (catalog, id, access, filter, projection, limit, schema, scope) = (
            self.catalog.clone(),
            self.id,
            self.access.clone(),
            self.filter.clone(),
            self.projection.clone(),
            self.limit,
            self.schema.clone(),
            self.scope.clone(),
        );
        builder.spawn_blocking(move || {
            // Dropped when this returns, after the reads are recorded.
            let _running = running;
            let table = catalog.get(id);
            let env = EvalEnv::at_now(&[], &scope.settings, &scope.interrupt);
            let mut rows = Vec::with_capacity(BATCH_ROWS);
            let mut found = 0usize;
            // Sends a batch; `false` once the reader is gone (LIMIT met
            // above, client left, statement cancelled).
            let send = |rows: &mut Vec<Vec<_>>| -> Result<bool> {
                let batch = rows_to_batch(&schema, rows)?;
                output.add(batch.num_rows());
                rows.clear();
                Ok(tx.blocking_send(Ok(batch)).is_ok())
            };
            if limit == Some(0) {
                return Ok(());
            }
            let mut outcome: Result<()> = Ok(());
            let scanned = scope.source.read(|rows_from| {
                access.scan(table, rows_from, &env, &mut |stored| {
                    examined.add(1);
                    let row = table.values(&stored);
                    if !passes(&filter, &row, &env)? {
                        return Ok(ControlFlow::Continue(()));
                    }
                    rows.push(projection.iter().map(|&c| row[c].clone()).collect());
                    found += 1;
                    let done = limit.is_some_and(|l| found >= l);
                    if rows.len() == BATCH_ROWS || done {
                        match send(&mut rows) {
                            Ok(true) if !done => return Ok(ControlFlow::Continue(())),
                            Ok(_) => return Ok(ControlFlow::Break(())),
                            Err(e) => {
                                outcome = Err(e);
                                return Ok(ControlFlow::Break(()));
                            }
                        }
                    }
                    Ok(ControlFlow::Continue(()))
                })
            });
            scanned.map_err(|e| DataFusionError::External(Box::new(e)))?;
            outcome?;
            if !rows.is_empty() {
                send(&mut rows)?;
            }
            Ok(())
        });
        Ok(builder.build())
    }
}
