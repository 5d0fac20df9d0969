//! Pub/sub messages as the caller sees them: the core parses frames into [`Message`]s; the
//! driver hands each subscription only the ones it asked for.

use bytes::Bytes;
use flume::Sender;
use resp_sentinel_core::sentinel::Message;

/// What a subscription names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Channels (`SUBSCRIBE`).
    Channels,
    /// Patterns (`PSUBSCRIBE`).
    Patterns,
    /// Sharded channels (`SSUBSCRIBE`).
    Shards,
}

/// What one subscription asked for: its channels, its patterns, or its sharded channels.
#[derive(Clone, Debug)]
pub struct Interest {
    /// Tells this subscription apart from the client's others (to release it when dropped).
    id: u64,
    names: Vec<Bytes>,
    kind: Kind,
    /// Its queue was full when a message came: warned once until it drains.
    lagging: bool,
}

impl Interest {
    pub(crate) fn new<S: AsRef<[u8]>>(names: &[S], kind: Kind) -> Interest {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Interest {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            names: names
                .iter()
                .map(|n| Bytes::copy_from_slice(n.as_ref()))
                .collect(),
            kind,
            lagging: false,
        }
    }

    /// Which subscription this is.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether `m` is a message this subscription asked for.
    pub(crate) fn accept(&self, m: &Message) -> bool {
        let key = match (&m.pattern, m.sharded, self.kind) {
            (Some(p), _, Kind::Patterns) => p,
            (None, false, Kind::Channels) | (None, true, Kind::Shards) => &m.channel,
            _ => return false,
        };
        self.names.iter().any(|n| n == key)
    }

    /// Whether it asked for `name` of this kind.
    fn covers(&self, kind: Kind, name: &[u8]) -> bool {
        self.kind == kind && self.names.iter().any(|n| n == name)
    }
}

/// Forgets subscription `id`; returns the names (and their kind) that no other
/// subscription of the client still wants, to unsubscribe on the server.
pub(crate) fn release(
    sinks: &mut Vec<(Interest, Sender<Message>)>,
    id: u64,
) -> Option<(Kind, Vec<Bytes>)> {
    let at = sinks.iter().position(|(i, _)| i.id == id)?;
    let (gone, _) = sinks.remove(at);
    let orphans: Vec<Bytes> = gone
        .names
        .iter()
        .filter(|n| !sinks.iter().any(|(i, _)| i.covers(gone.kind, n)))
        .cloned()
        .collect();
    Some((gone.kind, orphans))
}

/// Most messages a subscription holds unread: a server publishing faster than the caller
/// reads cannot grow the client's memory without bound. Past it, new messages for that
/// subscription are dropped (and a warning logged), as a lagging broadcast receiver would.
pub(crate) const SUBSCRIPTION_BACKLOG: usize = 65_536;

/// Hands `m` to every subscription that asked for it, so a queue only holds its own messages;
/// subscriptions that were dropped are forgotten, full ones skip `m`.
pub(crate) fn deliver(sinks: &mut Vec<(Interest, Sender<Message>)>, m: &Message) {
    sinks.retain_mut(|(interest, sink)| {
        if interest.accept(m) {
            match sink.try_send(m.clone()) {
                Ok(()) => {
                    interest.lagging = false;
                    true
                }
                Err(flume::TrySendError::Full(_)) => {
                    // Once per episode, not once per message: a flood must not flood the log.
                    if !std::mem::replace(&mut interest.lagging, true) {
                        tracing::warn!(
                            subscription = interest.id(),
                            "subscription not read: {SUBSCRIPTION_BACKLOG} messages waiting, \
                             new ones dropped until it is read"
                        );
                    }
                    true
                }
                Err(flume::TrySendError::Disconnected(_)) => false,
            }
        } else {
            !sink.is_disconnected()
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp_sentinel_core::ByteStr;

    fn msg(channel: &str, pattern: Option<&str>, payload: &str) -> Message {
        Message {
            channel: ByteStr::copy_from_slice(channel.as_bytes()),
            pattern: pattern.map(|p| ByteStr::copy_from_slice(p.as_bytes())),
            payload: ByteStr::copy_from_slice(payload.as_bytes()),
            sharded: false,
        }
    }

    #[test]
    fn a_full_subscription_drops_new_messages_and_stays() {
        let (tx, rx) = flume::bounded(2);
        let mut sinks = vec![(Interest::new(&["news"], Kind::Channels), tx)];
        for i in 0..5 {
            deliver(&mut sinks, &msg("news", None, &i.to_string()));
        }
        assert_eq!(sinks.len(), 1, "still subscribed");
        let got: Vec<_> = rx.try_iter().map(|m| m.payload.to_vec()).collect();
        assert_eq!(
            got,
            vec![b"0".to_vec(), b"1".to_vec()],
            "bounded, oldest kept"
        );
        deliver(&mut sinks, &msg("news", None, "5"));
        assert_eq!(rx.try_recv().unwrap().payload.to_vec(), b"5".to_vec());
    }

    #[test]
    fn a_subscription_only_gets_what_it_asked_for() {
        let news = Interest::new(&["news"], Kind::Channels);
        let pats = Interest::new(&["n*"], Kind::Patterns);
        let on_news = msg("news", None, "1");
        let on_other = msg("other", None, "2");
        let by_pattern = msg("news", Some("n*"), "3");
        let by_other_pattern = msg("news", Some("x*"), "4");
        assert!(news.accept(&on_news));
        assert!(!news.accept(&on_other));
        assert!(
            !news.accept(&by_pattern),
            "pattern deliveries belong to psubscribe"
        );
        assert!(pats.accept(&by_pattern));
        let shards = Interest::new(&["news"], Kind::Shards);
        let mut sharded = msg("news", None, "5");
        sharded.sharded = true;
        assert!(shards.accept(&sharded) && !news.accept(&sharded));
        assert!(
            !shards.accept(&on_news),
            "a plain publish is not a sharded one"
        );
        assert!(!pats.accept(&by_other_pattern));
        assert!(!pats.accept(&on_news));
    }

    #[test]
    fn each_queue_gets_only_its_messages_and_dropped_ones_are_forgotten() {
        let (news_tx, news) = flume::unbounded();
        let (pats_tx, pats) = flume::unbounded();
        let (gone_tx, gone) = flume::unbounded();
        let mut sinks = vec![
            (Interest::new(&["news"], Kind::Channels), news_tx),
            (Interest::new(&["n*"], Kind::Patterns), pats_tx),
            (Interest::new(&["other"], Kind::Channels), gone_tx),
        ];
        drop(gone);
        deliver(&mut sinks, &msg("news", None, "1"));
        deliver(&mut sinks, &msg("news", Some("n*"), "2"));
        deliver(&mut sinks, &msg("weather", None, "3"));
        let payloads = |rx: &flume::Receiver<Message>| {
            rx.try_iter()
                .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(payloads(&news), ["1"]);
        assert_eq!(payloads(&pats), ["2"]);
        assert_eq!(sinks.len(), 2, "the dropped subscription is forgotten");
    }
}
