//! `COPY table [(columns)] FROM STDIN [(FORMAT text | csv, HEADER,
//! DELIMITER 'c', NULL 's')]`: rows streamed in by the client (psql's
//! `\copy`), parsed as they arrive and written in bounded batches.
//!
//! Atomic unit: one batch of at most [`BATCH_ROWS`] rows is one Raft entry.
//! A bad row (unparsable, breaking a rule, a duplicate key) fails the COPY
//! with its line number; batches before it stay written, nothing of its own
//! batch is. Inside an explicit transaction COPY is refused.

use sqlparser::ast;

use crate::catalog::{Catalog, TableId};
use crate::error::{SqlError, SqlResult};
use crate::plan::OutColumn;
use crate::value::Value;

/// Rows per Raft entry.
pub const BATCH_ROWS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

/// Format options shared by both directions.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    pub format: CopyFormat,
    pub header: bool,
    pub delimiter: u8,
    pub null: String,
}

/// A planned `COPY … FROM STDIN`.
#[derive(Debug, Clone)]
pub struct CopyInPlan {
    pub table: TableId,
    /// Table columns in the order the data gives them.
    pub columns: Vec<usize>,
    pub options: CopyOptions,
}

/// Reads the `(FORMAT …, HEADER, DELIMITER …, NULL …)` options.
pub fn copy_options(options: &[ast::CopyOption]) -> SqlResult<CopyOptions> {
    let mut format = CopyFormat::Text;
    let mut header = false;
    let mut delimiter = None;
    let mut null = None;
    for o in options {
        match o {
            ast::CopyOption::Format(f) => {
                format = match f.value.to_lowercase().as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv,
                    other => {
                        return Err(SqlError::feature_not_supported(format!(
                            "COPY format \"{other}\" is not supported (text, csv)"
                        )))
                    }
                }
            }
            ast::CopyOption::Header(h) => header = *h,
            ast::CopyOption::Delimiter(c) if c.is_ascii() => delimiter = Some(*c as u8),
            ast::CopyOption::Null(s) => null = Some(s.clone()),
            other => {
                return Err(SqlError::feature_not_supported(format!(
                    "COPY option {other} is not supported"
                )))
            }
        }
    }
    let (default_delimiter, default_null) = match format {
        CopyFormat::Text => (b'\t', "\\N"),
        CopyFormat::Csv => (b',', ""),
    };
    Ok(CopyOptions {
        format,
        header,
        delimiter: delimiter.unwrap_or(default_delimiter),
        null: null.unwrap_or_else(|| default_null.to_string()),
    })
}

/// Plans `COPY table [(columns)] FROM STDIN`.
pub fn plan_copy_in(
    catalog: &Catalog,
    table_name: &ast::ObjectName,
    columns: &[ast::Ident],
    options: CopyOptions,
) -> SqlResult<CopyInPlan> {
    let table = catalog.table(&crate::bind::object_name(table_name)?)?;
    table.check_writable("copy into")?;
    let columns = if columns.is_empty() {
        (0..table.columns.len()).collect()
    } else {
        columns
            .iter()
            .map(|c| table.column_index(&c.value.to_lowercase()))
            .collect::<SqlResult<Vec<_>>>()?
    };
    Ok(CopyInPlan {
        table: table.id,
        columns,
        options,
    })
}

/// Encodes result rows for `COPY … TO STDOUT`, one line per row; with
/// HEADER the column names lead the first line's message.
pub fn encode_rows(opts: &CopyOptions, columns: &[OutColumn], rows: &[Vec<Value>]) -> Vec<Vec<u8>> {
    let cell = |v: &Value| match v {
        Value::Null => None,
        v => Some(v.to_text()),
    };
    let mut out: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| encode_line(opts, r.iter().map(cell)))
        .collect();
    if opts.header {
        let mut header = encode_line(opts, columns.iter().map(|c| Some(c.name.clone())));
        match out.first_mut() {
            Some(first) => {
                header.append(first);
                *first = header;
            }
            None => out.push(header),
        }
    }
    out
}

/// One line of COPY output, newline included.
fn encode_line(opts: &CopyOptions, cells: impl Iterator<Item = Field>) -> Vec<u8> {
    let delimiter = opts.delimiter as char;
    let mut line = String::new();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            line.push(delimiter);
        }
        match (cell, opts.format) {
            (None, _) => line.push_str(&opts.null),
            (Some(v), CopyFormat::Text) => {
                for c in v.chars() {
                    match c {
                        '\\' => line.push_str("\\\\"),
                        '\t' => line.push_str("\\t"),
                        '\n' => line.push_str("\\n"),
                        '\r' => line.push_str("\\r"),
                        c if c == delimiter => {
                            line.push('\\');
                            line.push(c);
                        }
                        c => line.push(c),
                    }
                }
            }
            (Some(v), CopyFormat::Csv) => {
                let quote =
                    v.is_empty() || v == opts.null || v.contains([delimiter, '"', '\n', '\r']);
                if quote {
                    line.push('"');
                    line.push_str(&v.replace('"', "\"\""));
                    line.push('"');
                } else {
                    line.push_str(&v);
                }
            }
        }
    }
    line.push('\n');
    line.into_bytes()
}

/// One field of a record: `None` is NULL.
pub type Field = Option<String>;

/// Where splitting records stopped in the bytes not yet consumed, so that
/// each byte is looked at once however the data is chunked.
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    pos: usize,
    in_quotes: bool,
    /// Lines the pending record spans so far.
    pub lines: u64,
}

