//! Conversions between bucketdb's SQL values and the wire: type OIDs,
//! result rows in text or binary format, and parameters.

use std::sync::Arc;

use bucketdb_sql::{Element, Interval, OutColumn, Prepared, SqlError, SqlType, Value};
use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDateTime, Utc};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::api::Type;
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql};

pub fn pg_type(t: SqlType) -> Type {
    match t {
        SqlType::Bool => Type::BOOL,
        SqlType::Int2 => Type::INT2,
        SqlType::Int4 => Type::INT4,
        SqlType::Int8 => Type::INT8,
        SqlType::Float8 => Type::FLOAT8,
        SqlType::Text => Type::TEXT,
        SqlType::Json => Type::JSON,
        SqlType::Jsonb => Type::JSONB,
        SqlType::Timestamptz => Type::TIMESTAMPTZ,
        SqlType::Timestamp => Type::TIMESTAMP,
        SqlType::Interval => Type::INTERVAL,
        SqlType::Array(e) => match e {
            Element::Bool => Type::BOOL_ARRAY,
            Element::Int2 => Type::INT2_ARRAY,
            Element::Int4 => Type::INT4_ARRAY,
            Element::Int8 => Type::INT8_ARRAY,
            Element::Float8 => Type::FLOAT8_ARRAY,
            Element::Text => Type::TEXT_ARRAY,
            Element::Timestamptz => Type::TIMESTAMPTZ_ARRAY,
            Element::Timestamp => Type::TIMESTAMP_ARRAY,
        },
        SqlType::Int2Vector => Type::INT2_VECTOR,
        SqlType::OidVector => Type::OID_VECTOR,
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
        Type::JSON => SqlType::Json,
        Type::JSONB => SqlType::Jsonb,
        Type::TIMESTAMPTZ => SqlType::Timestamptz,
        Type::TIMESTAMP => SqlType::Timestamp,
        Type::BOOL_ARRAY => SqlType::Array(Element::Bool),
        Type::INT2_ARRAY | Type::INT4_ARRAY | Type::OID_ARRAY => SqlType::Array(Element::Int4),
        Type::INT8_ARRAY => SqlType::Array(Element::Int8),
        Type::FLOAT4_ARRAY | Type::FLOAT8_ARRAY => SqlType::Array(Element::Float8),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY | Type::NAME_ARRAY => {
            SqlType::Array(Element::Text)
        }
        Type::TIMESTAMPTZ_ARRAY => SqlType::Array(Element::Timestamptz),
        Type::TIMESTAMP_ARRAY => SqlType::Array(Element::Timestamp),
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
    // Text is already in the column type's text form; encoded as `text`
    // so that pgwire does not quote it again as an array element.
    let text = |enc: &mut DataRowEncoder, s: Option<String>| {
        enc.encode_field_with_type_and_format(&s, &Type::TEXT, FieldFormat::Text, &opts)
    };
    match (v, format) {
        (Value::Null, _) => text(enc, None),
        (v, FieldFormat::Text) => text(enc, Some(v.to_text_as(ty))),
        (v, FieldFormat::Binary) => {
            let coerced = v.clone().coerce(ty).unwrap_or(Value::Null);
            match coerced {
                Value::Bool(b) => enc.encode_field_with_type_and_format(&b, &t, format, &opts),
                Value::Int(i) if ty == SqlType::Int4 => {
                    enc.encode_field_with_type_and_format(&(i as i32), &t, format, &opts)
                }
                Value::Int(i) if ty == SqlType::Int2 => {
                    enc.encode_field_with_type_and_format(&(i as i16), &t, format, &opts)
                }
                Value::Int(i) => enc.encode_field_with_type_and_format(&i, &t, format, &opts),
                Value::Float(f) => enc.encode_field_with_type_and_format(&f, &t, format, &opts),
                // Binary jsonb is a version byte (1) and the JSON text.
                Value::Text(s) if ty == SqlType::Jsonb => {
                    let bytes: Vec<u8> = [1u8].into_iter().chain(s.bytes()).collect();
                    enc.encode_field_with_type_and_format(&bytes, &t, format, &opts)
                }
                Value::Text(s) => enc.encode_field_with_type_and_format(&s, &t, format, &opts),
                Value::Timestamp(micros) if ty == SqlType::Timestamp => enc
                    .encode_field_with_type_and_format(
                        &timestamp(micros).naive_utc(),
                        &t,
                        format,
                        &opts,
                    ),
                Value::Timestamp(micros) => {
                    enc.encode_field_with_type_and_format(&timestamp(micros), &t, format, &opts)
                }
                Value::Interval(i) => {
                    enc.encode_field_with_type_and_format(&WireInterval(i), &t, format, &opts)
                }
                Value::Array(items) => encode_array(enc, &items, ty, &t, &opts),
                Value::Null => text(enc, None),
            }
        }
    }
}

/// An interval as the wire carries it: in binary, microseconds, days and
/// months (PostgreSQL's `interval_send`); in text, its output form.
#[derive(Debug)]
struct WireInterval(Interval);

impl ToSql for WireInterval {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_i64(self.0.micros);
        out.put_i32(self.0.days);
        out.put_i32(self.0.months);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    to_sql_checked!();
}

impl ToSqlText for WireInterval {
    fn to_sql_text(
        &self,
        _: &Type,
        out: &mut BytesMut,
        _: &pgwire::types::format::FormatOptions,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_slice(self.0.to_text().as_bytes());
        Ok(IsNull::No)
    }
}

fn timestamp(micros: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default()
}

/// An array in binary format: its elements (already coerced to the
/// element type) as the element type's binary values.
fn encode_array(
    enc: &mut DataRowEncoder,
    items: &[Value],
    ty: SqlType,
    t: &Type,
    opts: &pgwire::types::format::FormatOptions,
) -> PgWireResult<()> {
    fn each<T>(items: &[Value], f: impl Fn(&Value) -> Option<T>) -> Vec<Option<T>> {
        items.iter().map(f).collect()
    }
    let binary = FieldFormat::Binary;
    match ty {
        SqlType::Array(Element::Bool) => {
            let v = each(items, |v| {
                matches!(v, Value::Bool(_)).then(|| v == &Value::Bool(true))
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::Array(Element::Int2) => {
            let v = each(items, |v| match v {
                Value::Int(i) => i16::try_from(*i).ok(),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::Array(Element::Int4) => {
            let v = each(items, |v| match v {
                Value::Int(i) => i32::try_from(*i).ok(),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::Array(Element::Int8) => {
            let v = each(items, |v| match v {
                Value::Int(i) => Some(*i),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::Array(Element::Float8) => {
            let v = each(items, |v| match v {
                Value::Float(f) => Some(*f),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::Array(Element::Timestamptz) => {
            let v = each(items, |v| match v {
                Value::Timestamp(m) => Some(timestamp(*m)),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::Array(Element::Timestamp) => {
            let v = each(items, |v| match v {
                Value::Timestamp(m) => Some(timestamp(*m).naive_utc()),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::Int2Vector => {
            let v = each(items, |v| match v {
                Value::Int(i) => i16::try_from(*i).ok(),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        SqlType::OidVector => {
            let v = each(items, |v| match v {
                Value::Int(i) => u32::try_from(*i).ok(),
                _ => None,
            });
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
        }
        _ => {
            let v = each(items, |v| (!v.is_null()).then(|| v.to_text()));
            enc.encode_field_with_type_and_format(&v, t, binary, opts)
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
            Type::BOOL_ARRAY => array_param::<bool>(portal, i, &ty, Value::Bool),
            Type::INT2_ARRAY => array_param::<i16>(portal, i, &ty, |x| Value::Int(x.into())),
            Type::INT4_ARRAY => array_param::<i32>(portal, i, &ty, |x| Value::Int(x.into())),
            Type::OID_ARRAY => array_param::<u32>(portal, i, &ty, |x| Value::Int(x.into())),
            Type::INT8_ARRAY => array_param::<i64>(portal, i, &ty, Value::Int),
            Type::FLOAT4_ARRAY => array_param::<f32>(portal, i, &ty, |x| Value::Float(x.into())),
            Type::FLOAT8_ARRAY => array_param::<f64>(portal, i, &ty, Value::Float),
            Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY | Type::NAME_ARRAY => {
                array_param::<String>(portal, i, &ty, Value::Text)
            }
            Type::TIMESTAMPTZ_ARRAY => {
                array_param::<DateTime<chrono::FixedOffset>>(portal, i, &ty, |x| {
                    Value::Timestamp(x.timestamp_micros())
                })
            }
            Type::TIMESTAMP_ARRAY => array_param::<NaiveDateTime>(portal, i, &ty, |x| {
                Value::Timestamp(x.and_utc().timestamp_micros())
            }),
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

/// A binary array parameter as an array of values.
fn array_param<T>(
    portal: &Portal<Arc<Prepared>>,
    i: usize,
    ty: &Type,
    value: impl Fn(T) -> Value,
) -> PgWireResult<Option<Value>>
where
    T: tokio_postgres::types::FromSqlOwned + for<'a> pgwire::types::FromSqlText<'a>,
{
    Ok(portal.parameter::<Vec<Option<T>>>(i, ty)?.map(|items| {
        Value::Array(
            items
                .into_iter()
                .map(|x| x.map_or(Value::Null, &value))
                .collect(),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogs_and_the_wire_give_each_type_one_oid() {
        let mut types = vec![
            SqlType::Bool,
            SqlType::Int2,
            SqlType::Int4,
            SqlType::Int8,
            SqlType::Float8,
            SqlType::Text,
            SqlType::Json,
            SqlType::Jsonb,
            SqlType::Timestamptz,
            SqlType::Timestamp,
            SqlType::Interval,
            SqlType::Int2Vector,
            SqlType::OidVector,
        ];
        for e in [
            Element::Bool,
            Element::Int2,
            Element::Int4,
            Element::Int8,
            Element::Float8,
            Element::Text,
            Element::Timestamptz,
            Element::Timestamp,
        ] {
            types.push(SqlType::Array(e));
        }
        for t in types {
            assert_eq!(pg_type(t).oid(), t.oid(), "{t:?}");
        }
    }
}
