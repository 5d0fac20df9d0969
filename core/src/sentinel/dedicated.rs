//! Dedicated connections: one caller's exclusive, `ROLE`-verified connection to the current
//! node, for state that lives on a connection (`WATCH` ... `MULTI` ... `EXEC`, `CLIENT
//! TRACKING`, `SELECT`).
//!
//! A dedicated connection is never moved: it is bound to the node that was ready when it
//! opened, and when that node is retired (a failover starts and the fence goes up, or the
//! node is lost or refuses us) it ends. Every command it still carries fails ([`CommandError::
//! ConnectionLost`] for those written, [`CommandError::DedicatedEnded`] for the others), and
//! so does every later submission: the caller opens a new one, since `WATCH` state does not
//! survive a failover. Submissions made before a node is ready wait in the connection's queue.

use super::connections::{Cause, Use};
use super::error::CommandError;
use super::interface::{Addr, ConnId, PeerKind, RequestId};
use super::machine::Machine;
use super::queue::{CommandQueue, Queued};
use crate::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Identifies a dedicated connection opened with [`Machine::open_dedicated`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedicatedId(pub u64);

/// Where one dedicated connection stands.
#[derive(Debug)]
enum State {
    /// No node ready yet: submissions wait.
    Waiting,
    /// Connecting to `addr` and verifying it.
    Opening { conn: ConnId, addr: Addr },
    /// Verified; commands go straight out.
    Ready { conn: ConnId, addr: Addr },
    /// Ended for this reason; every submission fails with it.
    Ended(String),
}

#[derive(Debug)]
struct Dedicated {
    state: State,
    /// Submissions waiting for the connection to be verified.
    queue: CommandQueue,
}

/// Every dedicated connection.
#[derive(Debug, Default)]
pub(crate) struct DedicatedConns {
    next: u64,
    all: BTreeMap<DedicatedId, Dedicated>,
}

impl DedicatedConns {
    /// The dedicated connection carried by `conn`.
    fn by_conn(&self, conn: ConnId) -> Option<DedicatedId> {
        self.all.iter().find_map(|(id, d)| match d.state {
            State::Opening { conn: c, .. } | State::Ready { conn: c, .. } if c == conn => Some(*id),
            _ => None,
        })
    }

    /// Takes every submission waiting in a dedicated connection (to fail them).
    pub(crate) fn drain_waiting(&mut self) -> Vec<Queued> {
        self.all
            .values_mut()
            .flat_map(|d| d.queue.drain())
            .collect()
    }

    /// Submissions waiting in every dedicated connection.
    pub(crate) fn queued(&self) -> usize {
        self.all.values().map(|d| d.queue.len()).sum()
    }

    /// When the first waiting submission expires.
    pub(crate) fn next_expiry(&self, limit: Duration) -> Option<Instant> {
        self.all
            .values()
            .filter_map(|d| d.queue.next_expiry(limit))
            .min()
    }

    /// Removes the waiting submissions past their limit.
    pub(crate) fn expire(&mut self, limit: Duration, now: Instant) -> Vec<RequestId> {
        self.all
            .values_mut()
            .flat_map(|d| d.queue.expire(limit, now))
            .collect()
    }
}

impl Machine {
    /// Opens a dedicated connection (see the module docs of `dedicated.rs`).
    pub(crate) fn dedicated_open(&mut self, now: Instant) -> DedicatedId {
        let id = DedicatedId(self.follow.dedicated.next);
        self.follow.dedicated.next += 1;
        let state = if self.phase.is_over() {
            State::Ended("client closed".into())
        } else {
            State::Waiting
        };
        let d = Dedicated {
            state,
            queue: CommandQueue::new(),
        };
        self.follow.dedicated.all.insert(id, d);
        self.sync_dedicated(now);
        id
    }

    /// Sends (or queues) `q` on dedicated connection `id`.
    pub(crate) fn dedicated_submit(&mut self, id: DedicatedId, q: Queued, now: Instant) {
        let Some(d) = self.follow.dedicated.all.get_mut(&id) else {
            return self
                .io
                .reply(q.id, Err(CommandError::DedicatedEnded("closed".into())));
        };
        match &d.state {
            State::Ended(why) => {
                let e = CommandError::DedicatedEnded(why.clone());
                self.io.reply(q.id, Err(e));
            }
            State::Ready { conn, .. } if d.queue.is_empty() => {
                let conn = *conn;
                self.io.send_user(conn, q, now);
            }
            _ if d.queue.len() >= self.cfg.max_queued => {
                self.io.reply(q.id, Err(CommandError::QueueFull));
            }
            _ => {
                d.queue.push_fresh(q);
                self.sync_dedicated(now);
            }
        }
    }

    /// Closes dedicated connection `id`; what it still carries fails with `Closed`.
    pub(crate) fn dedicated_close(&mut self, id: DedicatedId) {
        let Some(mut d) = self.follow.dedicated.all.remove(&id) else {
            return;
        };
        for q in d.queue.drain() {
            self.io.reply(q.id, Err(CommandError::Closed));
        }
        if let State::Opening { conn, .. } | State::Ready { conn, .. } = d.state {
            if let Some(c) = self.io.close(conn) {
                for (q, _, _) in c.into_user_commands() {
                    self.io.reply(q.id, Err(CommandError::Closed));
                }
            }
        }
    }

    /// Binds waiting dedicated connections to the ready node, and ends those bound to a node
    /// that is no longer the one in use.
    pub(crate) fn sync_dedicated(&mut self, now: Instant) {
        let node = self
            .phase
            .ready()
            .and_then(|n| self.io.get(n.conn).map(|c| (c.addr().clone(), n.expect)));
        let ids: Vec<DedicatedId> = self.follow.dedicated.all.keys().copied().collect();
        for id in ids {
            let Some(d) = self.follow.dedicated.all.get(&id) else {
                continue;
            };
            match (&d.state, &node) {
                (State::Waiting, Some((addr, role))) => {
                    let kind = PeerKind::DataDedicated(*role);
                    let conn = self.io.open(addr.clone(), Use::Dedicated, kind, now);
                    if let Some(d) = self.follow.dedicated.all.get_mut(&id) {
                        d.state = State::Opening {
                            conn,
                            addr: addr.clone(),
                        };
                    }
                }
                (State::Opening { addr, .. } | State::Ready { addr, .. }, node)
                    if node.as_ref().is_none_or(|(n, _)| n != addr) =>
                {
                    let why = format!(
                        "{addr} is no longer the node in use (failover or lost node); \
                         connection state such as WATCH is gone: open a new dedicated connection"
                    );
                    self.end_dedicated(id, why, now);
                }
                _ => {}
            }
        }
    }

    /// Ends dedicated connection `id`: closes it; written commands fail with `ConnectionLost`,
    /// the others (and later ones) with `DedicatedEnded(why)`.
    fn end_dedicated(&mut self, id: DedicatedId, why: String, _now: Instant) {
        let Some(d) = self.follow.dedicated.all.get_mut(&id) else {
            return;
        };
        let state = std::mem::replace(&mut d.state, State::Ended(why.clone()));
        let waiting = d.queue.drain();
        if let State::Opening { conn, .. } | State::Ready { conn, .. } = state {
            if let Some(c) = self.io.close(conn) {
                for (q, sent, _) in c.into_user_commands() {
                    let e = if sent {
                        CommandError::ConnectionLost { sent: true }
                    } else {
                        CommandError::DedicatedEnded(why.clone())
                    };
                    self.io.reply(q.id, Err(e));
                }
            }
        }
        for q in waiting {
            self.io
                .reply(q.id, Err(CommandError::DedicatedEnded(why.clone())));
        }
    }

    /// The role a dedicated connection must verify, if it is still bound to the ready node.
    pub(crate) fn dedicated_role(&self, conn: ConnId) -> Option<super::interface::Role> {
        let id = self.follow.dedicated.by_conn(conn)?;
        let n = self.phase.ready()?;
        let node_addr = self.io.get(n.conn)?.addr();
        match &self.follow.dedicated.all.get(&id)?.state {
            State::Opening { addr, .. } if addr == node_addr => Some(n.expect),
            _ => None,
        }
    }

    /// A dedicated connection passed its handshake and `ROLE` check: what waited goes out.
    pub(crate) fn dedicated_ready(&mut self, conn: ConnId, now: Instant) {
        let Some(id) = self.follow.dedicated.by_conn(conn) else {
            return;
        };
        if let Some(c) = self.io.get_mut(conn) {
            c.set_ready();
        }
        let Some(d) = self.follow.dedicated.all.get_mut(&id) else {
            return;
        };
        if let State::Opening { conn, addr } = &d.state {
            d.state = State::Ready {
                conn: *conn,
                addr: addr.clone(),
            };
        }
        let waiting = d.queue.drain();
        for q in waiting {
            self.io.send_user(conn, q, now);
        }
    }

    /// The reply to a command on a dedicated connection: delivered as it is.
    pub(crate) fn on_dedicated_reply(&mut self, mut q: Queued, v: Value) {
        let value = q.finish(v);
        self.io.reply(q.id, Ok(value));
    }

    /// A dedicated connection went away (closed, timed out, failed its handshake).
    pub(crate) fn dedicated_lost(
        &mut self,
        conn: ConnId,
        c: super::connections::Conn,
        cause: Cause,
        now: Instant,
    ) {
        let Some(id) = self.follow.dedicated.by_conn(conn) else {
            return;
        };
        let why = format!("{}: {}", c.addr(), cause.describe());
        for (q, sent, _) in c.into_user_commands() {
            let e = match (&cause, sent) {
                (Cause::Timeout, true) => CommandError::Timeout,
                (Cause::Protocol(p), true) => CommandError::Protocol(p.clone()),
                (_, true) => CommandError::ConnectionLost { sent: true },
                (_, false) => CommandError::DedicatedEnded(why.clone()),
            };
            self.io.reply(q.id, Err(e));
        }
        self.end_dedicated(id, why, now);
    }
}
