//! Between bucketdb's values and Arrow: table schemas and scanned rows into
//! record batches, result batches back into rows the wire layer encodes,
//! and parameter values into DataFusion scalars.
//!
//! bucketdb's wire encoding works on [`Value`], so results come back to it
//! rather than going out through a second encoder; Arrow types outside
//! bucketdb's few are sent as their text form, which is what a
//! text-format client shows anyway.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, DurationMicrosecondType, Field, Float64Type, Int64Type, IntervalMonthDayNano,
    IntervalMonthDayNanoType, IntervalUnit, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
    UnionFields,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{DataFusionError, Result, ScalarValue};

use crate::catalog::{Check, Table};
use crate::interval::Interval;
use crate::value::{Element, SqlType, Value};

/// The zone bucketdb's timestamps are in; DataFusion's session uses it too.
pub const UTC: &str = "UTC";

/// Field metadata naming the SQL type of a column Arrow has no type for:
/// a `json` column is Utf8 to DataFusion (its JSON functions take text),
/// an `int2vector` a list, and this key keeps them `json` and
/// `int2vector` to clients through projections.
const SQL_TYPE_KEY: &str = "bucketdb.sql_type";

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

/// A timestamp without time zone: Arrow's timestamp with no zone.
fn wall_clock_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// The Arrow type a column of `ty` is scanned as.
pub fn arrow_type(ty: SqlType) -> DataType {
    match ty {
        SqlType::Bool => DataType::Boolean,
        SqlType::Int2 => DataType::Int16,
        SqlType::Int4 => DataType::Int32,
        SqlType::Int8 => DataType::Int64,
        SqlType::Float8 => DataType::Float64,
        SqlType::Text | SqlType::Json | SqlType::Jsonb => DataType::Utf8,
        SqlType::Timestamptz => timestamp_type(),
        SqlType::Timestamp => wall_clock_type(),
        SqlType::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        SqlType::Array(e) => DataType::List(Arc::new(Field::new_list_field(
            arrow_type(e.scalar()),
            true,
        ))),
        SqlType::Int2Vector => DataType::new_list(DataType::Int16, true),
        SqlType::OidVector => DataType::new_list(DataType::Int32, true),
    }
}

/// The SQL type a result column of Arrow type `dt` is reported as.
pub fn sql_type(dt: &DataType) -> SqlType {
    match dt {
        DataType::Boolean => SqlType::Bool,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => SqlType::Int2,
        DataType::Int32 | DataType::UInt16 => SqlType::Int4,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => SqlType::Int8,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => SqlType::Float8,
        DataType::Timestamp(_, Some(_)) => SqlType::Timestamptz,
        DataType::Timestamp(_, None) => SqlType::Timestamp,
        DataType::Interval(_) | DataType::Duration(_) => SqlType::Interval,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Element::of(sql_type(f.data_type())).map_or(SqlType::Text, SqlType::Array)
        }
        // The JSON functions' `->` gives a union of the JSON kinds, sent
        // as the element's JSON text (see `union_json`): PostgreSQL's
        // `json -> key` is `json`.
        DataType::Union(..) => SqlType::Json,
        _ => SqlType::Text,
    }
}

/// The SQL type a result field is reported as: its Arrow type's, or the
/// one its metadata names (a `json` column).
pub fn field_sql_type(f: &Field) -> SqlType {
    match f.metadata().get(SQL_TYPE_KEY).map(String::as_str) {
        Some("json") if f.data_type() == &DataType::Utf8 => SqlType::Json,
        Some("jsonb") if f.data_type() == &DataType::Utf8 => SqlType::Jsonb,
        Some("int2vector") if f.data_type().is_nested() => SqlType::Int2Vector,
        Some("oidvector") if f.data_type().is_nested() => SqlType::OidVector,
        _ => sql_type(f.data_type()),
    }
}

/// An Arrow field for a column of `ty`.
pub fn field(name: &str, ty: SqlType, nullable: bool) -> Field {
    tagged(Field::new(name, arrow_type(ty), nullable), ty)
}

