//! A session's settings (`consistency`, `statement_timeout`, …), who is
//! connected to which database, and the newest state it has seen. Below
//! everything that evaluates an expression (`current_setting`,
//! `current_user`); the engine's session adds the open transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use bucketdb_consensus::ReadConsistency;

use crate::error::{SqlError, SqlResult, SqlState};

/// The PostgreSQL version bucketdb answers to (`SHOW server_version`).
pub const SERVER_VERSION: &str = "15.0";

pub fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (bucketdb {}) on x86_64-pc-linux-gnu",
        env!("CARGO_PKG_VERSION")
    )
}

/// Settings every session starts with (name in lowercase → value). Most
/// are what PostgreSQL clients read or send when they connect; bucketdb
/// behaves as their values say (UTF-8, ISO dates, serializable, ...).
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("block_size", "8192"),
    ("bytea_output", "hex"),
    ("check_function_bodies", "on"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("consistency", "linearizable"),
    ("datestyle", "ISO, MDY"),
    ("default_table_access_method", "heap"),
    ("default_tablespace", ""),
    ("default_transaction_deferrable", "off"),
    ("default_transaction_isolation", "serializable"),
    ("default_transaction_read_only", "off"),
    ("escape_string_warning", "on"),
    ("extra_float_digits", "1"),
    ("idle_in_transaction_session_timeout", "0"),
    ("idle_session_timeout", "0"),
    ("in_hot_standby", "off"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "on"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("lc_messages", "C"),
    ("lc_monetary", "C"),
    ("lc_numeric", "C"),
    ("lc_time", "C"),
    ("lo_compat_privileges", "off"),
    ("lock_timeout", "0"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("quote_all_identifiers", "off"),
    ("row_security", "on"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", SERVER_VERSION),
    ("server_version_num", "150000"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronize_seqscans", "on"),
    ("synchronous_commit", "on"),
    ("timezone", "UTC"),
    ("transaction_deferrable", "off"),
    ("transaction_isolation", "serializable"),
    ("transaction_read_only", "off"),
    ("xmloption", "content"),
];

/// Settings a client may not change.
const READ_ONLY: &[&str] = &[
    "block_size",
    "server_version",
    "server_version_num",
    "server_encoding",
    "in_hot_standby",
    "integer_datetimes",
    "is_superuser",
    "lc_collate",
    "lc_ctype",
    "max_identifier_length",
    "max_index_keys",
    "transaction_read_only",
];

/// The levels `transaction_isolation` may be set to. Every transaction
/// is serializable, which the SQL standard allows for any of them.
const ISOLATION_LEVELS: &[&str] = &[
    "serializable",
    "repeatable read",
    "read committed",
    "read uncommitted",
];

/// Whether a `TimeZone` value names UTC: a name of it, the server's default
/// (`LOCAL`, `DEFAULT`), or an offset of zero (`'+00:00'`, Sequelize's
/// `INTERVAL '+00:00' HOUR TO MINUTE`). Sessions run in UTC only; taking
/// another zone and ignoring it read `'2024-01-15 10:30'` as UTC where the
/// client meant its zone, storing another instant without an error.
fn is_utc(value: &str) -> bool {
    const NAMES: &[&str] = &[
        "utc",
        "uct",
        "gmt",
        "gmt0",
        "gmt+0",
        "gmt-0",
        "z",
        "zulu",
        "greenwich",
        "universal",
        "local",
        "default",
    ];
    let v = value.trim().to_ascii_lowercase();
    let v = v.strip_prefix("interval").unwrap_or(&v);
    let v = v
        .strip_suffix("hour to minute")
        .unwrap_or(v)
        .trim()
        .trim_matches(|c| c == '\'' || c == '"');
    let v = v.strip_prefix("etc/").unwrap_or(v);
    NAMES.contains(&v)
        || (v.contains('0') && v.chars().all(|c| matches!(c, '+' | '-' | '0' | ':' | '.')))
}

/// The values `client_min_messages` takes.
const MESSAGE_LEVELS: &[&str] = &[
    "debug5", "debug4", "debug3", "debug2", "debug1", "debug", "log", "notice", "warning", "error",
];

/// Cloned for a scan that runs on after its statement returned: it
/// evaluates its expressions with the settings in force when it started.
#[derive(Debug, Clone)]
pub struct Settings {
    user: String,
    database: String,
    settings: BTreeMap<String, String>,
    /// Values the connection began with (the server's configuration, the
    /// startup options): what RESET returns to, as in PostgreSQL, so a
    /// pooler's `RESET ALL` does not lift the server's idle timeouts.
    session_defaults: BTreeMap<String, String>,
    /// The newest log index this session has read or written: its reads,
    /// `local` ones too, never see an older state.
    seen_index: u64,
    /// The time settings, parsed when set: read on every statement.
    timeouts: Timeouts,
}

/// `statement_timeout`, `idle_in_transaction_session_timeout` and
/// `idle_session_timeout`; `None` when 0 (no limit).
#[derive(Debug, Clone, Copy, Default)]
struct Timeouts {
    statement: Option<Duration>,
    idle_in_transaction: Option<Duration>,
    idle_session: Option<Duration>,
}

impl Settings {
    pub fn new(user: &str, database: &str) -> Settings {
        Settings {
            user: user.to_string(),
            database: database.to_string(),
            settings: DEFAULTS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            session_defaults: BTreeMap::new(),
            seen_index: 0,
            timeouts: Timeouts::default(),
        }
    }

    /// Sets `name` for this session and makes it what RESET returns to.
    pub fn set_session_default(&mut self, name: &str, value: &str) -> SqlResult<()> {
        self.set(name, value)?;
        let name = name.to_ascii_lowercase();
        let value = self.settings.get(&name).cloned().unwrap_or_default();
        self.session_defaults.insert(name, value);
        Ok(())
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// Records whether the session's role is a superuser now, for
    /// `SHOW is_superuser` (the engine sets it before each statement).
    pub fn set_superuser(&mut self, superuser: bool) {
        let value = if superuser { "on" } else { "off" };
        self.settings.insert("is_superuser".into(), value.into());
    }

    pub fn seen_index(&self) -> u64 {
        self.seen_index
    }

    /// Records that the session saw the state at log index `index`.
    pub fn observe(&mut self, index: u64) {
        self.seen_index = self.seen_index.max(index);
    }

    pub fn consistency(&self) -> ReadConsistency {
        match self.settings.get("consistency").map(String::as_str) {
            Some("local") => ReadConsistency::Local,
            _ => ReadConsistency::Linearizable,
        }
    }

    /// `SET name = value`. Unknown names are refused unless qualified
    /// (`myapp.x`), as PostgreSQL does for custom settings.
    pub fn set(&mut self, name: &str, value: &str) -> SqlResult<()> {
        let name = name.to_ascii_lowercase();
        if READ_ONLY.contains(&name.as_str()) {
            return Err(cant_change(&name));
        }
        if !self.settings.contains_key(&name) && !name.contains('.') {
            return Err(SqlError::undefined_object(format!(
                "unrecognized configuration parameter \"{name}\""
            )));
        }
        let value = match name.as_str() {
            "consistency" => match value.to_ascii_lowercase().as_str() {
                v @ ("linearizable" | "local") => v.to_string(),
                _ => {
                    return Err(SqlError::invalid_parameter_value(format!(
                        "invalid value for parameter \"consistency\": \"{value}\" (expected linearizable or local)"
                    )))
                }
            },
            "statement_timeout" | "idle_in_transaction_session_timeout" | "idle_session_timeout" => {
                parse_duration(value)?;
                value.to_string()
            }
            "transaction_isolation" | "default_transaction_isolation" => {
                one_of(&name, value, ISOLATION_LEVELS)?;
                "serializable".to_string()
            }
            "client_min_messages" => one_of(&name, value, MESSAGE_LEVELS)?,
            "timezone" if !is_utc(value) => {
                return Err(SqlError::feature_not_supported(format!(
                    "time zone \"{value}\" is not supported: bucketdb sessions are in UTC (a timestamp written with its offset, '2024-01-15 10:30+01', is read as that instant)"
                )))
            }
            // Settings whose other values bucketdb would not honour.
            "default_transaction_read_only" | "default_transaction_deferrable" => {
                one_of(&name, value, &["off", "false"])?;
                "off".to_string()
            }
            _ => value.to_string(),
        };
        self.settings.insert(name, value);
        self.parse_timeouts();
        Ok(())
    }

    /// `statement_timeout` in force; `None` when 0 (no limit).
    pub fn statement_timeout(&self) -> Option<Duration> {
        self.timeouts.statement
    }

    /// How long the session may wait, idle, inside a transaction (which
    /// pins a snapshot of the store) before it is ended; `None`: forever.
    pub fn idle_in_transaction_timeout(&self) -> Option<Duration> {
        self.timeouts.idle_in_transaction
    }

    /// How long the session may wait, idle, outside a transaction.
    pub fn idle_session_timeout(&self) -> Option<Duration> {
        self.timeouts.idle_session
    }

    /// Parses the time settings after any of them may have changed.
    fn parse_timeouts(&mut self) {
        let duration = |name: &str| {
            self.settings
                .get(name)
                .and_then(|v| parse_duration(v).ok())
                .filter(|d| !d.is_zero())
        };
        self.timeouts = Timeouts {
            statement: duration("statement_timeout"),
            idle_in_transaction: duration("idle_in_transaction_session_timeout"),
            idle_session: duration("idle_session_timeout"),
        };
    }

    /// `RESET name`.
    pub fn reset(&mut self, name: &str) -> SqlResult<()> {
        let name = name.to_ascii_lowercase();
        if let Some(v) = self.session_defaults.get(&name).cloned() {
            return self.set(&name, &v);
        }
        match DEFAULTS.iter().find(|(k, _)| *k == name) {
            Some((_, v)) => self.set(&name, v),
            None if name.contains('.') => {
                self.settings.remove(&name);
                Ok(())
            }
            None => Err(SqlError::undefined_object(format!(
                "unrecognized configuration parameter \"{name}\""
            ))),
        }
    }

    /// `RESET ALL`: every setting back to its default.
    pub fn reset_all(&mut self) {
        self.settings = Settings::new(&self.user, &self.database).settings;
        for (k, v) in &self.session_defaults {
            self.settings.insert(k.clone(), v.clone());
        }
        self.parse_timeouts();
    }

    /// `SHOW name` / `current_setting(name)`.
    pub fn show(&self, name: &str) -> SqlResult<String> {
        let name = name.to_ascii_lowercase();
        if name == "session_authorization" {
            return Ok(self.user.clone());
        }
        self.settings.get(&name).cloned().ok_or_else(|| {
            SqlError::undefined_object(format!("unrecognized configuration parameter \"{name}\""))
        })
    }

    /// The schemas `search_path` names that exist, in its order, as
    /// `current_schemas(false)` lists them: `"$user"` names none (there
    /// are no per-role schemas), nor do unknown names.
    pub fn search_path_schemas(&self) -> Vec<&'static str> {
        let path = self.settings.get("search_path").map_or("", String::as_str);
        path.split(',')
            .filter_map(|part| {
                let part = part.trim();
                let name = match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                    Some(quoted) => quoted.to_string(),
                    None => part.to_ascii_lowercase(),
                };
                SCHEMAS.iter().copied().find(|s| *s == name)
            })
            .collect()
    }

    /// What `RESET name` returns `name` to, if it is a known setting.
    pub fn reset_value(&self, name: &str) -> Option<&str> {
        self.session_defaults
            .get(name)
            .map(String::as_str)
            .or_else(|| DEFAULTS.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
    }

    /// Whether a client may not change `name`.
    pub fn is_read_only(name: &str) -> bool {
        READ_ONLY.contains(&name)
    }

    /// `SHOW ALL`: every setting and its value, by name.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The schemas a search path may name.
const SCHEMAS: &[&str] = &["public", "pg_catalog", "information_schema"];

/// `value` if it is one of `allowed` (any case), in lowercase.
fn one_of(name: &str, value: &str, allowed: &[&str]) -> SqlResult<String> {
    let v = value.trim().to_ascii_lowercase();
    if allowed.contains(&v.as_str()) {
        return Ok(v);
    }
    Err(SqlError::invalid_parameter_value(format!(
        "invalid value for parameter \"{name}\": \"{value}\" (expected one of {})",
        allowed.join(", ")
    )))
}

/// A PostgreSQL time setting: a number of milliseconds, or a number with a
/// unit (`us`, `ms`, `s`, `min`, `h`, `d`).
fn parse_duration(value: &str) -> SqlResult<Duration> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = (&v[..split], v[split..].trim());
    let bad = || {
        SqlError::invalid_parameter_value(format!("invalid value for a time setting: \"{value}\""))
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let ms = match unit {
        "" | "ms" => n,
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "min" => n * 60_000.0,
        "h" => n * 3_600_000.0,
        "d" => n * 86_400_000.0,
        _ => return Err(bad()),
    };
    if !ms.is_finite() || !(0.0..=i32::MAX as f64).contains(&ms) {
        return Err(bad());
    }
    Ok(Duration::from_micros((ms * 1000.0) as u64))
}

fn cant_change(name: &str) -> SqlError {
    SqlError::new(
        SqlState::CantChangeRuntimeParam,
        format!("parameter \"{name}\" cannot be changed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_returns_to_what_the_connection_began_with() {
        let mut s = Settings::new("u", "d");
        s.set_session_default("idle_in_transaction_session_timeout", "300000ms")
            .unwrap();
        s.set("idle_in_transaction_session_timeout", "0").unwrap();
        assert_eq!(s.idle_in_transaction_timeout(), None);
        s.reset("idle_in_transaction_session_timeout").unwrap();
        assert_eq!(
            s.idle_in_transaction_timeout(),
            Some(Duration::from_secs(300))
        );
        s.set("idle_in_transaction_session_timeout", "0").unwrap();
        s.set("statement_timeout", "5s").unwrap();
        s.reset_all();
        assert_eq!(
            s.idle_in_transaction_timeout(),
            Some(Duration::from_secs(300))
        );
        assert_eq!(s.statement_timeout(), None);
    }

    #[test]
    fn time_zones_other_than_utc_are_refused_not_ignored() {
        let mut s = Settings::new("u", "d");
        for utc in [
            "UTC",
            "'Etc/UTC'",
            "GMT",
            "'+00:00'",
            "0",
            "INTERVAL '+00:00' HOUR TO MINUTE",
            "LOCAL",
            "zulu",
        ] {
            s.set("TimeZone", utc)
                .unwrap_or_else(|e| panic!("{utc}: {e:?}"));
        }
        for other in [
            "Europe/Paris",
            "'+01:00'",
            "INTERVAL '-05:00' HOUR TO MINUTE",
            "EST",
            "10",
        ] {
            let e = s.set("timezone", other).unwrap_err();
            assert_eq!(e.state, SqlState::FeatureNotSupported, "{other}");
        }
    }

    #[test]
    fn consistency_setting() {
        let mut s = Settings::new("u", "d");
        assert_eq!(s.consistency(), ReadConsistency::Linearizable);
        s.set("consistency", "LOCAL").unwrap();
        assert_eq!(s.consistency(), ReadConsistency::Local);
        assert_eq!(
            s.set("consistency", "eventual").unwrap_err().state,
            SqlState::InvalidParameterValue
        );
        assert_eq!(s.show("consistency").unwrap(), "local");
        s.reset("consistency").unwrap();
        assert_eq!(s.show("consistency").unwrap(), "linearizable");
        assert_eq!(
            s.set("nonsense", "1").unwrap_err().state,
            SqlState::UndefinedObject
        );
        s.set("myapp.trace", "1").unwrap();
        assert_eq!(
            s.set("server_version", "1").unwrap_err().state,
            SqlState::CantChangeRuntimeParam
        );
        assert_eq!(s.statement_timeout(), None);
        s.set("statement_timeout", "1500").unwrap();
        assert_eq!(s.statement_timeout(), Some(Duration::from_millis(1500)));
        s.set("statement_timeout", "2s").unwrap();
        assert_eq!(s.statement_timeout(), Some(Duration::from_secs(2)));
        // Any isolation level asked for is served as serializable.
        s.set("transaction_isolation", "READ COMMITTED").unwrap();
        assert_eq!(s.show("transaction_isolation").unwrap(), "serializable");
        s.set("client_min_messages", "WARNING").unwrap();
        assert_eq!(s.show("client_min_messages").unwrap(), "warning");
        assert_eq!(
            s.set("client_min_messages", "loud").unwrap_err().state,
            SqlState::InvalidParameterValue
        );
        assert_eq!(
            s.set("default_transaction_read_only", "on")
                .unwrap_err()
                .state,
            SqlState::InvalidParameterValue
        );
        assert_eq!(s.show("session_authorization").unwrap(), "u");
        assert_eq!(
            s.set("statement_timeout", "soon").unwrap_err().state,
            SqlState::InvalidParameterValue
        );
    }
}
