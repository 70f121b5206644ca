//! `COPY … TO STDOUT`: result rows as lines of text or CSV.

use super::{CopyFormat, CopyOptions, Field};
use crate::value::{OutColumn, Value};

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

#[cfg(test)]
pub(super) mod tests {
    use super::super::decode::{parse_record, take_records, Scan};
    use super::*;

    pub fn plan(format: CopyFormat) -> CopyOptions {
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
}
