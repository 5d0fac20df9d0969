//! The server side of the wire: splitting client bytes into commands and writing replies.
//!
//! The simulated servers parse what a client sends the way Redis does for multibulk requests
//! (arrays of bulk strings), and write replies in RESP2 or RESP3 depending on the connection's
//! `HELLO` state. This is deliberately independent of the crate's client decoder, so the
//! simulator does not trust the code it tests.

use crate::Value;
use bytes::{BufMut, Bytes, BytesMut};

/// Longest request line or bulk a simulated server accepts, like Redis' own sanity limits.
const MAX_BULK: usize = 64 * 1024 * 1024;
/// Most arguments in one command.
const MAX_ARGS: usize = 1024 * 1024;

/// Why bytes from the client are not a command; the server replies with an error and closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

/// Incremental splitter of a byte stream into commands (arrays of bulk strings).
#[derive(Debug, Default)]
pub struct CommandReader {
    buf: BytesMut,
}

impl CommandReader {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// True when no partial command is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next complete command, `Ok(None)` when more bytes are needed.
    pub fn next_command(&mut self) -> Result<Option<Vec<Bytes>>, WireError> {
        let Some((argc, mut pos)) = read_header(&self.buf, 0, b'*')? else {
            return Ok(None);
        };
        if argc > MAX_ARGS {
            return Err(WireError("invalid multibulk length".into()));
        }
        let mut spans = Vec::with_capacity(argc.min(16));
        for _ in 0..argc {
            let Some((len, start)) = read_header(&self.buf, pos, b'$')? else {
                return Ok(None);
            };
            if len > MAX_BULK {
                return Err(WireError("invalid bulk length".into()));
            }
            let end = start + len;
            if self.buf.len() < end + 2 {
                return Ok(None);
            }
            if &self.buf[end..end + 2] != b"\r\n" {
                return Err(WireError("expected CRLF after bulk".into()));
            }
            spans.push((start, end));
            pos = end + 2;
        }
        let frame = self.buf.split_to(pos).freeze();
        Ok(Some(
            spans.into_iter().map(|(s, e)| frame.slice(s..e)).collect(),
        ))
    }
}

/// Reads `<marker><decimal>\r\n` at `pos`; returns the number and the position after the line.
fn read_header(buf: &[u8], pos: usize, marker: u8) -> Result<Option<(usize, usize)>, WireError> {
    let Some(&first) = buf.get(pos) else {
        return Ok(None);
    };
    if first != marker {
        return Err(WireError(format!(
            "expected '{}', got '{}'",
            marker as char,
            first.escape_ascii()
        )));
    }
    let rest = &buf[pos + 1..];
    let Some(cr) = memchr::memchr(b'\r', rest) else {
        if rest.len() > 32 {
            return Err(WireError("header line too long".into()));
        }
        return Ok(None);
    };
    if rest.len() < cr + 2 {
        return Ok(None);
    }
    if rest[cr + 1] != b'\n' {
        return Err(WireError("expected LF".into()));
    }
    let digits = &rest[..cr];
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(WireError("invalid length".into()));
    }
    let n = digits
        .iter()
        .fold(0usize, |acc, d| acc * 10 + (d - b'0') as usize);
    Ok(Some((n, pos + 1 + cr + 2)))
}

