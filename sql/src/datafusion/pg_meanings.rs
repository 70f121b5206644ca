//! Forms DataFusion reads otherwise than PostgreSQL, each of which gave a
//! wrong answer with no error, rewritten to what PostgreSQL means or
//! refused (0A000) where bucketdb cannot say it yet:
//!
//! - `x SIMILAR TO 'pattern'`: DataFusion took the pattern for a regular
//!   expression (`'abc' SIMILAR TO 'a%'` was false). A literal pattern is
//!   translated as PostgreSQL translates it (`%` any text, `_` one
//!   character, `.` itself, the whole string matched); another is refused.
//! - `regexp_replace(s, p, 'replacement')`: the replacement is
//!   PostgreSQL's (`\1` a group, `\&` the match, `$` itself), which
//!   DataFusion read as Rust's (`$5` a group, `\&` two characters).
//! - `array_remove` and `array_replace` act on every match, as
//!   PostgreSQL's do; DataFusion's act on the first.
//! - `extract(second …)` and `date_part('second', …)` keep the fraction
//!   (`45.5`); DataFusion's are whole seconds.
//! - `EXCEPT ALL` and `INTERSECT ALL` are refused: DataFusion plans them as
//!   an anti or semi join, which keeps every duplicate on the left instead
//!   of subtracting counts (`VALUES (1),(1),(1) EXCEPT ALL SELECT 1` gave
//!   no rows; PostgreSQL gives two).
//!
//! - `x = ANY(array)` and `x <> ALL(array)` are NULL, not false or true,
//!   when no element equals `x` and `x` or an element is NULL (the
//!   pg_catalog library's rewrite to `array_contains` ignored NULLs); over
//!   a subquery they are `IN` and `NOT IN`, which they mean.
//! - `doc #> '{a,b}'` and `#>>` follow the path, as `doc -> 'a' -> 'b'`
//!   would; DataFusion took the whole path for one key and answered NULL.
//!
//! `to_char` is in [`super::to_char`].

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, DateTimeField, Expr, FunctionArguments, Query, SetExpr, SetOperator,
    SetQuantifier, Statement, Value, VisitorMut,
};

use super::sql_ast::{call, named, positional, visit_until_error};
use crate::error::{SqlError, SqlResult};
use crate::value::{Element, SqlType};

