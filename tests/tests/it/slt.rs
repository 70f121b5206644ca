//! SQL behaviour as data: every `tests/slt/*.slt` file (sqllogictest
//! format) runs against an in-process node, through the engine as a
//! connection would, and against a real server over the wire with
//! tokio-postgres, so each case proves both the engine's answer and what a
//! client receives. A new case is a few lines of text:
//!
//! ```text
//! statement error (23505)
//! INSERT INTO buckets (name) VALUES ('taken')
//!
//! query IT rowsort
//! SELECT size, key FROM objects WHERE bucket = 'b'
//! ----
//! 3 a
//! ```
//!
//! Values print in PostgreSQL's text form, NULL as `NULL` and the empty
//! string as `(empty)`. Each file gets a fresh database; `connection NAME`
//! opens another session on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bucketdb_sql::{Engine, Output, Session, SqlError, SqlType, Value};
use bucketdb_tests::inproc::{sql, InProcCluster};
use bucketdb_tests::Server;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// How long one file may take, on either side.
const FILE_DEADLINE: Duration = Duration::from_secs(120);

fn files() -> Vec<PathBuf> {
    let dir = bucketdb_tests::manifest_dir().join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    files
}

/// The text a value is compared as.
fn cell(v: Option<&str>) -> String {
    match v {
        None => "NULL".into(),
        Some("") => "(empty)".into(),
        Some(s) => s.to_string(),
    }
}

fn rows(n: usize, rows: Vec<Vec<String>>) -> DBOutput<DefaultColumnType> {
    DBOutput::Rows {
        types: vec![DefaultColumnType::Any; n],
        rows,
    }
}

/// A session of the in-process engine.
struct EngineDb {
    engine: Arc<Engine>,
    session: Session,
}

#[async_trait]
impl AsyncDB for EngineDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, query: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let out = sql(&self.engine, &mut self.session, query, vec![]).await?;
        let types: Vec<SqlType> = match &out {
            Output::Rows { columns, .. } | Output::RowStream { columns, .. } => {
                columns.iter().map(|c| c.ty).collect()
            }
            Output::Command(tag) => {
                let n = tag.rsplit(' ').next().and_then(|n| n.parse().ok());
                return Ok(DBOutput::StatementComplete(n.unwrap_or(0)));
            }
            _ => return Ok(DBOutput::StatementComplete(0)),
        };
        let text = |(v, ty): (&Value, &SqlType)| {
            cell((!v.is_null()).then(|| v.to_text_as(*ty)).as_deref())
        };
        let values = out.into_rows().await?.unwrap_or_default();
        Ok(rows(
            types.len(),
            values
                .iter()
                .map(|r| r.iter().zip(&types).map(text).collect())
                .collect(),
        ))
    }

    async fn shutdown(&mut self) {}

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await
    }

    fn error_sql_state(err: &SqlError) -> Option<String> {
        Some(err.code().to_string())
    }
}

/// A connection to a real server, speaking the simple query protocol.
struct WireDb {
    client: Client,
}

#[async_trait]
impl AsyncDB for WireDb {
    type Error = tokio_postgres::Error;
    type ColumnType = DefaultColumnType;

    async fn run(
        &mut self,
        query: &str,
    ) -> Result<DBOutput<DefaultColumnType>, tokio_postgres::Error> {
        let mut columns = None;
        let mut values = vec![];
        let mut count = 0;
        for m in self.client.simple_query(query).await? {
            match m {
                SimpleQueryMessage::RowDescription(c) => columns = Some(c.len()),
                SimpleQueryMessage::Row(r) => {
                    values.push((0..r.len()).map(|i| cell(r.get(i))).collect())
                }
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => rows(n, values),
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn shutdown(&mut self) {}

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await
    }

    fn error_sql_state(err: &tokio_postgres::Error) -> Option<String> {
        err.as_db_error().map(|d| d.code().code().to_string())
    }
}

async fn run_file<D, M>(mut runner: Runner<D, M>, file: &Path, side: &str)
where
    D: AsyncDB,
    M: sqllogictest::MakeConnection<Conn = D>,
{
    match tokio::time::timeout(FILE_DEADLINE, runner.run_file_async(file)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{side}: {}", e.display(true)),
        Err(_) => panic!("{side}: {} took over {FILE_DEADLINE:?}", file.display()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_in_process() {
    for file in files() {
        let mut cluster = InProcCluster::start(1).await;
        let engine = cluster.node(0).engine.clone();
        let runner = Runner::new(move || {
            let engine = engine.clone();
            async move {
                Ok::<_, SqlError>(EngineDb {
                    engine,
                    session: Session::new("postgres", "bucketdb"),
                })
            }
        });
        run_file(runner, &file, "in process").await;
        cluster.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slt_files_pass_over_the_wire() {
    for file in files() {
        let server = Server::start();
        let addr = server.sql_addr;
        let runner = Runner::new(move || async move {
            let (client, conn) = tokio_postgres::connect(
                &format!(
                    "host={} port={} user=postgres dbname=bucketdb",
                    addr.ip(),
                    addr.port()
                ),
                NoTls,
            )
            .await?;
            tokio::spawn(conn);
            Ok::<_, tokio_postgres::Error>(WireDb { client })
        });
        run_file(runner, &file, "over the wire").await;
        drop(server);
    }
}
