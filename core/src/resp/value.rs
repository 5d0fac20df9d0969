//! Owned values for callers who keep replies; strings are [`ByteStr`]s (short ones inline, long
//! ones `Bytes` slices of the read buffer).

use super::encode::format_int;
use super::ByteStr;
use bytes::{BufMut, BytesMut};
use std::fmt::Write as _;

/// An owned RESP2/RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+` simple string.
    SimpleString(ByteStr),
    /// `-` simple error, the whole line.
    Error(ByteStr),
    /// `:` integer.
    Integer(i64),
    /// `$` bulk string.
    Bulk(ByteStr),
    /// `$-1`, `*-1` or `_`.
    Null,
    /// `#` boolean.
    Boolean(bool),
    /// `,` double.
    Double(f64),
    /// `(` big number, digits as sent.
    BigNumber(ByteStr),
    /// `!` blob error.
    BlobError(ByteStr),
    /// `=` verbatim string.
    Verbatim {
        /// Format, e.g. `txt`.
        format: [u8; 3],
        /// The text.
        text: ByteStr,
    },
    /// `*` array.
    Array(Vec<Value>),
    /// `%` map, pairs in wire order.
    Map(Vec<(Value, Value)>),
    /// `~` set.
    Set(Vec<Value>),
    /// `>` push.
    Push(Vec<Value>),
    /// A value preceded by a `|` attribute map, delivered together.
    Attributed {
        /// The attribute pairs.
        attributes: Vec<(Value, Value)>,
        /// The value they annotate.
        value: Box<Value>,
    },
}

impl Value {
    /// The bytes of a simple string, bulk string or verbatim string's text.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::SimpleString(b) | Value::Bulk(b) => Some(b),
            Value::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }

    /// [`Value::as_bytes`] as UTF-8 text, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// An integer, or a string or big number holding a decimal `i64` (Redis sends many numbers
    /// as bulk strings, e.g. in `INFO`-like maps and RESP2 replies).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            Value::BigNumber(b) => super::scan::parse_int(b).ok(),
            _ => super::scan::parse_int(self.as_bytes()?).ok(),
        }
    }

    /// The elements of an array, set or push.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(v) | Value::Set(v) | Value::Push(v) => Some(v),
            _ => None,
        }
    }

    /// True for a null (`_`, `$-1` or `*-1`).
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The message of a simple error or blob error, e.g. `READONLY You can't write...`.
    pub fn error_message(&self) -> Option<&[u8]> {
        match self {
            Value::Error(b) | Value::BlobError(b) => Some(b),
            _ => None,
        }
    }

    /// The pairs of a RESP3 map, or of a RESP2 flat array key, value, key, value (as `HGETALL`
    /// or `SENTINEL master` reply under RESP2). `None` for other values and odd-length arrays.
    /// Attributes around the value are ignored.
    pub fn into_map_pairs(self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Map(pairs) => Some(pairs),
            Value::Array(items) if items.len() % 2 == 0 => {
                Some(super::from_frame::into_pairs(items))
            }
            Value::Attributed { value, .. } => value.into_map_pairs(),
            _ => None,
        }
    }

    /// The value with every attribute removed, at any depth (no recursion).
    pub fn strip_attributes(mut self) -> Value {
        let mut stack: Vec<&mut Value> = vec![&mut self];
        while let Some(v) = stack.pop() {
            while let Value::Attributed { value, .. } = v {
                *v = std::mem::replace(&mut **value, Value::Null);
            }
            match v {
                Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                    stack.extend(items.iter_mut())
                }
                Value::Map(pairs) => {
                    for (k, val) in pairs.iter_mut() {
                        stack.push(k);
                        stack.push(val);
                    }
                }
                _ => {}
            }
        }
        self
    }

    /// Writes the value in RESP3 wire form at the end of `out` (RESP2 types as themselves,
    /// null as `_`). Without recursion.
    ///
    /// So that the output always decodes, a simple string or error holding CR or LF is written
    /// as a bulk string or blob error, and a big number that is not digits as a bulk string.
    pub fn encode(&self, out: &mut BytesMut) {
        enum Work<'a> {
            Value(&'a Value),
            Pairs(&'a [(Value, Value)]),
        }
        let mut stack = vec![Work::Value(self)];
        while let Some(w) = stack.pop() {
            let v = match w {
                Work::Value(v) => v,
                Work::Pairs(pairs) => {
                    if let Some(((k, v), rest)) = pairs.split_first() {
                        stack.push(Work::Pairs(rest));
                        stack.push(Work::Value(v));
                        stack.push(Work::Value(k));
                    }
                    continue;
                }
            };
            match v {
                Value::SimpleString(s) => put_line_or_blob(out, b'+', b'$', s),
                Value::Error(s) => put_line_or_blob(out, b'-', b'!', s),
                Value::Integer(n) => {
                    let mut buf = [0u8; 40];
                    out.put_u8(b':');
                    out.put_slice(format_int(*n as i128, &mut buf));
                    out.put_slice(b"\r\n");
                }
                Value::Bulk(s) => put_blob(out, b'$', &[], s),
                Value::Null => out.put_slice(b"_\r\n"),
                Value::Boolean(b) => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
                Value::Double(d) => {
                    out.put_u8(b',');
                    if d.is_nan() {
                        out.put_slice(b"nan");
                    } else if d.is_infinite() {
                        out.put_slice(if *d > 0.0 { b"inf" } else { b"-inf" });
                    } else {
                        // Debug is the shortest form that reads back to the same f64.
                        let _ = write!(out, "{d:?}");
                    }
                    out.put_slice(b"\r\n");
                }
                Value::BigNumber(s) => {
                    if super::scan::check_big_number(s).is_ok() {
                        put_line(out, b'(', s);
                    } else {
                        put_blob(out, b'$', &[], s);
                    }
                }
                Value::BlobError(s) => put_blob(out, b'!', &[], s),
                Value::Verbatim { format, text } => {
                    let mut prefix = [b':'; 4];
                    prefix[..3].copy_from_slice(format);
                    put_blob(out, b'=', &prefix, text);
                }
                Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                    let marker = match v {
                        Value::Set(_) => b'~',
                        Value::Push(_) => b'>',
                        _ => b'*',
                    };
                    put_count(out, marker, items.len());
                    stack.extend(items.iter().rev().map(Work::Value));
                }
                Value::Map(pairs) => {
                    put_count(out, b'%', pairs.len());
                    stack.push(Work::Pairs(pairs));
                }
                Value::Attributed { attributes, value } => {
                    put_count(out, b'|', attributes.len());
                    stack.push(Work::Value(value));
                    stack.push(Work::Pairs(attributes));
                }
            }
        }
    }
}

