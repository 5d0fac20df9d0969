//! The data connection: handshake (AUTH/HELLO, SELECT, CLIENT SETNAME) and `ROLE` check,
//! pipelined commands, retries, retirement.

use super::conn::{Pending, Queued, Use};
use super::error::CommandError;
use super::io::{Addr, ConnId, Event, PeerKind, Role};
use super::machine::{Cause, Machine, NodeRef};
use super::reply::{error_is, error_text, role, show, RoleReply};
use crate::{cmd, Value};
use std::time::Instant;

/// Errors that say "this node cannot serve us now": re-send the command elsewhere.
fn redirecting(v: &Value, role: Role) -> bool {
    (role == Role::Master && error_is(v, "READONLY"))
        || error_is(v, "LOADING")
        || error_is(v, "MASTERDOWN")
}

fn auth_like(e: &str) -> bool {
    let up = e.to_ascii_uppercase();
    up.starts_with("WRONGPASS") || up.starts_with("NOAUTH") || up.contains("PASSWORD")
}

impl Machine {
    /// The ready data connection, if any.
    pub(crate) fn ready_node(&self) -> Option<ConnId> {
        let n = self.node.as_ref()?;
        self.conns.get(&n.conn).filter(|c| c.ready).map(|_| n.conn)
    }

    /// Opens the data connection to `addr`, expecting `ROLE` to say `expect`.
    pub(crate) fn connect_node(&mut self, addr: Addr, expect: Role, now: Instant) {
        if self.fence.as_ref().is_some_and(|f| f.old == addr) {
            return;
        }
        let id = self.open(addr.clone(), Use::Node, PeerKind::Data(expect), now);
        self.node = Some(NodeRef {
            conn: id,
            addr: addr.clone(),
            expect,
            named_by: self.naming.take(),
        });
        self.event(Event::Connecting { addr, role: expect });
    }

    /// Pipelines the handshake on a fresh data connection, `ROLE` last.
    pub(crate) fn send_handshake(&mut self, id: ConnId, now: Instant) {
        if self.cfg.protocol == super::Protocol::Resp3 && self.resp3 {
            let mut c = cmd("HELLO").arg("3");
            if let Some(a) = &self.cfg.auth {
                let user = a.username.as_deref().unwrap_or("default");
                c = c.arg("AUTH").arg(user).arg(&a.password);
            }
            if let Some(n) = &self.cfg.client_name {
                c = c.arg("SETNAME").arg(n);
            }
            self.send(id, &c, Pending::Hello, now);
            self.send_select_role(id, now);
        } else {
            self.send_resp2_handshake(id, now);
        }
    }

    fn send_resp2_handshake(&mut self, id: ConnId, now: Instant) {
        if let Some(a) = self.cfg.auth.clone() {
            let mut c = cmd("AUTH");
            if let Some(u) = &a.username {
                c = c.arg(u);
            }
            self.send(id, &c.arg(&a.password), Pending::Auth, now);
        }
        if let Some(n) = self.cfg.client_name.clone() {
            let c = cmd("CLIENT").arg("SETNAME").arg(&n);
            self.send(id, &c, Pending::SetName, now);
        }
        self.send_select_role(id, now);
    }

    fn send_select_role(&mut self, id: ConnId, now: Instant) {
        if self.cfg.db != 0 {
            let c = cmd("SELECT").arg(self.cfg.db);
            self.send(id, &c, Pending::Select, now);
        }
        self.send(id, &cmd("ROLE"), Pending::Role, now);
    }

    /// A reply to one handshake step on a data (or data pub/sub) connection.
    pub(crate) fn on_handshake_reply(
        &mut self,
        id: ConnId,
        p: Pending,
        sent: Instant,
        v: &Value,
        now: Instant,
    ) {
        let err = error_text(v).map(show);
        match (p, err) {
            (Pending::Hello, Some(e)) => {
                let up = e.to_ascii_uppercase();
                if up.starts_with("NOPROTO") || up.contains("UNKNOWN COMMAND") {
                    self.resp3 = false;
                    if let Some(c) = self.conns.get_mut(&id) {
                        for (p, _) in c.pending.iter_mut() {
                            *p = Pending::Ignore;
                        }
                    }
                    self.send_resp2_handshake(id, now);
                } else {
                    self.handshake_failed(id, format!("HELLO failed: {e}"), true, now);
                }
            }
            (Pending::Auth, Some(e)) => {
                self.handshake_failed(id, format!("AUTH failed: {e}"), true, now)
            }
            (Pending::SetName, Some(e)) if !auth_like(&e) => {
                self.event(Event::Error(format!("CLIENT SETNAME failed: {e}")));
            }
            (p, Some(e)) => {
                let step = match p {
                    Pending::Select => "SELECT",
                    Pending::SetName => "CLIENT SETNAME",
                    _ => "ROLE",
                };
                self.handshake_failed(id, format!("{step} failed: {e}"), auth_like(&e), now)
            }
            (Pending::Role, None) => self.on_role(id, sent, v, now),
            (_, None) => {}
        }
    }

