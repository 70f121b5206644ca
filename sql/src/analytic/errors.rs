//! DataFusion's errors with the SQLSTATE a PostgreSQL client expects. An
//! error a bucketdb scan raised (a cancel, a storage error) travels inside
//! DataFusion's and keeps its own code.

use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, SchemaError};

use crate::error::SqlError;

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
            ArrowError::CastError(_) | ArrowError::ParseError(_) => {
                SqlError::invalid_text_representation(message)
            }
            ArrowError::ArithmeticOverflow(_) => SqlError::numeric_value_out_of_range(message),
            _ => SqlError::internal(message),
        },
        DataFusionError::ResourcesExhausted(_) => SqlError {
            code: "53200",
            message,
        },
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

    #[test]
    fn codes() {
        let e = DataFusionError::External(Box::new(SqlError::query_canceled("stop")));
        assert_eq!(to_sql_error(e).code, "57014");
        let wrapped = DataFusionError::Context(
            "scan".into(),
            Box::new(DataFusionError::External(Box::new(SqlError::io_error(
                "disk",
            )))),
        );
        assert_eq!(to_sql_error(wrapped).code, "58030");
        let e = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        assert_eq!(to_sql_error(e).code, "22012");
        let e = DataFusionError::Plan("table 'bucketdb.public.nope' not found".into());
        assert_eq!(to_sql_error(e).code, "42P01");
        let e = DataFusionError::NotImplemented("x".into());
        assert_eq!(to_sql_error(e).code, "0A000");
    }
}
