//! One parser per URL form, and the scheme dispatch between them.

mod kombu;
mod plain;
mod sentinel_scheme;

use super::{parts, values, SentinelTarget, UrlError};

/// Parses `url` in whichever accepted form its scheme (and, for plain `redis://`, its query
/// keys) selects.
pub(crate) fn parse(url: &str) -> Result<SentinelTarget, UrlError> {
    if url.trim().is_empty() {
        return Err(UrlError::Empty);
    }
    // Raw control characters (a pasted escape sequence, a trailing newline) are refused
    // everywhere, before any part of the URL can be quoted in an error.
    if url.chars().any(char::is_control) {
        return Err(UrlError::ControlCharacter { part: "URL".into() });
    }
    // A Celery list is split at `;` before its segments are read one by one.
    if parts::scheme(url)? == "sentinel" {
        return kombu::parse(url);
    }
    let parts = parts::split(url)?;
    match parts.scheme.as_str() {
        "redis+sentinel" | "valkey+sentinel" => sentinel_scheme::plus(parts, false),
        "rediss+sentinel" | "valkeys+sentinel" => sentinel_scheme::plus(parts, true),
        "redis-sentinel" | "valkey-sentinel" => sentinel_scheme::dash(parts, false),
        "rediss-sentinel" | "valkeys-sentinel" => sentinel_scheme::dash(parts, true),
        "redis" | "valkey" => plain::parse(parts, false),
        "rediss" | "valkeys" => plain::parse(parts, true),
        _ => Err(UrlError::UnknownScheme {
            scheme: parts.scheme,
        }),
    }
}

/// Stores `value` in `slot`, or reports a conflict if `slot` already holds a different value.
fn set_once(slot: &mut Option<String>, value: String, what: &'static str) -> Result<(), UrlError> {
    match slot {
        Some(old) if *old != value => Err(UrlError::Conflict {
            what,
            first: old.clone(),
            second: value,
        }),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// Like [`set_once`] for a database number.
fn set_db(slot: &mut Option<u32>, text: &str, what: &'static str) -> Result<(), UrlError> {
    let db = values::db(text)?;
    match *slot {
        Some(old) if old != db => Err(UrlError::Conflict {
            what,
            first: old.to_string(),
            second: db.to_string(),
        }),
        _ => {
            *slot = Some(db);
            Ok(())
        }
    }
}

/// A non-empty, percent-decoded service name.
fn service_name(raw: &str) -> Result<String, UrlError> {
    let name = super::percent::decode(raw, "service name", false, false)?;
    if name.is_empty() {
        return Err(UrlError::EmptyServiceName);
    }
    Ok(name)
}

/// Path of the forms that carry at most a database: `""`, `"/"` or `"/<db>"`.
fn db_only_path(path: &str, expected: &'static str) -> Result<Option<u32>, UrlError> {
    match parts::segments(path).as_slice() {
        [] => Ok(None),
        [db] if !db.is_empty() && db.bytes().all(|b| b.is_ascii_digit()) => {
            values::db(db).map(Some)
        }
        _ => Err(UrlError::BadPath {
            path: path.to_owned(),
            expected,
        }),
    }
}
