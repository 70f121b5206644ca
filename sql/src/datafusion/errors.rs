//! DataFusion's errors with the SQLSTATE a PostgreSQL client expects. An
//! error a bucketdb scan raised (a cancel, a storage error) travels inside
//! DataFusion's and keeps its own code.

use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, SchemaError};

use crate::error::{SqlError, SqlState};

/// The bucketdb error `e` carries, found along its chain of causes.
fn carried(e: &(dyn std::error::Error + 'static)) -> Option<SqlError> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(s) = err.downcast_ref::<SqlError>() {
            return Some(s.clone());
        }
        if let Some(DataFusionError::External(inner)) = err.downcast_ref::<DataFusionError>() {
            if let Some(s) = carried(inner.as_ref()) {
                return Some(s);
            }
        }
        cur = err.source();
    }
    None
}

/// PostgreSQL's words for a number cast into an integer type too narrow
/// for it, from arrow's "Can't cast value 70000 to type Int16".
fn out_of_range(arrow_message: &str) -> Option<&'static str> {
    let target = arrow_message
        .strip_prefix("Can't cast value ")?
        .rsplit_once(" to type ")?
        .1;
    match target.trim() {
        "Int16" => Some("smallint out of range"),
        "Int32" => Some("integer out of range"),
        "Int64" => Some("bigint out of range"),
        _ => None,
    }
}