    fn handshake_failed(&mut self, id: ConnId, why: String, auth: bool, now: Instant) {
        if auth {
            self.auth_error = Some(why.clone());
            self.fail_queued(|| CommandError::Auth(why.clone()));
        }
        self.event(Event::Error(why.clone()));
        self.drop_conn(id, Cause::Unexpected(why), now);
    }

    fn on_role(&mut self, id: ConnId, sent: Instant, v: &Value, now: Instant) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        let (addr, usage) = (c.addr.clone(), c.usage);
        let expect = match usage {
            Use::Node => match self.node.as_ref() {
                Some(n) if n.conn == id => n.expect,
                _ => return,
            },
            Use::PubSub => self.node.as_ref().map_or(self.cfg.role, |n| n.expect),
            _ => return,
        };
        let got = role(v);
        let ok = matches!(
            (&got, expect),
            (RoleReply::Master, Role::Master) | (RoleReply::Replica, Role::Replica)
        );
        if !ok {
            let not_yet = usage == Use::Node && matches!(got, RoleReply::Replica);
            if not_yet && expect == Role::Master && self.candidate() == Some(&addr) {
                // The replica being promoted has not run `REPLICAOF NO ONE` yet: keep the
                // connection (nothing but `ROLE` goes there) and ask again shortly.
                return self.probe_later(now);
            }
            // The sentinel that named it as master was wrong: ask the others first next time.
            let named_by = self
                .node
                .as_ref()
                .filter(|n| n.conn == id && n.expect == Role::Master)
                .and_then(|n| n.named_by.clone());
            if let Some(s) = named_by {
                self.demote_sentinel(&s);
            }
            let why = format!("{addr} is not a {expect:?} (ROLE says {got:?})");
            self.event(Event::Error(why.clone()));
            return self.drop_conn(id, Cause::Unexpected(why), now);
        }
        if usage == Use::PubSub {
            return self.pubsub_ready(id);
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.ready = true;
        }
        self.latency
            .insert(addr.clone(), now.saturating_duration_since(sent));
        self.backoff.reset();
        self.auth_error = None;
        self.excluded.clear();
        if expect == Role::Master {
            // A different master verified while fenced (after `+switch-master`, a sentinel
            // poll, or the early probe of the candidate alike): the fence comes down, and the
            // old master is marked replaced just below, so lagging sentinels are not followed
            // back to it (see `epoch.rs`).
            if self.fence.as_ref().is_some_and(|f| f.old != addr) {
                self.fence = None;
            }
            let old = self.master.replace(addr.clone());
            self.replaced.remove(&addr);
            if let Some(o) = old.clone().filter(|o| *o != addr) {
                self.mark_replaced(o, now);
            }
            if old.as_ref() != Some(&addr) {
                self.event(Event::MasterChanged {
                    old,
                    new: addr.clone(),
                });
            }
        }
        self.event(Event::Ready { addr, role: expect });
        self.flush_queue(now);
        self.sync_pubsub(now);
    }

    /// Sends every queued command to the ready node, retries first, in order.
    pub(crate) fn flush_queue(&mut self, now: Instant) {
        if self.fence.is_some() {
            return;
        }
        let Some(id) = self.ready_node() else {
            return;
        };
        while let Some(q) = self.retry.pop_front().or_else(|| self.waiting.pop_front()) {
            self.send_user(id, q, now);
        }
    }

    pub(crate) fn send_user(&mut self, id: ConnId, q: Queued, now: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            q.cmd.encode(&mut c.wbuf);
            c.pending.push_back((Pending::User(q), now));
            c.unflushed += 1;
            c.last_io = now;
            self.dirty.insert(id);
        }
    }

    /// The reply to a user command.
    pub(crate) fn on_user_reply(&mut self, id: ConnId, mut q: Queued, v: Value, now: Instant) {
        let is_node = self.node.as_ref().is_some_and(|n| n.conn == id);
        let role = self
            .node
            .as_ref()
            .filter(|_| is_node)
            .map_or(self.cfg.role, |n| n.expect);
        if !redirecting(&v, role) {
            self.reply(q.id, Ok(v));
            return self.close_if_drained(id);
        }
        // Refused without running: safe to send again once a proper node is found.
        if q.attempts < self.cfg.max_retries {
            q.attempts += 1;
            self.retry.push_back(q);
        } else {
            self.reply(q.id, Ok(v.clone()));
        }
        if is_node {
            let why = format!(
                "node answered `{}`",
                error_text(&v).map(show).unwrap_or_default()
            );
            self.event(Event::Error(why));
            self.retire_node(now);
            self.start_walk(now);
        }
        self.close_if_drained(id);
    }

    /// The reply to a health-check `PING`.
    pub(crate) fn on_ping_reply(&mut self, id: ConnId, v: &Value, now: Instant) {
        let role = self.node.as_ref().map_or(self.cfg.role, |n| n.expect);
        if redirecting(v, role) && self.node.as_ref().is_some_and(|n| n.conn == id) {
            let why = format!(
                "health check: `{}`",
                error_text(v).map(show).unwrap_or_default()
            );
            self.event(Event::Error(why));
            self.retire_node(now);
            self.start_walk(now);
        }
        self.close_if_drained(id);
    }

    fn close_if_drained(&mut self, id: ConnId) {
        if self
            .conns
            .get(&id)
            .is_some_and(|c| c.usage == Use::Retired && !c.has_user())
        {
            self.close_quiet(id);
        }
    }

    /// Stops using the current data node: nothing more is written to it. Commands still in the
    /// write buffer are taken back (never sent); written ones keep waiting for their replies.
    pub(crate) fn retire_node(&mut self, _now: Instant) {
        let Some(n) = self.node.take() else {
            return;
        };
        let Some(c) = self.conns.get_mut(&n.conn) else {
            return;
        };
        let keep = c.pending.len().saturating_sub(c.unflushed);
        let unsent = c.pending.split_off(keep);
        c.unflushed = 0;
        c.wbuf.clear();
        c.usage = Use::Retired;
        c.ready = false;
        for (p, _) in unsent {
            if let Pending::User(q) = p {
                self.retry.push_back(q);
            }
        }
        self.close_if_drained(n.conn);
    }

    /// A data connection is gone: settle its in-flight commands and find a node again.
    pub(crate) fn node_lost(
        &mut self,
        id: ConnId,
        c: super::conn::Conn,
        cause: Cause,
        now: Instant,
    ) {
        let deadline = self.cfg.command_timeout;
        let max = self.cfg.max_retries;
        let unsent_from = c.pending.len().saturating_sub(c.unflushed);
        for (i, (p, sent)) in c.pending.into_iter().enumerate() {
            let Pending::User(mut q) = p else { continue };
            if i >= unsent_from {
                self.retry.push_back(q);
            } else if q.idempotent && q.attempts < max && !matches!(cause, Cause::Shutdown) {
                q.attempts += 1;
                self.retry.push_back(q);
            } else {
                let err = match &cause {
                    Cause::Timeout if sent + deadline <= now => CommandError::Timeout,
                    Cause::Protocol(e) => CommandError::Protocol(e.clone()),
                    Cause::Shutdown => CommandError::Closed,
                    _ => CommandError::ConnectionLost { sent: true },
                };
                self.reply(q.id, Err(err));
            }
        }
        if self.node.take_if(|n| n.conn == id).is_none() {
            return;
        }
        if self.closed {
            return;
        }
        self.event(Event::Error(format!("{}: {}", c.addr, cause.describe())));
        if c.ready {
            self.start_walk(now);
        } else if self.candidate().is_some() && self.auth_error.is_none() {
            // Fenced with a known successor: try it again soon (sentinel polls go on meanwhile).
            self.probe_later(now);
        } else {
            if self.cfg.role == Role::Replica {
                self.excluded.insert(c.addr.clone());
            }
            self.back_off(now);
        }
    }
}