/// `f`, reported as `ty` where its Arrow type alone would not say so.
pub fn tagged(f: Field, ty: SqlType) -> Field {
    match ty {
        SqlType::Json | SqlType::Jsonb | SqlType::Int2Vector | SqlType::OidVector => f
            .with_metadata(
                [(SQL_TYPE_KEY.to_string(), ty.name().to_string())]
                    .into_iter()
                    .collect(),
            ),
        _ => f,
    }
}

/// A table's Arrow schema: key columns and those checked NOT NULL are
/// declared non-null (psql's `\d` shows it).
pub fn table_schema(table: &Table) -> SchemaRef {
    let fields = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let nullable = !table.is_key_column(i) && c.check != Check::NotNull;
            field(c.name, c.ty, nullable)
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
}

/// Builds a batch of `schema` (the projected table schema) from rows that
/// hold the projected columns in order.
pub fn rows_to_batch(schema: &SchemaRef, rows: &[Vec<Value>]) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(c, f)| column(f.data_type(), rows.iter().map(|r| &r[c])))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &datafusion::arrow::record_batch::RecordBatchOptions::new()
            .with_row_count(Some(rows.len())),
    )?)
}

fn mismatch(v: &Value, dt: &DataType) -> DataFusionError {
    DataFusionError::Internal(format!("stored value {v:?} does not fit column type {dt}"))
}

