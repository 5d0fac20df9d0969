//! Reply typing: turning an owned [`Value`] into the Rust type a caller asked for.
//!
//! Every conversion first turns an error reply into [`ConversionError::Server`] and looks
//! through RESP3 attributes, so `String::from_value(reply)` is `Err` for `-ERR ...` whatever the
//! target type. Conversions never panic, whatever the server sent; messages quote at most a
//! short, escaped prefix of a reply.

use crate::resp::{ByteStr, ErrorReply, Value};
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;

/// Most bytes of a reply a [`ConversionError`] quotes.
const QUOTE_MAX: usize = 32;

/// Why a reply could not be turned into the requested type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConversionError {
    /// The server answered with an error reply instead of a value.
    Server(ErrorReply),
    /// The reply is of another RESP type than the target accepts.
    UnexpectedType {
        /// What the target type accepts, e.g. `an integer`.
        expected: &'static str,
        /// The RESP type received, e.g. `array`.
        got: &'static str,
    },
    /// A string reply is not valid UTF-8 (target `String`).
    NotUtf8,
    /// A string reply does not parse as the number asked for.
    NotANumber {
        /// What was asked for: `an integer` or `a number`.
        expected: &'static str,
        /// A short, escaped prefix of the text received.
        text: String,
    },
    /// An integer does not fit the target type.
    OutOfRange {
        /// The integer received.
        value: i128,
        /// The target type, e.g. `u16`.
        target: &'static str,
    },
    /// A map sent as a flat array (RESP2) with an odd number of elements.
    OddMapLength {
        /// How many elements it had.
        len: usize,
    },
    /// An array converted into a tuple does not have as many elements as the tuple.
    WrongLength {
        /// How many elements the tuple has.
        expected: usize,
        /// How many the array had.
        got: usize,
    },
}

impl ConversionError {
    /// The reply was of a type `expected` does not cover.
    fn unexpected(expected: &'static str, got: &Value) -> ConversionError {
        ConversionError::UnexpectedType {
            expected,
            got: type_name(got),
        }
    }
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConversionError::Server(e) => write!(f, "error reply: {e}"),
            ConversionError::UnexpectedType { expected, got } => {
                write!(f, "expected {expected}, got {got}")
            }
            ConversionError::NotUtf8 => f.write_str("reply is not UTF-8"),
            ConversionError::NotANumber { expected, text } => {
                write!(f, "expected {expected}, got `{text}`")
            }
            ConversionError::OutOfRange { value, target } => {
                write!(f, "{value} does not fit in {target}")
            }
            ConversionError::OddMapLength { len } => write!(
                f,
                "a map as a flat array needs an even number of elements, got {len}"
            ),
            ConversionError::WrongLength { expected, got } => {
                write!(f, "expected an array of {expected} elements, got {got}")
            }
        }
    }
}

impl std::error::Error for ConversionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConversionError::Server(e) => Some(e),
            _ => None,
        }
    }
}

/// The RESP type of `v`, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::SimpleString(_) => "simple string",
        Value::Error(_) | Value::BlobError(_) => "error",
        Value::Integer(_) => "integer",
        Value::Bulk(_) => "bulk string",
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Double(_) => "double",
        Value::BigNumber(_) => "big number",
        Value::Verbatim { .. } => "verbatim string",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Set(_) => "set",
        Value::Push(_) => "push",
        Value::Attributed { .. } => "attributed value",
    }
}

/// A short, escaped prefix of `b` for a message.
fn quote(b: &[u8]) -> String {
    let cut = &b[..b.len().min(QUOTE_MAX)];
    let mut s = cut.escape_ascii().to_string();
    if b.len() > QUOTE_MAX {
        s.push_str("...");
    }
    s
}

/// A Rust type a reply can be turned into.
///
/// Implemented for `()`, [`Value`], strings (`String`, `Vec<u8>`, `Bytes`, [`ByteStr`]),
/// integers (every width but `u8`, so that `Vec<u8>` means the bytes of a string), `f64`,
/// `bool`, `Option<T>` (null is `None`), `Vec<T>`, `HashMap` and `BTreeMap` (from a RESP3 map
/// or a RESP2 flat array), and tuples of up to 12 elements (from an array of exactly that
/// many, each converted in turn: `transaction::<(i64, Option<String>)>(..)`). Implement it for your own types to use them with the clients'
/// `query`.
pub trait FromValue: Sized {
    /// Converts the reply, or says what was received instead.
    fn from_value(v: Value) -> Result<Self, ConversionError>;
}

