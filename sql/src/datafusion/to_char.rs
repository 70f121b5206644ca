//! `to_char(timestamp, 'YYYY-MM-DD')` formats as PostgreSQL does.
//! DataFusion's `to_char` takes a chrono format (`%Y-%m-%d`) and copies
//! anything else, so PostgreSQL's template came back as it was written
//! (`YYYY-MM-DD`): a wrong answer with no error. A literal template is
//! translated to chrono's; a template part bucketdb does not translate,
//! and a template that is not a literal, is refused (0A000) rather than
//! printed.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, FunctionArguments, Statement, Value, VisitorMut};

use super::pg_meanings::string_literal;
use super::sql_ast::{call, named, positional, visit_until_error};
use crate::error::{SqlError, SqlResult};

/// Whether the (lower-case) query text may call `to_char`.
pub fn mentioned(lower: &str) -> bool {
    lower.contains("to_char")
}

pub fn rewrite(stmt: &mut Statement) -> SqlResult<()> {
    visit_until_error(stmt, &mut ToChar)
}

struct ToChar;

impl VisitorMut for ToChar {
    type Break = SqlError;

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<SqlError> {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        let FunctionArguments::List(list) = &f.args else {
            return ControlFlow::Continue(());
        };
        if !named(&f.name, "to_char") {
            return ControlFlow::Continue(());
        }
        let mut args = positional(&list.args);
        let template = match args.get(1).map(string_literal) {
            Some(Some(t)) => chrono_format(t),
            _ => Err(SqlError::feature_not_supported(
                "to_char takes a timestamp and a literal template here",
            )),
        };
        match template {
            Ok(format) => {
                args[1] = Expr::value(Value::SingleQuotedString(format));
                *e = call("to_char", args);
                ControlFlow::Continue(())
            }
            Err(err) => ControlFlow::Break(err),
        }
    }
}

/// Template patterns: the chrono form, the form without padding (for the
/// `FM` prefix; empty where PostgreSQL pads a name and chrono cannot),
/// and whether the pattern matches in any case (numeric ones do, as
/// PostgreSQL's do; names match exactly, since their case is the
/// output's). A pattern comes before any that begins it (`HH24`, `HH`).
const PATTERNS: &[(&str, &str, &str, bool)] = &[
    ("HH24", "%H", "%-H", true),
    ("HH12", "%I", "%-I", true),
    ("YYYY", "%Y", "%Y", true),
    ("DDD", "%j", "%-j", true),
    ("HH", "%I", "%-I", true),
    ("MI", "%M", "%-M", true),
    ("SS", "%S", "%-S", true),
    ("MS", "%3f", "%3f", true),
    ("US", "%6f", "%6f", true),
    ("YY", "%y", "%y", true),
    ("MM", "%m", "%-m", true),
    ("DD", "%d", "%-d", true),
    ("AM", "%p", "%p", false),
    ("PM", "%p", "%p", false),
    ("am", "%P", "%P", false),
    ("pm", "%P", "%P", false),
    ("Month", "", "%B", false),
    ("Mon", "%b", "%b", false),
    ("Day", "", "%A", false),
    ("Dy", "%a", "%a", false),
];

/// PostgreSQL's `to_char` template as a chrono format.
fn chrono_format(template: &str) -> SqlResult<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix('"') {
            // Quoted text is copied as it is.
            let (quoted, tail) = after.split_once('"').unwrap_or((after, ""));
            for c in quoted.chars() {
                push_literal(&mut out, c);
            }
            rest = tail;
            continue;
        }
        let (fill_mode, body) = match rest.strip_prefix("FM") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let found = PATTERNS.iter().find(|(p, _, _, any_case)| {
            body.get(..p.len()).is_some_and(|head| match any_case {
                true => head.eq_ignore_ascii_case(p),
                false => head == *p,
            })
        });
        match found {
            Some((p, padded, unpadded, _)) => {
                let chrono = if fill_mode { unpadded } else { padded };
                if chrono.is_empty() {
                    return Err(unsupported(&format!("{p} (without FM)")));
                }
                out.push_str(chrono);
                rest = &body[p.len()..];
            }
            None if c.is_ascii_alphabetic() => {
                return Err(unsupported(&rest.chars().take(8).collect::<String>()));
            }
            None => {
                push_literal(&mut out, c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

fn unsupported(part: &str) -> SqlError {
    SqlError::feature_not_supported(format!(
        "to_char's template part \"{part}\" is not supported; supported: YYYY YY MM DD DDD \
         HH24 HH12 HH MI SS MS US AM PM Mon Dy FMMonth FMDay, FM, and \"quoted text\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_chrono_formats() {
        assert_eq!(chrono_format("YYYY-MM-DD").unwrap(), "%Y-%m-%d");
        assert_eq!(
            chrono_format("yyyy-mm-dd HH24:MI:SS.US").unwrap(),
            "%Y-%m-%d %H:%M:%S.%6f"
        );
        assert_eq!(
            chrono_format("FMDD FMMonth YYYY, HH12 AM").unwrap(),
            "%-d %B %Y, %I %p"
        );
        assert_eq!(
            chrono_format("Dy, DD Mon YYYY \"at\" HH24%").unwrap(),
            "%a, %d %b %Y at %H%%"
        );
        // The refusal quotes the part by characters, never splitting one.
        for bad in ["Month", "Q", "YYYY-WW", "TZ", "mon", "Qéééééé"] {
            let e = chrono_format(bad).unwrap_err();
            assert_eq!(
                e.state,
                crate::error::SqlState::FeatureNotSupported,
                "{bad}"
            );
        }
    }
}
