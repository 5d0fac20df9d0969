//! Opening a data connection: AUTH or HELLO, SELECT, CLIENT SETNAME, then `ROLE`, pipelined;
//! what the answers mean (a RESP3 fallback, refused credentials, the wrong role).

use super::connections::{Cause, Pending, Use};
use super::error::CommandError;
use super::interface::{ConnId, Event, Role};
use super::machine::Machine;
use super::parse::{error_text, role, show, RoleReply};
use super::Protocol;
use crate::{cmd, Value};
use std::time::Instant;

/// What handshakes so far taught the machine about the data nodes.
#[derive(Debug)]
pub(crate) struct Handshake {
    /// The server accepts `HELLO 3` (cleared when one answered `NOPROTO` or unknown command).
    resp3: bool,
    /// The last refusal of our credentials; commands fail with it until a node accepts them.
    auth_error: Option<String>,
    /// What went wrong with the last node tried, until one is verified (for the error of a
    /// command that waited in vain).
    trouble: Option<String>,
}

impl Handshake {
    /// Nothing learned yet.
    pub(crate) fn new() -> Handshake {
        Handshake {
            resp3: true,
            auth_error: None,
            trouble: None,
        }
    }

    /// False once a server refused `HELLO 3` (later handshakes use RESP2).
    pub(crate) fn speaks_resp3(&self) -> bool {
        self.resp3
    }

    /// Why the credentials were refused, while they are.
    pub(crate) fn auth_error(&self) -> Option<&String> {
        self.auth_error.as_ref()
    }

    /// A node accepted the handshake.
    fn succeeded(&mut self) {
        self.auth_error = None;
        self.trouble = None;
    }

    /// Notes what went wrong with a node.
    pub(crate) fn trouble_with(&mut self, why: String) {
        self.trouble = Some(why);
    }

    /// What went wrong with the last node tried, since one was last verified.
    pub(crate) fn trouble(&self) -> Option<&String> {
        self.trouble.as_ref()
    }
}

fn auth_like(e: &str) -> bool {
    let up = e.to_ascii_uppercase();
    up.starts_with("WRONGPASS") || up.starts_with("NOAUTH") || up.contains("PASSWORD")
}

impl Machine {
    /// Pipelines the handshake on a fresh data connection, `ROLE` last.
    pub(crate) fn send_handshake(&mut self, id: ConnId, now: Instant) {
        if self.cfg.protocol == Protocol::Resp3 && self.handshake.speaks_resp3() {
            let mut c = cmd("HELLO").arg("3");
            if let Some(a) = &self.cfg.auth {
                let user = a.username.as_deref().unwrap_or("default");
                c = c.arg("AUTH").arg(user).arg(&a.password);
            }
            if let Some(n) = &self.cfg.client_name {
                c = c.arg("SETNAME").arg(n);
            }
            self.io.send(id, &c, Pending::Hello, now);
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
            self.io.send(id, &c.arg(&a.password), Pending::Auth, now);
        }
        if let Some(n) = self.cfg.client_name.clone() {
            let c = cmd("CLIENT").arg("SETNAME").arg(&n);
            self.io.send(id, &c, Pending::SetName, now);
        }
        self.send_select_role(id, now);
    }