pub fn to_sql_error(e: DataFusionError) -> SqlError {
    if let Some(s) = carried(&e) {
        return s;
    }
    let root = e.find_root();
    let message = root.message().trim().to_string();
    let lower = message.to_lowercase();
    match root {
        DataFusionError::SQL(..) => SqlError::syntax(message),
        DataFusionError::NotImplemented(_) => SqlError::feature_not_supported(message),
        DataFusionError::SchemaError(s, _) => match s.as_ref() {
            SchemaError::FieldNotFound { .. } => SqlError::undefined_column(message),
            SchemaError::AmbiguousReference { .. } => SqlError::ambiguous_column(message),
            _ => SqlError::syntax(message),
        },
        DataFusionError::ArrowError(a, _) => match a.as_ref() {
            ArrowError::DivideByZero => SqlError::division_by_zero("division by zero"),
            ArrowError::CastError(m) => match out_of_range(m) {
                Some(words) => SqlError::numeric_value_out_of_range(words),
                None => SqlError::invalid_text_representation(message),
            },
            ArrowError::ParseError(_) => SqlError::invalid_text_representation(message),
            ArrowError::ArithmeticOverflow(_) => SqlError::numeric_value_out_of_range(message),
            // `abs` of the least bigint reports its overflow so.
            ArrowError::ComputeError(_) if lower.contains("overflow") => {
                SqlError::numeric_value_out_of_range(message)
            }
            _ => SqlError::internal(message),
        },
        DataFusionError::ResourcesExhausted(_) => SqlError::new(SqlState::OutOfMemory, message),
        DataFusionError::Plan(_) if lower.contains("table") && lower.contains("not found") => {
            SqlError::undefined_table(message)
        }
        DataFusionError::Plan(_)
            if lower.contains("invalid function")
                || lower.contains("function") && lower.contains("not found") =>
        {
            SqlError::undefined_function(message)
        }
        DataFusionError::Plan(_) if lower.contains("no field named") => {
            SqlError::undefined_column(message)
        }
        // `SELECT x.* FROM t`: PostgreSQL's "missing FROM-clause entry".
        DataFusionError::Plan(_) if lower.contains("invalid qualifier") => {
            SqlError::undefined_table(message)
        }
        DataFusionError::Plan(_) if lower.contains("group by") => SqlError::grouping_error(message),
        DataFusionError::Plan(_) if lower.contains("coerc") || lower.contains("type") => {
            SqlError::datatype_mismatch(message)
        }
        DataFusionError::Plan(_) => SqlError::syntax(message),
        DataFusionError::Execution(_)
            if lower.contains("divide by zero") || lower.contains("division by zero") =>
        {
            SqlError::division_by_zero("division by zero")
        }
        DataFusionError::Execution(_) if lower.contains("cast") => {
            SqlError::invalid_text_representation(message)
        }
        _ => SqlError::internal(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(message: &str) -> DataFusionError {
        DataFusionError::Plan(message.into())
    }

    fn arrow(e: ArrowError) -> DataFusionError {
        DataFusionError::ArrowError(Box::new(e), None)
    }

    #[test]
    fn a_carried_bucketdb_error_keeps_its_state() {
        let e = DataFusionError::External(Box::new(SqlError::query_canceled("stop")));
        assert_eq!(to_sql_error(e).state, SqlState::QueryCanceled);
        let wrapped = DataFusionError::Context(
            "scan".into(),
            Box::new(DataFusionError::External(Box::new(SqlError::io_error(
                "disk",
            )))),
        );
        assert_eq!(to_sql_error(wrapped).state, SqlState::IoError);
    }

    #[test]
    fn every_mapping_gives_its_state() {
        let field = || {
            Box::new(SchemaError::FieldNotFound {
                field: Box::new(datafusion::common::Column::from_name("nope")),
                valid_fields: vec![],
            })
        };
        let ambiguous = || {
            Box::new(SchemaError::AmbiguousReference {
                field: Box::new(datafusion::common::Column::from_name("key")),
            })
        };
        let cases: Vec<(DataFusionError, SqlState)> = vec![
            (
                DataFusionError::SQL(
                    Box::new(sqlparser::parser::ParserError::ParserError("x".into())),
                    None,
                ),
                SqlState::SyntaxError,
            ),
            (
                DataFusionError::NotImplemented("x".into()),
                SqlState::FeatureNotSupported,
            ),
            (
                DataFusionError::SchemaError(field(), Box::new(None)),
                SqlState::UndefinedColumn,
            ),
            (
                DataFusionError::SchemaError(ambiguous(), Box::new(None)),
                SqlState::AmbiguousColumn,
            ),
            (arrow(ArrowError::DivideByZero), SqlState::DivisionByZero),
            (
                arrow(ArrowError::CastError("x".into())),
                SqlState::InvalidTextRepresentation,
            ),
            (
                arrow(ArrowError::CastError(
                    "Can't cast value 70000 to type Int16".into(),
                )),
                SqlState::NumericValueOutOfRange,
            ),
            (
                arrow(ArrowError::CastError(
                    "Cannot cast string 'x' to value of Int32 type".into(),
                )),
                SqlState::InvalidTextRepresentation,
            ),
            (
                arrow(ArrowError::ParseError("x".into())),
                SqlState::InvalidTextRepresentation,
            ),
            (
                arrow(ArrowError::ArithmeticOverflow("x".into())),
                SqlState::NumericValueOutOfRange,
            ),
            (
                arrow(ArrowError::ComputeError("x".into())),
                SqlState::InternalError,
            ),
            (
                arrow(ArrowError::ComputeError(
                    "Int64Array overflow on abs(-9223372036854775808)".into(),
                )),
                SqlState::NumericValueOutOfRange,
            ),
            (
                DataFusionError::ResourcesExhausted("memory".into()),
                SqlState::OutOfMemory,
            ),
            (
                plan("table 'bucketdb.public.nope' not found"),
                SqlState::UndefinedTable,
            ),
            (
                plan("Invalid function 'frobnicate'"),
                SqlState::UndefinedFunction,
            ),
            (
                plan("No field named nope. Valid fields are objects.key."),
                SqlState::UndefinedColumn,
            ),
            (
                plan("Projection references non-aggregate values: Expression objects.key could not be resolved from available columns: count(*). Did you mean to add it to the GROUP BY?"),
                SqlState::GroupingError,
            ),
            (
                plan("Cannot infer common argument type for comparison operation Int64 = Utf8"),
                SqlState::DatatypeMismatch,
            ),
            (plan("something else"), SqlState::SyntaxError),
            (plan("Invalid qualifier x"), SqlState::UndefinedTable),
            (
                DataFusionError::Execution("Divide by zero error".into()),
                SqlState::DivisionByZero,
            ),
            (
                DataFusionError::Execution("Cannot cast string 'x' to value of Int64 type".into()),
                SqlState::InvalidTextRepresentation,
            ),
            (
                DataFusionError::Execution("other".into()),
                SqlState::InternalError,
            ),
            (DataFusionError::Internal("bug".into()), SqlState::InternalError),
        ];
        for (e, state) in cases {
            let shown = e.to_string();
            assert_eq!(to_sql_error(e).state, state, "{shown}");
        }
    }
}
