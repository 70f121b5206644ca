//! SQL errors carry a PostgreSQL SQLSTATE so drivers map them to the right
//! exception class.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub code: &'static str,
    pub message: String,
}

pub type SqlResult<T> = Result<T, SqlError>;

macro_rules! sqlstates {
    ($($fn_name:ident => $code:literal),* $(,)?) => {
        impl SqlError {
            $(
                pub fn $fn_name(message: impl Into<String>) -> SqlError {
                    SqlError { code: $code, message: message.into() }
                }
            )*
        }
    };
}

sqlstates! {
    syntax => "42601",
    undefined_table => "42P01",
    undefined_column => "42703",
    undefined_function => "42883",
    undefined_object => "42704",
    ambiguous_column => "42702",
    datatype_mismatch => "42804",
    grouping_error => "42803",
    feature_not_supported => "0A000",
    unique_violation => "23505",
    foreign_key_violation => "23503",
    not_null_violation => "23502",
    check_violation => "23514",
    generated_always => "428C9",
    wrong_object_type => "42809",
    invalid_parameter_value => "22023",
    invalid_text_representation => "22P02",
    bad_copy_file_format => "22P04",
    numeric_value_out_of_range => "22003",
    division_by_zero => "22012",
    invalid_datetime_format => "22007",
    cardinality_violation => "21000",
    invalid_transaction_state => "25000",
    in_failed_sql_transaction => "25P02",
    serialization_failure => "40001",
    statement_completion_unknown => "40003",
    object_not_in_prerequisite_state => "55000",
    cannot_connect_now => "57P03",
    query_canceled => "57014",
    protocol_violation => "08P01",
    internal => "XX000",
    io_error => "58030",
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for SqlError {}

impl From<bucketdb_storage::StorageError> for SqlError {
    fn from(e: bucketdb_storage::StorageError) -> Self {
        SqlError::io_error(format!("storage: {e}"))
    }
}

impl From<bucketdb_consensus::ConsensusError> for SqlError {
    fn from(e: bucketdb_consensus::ConsensusError) -> Self {
        use bucketdb_consensus::ConsensusError::*;
        match e {
            // Retryable: the client may try again once a leader is known.
            NotLeader { .. } | Unavailable(_) => SqlError::cannot_connect_now(e.to_string()),
            // The write may or may not have happened; the client must check.
            Ambiguous(_) => SqlError::statement_completion_unknown(e.to_string()),
            Refused(_) => SqlError::object_not_in_prerequisite_state(e.to_string()),
            Fatal(_) => SqlError::internal(e.to_string()),
            Storage(s) => s.into(),
        }
    }
}