    fn send_select_role(&mut self, id: ConnId, now: Instant) {
        if self.cfg.db != 0 {
            let c = cmd("SELECT").arg(self.cfg.db);
            self.io.send(id, &c, Pending::Select, now);
        }
        self.io.send(id, &cmd("ROLE"), Pending::Role, now);
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
                    self.handshake.resp3 = false;
                    if let Some(c) = self.io.get_mut(id) {
                        c.ignore_pending();
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
                self.io
                    .event(Event::Error(format!("CLIENT SETNAME failed: {e}")));
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
        let at = self.io.get(id).map(|c| c.label()).unwrap_or_default();
        self.handshake.trouble_with(format!("{at}: {why}"));
        if auth {
            self.handshake.auth_error = Some(why.clone());
            self.fail_queued(|| CommandError::Auth(why.clone()));
        }
        self.io.event(Event::Error(why.clone()));
        self.drop_conn(id, Cause::Unexpected(why), now);
    }

    fn on_role(&mut self, id: ConnId, sent: Instant, v: &Value, now: Instant) {
        let Some(c) = self.io.get(id) else {
            return;
        };
        let (addr, usage, label) = (c.addr().clone(), c.usage(), c.label());
        let expect = match usage {
            Use::Node => match self.phase.node() {
                Some(n) if n.conn == id => n.expect,
                _ => return,
            },
            Use::PubSub => self.phase.node().map_or(self.cfg.role, |n| n.expect),
            Use::Dedicated => match self.dedicated_role(id) {
                Some(r) => r,
                None => return self.drop_conn(id, Cause::Unexpected("node gone".into()), now),
            },
            Use::Blocking => match self.pool_role(id) {
                Some(r) => r,
                None => return self.drop_conn(id, Cause::Unexpected("pool node gone".into()), now),
            },
            Use::Spread if self.follow.spread.has(id) => Role::Replica,
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
                .phase
                .node()
                .filter(|n| n.conn == id && n.expect == Role::Master)
                .and_then(|n| n.named_by.clone());
            if let Some(s) = named_by {
                self.demote_sentinel(&s);
            }
            let why = format!("{label} is not a {expect:?} (ROLE says {got:?})");
            let said = match &got {
                RoleReply::Master => "master".to_string(),
                RoleReply::Replica => "slave".to_string(),
                RoleReply::Other(s) => format!("`{s}`"),
            };
            let wanted = if expect == Role::Master {
                "master"
            } else {
                "replica"
            };
            self.handshake.trouble_with(format!(
                "the node at {label} reports role {said}, expected {wanted}"
            ));
            self.io.event(Event::Error(why.clone()));
            return self.drop_conn(id, Cause::Unexpected(why), now);
        }
        if usage == Use::PubSub {
            return self.pubsub_ready(id);
        }
        if usage == Use::Blocking {
            return self.pool_ready(id, now);
        }
        if usage == Use::Dedicated {
            return self.dedicated_ready(id, now);
        }
        if usage == Use::Spread {
            return self.spread_ready(id, addr, now.saturating_duration_since(sent));
        }
        if let Some(c) = self.io.get_mut(id) {
            c.set_ready();
        }
        self.picker
            .measured(addr.clone(), now.saturating_duration_since(sent));
        self.pacing.reset();
        self.handshake.succeeded();
        self.picker.forgive();
        // Verified: a different master while fenced (after `+switch-master`, a sentinel poll,
        // or the early probe of the candidate alike) takes the fence down, and the old master
        // is marked replaced, so lagging sentinels are not followed back to it (`epoch.rs`).
        self.phase.verified();
        if expect == Role::Master {
            let old = self.history.verified(&addr, now);
            if let Some(o) = old.as_ref().filter(|o| **o != addr) {
                // What is still in flight to the replaced master is settled now (sent, so
                // `ConnectionLost` unless idempotent) rather than at its timeout: a frozen old
                // master would otherwise hold those callers for `command_timeout`.
                for id in self.io.retired_to(o) {
                    let why = format!("{o} was replaced by {addr}");
                    self.drop_conn(id, Cause::Unexpected(why), now);
                }
            }
            if old.as_ref() != Some(&addr) {
                self.io.event(Event::MasterChanged {
                    old,
                    new: addr.clone(),
                });
            }
        }
        let dialed = self.io.get(id).and_then(|c| c.dialed().cloned());
        self.io.event(Event::Ready {
            addr,
            dialed,
            role: expect,
        });
        self.flush_queue(now);
        self.sync_followers(now);
    }
}
