//! SQL types, runtime values and their conversions, and the result
//! column a statement describes.

use std::cmp::Ordering;
use std::fmt;

use bucketdb_storage::Datum;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::error::{SqlError, SqlResult};
use crate::interval::{push_fraction, Interval};

/// The types bucketdb's SQL surface uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    Bool,
    /// PostgreSQL's `smallint`: casts to it, and results that have it (the
    /// catalogs' `attnum`, `conkey` elements, DataFusion's 16-bit
    /// integers). No column is stored as one.
    Int2,
    Int4,
    Int8,
    Float8,
    Text,
    /// JSON kept as the client wrote it (PostgreSQL's `json`, not the
    /// normalising `jsonb`); a text value checked to parse as JSON.
    Json,
    /// PostgreSQL's `jsonb`: a text value in the normal form of
    /// [`crate::jsonb`], so equal documents have equal texts. Only casts
    /// and results have it; the stored JSON columns are `json`.
    Jsonb,
    Timestamptz,
    /// PostgreSQL's `timestamp without time zone`: a wall-clock time.
    /// bucketdb's session time zone is always UTC, so its values are the
    /// same microseconds as a `timestamptz`'s; only its text form (no
    /// `+00`) and its OID differ. No stored column has this type.
    Timestamp,
    /// PostgreSQL's `interval`; only results have it (DataFusion's
    /// interval and duration values).
    Interval,
    /// A one-dimensional array; only results have them (the catalogs'
    /// `conkey`, `array_agg`), never a stored column.
    Array(Element),
    /// PostgreSQL's `int2vector` and `oidvector`, the catalogs' lists of
    /// column numbers and OIDs (`pg_index.indkey`, `indclass`): arrays of
    /// integers whose text form is `1 2`, not `{1,2}` (pg_dump and
    /// Sequelize split it at spaces).
    Int2Vector,
    OidVector,
}

/// The element type of an array result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Element {
    Bool,
    Int2,
    Int4,
    Int8,
    Float8,
    Text,
    Timestamptz,
    Timestamp,
}

impl Element {
    pub fn scalar(self) -> SqlType {
        match self {
            Element::Bool => SqlType::Bool,
            Element::Int2 => SqlType::Int2,
            Element::Int4 => SqlType::Int4,
            Element::Int8 => SqlType::Int8,
            Element::Float8 => SqlType::Float8,
            Element::Text => SqlType::Text,
            Element::Timestamptz => SqlType::Timestamptz,
            Element::Timestamp => SqlType::Timestamp,
        }
    }

    /// The element type of arrays of `ty`; `None` for types whose arrays
    /// are sent as text (`json`, arrays of arrays).
    pub fn of(ty: SqlType) -> Option<Element> {
        Some(match ty {
            SqlType::Bool => Element::Bool,
            SqlType::Int2 => Element::Int2,
            SqlType::Int4 => Element::Int4,
            SqlType::Int8 => Element::Int8,
            SqlType::Float8 => Element::Float8,
            SqlType::Text => Element::Text,
            SqlType::Timestamptz => Element::Timestamptz,
            SqlType::Timestamp => Element::Timestamp,
            SqlType::Json
            | SqlType::Jsonb
            | SqlType::Interval
            | SqlType::Array(_)
            | SqlType::Int2Vector
            | SqlType::OidVector => return None,
        })
    }
}

