//! Functions DataFusion queries need beyond DataFusion's and pg_catalog's
//! own: `version()` answers as bucketdb's planner does (drivers parse it),
//! and psql's meta-commands ask catalog questions bucketdb has one answer
//! to (the functions that describe a function are in [`super::pg_proc`]).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, PrimitiveArray, StringArray};
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};

use crate::error::SqlError;
use crate::settings::version_string;

/// A function whose answer does not depend on its arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: &'static str,
    signature: Signature,
    value: ScalarValue,
}

impl ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

/// A function bucketdb knows but cannot answer where it stands: planned,
/// so that a query over no rows runs, and refused with `message` (0A000)
/// when it is called.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Refused {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    message: &'static str,
}

impl ScalarUDFImpl for Refused {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.number_rows == 0 {
            return ScalarValue::try_from(&self.returns).map(ColumnarValue::Scalar);
        }
        Err(DataFusionError::External(Box::new(
            SqlError::feature_not_supported(self.message),
        )))
    }
}

/// The refused functions: `set_config(name, value, is_local)` inside a
/// larger query, since a read cannot change its session's settings (the
/// supported form, alone in its statement, is an admin call,
/// `functions::admin`; pg_dump also sends `SELECT set_config(name, …) FROM
/// pg_settings WHERE name = '<a setting bucketdb lacks>'`, which runs over
/// no rows); and the transaction-id functions, since a bucketdb
/// transaction has no id: it is a snapshot and a write set that commit
/// as one Raft entry, and no number would keep PostgreSQL's promises
/// (unique, ordered with the snapshots of `txid_current_snapshot`).
fn refused() -> Vec<Refused> {
    const NO_XID: &str = "bucketdb transactions have no transaction ids: a transaction is a \
                          snapshot and a write set committed as one Raft entry";
    let xid = |name| Refused {
        name,
        signature: Signature::nullary(Volatility::Volatile),
        returns: DataType::Int64,
        message: NO_XID,
    };
    vec![
        Refused {
            name: "set_config",
            signature: Signature::any(3, Volatility::Volatile),
            returns: DataType::Utf8,
            message:
                "set_config is supported only alone: SELECT set_config('name', 'value', false)",
        },
        xid("txid_current"),
        xid("txid_current_if_assigned"),
        xid("pg_current_xact_id"),
        xid("pg_current_xact_id_if_assigned"),
    ]
}

/// `name` taking any of `arities` arguments of any type, answering `value`.
fn constant(name: &'static str, arities: &[usize], value: ScalarValue) -> ScalarUDF {
    let forms = arities
        .iter()
        .map(|&n| match n {
            0 => TypeSignature::Nullary,
            n => TypeSignature::Any(n),
        })
        .collect();
    ScalarUDF::from(Constant {
        name,
        signature: Signature::one_of(forms, Volatility::Stable),
        value,
    })
}

pub fn register(ctx: &SessionContext) {
    let no_text = || ScalarValue::Utf8(None);
    for udf in [
        constant("version", &[0], ScalarValue::Utf8(Some(version_string()))),
        // bucketdb has one schema, so everything is on the search path.
        constant(
            "pg_function_is_visible",
            &[1],
            ScalarValue::Boolean(Some(true)),
        ),
        constant("pg_type_is_visible", &[1], ScalarValue::Boolean(Some(true))),
        constant(
            "pg_collation_is_visible",
            &[1],
            ScalarValue::Boolean(Some(true)),
        ),
        // Every node of a cluster applies the same log and serves reads
        // at the consistency the session asks for: none is a standby
        // replaying from an archive (pg_dump asks).
        constant("pg_is_in_recovery", &[0], ScalarValue::Boolean(Some(false))),
        // Privileges are bucketdb's own (GRANT on its tables), not
        // PostgreSQL's ACLs: no default ACL to compare with (pg_dump asks).
        constant("acldefault", &[2], no_text()),
        // Foreign keys are kept by the state machine, not by triggers:
        // `pg_trigger` is empty, so no OID names one.
        constant("pg_get_triggerdef", &[1, 2], no_text()),
        // No column takes its default from a sequence.
        constant("pg_get_serial_sequence", &[2], no_text()),
        // On-disk sizes are RocksDB's, shared by all tables: unknown per
        // table or database, so NULL (psql shows an empty cell).
        constant("pg_table_size", &[1], ScalarValue::Int64(None)),
        constant("pg_relation_size", &[1, 2], ScalarValue::Int64(None)),
        constant("pg_total_relation_size", &[1], ScalarValue::Int64(None)),
        constant("pg_indexes_size", &[1], ScalarValue::Int64(None)),
        constant("pg_database_size", &[1], ScalarValue::Int64(None)),
    ] {
        ctx.register_udf(udf);
    }
    for udf in refused() {
        ctx.register_udf(ScalarUDF::from(udf));
    }
    ctx.register_udf(create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let sizes = ColumnarValue::values_to_arrays(args)?;
            let out: StringArray = one_argument::<Int64Type>(&sizes)?
                .iter()
                .map(|s| s.map(size_pretty))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }),
    ));
}

/// The single argument of a function declared with one argument of type
/// `T` (DataFusion coerces calls to it); an error rather than a panic if a
/// call ever arrives otherwise.
pub(super) fn one_argument<T: ArrowPrimitiveType>(args: &[ArrayRef]) -> Result<&PrimitiveArray<T>> {
    args.first()
        .and_then(|a| a.as_primitive_opt::<T>())
        .ok_or_else(|| DataFusionError::Internal(format!("expected one {} argument", T::DATA_TYPE)))
}

/// A byte count as PostgreSQL's `pg_size_pretty` writes it: bytes below
/// 10 kB, then the largest unit that keeps the number below 10240, rounded
/// half away from zero.
fn size_pretty(size: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    if size.abs() < LIMIT {
        return format!("{size} bytes");
    }
    let half_rounded = |x: i64| (x + x.signum()) / 2;
    // One extra bit is kept for rounding.
    let mut size = size >> 9;
    for unit in ["kB", "MB", "GB", "TB"] {
        if half_rounded(size).abs() < LIMIT {
            return format!("{} {unit}", half_rounded(size));
        }
        size >>= 10;
    }
    format!("{} PB", half_rounded(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_like_postgres() {
        assert_eq!(size_pretty(0), "0 bytes");
        assert_eq!(size_pretty(10239), "10239 bytes");
        assert_eq!(size_pretty(10240), "10 kB");
        assert_eq!(size_pretty(1536 * 1024), "1536 kB");
        assert_eq!(size_pretty(10 * 1024 * 1024), "10 MB");
        assert_eq!(size_pretty(-20 * 1024), "-20 kB");
        assert_eq!(size_pretty(i64::MAX), "8192 PB");
    }
}
