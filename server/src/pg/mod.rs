//! The PostgreSQL wire-protocol front end (pgwire): one handler set per
//! connection, holding that connection's [`Session`].

mod cancel;
mod copy;
mod describe;
mod encode;
mod socket;
mod startup;
mod status;

pub use socket::ConnectionLimits;
pub use startup::AuthPolicy;

use std::fmt::Debug;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use bucketdb_sql::{Engine, Interrupt, Output, Prepared, Session, SqlError, Value};
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::portal::Portal;
use pgwire::api::query::send_describe_response;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    CopyResponse, DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, PgWireConnectionState, PgWireServerHandlers, Type, DEFAULT_NAME,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;
use pgwire::messages::extendedquery::{
    Describe, Execute, Parse, ParseComplete, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::simplequery::Query;
use pgwire::messages::PgWireBackendMessage;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::metrics::Metrics;

/// The tracing target of the statement log (`--log-statements`).
const STATEMENT_LOG: &str = "statements";

/// The log filter directive `--log-statements` adds.
pub const STATEMENT_LOG_DIRECTIVE: &str = "statements=info";

/// Accepts connections until the task is aborted. With `tls`, clients may
/// (or, by `auth`, must) negotiate TLS. At most `max_connections` are
/// served at once; one more is told so and closed.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    auth: Arc<AuthPolicy>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    max_connections: usize,
    limits: ConnectionLimits,
) {
    let cancels = Arc::new(cancel::Cancels::default());
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let conn = Arc::new(Connection::new(
            engine.clone(),
            metrics.clone(),
            cancels.clone(),
            auth.clone(),
            limits.clone(),
        ));
        let metrics = metrics.clone();
        let tls = tls.clone();
        let permit = slots.clone().try_acquire_owned().ok();
        tokio::spawn(async move {
            let _open = Open::new(metrics);
            if let Err(e) = socket::serve(socket, tls, conn, permit).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// Counts a connection open for as long as it lives, however it ends.
struct Open(Arc<Metrics>);

impl Open {
    fn new(metrics: Arc<Metrics>) -> Open {
        metrics.connection_opened();
        Open(metrics)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

/// One client connection's state.
pub struct Connection {
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    session: Arc<Mutex<Session>>,
    parser: Arc<StatementParser>,
    cancels: Arc<cancel::Cancels>,
    /// Set by a CancelRequest for this connection.
    cancel: Arc<AtomicBool>,
    /// (pid, secret key) given to the client at startup.
    cancel_key: OnceLock<(i32, bytes::Bytes)>,
    auth: Arc<AuthPolicy>,
    /// A SCRAM exchange between the server's first message and the
    /// client's last.
    scram: Mutex<Option<bucketdb_sql::scram::Exchange>>,
    limits: ConnectionLimits,
    /// Names of the statements the client parsed (see [`status`]).
    statement_names: status::StatementNames,
    defined: status::Defined,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some((pid, key)) = self.cancel_key.get() {
            self.cancels.unregister(*pid, key);
        }
    }
}

impl Connection {
    fn new(
        engine: Arc<Engine>,
        metrics: Arc<Metrics>,
        cancels: Arc<cancel::Cancels>,
        auth: Arc<AuthPolicy>,
        limits: ConnectionLimits,
    ) -> Connection {
        let session = Arc::new(Mutex::new(Session::new("bucketdb", "bucketdb")));
        Connection {
            parser: Arc::new(StatementParser {
                engine: engine.clone(),
                session: session.clone(),
            }),
            engine,
            metrics,
            session,
            cancels,
            cancel: Arc::default(),
            cancel_key: OnceLock::new(),
            auth,
            scram: Mutex::new(None),
            limits,
            statement_names: Default::default(),
            defined: Default::default(),
        }
    }

    /// How long the connection may now wait for the client's next
    /// statement, and the error it is ended with after that.
    async fn idle_timeout(&self) -> Option<(std::time::Duration, Option<SqlError>)> {
        let session = self.session.lock().await;
        let (after, state, what) = if session.in_transaction() {
            (
                session.settings().idle_in_transaction_timeout()?,
                bucketdb_sql::SqlState::IdleInTransactionSessionTimeout,
                "idle-in-transaction",
            )
        } else {
            (
                session.settings().idle_session_timeout()?,
                bucketdb_sql::SqlState::IdleSessionTimeout,
                "idle-session",
            )
        };
        let e = SqlError::new(
            state,
            format!("terminating connection due to {what} timeout"),
        );
        Some((after, Some(e)))
    }

    /// Runs one prepared statement, recording metrics.
    async fn run(
        &self,
        prepared: &Prepared,
        params: Vec<bucketdb_sql::Value>,
    ) -> Result<Output, SqlError> {
        let started = Instant::now();
        let result = {
            let mut session = self.session.lock().await;
            let deadline = session.settings().statement_timeout().map(|d| started + d);
            let interrupt = Interrupt::start(self.cancel.clone(), deadline);
            self.engine
                .execute(&mut session, prepared, &interrupt, params)
                .await
        };
        self.metrics.statement(
            prepared.kind(),
            started.elapsed().as_secs_f64(),
            result.as_ref().err().map(|e| e.code()),
        );
        if let Err(e) = &result {
            tracing::info!(target: STATEMENT_LOG, "error {}: {}", e.code(), e.message);
        }
        result
    }
}

/// The handler set pgwire asks for; all of them are the connection.
struct Handlers(Arc<Connection>);

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.0.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.0.clone()
    }

    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        self.0.clone()
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        self.0.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(cancel::CancelRequests(self.0.cancels.clone()))
    }
}

pub fn error_info(e: &SqlError) -> ErrorInfo {
    ErrorInfo::new("ERROR".to_owned(), e.code().to_owned(), e.message.clone())
}

fn user_error(e: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

/// Parses and plans one statement of the extended protocol.
async fn prepare_one(
    engine: &Engine,
    sql: &str,
    types: &[Option<Type>],
) -> Result<Option<Prepared>, SqlError> {
    let statements = engine.parse(sql)?;
    let stmt = match statements.as_slice() {
        [] => return Ok(None),
        [one] => one,
        _ => {
            return Err(SqlError::syntax(
                "cannot insert multiple commands into a prepared statement",
            ))
        }
    };
    let given: Vec<_> = types
        .iter()
        .map(|t| t.as_ref().and_then(encode::sql_type))
        .collect();
    engine.prepare(stmt, Some(sql), &given).await.map(Some)
}

/// Turns a statement's output into a pgwire response.
fn respond(output: Output, formats: &Format) -> PgWireResult<Response> {
    match output {
        Output::Command(tag) if tag.is_empty() => Ok(Response::EmptyQuery),
        Output::Command(tag) => Ok(Response::Execution(Tag::new(&tag))),
        Output::CopyIn { columns } => Ok(Response::CopyIn(CopyResponse::new(
            0,
            columns,
            futures::stream::empty(),
        ))),
        Output::CopyOut { columns, data } => Ok(Response::CopyOut(CopyResponse::new(
            0,
            columns,
            futures::stream::iter(data.into_iter().map(|d| Ok(CopyData::new(d.into())))),
        ))),
        Output::Transaction { tag, open: true } => Ok(Response::TransactionStart(Tag::new(tag))),
        Output::Transaction { tag, open: false } => Ok(Response::TransactionEnd(Tag::new(tag))),
        // The connection holds prepared statements: it answers these.
        Output::Deallocate { .. } | Output::Define { .. } | Output::Execute { .. } => {
            Err(user_error(&SqlError::internal(
                "a prepared statement's change reached no connection",
            )))
        }
        Output::Rows {
            columns,
            rows,
            command,
        } => {
            let schema = Arc::new(encode::fields(&columns, formats));
            let encoded = encode::rows(schema.clone(), &columns, rows);
            let mut resp = QueryResponse::new(schema, futures::stream::iter(encoded));
            resp.set_command_tag(&command);
            Ok(Response::Query(resp))
        }
        Output::RowStream {
            columns,
            first,
            rest,
        } => {
            let schema = Arc::new(encode::fields(&columns, formats));
            let columns = Arc::new(columns);
            let encode_chunk = {
                let (schema, columns) = (schema.clone(), columns.clone());
                move |chunk: Result<Vec<Vec<Value>>, SqlError>| match chunk {
                    Ok(rows) => encode::rows(schema.clone(), &columns, rows),
                    Err(e) => vec![Err(user_error(&e))],
                }
            };
            let later = futures::stream::unfold(rest, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            });
            let rows = futures::stream::iter([Ok(first)])
                .chain(later)
                .flat_map(move |chunk| futures::stream::iter(encode_chunk(chunk)));
            let mut resp = QueryResponse::new(schema, rows);
            resp.set_command_tag("SELECT");
            Ok(Response::Query(resp))
        }
    }
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    /// Answered here rather than by pgwire: ReadyForQuery reports the
    /// session's transaction status (see [`status`]).
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let responses = SimpleQueryHandler::do_query(self, client, &query.query).await?;
        self.send_simple(client, responses).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        tracing::info!(target: STATEMENT_LOG, "statement: {query}");
        let statements = match self.engine.parse(query) {
            Ok(s) => s,
            Err(e) => {
                self.session.lock().await.fail_transaction();
                return Ok(vec![Response::Error(Box::new(error_info(&e)))]);
            }
        };
        let mut out = Vec::with_capacity(statements.len());
        // Like PostgreSQL, stop at the first failing statement.
        let source = (statements.len() == 1).then_some(query);
        for stmt in &statements {
            let result = match self.engine.prepare(stmt, source, &[]).await {
                Ok(p) => self.run(&p, vec![]).await,
                Err(e) => Err(e),
            };
            // EXECUTE runs a statement the connection keeps.
            let result = match result {
                Ok(Output::Execute { name, params }) => match self.stored(&name) {
                    Ok(p) => self.run(&p, params).await,
                    Err(e) => Err(e),
                },
                other => other,
            };
            match result.and_then(|o| match o {
                Output::Deallocate { name, tag } => self.deallocate(client, name.as_deref(), tag),
                Output::Define { name, statement } => self.define(client, name, *statement),
                o => {
                    respond(o, &Format::UnifiedText).map_err(|e| SqlError::internal(e.to_string()))
                }
            }) {
                Ok(r) => out.push(r),
                Err(e) => {
                    self.session.lock().await.fail_transaction();
                    out.push(Response::Error(Box::new(error_info(&e))));
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Parses and plans statements of the extended protocol.
pub struct StatementParser {
    engine: Arc<Engine>,
    /// The connection's session: a statement that fails to parse fails an
    /// open transaction, as any failed statement does.
    session: Arc<Mutex<Session>>,
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Arc<Prepared>;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        tracing::info!(target: STATEMENT_LOG, "parse: {sql}");
        match prepare_one(&self.engine, sql, types).await {
            Ok(p) => Ok(p.map(Arc::new)),
            Err(e) => {
                self.session.lock().await.fail_transaction();
                Err(user_error(&e))
            }
        }
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        Ok(stmt
            .param_types
            .iter()
            .map(|t| encode::pg_type(*t))
            .collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(encode::fields(
            &stmt.columns,
            format.unwrap_or(&Format::UnifiedText),
        ))
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = Arc<Prepared>;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    /// As pgwire parses, also keeping the statement's name (see
    /// [`status`]).
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_NAME.to_owned());
        match StoredStatement::parse(client, &message, self.query_parser()).await? {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client.portal_store().put_empty_statement(&name),
        }
        self.parsed(&name);
        client
            .send(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    /// As pgwire executes, then the status Sync reports is the session's
    /// (see [`status`]).
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self._on_execute(client, message).await?;
        if !matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            let status = self.transaction_status().await;
            client.set_transaction_status(status);
        }
        Ok(())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Errors are returned as `Err` so that pgwire skips the rest of the
        // pipeline up to Sync, as the protocol requires.
        let prepared = &portal.statement.statement;
        let params = encode::params(portal, prepared).map_err(|e| user_error(&e))?;
        let output = self
            .run(prepared, params)
            .await
            .map_err(|e| user_error(&e))?;
        match output {
            // Its rows would come without the description Describe gave
            // (none): a client binds the prepared statement itself.
            Output::Execute { .. } => Err(user_error(&SqlError::feature_not_supported(
                "EXECUTE is supported in simple queries; bind the prepared statement instead",
            ))),
            Output::Deallocate { name, tag } => self
                .deallocate(client, name.as_deref(), tag)
                .map_err(|e| user_error(&e)),
            Output::Define { name, statement } => self
                .define(client, name, *statement)
                .map_err(|e| user_error(&e)),
            output => respond(output, &portal.result_column_format),
        }
    }

    /// A statement is described here (see [`describe`]); a portal, or a
    /// name that is not there, as pgwire does.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.target_type == TARGET_TYPE_BYTE_STATEMENT {
            let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
            if let Some(Entry::Value(stmt)) = client.portal_store().get_statement(name) {
                let described = self.do_describe_statement(client, &stmt).await?;
                let answer =
                    describe::StatementDescription::new(described.parameters, described.fields);
                return send_describe_response(client, &answer).await;
            }
        }
        self._on_describe(client, message).await
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        target: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let p = &target.statement;
        // A type the client declared stands; the statement decides the rest.
        let params = p
            .param_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                target
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .filter(|t| *t != Type::UNKNOWN)
                    .unwrap_or_else(|| encode::pg_type(*t))
            })
            .collect();
        Ok(DescribeStatementResponse::new(
            params,
            encode::fields(&p.columns, &Format::UnifiedText),
        ))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        target: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Ok(DescribePortalResponse::new(encode::fields(
            &target.statement.statement.columns,
            &target.result_column_format,
        )))
    }
}
