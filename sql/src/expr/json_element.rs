//! PostgreSQL's `->` and `->>` on JSON text: the element at a key or an
//! index, as the document wrote it.
//!
//! The element is cut out of the document's text rather than parsed and
//! printed again: serde_json (without a crate feature that would change
//! every other user of it in the build) reads numbers as `f64`, so
//! `{"a": 1.50}` gave `1.5` and a 23-digit integer came back in exponent
//! form. PostgreSQL returns a `json` element as written and a `jsonb` one
//! in its normal form; the document's text already is that form for a
//! `jsonb`, so a slice of it is right for both.

use crate::error::{SqlError, SqlResult};
use crate::value::Value;

/// The element of JSON text `doc` at an object key (text) or an array
/// index (integer; negative counts from the end), as PostgreSQL's `->`
/// (JSON text) or `->>` (`as_text`: a string unquoted, JSON null as NULL).
/// A missing element is NULL; a duplicated key yields its last value, as
/// PostgreSQL's JSON functions do.
pub(super) fn json_element(doc: &str, path: &Value, as_text: bool) -> SqlResult<Value> {
    // Checked whole first (without building it), so the scan below only
    // meets valid JSON.
    serde_json::from_str::<serde::de::IgnoredAny>(doc).map_err(|e| {
        SqlError::invalid_text_representation(format!("invalid input syntax for type json: {e}"))
    })?;
    let element = match path {
        Value::Text(key) => object_member(doc, key)?,
        Value::Int(i) => array_item(doc, *i),
        _ => None,
    };
    Ok(match element {
        None => Value::Null,
        Some("null") if as_text => Value::Null,
        Some(s) if as_text && s.starts_with('"') => Value::Text(unquote(s)?),
        Some(s) => Value::Text(s.to_string()),
    })
}

fn unquote(s: &str) -> SqlResult<String> {
    serde_json::from_str::<String>(s).map_err(|e| {
        SqlError::invalid_text_representation(format!("invalid input syntax for type json: {e}"))
    })
}

/// The text of the last member named `key`, if `doc` is an object.
fn object_member<'a>(doc: &'a str, key: &str) -> SqlResult<Option<&'a str>> {
    let mut found = None;
    if let Some(members) = Members::of(doc, b'{') {
        for (name, value) in members.pairs() {
            if unquote(name)? == key {
                found = Some(value);
            }
        }
    }
    Ok(found)
}

/// The text of the item at `index`, if `doc` is an array.
fn array_item(doc: &str, index: i64) -> Option<&str> {
    let items: Vec<&str> = Members::of(doc, b'[')?.collect();
    let len = items.len() as i64;
    let at = if index < 0 { len + index } else { index };
    usize::try_from(at)
        .ok()
        .and_then(|at| items.get(at).copied())
}

/// The top-level values of a valid JSON array or object, in order (for an
/// object, names and values alternate).
struct Members<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Members<'a> {
    fn of(doc: &'a str, open: u8) -> Option<Members<'a>> {
        let start = doc.len() - doc.trim_start().len();
        (doc.as_bytes().get(start) == Some(&open)).then_some(Members {
            s: doc,
            at: start + 1,
        })
    }

    fn pairs(self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let mut it = self;
        std::iter::from_fn(move || Some((it.next()?, it.next()?)))
    }

    fn skip_space_and(&mut self, separators: &[u8]) {
        let b = self.s.as_bytes();
        while b
            .get(self.at)
            .is_some_and(|c| c.is_ascii_whitespace() || separators.contains(c))
        {
            self.at += 1;
        }
    }

    /// The end of the value starting at `from`.
    fn value_end(&self, from: usize) -> usize {
        let b = self.s.as_bytes();
        let mut at = from;
        let mut depth = 0usize;
        let mut in_string = false;
        while let Some(&c) = b.get(at) {
            at += 1;
            if in_string {
                match c {
                    b'\\' => at += 1,
                    b'"' => {
                        in_string = false;
                        if depth == 0 {
                            return at;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                // The container's own end: the last value ended before it.
                b'}' | b']' if depth == 0 => return at - 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return at;
                    }
                }
                b',' | b':' if depth == 0 => return at - 1,
                c if depth == 0 && c.is_ascii_whitespace() => return at - 1,
                _ => {}
            }
        }
        at.min(b.len())
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.skip_space_and(b",:");
        let c = *self.s.as_bytes().get(self.at)?;
        if c == b'}' || c == b']' {
            return None;
        }
        let start = self.at;
        self.at = self.value_end(start);
        self.s.get(start..self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn json_access_follows_postgres() {
        let doc = r#"{"a": "x", "n": 3, "z": null, "list": [1, "two", {"k": true}]}"#;
        let get = |path: Value, as_text| json_element(doc, &path, as_text).unwrap();
        assert_eq!(get(t("a"), false), t("\"x\""));
        assert_eq!(get(t("a"), true), t("x"));
        assert_eq!(get(t("n"), true), t("3"));
        assert_eq!(get(t("z"), false), t("null"));
        assert_eq!(get(t("z"), true), Value::Null);
        assert_eq!(get(t("missing"), true), Value::Null);
        assert_eq!(get(Value::Int(0), true), Value::Null, "not an array");
        let list = json_element(doc, &t("list"), false).unwrap();
        assert_eq!(list, t(r#"[1, "two", {"k": true}]"#), "as written");
        let Value::Text(list) = list else { panic!() };
        assert_eq!(json_element(&list, &Value::Int(1), true).unwrap(), t("two"));
        assert_eq!(
            json_element(&list, &Value::Int(-1), false).unwrap(),
            t(r#"{"k": true}"#)
        );
        assert_eq!(
            json_element(&list, &Value::Int(9), false).unwrap(),
            Value::Null
        );
        assert_eq!(
            json_element(&list, &Value::Int(-4), false).unwrap(),
            Value::Null
        );
        assert_eq!(
            json_element("{oops", &t("a"), true).unwrap_err().state,
            SqlState::InvalidTextRepresentation
        );
    }

    /// Numbers keep their digits; strings with escapes, keys with escapes
    /// and nesting with brackets inside strings are cut out whole.
    #[test]
    fn elements_are_the_documents_own_text() {
        let doc = r#" { "n" : 1.50 , "big":12345678901234567890123, "s": "a\"]},b",
            "e\u0041": {"x": "}"}, "n": 2.0e3 } "#;
        let get = |key: &str, as_text| json_element(doc, &t(key), as_text).unwrap();
        assert_eq!(get("n", false), t("2.0e3"), "the last of a duplicated key");
        assert_eq!(get("big", true), t("12345678901234567890123"));
        assert_eq!(get("s", false), t(r#""a\"]},b""#));
        assert_eq!(get("s", true), t("a\"]},b"));
        assert_eq!(get("eA", false), t(r#"{"x": "}"}"#));
        let arr = r#"[ 1.50 ,[2, [3]], "x,y" ,true]"#;
        let at = |i: i64| json_element(arr, &Value::Int(i), false).unwrap();
        assert_eq!(at(0), t("1.50"));
        assert_eq!(at(1), t("[2, [3]]"));
        assert_eq!(at(2), t(r#""x,y""#));
        assert_eq!(at(3), t("true"));
        assert_eq!(at(-4), t("1.50"));
        assert_eq!(
            json_element("[]", &Value::Int(0), false).unwrap(),
            Value::Null
        );
        assert_eq!(json_element("{}", &t("a"), false).unwrap(), Value::Null);
        assert_eq!(json_element("7", &t("a"), false).unwrap(), Value::Null);
    }
}
