//! The caller's pub/sub: one data connection for the caller's channels and patterns. It
//! follows the data node through failovers and resubscribes. Sentinel notice subscriptions
//! live in `watch.rs`.

use super::connections::Use;
use super::error::CommandError;
use super::interface::{ConnId, PeerKind, RequestId};
use super::machine::{Goal, Machine};
use crate::{cmd, Cmd, Value};
use std::collections::BTreeSet;
use std::time::Instant;

/// A subscription change waiting for the server to confirm every name it added.
#[derive(Debug)]
struct Pending {
    id: RequestId,
    /// (kind, name) still unconfirmed.
    waiting: BTreeSet<(SubKind, Vec<u8>)>,
    deadline: Instant,
}

/// What a subscription names: channels (`SUBSCRIBE`), patterns (`PSUBSCRIBE`) or sharded
/// channels (`SSUBSCRIBE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SubKind {
    Channel,
    Pattern,
    Shard,
}

impl SubKind {
    fn verb(self, add: bool) -> &'static str {
        match (self, add) {
            (SubKind::Channel, true) => "SUBSCRIBE",
            (SubKind::Pattern, true) => "PSUBSCRIBE",
            (SubKind::Shard, true) => "SSUBSCRIBE",
            (SubKind::Channel, false) => "UNSUBSCRIBE",
            (SubKind::Pattern, false) => "PUNSUBSCRIBE",
            (SubKind::Shard, false) => "SUNSUBSCRIBE",
        }
    }
}

/// The caller's subscriptions and the connection that carries them.
#[derive(Debug, Default)]
pub(crate) struct PubSub {
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
    shards: BTreeSet<Vec<u8>>,
    conn: Option<ConnId>,
    /// When to (re)open the connection, once a ready node exists.
    reopen_at: Option<Instant>,
    /// Subscriptions the caller waits to see confirmed.
    pending: Vec<Pending>,
}

impl PubSub {
    /// True while the caller is subscribed to anything.
    fn wanted(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty() || !self.shards.is_empty()
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

    /// Forgets the connection for good (the machine closed); returns the unconfirmed
    /// requests.
    pub(crate) fn stop(&mut self) -> Vec<RequestId> {
        self.conn = None;
        self.reopen_at = None;
        self.pending.drain(..).map(|p| p.id).collect()
    }

    /// The server confirmed `kind` (`subscribe`, `psubscribe`) of `name`: the requests whose
    /// every name is now confirmed.
    fn confirmed(&mut self, kind: &str, name: &[u8]) -> Vec<RequestId> {
        let kind = match kind {
            "subscribe" => SubKind::Channel,
            "psubscribe" => SubKind::Pattern,
            "ssubscribe" => SubKind::Shard,
            _ => return Vec::new(),
        };
        let key = (kind, name.to_vec());
        for p in &mut self.pending {
            p.waiting.remove(&key);
        }
        let (done, rest): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|p| p.waiting.is_empty());
        self.pending = rest;
        done.into_iter().map(|p| p.id).collect()
    }

    /// When the first unconfirmed request times out.
    pub(crate) fn confirm_due(&self) -> Option<Instant> {
        self.pending.iter().map(|p| p.deadline).min()
    }

