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

use super::conn::{Pending, Use};
use super::io::{Addr, ConnId, Event, PeerKind, Role};
use super::machine::{Cause, Machine, Mode};
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
pub(crate) struct Watch {
    /// The open (or opening) connection.
    pub conn: Option<ConnId>,
    /// When to reconnect after a loss.
    pub retry_at: Option<Instant>,
    /// Losses since the last frame received, for the reconnect delay.
    pub failures: u32,
}

/// Notices recently acted on: notice -> (when, from which sentinel).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    map: BTreeMap<Notice, (Instant, Addr)>,
}

impl Seen {
    /// True when `n` came from another sentinel than `from` within the window; otherwise
    /// records it.
    pub(crate) fn duplicate(&mut self, n: &Notice, from: &Addr, now: Instant) -> bool {
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

impl Machine {
    /// Opens (or reopens, once due) a notice subscription to every listed sentinel and closes
    /// those to sentinels no longer listed.
    pub(crate) fn ensure_notices(&mut self, now: Instant) {
        if self.mode != Mode::Client || self.closed || !self.watching {
            return;
        }
        let gone: Vec<Addr> = self
            .watches
            .keys()
            .filter(|a| !self.sentinels.contains(a))
            .cloned()
            .collect();
        for a in gone {
            if let Some(c) = self.watches.remove(&a).and_then(|w| w.conn) {
                self.close_quiet(c);
            }
        }
        for a in self.sentinels.clone() {
            let w = self.watches.entry(a.clone()).or_default();
            if w.conn.is_some() || w.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            w.retry_at = None;
            let id = self.open(a.clone(), Use::Notices, PeerKind::SentinelSubscriber, now);
            if let Some(w) = self.watches.get_mut(&a) {
                w.conn = Some(id);
            }
        }
    }

    /// The earliest reconnect deadline of a dropped subscription.
    pub(crate) fn notices_due(&self) -> Option<Instant> {
        if !self.watching {
            return None;
        }
        self.watches
            .values()
            .filter(|w| w.conn.is_none())
            .filter_map(|w| w.retry_at)
            .min()
    }

    /// The notice connection is up: authenticate and subscribe.
    pub(crate) fn notices_connected(&mut self, id: ConnId, now: Instant) {
        if let Some(a) = self.cfg.sentinel_auth.clone() {
            let mut c = cmd("AUTH");
            if let Some(u) = &a.username {
                c = c.arg(u);
            }
            self.send(id, &c.arg(&a.password), Pending::SentinelAuth, now);
        }
        let mut c = cmd("SUBSCRIBE");
        for ch in CHANNELS {
            c.push(*ch);
        }
        self.send_raw(id, &c);
    }

    /// A frame on a notice connection (after its AUTH reply).
    pub(crate) fn on_notice_frame(&mut self, id: ConnId, v: &Value, now: Instant) {
        let Some(from) = self.conns.get(&id).map(|c| c.addr.clone()) else {
            return;
        };
        if let Some(w) = self.watches.get_mut(&from) {
            w.failures = 0;
        }
        let Some(n) = message(v).and_then(|(ch, payload)| parse(ch, payload)) else {
            return;
        };
        if self.seen.duplicate(&n, &from, now) {
            return;
        }
        if n.channel == "+switch-master" && n.service == self.cfg.service {
            if let Some(new) = n
                .other
                .as_ref()
                .filter(|new| self.replaced.contains_key(*new))
            {
                if self.cfg.role == Role::Master && self.target() != Some(&n.master) {
                    // A lagging sentinel announcing an earlier failover, whose new master we
                    // have since seen replaced: stale (see `epoch.rs`). Sentinels are asked
                    // if nothing is in use; otherwise the master in use stays.
                    if self.node.is_none() {
                        self.start_walk(now);
                    }
                    return;
                }
                // A later failover went back to a master we had moved away from.
                let new = new.clone();
                self.replaced.remove(&new);
            }
        }
        self.on_notice(n, &from, now);
        // `+sentinel` may have added one to listen to.
        self.ensure_notices(now);
    }

    /// AUTH on a notice connection failed, or it closed: reconnect to that sentinel later.
    pub(crate) fn notices_lost(&mut self, id: ConnId, cause: &Cause, now: Instant) {
        let Some((addr, w)) = self.watches.iter_mut().find(|(_, w)| w.conn == Some(id)) else {
            return;
        };
        let addr = addr.clone();
        w.conn = None;
        let shift = w.failures.min(16);
        w.failures = w.failures.saturating_add(1);
        let b = &self.cfg.backoff;
        let delay = b.base.saturating_mul(1u32 << shift).min(b.cap.max(b.base));
        w.retry_at = Some(now + delay);
        if !self.closed {
            self.event(Event::Error(format!(
                "sentinel subscription to {addr} lost: {}",
                cause.describe()
            )));
        }
    }
}
