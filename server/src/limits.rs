//! The node's limits, as flags (`--max-connections`), environment
//! (`BUCKETDB_MAX_CONNECTIONS`) and a `[limits]` table in the TOML file.
//! Written once, as a table: each limit's name, variable, default and
//! meaning (docs/operations.md lists them).

use clap::Args;
use serde::Deserialize;

macro_rules! limits {
    ($( $(#[doc = $doc:literal])* $name:ident : $env:literal = $default:expr ),* $(,)?) => {
        /// Limits as given: unset ones take the TOML file's, then the default.
        #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct LimitArgs {
            $( $(#[doc = $doc])* #[arg(long, env = $env)] pub $name: Option<u64>, )*
        }

        /// The limits in force.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Limits {
            $( pub $name: u64, )*
        }

        impl LimitArgs {
            /// These over `file`'s, over the defaults.
            pub fn over(self, file: LimitArgs) -> Limits {
                Limits { $( $name: self.$name.or(file.$name).unwrap_or($default), )* }
            }
        }
    };
}

const MIB: u64 = 1 << 20;

limits! {
    /// SQL connections served at once; one more is refused (53300) [default: 100]
    max_connections: "BUCKETDB_MAX_CONNECTIONS" = 100,
    /// Bytes of SQL text in one statement (54000 beyond) [default: 16 MiB]
    max_statement_bytes: "BUCKETDB_MAX_STATEMENT_BYTES" = 16 * MIB,
    /// Bytes of one column value written (54000 beyond) [default: 4 MiB]
    max_value_bytes: "BUCKETDB_MAX_VALUE_BYTES" = 4 * MIB,
    /// Bytes of one row written, key and values (54000 beyond) [default: 8 MiB]
    max_row_bytes: "BUCKETDB_MAX_ROW_BYTES" = 8 * MIB,
    /// Bytes one statement or transaction writes (54000 beyond) [default: 64 MiB]
    max_write_bytes: "BUCKETDB_MAX_WRITE_BYTES" = 64 * MIB,
    /// Range reads one transaction may depend on at COMMIT (54000 beyond) [default: 1024]
    max_read_ranges: "BUCKETDB_MAX_READ_RANGES" = 1024,
    /// Seconds a session may sit idle in a transaction before it is ended
    /// (25P03); 0: never [default: 300]
    idle_in_transaction_session_timeout_secs: "BUCKETDB_IDLE_IN_TRANSACTION_SESSION_TIMEOUT_SECS" = 300,
    /// Seconds a session may sit idle outside a transaction before it is
    /// ended (57P05); 0: never [default: 0]
    idle_session_timeout_secs: "BUCKETDB_IDLE_SESSION_TIMEOUT_SECS" = 0,
    /// Bytes of memory one query's sorts, joins and aggregations may hold
    /// (53200 beyond) [default: 512 MiB]
    query_memory_bytes: "BUCKETDB_QUERY_MEMORY_BYTES" = 512 * MIB,
    /// Bytes of memory all queries of the node may hold together (53200
    /// beyond) [default: 2 GiB]
    node_query_memory_bytes: "BUCKETDB_NODE_QUERY_MEMORY_BYTES" = 2048 * MIB,
    /// Writes are refused (53100) while the data directory has fewer free
    /// bytes than this; 0: no guard [default: 128 MiB]
    min_free_disk_bytes: "BUCKETDB_MIN_FREE_DISK_BYTES" = 128 * MIB,
    /// Bytes of the largest snapshot taken from a leader [default: 64 GiB]
    max_snapshot_bytes: "BUCKETDB_MAX_SNAPSHOT_BYTES" = 64 * 1024 * MIB,
}

impl Limits {
    /// The write limits, checked against what one Raft entry can carry.
    pub fn writes(&self) -> Result<bucketdb_consensus::Limits, String> {
        let size = |v: u64| usize::try_from(v).map_err(|_| format!("{v} is too large"));
        let limits = bucketdb_consensus::Limits {
            max_value_bytes: size(self.max_value_bytes)?,
            max_row_bytes: size(self.max_row_bytes)?,
            max_write_bytes: size(self.max_write_bytes)?,
            max_read_ranges: size(self.max_read_ranges)?,
        };
        limits.validate()?;
        Ok(limits)
    }

    /// Why these limits cannot be used, if they cannot.
    pub fn validate(&self) -> Result<(), String> {
        self.writes()?;
        if !(1..=100_000).contains(&self.max_connections) {
            return Err("max_connections must be between 1 and 100000".into());
        }
        if self.query_memory_bytes > self.node_query_memory_bytes {
            return Err("query_memory_bytes must not exceed node_query_memory_bytes".into());
        }
        if self.max_statement_bytes > 256 * MIB {
            return Err("max_statement_bytes is over the ceiling of 256 MiB".into());
        }
        for (name, secs) in [
            (
                "idle_in_transaction_session_timeout_secs",
                self.idle_in_transaction_session_timeout_secs,
            ),
            ("idle_session_timeout_secs", self.idle_session_timeout_secs),
        ] {
            if secs > i32::MAX as u64 / 1000 {
                return Err(format!(
                    "{name} is over the ceiling of {} s",
                    i32::MAX / 1000
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_can_be_set() {
        let d = LimitArgs::default().over(LimitArgs::default());
        assert_eq!(d.max_connections, 100);
        assert!(d.validate().is_ok());
        let file = LimitArgs {
            max_connections: Some(5),
            max_row_bytes: Some(MIB),
            ..LimitArgs::default()
        };
        let flags = LimitArgs {
            max_connections: Some(7),
            ..LimitArgs::default()
        };
        let l = flags.over(file);
        assert_eq!((l.max_connections, l.max_row_bytes), (7, MIB));
        // A value bigger than a row, a row bigger than a snapshot record.
        let bad = LimitArgs {
            max_value_bytes: Some(16 * MIB),
            ..LimitArgs::default()
        };
        assert!(bad.over(LimitArgs::default()).validate().is_err());
        let bad = LimitArgs {
            max_row_bytes: Some(1 << 40),
            max_write_bytes: Some(1 << 41),
            ..LimitArgs::default()
        };
        assert!(bad.over(LimitArgs::default()).validate().is_err());
    }
}