fn put_count(out: &mut BytesMut, marker: u8, n: usize) {
    let mut buf = [0u8; 40];
    out.put_u8(marker);
    out.put_slice(format_int(n as i128, &mut buf));
    out.put_slice(b"\r\n");
}

fn put_line(out: &mut BytesMut, marker: u8, s: &[u8]) {
    out.reserve(s.len() + 3);
    out.put_u8(marker);
    out.put_slice(s);
    out.put_slice(b"\r\n");
}

fn put_line_or_blob(out: &mut BytesMut, line: u8, blob: u8, s: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', s).is_some() {
        put_blob(out, blob, &[], s);
    } else {
        put_line(out, line, s);
    }
}

fn put_blob(out: &mut BytesMut, marker: u8, prefix: &[u8], s: &[u8]) {
    put_count(out, marker, prefix.len() + s.len());
    out.reserve(prefix.len() + s.len() + 2);
    out.put_slice(prefix);
    out.put_slice(s);
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decoder;

    fn b(s: &'static str) -> ByteStr {
        ByteStr::copy_from_slice(s.as_bytes())
    }

    fn encoded(v: &Value) -> BytesMut {
        let mut out = BytesMut::new();
        v.encode(&mut out);
        out
    }

    #[test]
    fn encodes_every_type() {
        let cases: Vec<(Value, &[u8])> = vec![
            (Value::SimpleString(b("OK")), b"+OK\r\n"),
            (Value::Error(b("ERR x")), b"-ERR x\r\n"),
            (Value::Integer(-5), b":-5\r\n"),
            (Value::Bulk(b("a\r\nb")), b"$4\r\na\r\nb\r\n"),
            (Value::Null, b"_\r\n"),
            (Value::Boolean(true), b"#t\r\n"),
            (Value::Double(1.5), b",1.5\r\n"),
            (Value::Double(f64::NEG_INFINITY), b",-inf\r\n"),
            (Value::Double(f64::NAN), b",nan\r\n"),
            (Value::BigNumber(b("-123")), b"(-123\r\n"),
            (Value::BlobError(b("E")), b"!1\r\nE\r\n"),
            (
                Value::Verbatim {
                    format: *b"txt",
                    text: b("hi"),
                },
                b"=6\r\ntxt:hi\r\n",
            ),
            (
                Value::Array(vec![Value::Integer(1), Value::Set(vec![Value::Null])]),
                b"*2\r\n:1\r\n~1\r\n_\r\n",
            ),
            (
                Value::Map(vec![(Value::SimpleString(b("k")), Value::Push(vec![]))]),
                b"%1\r\n+k\r\n>0\r\n",
            ),
            (
                Value::Attributed {
                    attributes: vec![(Value::SimpleString(b("a")), Value::Integer(1))],
                    value: Box::new(Value::Boolean(false)),
                },
                b"|1\r\n+a\r\n:1\r\n#f\r\n",
            ),
            // Values the line form cannot carry fall back to blob forms.
            (Value::SimpleString(b("a\nb")), b"$3\r\na\nb\r\n"),
            (Value::Error(b("E\r")), b"!2\r\nE\r\r\n"),
            (Value::BigNumber(b("12x")), b"$3\r\n12x\r\n"),
        ];
        for (v, wire) in cases {
            assert_eq!(&encoded(&v)[..], wire, "{v:?}");
            // Every encoding decodes.
            let mut buf = BytesMut::from(wire);
            let back = Decoder::new().decode(&mut buf).unwrap().unwrap();
            assert!(buf.is_empty());
            assert_eq!(encoded(&back), encoded(&v));
        }
    }

    #[test]
    fn accessors() {
        assert_eq!(Value::Bulk(b("x")).as_bytes(), Some(&b"x"[..]));
        assert_eq!(Value::SimpleString(b("ok")).as_str(), Some("ok"));
        assert_eq!(Value::Bulk(ByteStr::from_static(&[0xff])).as_str(), None);
        let verbatim = Value::Verbatim {
            format: *b"txt",
            text: b("t"),
        };
        assert_eq!(verbatim.as_str(), Some("t"));
        assert_eq!(Value::Integer(3).as_bytes(), None);
        assert_eq!(Value::Integer(3).as_int(), Some(3));
        assert_eq!(Value::Bulk(b("-42")).as_int(), Some(-42));
        assert_eq!(Value::SimpleString(b("7")).as_int(), Some(7));
        assert_eq!(Value::BigNumber(b("12")).as_int(), Some(12));
        assert_eq!(Value::Bulk(b("4x")).as_int(), None);
        assert_eq!(Value::Double(1.0).as_int(), None);
        let arr = Value::Push(vec![Value::Null]);
        assert_eq!(arr.as_array().map(<[Value]>::len), Some(1));
        assert_eq!(Value::Null.as_array(), None);
        assert!(Value::Null.is_null());
        assert!(!Value::Integer(0).is_null());
        assert_eq!(
            Value::Error(b("READONLY no")).error_message(),
            Some(&b"READONLY no"[..])
        );
        assert_eq!(Value::BlobError(b("X")).error_message(), Some(&b"X"[..]));
        assert_eq!(Value::Bulk(b("X")).error_message(), None);
    }

    #[test]
    fn map_pairs_from_resp3_maps_and_resp2_arrays() {
        let k = || Value::Bulk(b("k"));
        let v = || Value::Integer(1);
        let expected = vec![(k(), v())];
        assert_eq!(
            Value::Map(vec![(k(), v())]).into_map_pairs(),
            Some(expected.clone())
        );
        assert_eq!(
            Value::Array(vec![k(), v()]).into_map_pairs(),
            Some(expected.clone())
        );
        assert_eq!(Value::Array(vec![k()]).into_map_pairs(), None);
        assert_eq!(Value::Integer(1).into_map_pairs(), None);
        let attributed = Value::Attributed {
            attributes: vec![],
            value: Box::new(Value::Map(vec![(k(), v())])),
        };
        assert_eq!(attributed.into_map_pairs(), Some(expected));
    }

    #[test]
    fn strip_attributes_at_any_depth() {
        let attr = |v: Value| Value::Attributed {
            attributes: vec![(Value::Null, Value::Null)],
            value: Box::new(v),
        };
        let v = attr(Value::Array(vec![
            attr(Value::Integer(1)),
            Value::Map(vec![(attr(Value::Null), attr(attr(Value::Boolean(true))))]),
        ]));
        let stripped = v.strip_attributes();
        assert_eq!(
            stripped,
            Value::Array(vec![
                Value::Integer(1),
                Value::Map(vec![(Value::Null, Value::Boolean(true))]),
            ])
        );
    }
}
