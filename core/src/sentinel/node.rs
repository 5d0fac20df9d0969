//! The data node: connecting to it, sending the caller's commands in order, what its answers
//! mean for the retry promises, retiring it, and settling what it carried when it is lost.

use super::connections::{Cause, Conn, Pending, Use};
use super::error::CommandError;
use super::fence::Stage;
use super::interface::{Addr, ConnId, Event, PeerKind, Role};
use super::machine::Machine;
use super::parse::{error_is, error_text, redirect_hint, show};
use super::phase::NodeRef;
use super::queue::{Queued, Work};
use crate::{cmd, Value};
use std::time::Instant;

/// The first error reply in `v` (itself or an element), for messages.
fn first_error(v: &Value) -> String {
    if let Some(e) = error_text(v) {
        return show(e);
    }
    match v {
        Value::Array(items) => items
            .iter()
            .find_map(error_text)
            .map(show)
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Errors that say "this node cannot serve us now": re-send the command elsewhere. That
/// includes `-EXECABORT Transaction discarded because of: READONLY ...`, Redis' answer to an
/// `EXEC` when the node turned replica after the commands were queued (nothing ran), and
/// Valkey's `-REDIRECT host:port`, a replica's answer instead of `-READONLY` on a connection
/// that declared `CLIENT CAPA redirect` (like `-READONLY`, a refusal only for the master role:
/// a replica-role connection that declared it gets its reads redirected, which is the
/// caller's own choice and is passed on as the reply).
pub(crate) fn redirecting(v: &Value, role: Role) -> bool {
    let refusal = |e: &[u8]| {
        let is = |code: &str| {
            e.len() >= code.len()
                && e[..code.len()].eq_ignore_ascii_case(code.as_bytes())
                && e.get(code.len()).is_none_or(|b| *b == b' ')
        };
        (role == Role::Master && (is("READONLY") || is("REDIRECT")))
            || is("LOADING")
            || is("MASTERDOWN")
    };
    let Some(e) = error_text(v) else {
        return false;
    };
    if refusal(e) {
        return true;
    }
    let marker = b"because of: ";
    error_is(v, "EXECABORT")
        && e.windows(marker.len())
            .position(|w| w.eq_ignore_ascii_case(marker))
            .is_some_and(|at| refusal(&e[at + marker.len()..]))
}

impl Machine {
    /// The connection of the ready data node, if any.
    pub(crate) fn ready_conn(&self) -> Option<ConnId> {
        self.phase.ready().map(|n| n.conn)
    }

    /// Opens the data connection to `addr`, expecting `ROLE` to say `expect`; `named_by` is
    /// the sentinel whose answer chose it.
    pub(crate) fn connect_node(
        &mut self,
        addr: Addr,
        expect: Role,
        named_by: Option<Addr>,
        now: Instant,
    ) {
        if self.phase.fence().is_some_and(|f| *f.old() == addr) {
            return;
        }
        let conn = self
            .io
            .open(addr.clone(), Use::Node, PeerKind::Data(expect), now);
        self.phase.connect(NodeRef {
            conn,
            addr: addr.clone(),
            expect,
            named_by,
        });
        let dialed = self.io.get(conn).and_then(|c| c.dialed().cloned());
        self.io.event(Event::Connecting {
            addr,
            dialed,
            role: expect,
        });
    }

    /// Sends every queued command to the ready node, retries first, in order.
    pub(crate) fn flush_queue(&mut self, now: Instant) {
        let Some(id) = self.ready_conn() else {
            return;
        };
        while let Some(q) = self.queue.pop() {
            self.io.send_user(id, q, now);
        }
    }

    /// The (last) reply to a caller's unit of work.
    pub(crate) fn on_user_reply(&mut self, id: ConnId, mut q: Queued, v: Value, now: Instant) {
        let node = self.phase.node().filter(|n| n.conn == id);
        let is_node = node.is_some();
        let role = node.map_or(self.cfg.role, |n| n.expect);
        let (refused, value) = if q.got.is_empty() && matches!(q.work, Work::One(_)) {
            // The common case, without gathering: one command, one reply.
            (usize::from(redirecting(&v, role)), v)
        } else {
            let mut replies = std::mem::take(&mut q.got);
            replies.push(v);
            let refused = replies.iter().filter(|r| redirecting(r, role)).count();
            (refused, q.work.finish(replies))
        };
        // Refused without running (every reply of a batch, or the transaction discarded by a
        // refusal): safe to send again once a proper node is found.
        let nothing_ran = match &q.work {
            Work::One(_) => refused == 1,
            Work::Batch(c) => refused == c.len(),
            Work::Transaction(c) => redirecting(&value, role) || refused > c.len(),
        };
        let spread = !is_node && self.follow.spread.has(id);
        if !nothing_ran {
            let bad = (refused > 0).then(|| first_error(&value));
            self.io.reply(q.id, Ok(value));
            match bad {
                Some(why) if is_node => self.node_refused(why, now),
                Some(why) if spread => self.spread_refused(id, why, now),
                _ => {}
            }
            return self.close_if_drained(id);
        }
        if q.attempts < self.cfg.max_retries {
            q.attempts += 1;
            self.queue.push_resend(q);
        } else {
            self.io.reply(q.id, Ok(value.clone()));
        }
        if is_node {
            self.node_refused(first_error(&value), now);
        } else if spread {
            self.spread_refused(id, first_error(&value), now);
        }
        self.close_if_drained(id);
    }

    /// The node answered as one that cannot serve us (`-READONLY` and the like): leave it.
    pub(crate) fn node_refused(&mut self, why: String, now: Instant) {
        let at = self
            .phase
            .node()
            .map(|n| n.addr.to_string())
            .unwrap_or_default();
        let what = if why.to_ascii_uppercase().starts_with("LOADING") {
            format!("the node at {at} is loading its dataset (`{why}`)")
        } else {
            format!("the node at {at} answered `{why}`")
        };
        self.handshake.trouble_with(what);
        self.io
            .event(Event::Error(format!("node answered `{why}`")));
        // `-REDIRECT host:port` says the master turned replica of host:port, as that node
        // sees it: a failover signal with a hint. The fence goes up against the node (nothing
        // more is written there, the sentinels are polled) and the hint becomes its candidate,
        // probed with `ROLE` and used only once it answers master, as a replica named by
        // `+selected-slave` is. Without the fence (disabled, or raised against another node),
        // it is handled as `-READONLY`: leave the node and ask the sentinels.
        let redirected = self
            .phase
            .node()
            .filter(|n| n.expect == Role::Master)
            .map(|n| n.addr.clone())
            .zip(redirect_hint(why.as_bytes()))
            .filter(|(old, hint)| old != hint);
        if let Some((old, hint)) = redirected {
            self.raise_fence(&old, Stage::InProgress, "-REDIRECT", now);
            if self.phase.fence().is_some_and(|f| *f.old() == old) {
                // raise_fence retired the node and started the walk.
                return self.candidate_named(&old, hint, now);
            }
        }
        self.retire_node(now);
        self.start_walk(now);
    }

    /// Sends the health-check `PING` to the ready node.
    pub(crate) fn health_check(&mut self, now: Instant) {
        if let Some(id) = self.ready_conn() {
            self.io.send(id, &cmd("PING"), Pending::Ping, now);
        }
    }

    /// The reply to a health-check `PING`.
    pub(crate) fn on_ping_reply(&mut self, id: ConnId, v: &Value, now: Instant) {
        let role = self.phase.node().map_or(self.cfg.role, |n| n.expect);
        if redirecting(v, role) && self.phase.node().is_some_and(|n| n.conn == id) {
            let why = format!(
                "health check: `{}`",
                error_text(v).map(show).unwrap_or_default()
            );
            self.io.event(Event::Error(why));
            self.retire_node(now);
            self.start_walk(now);
        } else if error_text(v).is_none() && self.ready_conn() == Some(id) {
            self.pacing.healthy();
        }
        self.close_if_drained(id);
    }

    fn close_if_drained(&mut self, id: ConnId) {
        if self
            .io
            .get(id)
            .is_some_and(|c| c.usage() == Use::Retired && !c.has_user())
        {
            self.io.close(id);
        }
    }

    /// Stops using the current data node: nothing more is written to it. Commands still in the
    /// write buffer are taken back (never sent); written ones keep waiting for their replies.
    pub(crate) fn retire_node(&mut self, now: Instant) {
        let Some(n) = self.phase.take_node() else {
            return;
        };
        let Some(c) = self.io.get_mut(n.conn) else {
            return;
        };
        for q in c.retire() {
            self.queue.push_resend(q);
        }
        self.close_if_drained(n.conn);
        // Nothing more runs on the node: its blocking commands' and dedicated connections
        // close too (pub/sub moves once a new node is ready).
        self.sync_followers(now);
    }

    /// Settles the caller's commands a lost connection carried: those never written, and
    /// idempotent ones (within `max_retries`), come back to be sent again; the rest fail
    /// (`ConnectionLost`, `Timeout` past their deadline, `Protocol`, or `Closed`).
    pub(crate) fn settle_lost(&mut self, c: Conn, cause: &Cause, now: Instant) -> Vec<Queued> {
        let deadline = self.cfg.command_timeout;
        let max = self.cfg.max_retries;
        let mut again = Vec::new();
        for (mut q, sent, at) in c.into_user_commands() {
            q.got.clear();
            if !sent {
                again.push(q);
            } else if q.idempotent && q.attempts < max && !matches!(cause, Cause::Shutdown) {
                q.attempts += 1;
                again.push(q);
            } else {
                let err = match cause {
                    Cause::Timeout if at + q.limit(deadline) <= now => CommandError::Timeout,
                    Cause::Protocol(e) => CommandError::Protocol(e.clone()),
                    Cause::Shutdown => CommandError::Closed,
                    _ => CommandError::ConnectionLost { sent: true },
                };
                self.io.reply(q.id, Err(err));
            }
        }
        again
    }

    /// A data connection is gone: settle its in-flight commands and find a node again.
    pub(crate) fn node_lost(&mut self, id: ConnId, c: Conn, cause: Cause, now: Instant) {
        let (addr, was_ready, was_open) = (c.addr().clone(), c.is_ready(), c.is_open());
        for q in self.settle_lost(c, &cause, now) {
            self.queue.push_resend(q);
        }
        if self.phase.node().is_none_or(|n| n.conn != id) {
            return;
        }
        self.phase.take_node();
        if self.phase.is_closed() {
            return;
        }
        self.sync_followers(now);
        // (An `Unexpected` cause was recorded where it was found, in more detail.)
        if !was_ready && !matches!(cause, Cause::Unexpected(_)) {
            self.handshake
                .trouble_with(format!("{addr}: {}", cause.describe()));
        }
        // The candidate closing our probe is its promotion, not a failure: no error event.
        let promoted = !was_ready
            && was_open
            && matches!(cause, Cause::Closed)
            && self.candidate() == Some(&addr);
        if !promoted {
            self.io
                .event(Event::Error(format!("{addr}: {}", cause.describe())));
        }
        if was_ready && matches!(cause, Cause::Protocol(_) | Cause::Unexpected(_)) {
            // It broke the protocol: reconnect after a growing delay, not at once.
            self.pacing.strike();
            self.back_off(now);
        } else if was_ready {
            self.start_walk(now);
        } else if self.candidate().is_some() && self.handshake.auth_error().is_none() {
            // Fenced with a known successor. If it closed our open probe connection, that was
            // most likely its promotion (see `Fence::reprobe_at_once`): ask again at once.
            // Otherwise try again soon (sentinel polls go on meanwhile).
            let at_once = promoted && self.phase.fence_mut().is_some_and(|f| f.reprobe_at_once());
            if at_once {
                self.probe_candidate(now);
            } else {
                self.probe_later(now);
            }
        } else {
            if self.cfg.role == Role::Replica {
                self.picker.exclude(addr);
            }
            self.back_off(now);
        }
    }
}
