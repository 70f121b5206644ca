//! The transaction status every ReadyForQuery reports, and the prepared
//! statements SQL may drop.
//!
//! pgwire infers the status from the responses of a query, and a failed
//! transaction stays failed whatever comes after. `ROLLBACK TO SAVEPOINT`
//! brings one back, so the status reported is the engine's session's:
//! idle, in a transaction, or in a failed one. A simple query is answered
//! here for that reason; an extended one sets the status after Execute
//! (ReadyForQuery follows at Sync).
//!
//! `PREPARE`, `EXECUTE`, `DEALLOCATE` and `DISCARD ALL` name statements
//! the connection's portal store holds, as the extended protocol's Parse
//! does (PostgreSQL keeps both kinds under one namespace); the store cannot
//! list them, so the names are kept.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use bucketdb_sql::{Prepared, SqlError};
use futures::{Sink, SinkExt};
use pgwire::api::copy::{send_copy_both_response, send_copy_in_response, send_copy_out_response};
use pgwire::api::query::{send_execution_response, send_query_response, send_ready_for_query};
use pgwire::api::results::{Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use pgwire::messages::PgWireBackendMessage;

use super::Connection;

impl Connection {
    /// The session's transaction status.
    pub(super) async fn transaction_status(&self) -> TransactionStatus {
        let session = self.session.lock().await;
        match (session.in_transaction(), session.transaction_failed()) {
            (false, _) => TransactionStatus::Idle,
            (true, true) => TransactionStatus::Error,
            (true, false) => TransactionStatus::Transaction,
        }
    }

    /// A statement failed where the engine did not see it fail (pgwire
    /// refused its message, or the failure came after the engine's part,
    /// as a COMMIT that failed with 40001): an open transaction fails, as
    /// PostgreSQL's does, and the status is then the session's, so an
    /// error outside a transaction (or the failed COMMIT that ended one)
    /// leaves the connection idle.
    pub(super) async fn statement_failed(&self) -> TransactionStatus {
        self.session.lock().await.fail_transaction();
        self.transaction_status().await
    }

    /// Sends a simple query's responses, then ReadyForQuery with the
    /// session's status (unless a COPY FROM STDIN is now under way: its
    /// end sends that).
    pub(super) async fn send_simple<C>(
        &self,
        client: &mut C,
        responses: Vec<Response>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if responses.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        }
        for response in responses {
            match response {
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(
                            EmptyQueryResponse::new(),
                        ))
                        .await?
                }
                Response::Query(results) => send_query_response(client, results, true).await?,
                Response::Execution(tag)
                | Response::TransactionStart(tag)
                | Response::TransactionEnd(tag) => send_execution_response(client, tag).await?,
                Response::Error(e) => {
                    client
                        .feed(PgWireBackendMessage::ErrorResponse((*e).into()))
                        .await?
                }
                Response::CopyIn(result) => {
                    send_copy_in_response(client, result).await?;
                    client.set_state(PgWireConnectionState::CopyInProgress(false));
                }
                Response::CopyOut(result) => send_copy_out_response(client, result).await?,
                Response::CopyBoth(result) => {
                    send_copy_both_response(client, result).await?;
                    client.set_state(PgWireConnectionState::CopyInProgress(false));
                }
            }
        }
        if !matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            client.set_state(PgWireConnectionState::ReadyForQuery);
            let status = self.transaction_status().await;
            client.set_transaction_status(status);
            send_ready_for_query(client, status).await?;
        }
        Ok(())
    }

    /// Remembers a statement name the client parsed.
    pub(super) fn parsed(&self, name: &str) {
        // The unnamed statement is replaced by the next Parse; DEALLOCATE
        // cannot name it.
        if name.is_empty() {
            return;
        }
        if let Ok(mut names) = self.statement_names.lock() {
            names.insert(name.to_string());
        }
    }

    /// `PREPARE`: keeps `statement` under `name`, which must be new.
    pub(super) fn define<C>(
        &self,
        client: &C,
        name: String,
        statement: Prepared,
    ) -> Result<Response, SqlError>
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        let mut defined = self.defined()?;
        if defined.contains_key(&name) || client.portal_store().get_statement(&name).is_some() {
            return Err(SqlError::duplicate_prepared_statement(format!(
                "prepared statement \"{name}\" already exists"
            )));
        }
        defined.insert(name, Arc::new(statement));
        Ok(Response::Execution(Tag::new("PREPARE")))
    }

    /// `EXECUTE`'s statement `name`.
    pub(super) fn stored(&self, name: &str) -> Result<Arc<Prepared>, SqlError> {
        self.defined()?.get(name).cloned().ok_or_else(|| {
            SqlError::invalid_statement_name(format!(
                "prepared statement \"{name}\" does not exist"
            ))
        })
    }

    fn defined(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, HashMap<String, Arc<Prepared>>>, SqlError> {
        self.defined
            .lock()
            .map_err(|_| SqlError::internal("prepared statements poisoned"))
    }

    /// Drops prepared statement `name`, or every one (`None`).
    pub(super) fn deallocate<C>(
        &self,
        client: &C,
        name: Option<&str>,
        tag: &str,
    ) -> Result<Response, SqlError>
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        let store = client.portal_store();
        let mut names = self
            .statement_names
            .lock()
            .map_err(|_| SqlError::internal("statement names poisoned"))?;
        let mut defined = self.defined()?;
        match name {
            Some(n) if defined.remove(n).is_some() => {}
            Some(n) => {
                if store.get_statement(n).is_none() {
                    return Err(SqlError::invalid_statement_name(format!(
                        "prepared statement \"{n}\" does not exist"
                    )));
                }
                store.rm_statement(n);
                names.remove(n);
            }
            None => {
                defined.clear();
                for n in std::mem::take(&mut *names) {
                    store.rm_statement(&n);
                }
            }
        }
        Ok(Response::Execution(Tag::new(tag)))
    }
}

/// The statement names a connection parsed.
pub type StatementNames = std::sync::Mutex<BTreeSet<String>>;

/// The statements SQL's `PREPARE` made, by name. They are kept apart from
/// the portal store's, whose statement type simple queries cannot name,
/// but share their namespace: a name is taken in either.
pub type Defined = std::sync::Mutex<HashMap<String, Arc<Prepared>>>;