    /// The unconfirmed requests whose deadline passed at `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<RequestId> {
        let (late, rest): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|p| p.deadline <= now);
        self.pending = rest;
        late.into_iter().map(|p| p.id).collect()
    }

    /// Adds (`add`) or drops names; returns the command carrying the changes, if any, and
    /// the names it adds.
    fn change<I, S>(&mut self, kind: SubKind, add: bool, names: I) -> Option<(Cmd, Vec<Vec<u8>>)>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut c = cmd(kind.verb(add));
        let mut added = Vec::new();
        let set = match kind {
            SubKind::Channel => &mut self.channels,
            SubKind::Pattern => &mut self.patterns,
            SubKind::Shard => &mut self.shards,
        };
        for n in names {
            let n = n.as_ref().to_vec();
            let changed = if add {
                set.insert(n.clone())
            } else {
                set.remove(&n)
            };
            if changed {
                if add {
                    added.push(n.clone());
                }
                c.push(n);
            }
        }
        (c.len() > 1).then_some((c, added))
    }

    /// The commands that subscribe a fresh connection to everything.
    fn resubscribe(&self) -> Vec<Cmd> {
        let mut out = Vec::new();
        for (verb, set) in [
            ("SUBSCRIBE", &self.channels),
            ("PSUBSCRIBE", &self.patterns),
            ("SSUBSCRIBE", &self.shards),
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
    /// Adds or drops channels (or patterns) of the caller's subscriptions. The request is
    /// answered once the server confirmed every name it adds (at once when it adds none),
    /// with `Timeout` if that takes `command_timeout`, `Closed` once closed.
    pub(crate) fn change_subs<I, S>(
        &mut self,
        kind: SubKind,
        add: bool,
        names: I,
        now: Instant,
    ) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let id = self.queue.next_id();
        if self.phase.is_over() || self.goal != Goal::Client {
            self.io.reply(id, Err(CommandError::Closed));
            return id;
        }
        let Some((c, added)) = self.follow.pubsub.change(kind, add, names) else {
            self.io.reply(id, Ok(Value::Null));
            return id;
        };
        if added.is_empty() {
            self.io.reply(id, Ok(Value::Null));
        } else {
            let deadline = now + self.cfg.command_timeout;
            let waiting = added.into_iter().map(|n| (kind, n)).collect();
            self.follow.pubsub.pending.push(Pending {
                id,
                waiting,
                deadline,
            });
        }
        match self
            .follow
            .pubsub
            .conn
            .filter(|p| self.io.get(*p).is_some_and(|c| c.is_ready()))
        {
            Some(p) => self.io.send_raw(p, &c),
            None => self.follow.pubsub.reopen_at = Some(now),
        }
        self.sync_pubsub(now);
        id
    }

    /// A frame on the pub/sub connection that is a subscription confirmation: answers the
    /// requests it completes. False when the frame is not one.
    pub(crate) fn pubsub_confirmation(&mut self, v: &Value) -> bool {
        let Some((kind, name)) = super::message::confirmation(v) else {
            return false;
        };
        for id in self.follow.pubsub.confirmed(&kind, &name) {
            self.io.reply(id, Ok(Value::Null));
        }
        true
    }

    /// Fails the subscription requests not confirmed in time (the subscriptions stay and are
    /// made as soon as a node can carry them).
    pub(crate) fn expire_pubsub(&mut self, now: Instant) {
        for id in self.follow.pubsub.expire(now) {
            self.io.reply(id, Err(CommandError::Timeout));
        }
    }

    /// Keeps the caller's pub/sub connection on the ready data node (opens, moves or closes it).
    pub(crate) fn sync_pubsub(&mut self, now: Instant) {
        let want = self.follow.pubsub.wanted();
        let node = self
            .ready_conn()
            .and_then(|id| self.io.get(id))
            .map(|c| c.addr().clone());
        if let Some(p) = self.follow.pubsub.conn {
            let addr = self.io.get(p).map(|c| c.addr().clone());
            let misplaced = node.is_some() && addr != node;
            if !want || misplaced {
                self.follow.pubsub.conn = None;
                self.io.close(p);
                self.follow.pubsub.reopen_at = Some(now);
            }
        }
        let due = self.follow.pubsub.reopen_at.is_none_or(|t| t <= now);
        if let (true, None, Some(addr), true) = (want, self.follow.pubsub.conn, node, due) {
            let kind = PeerKind::DataSubscriber(self.cfg.role);
            self.follow.pubsub.conn = Some(self.io.open(addr, Use::PubSub, kind, now));
            self.follow.pubsub.reopen_at = None;
        }
    }

    /// The pub/sub connection passed its handshake: (re)subscribe everything.
    pub(crate) fn pubsub_ready(&mut self, id: ConnId) {
        if let Some(c) = self.io.get_mut(id) {
            c.set_ready();
        }
        for c in self.follow.pubsub.resubscribe() {
            self.io.send_raw(id, &c);
        }
    }
}
