//! Full SQL reads through DataFusion: joins, subqueries, CTEs, window
//! functions, the JSON functions, and the `pg_catalog` / `information_schema`
//! tables psql's meta-commands and drivers' introspection read.
//!
//! bucketdb's own planner stays the fast path: a query it plans (point
//! lookups, key-range scans, simple aggregates) never reaches DataFusion.
//! A query it does not support, or that names a table or function only
//! DataFusion knows, is planned here instead ([`takes`]); its scans still
//! run through bucketdb's access paths (see [`provider`]). This module and
//! `crate::plan` are siblings: neither imports the other, and the engine
//! chooses between them.

mod analyzer_pass;
mod array_literals;
mod array_subquery;
mod builtin_signatures;
mod cast_params;
mod catalog_schema;
mod char_type;
mod checked_arithmetic;
mod checked_sum;
mod compat;
mod convert;
mod declared_arrays;
mod descriptions;
mod empty_catalogs;
mod errors;
mod expand_array;
mod functions;
mod information_schema;
mod int4_literals;
mod interval_order;
mod json_build;
mod json_casts;
mod jsonb_equality;
mod known_empty;
mod lateral_unnest;
mod limit_params;
mod memory;
mod name_subscripts;
mod no_column_privileges;
mod not_in_nulls;
mod one_operand;
mod pg_database;
mod pg_description;
mod pg_keys;
mod pg_meanings;
mod pg_proc;
mod pg_type;
mod plan_reuse;
mod privileges;
mod provider;
mod pushdown;
mod reg_lookup;
mod reg_names;
mod regexp_split;
mod regproc;
mod regtype;
mod roles;
mod scalar_in_from;
mod scalar_subquery;
mod set_returning;
mod settings_table;
mod sql_ast;
mod subscripts;
mod tableoid;
mod text_arrays;
mod text_casts;
mod timestamp_literals;
mod to_char;
mod type_of;
mod unique_names;
mod untyped_arrays;

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext, SessionState};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::execute_stream;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use futures::StreamExt;
use sqlparser::ast::{Expr as AstExpr, SelectItem, SetExpr, Statement};

use crate::catalog::Catalog;
use crate::error::{SqlError, SqlResult, SqlState};
use crate::functions::own_functions;
use crate::runtime::RowStream;
use crate::value::{OutColumn, SqlType, Value};

pub use memory::QueryMemory;
pub use provider::{QueryScope, ScanSource, TxnScans};

use convert::{batch_to_rows, field_sql_type, param_scalar};
use errors::to_sql_error;

/// The catalog and schema the built-in tables live in for DataFusion.
const CATALOG: &str = "bucketdb";
const SCHEMA: &str = "public";

/// Result chunks a query may produce ahead of the client.
const CHUNKS_AHEAD: usize = 4;

/// How often a running query looks for a cancel or its statement timeout.
const INTERRUPT_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// A query planned by DataFusion, with the parameter types it inferred.
#[derive(Debug, Clone)]
pub struct DataFusionPlan {
    plan: LogicalPlan,
    params: Vec<Option<DataType>>,
    /// An EXPLAIN (not VERBOSE): shown as PostgreSQL shows one, a single
    /// `QUERY PLAN` column of the plan's lines (see [`query_plan`]).
    explain: bool,
    /// `plan` is already optimized: see [`plan_reuse`].
    optimized: bool,
}

impl DataFusionPlan {
    /// Whether the plan is an EXPLAIN: its rows are the plan's lines.
    pub fn is_explain(&self) -> bool {
        self.explain
    }
}

/// A read DataFusion prepared: its plan, parameter types and columns.
pub struct DataFusionPrepared {
    pub plan: DataFusionPlan,
    pub param_types: Vec<SqlType>,
    pub columns: Vec<OutColumn>,
}

/// Whether a statement bucketdb's planner refused with `e` should be tried
/// with DataFusion: a read that uses something the fast planner lacks (a
/// feature, a relation, a function, a column of a catalog table, a type or
/// syntax it does not know, a grouping it does not do).
pub fn takes(stmt: &Statement, e: &SqlError) -> bool {
    let read = match stmt {
        Statement::Query(_) => true,
        Statement::Explain { statement, .. } => matches!(**statement, Statement::Query(_)),
        _ => false,
    };
    read && matches!(
        e.state,
        SqlState::FeatureNotSupported
            | SqlState::UndefinedTable
            | SqlState::UndefinedFunction
            | SqlState::UndefinedColumn
            | SqlState::UndefinedObject
            | SqlState::DatatypeMismatch
            | SqlState::SyntaxError
            | SqlState::GroupingError
    )
}