impl SqlType {
    pub fn name(self) -> &'static str {
        match self {
            SqlType::Bool => "boolean",
            SqlType::Int2 => "smallint",
            SqlType::Int4 => "integer",
            SqlType::Int8 => "bigint",
            SqlType::Float8 => "double precision",
            SqlType::Text => "text",
            SqlType::Json => "json",
            SqlType::Jsonb => "jsonb",
            SqlType::Timestamptz => "timestamp with time zone",
            SqlType::Timestamp => "timestamp without time zone",
            SqlType::Interval => "interval",
            SqlType::Array(e) => match e {
                Element::Bool => "boolean[]",
                Element::Int2 => "smallint[]",
                Element::Int4 => "integer[]",
                Element::Int8 => "bigint[]",
                Element::Float8 => "double precision[]",
                Element::Text => "text[]",
                Element::Timestamptz => "timestamp with time zone[]",
                Element::Timestamp => "timestamp without time zone[]",
            },
            SqlType::Int2Vector => "int2vector",
            SqlType::OidVector => "oidvector",
        }
    }

    /// PostgreSQL's OID of the type (`pg_type.oid`).
    pub fn oid(self) -> u32 {
        match self {
            SqlType::Bool => 16,
            SqlType::Int2 => 21,
            SqlType::Int4 => 23,
            SqlType::Int8 => 20,
            SqlType::Float8 => 701,
            SqlType::Text => 25,
            SqlType::Json => 114,
            SqlType::Jsonb => 3802,
            SqlType::Timestamptz => 1184,
            SqlType::Timestamp => 1114,
            SqlType::Interval => 1186,
            SqlType::Int2Vector => 22,
            SqlType::OidVector => 30,
            SqlType::Array(e) => match e {
                Element::Bool => 1000,
                Element::Int2 => 1005,
                Element::Int4 => 1007,
                Element::Int8 => 1016,
                Element::Float8 => 1022,
                Element::Text => 1009,
                Element::Timestamptz => 1185,
                Element::Timestamp => 1115,
            },
        }
    }

    pub fn is_vector(self) -> bool {
        matches!(self, SqlType::Int2Vector | SqlType::OidVector)
    }

    /// Whether values of the type are text (`json` is text checked as
    /// JSON, `jsonb` JSON's normal text).
    pub fn is_textual(self) -> bool {
        matches!(self, SqlType::Text | SqlType::Json | SqlType::Jsonb)
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Float8
        )
    }
}

/// A result column: its name and type, as RowDescription tells them.
#[derive(Debug, Clone, PartialEq)]
pub struct OutColumn {
    pub name: String,
    pub ty: SqlType,
}