/// Whether the (lower-case) query text may hold one of the forms.
pub fn mentioned(lower: &str) -> bool {
    [
        "similar",
        "regexp_replace",
        "array_re",
        "second",
        "except",
        "intersect",
        "#>",
        "any",
        "some",
        "all",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

pub fn rewrite(stmt: &mut Statement) -> SqlResult<()> {
    visit_until_error(stmt, &mut Meanings)
}

struct Meanings;

impl VisitorMut for Meanings {
    type Break = SqlError;

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<SqlError> {
        match multiset_operation(&q.body) {
            Some(op) => ControlFlow::Break(SqlError::feature_not_supported(format!(
                "{op} ALL is not supported; {op} (without ALL) is"
            ))),
            None => ControlFlow::Continue(()),
        }
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<SqlError> {
        match rewritten(e) {
            Ok(Some(new)) => {
                *e = new;
                ControlFlow::Continue(())
            }
            Ok(None) => ControlFlow::Continue(()),
            Err(err) => ControlFlow::Break(err),
        }
    }
}

/// `EXCEPT` or `INTERSECT` if `body` holds one with ALL.
fn multiset_operation(body: &SetExpr) -> Option<&'static str> {
    let SetExpr::SetOperation {
        left,
        op,
        set_quantifier,
        right,
    } = body
    else {
        return None;
    };
    let all = matches!(
        set_quantifier,
        SetQuantifier::All | SetQuantifier::AllByName
    );
    match op {
        SetOperator::Except | SetOperator::Minus if all => Some("EXCEPT"),
        SetOperator::Intersect if all => Some("INTERSECT"),
        _ => multiset_operation(left).or_else(|| multiset_operation(right)),
    }
}

/// A string literal's text.
pub fn string_literal(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

fn text(s: String) -> Expr {
    Expr::value(Value::SingleQuotedString(s))
}

/// What `e` becomes, if it changes.
fn rewritten(e: &Expr) -> SqlResult<Option<Expr>> {
    match e {
        Expr::SimilarTo {
            negated,
            expr,
            pattern,
            escape_char,
        } => {
            let escape = match escape_char {
                None => Some('\\'),
                Some(v) => match &v.value {
                    Value::SingleQuotedString(s) => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (None, _) => None,
                            (Some(c), None) => Some(c),
                            _ => {
                                return Err(SqlError::invalid_escape_sequence(
                                    "invalid escape string: it must be empty or one character",
                                ))
                            }
                        }
                    }
                    _ => return Err(not_literal("SIMILAR TO's ESCAPE")),
                },
            };
            let pattern = string_literal(pattern).ok_or_else(|| not_literal("SIMILAR TO"))?;
            let op = match negated {
                false => BinaryOperator::PGRegexMatch,
                true => BinaryOperator::PGRegexNotMatch,
            };
            Ok(Some(Expr::BinaryOp {
                left: expr.clone(),
                op,
                right: Box::new(text(similar_to_regex(pattern, escape))),
            }))
        }
        Expr::Extract { field, expr, .. } if is_second(field) => Ok(Some(seconds(expr))),
        Expr::AnyOp {
            left,
            compare_op: BinaryOperator::Eq,
            right,
            ..
        } => Ok(Some(membership(left, right, false)?)),
        Expr::AllOp {
            left,
            compare_op: BinaryOperator::NotEq,
            right,
        } => Ok(Some(membership(left, right, true)?)),
        Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::HashArrow | BinaryOperator::HashLongArrow),
            right,
        } => {
            let path = string_literal(right).ok_or_else(|| not_literal("#> and #>>"))?;
            json_path(left, path, *op == BinaryOperator::HashLongArrow).map(Some)
        }
        Expr::Function(f) => {
            let FunctionArguments::List(list) = &f.args else {
                return Ok(None);
            };
            let args = positional(&list.args);
            for name in ["array_remove", "array_replace"] {
                if named(&f.name, name) {
                    let mut f = f.clone();
                    let all = format!("{name}_all");
                    f.name = sqlparser::ast::ObjectName::from(vec![all.as_str().into()]);
                    return Ok(Some(Expr::Function(f)));
                }
            }
            let second =
                |e: &Expr| string_literal(e).is_some_and(|p| p.eq_ignore_ascii_case("second"));
            if named(&f.name, "date_part") && args.len() == 2 && second(&args[0]) {
                return Ok(Some(seconds(&args[1])));
            }
            if named(&f.name, "regexp_replace") && args.len() >= 3 {
                if let Some(replacement) = string_literal(&args[2]) {
                    let mut args = args.clone();
                    args[2] = text(rust_replacement(replacement)?);
                    return Ok(Some(call("regexp_replace", args)));
                }
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// `doc #> '{a,b}'` as `doc -> 'a' -> 'b'` (the last step `->>` for
/// `#>>`); `#> '{}'` is the document itself. An element that reads as a
/// number would be an array index in PostgreSQL when its container is an
/// array and a key when it is an object, which a chain of `->` must choose
/// beforehand: it is refused.
fn json_path(doc: &Expr, path: &str, as_text: bool) -> SqlResult<Expr> {
    let elements =
        match crate::value::Value::Text(path.to_string()).coerce(SqlType::Array(Element::Text))? {
            crate::value::Value::Array(items) => items,
            _ => return Err(SqlError::internal("a text array literal read as no array")),
        };
    let mut out = doc.clone();
    let last = elements.len();
    for (i, element) in elements.into_iter().enumerate() {
        let crate::value::Value::Text(key) = element else {
            return Err(SqlError::feature_not_supported(
                "a NULL in a #> path is not supported",
            ));
        };
        if key.trim_start_matches('-').parse::<u64>().is_ok() {
            return Err(SqlError::feature_not_supported(format!(
                "a number in a #> path (\"{key}\") is not supported; use -> {key} for an array element"
            )));
        }
        let op = match as_text && i + 1 == last {
            true => BinaryOperator::LongArrow,
            false => BinaryOperator::Arrow,
        };
        out = Expr::BinaryOp {
            left: Box::new(out),
            op,
            right: Box::new(text(key)),
        };
    }
    if last == 0 && as_text {
        return Ok(super::sql_ast::cast(out, sqlparser::ast::DataType::Text));
    }
    Ok(out)
}

/// `x = ANY(set)`, or with `negated` `x <> ALL(set)` (its negation), with
/// PostgreSQL's NULLs: over a subquery that is `x [NOT] IN (subquery)`;
/// over an array, true if an element equals `x`, else NULL if `x` or an
/// element is NULL (and the array is not empty), else false.
fn membership(x: &Expr, set: &Expr, negated: bool) -> SqlResult<Expr> {
    if let Expr::Subquery(query) = set {
        return Ok(Expr::InSubquery {
            expr: Box::new(x.clone()),
            subquery: query.clone(),
            negated,
        });
    }
    let any = format!(
        "CASE WHEN ({set}) IS NULL THEN NULL \
         WHEN cardinality({set}) = 0 THEN false \
         WHEN array_contains({set}, {x}) THEN true \
         WHEN ({x}) IS NULL OR array_position({set}, NULL) IS NOT NULL THEN NULL \
         ELSE false END"
    );
    let any = super::sql_ast::parsed_expr(&any).ok_or_else(|| {
        SqlError::internal(format!("ANY/ALL rewritten into no expression: {any}"))
    })?;
    Ok(match negated {
        false => Expr::Nested(Box::new(any)),
        true => Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Not,
            expr: Box::new(Expr::Nested(Box::new(any))),
        },
    })
}

fn not_literal(what: &str) -> SqlError {
    SqlError::feature_not_supported(format!("{what} takes only a literal pattern here"))
}

fn is_second(field: &DateTimeField) -> bool {
    matches!(field, DateTimeField::Second | DateTimeField::Seconds)
}

/// The seconds of `e` with their fraction: DataFusion's microseconds part
/// counts the whole seconds too, as PostgreSQL's does.
fn seconds(e: &Expr) -> Expr {
    let micros = call("date_part", vec![text("microsecond".into()), e.clone()]);
    Expr::BinaryOp {
        left: Box::new(micros),
        op: BinaryOperator::Divide,
        right: Box::new(Expr::value(Value::Number("1000000.0".into(), false))),
    }
}

/// A SIMILAR TO pattern as a regular expression, as PostgreSQL's
/// `similar_escape` makes it: anchored at both ends, `%` and `_` the
/// wildcards, `.` `^` `$` themselves, `escape` (if any) making the next
/// character itself, bracket expressions copied as they are.
fn similar_to_regex(pattern: &str, escape: Option<char>) -> String {
    let mut out = String::from("^(?:");
    let mut chars = pattern.chars();
    let mut in_brackets = false;
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            if let Some(next) = chars.next() {
                push_literal(&mut out, next);
            }
            continue;
        }
        if in_brackets {
            if c == ']' {
                in_brackets = false;
            }
            out.push(c);
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                in_brackets = true;
                out.push(c);
            }
            '(' => out.push_str("(?:"),
            '.' | '^' | '$' | '\\' => push_literal(&mut out, c),
            _ => out.push(c),
        }
    }
    out.push_str(")$");
    out
}

