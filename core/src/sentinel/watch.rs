//! Listening to every sentinel: one notice subscription per known sentinel, each reconnected
//! with its own backoff when it drops, and duplicate notices dropped.
//!
//! Why every sentinel: in a forced failover only the sentinel running it publishes the
//! progress events (`+try-failover`, `+selected-slave`, `+promoted-slave`...); the others only
//! publish `+switch-master`, up to seconds later, once they hear the new configuration. A
//! client listening to one sentinel raises the fence late whenever the leader is another one.
//! Events every sentinel publishes (`+switch-master`, `+odown`, `+sentinel`...) then arrive
//! several times: a notice already seen from *another* sentinel within [`DEDUP_WINDOW`] is
//! dropped (the same notice again from the same sentinel is a new occurrence).

use super::connections::{Cause, Use};
use super::interface::{Addr, ConnId, Event, PeerKind, Role};
use super::machine::{Goal, Machine};
use super::notice::{message, parse, Notice, CHANNELS};
use crate::{cmd, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a notice counts as a duplicate when another sentinel repeats it.
pub(crate) const DEDUP_WINDOW: Duration = Duration::from_secs(30);

/// Most notices remembered for deduplication (oldest forgotten first).
const DEDUP_MAX: usize = 256;

/// The subscription to one sentinel.
#[derive(Debug, Default)]
struct Watch {
    /// The open (or opening) connection.
    conn: Option<ConnId>,
    /// When to reconnect after a loss.
    retry_at: Option<Instant>,
    /// Losses since the last frame received, for the reconnect delay.
    failures: u32,
}

/// Notices recently acted on: notice -> (when, from which sentinel).
#[derive(Debug, Default)]
struct Seen {
    map: BTreeMap<Notice, (Instant, Addr)>,
}

impl Seen {
    /// True when `n` came from another sentinel than `from` within the window; otherwise
    /// records it.
    fn duplicate(&mut self, n: &Notice, from: &Addr, now: Instant) -> bool {
        self.map
            .retain(|_, (t, _)| now.saturating_duration_since(*t) < DEDUP_WINDOW);
        if let Some((_, who)) = self.map.get(n) {
            if who != from {
                return true;
            }
        }
        if self.map.len() >= DEDUP_MAX {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|e| e.0.clone());
            if let Some(k) = oldest {
                self.map.remove(&k);
            }
        }
        self.map.insert(n.clone(), (now, from.clone()));
        false
    }
}

/// The notice subscriptions, one per known sentinel, and the notices recently seen.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    subs: BTreeMap<Addr, Watch>,
    /// Subscriptions are kept up (set once a sentinel first answered).
    active: bool,
    seen: Seen,
}

impl Watchers {
    /// Starts keeping subscriptions up; true the first time.
    pub(crate) fn start(&mut self) -> bool {
        !std::mem::replace(&mut self.active, true)
    }

    /// Drops every subscription (the connections are closed by the caller).
    pub(crate) fn stop(&mut self) {
        self.subs.clear();
        self.active = false;
    }

    /// The earliest reconnect deadline of a dropped subscription.
    pub(crate) fn due(&self) -> Option<Instant> {
        if !self.active {
            return None;
        }
        self.subs
            .values()
            .filter(|w| w.conn.is_none())
            .filter_map(|w| w.retry_at)
            .min()
    }

    /// The sentinel a notice connection listens to.
    fn sentinel_of(&self, id: ConnId) -> Option<&Addr> {
        self.subs
            .iter()
            .find(|(_, w)| w.conn == Some(id))
            .map(|(a, _)| a)
    }
}

impl Machine {
    /// Opens (or reopens, once due) a notice subscription to every listed sentinel and closes
    /// those to sentinels no longer listed.
    pub(crate) fn ensure_notices(&mut self, now: Instant) {
        if self.goal != Goal::Client || self.phase.is_closed() || !self.watch.active {
            return;
        }
        let gone: Vec<Addr> = self
            .watch
            .subs
            .keys()
            .filter(|a| !self.sentinels.contains(a))
            .cloned()
            .collect();
        for a in gone {
            if let Some(c) = self.watch.subs.remove(&a).and_then(|w| w.conn) {
                self.io.close(c);
            }
        }
        for a in self.sentinels.list().to_vec() {
            let w = self.watch.subs.entry(a.clone()).or_default();
            if w.conn.is_some() || w.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            w.retry_at = None;
            let id = self
                .io
                .open(a.clone(), Use::Notices, PeerKind::SentinelSubscriber, now);
            if let Some(w) = self.watch.subs.get_mut(&a) {
                w.conn = Some(id);
            }
        }
    }