/// Turns error replies into `Err` and drops attributes; every conversion starts here (callers
/// outside get the same with `Value::from_value`).
fn check(mut v: Value) -> Result<Value, ConversionError> {
    loop {
        match v {
            Value::Error(line) | Value::BlobError(line) => {
                return Err(ConversionError::Server(ErrorReply::parse(&line)))
            }
            Value::Attributed { value, .. } => v = *value,
            v => return Ok(v),
        }
    }
}

impl FromValue for Value {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        check(v)
    }
}

impl FromValue for () {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        check(v).map(drop)
    }
}

impl FromValue for ByteStr {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        match check(v)? {
            Value::SimpleString(b) | Value::Bulk(b) | Value::BigNumber(b) => Ok(b),
            Value::Verbatim { text, .. } => Ok(text),
            Value::Integer(n) => Ok(ByteStr::from(n.to_string())),
            Value::Double(d) => Ok(ByteStr::from(d.to_string())),
            other => Err(ConversionError::unexpected("a string", &other)),
        }
    }
}

impl FromValue for Bytes {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        ByteStr::from_value(v).map(ByteStr::into_bytes)
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        ByteStr::from_value(v).map(|b| b.to_vec())
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        let b = ByteStr::from_value(v)?;
        String::from_utf8(b.to_vec()).map_err(|_| ConversionError::NotUtf8)
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        match check(v)? {
            Value::Boolean(b) => Ok(b),
            Value::Integer(n) => Ok(n != 0),
            Value::SimpleString(s) if &s[..] == b"OK" => Ok(true),
            Value::Null => Ok(false),
            other => Err(ConversionError::unexpected("a boolean", &other)),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        match check(v)? {
            Value::Double(d) => Ok(d),
            Value::Integer(n) => Ok(n as f64),
            Value::Bulk(b) | Value::SimpleString(b) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ConversionError::NotANumber {
                    expected: "a number",
                    text: quote(&b),
                }),
            other => Err(ConversionError::unexpected("a number", &other)),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self, ConversionError> {
                let n: i128 = match check(v)? {
                    Value::Integer(n) => n as i128,
                    Value::Boolean(b) => b as i128,
                    Value::Bulk(b) | Value::SimpleString(b) | Value::BigNumber(b) => {
                        std::str::from_utf8(&b)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(|| ConversionError::NotANumber {
                                expected: "an integer",
                                text: quote(&b),
                            })?
                    }
                    other => return Err(ConversionError::unexpected("an integer", &other)),
                };
                <$t>::try_from(n).map_err(|_| ConversionError::OutOfRange {
                    value: n,
                    target: stringify!($t),
                })
            }
        }
    )*};
}
// `u8` is left out so that `Vec<u8>` can mean the bytes of a string reply.
int_from_value!(i8, i16, i32, i64, isize, u16, u32, u64, usize);

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        match check(v)? {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// The elements of an array-like reply (array, set, push; null reads as empty; a map as its
/// keys and values in turn).
fn elements(v: Value) -> Result<Vec<Value>, ConversionError> {
    match check(v)? {
        Value::Array(items) | Value::Set(items) | Value::Push(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        Value::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        other => Err(ConversionError::unexpected("an array", &other)),
    }
}

/// Key/value pairs from a RESP3 map or a RESP2 flat array.
fn pairs(v: Value) -> Result<Vec<(Value, Value)>, ConversionError> {
    match check(v)? {
        Value::Map(pairs) => Ok(pairs),
        other => {
            let items = elements(other)?;
            if items.len() % 2 != 0 {
                return Err(ConversionError::OddMapLength { len: items.len() });
            }
            let mut it = items.into_iter();
            let mut out = Vec::with_capacity(it.len() / 2);
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        elements(v)?.into_iter().map(T::from_value).collect()
    }
}

impl<K: FromValue + Eq + Hash, V: FromValue> FromValue for HashMap<K, V> {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        pairs(v)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(v: Value) -> Result<Self, ConversionError> {
        pairs(v)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

/// `FromValue` for a tuple: an array-like reply of exactly as many elements, each converted
/// into its place (an error reply among them is the conversion's error).
macro_rules! tuple_from_value {
    ($len:literal: $($t:ident),+) => {
        impl<$($t: FromValue),+> FromValue for ($($t,)+) {
            fn from_value(v: Value) -> Result<Self, ConversionError> {
                let items = elements(v)?;
                let wrong = ConversionError::WrongLength {
                    expected: $len,
                    got: items.len(),
                };
                if items.len() != $len {
                    return Err(wrong);
                }
                let mut items = items.into_iter();
                Ok(($(
                    match items.next() {
                        Some(item) => <$t as FromValue>::from_value(item)?,
                        None => return Err(wrong),
                    },
                )+))
            }
        }
    };
}
tuple_from_value!(1: A);
tuple_from_value!(2: A, B);
tuple_from_value!(3: A, B, C);
tuple_from_value!(4: A, B, C, D);
tuple_from_value!(5: A, B, C, D, E);
tuple_from_value!(6: A, B, C, D, E, F);
tuple_from_value!(7: A, B, C, D, E, F, G);
tuple_from_value!(8: A, B, C, D, E, F, G, H);
tuple_from_value!(9: A, B, C, D, E, F, G, H, I);
tuple_from_value!(10: A, B, C, D, E, F, G, H, I, J);
tuple_from_value!(11: A, B, C, D, E, F, G, H, I, J, K);
tuple_from_value!(12: A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(ByteStr::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn scalars() {
        assert_eq!(i64::from_value(Value::Integer(-3)).unwrap(), -3);
        assert_eq!(u16::from_value(bulk("42")).unwrap(), 42);
        assert_eq!(
            u16::from_value(Value::Integer(70000)),
            Err(ConversionError::OutOfRange {
                value: 70000,
                target: "u16"
            })
        );
        assert_eq!(String::from_value(bulk("hi")).unwrap(), "hi");
        assert_eq!(Option::<String>::from_value(Value::Null).unwrap(), None);
        assert!(bool::from_value(Value::SimpleString(ByteStr::from_static(b"OK"))).unwrap());
        assert_eq!(f64::from_value(bulk("1.5")).unwrap(), 1.5);
        assert_eq!(
            String::from_value(Value::Integer(7)).unwrap(),
            "7",
            "integers read as their decimal text"
        );
        assert_eq!(<()>::from_value(Value::Null), Ok(()));
    }

    #[test]
    fn error_reply_is_typed_whatever_the_target() {
        let e = String::from_value(Value::Error(ByteStr::from_static(b"WRONGTYPE bad op")));
        match e {
            Err(ConversionError::Server(r)) => {
                assert_eq!(r.code, "WRONGTYPE");
                assert_eq!(r.message, "bad op");
            }
            other => panic!("{other:?}"),
        }
        let blob = Value::BlobError(ByteStr::from_static(b"ERR x"));
        assert!(matches!(
            Option::<i64>::from_value(blob),
            Err(ConversionError::Server(_))
        ));
        let e = <()>::from_value(Value::Error(ByteStr::from_static(b"ERR y"))).unwrap_err();
        assert!(
            std::error::Error::source(&e).is_some(),
            "the reply is the source"
        );
    }

    #[test]
    fn attributes_are_looked_through() {
        let v = Value::Attributed {
            attributes: vec![(bulk("ttl"), Value::Integer(3))],
            value: Box::new(Value::Integer(5)),
        };
        assert_eq!(i64::from_value(v).unwrap(), 5);
    }

    #[test]
    fn mismatches_say_what_was_expected_and_quote_little() {
        assert_eq!(
            i64::from_value(Value::Array(vec![])),
            Err(ConversionError::UnexpectedType {
                expected: "an integer",
                got: "array"
            })
        );
        let long = format!("{}\r\n\x1b", "9x".repeat(100));
        let e = i64::from_value(bulk(&long)).unwrap_err();
        let ConversionError::NotANumber { text, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(
            text.len() <= QUOTE_MAX + 3 && text.ends_with("..."),
            "{text}"
        );
        let e = f64::from_value(bulk("a\x07b")).unwrap_err();
        assert_eq!(e.to_string(), "expected a number, got `a\\x07b`");
        assert_eq!(
            String::from_value(Value::Bulk(ByteStr::from_static(b"\xff"))),
            Err(ConversionError::NotUtf8)
        );
    }

    #[test]
    fn maps_from_resp2_and_resp3() {
        let flat = Value::Array(vec![
            bulk("a"),
            Value::Integer(1),
            bulk("b"),
            Value::Integer(2),
        ]);
        let m: BTreeMap<String, i64> = FromValue::from_value(flat).unwrap();
        assert_eq!(m.get("b"), Some(&2));
        let map = Value::Map(vec![(bulk("a"), Value::Integer(1))]);
        let m: HashMap<String, i64> = FromValue::from_value(map).unwrap();
        assert_eq!(m["a"], 1);
        let odd = Value::Array(vec![bulk("a")]);
        assert_eq!(
            BTreeMap::<String, i64>::from_value(odd),
            Err(ConversionError::OddMapLength { len: 1 })
        );
    }

    #[test]
    fn vectors() {
        let v = Value::Array(vec![bulk("1"), Value::Integer(2)]);
        assert_eq!(Vec::<i64>::from_value(v).unwrap(), vec![1, 2]);
        assert_eq!(
            Vec::<i64>::from_value(Value::Null).unwrap(),
            Vec::<i64>::new()
        );
        assert_eq!(Vec::<u8>::from_value(bulk("ab")).unwrap(), b"ab".to_vec());
    }

    #[test]
    fn tuples_take_exactly_their_length() {
        let reply = Value::Array(vec![Value::Integer(3), bulk("x"), Value::Null]);
        let (n, s, none): (i64, String, Option<String>) =
            FromValue::from_value(reply.clone()).unwrap();
        assert_eq!((n, s.as_str(), none), (3, "x", None));
        assert_eq!(
            <(i64, String)>::from_value(reply.clone()),
            Err(ConversionError::WrongLength {
                expected: 2,
                got: 3
            })
        );
        assert_eq!(
            <(i64, String, i64, i64)>::from_value(reply)
                .unwrap_err()
                .to_string(),
            "expected an array of 4 elements, got 3"
        );
        let (one,): (u16,) = FromValue::from_value(Value::Array(vec![bulk("7")])).unwrap();
        assert_eq!(one, 7);
        // Sets and RESP3 maps (as key, value) are arrays here too; nested tuples work.
        let (a, b): (String, i64) =
            FromValue::from_value(Value::Map(vec![(bulk("k"), Value::Integer(1))])).unwrap();
        assert_eq!((a.as_str(), b), ("k", 1));
        let nested: Vec<(String, f64)> = FromValue::from_value(Value::Array(vec![
            Value::Array(vec![bulk("ada"), Value::Double(1.5)]),
            Value::Array(vec![bulk("bob"), bulk("2")]),
        ]))
        .unwrap();
        assert_eq!(nested, [("ada".into(), 1.5), ("bob".into(), 2.0)]);
    }

    #[test]
    fn a_tuple_fails_on_an_error_element_or_a_non_array() {
        let reply = Value::Array(vec![
            Value::Integer(1),
            Value::Error(ByteStr::from_static(b"WRONGTYPE nope")),
        ]);
        assert_eq!(
            <(i64, i64)>::from_value(reply),
            Err(ConversionError::Server(ErrorReply::parse(
                b"WRONGTYPE nope"
            )))
        );
        assert!(matches!(
            <(i64,)>::from_value(Value::Integer(1)),
            Err(ConversionError::UnexpectedType { .. })
        ));
        assert_eq!(
            <(i64,)>::from_value(Value::Null),
            Err(ConversionError::WrongLength {
                expected: 1,
                got: 0
            })
        );
        let twelve = Value::Array((0..12).map(Value::Integer).collect());
        let t: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64) =
            FromValue::from_value(twelve).unwrap();
        assert_eq!(t.11, 11);
    }
}