fn push_literal(out: &mut String, c: char) {
    out.push_str(&regex_escape(c));
}

fn regex_escape(c: char) -> String {
    if c.is_ascii_punctuation() {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// A PostgreSQL `regexp_replace` replacement in the form DataFusion passes
/// to Rust's regex: `\1`…`\9` the groups, `\&` the whole match, `\\` a
/// backslash, `$` itself. DataFusion turns any backslash before digits
/// into a group, so a literal backslash before a digit cannot be said and
/// is refused.
fn rust_replacement(pg: &str) -> SqlResult<String> {
    let mut out = String::new();
    let mut chars = pg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some(d @ '1'..='9') => {
                    out.push_str("${");
                    out.push(d);
                    out.push('}');
                }
                Some('&') => out.push_str("${0}"),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(char::is_ascii_digit) {
            return Err(SqlError::feature_not_supported(
                "a literal backslash before a digit in regexp_replace's replacement is not supported",
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datafusion::sql_ast::statement;

    fn rewritten_sql(sql: &str) -> SqlResult<String> {
        let mut stmt = statement(sql);
        rewrite(&mut stmt)?;
        Ok(stmt.to_string())
    }

    #[test]
    fn similar_to_patterns_become_anchored_regular_expressions() {
        assert_eq!(similar_to_regex("a%", Some('\\')), "^(?:a.*)$");
        assert_eq!(similar_to_regex("a_c.d", Some('\\')), "^(?:a.c\\.d)$");
        assert_eq!(similar_to_regex("%(b|x)%", Some('\\')), "^(?:.*(?:b|x).*)$");
        assert_eq!(similar_to_regex("[%_]x\\%", Some('\\')), "^(?:[%_]x\\%)$");
        assert_eq!(similar_to_regex("a!%", Some('!')), "^(?:a\\%)$");
        assert_eq!(similar_to_regex("a\\b", None), "^(?:a\\\\b)$");
        let sql = rewritten_sql("SELECT 'abc' NOT SIMILAR TO 'a%'").unwrap();
        assert_eq!(sql, "SELECT 'abc' !~ '^(?:a.*)$'");
        let e = rewritten_sql("SELECT 'a' SIMILAR TO key FROM objects").unwrap_err();
        assert_eq!(e.state, crate::error::SqlState::FeatureNotSupported);
    }

    #[test]
    fn replacements_are_read_as_postgres_writes_them() {
        assert_eq!(rust_replacement("$5").unwrap(), "$$5");
        assert_eq!(rust_replacement("\\1x").unwrap(), "${1}x");
        assert_eq!(rust_replacement("\\&\\&").unwrap(), "${0}${0}");
        assert_eq!(rust_replacement("a\\\\b").unwrap(), "a\\b");
        assert!(rust_replacement("\\\\1").is_err());
    }

    #[test]
    fn multiset_operations_are_refused_and_the_rest_rewritten() {
        for sql in [
            "SELECT 1 EXCEPT ALL SELECT 1",
            "SELECT 1 UNION SELECT 2 INTERSECT ALL SELECT 1",
            "SELECT * FROM (SELECT 1 EXCEPT ALL SELECT 2) t",
        ] {
            let e = rewritten_sql(sql).unwrap_err();
            assert_eq!(
                e.state,
                crate::error::SqlState::FeatureNotSupported,
                "{sql}"
            );
        }
        assert!(rewritten_sql("SELECT 1 EXCEPT SELECT 1 UNION ALL SELECT 2").is_ok());
        assert_eq!(
            rewritten_sql("SELECT d #> '{a,\"b c\"}', d #>> '{a,b}', d #>> '{}' FROM t").unwrap(),
            "SELECT d -> 'a' -> 'b c', d -> 'a' ->> 'b', CAST(d AS TEXT) FROM t"
        );
        assert!(rewritten_sql("SELECT d #> '{a,1}' FROM t").is_err());
        let any = rewritten_sql("SELECT 3 = ANY(ARRAY[1, NULL]) FROM t").unwrap();
        assert!(any.contains("CASE WHEN"), "{any}");
        assert_eq!(
            rewritten_sql("SELECT array_remove(a, 1), ARRAY_REPLACE(a, 1, 2) FROM t").unwrap(),
            "SELECT array_remove_all(a, 1), array_replace_all(a, 1, 2) FROM t"
        );
    }
}