    /// The notice connection is up: authenticate and subscribe.
    pub(crate) fn notices_connected(&mut self, id: ConnId, now: Instant) {
        self.sentinel_auth(id, now);
        let mut c = cmd("SUBSCRIBE");
        for ch in CHANNELS {
            c.push(*ch);
        }
        self.io.send_raw(id, &c);
    }

    /// A frame on a notice connection (after its AUTH reply).
    pub(crate) fn on_notice_frame(&mut self, id: ConnId, v: &Value, now: Instant) {
        let Some(from) = self.io.get(id).map(|c| c.addr().clone()) else {
            return;
        };
        if let Some(w) = self.watch.subs.get_mut(&from) {
            w.failures = 0;
        }
        let Some(n) = message(v).and_then(|(ch, payload)| parse(ch, payload)) else {
            return;
        };
        // Only notices about our service, on channels we listen to, are remembered.
        if n.service != self.cfg.service || !CHANNELS.contains(&n.channel.as_str()) {
            return;
        }
        if self.watch.seen.duplicate(&n, &from, now) {
            return;
        }
        if n.channel == "+switch-master" && n.service == self.cfg.service {
            if let Some(new) = n.other.as_ref().filter(|new| self.history.is_replaced(new)) {
                if self.cfg.role == Role::Master && self.target() != Some(&n.master) {
                    // A lagging sentinel announcing an earlier failover, whose new master we
                    // have since seen replaced: stale (see `epoch.rs`). Sentinels are asked
                    // if nothing is in use; otherwise the master in use stays.
                    if self.phase.node().is_none() {
                        self.start_walk(now);
                    }
                    return;
                }
                // A later failover went back to a master we had moved away from.
                let new = new.clone();
                self.history.forget_replaced(&new);
            }
        }
        self.on_notice(n, &from, now);
        // `+sentinel` may have added one to listen to.
        self.ensure_notices(now);
    }

    /// AUTH on a notice connection failed, or it closed: reconnect to that sentinel later.
    pub(crate) fn notices_lost(&mut self, id: ConnId, cause: &Cause, now: Instant) {
        let Some(addr) = self.watch.sentinel_of(id).cloned() else {
            return;
        };
        let Some(w) = self.watch.subs.get_mut(&addr) else {
            return;
        };
        w.conn = None;
        let shift = w.failures.min(16);
        w.failures = w.failures.saturating_add(1);
        let b = &self.cfg.backoff;
        let delay = b.base.saturating_mul(1u32 << shift).min(b.cap.max(b.base));
        w.retry_at = Some(now + delay);
        // Said once; while the sentinel stays down its reconnects are backed off quietly.
        if shift == 0 && !self.phase.is_closed() {
            self.io.event(Event::Error(format!(
                "sentinel subscription to {addr} lost: {}",
                cause.describe()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn notice_copies_from_other_sentinels_are_duplicates_within_the_window() {
        let n = super::parse(b"+switch-master", b"svc 10.0.0.1 6379 10.0.0.2 6380").unwrap();
        let (s1, s2) = (a("s1:26379"), a("s2:26379"));
        let mut seen = Seen::default();
        let t0 = Instant::now();
        assert!(!seen.duplicate(&n, &s1, t0));
        assert!(seen.duplicate(&n, &s2, t0 + Duration::from_secs(2)));
        assert!(
            !seen.duplicate(&n, &s1, t0 + Duration::from_secs(3)),
            "same sentinel: new event"
        );
        let later = t0 + Duration::from_secs(3) + DEDUP_WINDOW;
        assert!(!seen.duplicate(&n, &s2, later), "window passed");
    }
}
