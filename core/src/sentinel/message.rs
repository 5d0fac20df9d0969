//! Pub/sub frames: a published `message` / `pmessage` becomes a typed [`Message`];
//! subscription confirmations are dropped (the machine tracks its own subscriptions); any other
//! out-of-band frame is handed to the caller as [`Output::Push`].

use super::interface::Output;
use crate::{ByteStr, Value};

/// One published message received on a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: ByteStr,
    /// The pattern that matched, for `PSUBSCRIBE` subscriptions.
    pub pattern: Option<ByteStr>,
    /// The message body (`ByteStr::into_bytes` gives a `Bytes`).
    pub payload: ByteStr,
    /// Published with `SPUBLISH` to a sharded channel (`SSUBSCRIBE` subscriptions).
    pub sharded: bool,
}

impl Message {
    /// Reads a `message`, `pmessage` or `smessage` frame (RESP2 array or RESP3 push, attributes ignored);
    /// anything else, subscription confirmations included, gives `None`.
    pub fn from_value(v: &Value) -> Option<Message> {
        let items = items(v)?;
        let kind = word(items, 0)?;
        let plain = kind.eq_ignore_ascii_case(b"message");
        let sharded = kind.eq_ignore_ascii_case(b"smessage");
        if (plain || sharded) && items.len() == 3 {
            Some(Message {
                channel: word(items, 1)?,
                pattern: None,
                payload: word(items, 2)?,
                sharded,
            })
        } else if kind.eq_ignore_ascii_case(b"pmessage") && items.len() == 4 {
            Some(Message {
                pattern: Some(word(items, 1)?),
                channel: word(items, 2)?,
                payload: word(items, 3)?,
                sharded: false,
            })
        } else {
            None
        }
    }
}

/// What the caller learns of an out-of-band frame (a RESP3 push on any data connection, or any
/// frame on the subscriber connection that answers no command): nothing for a subscription
/// confirmation, the typed message for a publication, the frame itself otherwise.
pub(crate) fn output(v: Value) -> Option<Output> {
    if let Some(m) = Message::from_value(&v) {
        return Some(Output::Message(m));
    }
    if is_confirmation(&v) {
        return None;
    }
    Some(Output::Push(v))
}

/// `[subscribe|unsubscribe|psubscribe|punsubscribe|ssubscribe|sunsubscribe, name, count]`;
/// the name is null when an unsubscribe-all found nothing to drop.
fn is_confirmation(v: &Value) -> bool {
    const KINDS: [&[u8]; 6] = [
        b"subscribe",
        b"unsubscribe",
        b"psubscribe",
        b"punsubscribe",
        b"ssubscribe",
        b"sunsubscribe",
    ];
    let Some(items @ [_, name, Value::Integer(_)]) = items(v) else {
        return false;
    };
    let named = matches!(name, Value::Null) || word(items, 1).is_some();
    named && word(items, 0).is_some_and(|k| KINDS.iter().any(|w| k.eq_ignore_ascii_case(w)))
}

/// A subscription confirmation's kind (`subscribe`, `psubscribe`...) and name, lowercase.
pub(crate) fn confirmation(v: &Value) -> Option<(String, Vec<u8>)> {
    if !is_confirmation(v) {
        return None;
    }
    let items = items(v)?;
    let kind = String::from_utf8_lossy(&word(items, 0)?).to_ascii_lowercase();
    let name = word(items, 1).map(|n| n.to_vec()).unwrap_or_default();
    Some((kind, name))
}

/// The elements of an array or push, looking through attributes.
fn items(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(items) | Value::Push(items) => Some(items),
        Value::Attributed { value, .. } => items(value),
        _ => None,
    }
}

/// Element `i` when it is a string.
fn word(items: &[Value], i: usize) -> Option<ByteStr> {
    match items.get(i) {
        Some(Value::Bulk(b) | Value::SimpleString(b)) => Some(b.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bulk(ByteStr::copy_from_slice(s.as_bytes()))
    }

    fn msg(channel: &str, pattern: Option<&str>, payload: &str) -> Message {
        Message {
            channel: ByteStr::copy_from_slice(channel.as_bytes()),
            pattern: pattern.map(|p| ByteStr::copy_from_slice(p.as_bytes())),
            payload: ByteStr::copy_from_slice(payload.as_bytes()),
            sharded: false,
        }
    }

    #[test]
    fn reads_message_and_pmessage_in_both_protocols() {
        let m = Message::from_value(&Value::Push(vec![b("message"), b("ch"), b("hi")]));
        assert_eq!(m, Some(msg("ch", None, "hi")));
        let m = Message::from_value(&Value::Array(vec![b("message"), b("ch"), b("hi")]));
        assert_eq!(m, Some(msg("ch", None, "hi")));
        let p = Message::from_value(&Value::Array(vec![b("pmessage"), b("c*"), b("ch"), b("x")]));
        assert_eq!(p, Some(msg("ch", Some("c*"), "x")));
    }

    #[test]
    fn kind_is_case_insensitive_and_attributes_are_ignored() {
        let v = Value::Attributed {
            attributes: vec![(b("key"), b("val"))],
            value: Box::new(Value::Push(vec![
                Value::SimpleString("PMessage".into()),
                b("n*"),
                b("news"),
                b("1"),
            ])),
        };
        assert_eq!(Message::from_value(&v), Some(msg("news", Some("n*"), "1")));
    }

    #[test]
    fn wrong_arity_or_types_are_not_messages() {
        for v in [
            Value::Array(vec![b("message"), b("ch")]),
            Value::Array(vec![b("message"), b("ch"), b("x"), b("y")]),
            Value::Push(vec![b("pmessage"), b("ch"), b("x")]),
            Value::Push(vec![b("message"), Value::Integer(1), b("x")]),
            Value::Push(vec![b("message"), b("ch"), Value::Null]),
            Value::Array(vec![b("subscribe"), b("ch"), Value::Integer(1)]),
            Value::Array(vec![]),
            b("message"),
        ] {
            assert_eq!(Message::from_value(&v), None, "{v:?}");
        }
    }

    #[test]
    fn confirmations_vanish_messages_are_typed_other_pushes_pass_through() {
        for v in [
            Value::Array(vec![b("subscribe"), b("ch"), Value::Integer(1)]),
            Value::Push(vec![b("PSUBSCRIBE"), b("c*"), Value::Integer(2)]),
            Value::Array(vec![b("unsubscribe"), Value::Null, Value::Integer(0)]),
            Value::Push(vec![b("punsubscribe"), b("c*"), Value::Integer(0)]),
        ] {
            assert_eq!(output(v.clone()), None, "{v:?}");
        }
        let m = Value::Push(vec![b("message"), b("ch"), b("hi")]);
        assert_eq!(output(m), Some(Output::Message(msg("ch", None, "hi"))));
        let invalidate = Value::Push(vec![b("invalidate"), Value::Array(vec![b("k")])]);
        assert_eq!(
            output(invalidate.clone()),
            Some(Output::Push(invalidate.clone()))
        );
        // A confirmation-shaped frame with the wrong element types is not swallowed.
        let odd = Value::Array(vec![b("subscribe"), b("ch"), b("1")]);
        assert_eq!(output(odd.clone()), Some(Output::Push(odd)));
    }
}
