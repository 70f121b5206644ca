//! The text of a `jsonb` value as PostgreSQL prints it. A `jsonb` is
//! normalised when it is made, and bucketdb keeps that normal form as the
//! value's text, so two `jsonb` values are equal when their texts are:
//! `'{"b":1,"a":2}'::jsonb = '{"a": 2, "b": 1}'::jsonb` is true.
//!
//! PostgreSQL's normal form: an object's keys are unique (the last of a
//! duplicated key wins) and sorted shorter first, then bytewise; items are
//! separated by `, ` and a key from its value by `: `; strings are written
//! with PostgreSQL's escapes (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
//! `\u00XX` for the other control characters, everything else as itself);
//! numbers are `numeric`s, so `1e2` is `100` and `1.50` keeps its scale.
//!
//! The input is parsed here rather than with serde_json, whose numbers
//! lose their written digits without a crate feature that would change
//! every other user of it in the build.

use crate::error::{SqlError, SqlResult};

/// `text` as a `jsonb` value's normal text, or 22P02 if it is not JSON.
pub fn normalize(text: &str) -> SqlResult<String> {
    Ok(write(&parse(text)?, text.len(), Numbers::AsWritten))
}

/// A `jsonb` value's equality key: its normal text with every number at
/// its least scale (`1.50` as `1.5`, `1.0` and `-0` as `1` and `0`).
/// PostgreSQL compares a jsonb's numbers as numerics, which ignore scale,
/// so two values are equal exactly when their keys are: `'1.0'::jsonb =
/// '1'::jsonb` is true, yet each keeps the digits it was written with.
/// 22P02 if `text` is not JSON.
pub fn equality_key(text: &str) -> SqlResult<String> {
    Ok(write(&parse(text)?, text.len(), Numbers::LeastScale))
}

fn parse(text: &str) -> SqlResult<Node> {
    let mut p = Parser {
        s: text.as_bytes(),
        at: 0,
    };
    let node = p.value(0)?;
    p.space();
    if p.at != p.s.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(node)
}

fn write(node: &Node, capacity: usize, numbers: Numbers) -> String {
    let mut out = String::with_capacity(capacity);
    node.write(&mut out, numbers);
    out
}

/// How a number is written: as its normal text, or at its least scale.
#[derive(Clone, Copy)]
enum Numbers {
    AsWritten,
    LeastScale,
}

/// A number's normal text (plain digits, no exponent) without the zeros
/// that end its fraction; `-0` is `0`.
fn least_scale(n: &str) -> &str {
    let n = match n.contains('.') {
        true => n.trim_end_matches('0').trim_end_matches('.'),
        false => n,
    };
    if n == "-0" {
        "0"
    } else {
        n
    }
}

/// How deep arrays and objects may nest: PostgreSQL stops at its stack
/// depth limit; a bound keeps a hostile document from exhausting ours.
const MAX_DEPTH: usize = 1000;

