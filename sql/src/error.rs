//! SQL errors carry a PostgreSQL SQLSTATE so drivers map them to the right
//! exception class. The SQLSTATE is a type ([`SqlState`], named after
//! PostgreSQL's condition names): code that decides on an error matches a
//! variant, and the five-character code exists only on the wire.

use std::fmt;

/// The SQLSTATEs bucketdb answers with, named as PostgreSQL's
/// `errcodes.txt` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlState {
    // Class 08: connection exception.
    ProtocolViolation,
    // Class 0A: feature not supported.
    FeatureNotSupported,
    // Class 0L / 0LP: invalid grantor / grant operation.
    InvalidGrantOperation,
    // Class 21: cardinality violation.
    CardinalityViolation,
    // Class 22: data exception.
    NumericValueOutOfRange,
    InvalidDatetimeFormat,
    DivisionByZero,
    InvalidRowCountInLimitClause,
    InvalidParameterValue,
    InvalidTextRepresentation,
    UntranslatableCharacter,
    InvalidRegularExpression,
    InvalidEscapeSequence,
    BadCopyFileFormat,
    // Class 23: integrity constraint violation.
    NotNullViolation,
    ForeignKeyViolation,
    UniqueViolation,
    CheckViolation,
    // Class 25: invalid transaction state.
    InvalidTransactionState,
    ActiveSqlTransaction,
    InFailedSqlTransaction,
    ReadOnlySqlTransaction,
    IdleInTransactionSessionTimeout,
    NoActiveSqlTransaction,
    // Class 26: invalid SQL statement name.
    InvalidSqlStatementName,
    // Class 3B: savepoint exception.
    InvalidSavepointSpecification,
    // Class 3F: invalid schema name.
    InvalidSchemaName,
    // Class 28: invalid authorization specification.
    InvalidAuthorizationSpecification,
    InvalidPassword,
    // Class 2B: dependent privilege descriptors still exist.
    DependentObjectsStillExist,
    // Class 40: transaction rollback.
    SerializationFailure,
    StatementCompletionUnknown,
    // Class 42: syntax error or access rule violation.
    SyntaxError,
    InsufficientPrivilege,
    GroupingError,
    InvalidColumnReference,
    DatatypeMismatch,
    WrongObjectType,
    GeneratedAlways,
    UndefinedColumn,
    UndefinedFunction,
    UndefinedTable,
    UndefinedObject,
    AmbiguousColumn,
    DuplicateObject,
    DuplicatePreparedStatement,
    // Class 53: insufficient resources.
    DiskFull,
    OutOfMemory,
    TooManyConnections,
    // Class 54: program limit exceeded.
    ProgramLimitExceeded,
    // Class 55: object not in prerequisite state.
    ObjectNotInPrerequisiteState,
    ObjectInUse,
    CantChangeRuntimeParam,
    // Class 57: operator intervention.
    QueryCanceled,
    CannotConnectNow,
    IdleSessionTimeout,
    // Class 58: system error.
    IoError,
    DuplicateFile,
    // Class XX: internal error.
    InternalError,
}

impl SqlState {
    /// Every SQLSTATE, for tests that check each has its own code.
    pub const ALL: [SqlState; 59] = [
        SqlState::ProtocolViolation,
        SqlState::FeatureNotSupported,
        SqlState::InvalidGrantOperation,
        SqlState::CardinalityViolation,
        SqlState::NumericValueOutOfRange,
        SqlState::InvalidDatetimeFormat,
        SqlState::DivisionByZero,
        SqlState::InvalidRowCountInLimitClause,
        SqlState::InvalidParameterValue,
        SqlState::InvalidTextRepresentation,
        SqlState::UntranslatableCharacter,
        SqlState::InvalidRegularExpression,
        SqlState::InvalidEscapeSequence,
        SqlState::BadCopyFileFormat,
        SqlState::NotNullViolation,
        SqlState::ForeignKeyViolation,
        SqlState::UniqueViolation,
        SqlState::CheckViolation,
        SqlState::InvalidTransactionState,
        SqlState::ActiveSqlTransaction,
        SqlState::InFailedSqlTransaction,
        SqlState::ReadOnlySqlTransaction,
        SqlState::IdleInTransactionSessionTimeout,
        SqlState::NoActiveSqlTransaction,
        SqlState::InvalidSqlStatementName,
        SqlState::InvalidSavepointSpecification,
        SqlState::InvalidSchemaName,
        SqlState::InvalidAuthorizationSpecification,
        SqlState::InvalidPassword,
        SqlState::DependentObjectsStillExist,
        SqlState::SerializationFailure,
        SqlState::StatementCompletionUnknown,
        SqlState::SyntaxError,
        SqlState::InsufficientPrivilege,
        SqlState::GroupingError,
        SqlState::InvalidColumnReference,
        SqlState::DatatypeMismatch,
        SqlState::WrongObjectType,
        SqlState::GeneratedAlways,
        SqlState::UndefinedColumn,
        SqlState::UndefinedFunction,
        SqlState::UndefinedTable,
        SqlState::UndefinedObject,
        SqlState::AmbiguousColumn,
        SqlState::DuplicateObject,
        SqlState::DuplicatePreparedStatement,
        SqlState::DiskFull,
        SqlState::OutOfMemory,
        SqlState::TooManyConnections,
        SqlState::ProgramLimitExceeded,
        SqlState::ObjectNotInPrerequisiteState,
        SqlState::ObjectInUse,
        SqlState::CantChangeRuntimeParam,
        SqlState::QueryCanceled,
        SqlState::CannotConnectNow,
        SqlState::IdleSessionTimeout,
        SqlState::IoError,
        SqlState::DuplicateFile,
        SqlState::InternalError,
    ];

