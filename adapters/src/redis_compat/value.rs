//! Our replies as redis-rs values: every RESP2/RESP3 type to the variant redis-rs's own parser
//! would have produced for the same bytes.

use super::error::server_error;
use resp_sentinel_core::{ErrorReply, Value};

/// `v` as the value a redis-rs connection would have returned for it.
///
/// `+OK` is `Okay` (as redis-rs parses it), error replies are `ServerError`s keeping their code,
/// big numbers go through redis-rs's parser (their type depends on redis-rs's `num-bigint`
/// feature), push kinds are named as redis-rs names them. Nesting is bounded by the decoder's
/// depth limit, so the recursion is too.
pub(crate) fn to_redis_value(v: Value) -> redis::Value {
    match v {
        Value::SimpleString(s) if &s[..] == b"OK" => redis::Value::Okay,
        Value::SimpleString(s) => redis::Value::SimpleString(lossy(&s)),
        Value::Error(line) | Value::BlobError(line) => {
            redis::Value::ServerError(server_error(&ErrorReply::parse(&line)))
        }
        Value::Integer(n) => redis::Value::Int(n),
        Value::Bulk(b) => redis::Value::BulkString(b.to_vec()),
        Value::Null => redis::Value::Nil,
        Value::Boolean(b) => redis::Value::Boolean(b),
        Value::Double(d) => redis::Value::Double(d),
        Value::BigNumber(digits) => big_number(&digits),
        Value::Verbatim { format, text } => redis::Value::VerbatimString {
            format: match &format {
                b"txt" => redis::VerbatimFormat::Text,
                b"mkd" => redis::VerbatimFormat::Markdown,
                other => redis::VerbatimFormat::Unknown(lossy(other)),
            },
            text: lossy(&text),
        },
        Value::Array(items) => redis::Value::Array(all(items)),
        Value::Set(items) => redis::Value::Set(all(items)),
        Value::Map(pairs) => redis::Value::Map(pairs_of(pairs)),
        Value::Push(items) => push(items),
        Value::Attributed { attributes, value } => redis::Value::Attribute {
            data: Box::new(to_redis_value(*value)),
            attributes: pairs_of(attributes),
        },
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn all(items: Vec<Value>) -> Vec<redis::Value> {
    items.into_iter().map(to_redis_value).collect()
}

fn pairs_of(pairs: Vec<(Value, Value)>) -> Vec<(redis::Value, redis::Value)> {
    pairs
        .into_iter()
        .map(|(k, v)| (to_redis_value(k), to_redis_value(v)))
        .collect()
}

/// A big number as redis-rs's parser reads it; digits it would refuse stay a bulk string.
fn big_number(digits: &[u8]) -> redis::Value {
    let mut wire = Vec::with_capacity(digits.len() + 3);
    wire.push(b'(');
    wire.extend_from_slice(digits);
    wire.extend_from_slice(b"\r\n");
    match redis::parse_redis_value(&wire) {
        Ok(v) => v,
        Err(_) => redis::Value::BulkString(digits.to_vec()),
    }
}

/// A push message: its first element names the kind, as redis-rs splits it.
fn push(items: Vec<Value>) -> redis::Value {
    let mut items = items.into_iter();
    let kind = match items.next() {
        Some(first) => match first.as_bytes() {
            Some(name) => push_kind(name),
            None => {
                let data = std::iter::once(first).chain(items).collect();
                return redis::Value::Push {
                    kind: redis::PushKind::Other(String::new()),
                    data: all(data),
                };
            }
        },
        None => redis::PushKind::Other(String::new()),
    };
    redis::Value::Push {
        kind,
        data: all(items.collect()),
    }
}

fn push_kind(name: &[u8]) -> redis::PushKind {
    use redis::PushKind as K;
    match name {
        b"invalidate" => K::Invalidate,
        b"message" => K::Message,
        b"pmessage" => K::PMessage,
        b"smessage" => K::SMessage,
        b"unsubscribe" => K::Unsubscribe,
        b"punsubscribe" => K::PUnsubscribe,
        b"sunsubscribe" => K::SUnsubscribe,
        b"subscribe" => K::Subscribe,
        b"psubscribe" => K::PSubscribe,
        b"ssubscribe" => K::SSubscribe,
        other => K::Other(lossy(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp_sentinel_core::ByteStr;

    fn b(s: &str) -> ByteStr {
        ByteStr::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn every_type_becomes_what_redis_rs_parses() {
        let cases: Vec<(Value, &[u8])> = vec![
            (Value::SimpleString(b("OK")), b"+OK\r\n"),
            (Value::SimpleString(b("PONG")), b"+PONG\r\n"),
            (Value::Integer(-7), b":-7\r\n"),
            (Value::Bulk(b("a\r\nb")), b"$4\r\na\r\nb\r\n"),
            (Value::Null, b"_\r\n"),
            (Value::Boolean(true), b"#t\r\n"),
            (Value::Double(1.5), b",1.5\r\n"),
            (
                Value::BigNumber(b("12345678901234567890")),
                b"(12345678901234567890\r\n",
            ),
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
                Value::Map(vec![(Value::Bulk(b("k")), Value::Integer(2))]),
                b"%1\r\n$1\r\nk\r\n:2\r\n",
            ),
            (
                Value::Push(vec![Value::Bulk(b("message")), Value::Bulk(b("ch"))]),
                b">2\r\n$7\r\nmessage\r\n$2\r\nch\r\n",
            ),
            (
                Value::Error(b("NOSCRIPT No matching script")),
                b"-NOSCRIPT No matching script\r\n",
            ),
            (Value::Error(b("WEIRD thing")), b"-WEIRD thing\r\n"),
            (Value::BlobError(b("SYNTAX bad")), b"!10\r\nSYNTAX bad\r\n"),
        ];
        for (ours, wire) in cases {
            let expected = redis::parse_redis_value(wire).expect("redis-rs parses the wire");
            assert_eq!(to_redis_value(ours.clone()), expected, "{ours:?}");
        }
    }

    #[test]
    fn error_replies_keep_code_and_kind() {
        let v = to_redis_value(Value::Error(b("NOSCRIPT No matching script.")));
        let redis::Value::ServerError(e) = v else {
            panic!("{v:?}")
        };
        assert_eq!(e.kind(), Some(redis::ServerErrorKind::NoScript));
        assert_eq!(e.code(), "NOSCRIPT");
        assert_eq!(e.details(), Some("No matching script."));
    }

    #[test]
    fn attributes_and_odd_pushes_are_kept() {
        let v = to_redis_value(Value::Attributed {
            attributes: vec![(Value::Bulk(b("a")), Value::Integer(1))],
            value: Box::new(Value::Integer(2)),
        });
        assert_eq!(
            v,
            redis::Value::Attribute {
                data: Box::new(redis::Value::Int(2)),
                attributes: vec![(
                    redis::Value::BulkString(b"a".to_vec()),
                    redis::Value::Int(1)
                )],
            }
        );
        let v = to_redis_value(Value::Push(vec![Value::Integer(3)]));
        assert_eq!(
            v,
            redis::Value::Push {
                kind: redis::PushKind::Other(String::new()),
                data: vec![redis::Value::Int(3)],
            }
        );
        let v = to_redis_value(Value::Verbatim {
            format: *b"xyz",
            text: b("t"),
        });
        assert!(matches!(
            v,
            redis::Value::VerbatimString {
                format: redis::VerbatimFormat::Unknown(f),
                ..
            } if f == "xyz"
        ));
    }
}
