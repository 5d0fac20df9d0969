//! Pub/sub messages as the caller sees them.

use bytes::Bytes;
use resp_sentinel_core::Value;

/// One published message received on a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: Bytes,
    /// The pattern that matched, for `PSUBSCRIBE` subscriptions.
    pub pattern: Option<Bytes>,
    /// The message body.
    pub payload: Bytes,
}

impl Message {
    /// Reads a `message` or `pmessage` frame (RESP2 array or RESP3 push); other pub/sub frames
    /// (subscribe confirmations and the like) give `None`.
    pub fn from_value(v: &Value) -> Option<Message> {
        let items = match v {
            Value::Array(items) | Value::Push(items) => items,
            Value::Attributed { value, .. } => return Message::from_value(value),
            _ => return None,
        };
        let word = |i: usize| match items.get(i) {
            Some(Value::Bulk(b) | Value::SimpleString(b)) => Some(b.clone()),
            _ => None,
        };
        let kind = word(0)?;
        if kind.eq_ignore_ascii_case(b"message") && items.len() == 3 {
            Some(Message {
                channel: word(1)?,
                pattern: None,
                payload: word(2)?,
            })
        } else if kind.eq_ignore_ascii_case(b"pmessage") && items.len() == 4 {
            Some(Message {
                pattern: Some(word(1)?),
                channel: word(2)?,
                payload: word(3)?,
            })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn reads_message_and_pmessage() {
        let m = Message::from_value(&Value::Push(vec![b("message"), b("ch"), b("hi")])).unwrap();
        assert_eq!(
            (&m.channel[..], &m.payload[..], m.pattern),
            (&b"ch"[..], &b"hi"[..], None)
        );
        let p = Message::from_value(&Value::Array(vec![b("pmessage"), b("c*"), b("ch"), b("x")]))
            .unwrap();
        assert_eq!(p.pattern.as_deref(), Some(&b"c*"[..]));
        assert!(Message::from_value(&Value::Array(vec![
            b("subscribe"),
            b("ch"),
            Value::Integer(1)
        ]))
        .is_none());
        assert!(Message::from_value(&Value::Array(vec![b("message"), b("ch")])).is_none());
    }
}