enum Node {
    Null,
    Bool(bool),
    /// A number's normal text.
    Number(String),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    fn write(&self, out: &mut String, numbers: Numbers) {
        match self {
            Node::Null => out.push_str("null"),
            Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Node::Number(n) => out.push_str(match numbers {
                Numbers::AsWritten => n,
                Numbers::LeastScale => least_scale(n),
            }),
            Node::String(s) => write_string(s, out),
            Node::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, numbers);
                }
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_string(key, out);
                    out.push_str(": ");
                    value.write(out, numbers);
                }
                out.push('}');
            }
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> SqlError {
        SqlError::invalid_text_representation(format!(
            "invalid input syntax for type json: {what} at byte {}",
            self.at
        ))
    }

    fn space(&mut self) {
        while matches!(self.s.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn literal(&mut self, word: &str) -> bool {
        let found = self.s[self.at..].starts_with(word.as_bytes());
        if found {
            self.at += word.len();
        }
        found
    }

    fn value(&mut self, depth: usize) -> SqlResult<Node> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.space();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Node::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ if self.literal("null") => Ok(Node::Null),
            _ if self.literal("true") => Ok(Node::Bool(true)),
            _ if self.literal("false") => Ok(Node::Bool(false)),
            _ => Err(self.error("expected a value")),
        }
    }

    fn array(&mut self, depth: usize) -> SqlResult<Node> {
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Node::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Node::Array(items));
                }
                _ => return Err(self.error("expected , or ]")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> SqlResult<Node> {
        self.at += 1;
        let mut members: Vec<(String, Node)> = Vec::new();
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Node::Object(members));
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            self.space();
            if self.peek() != Some(b':') {
                return Err(self.error("expected :"));
            }
            self.at += 1;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    break;
                }
                _ => return Err(self.error("expected , or }")),
            }
        }
        // The last of a duplicated key wins; keys sort shorter first.
        let mut unique: Vec<(String, Node)> = Vec::with_capacity(members.len());
        for (key, value) in members.into_iter().rev() {
            if !unique.iter().any(|(k, _)| *k == key) {
                unique.push((key, value));
            }
        }
        unique.sort_by(|(a, _), (b, _)| {
            a.len()
                .cmp(&b.len())
                .then_with(|| a.as_bytes().cmp(b.as_bytes()))
        });
        Ok(Node::Object(unique))
    }

    fn string(&mut self) -> SqlResult<String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("unterminated string"));
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let c = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                0..=0x1f => return Err(self.error("control character in a string")),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8"))
    }

    fn hex4(&mut self) -> SqlResult<u32> {
        let digits = self
            .s
            .get(self.at..self.at + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        self.at += 4;
        Ok(digits)
    }

    /// The character of a `\uXXXX` escape (a surrogate pair is two). As in
    /// PostgreSQL, `\u0000` cannot be stored in text.
    fn unicode_escape(&mut self) -> SqlResult<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.literal("\\u") {
                return Err(self.error("unpaired surrogate"));
            }
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error("unpaired surrogate"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        if code == 0 {
            return Err(SqlError::untranslatable_character(
                "unsupported Unicode escape sequence: \\u0000 cannot be converted to text",
            ));
        }
        char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate"))
    }

    /// A number, as `numeric` prints it: the exponent applied, the scale
    /// the digits after the point had (less the exponent, at least 0).
    fn number(&mut self) -> SqlResult<Node> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let int = self.digits();
        if int.is_empty() || (int.len() > 1 && int.starts_with('0')) {
            return Err(self.error("invalid number"));
        }
        let mut frac = String::new();
        if self.peek() == Some(b'.') {
            self.at += 1;
            frac = self.digits();
            if frac.is_empty() {
                return Err(self.error("invalid number"));
            }
        }
        let mut exponent: i64 = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            let sign = match self.peek() {
                Some(b'-') => {
                    self.at += 1;
                    -1
                }
                Some(b'+') => {
                    self.at += 1;
                    1
                }
                _ => 1,
            };
            let e = self.digits();
            if e.is_empty() {
                return Err(self.error("invalid number"));
            }
            exponent = e
                .parse::<i64>()
                .ok()
                .filter(|e| *e <= 1000)
                .ok_or_else(|| {
                    SqlError::numeric_value_out_of_range(format!(
                        "the exponent of a JSON number is out of range at byte {}",
                        self.at
                    ))
                })?
                * sign;
        }
        if exponent == 0 {
            let text = std::str::from_utf8(&self.s[start..self.at])
                .map_err(|_| self.error("invalid number"))?;
            let text = text.split(['e', 'E']).next().unwrap_or(text);
            return Ok(Node::Number(signed(negative, text.trim_start_matches('-'))));
        }
        // All digits, and where the point goes among them.
        let digits = format!("{int}{frac}");
        let point = int.len() as i64 + exponent;
        let scale = (frac.len() as i64 - exponent).max(0) as usize;
        let body = if point <= 0 {
            let zeros = "0".repeat((-point) as usize);
            format!("0.{zeros}{digits}")
        } else if point as usize >= digits.len() {
            let zeros = "0".repeat(point as usize - digits.len());
            format!("{digits}{zeros}")
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        Ok(Node::Number(signed(negative, &with_scale(&body, scale))))
    }

    fn digits(&mut self) -> String {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.at]).into_owned()
    }
}

