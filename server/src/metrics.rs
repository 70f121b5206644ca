//! Prometheus metrics: SQL statement counts and latencies, errors by
//! SQLSTATE, and the node's Raft state (read when scraped).

use bucketdb_consensus::{NodeStatus, RaftNode};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// A gauge and how to read it from the node's status.
type RaftGauge = (IntGauge, fn(&NodeStatus) -> i64);

pub struct Metrics {
    registry: Registry,
    statements: IntCounterVec,
    errors: IntCounterVec,
    latency: HistogramVec,
    connections: IntGauge,
    /// Connections whose statement handling panicked (each one a bug).
    panics: IntGauge,
    raft: Vec<RaftGauge>,
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let statements = IntCounterVec::new(
            Opts::new(
                "bucketdb_sql_statements_total",
                "SQL statements run, by kind",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "bucketdb_sql_errors_total",
                "SQL statements that failed, by SQLSTATE",
            ),
            &["sqlstate"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "bucketdb_sql_statement_seconds",
                "SQL statement latency, by kind",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0,
            ]),
            &["kind"],
        )
        .expect("valid metric");
        for c in [&statements, &errors] {
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
        }
        registry
            .register(Box::new(latency.clone()))
            .expect("unique metric");
        let connections = gauge(
            &registry,
            "bucketdb_sql_connections",
            "Open SQL connections",
        );
        let panics = gauge(
            &registry,
            "bucketdb_sql_panics_total",
            "SQL connections closed because handling a statement panicked (a bug)",
        );
        let raft: Vec<RaftGauge> = vec![
            (
                gauge(&registry, "bucketdb_raft_term", "Current Raft term"),
                |s| s.term as i64,
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_is_leader",
                    "1 when this node is the leader",
                ),
                |s| (s.state == "leader") as i64,
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_last_log_index",
                    "Last Raft log index",
                ),
                |s| s.last_log_index.map(|x| x as i64).unwrap_or(-1),
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_commit_index",
                    "Committed Raft log index",
                ),
                |s| s.commit_index.map(|x| x as i64).unwrap_or(-1),
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_applied_index",
                    "Applied Raft log index",
                ),
                |s| s.applied_index.map(|x| x as i64).unwrap_or(-1),
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_snapshot_index",
                    "Index of the last snapshot",
                ),
                |s| s.snapshot_index.map(|x| x as i64).unwrap_or(-1),
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_refused_tls_total",
                    "Node connections that failed mutual TLS",
                ),
                |s| s.refused.0 as i64,
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_refused_hello_total",
                    "Node connections refused at the hello (another cluster or node)",
                ),
                |s| s.refused.1 as i64,
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_refused_requests_total",
                    "Node requests refused (a non-member, or a false sender)",
                ),
                |s| s.refused.2 as i64,
            ),
            (
                gauge(
                    &registry,
                    "bucketdb_raft_refused_snapshots_total",
                    "Snapshots refused before they were kept (corrupt, truncated, too big)",
                ),
                |s| s.refused.3 as i64,
            ),
        ];
        Metrics {
            registry,
            statements,
            errors,
            latency,
            connections,
            panics,
            raft,
        }
    }

    pub fn statement(&self, kind: &str, seconds: f64, sqlstate: Option<&str>) {
        self.statements.with_label_values(&[kind]).inc();
        self.latency.with_label_values(&[kind]).observe(seconds);
        if let Some(code) = sqlstate {
            self.errors.with_label_values(&[code]).inc();
        }
    }

    pub fn connection_opened(&self) {
        self.connections.inc();
    }

    pub fn panicked(&self) {
        self.panics.inc();
    }

    pub fn connection_closed(&self) {
        self.connections.dec();
    }

    /// The exposition text, with Raft gauges read now.
    pub fn render(&self, node: &RaftNode) -> String {
        let status = node.status();
        for (g, read) in &self.raft {
            g.set(read(&status));
        }
        let mut buf = vec![];
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            return format!("# error encoding metrics: {e}\n");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}
