//! Sentinel pub/sub notifications (`+switch-master`, `+selected-slave`...) parsed into facts.

use super::interface::Addr;
use super::parse::{items, text};
use crate::Value;

/// Channels the sentinel subscription listens to.
pub(crate) const CHANNELS: &[&str] = &[
    "+switch-master",
    "+odown",
    "-odown",
    "+sdown",
    "-sdown",
    "+try-failover",
    "+elected-leader",
    "+failover-state-select-slave",
    "+selected-slave",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+promoted-slave",
    "+failover-state-reconf-slaves",
    "+failover-end",
    "+failover-end-for-timeout",
    "-failover-abort-not-elected",
    "-failover-abort-no-good-slave",
    "-failover-abort-slave-timeout",
    "+slave",
    "+sentinel",
];

/// One notification: the channel, the service it concerns and the addresses it names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Notice {
    pub channel: String,
    pub service: String,
    /// The master the event is about (for `+switch-master`, the old one).
    pub master: Addr,
    /// For `+switch-master`: the new master. For `<type> <name> <ip> <port> @ ...` events about
    /// a replica or sentinel: that instance's address.
    pub other: Option<Addr>,
    /// `master`, `slave`, `sentinel` for `%@`-formatted events.
    pub instance_type: String,
}

fn addr(ip: &str, port: &str) -> Option<Addr> {
    let p: u16 = port.parse().ok()?;
    (p != 0 && !ip.is_empty()).then(|| Addr::new(ip, p))
}

/// The `(channel, payload)` of a RESP2 `message`/`pmessage` array or a RESP3 push.
pub(crate) fn message(v: &Value) -> Option<(&[u8], &[u8])> {
    let a = items(v)?;
    let kind = text(a.first()?)?;
    match (kind, a.len()) {
        (b"message", 3) => Some((text(&a[1])?, text(&a[2])?)),
        (b"pmessage", 4) => Some((text(&a[2])?, text(&a[3])?)),
        _ => None,
    }
}

/// Parses a sentinel notification; `None` for anything not understood.
pub(crate) fn parse(channel: &[u8], payload: &[u8]) -> Option<Notice> {
    let channel = std::str::from_utf8(channel).ok()?.to_string();
    let payload = std::str::from_utf8(payload).ok()?;
    let t: Vec<&str> = payload.split_ascii_whitespace().collect();
    if channel == "+switch-master" {
        if t.len() != 5 {
            return None;
        }
        return Some(Notice {
            channel,
            service: t[0].to_string(),
            master: addr(t[1], t[2])?,
            other: Some(addr(t[3], t[4])?),
            instance_type: "master".into(),
        });
    }
    // `%@` format: `<type> <name> <ip> <port> [@ <master> <ip> <port>] [extra...]`.
    if t.len() < 4 {
        return None;
    }
    let instance_type = t[0].to_string();
    let own = addr(t[2], t[3]);
    if let Some(at) = t.iter().position(|w| *w == "@") {
        let m = t.get(at + 1..at + 4)?;
        return Some(Notice {
            channel,
            service: m[0].to_string(),
            master: addr(m[1], m[2])?,
            other: own,
            instance_type,
        });
    }
    if !matches!(instance_type.as_str(), "master" | "primary") {
        return None;
    }
    Some(Notice {
        channel,
        service: t[1].to_string(),
        master: own?,
        other: None,
        instance_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn parses_event_formats() {
        let n = parse(b"+switch-master", b"svc 10.0.0.1 6379 10.0.0.2 6380").unwrap();
        assert_eq!(n.service, "svc");
        assert_eq!(n.master, Addr::new("10.0.0.1", 6379));
        assert_eq!(n.other, Some(Addr::new("10.0.0.2", 6380)));
        let n = parse(
            b"+selected-slave",
            b"slave 10.0.0.2:6380 10.0.0.2 6380 @ svc 10.0.0.1 6379",
        )
        .unwrap();
        assert_eq!(n.master, Addr::new("10.0.0.1", 6379));
        assert_eq!(n.other, Some(Addr::new("10.0.0.2", 6380)));
        let n = parse(b"+odown", b"master svc 10.0.0.1 6379 #quorum 2/2").unwrap();
        assert_eq!((n.service.as_str(), n.other), ("svc", None));
        assert!(parse(b"+switch-master", b"svc 1 2 3").is_none());
        assert!(parse(b"+odown", b"master svc 10.0.0.1 99999").is_none());
        assert!(parse(b"+odown", b"\xff\xfe").is_none());
        assert!(parse(b"+sdown", b"slave a b c @ svc").is_none());
    }

    #[test]
    fn extracts_messages() {
        let b = |s: &'static str| Value::Bulk(Bytes::from_static(s.as_bytes()).into());
        let m = Value::Array(vec![b("message"), b("+odown"), b("x")]);
        assert_eq!(message(&m), Some((&b"+odown"[..], &b"x"[..])));
        let p = Value::Push(vec![b("pmessage"), b("*"), b("ch"), b("y")]);
        assert_eq!(message(&p), Some((&b"ch"[..], &b"y"[..])));
        let ack = Value::Array(vec![b("subscribe"), b("ch"), Value::Integer(1)]);
        assert_eq!(message(&ack), None);
    }
}