/// The error to report when both planners refused a read: DataFusion's
/// where the fast planner only lacked the feature (0A000) or the relation
/// (42P01, e.g. a pg_catalog table), or lacked a function that DataFusion
/// has but refused in the form it was called (0A000 from `to_char`),
/// unless what DataFusion lacks is one of bucketdb's own functions
/// (`list_objects` in a join): the fast planner knows those, so its word
/// stands, as it does for every other error.
pub fn refusal(ours: SqlError, df: SqlError) -> SqlError {
    let own_function = || {
        let message = df.message.to_ascii_lowercase();
        own_functions().any(|f| message.contains(f.name))
    };
    match ours.state {
        SqlState::FeatureNotSupported
            if df.state == SqlState::UndefinedFunction && own_function() =>
        {
            ours
        }
        SqlState::FeatureNotSupported | SqlState::UndefinedTable => df,
        // A function DataFusion has, refused in the form it was called.
        SqlState::UndefinedFunction if df.state == SqlState::FeatureNotSupported => df,
        _ => ours,
    }
}

/// The DataFusion side of an engine: one session set up at start (tables,
/// JSON functions, pg_catalog) and shared by every query. Queries only read
/// it: a per-query copy of a session duplicates every function registry,
/// which measured about a fifth of a point lookup's planning instructions.
pub struct DataFusion {
    state: SessionState,
    task: Arc<TaskContext>,
    compat: compat::Compat,
    pools: memory::Pools,
}

impl DataFusion {
    pub fn new(catalog: Arc<Catalog>, memory: QueryMemory) -> SqlResult<DataFusion> {
        let setup = |e: String| SqlError::internal(format!("setting up DataFusion: {e}"));
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            // `information_schema` is bucketdb's own (see the module), a
            // schema of the catalog rather than DataFusion's built-in one.
            .with_information_schema(false)
            // One partition: queries here are many and small next to the
            // two cores, and a repartition costs each of them more than
            // the parallelism wins back (see docs/benchmarks.md).
            .with_target_partitions(1)
            .set_str("datafusion.execution.time_zone", convert::UTC)
            .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
        let pools = memory::Pools::new(memory).map_err(|e| setup(e.to_string()))?;
        let mut ctx = SessionContext::new_with_config_rt(config, pools.base());
        for table in catalog.tables() {
            let (name, id) = (table.name, table.id);
            ctx.register_table(name, Arc::new(provider::KvTable::new(catalog.clone(), id)))
                .map_err(|e| setup(e.to_string()))?;
        }
        datafusion_functions_json::register_all(&mut ctx).map_err(|e| setup(e.to_string()))?;
        datafusion_pg_catalog::setup_pg_catalog(&ctx, CATALOG, EmptyContextProvider)
            .map_err(|e| setup(e.to_string()))?;
        let info = information_schema::InformationSchema::new(
            ctx.state().catalog_list().clone(),
            catalog.clone(),
            CATALOG,
        );
        ctx.catalog(CATALOG)
            .ok_or_else(|| setup(format!("no catalog {CATALOG}")))?
            .register_schema("information_schema", Arc::new(info))
            .map_err(|e| setup(e.to_string()))?;
        catalog_schema::install(&ctx, CATALOG, catalog).map_err(|e| setup(e.to_string()))?;
        functions::register(&ctx);
        scalar_subquery::register(&ctx);
        json_build::register(&ctx);
        json_casts::register(&ctx);
        type_of::register(&ctx);
        expand_array::register(&ctx);
        text_arrays::register(&ctx);
        regexp_split::register(&ctx);
        reg_lookup::register(&ctx);
        let mut builder = SessionStateBuilder::new_from_existing(ctx.state());
        if let Some(analyzer) = builder.analyzer() {
            // Before type coercion, which refuses a string beside a list.
            analyzer
                .rules
                .insert(0, untyped_arrays::UntypedArrays::rule());
            // After type coercion, which gives both operands one type.
            analyzer
                .rules
                .push(checked_arithmetic::CheckedArithmetic::rule());
            analyzer.rules.push(checked_sum::CheckedSum::rule());
            analyzer.rules.push(interval_order::IntervalOrder::rule());
            analyzer.rules.push(jsonb_equality::JsonbEquality::rule());
            analyzer
                .rules
                .push(timestamp_literals::TimestampLiterals::rule());
            analyzer.rules.push(text_casts::TextCasts::rule());
        }
        if let Some(optimizer) = builder.optimizer() {
            for rule in &mut optimizer.rules {
                if rule.name() == "push_down_filter" {
                    *rule = not_in_nulls::NotInNulls::rule();
                }
            }
        }
        let state = builder.build();
        Ok(DataFusion {
            task: state.task_ctx(),
            state,
            compat: compat::Compat::new(),
            pools,
        })
    }