fn column<'a>(dt: &DataType, values: impl Iterator<Item = &'a Value>) -> Result<ArrayRef> {
    macro_rules! build {
        ($builder:expr, $pat:pat => $val:expr) => {{
            let mut b = $builder;
            for v in values {
                match v {
                    Value::Null => b.append_null(),
                    $pat => b.append_value($val),
                    other => return Err(mismatch(other, dt)),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match dt {
        DataType::Boolean => build!(BooleanBuilder::new(), Value::Bool(x) => *x),
        DataType::Int32 => build!(Int32Builder::new(), Value::Int(x) => i32::try_from(*x)
            .map_err(|_| mismatch(&Value::Int(*x), dt))?),
        DataType::Int64 => build!(Int64Builder::new(), Value::Int(x) => *x),
        DataType::Float64 => build!(Float64Builder::new(), Value::Float(x) => *x),
        DataType::Utf8 => build!(StringBuilder::new(), Value::Text(x) => x),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => build!(
            TimestampMicrosecondBuilder::new().with_timezone(UTC), Value::Timestamp(x) => *x),
        DataType::Timestamp(TimeUnit::Microsecond, None) => build!(
            TimestampMicrosecondBuilder::new(), Value::Timestamp(x) => *x),
        other => {
            return Err(DataFusionError::Internal(format!(
                "no scan for column type {other}"
            )))
        }
    })
}

/// One result column, readable row by row as bucketdb values.
enum Reader {
    Bool(ArrayRef),
    Int(ArrayRef),
    Float(ArrayRef),
    Text(ArrayRef),
    Timestamp(ArrayRef),
    /// Months, days and nanoseconds.
    Interval(ArrayRef),
    /// Microseconds: a difference of timestamps.
    Duration(ArrayRef),
    /// One array per row; its elements read by the inner reader.
    List(ArrayRef, Box<Reader>),
    /// Types bucketdb has no value for, as their display text.
    Shown(Vec<Option<String>>),
}

impl Reader {
    fn new(array: &ArrayRef) -> Result<Reader> {
        Ok(match array.data_type() {
            DataType::Boolean => Reader::Bool(array.clone()),
            DataType::Interval(_) => Reader::Interval(cast(
                array,
                &DataType::Interval(IntervalUnit::MonthDayNano),
            )?),
            DataType::Duration(_) => {
                Reader::Duration(cast(array, &DataType::Duration(TimeUnit::Microsecond))?)
            }
            DataType::Union(fields, _) => Reader::Shown(union_json(array, fields)?),
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                let lists = cast(
                    array,
                    &DataType::List(Arc::new(Field::new_list_field(f.data_type().clone(), true))),
                )?;
                let items = Reader::new(lists.as_list::<i32>().values())?;
                Reader::List(lists, Box::new(items))
            }
            dt => match sql_type(dt) {
                SqlType::Int2 | SqlType::Int4 | SqlType::Int8 => {
                    Reader::Int(cast(array, &DataType::Int64)?)
                }
                SqlType::Float8 => Reader::Float(cast(array, &DataType::Float64)?),
                SqlType::Timestamptz => Reader::Timestamp(cast(array, &timestamp_type())?),
                SqlType::Timestamp => Reader::Timestamp(cast(array, &wall_clock_type())?),
                SqlType::Text
                    if matches!(
                        dt,
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) || matches!(dt, DataType::Dictionary(_, v) if v.is_string()) =>
                {
                    Reader::Text(cast(array, &DataType::Utf8)?)
                }
                _ => {
                    let f = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?;
                    // Logical nulls: a NullArray has no null buffer.
                    let nulls = array.logical_nulls();
                    let valid = |i| nulls.as_ref().is_none_or(|n| n.is_valid(i));
                    Reader::Shown(
                        (0..array.len())
                            .map(|i| valid(i).then(|| f.value(i).to_string()))
                            .collect(),
                    )
                }
            },
        })
    }

    fn value(&self, i: usize) -> Value {
        let valid = |a: &ArrayRef| a.is_valid(i);
        match self {
            Reader::Bool(a) if valid(a) => Value::Bool(a.as_boolean().value(i)),
            Reader::Int(a) if valid(a) => Value::Int(a.as_primitive::<Int64Type>().value(i)),
            Reader::Float(a) if valid(a) => Value::Float(a.as_primitive::<Float64Type>().value(i)),
            Reader::Text(a) if valid(a) => Value::Text(a.as_string::<i32>().value(i).to_string()),
            Reader::Timestamp(a) if valid(a) => {
                Value::Timestamp(a.as_primitive::<TimestampMicrosecondType>().value(i))
            }
            Reader::Interval(a) if valid(a) => {
                let v = a.as_primitive::<IntervalMonthDayNanoType>().value(i);
                Value::Interval(Interval {
                    months: v.months,
                    days: v.days,
                    micros: v.nanoseconds / 1000,
                })
            }
            Reader::Duration(a) if valid(a) => Value::Interval(Interval::from_micros(
                a.as_primitive::<DurationMicrosecondType>().value(i),
            )),
            Reader::List(a, items) if valid(a) => {
                let offsets = a.as_list::<i32>().value_offsets();
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let values = (start..end).map(|j| items.value(j));
                match items.as_ref() {
                    // Arrays of arrays are not a type bucketdb sends: text.
                    Reader::List(..) => Value::Text(Value::Array(values.collect()).to_text()),
                    _ => Value::Array(values.collect()),
                }
            }
            Reader::Shown(v) => v[i].clone().map_or(Value::Null, Value::Text),
            _ => Value::Null,
        }
    }
}

/// A union as JSON text, the form PostgreSQL's `->` returns: the JSON
/// functions' `json_get` answers with a union of null, bool, int, float,
/// str, array and object (the last two already JSON text); strings are
/// quoted here. A null member is SQL NULL.
pub(super) fn union_json(array: &ArrayRef, fields: &UnionFields) -> Result<Vec<Option<String>>> {
    let union = array.as_union();
    let mut shown = Vec::with_capacity(array.len());
    for i in 0..array.len() {
        let type_id = union.type_id(i);
        let child = union.child(type_id);
        let at = union.value_offset(i);
        if child.data_type() == &DataType::Null || child.is_null(at) {
            shown.push(None);
            continue;
        }
        let text = ArrayFormatter::try_new(child.as_ref(), &FormatOptions::default())?
            .value(at)
            .to_string();
        let is_str = fields
            .iter()
            .any(|(id, f)| id == type_id && f.name() == "str");
        shown.push(Some(if is_str {
            serde_json::Value::String(text).to_string()
        } else {
            text
        }));
    }
    Ok(shown)
}

/// One column's values, row by row.
pub fn column_values(array: &ArrayRef) -> Result<Vec<Value>> {
    let reader = Reader::new(array)?;
    Ok((0..array.len()).map(|i| reader.value(i)).collect())
}

/// A result batch as rows of bucketdb values.
pub fn batch_to_rows(batch: &RecordBatch) -> Result<Vec<Vec<Value>>> {
    let readers = batch
        .columns()
        .iter()
        .map(Reader::new)
        .collect::<Result<Vec<_>>>()?;
    Ok((0..batch.num_rows())
        .map(|i| readers.iter().map(|r| r.value(i)).collect())
        .collect())
}

/// A parameter value as a scalar of the type DataFusion inferred for it
/// (none inferred: as it came).
pub fn param_scalar(v: &Value, ty: Option<&DataType>) -> Result<ScalarValue> {
    let s = match v {
        Value::Null => {
            return match ty {
                Some(dt) => ScalarValue::try_from(dt),
                None => Ok(ScalarValue::Utf8(None)),
            }
        }
        Value::Bool(b) => ScalarValue::Boolean(Some(*b)),
        Value::Int(i) => ScalarValue::Int64(Some(*i)),
        Value::Float(f) => ScalarValue::Float64(Some(*f)),
        Value::Text(t) => ScalarValue::Utf8(Some(t.clone())),
        Value::Timestamp(t) => ScalarValue::TimestampMicrosecond(Some(*t), Some(UTC.into())),
        Value::Interval(i) => ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano {
            months: i.months,
            days: i.days,
            nanoseconds: i.micros.saturating_mul(1000),
        })),
        Value::Array(items) => {
            // Every element is made the element type first (a typed NULL,
            // or a cast that fails cleanly), so that building the list
            // cannot meet mixed types.
            let element = match ty {
                Some(
                    DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _),
                ) => f.data_type().clone(),
                _ => match items.iter().find(|v| !v.is_null()) {
                    Some(first) => param_scalar(first, None)?.data_type(),
                    None => DataType::Utf8,
                },
            };
            let scalars = items
                .iter()
                .map(|v| param_scalar(v, Some(&element)))
                .collect::<Result<Vec<_>>>()?;
            ScalarValue::List(ScalarValue::new_list_nullable(&scalars, &element))
        }
    };
    match ty {
        Some(dt) if dt != &s.data_type() => s.cast_to(dt),
        _ => Ok(s),
    }
}