/// A runtime value. Timestamps are microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Timestamp(i64),
    /// An interval (results only).
    Interval(Interval),
    /// A one-dimensional array of values of one type (results only).
    Array(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn from_datum(d: &Datum) -> Value {
        match d {
            Datum::Null => Value::Null,
            Datum::Bool(b) => Value::Bool(*b),
            Datum::Int(i) => Value::Int(*i),
            Datum::Text(s) => Value::Text(s.clone()),
            Datum::Timestamp(t) => Value::Timestamp(*t),
        }
    }

    /// The stored form of a value already coerced to its column's type.
    pub fn to_datum(&self) -> Datum {
        match self {
            Value::Null => Datum::Null,
            Value::Bool(b) => Datum::Bool(*b),
            Value::Int(i) => Datum::Int(*i),
            // Columns are never float; coercion refuses it before this.
            Value::Float(f) => Datum::Int(*f as i64),
            Value::Text(s) => Datum::Text(s.clone()),
            // Columns are never intervals; coercion refuses it before this.
            Value::Interval(i) => Datum::Text(i.to_text()),
            Value::Timestamp(t) => Datum::Timestamp(*t),
            // Columns are never arrays; coercion refuses it before this.
            Value::Array(_) => Datum::Text(self.to_text()),
        }
    }

    /// Converts to `ty` the way an assignment or an explicit cast does.
    pub fn coerce(self, ty: SqlType) -> SqlResult<Value> {
        Ok(match (self, ty) {
            (Value::Null, _) => Value::Null,
            (v @ Value::Bool(_), SqlType::Bool) => v,
            (Value::Int(i), SqlType::Int8) => Value::Int(i),
            (Value::Int(i), SqlType::Int4) => {
                if i32::try_from(i).is_err() {
                    return Err(SqlError::numeric_value_out_of_range("integer out of range"));
                }
                Value::Int(i)
            }
            (Value::Int(i), SqlType::Int2) => {
                if i16::try_from(i).is_err() {
                    return Err(SqlError::numeric_value_out_of_range(
                        "smallint out of range",
                    ));
                }
                Value::Int(i)
            }
            (Value::Int(i), SqlType::Float8) => Value::Float(i as f64),
            (Value::Float(f), SqlType::Float8) => Value::Float(f),
            (Value::Float(f), SqlType::Int8 | SqlType::Int4 | SqlType::Int2) => {
                if !f.is_finite() || f.abs() > 9.2e18 {
                    return Err(SqlError::numeric_value_out_of_range("bigint out of range"));
                }
                Value::Int(f.round() as i64).coerce(ty)?
            }
            (v @ Value::Timestamp(_), SqlType::Timestamptz | SqlType::Timestamp) => v,
            (v @ Value::Interval(_), SqlType::Interval) => v,
            (Value::Array(items), SqlType::Array(e)) => Value::Array(
                items
                    .into_iter()
                    .map(|v| v.coerce(e.scalar()))
                    .collect::<SqlResult<_>>()?,
            ),
            (Value::Array(items), SqlType::Int2Vector | SqlType::OidVector) => {
                Value::Array(items).coerce(SqlType::Array(Element::Int4))?
            }
            // A cast prints `true`, where output prints `t`.
            (Value::Bool(b), SqlType::Text) => Value::Text(b.to_string()),
            (Value::Text(s), SqlType::Text) => Value::Text(s),
            (Value::Text(s), other) => parse_text(&s, other)?,
            (v, SqlType::Text) => Value::Text(v.to_text()),
            (v, ty) => {
                return Err(SqlError::datatype_mismatch(format!(
                    "cannot convert {} to {}",
                    v.type_name(),
                    ty.name()
                )))
            }
        })
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "bigint",
            Value::Float(_) => "double precision",
            Value::Text(_) => "text",
            Value::Timestamp(_) => "timestamp with time zone",
            Value::Interval(_) => "interval",
            Value::Array(_) => "array",
        }
    }

    /// PostgreSQL's text output form.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => if *b { "t" } else { "f" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Text(s) => s.clone(),
            Value::Timestamp(t) => format_timestamp(*t),
            Value::Interval(i) => i.to_text(),
            // Elements print as their own values do (a timestamp with `+00`).
            Value::Array(items) => array_text(items, SqlType::Text),
        }
    }

    /// The text form of the value as a `ty`: as [`Value::to_text`], but a
    /// vector's elements are separated by spaces, without braces.
    pub fn to_text_as(&self, ty: SqlType) -> String {
        match (self, ty) {
            (Value::Array(items), ty) if ty.is_vector() => items
                .iter()
                .map(Value::to_text)
                .collect::<Vec<_>>()
                .join(" "),
            (Value::Timestamp(t), SqlType::Timestamp) => format_wall_clock(*t),
            (Value::Array(items), SqlType::Array(e)) => array_text(items, e.scalar()),
            (v, _) => v.to_text(),
        }
    }

    /// SQL comparison; `None` when either side is NULL.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Int(a), Value::Float(b)) => Some(float_cmp(*a as f64, *b)),
            (Value::Float(a), Value::Int(b)) => Some(float_cmp(*a, *b as f64)),
            (Value::Float(a), Value::Float(b)) => Some(float_cmp(*a, *b)),
            (Value::Text(a), Value::Text(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Total order for ORDER BY: NULLs sort last (as in PostgreSQL, ascending).
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        match (self.is_null(), other.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => self.sql_cmp(other).unwrap_or(Ordering::Equal),
        }
    }
}

/// PostgreSQL's order of floats: NaN equals NaN and is above every other
/// value (IEEE's comparison, under which NaN equals nothing, made
/// `'NaN'::float8 = 'NaN'` NULL), and -0 equals 0.
fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// An array's text form, `{a,"b c",NULL}`, its elements printed as `ty`.
fn array_text(items: &[Value], ty: SqlType) -> String {
    let elements: Vec<String> = items.iter().map(|v| array_element(v, ty)).collect();
    format!("{{{}}}", elements.join(","))
}

