//! The COPY sub-protocol: pgwire hands the client's CopyData, CopyDone and
//! CopyFail messages here; the engine parses and writes them in batches.

use std::fmt::Debug;
use std::time::Instant;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::copy::CopyHandler;
use pgwire::api::ClientInfo;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::response::CommandComplete;
use pgwire::messages::PgWireBackendMessage;

use bucketdb_sql::Interrupt;

use super::{user_error, Connection};

impl Connection {
    fn interrupt(&self, started: Instant, timeout: Option<std::time::Duration>) -> Interrupt {
        Interrupt::start(self.cancel.clone(), timeout.map(|d| started + d))
    }
}

#[async_trait]
impl CopyHandler for Connection {
    async fn on_copy_data<C>(&self, _client: &mut C, data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock().await;
        let interrupt = self.interrupt(Instant::now(), session.settings().statement_timeout());
        self.engine
            .copy_data(&mut session, &interrupt, &data.data)
            .await
            .map_err(|e| user_error(&e))
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let started = Instant::now();
        let result = {
            let mut session = self.session.lock().await;
            let interrupt = self.interrupt(started, session.settings().statement_timeout());
            self.engine.copy_done(&mut session, &interrupt).await
        };
        self.metrics.statement(
            "copy",
            started.elapsed().as_secs_f64(),
            result.as_ref().err().map(|e| e.code()),
        );
        let tag = result.map_err(|e| user_error(&e))?;
        client
            .send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                tag,
            )))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut session = self.session.lock().await;
        self.engine.copy_fail(&mut session);
        user_error(&bucketdb_sql::SqlError::query_canceled(format!(
            "COPY from stdin failed: {}",
            fail.message
        )))
    }
}
