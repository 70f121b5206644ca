//! Connection startup: trust authentication (for now), the server
//! parameters drivers look at, and session settings from the startup
//! packet (`user`, `database`, and `options` such as `-c consistency=local`).

use std::fmt::Debug;
use std::sync::LazyLock;

use async_trait::async_trait;
use bucketdb_sql::{Session, SqlError, SERVER_VERSION};
use futures::Sink;
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::{ClientInfo, PidSecretKeyGenerator, RandomPidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::Connection;

static PIDS: LazyLock<RandomPidSecretKeyGenerator> =
    LazyLock::new(RandomPidSecretKeyGenerator::default);

/// Settings given as `-c name=value` (or `--name=value`) in `options`.
pub fn parse_options(options: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut words = options.split_whitespace();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else if let Some(rest) = w.strip_prefix("-c") {
            Some(rest)
        } else {
            w.strip_prefix("--")
        };
        if let Some((k, v)) = setting.and_then(|s| s.split_once('=')) {
            out.push((k.replace('-', "_"), v.to_string()));
        }
    }
    out
}

#[async_trait]
impl StartupHandler for Connection {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(ref startup) = message else {
            return Ok(());
        };
        protocol_negotiation(client, startup).await?;
        save_startup_parameters_to_metadata(client, startup);
        let (pid, key) = PIDS.generate(client);
        let key_bytes = key.to_bytes();
        client.set_pid_and_secret_key(pid, key);
        self.cancels
            .register(pid, key_bytes.clone(), self.cancel.clone());
        let _ = self.cancel_key.set((pid, key_bytes));
        let meta = client.metadata();
        let user = meta
            .get("user")
            .cloned()
            .unwrap_or_else(|| "bucketdb".into());
        let database = meta
            .get("database")
            .cloned()
            .unwrap_or_else(|| user.clone());
        let mut session = Session::new(&user, &database);
        if let Some(options) = meta.get("options") {
            for (k, v) in parse_options(options) {
                session.settings_mut().set(&k, &v).map_err(|e: SqlError| {
                    let mut info = super::error_info(&e);
                    info.severity = "FATAL".into();
                    PgWireError::UserError(Box::new(info))
                })?;
            }
        }
        if let Some(app) = meta.get("application_name") {
            let _ = session.settings_mut().set("application_name", app);
        }
        *self.session.lock().await = session;
        let mut params = DefaultServerParameterProvider::default();
        params.server_version = SERVER_VERSION.to_string();
        finish_authentication(client, &params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_forms() {
        assert_eq!(
            parse_options("-c consistency=local --statement-timeout=5 -capplication_name=x"),
            vec![
                ("consistency".into(), "local".into()),
                ("statement_timeout".into(), "5".into()),
                ("application_name".into(), "x".into()),
            ]
        );
    }
}