/// One element of an array's text form (`{a,"b c",NULL}`, which `psql`
/// and drivers parse): quoted where PostgreSQL quotes it (empty, `NULL`,
/// or holding a delimiter, brace, quote, backslash or space).
fn array_element(v: &Value, ty: SqlType) -> String {
    if v.is_null() {
        return "NULL".into();
    }
    let text = v.to_text_as(ty);
    let plain = !text.is_empty()
        && !text.eq_ignore_ascii_case("null")
        && !text
            .chars()
            .any(|c| matches!(c, ',' | '{' | '}' | '"' | '\\') || c.is_whitespace());
    if plain {
        text
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A float as PostgreSQL prints one: the shortest digits that read back
/// as the same value, with an exponent (`1e+20`, `1.5e-05`, at least two
/// digits) when it is below -4 or above 14, as `float8out` does.
fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let scientific = format!("{f:e}");
    match scientific.split_once('e') {
        Some((mantissa, exp)) => match exp.parse::<i32>() {
            Ok(e) if !(-4..15).contains(&e) => {
                let sign = if e < 0 { '-' } else { '+' };
                format!("{mantissa}e{sign}{:02}", e.unsigned_abs())
            }
            _ => format!("{f}"),
        },
        None => format!("{f}"),
    }
}

/// `2026-11-22 09:16:11.123456+00`, as PostgreSQL prints a timestamptz in UTC.
pub fn format_timestamp(micros: i64) -> String {
    format_datetime(micros, "+00")
}

/// `2026-11-22 09:16:11.123456`, as PostgreSQL prints a timestamp without
/// time zone: no offset, trailing zeros of the fraction left off.
pub fn format_wall_clock(micros: i64) -> String {
    format_datetime(micros, "")
}

/// The date, the time, the fraction without trailing zeros, then `offset`,
/// and ` BC` for years before 1 (PostgreSQL has no year 0). Written with
/// the date's numbers rather than a chrono format string, which is parsed
/// anew on every call and showed in profiles of reads returning timestamps.
fn format_datetime(micros: i64, offset: &str) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let Some(dt) = Utc.timestamp_micros(micros).single() else {
        return micros.to_string();
    };
    let (year, era) = match dt.year() {
        y if y >= 1 => (y, ""),
        y => (1 - y, " BC"),
    };
    let mut s = String::with_capacity(32);
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    push_fraction(&mut s, micros.rem_euclid(1_000_000).unsigned_abs());
    s.push_str(offset);
    s.push_str(era);
    s
}

