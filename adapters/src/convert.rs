//! Converting replies into Rust types.

use crate::error::{Error, ErrorReply};
use bytes::Bytes;
use resp_sentinel_core::{ByteStr, Value};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// A Rust type a reply can be turned into. Error replies become [`Error::Server`] first.
pub trait FromValue: Sized {
    /// Converts the reply, or says what was received instead.
    fn from_value(v: Value) -> Result<Self, Error>;
}

fn unexpected(want: &str, v: &Value) -> Error {
    Error::Conversion(format!("expected {want}, got {}", kind(v)))
}

fn kind(v: &Value) -> &'static str {
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

/// Turns error replies into `Err` and drops attributes; every conversion starts here.
pub(crate) fn check(v: Value) -> Result<Value, Error> {
    match v {
        Value::Error(line) | Value::BlobError(line) => Err(Error::Server(ErrorReply::parse(&line))),
        Value::Attributed { value, .. } => check(*value),
        v => Ok(v),
    }
}

impl FromValue for Value {
    fn from_value(v: Value) -> Result<Self, Error> {
        check(v)
    }
}

impl FromValue for () {
    fn from_value(v: Value) -> Result<Self, Error> {
        check(v).map(drop)
    }
}

impl FromValue for ByteStr {
    fn from_value(v: Value) -> Result<Self, Error> {
        match check(v)? {
            Value::SimpleString(b) | Value::Bulk(b) | Value::BigNumber(b) => Ok(b),
            Value::Verbatim { text, .. } => Ok(text),
            Value::Integer(n) => Ok(ByteStr::from(n.to_string())),
            Value::Double(d) => Ok(ByteStr::from(d.to_string())),
            other => Err(unexpected("a string", &other)),
        }
    }
}

impl FromValue for Bytes {
    fn from_value(v: Value) -> Result<Self, Error> {
        ByteStr::from_value(v).map(ByteStr::into_bytes)
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> Result<Self, Error> {
        ByteStr::from_value(v).map(|b| b.to_vec())
    }
}

impl FromValue for String {
    fn from_value(v: Value) -> Result<Self, Error> {
        let b = ByteStr::from_value(v)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::Conversion("reply is not UTF-8".into()))
    }
}

impl FromValue for bool {
    fn from_value(v: Value) -> Result<Self, Error> {
        match check(v)? {
            Value::Boolean(b) => Ok(b),
            Value::Integer(n) => Ok(n != 0),
            Value::SimpleString(s) if &s[..] == b"OK" => Ok(true),
            Value::Null => Ok(false),
            other => Err(unexpected("a boolean", &other)),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: Value) -> Result<Self, Error> {
        match check(v)? {
            Value::Double(d) => Ok(d),
            Value::Integer(n) => Ok(n as f64),
            other @ (Value::Bulk(_) | Value::SimpleString(_)) => {
                let s = String::from_value(other)?;
                s.parse()
                    .map_err(|_| Error::Conversion(format!("`{s}` is not a number")))
            }
            other => Err(unexpected("a number", &other)),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self, Error> {
                let n: i128 = match check(v)? {
                    Value::Integer(n) => n as i128,
                    Value::Boolean(b) => b as i128,
                    other @ (Value::Bulk(_) | Value::SimpleString(_) | Value::BigNumber(_)) => {
                        let s = String::from_value(other)?;
                        s.parse().map_err(|_| Error::Conversion(format!("`{s}` is not an integer")))?
                    }
                    other => return Err(unexpected("an integer", &other)),
                };
                <$t>::try_from(n).map_err(|_| {
                    Error::Conversion(format!("{n} does not fit in {}", stringify!($t)))
                })
            }
        }
    )*};
}
// `u8` is left out so that `Vec<u8>` can mean the bytes of a string reply.
int_from_value!(i8, i16, i32, i64, isize, u16, u32, u64, usize);

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self, Error> {
        match check(v)? {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// The elements of an array-like reply (array, set, push; null reads as empty).
fn elements(v: Value) -> Result<Vec<Value>, Error> {
    match check(v)? {
        Value::Array(items) | Value::Set(items) | Value::Push(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        Value::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        other => Err(unexpected("an array", &other)),
    }
}

/// Key/value pairs from a RESP3 map or a RESP2 flat array.
fn pairs(v: Value) -> Result<Vec<(Value, Value)>, Error> {
    match check(v)? {
        Value::Map(pairs) => Ok(pairs),
        other => {
            let items = elements(other)?;
            if items.len() % 2 != 0 {
                return Err(Error::Conversion(
                    "a map as a flat array needs an even number of elements".into(),
                ));
            }
            let mut it = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
    }
}

impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(v: Value) -> Result<Self, Error> {
        elements(v)?.into_iter().map(T::from_value).collect()
    }
}

impl<K: FromValue + Eq + Hash, V: FromValue> FromValue for HashMap<K, V> {
    fn from_value(v: Value) -> Result<Self, Error> {
        pairs(v)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

impl<K: FromValue + Ord, V: FromValue> FromValue for BTreeMap<K, V> {
    fn from_value(v: Value) -> Result<Self, Error> {
        pairs(v)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_value(k)?, V::from_value(v)?)))
            .collect()
    }
}

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
        assert!(matches!(
            u16::from_value(Value::Integer(70000)),
            Err(Error::Conversion(_))
        ));
        assert_eq!(String::from_value(bulk("hi")).unwrap(), "hi");
        assert_eq!(Option::<String>::from_value(Value::Null).unwrap(), None);
        assert!(bool::from_value(Value::SimpleString(ByteStr::from_static(b"OK"))).unwrap());
    }

    #[test]
    fn error_reply_is_typed() {
        let e = String::from_value(Value::Error(ByteStr::from_static(b"WRONGTYPE bad op")));
        match e {
            Err(Error::Server(r)) => {
                assert_eq!(r.code, "WRONGTYPE");
                assert_eq!(r.message, "bad op");
            }
            other => panic!("{other:?}"),
        }
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
        assert!(BTreeMap::<String, i64>::from_value(odd).is_err());
    }

    #[test]
    fn vectors() {
        let v = Value::Array(vec![bulk("1"), Value::Integer(2)]);
        assert_eq!(Vec::<i64>::from_value(v).unwrap(), vec![1, 2]);
    }
}