/// A literal of a filter as a bucketdb value, if bucketdb has its type.
pub fn literal_value(s: &ScalarValue) -> Option<Value> {
    if s.is_null() {
        return Some(Value::Null);
    }
    Some(match s {
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Utf8(Some(t))
        | ScalarValue::Utf8View(Some(t))
        | ScalarValue::LargeUtf8(Some(t)) => Value::Text(t.clone()),
        ScalarValue::Float64(Some(f)) => Value::Float(*f),
        ScalarValue::Float32(Some(f)) => Value::Float(f64::from(*f)),
        ScalarValue::TimestampMicrosecond(Some(t), _) => Value::Timestamp(*t),
        ScalarValue::TimestampMillisecond(Some(t), _) => Value::Timestamp(t.checked_mul(1000)?),
        ScalarValue::TimestampSecond(Some(t), _) => Value::Timestamp(t.checked_mul(1_000_000)?),
        ScalarValue::TimestampNanosecond(Some(t), _) => Value::Timestamp(t.div_euclid(1000)),
        other => match other.cast_to(&DataType::Int64).ok()? {
            ScalarValue::Int64(Some(i)) if other.data_type().is_integer() => Value::Int(i),
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_read_as_arrays_and_print_as_postgres_writes_them() {
        use datafusion::arrow::array::{ListBuilder, StringBuilder};
        let mut b = ListBuilder::new(StringBuilder::new());
        b.values().append_value("reader");
        b.values().append_value("a b");
        b.values().append_null();
        b.values().append_value("q\"x");
        b.values().append_value("");
        b.append(true);
        b.append(false);
        b.append(true);
        let array: ArrayRef = Arc::new(b.finish());
        assert_eq!(sql_type(array.data_type()), SqlType::Array(Element::Text));
        let batch = RecordBatch::try_from_iter([("l", array)]).unwrap();
        let texts: Vec<String> = batch_to_rows(&batch)
            .unwrap()
            .iter()
            .map(|r| r[0].to_text())
            .collect();
        assert_eq!(texts, [r#"{reader,"a b",NULL,"q\"x",""}"#, "", "{}"]);
        assert_eq!(batch_to_rows(&batch).unwrap()[1][0], Value::Null);
    }

    #[test]
    fn array_parameters_become_lists() {
        let v = Value::Array(vec![Value::Int(1), Value::Null]);
        let dt = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        let s = param_scalar(&v, Some(&dt)).unwrap();
        assert_eq!(s.data_type(), dt);
        let text = param_scalar(&Value::Array(vec![Value::Text("a".into())]), None).unwrap();
        assert_eq!(
            text.data_type(),
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
        );
        // A NULL before the first value, with no declared type: once a panic.
        let v = Value::Array(vec![Value::Null, Value::Int(3)]);
        let s = param_scalar(&v, None).unwrap();
        assert_eq!(
            s.data_type(),
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
        );
        let mixed = Value::Array(vec![Value::Int(1), Value::Text("x".into())]);
        assert!(param_scalar(&mixed, None).is_err());
    }

    #[test]
    fn rows_round_trip_through_a_batch() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Utf8, false),
            Field::new("b", DataType::Int32, true),
            Field::new("c", timestamp_type(), true),
            Field::new("d", DataType::Boolean, true),
        ]));
        let rows = vec![
            vec![
                Value::Text("x".into()),
                Value::Int(7),
                Value::Timestamp(1_700_000_000_000_000),
                Value::Bool(true),
            ],
            vec![
                Value::Text("y".into()),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        ];
        let batch = rows_to_batch(&schema, &rows).unwrap();
        assert_eq!(batch_to_rows(&batch).unwrap(), rows);
    }

    #[test]
    fn a_stored_value_of_the_wrong_type_is_an_error() {
        let schema = Arc::new(Schema::new(vec![Field::new("b", DataType::Int32, true)]));
        assert!(rows_to_batch(&schema, &[vec![Value::Text("no".into())]]).is_err());
        assert!(rows_to_batch(&schema, &[vec![Value::Int(i64::MAX)]]).is_err());
    }

    #[test]
    fn lists_come_back_as_postgres_array_text() {
        let list = ScalarValue::List(ScalarValue::new_list_nullable(
            &[ScalarValue::Int64(Some(1)), ScalarValue::Int64(Some(2))],
            &DataType::Int64,
        ));
        let array = list.to_array().unwrap();
        let batch = RecordBatch::try_from_iter([("l", array)]).unwrap();
        let rows = batch_to_rows(&batch).unwrap();
        assert_eq!(
            rows,
            vec![vec![Value::Array(vec![Value::Int(1), Value::Int(2)])]]
        );
        assert_eq!(rows[0][0].to_text(), "{1,2}");
    }

    #[test]
    fn a_null_column_reads_as_nulls() {
        let array: ArrayRef = Arc::new(datafusion::arrow::array::NullArray::new(2));
        let batch = RecordBatch::try_from_iter([("n", array)]).unwrap();
        assert_eq!(
            batch_to_rows(&batch).unwrap(),
            vec![vec![Value::Null], vec![Value::Null]]
        );
    }

    #[test]
    fn parameters_take_the_inferred_type() {
        let s = param_scalar(&Value::Int(5), Some(&DataType::Int32)).unwrap();
        assert_eq!(s, ScalarValue::Int32(Some(5)));
        let n = param_scalar(&Value::Null, Some(&DataType::Utf8)).unwrap();
        assert_eq!(n, ScalarValue::Utf8(None));
        assert!(param_scalar(&Value::Text("x".into()), Some(&DataType::Int64)).is_err());
    }

    #[test]
    fn literals_map_to_values() {
        assert_eq!(
            literal_value(&ScalarValue::Int32(Some(3))),
            Some(Value::Int(3))
        );
        assert_eq!(
            literal_value(&ScalarValue::Utf8View(Some("k".into()))),
            Some(Value::Text("k".into()))
        );
        assert_eq!(literal_value(&ScalarValue::Decimal128(Some(1), 3, 0)), None);
    }
}