    /// The five-character code a client receives.
    pub fn code(self) -> &'static str {
        use SqlState::*;
        match self {
            ProtocolViolation => "08P01",
            FeatureNotSupported => "0A000",
            InvalidGrantOperation => "0LP01",
            CardinalityViolation => "21000",
            NumericValueOutOfRange => "22003",
            InvalidDatetimeFormat => "22007",
            DivisionByZero => "22012",
            InvalidRowCountInLimitClause => "2201W",
            InvalidParameterValue => "22023",
            InvalidTextRepresentation => "22P02",
            UntranslatableCharacter => "22P05",
            InvalidRegularExpression => "2201B",
            InvalidEscapeSequence => "22025",
            BadCopyFileFormat => "22P04",
            NotNullViolation => "23502",
            ForeignKeyViolation => "23503",
            UniqueViolation => "23505",
            CheckViolation => "23514",
            InvalidTransactionState => "25000",
            ActiveSqlTransaction => "25001",
            InvalidAuthorizationSpecification => "28000",
            InvalidPassword => "28P01",
            DependentObjectsStillExist => "2BP01",
            InFailedSqlTransaction => "25P02",
            ReadOnlySqlTransaction => "25006",
            IdleInTransactionSessionTimeout => "25P03",
            NoActiveSqlTransaction => "25P01",
            InvalidSqlStatementName => "26000",
            InvalidSavepointSpecification => "3B001",
            InvalidSchemaName => "3F000",
            SerializationFailure => "40001",
            StatementCompletionUnknown => "40003",
            SyntaxError => "42601",
            InsufficientPrivilege => "42501",
            GroupingError => "42803",
            InvalidColumnReference => "42P10",
            DatatypeMismatch => "42804",
            WrongObjectType => "42809",
            GeneratedAlways => "428C9",
            UndefinedColumn => "42703",
            UndefinedFunction => "42883",
            UndefinedTable => "42P01",
            UndefinedObject => "42704",
            AmbiguousColumn => "42702",
            DuplicateObject => "42710",
            DuplicatePreparedStatement => "42P05",
            DiskFull => "53100",
            OutOfMemory => "53200",
            TooManyConnections => "53300",
            ProgramLimitExceeded => "54000",
            ObjectNotInPrerequisiteState => "55000",
            ObjectInUse => "55006",
            CantChangeRuntimeParam => "55P02",
            QueryCanceled => "57014",
            CannotConnectNow => "57P03",
            IdleSessionTimeout => "57P05",
            IoError => "58030",
            DuplicateFile => "58P02",
            InternalError => "XX000",
        }
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub state: SqlState,
    pub message: String,
}

pub type SqlResult<T> = Result<T, SqlError>;

/// Shorthand constructors, one per SQLSTATE used at many call sites.
macro_rules! constructors {
    ($($fn_name:ident => $state:ident),* $(,)?) => {
        impl SqlError {
            $(
                pub fn $fn_name(message: impl Into<String>) -> SqlError {
                    SqlError::new(SqlState::$state, message)
                }
            )*
        }
    };
}