/// Parses a timestamptz literal: RFC 3339, or PostgreSQL's
/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]][+TZ]` (no zone means UTC).
pub fn parse_timestamp(s: &str) -> SqlResult<i64> {
    parse_datetime(s, Zone::Applied)
}

/// Parses a `timestamp without time zone` literal: the forms of
/// [`parse_timestamp`], but a zone written in it is ignored, as
/// PostgreSQL ignores it (`'2024-01-01 10:00+05'::timestamp` is 10:00).
pub fn parse_wall_clock(s: &str) -> SqlResult<i64> {
    parse_datetime(s, Zone::Ignored)
}

/// What a zone written in a timestamp literal does.
#[derive(Clone, Copy, PartialEq)]
enum Zone {
    Applied,
    Ignored,
}

fn parse_datetime(s: &str, zone: Zone) -> SqlResult<i64> {
    let t = s.trim();
    let bad = || {
        let ty = match zone {
            Zone::Applied => "timestamp with time zone",
            Zone::Ignored => "timestamp",
        };
        SqlError::invalid_datetime_format(format!("invalid input syntax for type {ty}: \"{s}\""))
    };
    let zoned = |dt: DateTime<chrono::FixedOffset>| match zone {
        Zone::Applied => dt.timestamp_micros(),
        Zone::Ignored => dt.naive_local().and_utc().timestamp_micros(),
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(zoned(dt));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M%#z",
        "%Y-%m-%dT%H:%M%#z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Ok(zoned(dt));
        }
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(n.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .ok_or_else(bad)?
            .and_utc()
            .timestamp_micros());
    }
    Err(bad())
}

fn parse_text(s: &str, ty: SqlType) -> SqlResult<Value> {
    let t = s.trim();
    match ty {
        SqlType::Int8 | SqlType::Int4 | SqlType::Int2 => t
            .parse::<i64>()
            .map_err(|_| {
                SqlError::invalid_text_representation(format!(
                    "invalid input syntax for type {}: \"{s}\"",
                    ty.name()
                ))
            })
            .and_then(|i| Value::Int(i).coerce(ty)),
        SqlType::Float8 => t.parse::<f64>().map(Value::Float).map_err(|_| {
            SqlError::invalid_text_representation(format!(
                "invalid input syntax for type double precision: \"{s}\""
            ))
        }),
        SqlType::Bool => match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "on" | "1" | "y" => Ok(Value::Bool(true)),
            "f" | "false" | "no" | "off" | "0" | "n" => Ok(Value::Bool(false)),
            _ => Err(SqlError::invalid_text_representation(format!(
                "invalid input syntax for type boolean: \"{s}\""
            ))),
        },
        SqlType::Timestamptz => parse_timestamp(t).map(Value::Timestamp),
        SqlType::Timestamp => parse_wall_clock(t).map(Value::Timestamp),
        // Interval literals are read by DataFusion; bucketdb's own values
        // of the type come from its results only.
        SqlType::Interval => Err(SqlError::feature_not_supported(format!(
            "cannot read \"{s}\" as an interval here"
        ))),
        SqlType::Text => Ok(Value::Text(s.to_string())),
        SqlType::Json => check_json(s).map(|()| Value::Text(s.to_string())),
        SqlType::Jsonb => crate::jsonb::normalize(s).map(Value::Text),
        SqlType::Array(e) => parse_array(s, e),
        SqlType::Int2Vector | SqlType::OidVector => t
            .split_ascii_whitespace()
            .map(|n| parse_text(n, SqlType::Int4))
            .collect::<SqlResult<_>>()
            .map(Value::Array),
    }
}

/// PostgreSQL's array input form, one dimension: `{a, "b c", NULL}`.
/// Elements are trimmed unless quoted; inside quotes a backslash escapes
/// the next character; an unquoted `NULL` is SQL NULL.
fn parse_array(s: &str, e: Element) -> SqlResult<Value> {
    let bad = |why: &str| {
        SqlError::invalid_text_representation(format!("malformed array literal: \"{s}\" ({why})"))
    };
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| bad("it must be enclosed in braces"))?;
    if inner.trim().is_empty() {
        return Ok(Value::Array(Vec::new()));
    }
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let (text, quoted) = if chars.next_if_eq(&'"').is_some() {
            let mut t = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => t.push(chars.next().ok_or_else(|| bad("unfinished escape"))?),
                    Some(c) => t.push(c),
                    None => return Err(bad("unterminated quote")),
                }
            }
            (t, true)
        } else {
            let mut t = String::new();
            while let Some(c) = chars.next_if(|c| *c != ',') {
                if matches!(c, '{' | '}' | '"') {
                    return Err(bad("only one-dimensional arrays are supported"));
                }
                t.push(c);
            }
            (t.trim_end().to_string(), false)
        };
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        items.push(if !quoted && text.eq_ignore_ascii_case("null") {
            Value::Null
        } else if !quoted && text.is_empty() {
            return Err(bad("empty element"));
        } else {
            Value::Text(text).coerce(e.scalar())?
        });
        match chars.next() {
            None => return Ok(Value::Array(items)),
            Some(',') => {}
            Some(_) => return Err(bad("junk after element")),
        }
    }
}

/// Refuses text that is not JSON, as PostgreSQL's json input does (22P02).
pub fn check_json(s: &str) -> SqlResult<()> {
    serde_json::from_str::<serde_json::Value>(s)
        .map(|_| ())
        .map_err(|e| {
            SqlError::invalid_text_representation(format!(
                "invalid input syntax for type json: {e}"
            ))
        })
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn arrays_read_and_print_as_postgres_does() {
        let text = SqlType::Array(Element::Text);
        let v = Value::Text(r#"{reader, "a b" ,NULL,"q\"x","",null}"#.into())
            .coerce(text)
            .unwrap();
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(
            v,
            Value::Array(vec![
                t("reader"),
                t("a b"),
                Value::Null,
                t("q\"x"),
                t(""),
                Value::Null
            ])
        );
        assert_eq!(v.to_text(), r#"{reader,"a b",NULL,"q\"x","",NULL}"#);
        let ints = Value::Text("{1,2}".into())
            .coerce(SqlType::Array(Element::Int4))
            .unwrap();
        assert_eq!(ints, Value::Array(vec![Value::Int(1), Value::Int(2)]));
        assert_eq!(
            Value::Text("{}".into()).coerce(text).unwrap(),
            Value::Array(vec![])
        );
        for bad in ["1,2", "{a,,b}", "{{1},{2}}", "{\"a}", "{a} x", "{\"a\"b}"] {
            let e = Value::Text(bad.into()).coerce(text).unwrap_err();
            assert_eq!(e.state, SqlState::InvalidTextRepresentation, "{bad}");
        }
        let e = Value::Text("{1,x}".into())
            .coerce(SqlType::Array(Element::Int4))
            .unwrap_err();
        assert_eq!(e.state, SqlState::InvalidTextRepresentation);
    }

    #[test]
    fn timestamps_parse_and_print_like_postgres() {
        let t = parse_timestamp("2026-11-22 09:16:11.5+00").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-22 09:16:11.5+00");
        assert_eq!(
            parse_timestamp("2026-11-22T09:16:11Z").unwrap(),
            t - 500_000
        );
        assert_eq!(parse_timestamp("2026-11-22 11:16:11.5+02").unwrap(), t);
        // An offset after minutes without seconds is read too.
        let minute = parse_timestamp("2026-11-22 09:16:00+00").unwrap();
        assert_eq!(parse_timestamp("2026-11-22 10:16+01").unwrap(), minute);
        assert_eq!(parse_timestamp("2026-11-22T09:16+00:00").unwrap(), minute);
        assert_eq!(parse_timestamp("2026-11-22 09:16:11.5").unwrap(), t);
        assert!(parse_timestamp("yesterday-ish").is_err());
    }

    #[test]
    fn floats_print_as_postgres_prints_them() {
        for (f, text) in [
            (1e20, "1e+20"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.0, "123456789012345"),
            (1e15, "1e+15"),
            (-2.5e300, "-2.5e+300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0"),
            (3.0, "3"),
        ] {
            assert_eq!(Value::Float(f).to_text(), text, "{f}");
        }
    }

    #[test]
    fn wall_clock_timestamps_ignore_a_written_zone_and_print_without_one() {
        let t = parse_wall_clock("2026-11-22 09:16:11.5+05").unwrap();
        assert_eq!(t, parse_timestamp("2026-11-22 09:16:11.5+00").unwrap());
        assert_eq!(format_wall_clock(t), "2026-11-22 09:16:11.5");
        assert_eq!(format_wall_clock(t + 120), "2026-11-22 09:16:11.50012");
        // Before 1970 the fraction still counts forward from the second.
        let early = parse_wall_clock("1969-12-31 23:59:59.25").unwrap();
        assert_eq!(format_wall_clock(early), "1969-12-31 23:59:59.25");
        // The day before 0001-01-01 is in 1 BC.
        let first = parse_wall_clock("0001-01-01 00:00:00").unwrap();
        assert_eq!(
            format_wall_clock(first - 86_400_000_000),
            "0001-12-31 00:00:00 BC"
        );
        assert_eq!(
            format_timestamp(first - 1),
            "0001-12-31 23:59:59.999999+00 BC"
        );
        assert_eq!(
            Value::Timestamp(t).to_text_as(SqlType::Timestamp),
            "2026-11-22 09:16:11.5"
        );
        assert_eq!(
            Value::Array(vec![Value::Timestamp(t - 500_000), Value::Null])
                .to_text_as(SqlType::Array(Element::Timestamp)),
            "{\"2026-11-22 09:16:11\",NULL}"
        );
        let e = parse_wall_clock("tomorrow").unwrap_err();
        assert_eq!(e.state, SqlState::InvalidDatetimeFormat);
        assert!(e.message.contains("type timestamp:"), "{}", e.message);
    }

    #[test]
    fn coercion_follows_postgres() {
        assert_eq!(
            Value::Text("42".into()).coerce(SqlType::Int8).unwrap(),
            Value::Int(42)
        );
        assert_eq!(
            Value::Text("x".into())
                .coerce(SqlType::Int8)
                .unwrap_err()
                .state,
            SqlState::InvalidTextRepresentation
        );
        assert_eq!(
            Value::Int(1 << 40).coerce(SqlType::Int4).unwrap_err().state,
            SqlState::NumericValueOutOfRange
        );
        assert_eq!(
            Value::Int(7).coerce(SqlType::Text).unwrap(),
            Value::Text("7".into())
        );
    }

    #[test]
    fn nulls_sort_last() {
        let mut v = vec![Value::Null, Value::Int(2), Value::Int(1)];
        v.sort_by(|a, b| a.sort_cmp(b));
        assert_eq!(v, vec![Value::Int(1), Value::Int(2), Value::Null]);
    }
}
