//! `COPY … FROM STDIN` data: splitting the bytes into records however they
//! are chunked, and a record into its fields (text escapes, CSV quotes).

use super::{CopyFormat, CopyOptions, Field};
use crate::error::{SqlError, SqlResult};

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
    use super::super::encode::tests::plan;
    use super::*;

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