constructors! {
    syntax => SyntaxError,
    undefined_table => UndefinedTable,
    undefined_column => UndefinedColumn,
    undefined_function => UndefinedFunction,
    undefined_object => UndefinedObject,
    ambiguous_column => AmbiguousColumn,
    datatype_mismatch => DatatypeMismatch,
    grouping_error => GroupingError,
    feature_not_supported => FeatureNotSupported,
    unique_violation => UniqueViolation,
    foreign_key_violation => ForeignKeyViolation,
    not_null_violation => NotNullViolation,
    check_violation => CheckViolation,
    generated_always => GeneratedAlways,
    wrong_object_type => WrongObjectType,
    invalid_parameter_value => InvalidParameterValue,
    invalid_text_representation => InvalidTextRepresentation,
    untranslatable_character => UntranslatableCharacter,
    invalid_regular_expression => InvalidRegularExpression,
    invalid_escape_sequence => InvalidEscapeSequence,
    bad_copy_file_format => BadCopyFileFormat,
    numeric_value_out_of_range => NumericValueOutOfRange,
    division_by_zero => DivisionByZero,
    invalid_datetime_format => InvalidDatetimeFormat,
    cardinality_violation => CardinalityViolation,
    in_failed_sql_transaction => InFailedSqlTransaction,
    read_only_sql_transaction => ReadOnlySqlTransaction,
    no_active_sql_transaction => NoActiveSqlTransaction,
    invalid_savepoint => InvalidSavepointSpecification,
    invalid_statement_name => InvalidSqlStatementName,
    serialization_failure => SerializationFailure,
    statement_completion_unknown => StatementCompletionUnknown,
    object_not_in_prerequisite_state => ObjectNotInPrerequisiteState,
    cannot_connect_now => CannotConnectNow,
    query_canceled => QueryCanceled,
    protocol_violation => ProtocolViolation,
    internal => InternalError,
    io_error => IoError,
    disk_full => DiskFull,
    program_limit_exceeded => ProgramLimitExceeded,
    out_of_memory => OutOfMemory,
    insufficient_privilege => InsufficientPrivilege,
    duplicate_object => DuplicateObject,
    duplicate_prepared_statement => DuplicatePreparedStatement,
    invalid_authorization => InvalidAuthorizationSpecification,
    invalid_password => InvalidPassword,
}

impl SqlError {
    pub fn new(state: SqlState, message: impl Into<String>) -> SqlError {
        SqlError {
            state,
            message: message.into(),
        }
    }

    /// The five-character SQLSTATE a client receives.
    pub fn code(&self) -> &'static str {
        self.state.code()
    }

    /// The same error with `context` after its message.
    pub fn with_context(self, context: impl fmt::Display) -> SqlError {
        SqlError {
            state: self.state,
            message: format!("{} ({context})", self.message),
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.state)
    }
}

impl std::error::Error for SqlError {}

impl From<bucketdb_storage::StorageError> for SqlError {
    fn from(e: bucketdb_storage::StorageError) -> Self {
        SqlError::io_error(format!("storage: {e}"))
    }
}

impl From<bucketdb_consensus::BackupError> for SqlError {
    fn from(e: bucketdb_consensus::BackupError) -> Self {
        use bucketdb_consensus::BackupError::*;
        let state = match e {
            RelativePath(_) => SqlState::InvalidParameterValue,
            TargetExists(_) => SqlState::DuplicateFile,
            NotABackup(..) | Damaged(..) | DataDirInUse(_) | Io(..) => SqlState::IoError,
        };
        SqlError::new(state, e.to_string())
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
            // A learner added but not caught up is not yet fit to promote.
            Refused(_) | NotCaughtUp(_) => {
                SqlError::object_not_in_prerequisite_state(e.to_string())
            }
            Fatal(_) => SqlError::internal(e.to_string()),
            TooLarge(_) => SqlError::program_limit_exceeded(e.to_string()),
            DiskFull(_) => SqlError::disk_full(e.to_string()),
            Failed(_) => SqlError::io_error(e.to_string()),
            Storage(s) => s.into(),
            Io(_) => SqlError::io_error(e.to_string()),
            Backup(b) => b.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_state_has_its_own_five_character_code() {
        let codes: HashSet<&str> = SqlState::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes.len(), SqlState::ALL.len());
        assert!(codes.iter().all(|c| c.len() == 5));
    }

    #[test]
    fn consensus_errors_map_to_what_a_client_can_do() {
        use bucketdb_consensus::ConsensusError;
        let e: SqlError = ConsensusError::Unavailable("no leader".into()).into();
        assert_eq!(e.state, SqlState::CannotConnectNow);
        let e: SqlError = ConsensusError::Ambiguous("timeout".into()).into();
        assert_eq!(e.state, SqlState::StatementCompletionUnknown);
        let e: SqlError = ConsensusError::DiskFull("no room".into()).into();
        assert_eq!(e.state, SqlState::DiskFull);
        let e: SqlError = ConsensusError::Failed("raft core stopped".into()).into();
        assert_eq!(e.state, SqlState::IoError);
        let e: SqlError =
            ConsensusError::TooLarge(bucketdb_storage::LimitExceeded::Row { bytes: 2, max: 1 })
                .into();
        assert_eq!(e.state, SqlState::ProgramLimitExceeded);
    }
}