/// `body` (digits with at most one point) with exactly `scale` digits
/// after the point and no needless leading zeros.
fn with_scale(body: &str, scale: usize) -> String {
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut frac = frac.to_string();
    frac.truncate(scale);
    while frac.len() < scale {
        frac.push('0');
    }
    match scale {
        0 => int.to_string(),
        _ => format!("{int}.{frac}"),
    }
}

/// A numeric's text with its sign: `-0` is `0`, as in PostgreSQL.
fn signed(negative: bool, magnitude: &str) -> String {
    let zero = magnitude.bytes().all(|b| b == b'0' || b == b'.');
    match negative && !zero {
        true => format!("-{magnitude}"),
        false => magnitude.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn equality_keys_ignore_a_number_s_scale_and_nothing_else() {
        let key = |t: &str| equality_key(t).unwrap();
        for (a, b) in [
            ("1.0", "1"),
            ("-0.0", "0"),
            ("-0", "0.000"),
            ("2.50", "2.5"),
            ("100", "1e2"),
            ("0.0250", "25e-3"),
            (
                r#"{"b":[1.10, {"c":0.0}],"a":2}"#,
                r#"{"a":2.0,"b":[1.1,{"c":0}]}"#,
            ),
        ] {
            assert_eq!(key(a), key(b), "{a} = {b}");
        }
        for (a, b) in [
            ("10", "1"),
            ("100", "1"),
            ("1.01", "1.1"),
            ("-1", "1"),
            (r#""1.0""#, r#""1""#),
            (r#"{"1.0":1}"#, r#"{"1":1}"#),
        ] {
            assert_ne!(key(a), key(b), "{a} <> {b}");
        }
        // The value itself keeps its digits.
        assert_eq!(normalize("[1.0]").unwrap(), "[1.0]");
        assert_eq!(
            equality_key("[1,").unwrap_err().state,
            SqlState::InvalidTextRepresentation
        );
    }

    #[test]
    fn normal_form_is_postgresql_s() {
        for (input, normal) in [
            (r#"{"b":1,"a":2}"#, r#"{"a": 2, "b": 1}"#),
            (r#"{"aa":1,"b":2,"a":3}"#, r#"{"a": 3, "b": 2, "aa": 1}"#),
            (r#"{"a":1,"a":2}"#, r#"{"a": 2}"#),
            (" [1 ,2,[ ],{ }] ", "[1, 2, [], {}]"),
            (r#""\u00e9\/\n\u0001""#, "\"é/\\n\\u0001\""),
            ("1e2", "100"),
            ("1.50", "1.50"),
            ("1.5e1", "15"),
            ("1.50e1", "15.0"),
            ("25e-3", "0.025"),
            ("-0", "0"),
            ("-0.0", "0.0"),
            ("-12.5E+1", "-125"),
            ("true", "true"),
            ("null", "null"),
            (r#""\ud83d\ude00""#, "\"😀\""),
        ] {
            assert_eq!(normalize(input).unwrap(), normal, "{input}");
        }
    }

    #[test]
    fn what_is_not_json_is_refused() {
        for input in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            "1e",
            "-",
            "tru",
            "\"\\x\"",
            "1 2",
            "\"\\ud83d\"",
        ] {
            let e = normalize(input).unwrap_err();
            assert_eq!(e.state, SqlState::InvalidTextRepresentation, "{input}");
        }
        assert_eq!(
            normalize("1e9999").unwrap_err().state,
            SqlState::NumericValueOutOfRange
        );
        let deep = "[".repeat(MAX_DEPTH + 2);
        assert!(normalize(&deep).is_err());
        assert_eq!(
            normalize(r#""\u0000""#).unwrap_err().state,
            SqlState::UntranslatableCharacter
        );
    }
}
