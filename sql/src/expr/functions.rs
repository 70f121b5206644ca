//! Scalar functions: text, session and JSON access.

use super::json_element::json_element;
use super::{EvalEnv, Func};
use crate::error::SqlResult;
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
        Func::JsonbKey => match args.into_iter().next() {
            Some(Value::Null) | None => Value::Null,
            Some(v) => Value::Text(crate::jsonb::equality_key(&v.to_text())?),
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