/// Writes `v` as the server would on a connection speaking RESP3 (`resp3`) or RESP2.
///
/// In RESP2, maps become flat arrays, sets and pushes become arrays, booleans integers, doubles
/// bulk strings, and null the null bulk string, as Redis does.
pub fn encode_reply(v: &Value, resp3: bool, out: &mut BytesMut) {
    match v {
        Value::SimpleString(s) => line(out, b'+', s),
        Value::Error(s) => line(out, b'-', s),
        Value::Integer(n) => line(out, b':', n.to_string().as_bytes()),
        Value::Bulk(b) => bulk(out, b'$', b),
        Value::Null if resp3 => out.put_slice(b"_\r\n"),
        Value::Null => out.put_slice(b"$-1\r\n"),
        Value::Boolean(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Value::Boolean(b) => line(out, b':', if *b { b"1" } else { b"0" }),
        Value::Double(d) if resp3 => line(out, b',', d.to_string().as_bytes()),
        Value::Double(d) => bulk(out, b'$', d.to_string().as_bytes()),
        Value::BigNumber(s) if resp3 => line(out, b'(', s),
        Value::BigNumber(s) => bulk(out, b'$', s),
        Value::BlobError(s) if resp3 => bulk(out, b'!', s),
        Value::BlobError(s) => line(out, b'-', s),
        Value::Verbatim { format, text } if resp3 => {
            let mut body = Vec::with_capacity(4 + text.len());
            body.extend_from_slice(format);
            body.push(b':');
            body.extend_from_slice(text);
            bulk(out, b'=', &body);
        }
        Value::Verbatim { text, .. } => bulk(out, b'$', text),
        Value::Array(items) => seq(out, b'*', items, resp3),
        Value::Set(items) => seq(out, if resp3 { b'~' } else { b'*' }, items, resp3),
        Value::Push(items) => seq(out, if resp3 { b'>' } else { b'*' }, items, resp3),
        Value::Map(pairs) => {
            if resp3 {
                header(out, b'%', pairs.len());
            } else {
                header(out, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode_reply(k, resp3, out);
                encode_reply(v, resp3, out);
            }
        }
        Value::Attributed { value, .. } => encode_reply(value, resp3, out),
    }
}

fn line(out: &mut BytesMut, marker: u8, s: &[u8]) {
    out.put_u8(marker);
    out.put_slice(s);
    out.put_slice(b"\r\n");
}

fn header(out: &mut BytesMut, marker: u8, n: usize) {
    line(out, marker, n.to_string().as_bytes());
}

fn bulk(out: &mut BytesMut, marker: u8, b: &[u8]) {
    header(out, marker, b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn seq(out: &mut BytesMut, marker: u8, items: &[Value], resp3: bool) {
    header(out, marker, items.len());
    for i in items {
        encode_reply(i, resp3, out);
    }
}

/// Shorthand constructors for replies.
pub mod reply {
    use crate::Value;

    /// `+OK`.
    pub fn ok() -> Value {
        simple("OK")
    }
    /// A simple string.
    pub fn simple(s: &str) -> Value {
        Value::SimpleString(crate::ByteStr::copy_from_slice(s.as_bytes()))
    }
    /// An error line, e.g. `err("READONLY You can't write...")`.
    pub fn err(s: &str) -> Value {
        Value::Error(crate::ByteStr::copy_from_slice(s.as_bytes()))
    }
    /// A bulk string.
    pub fn bulk(s: impl AsRef<[u8]>) -> Value {
        Value::Bulk(crate::ByteStr::copy_from_slice(s.as_ref()))
    }
    /// An array.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
    /// A map from string keys (a flat array in RESP2).
    pub fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(pairs.into_iter().map(|(k, v)| (bulk(k), v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands_across_chunks() {
        let mut r = CommandReader::default();
        let wire = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        for b in &wire[..wire.len() - 1] {
            r.push(&[*b]);
            if let Some(c) = r.next_command().unwrap() {
                assert_eq!(
                    c,
                    vec![Bytes::from_static(b"GET"), Bytes::from_static(b"k")]
                );
            }
        }
        assert_eq!(r.next_command().unwrap(), None);
        r.push(b"\n");
        assert_eq!(
            r.next_command().unwrap(),
            Some(vec![Bytes::from_static(b"PING")])
        );
        assert!(r.is_empty());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            &b"GET k\r\n"[..],
            b"*1\r\n:3\r\n",
            b"*x\r\n",
            b"*1\r\n$3\r\nabcXY",
            b"*99999999999999999999\r\n",
        ] {
            let mut r = CommandReader::default();
            r.push(bad);
            assert!(r.next_command().is_err(), "{:?}", bad.escape_ascii());
        }
    }

    #[test]
    fn encodes_both_protocols() {
        let v = reply::map(vec![("role", reply::bulk("master")), ("n", Value::Null)]);
        let mut two = BytesMut::new();
        encode_reply(&v, false, &mut two);
        assert_eq!(
            &two[..],
            b"*4\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$1\r\nn\r\n$-1\r\n"
        );
        let mut three = BytesMut::new();
        encode_reply(&v, true, &mut three);
        assert_eq!(
            &three[..],
            b"%2\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$1\r\nn\r\n_\r\n"
        );
        let mut p = BytesMut::new();
        encode_reply(&Value::Push(vec![reply::bulk("a")]), true, &mut p);
        assert_eq!(&p[..], b">1\r\n$1\r\na\r\n");
    }
}