    /// A task context for one query: the session's configuration, and a
    /// memory pool of the query's own. (The function registries stay
    /// empty: a physical plan holds the functions it calls.)
    fn query_task(&self) -> SqlResult<Arc<TaskContext>> {
        let runtime = self.pools.for_query().map_err(to_sql_error)?;
        Ok(Arc::new(TaskContext::new(
            None,
            self.task.session_id(),
            self.task.session_config().clone(),
            Default::default(),
            Default::default(),
            Default::default(),
            Default::default(),
            runtime,
        )))
    }

    async fn plan(&self, stmt: Statement) -> datafusion::common::Result<LogicalPlan> {
        self.state
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                stmt,
            )))
            .await
    }

    /// Plans a read. Client queries pg_catalog compatibility needs (psql's
    /// `\d` family among them) are rewritten first; some are recognised by
    /// their tokens, so the client's own text (`source`) is used if known.
    /// Matching tokens costs a re-tokenisation per statement, so only
    /// statements that name a catalog pay for it.
    pub async fn prepare(
        &self,
        stmt: &Statement,
        source: Option<&str>,
        given: &[Option<SqlType>],
    ) -> SqlResult<DataFusionPrepared> {
        let text = source.map_or_else(|| stmt.to_string(), str::to_string);
        let lower = text.to_ascii_lowercase();
        let catalog_query = lower.contains("pg_") || lower.contains("information_schema");
        let mut stmt = match catalog_query {
            true => self.compat.rewrite_client_query(stmt, &text),
            false => self.compat.rewrite(stmt.clone()),
        };
        if lateral_unnest::mentioned(&lower) {
            lateral_unnest::rewrite(&mut stmt);
        }
        if lower.contains("\"char\"") {
            char_type::rewrite(&mut stmt);
        }
        if catalog_schema::mentions_own_tables(&lower) {
            catalog_schema::qualify_own_tables(&mut stmt);
        }
        if lower.contains("tableoid") {
            tableoid::rewrite(&mut stmt);
        }
        if lower.contains("attacl") {
            no_column_privileges::rewrite(&mut stmt);
        }
        if text_arrays::mentioned(&lower) {
            text_arrays::rewrite(&mut stmt);
        }
        let is_aggregate = |name: &str| {
            self.state.aggregate_functions().contains_key(name)
                || self.state.window_functions().contains_key(name)
        };
        if known_empty::mentioned(&lower) {
            known_empty::rewrite(&mut stmt, &is_aggregate);
        }
        if lower.contains("array") {
            array_subquery::rewrite(&mut stmt);
        }
        if lower.contains("[]") {
            array_literals::rewrite(&mut stmt)?;
        }
        if pg_meanings::mentioned(&lower) {
            pg_meanings::rewrite(&mut stmt)?;
        }
        if to_char::mentioned(&lower) {
            to_char::rewrite(&mut stmt)?;
        }
        if declared_arrays::any(given, &lower) {
            declared_arrays::rewrite(&mut stmt, given);
        }
        if lower.contains("_pg_expandarray") || lower.contains(").") {
            expand_array::rewrite(&mut stmt);
        }
        if lower.contains("generate_subscripts") {
            subscripts::rewrite(&mut stmt);
        }
        let is_scalar = |name: &str| {
            self.state.scalar_functions().contains_key(name)
                && !self.state.table_functions().contains_key(name)
        };
        scalar_in_from::rewrite(&mut stmt, &is_scalar);
        // Named as PostgreSQL names them before the rewrites below, which
        // change how a column is computed, not what it is.
        let mut names = postgres_names(&stmt);
        // Read before the rewrites below turn a cast (`$1::jsonb`) into a
        // call, whose parameter DataFusion would describe as text.
        let cast = cast_params::cast_types(&stmt);
        int4_literals::rewrite(&mut stmt);
        if json_casts::mentioned(&lower) {
            json_casts::rewrite(&mut stmt);
        }
        if set_returning::mentioned(&lower) {
            set_returning::rewrite(&mut stmt);
        }
        if lower.contains("name[") {
            name_subscripts::rewrite(&mut stmt);
        }
        if lower.contains("regexp_split_to_table") {
            regexp_split::rewrite(&mut stmt);
        }
        if descriptions::mentioned(&lower) {
            descriptions::rewrite(&mut stmt);
        }
        if regtype::mentioned(&lower) {
            regtype::rewrite(&mut stmt);
        }
        if reg_lookup::mentioned(&lower) || descriptions::mentioned(&lower) {
            reg_names::rewrite(&mut stmt);
            reg_lookup::rewrite(&mut stmt)?;
        }
        if regproc::mentioned(&lower) {
            regproc::rewrite(&mut stmt);
        }
        scalar_subquery::rewrite(&mut stmt, &is_aggregate);
        let explain = matches!(stmt, Statement::Explain { verbose: false, .. });
        let plan = match self.plan(stmt.clone()).await {
            Err(e) if unique_names::refused(&e) => {
                unique_names::rewrite(&mut stmt, &mut names);
                self.plan(stmt).await
            }
            planned => planned,
        }
        .and_then(limit_params::type_counts)
        .map_err(to_sql_error)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| SqlError::feature_not_supported(e.message().to_string()))?;
        let inferred = plan.get_parameter_fields().map_err(to_sql_error)?;
        let count = inferred
            .keys()
            .filter_map(|k| k.strip_prefix('$')?.parse::<usize>().ok())
            .max()
            .unwrap_or(0)
            .max(given.len())
            .max(cast.len());
        crate::bind::check_param_count(count)?;
        let param_fields: Vec<Option<_>> = (1..=count)
            .map(|i| inferred.get(&format!("${i}")).cloned().flatten())
            .collect();
        let params: Vec<Option<DataType>> = param_fields
            .iter()
            .map(|f| f.as_ref().map(|f| f.data_type().clone()))
            .collect();
        // A type the client declared stands, then a cast the query makes
        // (`$1::boolean`), then what DataFusion inferred.
        let param_types = param_fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                given
                    .get(i)
                    .copied()
                    .flatten()
                    .or_else(|| cast.get(i).copied().flatten())
                    .or_else(|| f.as_deref().map(field_sql_type))
                    .unwrap_or(SqlType::Text)
            })
            .collect();
        let fields = plan.schema().fields();
        let names = names.filter(|n| n.len() == fields.len());
        let columns = if explain {
            vec![OutColumn {
                name: "QUERY PLAN".into(),
                ty: SqlType::Text,
            }]
        } else {
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| OutColumn {
                    name: names
                        .as_ref()
                        .and_then(|n| n[i].clone())
                        .unwrap_or_else(|| f.name().clone()),
                    ty: field_sql_type(f),
                })
                .collect()
        };
        let (plan, optimized) = match plan_reuse::optimized_once(&self.state, &plan, &params) {
            Some(optimized) => (optimized, true),
            None => (plan, false),
        };
        Ok(DataFusionPrepared {
            plan: DataFusionPlan {
                plan,
                params,
                explain,
                optimized,
            },
            param_types,
            columns,
        })
    }

    /// Runs a planned read over `scope`'s view. Rows go out as DataFusion
    /// produces them, a bounded number of chunks ahead of the client; an
    /// EXPLAIN's rows are its plan's lines.
    pub async fn run(
        &self,
        a: &DataFusionPlan,
        params: &[Value],
        scope: QueryScope,
    ) -> SqlResult<RowStream> {
        let mut plan = a.plan.clone();
        if !a.params.is_empty() {
            let values = params
                .iter()
                .zip(&a.params)
                .map(|(v, t)| param_scalar(v, t.as_ref()))
                .collect::<datafusion::common::Result<Vec<_>>>()
                .map_err(to_sql_error)?;
            plan = plan
                .replace_params_with_values(&ParamValues::from(values))
                .map_err(to_sql_error)?;
        }
        let interrupt = scope.interrupt.clone();
        let physical = match a.optimized {
            true => {
                let planner = self.state.query_planner();
                provider::planning_for(scope, planner.create_physical_plan(&plan, &self.state))
                    .await
            }
            false => {
                // Optimizing folds now() into the statement's timestamp,
                // read here as bucketdb's own planner reads it.
                let mut state = self.state.clone();
                state.mark_start_execution();
                provider::planning_for(scope, state.create_physical_plan(&plan)).await
            }
        }
        .map_err(to_sql_error)?;
        let mut stream = execute_stream(physical, self.query_task()?).map_err(to_sql_error)?;
        let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        tokio::spawn(async move {
            // Joins, sorts and aggregates run inside DataFusion without
            // looking at the interrupt, so it is polled here while waiting:
            // dropping the stream stops them.
            let mut poll = tokio::time::interval(INTERRUPT_POLL);
            loop {
                let batch = tokio::select! {
                    b = stream.next() => match b {
                        Some(b) => b,
                        None => break,
                    },
                    _ = poll.tick() => match interrupt.check() {
                        Ok(()) => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            break;
                        }
                    },
                };
                let chunk = interrupt
                    .check()
                    .and_then(|()| batch.and_then(|b| batch_to_rows(&b)).map_err(to_sql_error));
                let failed = chunk.is_err();
                if matches!(&chunk, Ok(rows) if rows.is_empty()) {
                    continue;
                }
                // A closed receiver: the client left or the portal closed.
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        let stream = RowStream::start(rx).await?;
        if a.explain {
            let (_, closed) = tokio::sync::mpsc::channel(1);
            return Ok(RowStream {
                first: query_plan(stream.collect().await?),
                rest: closed,
            });
        }
        Ok(stream)
    }
}

/// DataFusion's EXPLAIN rows (`plan_type`, `plan`) as PostgreSQL's: one
/// text row per line of the plan that runs, the physical plan (with its
/// metrics under ANALYZE). The logical plan is left out, as PostgreSQL has
/// none to show; EXPLAIN VERBOSE keeps DataFusion's own form.
fn query_plan(rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.into_iter()
        .filter(|r| {
            matches!(r.first(), Some(Value::Text(t)) if t == "physical_plan" || t == "Plan with Metrics")
        })
        .filter_map(|r| match r.into_iter().nth(1) {
            Some(Value::Text(plan)) => Some(plan),
            _ => None,
        })
        .flat_map(|plan| {
            plan.lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .map(|l| vec![Value::Text(l.to_string())])
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The names PostgreSQL gives the result columns of a query, where they
/// differ from DataFusion's: a function call is named for its function
/// (`count(*)` → `count`), a cast for what it casts, another unnamed
/// expression `?column?`. `None` keeps DataFusion's name (aliases,
/// columns); no list at all when a wildcard makes positions unknown.
fn postgres_names(stmt: &Statement) -> Option<Vec<Option<String>>> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let mut body = &*q.body;
    while let SetExpr::SetOperation { left, .. } = body {
        body = left;
    }
    let SetExpr::Select(select) = body else {
        return None;
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some(expr_name(e)),
            SelectItem::ExprWithAlias { .. } => Some(None),
            _ => None,
        })
        .collect()
}

fn expr_name(e: &AstExpr) -> Option<String> {
    match e {
        AstExpr::Identifier(_) | AstExpr::CompoundIdentifier(_) => None,
        other => Some(crate::bind::column_name(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Statement {
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0)
    }

    #[test]
    fn column_names_follow_postgres() {
        let names = postgres_names(&parse(
            "SELECT key, o.size, count(*), x::text, 1 + 2, sum(size) AS \"Total bytes\", pg_catalog.upper(key) FROM o",
        ))
        .unwrap();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            names,
            vec![
                None,
                None,
                s("count"),
                s("x"),
                s("?column?"),
                None,
                s("upper")
            ]
        );
        assert_eq!(postgres_names(&parse("SELECT *, count(*) FROM o")), None);
    }

    #[test]
    fn both_refused_reports_the_planner_that_knows_why() {
        let joins = || SqlError::feature_not_supported("joins are not supported yet");
        let missing = |f: &str| SqlError::undefined_function(format!("Invalid function '{f}'"));
        // DataFusion lacks a catalog function: its error says what is missing.
        let e = refusal(joins(), missing("pg_size_pretty"));
        assert!(e.message.contains("pg_size_pretty"), "{}", e.message);
        // DataFusion lacks bucketdb's own function: the fast planner knows it.
        let e = refusal(joins(), missing("list_objects"));
        assert_eq!(e.message, joins().message);
        // Any other error of the fast planner stands.
        let e = refusal(SqlError::division_by_zero("division by zero"), missing("x"));
        assert_eq!(e.state, SqlState::DivisionByZero);
    }

    #[test]
    fn only_reads_the_fast_planner_lacks_go_to_datafusion() {
        let unsupported = SqlError::feature_not_supported("joins");
        assert!(takes(&parse("SELECT 1"), &unsupported));
        assert!(takes(&parse("EXPLAIN SELECT 1"), &unsupported));
        assert!(!takes(&parse("DELETE FROM objects"), &unsupported));
        assert!(!takes(
            &parse("SELECT 1"),
            &SqlError::division_by_zero("division by zero")
        ));
    }
}