impl Default for Scan {
    fn default() -> Scan {
        Scan {
            pos: 0,
            in_quotes: false,
            lines: 1,
        }
    }
}

/// Splits complete records off the front of `buf`, returning each with the
/// number of lines it spans. A CSV record may span lines inside quotes.
pub fn take_records(plan: &CopyOptions, buf: &mut Vec<u8>, scan: &mut Scan) -> Vec<(Vec<u8>, u64)> {
    let mut out = vec![];
    let mut start = 0;
    for i in scan.pos..buf.len() {
        match buf[i] {
            b'"' if plan.format == CopyFormat::Csv => scan.in_quotes = !scan.in_quotes,
            b'\n' if scan.in_quotes => scan.lines += 1,
            b'\n' => {
                let mut rec = buf[start..i].to_vec();
                if rec.last() == Some(&b'\r') {
                    rec.pop();
                }
                out.push((rec, scan.lines));
                start = i + 1;
                scan.lines = 1;
            }
            _ => {}
        }
    }
    buf.drain(..start);
    scan.pos = buf.len();
    out
}

/// Parses one record into its fields.
pub fn parse_record(plan: &CopyOptions, rec: &[u8]) -> SqlResult<Vec<Field>> {
    let text = std::str::from_utf8(rec)
        .map_err(|_| SqlError::invalid_text_representation("invalid UTF-8 in COPY data"))?;
    match plan.format {
        CopyFormat::Text => Ok(text
            .split(plan.delimiter as char)
            .map(|f| (f != plan.null).then(|| unescape_text(f)))
            .collect()),
        CopyFormat::Csv => parse_csv(text, plan.delimiter as char, &plan.null),
    }
}

/// Text format escapes: `\t`, `\n`, `\r`, `\\` and any other `\c` as `c`.
fn unescape_text(f: &str) -> String {
    let mut out = String::with_capacity(f.len());
    let mut chars = f.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// CSV: fields in double quotes may hold the delimiter, newlines and `""`
/// for a quote; an unquoted field equal to the NULL string is NULL, a
/// quoted one never is.
fn parse_csv(line: &str, delimiter: char, null: &str) -> SqlResult<Vec<Field>> {
    let mut fields = vec![];
    let mut chars = line.chars().peekable();
    loop {
        let mut value = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        value.push('"');
                    }
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(SqlError::invalid_text_representation(
                            "unterminated CSV quoted field",
                        ))
                    }
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == delimiter {
                break;
            }
            value.push(c);
            chars.next();
        }
        fields.push((quoted || value != null).then_some(value));
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(format: CopyFormat) -> CopyOptions {
        let csv = format == CopyFormat::Csv;
        CopyOptions {
            format,
            header: false,
            delimiter: if csv { b',' } else { b'\t' },
            null: if csv { String::new() } else { "\\N".into() },
        }
    }

    #[test]
    fn encoded_lines_parse_back() {
        for format in [CopyFormat::Text, CopyFormat::Csv] {
            let p = plan(format);
            let row = [
                Value::Text("a,b\t\"c\"\nd\\".into()),
                Value::Null,
                Value::Text(String::new()),
                Value::Int(7),
            ];
            let mut buf = encode_line(
                &p,
                row.iter().map(|v| match v {
                    Value::Null => None,
                    v => Some(v.to_text()),
                }),
            );
            let recs = take_records(&p, &mut buf, &mut Scan::default());
            assert_eq!(recs.len(), 1, "{format:?}");
            assert_eq!(
                parse_record(&p, &recs[0].0).unwrap(),
                vec![
                    Some("a,b\t\"c\"\nd\\".into()),
                    None,
                    Some(String::new()),
                    Some("7".into())
                ],
                "{format:?}"
            );
        }
    }

    #[test]
    fn csv_records_may_span_lines_and_keep_partial_ones() {
        let p = plan(CopyFormat::Csv);
        let mut buf = b"a,\"x\ny\"\r\nb,2\nc,".to_vec();
        let recs = take_records(&p, &mut buf, &mut Scan::default());
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].1, 2);
        assert_eq!(
            parse_record(&p, &recs[0].0).unwrap(),
            vec![Some("a".into()), Some("x\ny".into())]
        );
        assert_eq!(buf, b"c,");
    }

    #[test]
    fn records_split_the_same_however_the_bytes_arrive() {
        let p = plan(CopyFormat::Csv);
        let data = b"a,\"x\ny\"\nb,2\nc,3\n";
        let mut whole = data.to_vec();
        let expected = take_records(&p, &mut whole, &mut Scan::default());
        let (mut buf, mut scan, mut got) = (vec![], Scan::default(), vec![]);
        for &byte in data {
            buf.push(byte);
            got.extend(take_records(&p, &mut buf, &mut scan));
        }
        assert_eq!(got, expected);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].1, 2);
    }

    #[test]
    fn csv_nulls_quotes_and_empty_strings() {
        let p = plan(CopyFormat::Csv);
        assert_eq!(
            parse_record(&p, b"a,,\"\",\"q\"\"d\"").unwrap(),
            vec![Some("a".into()), None, Some("".into()), Some("q\"d".into())]
        );
        assert!(parse_record(&p, b"\"open").is_err());
    }

    #[test]
    fn text_format_escapes_and_null() {
        let p = plan(CopyFormat::Text);
        assert_eq!(
            parse_record(&p, b"a\\tb\t\\N\tc\\\\").unwrap(),
            vec![Some("a\tb".into()), None, Some("c\\".into())]
        );
    }
}
