//! Terminal-safe text: everything the CLI prints that came from a server or from the user goes
//! through [`escape`], so a hostile server cannot set the terminal's title, clear the screen, or
//! forge output lines with ESC, CR, LF and the other control characters.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

/// `text` with every control character (C0, DEL, C1) written as a visible escape: `\r`, `\n`,
/// `\t`, `\x1b` (other C0 and DEL), `\u{9b}` (C1). Everything else is kept, backslashes too.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`escape`] of bytes read as UTF-8 (invalid sequences become U+FFFD).
pub fn escape_bytes(bytes: &[u8]) -> String {
    escape(&String::from_utf8_lossy(bytes)).into_owned()
}

/// Standard error for the log subscriber: each write is one formatted event; its control
/// characters are escaped except the newline that ends it.
pub struct EscapingStderr;

impl Write for EscapingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, newline) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (buf, false),
        };
        let mut line = escape_bytes(body);
        if newline {
            line.push('\n');
        }
        io::stderr().lock().write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(escape("plain 10.0.0.1:6379 é"), "plain 10.0.0.1:6379 é");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\u{1b}]0;title\u{7}b\rc\nd\te\u{0}f\u{7f}g\u{9b}h\u{85}"),
            "a\\x1b]0;title\\x07b\\rc\\nd\\te\\x00f\\x7fg\\u{9b}h\\u{85}"
        );
        assert_eq!(escape_bytes(b"x\x1b[2J\xffy"), "x\\x1b[2J\u{fffd}y");
        for s in [escape("\u{1b}\r\n\u{9b}\u{7f}"), escape("ok")] {
            assert!(!s.chars().any(char::is_control), "{s}");
        }
    }
}
