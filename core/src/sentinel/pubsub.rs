//! The caller's pub/sub: one data connection for the caller's channels and patterns. It
//! follows the data node through failovers and resubscribes. Sentinel notice subscriptions
//! live in `watch.rs`.

use super::connections::Use;
use super::interface::{ConnId, PeerKind};
use super::machine::{Goal, Machine};
use crate::{cmd, Cmd};
use std::collections::BTreeSet;
use std::time::Instant;

/// The caller's subscriptions and the connection that carries them.
#[derive(Debug, Default)]
pub(crate) struct PubSub {
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
    conn: Option<ConnId>,
    /// When to (re)open the connection, once a ready node exists.
    reopen_at: Option<Instant>,
}

impl PubSub {
    /// True while the caller is subscribed to anything.
    fn wanted(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }

    /// When to reopen the connection, if it is missing and wanted (`node_ready`: a data node
    /// is ready to host it; with none, the node becoming ready opens it, and a past deadline
    /// here would spin).
    pub(crate) fn due(&self, node_ready: bool) -> Option<Instant> {
        self.reopen_at
            .filter(|_| self.conn.is_none() && self.wanted() && node_ready)
    }

    /// True when the reopen deadline passed at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.reopen_at.is_some_and(|t| t <= now)
    }

    /// The connection went away; reopen after `delay`. True when `id` was it.
    pub(crate) fn lost(&mut self, id: ConnId, reopen_at: Instant) -> bool {
        if self.conn != Some(id) {
            return false;
        }
        self.conn = None;
        self.reopen_at = Some(reopen_at);
        true
    }

    /// Forgets the connection for good (the machine closed).
    pub(crate) fn stop(&mut self) {
        self.conn = None;
        self.reopen_at = None;
    }

    /// Adds (`add`) or drops names; returns the command carrying the changes, if any.
    fn change<I, S>(&mut self, pattern: bool, add: bool, names: I) -> Option<Cmd>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
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
        (c.len() > 1).then_some(c)
    }

    /// The commands that subscribe a fresh connection to everything.
    fn resubscribe(&self) -> Vec<Cmd> {
        let mut out = Vec::new();
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
            out.push(c);
        }
        out
    }
}

impl Machine {
    /// Adds or drops channels (or patterns) of the caller's subscriptions.
    pub(crate) fn change_subs<I, S>(&mut self, pattern: bool, add: bool, names: I, now: Instant)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        if self.phase.is_over() || self.goal != Goal::Client {
            return;
        }
        let Some(c) = self.pubsub.change(pattern, add, names) else {
            return;
        };
        match self
            .pubsub
            .conn
            .filter(|p| self.io.get(*p).is_some_and(|c| c.is_ready()))
        {
            Some(p) => self.io.send_raw(p, &c),
            None => self.pubsub.reopen_at = Some(now),
        }
        self.sync_pubsub(now);
    }

    /// Keeps the caller's pub/sub connection on the ready data node (opens, moves or closes it).
    pub(crate) fn sync_pubsub(&mut self, now: Instant) {
        let want = self.pubsub.wanted();
        let node = self
            .ready_conn()
            .and_then(|id| self.io.get(id))
            .map(|c| c.addr().clone());
        if let Some(p) = self.pubsub.conn {
            let addr = self.io.get(p).map(|c| c.addr().clone());
            let misplaced = node.is_some() && addr != node;
            if !want || misplaced {
                self.pubsub.conn = None;
                self.io.close(p);
                self.pubsub.reopen_at = Some(now);
            }
        }
        let due = self.pubsub.reopen_at.is_none_or(|t| t <= now);
        if let (true, None, Some(addr), true) = (want, self.pubsub.conn, node, due) {
            let kind = PeerKind::DataSubscriber(self.cfg.role);
            self.pubsub.conn = Some(self.io.open(addr, Use::PubSub, kind, now));
            self.pubsub.reopen_at = None;
        }
    }

    /// The pub/sub connection passed its handshake: (re)subscribe everything.
    pub(crate) fn pubsub_ready(&mut self, id: ConnId) {
        if let Some(c) = self.io.get_mut(id) {
            c.set_ready();
        }
        for c in self.pubsub.resubscribe() {
            self.io.send_raw(id, &c);
        }
    }
}
