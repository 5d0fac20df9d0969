//! The caller's pub/sub: one data connection for the caller's channels (it follows the data
//! node through failovers and resubscribes). Sentinel notice subscriptions live in `watch.rs`.

use super::conn::Use;
use super::io::{ConnId, PeerKind};
use super::machine::{Machine, Mode};
use crate::{cmd, Cmd};
use std::time::Instant;

impl Machine {
    /// Subscribes the caller to `channels`; messages come out as [`super::Output::Message`].
    pub fn subscribe<I, S>(&mut self, channels: I, now: Instant)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(false, true, channels, now);
    }

    /// Subscribes the caller to channel patterns (`PSUBSCRIBE`).
    pub fn psubscribe<I, S>(&mut self, patterns: I, now: Instant)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(true, true, patterns, now);
    }

    /// Drops channels from the caller's subscriptions.
    pub fn unsubscribe<I, S>(&mut self, channels: I, now: Instant)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(false, false, channels, now);
    }

    /// Drops patterns from the caller's subscriptions.
    pub fn punsubscribe<I, S>(&mut self, patterns: I, now: Instant)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(true, false, patterns, now);
    }

    fn change_subs<I, S>(&mut self, pattern: bool, add: bool, names: I, now: Instant)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        if self.closed || self.mode != Mode::Client {
            return;
        }
        let verb = match (pattern, add) {
            (false, true) => "SUBSCRIBE",
            (true, true) => "PSUBSCRIBE",
            (false, false) => "UNSUBSCRIBE",
            (true, false) => "PUNSUBSCRIBE",
        };
        let mut c = cmd(verb);
        let set = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        for n in names {
            let n = n.as_ref().to_vec();
            let changed = if add {
                set.insert(n.clone())
            } else {
                set.remove(&n)
            };
            if changed {
                c.push(n);
            }
        }
        if c.len() == 1 {
            return;
        }
        match self
            .pubsub
            .filter(|p| self.conns.get(p).is_some_and(|c| c.ready))
        {
            Some(p) => self.send_raw(p, &c),
            None => self.pubsub_at = Some(now),
        }
        self.sync_pubsub(now);
    }

    /// Keeps the caller's pub/sub connection on the ready data node (opens, moves or closes it).
    pub(crate) fn sync_pubsub(&mut self, now: Instant) {
        let want = !self.channels.is_empty() || !self.patterns.is_empty();
        let node = self
            .ready_node()
            .and_then(|id| self.conns.get(&id))
            .map(|c| c.addr.clone());
        if let Some(p) = self.pubsub {
            let addr = self.conns.get(&p).map(|c| c.addr.clone());
            let misplaced = node.is_some() && addr != node;
            if !want || misplaced {
                self.pubsub = None;
                self.close_quiet(p);
                self.pubsub_at = Some(now);
            }
        }
        let due = self.pubsub_at.is_none_or(|t| t <= now);
        if let (true, None, Some(addr), true) = (want, self.pubsub, node, due) {
            let kind = PeerKind::DataSubscriber(self.cfg.role);
            self.pubsub = Some(self.open(addr, Use::PubSub, kind, now));
            self.pubsub_at = None;
        }
    }

    /// The pub/sub connection passed its handshake: (re)subscribe everything.
    pub(crate) fn pubsub_ready(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.ready = true;
        }
        for (verb, set) in [
            ("SUBSCRIBE", &self.channels),
            ("PSUBSCRIBE", &self.patterns),
        ] {
            if set.is_empty() {
                continue;
            }
            let mut c = Cmd::new(verb);
            for n in set {
                c.push(n.as_slice());
            }
            if let Some(conn) = self.conns.get_mut(&id) {
                c.encode(&mut conn.wbuf);
            }
        }
        self.dirty.insert(id);
    }
}
