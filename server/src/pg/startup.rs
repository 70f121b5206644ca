//! Connection startup: authentication (trust, or SCRAM-SHA-256 against the
//! roles in the replicated state), the server parameters drivers look at,
//! and session settings from the startup packet (`user`, `database`, and
//! `options` such as `-c consistency=local`).
//!
//! What a stranger learns is kept to PostgreSQL's answers: with SCRAM, an
//! unknown role, a role that may not log in and a wrong password all run
//! the whole exchange and end in the same 28P01.

use std::fmt::Debug;
use std::sync::LazyLock;

use async_trait::async_trait;
use bucketdb_sql::scram::{self, Exchange, ScramError, Verifier};
use bucketdb_sql::{Session, SqlError, SERVER_VERSION};
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::{
    ClientInfo, PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::Connection;
use crate::config::AuthMode;

static PIDS: LazyLock<RandomPidSecretKeyGenerator> =
    LazyLock::new(RandomPidSecretKeyGenerator::default);

/// How a node authenticates clients.
#[derive(Debug)]
pub struct AuthPolicy {
    pub mode: AuthMode,
    /// Refuse connections that did not negotiate TLS.
    pub require_tls: bool,
    /// Keys the mock verifiers of unknown roles; random per process.
    pub mock_secret: [u8; 32],
}

impl AuthPolicy {
    pub fn new(mode: AuthMode, require_tls: bool) -> AuthPolicy {
        AuthPolicy {
            mode,
            require_tls,
            mock_secret: scram::random_bytes::<32>(),
        }
    }
}

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

/// A FATAL error that ends the connection.
fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message.into(),
    )))
}

fn fatal_sql(e: &SqlError) -> PgWireError {
    fatal(e.code(), e.message.clone())
}

fn password_failed(user: &str) -> PgWireError {
    fatal(
        bucketdb_sql::SqlState::InvalidPassword.code(),
        format!("password authentication failed for user \"{user}\""),
    )
}

fn scram_error(user: &str, e: ScramError) -> PgWireError {
    match e {
        ScramError::Failed => password_failed(user),
        ScramError::Malformed(_) => fatal(
            bucketdb_sql::SqlState::ProtocolViolation.code(),
            e.to_string(),
        ),
    }
}

fn startup_user<C: ClientInfo>(client: &C) -> String {
    client
        .metadata()
        .get("user")
        .cloned()
        .unwrap_or_else(|| bucketdb_sql::BOOTSTRAP_SUPERUSER.into())
}

impl Connection {
    /// The role's verifier if it may log in with a password.
    fn verifier_of(&self, user: &str) -> PgWireResult<Option<Verifier>> {
        let role = self.engine.role(user).map_err(|e| fatal_sql(&e))?;
        Ok(role
            .filter(|r| r.login)
            .and_then(|r| r.verifier)
            .and_then(|v| Verifier::parse(&v)))
    }

    /// Trust: the role named, if it exists (and may log in), else the
    /// bootstrap superuser, as the local trust rule promises: whoever
    /// reaches a trusting node is its superuser anyway, and a bare `psql`
    /// (which names the OS user) just works.
    fn trusted_role(&self, user: &str) -> PgWireResult<String> {
        match self.engine.role(user).map_err(|e| fatal_sql(&e))? {
            None => Ok(bucketdb_sql::BOOTSTRAP_SUPERUSER.to_string()),
            Some(r) if !r.login => Err(fatal(
                bucketdb_sql::SqlState::InvalidAuthorizationSpecification.code(),
                format!("role \"{user}\" is not permitted to log in"),
            )),
            Some(r) => Ok(r.name),
        }
    }

    /// The client is who it says: set up its session and tell it so.
    async fn admit<C>(&self, client: &mut C, user: String) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, key) = PIDS.generate(client);
        let key_bytes = key.to_bytes();
        client.set_pid_and_secret_key(pid, key);
        self.cancels
            .register(pid, key_bytes.clone(), self.cancel.clone());
        let _ = self.cancel_key.set((pid, key_bytes));
        let meta = client.metadata();
        let database = meta
            .get("database")
            .cloned()
            .unwrap_or_else(|| user.clone());
        let mut session = Session::new(&user, &database);
        for (name, value) in [
            (
                "idle_in_transaction_session_timeout",
                self.limits.idle_in_transaction,
            ),
            ("idle_session_timeout", self.limits.idle_session),
        ] {
            let ms = format!("{}ms", value.as_millis());
            session
                .settings_mut()
                .set_session_default(name, &ms)
                .map_err(|e: SqlError| fatal_sql(&e))?;
        }
        if let Some(options) = meta.get("options") {
            for (k, v) in parse_options(options) {
                session
                    .settings_mut()
                    .set_session_default(&k, &v)
                    .map_err(|e: SqlError| fatal_sql(&e))?;
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
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if self.auth.require_tls && !client.is_secure() {
                    return Err(fatal(
                        bucketdb_sql::SqlState::InvalidAuthorizationSpecification.code(),
                        "this server accepts only TLS connections: connect with sslmode=require",
                    ));
                }
                match self.auth.mode {
                    AuthMode::Trust => {
                        let role = self.trusted_role(&startup_user(client))?;
                        self.admit(client, role).await
                    }
                    AuthMode::Scram => {
                        client.set_state(PgWireConnectionState::AuthenticationInProgress);
                        client
                            .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                                vec![scram::MECHANISM.to_string()],
                            )))
                            .await?;
                        Ok(())
                    }
                }
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg)
                if self.auth.mode == AuthMode::Scram =>
            {
                let user = startup_user(client);
                let pending = self.scram.lock().await.take();
                match pending {
                    None => {
                        let first = msg.into_sasl_initial_response()?;
                        if first.auth_method != scram::MECHANISM {
                            return Err(fatal(
                                bucketdb_sql::SqlState::ProtocolViolation.code(),
                                "client selected an invalid SASL authentication mechanism",
                            ));
                        }
                        let data = first.data.unwrap_or_default();
                        let mock = Verifier::mock(&user, &self.auth.mock_secret);
                        let (exchange, server_first) =
                            Exchange::start(self.verifier_of(&user)?, mock, &data)
                                .map_err(|e| scram_error(&user, e))?;
                        *self.scram.lock().await = Some(exchange);
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(server_first.into_bytes().into()),
                            ))
                            .await?;
                        Ok(())
                    }
                    Some(exchange) => {
                        let last = msg.into_sasl_response()?;
                        let server_final = exchange
                            .finish(&last.data)
                            .map_err(|e| scram_error(&user, e))?;
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(server_final.into_bytes().into()),
                            ))
                            .await?;
                        self.admit(client, user).await
                    }
                }
            }
            _ => Err(fatal(
                bucketdb_sql::SqlState::ProtocolViolation.code(),
                "unexpected message during authentication",
            )),
        }
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
