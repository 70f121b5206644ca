//! Conversions between bucketdb's SQL values and the wire: type OIDs,
//! result rows in text or binary format, and parameters.

use std::sync::Arc;

use bucketdb_sql::{OutColumn, Prepared, SqlError, SqlType, Value};
use chrono::{DateTime, NaiveDateTime, Utc};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;

pub fn pg_type(t: SqlType) -> Type {
    match t {
        SqlType::Bool => Type::BOOL,
        SqlType::Int4 => Type::INT4,
        SqlType::Int8 => Type::INT8,
        SqlType::Float8 => Type::FLOAT8,
        SqlType::Text => Type::TEXT,
        SqlType::Json => Type::JSON,
        SqlType::Timestamptz => Type::TIMESTAMPTZ,
    }
}

/// The SQL type a client-declared parameter type stands for; `None` lets
/// the statement decide.
pub fn sql_type(t: &Type) -> Option<SqlType> {
    Some(match *t {
        Type::BOOL => SqlType::Bool,
        Type::INT2 | Type::INT4 => SqlType::Int4,
        Type::INT8 => SqlType::Int8,
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => SqlType::Float8,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => SqlType::Text,
        Type::JSON | Type::JSONB => SqlType::Json,
        Type::TIMESTAMPTZ | Type::TIMESTAMP => SqlType::Timestamptz,
        _ => return None,
    })
}

pub fn fields(columns: &[OutColumn], formats: &Format) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldInfo::new(
                c.name.clone(),
                None,
                None,
                pg_type(c.ty),
                formats.format_for(i),
            )
        })
        .collect()
}

fn encode_value(
    enc: &mut DataRowEncoder,
    v: &Value,
    ty: SqlType,
    format: FieldFormat,
) -> PgWireResult<()> {
    let t = pg_type(ty);
    let opts = pgwire::types::format::FormatOptions::default();
    let text = |enc: &mut DataRowEncoder, s: Option<String>| {
        enc.encode_field_with_type_and_format(&s, &t, FieldFormat::Text, &opts)
    };
    match (v, format) {
        (Value::Null, _) => text(enc, None),
        (v, FieldFormat::Text) => text(enc, Some(v.to_text())),
        (v, FieldFormat::Binary) => {
            let coerced = v.clone().coerce(ty).unwrap_or(Value::Null);
            match coerced {
                Value::Bool(b) => enc.encode_field_with_type_and_format(&b, &t, format, &opts),
                Value::Int(i) if ty == SqlType::Int4 => {
                    enc.encode_field_with_type_and_format(&(i as i32), &t, format, &opts)
                }
                Value::Int(i) => enc.encode_field_with_type_and_format(&i, &t, format, &opts),
                Value::Float(f) => enc.encode_field_with_type_and_format(&f, &t, format, &opts),
                Value::Text(s) => enc.encode_field_with_type_and_format(&s, &t, format, &opts),
                Value::Timestamp(micros) => {
                    let dt = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
                    enc.encode_field_with_type_and_format(&dt, &t, format, &opts)
                }
                Value::Null => text(enc, None),
            }
        }
    }
}

pub fn rows(
    schema: Arc<Vec<FieldInfo>>,
    columns: &[OutColumn],
    rows: Vec<Vec<Value>>,
) -> Vec<PgWireResult<DataRow>> {
    let mut enc = DataRowEncoder::new(schema.clone());
    rows.into_iter()
        .map(|row| {
            for (i, (v, c)) in row.iter().zip(columns).enumerate() {
                encode_value(&mut enc, v, c.ty, schema[i].format())?;
            }
            Ok(enc.take_row())
        })
        .collect()
}

fn bad_param(i: usize, e: impl std::fmt::Display) -> SqlError {
    SqlError::invalid_text_representation(format!("invalid value for parameter ${}: {e}", i + 1))
}

/// Parameter `i`'s bytes as text; not UTF-8 is the client's error.
fn text_param(i: usize, raw: &[u8]) -> Result<Value, SqlError> {
    let s = std::str::from_utf8(raw).map_err(|e| bad_param(i, e))?;
    Ok(Value::Text(s.to_string()))
}

/// Decodes a portal's parameters. Text-format values stay text and are
/// converted by the statement (as PostgreSQL's input functions do); binary
/// values are decoded by the type the client declared, or else ours. A
/// value the client declared `unknown` is taken as text whatever its
/// format code: that is what clients sending `unknown` mean.
pub fn params(portal: &Portal<Arc<Prepared>>, prepared: &Prepared) -> Result<Vec<Value>, SqlError> {
    let declared = &portal.statement.parameter_types;
    let mut out = Vec::with_capacity(portal.parameter_len());
    for (i, raw) in portal.parameters.iter().enumerate() {
        let Some(raw) = raw else {
            out.push(Value::Null);
            continue;
        };
        if !portal.parameter_format.is_binary(i) {
            out.push(text_param(i, raw)?);
            continue;
        }
        let ty = declared.get(i).cloned().flatten().unwrap_or_else(|| {
            pg_type(
                prepared
                    .param_types
                    .get(i)
                    .copied()
                    .unwrap_or(SqlType::Text),
            )
        });
        let get = |t: &Type| t.clone();
        let v = match ty {
            Type::BOOL => portal
                .parameter::<bool>(i, &get(&ty))
                .map(|v| v.map(Value::Bool)),
            Type::INT2 => portal
                .parameter::<i16>(i, &ty)
                .map(|v| v.map(|x| Value::Int(x.into()))),
            Type::INT4 => portal
                .parameter::<i32>(i, &ty)
                .map(|v| v.map(|x| Value::Int(x.into()))),
            Type::INT8 => portal.parameter::<i64>(i, &ty).map(|v| v.map(Value::Int)),
            Type::FLOAT4 => portal
                .parameter::<f32>(i, &ty)
                .map(|v| v.map(|x| Value::Float(x.into()))),
            Type::FLOAT8 => portal.parameter::<f64>(i, &ty).map(|v| v.map(Value::Float)),
            Type::TIMESTAMPTZ => portal
                .parameter::<DateTime<chrono::FixedOffset>>(i, &ty)
                .map(|v| v.map(|x| Value::Timestamp(x.timestamp_micros()))),
            Type::TIMESTAMP => portal
                .parameter::<NaiveDateTime>(i, &ty)
                .map(|v| v.map(|x| Value::Timestamp(x.and_utc().timestamp_micros()))),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
                Ok(Some(text_param(i, raw)?))
            }
            // Binary jsonb is a version byte (1) and the JSON text.
            Type::JSONB => match raw.split_first() {
                Some((1, text)) => Ok(Some(text_param(i, text)?)),
                _ => return Err(bad_param(i, "unsupported jsonb version")),
            },
            other => {
                return Err(SqlError::feature_not_supported(format!(
                    "binary parameters of type {} are not supported",
                    other.name()
                )))
            }
        };
        out.push(v.map_err(|e| bad_param(i, e))?.unwrap_or(Value::Null));
    }
    Ok(out)
}
