//! Error replies (`-ERR ...`, RESP3 blob errors `!...`), split into code and message.

use super::Value;
use std::fmt;

/// Most bytes of an error reply [`ErrorReply`]'s `Display` quotes; the fields keep all of it.
const DISPLAY_MAX: usize = 512;

/// An error reply from the server, split into its code (`ERR`, `WRONGTYPE`...) and message.
///
/// The fields hold the whole reply (lossily decoded as UTF-8); `Display` quotes at most a
/// prefix of it, with control characters escaped, so it can go into a log line as it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorReply {
    /// The first word of the reply, e.g. `ERR`, `WRONGTYPE`, `READONLY`.
    pub code: String,
    /// The rest of the line (empty when the reply is a single word).
    pub message: String,
}

impl ErrorReply {
    /// Splits a raw error line such as `WRONGTYPE Operation against a key...` at its first space.
    pub fn parse(line: &[u8]) -> ErrorReply {
        let text = String::from_utf8_lossy(line);
        match text.split_once(' ') {
            Some((code, msg)) => ErrorReply {
                code: code.to_string(),
                message: msg.to_string(),
            },
            None => ErrorReply {
                code: text.into_owned(),
                message: String::new(),
            },
        }
    }

    /// The error reply `v` carries (simple or blob error, attributes looked through), if it is one.
    pub fn from_value(v: &Value) -> Option<ErrorReply> {
        match v {
            Value::Error(line) | Value::BlobError(line) => Some(ErrorReply::parse(line)),
            Value::Attributed { value, .. } => ErrorReply::from_value(value),
            _ => None,
        }
    }

    /// True when the code is `code`, ignoring ASCII case (`reply.is("READONLY")`).
    pub fn is(&self, code: &str) -> bool {
        self.code.eq_ignore_ascii_case(code)
    }
}

/// Writes `s` with control characters escaped, stopping after `budget` bytes; returns what is left.
fn write_escaped(
    f: &mut fmt::Formatter<'_>,
    s: &str,
    mut budget: usize,
) -> Result<usize, fmt::Error> {
    for c in s.chars() {
        if budget < c.len_utf8() {
            f.write_str("...")?;
            return Ok(0);
        }
        budget -= c.len_utf8();
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    Ok(budget)
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let left = write_escaped(f, &self.code, DISPLAY_MAX)?;
        if !self.message.is_empty() && left > 0 {
            f.write_str(" ")?;
            write_escaped(f, &self.message, left)?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorReply {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ByteStr;

    #[test]
    fn splits_code_and_message() {
        let e = ErrorReply::parse(b"WRONGTYPE Operation against a key");
        assert_eq!(e.code, "WRONGTYPE");
        assert_eq!(e.message, "Operation against a key");
        assert_eq!(e.to_string(), "WRONGTYPE Operation against a key");
        let e = ErrorReply::parse(b"NOSCRIPT");
        assert_eq!((e.code.as_str(), e.message.as_str()), ("NOSCRIPT", ""));
        assert_eq!(e.to_string(), "NOSCRIPT");
        assert!(e.is("noscript"));
        let e = ErrorReply::parse(b"");
        assert_eq!((e.code.as_str(), e.message.as_str()), ("", ""));
    }

    #[test]
    fn from_value_reads_both_error_types_and_looks_through_attributes() {
        let simple = Value::Error(ByteStr::from_static(b"READONLY You can't write"));
        assert!(ErrorReply::from_value(&simple).unwrap().is("READONLY"));
        let blob = Value::BlobError(ByteStr::from_static(b"SYNTAX invalid syntax"));
        assert_eq!(ErrorReply::from_value(&blob).unwrap().code, "SYNTAX");
        let attributed = Value::Attributed {
            attributes: Vec::new(),
            value: Box::new(simple),
        };
        assert!(ErrorReply::from_value(&attributed).is_some());
        assert_eq!(ErrorReply::from_value(&Value::Integer(1)), None);
    }

    #[test]
    fn display_escapes_control_characters_and_caps_length() {
        let e = ErrorReply::parse(b"ERR line one\r\nline two\x1b[31m");
        assert_eq!(e.to_string(), "ERR line one\\r\\nline two\\u{1b}[31m");
        let long = format!("ERR {}", "x".repeat(10_000));
        let e = ErrorReply::parse(long.as_bytes());
        assert_eq!(e.message.len(), 10_000, "the field keeps everything");
        let shown = e.to_string();
        assert!(
            shown.len() <= DISPLAY_MAX + 8 && shown.ends_with("..."),
            "{}",
            shown.len()
        );
        let invalid = ErrorReply::parse(b"ERR \xff\xfe");
        assert_eq!(invalid.code, "ERR");
    }
}
