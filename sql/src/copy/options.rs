//! The options of a COPY statement, with each format's defaults.

use sqlparser::ast;

use super::{CopyFormat, CopyOptions};
use crate::error::{SqlError, SqlResult};

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
