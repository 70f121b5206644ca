//! Scalar functions: text, session and JSON access.

use super::{EvalEnv, Func};
use crate::error::{SqlError, SqlResult};
use crate::settings::version_string;
use crate::value::{format_wall_clock, Value};

pub(super) fn call(f: Func, args: Vec<Value>, env: &EvalEnv) -> SqlResult<Value> {
    let text_fn = |args: Vec<Value>, op: fn(&str) -> Value| match args.into_iter().next() {
        Some(Value::Null) | None => Value::Null,
        Some(v) => op(&v.to_text()),
    };
    Ok(match f {
        Func::Now => Value::Timestamp(env.now),
        Func::Lower => text_fn(args, |s| Value::Text(s.to_lowercase())),
        Func::Upper => text_fn(args, |s| Value::Text(s.to_uppercase())),
        Func::Length => text_fn(args, |s| Value::Int(s.chars().count() as i64)),
        Func::Coalesce => args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        Func::Version => Value::Text(version_string()),
        Func::CurrentDatabase => Value::Text(env.settings.database().to_string()),
        Func::CurrentSchema => env
            .settings
            .search_path_schemas()
            .first()
            .map_or(Value::Null, |s| Value::Text(s.to_string())),
        Func::CurrentUser => Value::Text(env.settings.user().to_string()),
        Func::CurrentSetting => match args.into_iter().next() {
            Some(Value::Text(name)) => Value::Text(env.settings.show(&name)?),
            _ => Value::Null,
        },
        Func::WallClockText => match args.into_iter().next() {
            Some(Value::Timestamp(t)) => Value::Text(format_wall_clock(t)),
            Some(other) => other,
            None => Value::Null,
        },
        Func::JsonGet | Func::JsonGetText => {
            let mut it = args.into_iter();
            match (it.next(), it.next()) {
                (Some(Value::Text(doc)), Some(path)) => {
                    json_element(&doc, &path, matches!(f, Func::JsonGetText))?
                }
                _ => Value::Null,
            }
        }
    })
}

/// The element of JSON text `doc` at an object key (text) or an array
/// index (integer; negative counts from the end), as PostgreSQL's `->`
/// (JSON text) or `->>` (`as_text`: a string unquoted, JSON null as NULL).
/// A missing element is NULL.
fn json_element(doc: &str, path: &Value, as_text: bool) -> SqlResult<Value> {
    let parsed: serde_json::Value = serde_json::from_str(doc).map_err(|e| {
        SqlError::invalid_text_representation(format!("invalid input syntax for type json: {e}"))
    })?;
    let element = match (&parsed, path) {
        (serde_json::Value::Object(map), Value::Text(k)) => map.get(k),
        (serde_json::Value::Array(items), Value::Int(i)) => {
            let len = items.len() as i64;
            let at = if *i < 0 { len + i } else { *i };
            usize::try_from(at).ok().and_then(|at| items.get(at))
        }
        _ => None,
    };
    Ok(match element {
        None => Value::Null,
        Some(serde_json::Value::Null) if as_text => Value::Null,
        Some(serde_json::Value::String(s)) if as_text => Value::Text(s.clone()),
        Some(other) => Value::Text(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn json_access_follows_postgres() {
        let doc = r#"{"a": "x", "n": 3, "z": null, "list": [1, "two", {"k": true}]}"#;
        let get = |path: Value, as_text| json_element(doc, &path, as_text).unwrap();
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(get(t("a"), false), t("\"x\""));
        assert_eq!(get(t("a"), true), t("x"));
        assert_eq!(get(t("n"), true), t("3"));
        assert_eq!(get(t("z"), false), t("null"));
        assert_eq!(get(t("z"), true), Value::Null);
        assert_eq!(get(t("missing"), true), Value::Null);
        assert_eq!(get(Value::Int(0), true), Value::Null, "not an array");
        let list = json_element(doc, &t("list"), false).unwrap();
        let Value::Text(list) = list else { panic!() };
        assert_eq!(json_element(&list, &Value::Int(1), true).unwrap(), t("two"));
        assert_eq!(
            json_element(&list, &Value::Int(-1), false).unwrap(),
            t(r#"{"k":true}"#)
        );
        assert_eq!(
            json_element(&list, &Value::Int(9), false).unwrap(),
            Value::Null
        );
        assert_eq!(
            json_element("{oops", &t("a"), true).unwrap_err().state,
            SqlState::InvalidTextRepresentation
        );
    }
}
