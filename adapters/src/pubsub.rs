//! Pub/sub messages as the caller sees them.

use bytes::Bytes;
use resp_sentinel_core::{ByteStr, Value};

/// One published message received on a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: ByteStr,
    /// The pattern that matched, for `PSUBSCRIBE` subscriptions.
    pub pattern: Option<ByteStr>,
    /// The message body (`ByteStr::into_bytes` gives a `Bytes`).
    pub payload: ByteStr,
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

/// What one subscription asked for: its channels, or its patterns.
#[derive(Clone, Debug)]
pub(crate) struct Interest {
    names: Vec<Bytes>,
    patterns: bool,
}

impl Interest {
    pub(crate) fn new<S: AsRef<[u8]>>(names: &[S], patterns: bool) -> Interest {
        Interest {
            names: names
                .iter()
                .map(|n| Bytes::copy_from_slice(n.as_ref()))
                .collect(),
            patterns,
        }
    }

    /// The message in `v`, if it is one this subscription asked for.
    pub(crate) fn accept(&self, v: &Value) -> Option<Message> {
        let m = Message::from_value(v)?;
        let key = if self.patterns {
            m.pattern.as_ref()?
        } else if m.pattern.is_none() {
            &m.channel
        } else {
            return None;
        };
        self.names.iter().any(|n| n == key).then_some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bulk(ByteStr::copy_from_slice(s.as_bytes()))
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

    #[test]
    fn a_subscription_only_gets_what_it_asked_for() {
        let news = Interest::new(&["news"], false);
        let pats = Interest::new(&["n*"], true);
        let on_news = Value::Push(vec![b("message"), b("news"), b("1")]);
        let on_other = Value::Push(vec![b("message"), b("other"), b("2")]);
        let by_pattern = Value::Push(vec![b("pmessage"), b("n*"), b("news"), b("3")]);
        assert!(news.accept(&on_news).is_some());
        assert!(news.accept(&on_other).is_none());
        assert!(
            news.accept(&by_pattern).is_none(),
            "pattern deliveries belong to psubscribe"
        );
        assert!(pats.accept(&by_pattern).is_some());
        assert!(pats.accept(&on_news).is_none());
    }
}
