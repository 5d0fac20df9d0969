//! Routing: each input from the driver goes to the part it concerns, by what the connection
//! is for; a connection's loss is settled by its owner.

use super::connections::{Answer, Cause, Conn, Decoded, Pending, Use};
use super::error::CommandError;
use super::interface::{ConnId, ConnectFailure, Input};
use super::machine::Machine;
use super::parse::{error_text, show};
use crate::Value;
use std::time::Instant;

impl Machine {
    /// Feeds one fact from the driver.
    pub(crate) fn dispatch(&mut self, input: Input<'_>, now: Instant) {
        match input {
            Input::Connected(id) => self.on_connected(id, now),
            Input::ConnectedTo(id, peer) => {
                self.note_peer(id, peer, now);
                self.on_connected(id, now)
            }
            Input::ConnectFailed(id) => self.connect_failed(id, ConnectFailure::Other, now),
            Input::ConnectFailedWith(id, why) => self.connect_failed(id, why, now),
            Input::Closed(id) => {
                if let Some(c) = self.io.forget(id) {
                    self.lost(id, c, Cause::Closed, now);
                }
            }
            Input::ClosedBy(id, why) => {
                if let Some(c) = self.io.forget(id) {
                    self.lost(id, c, Cause::ConnectFailed(why), now);
                }
            }
            Input::Received(id, bytes) => self.on_received(id, bytes, now),
        }
    }

    /// A sentinel connection reached `peer`: if the sentinel is known by another name (a
    /// configured host name), its announced address is the same sentinel, not a new one.
    fn note_peer(&mut self, id: ConnId, peer: &super::interface::Addr, now: Instant) {
        let Some(c) = self.io.get(id).filter(|c| !c.is_open()) else {
            return;
        };
        if !matches!(c.usage(), Use::Query | Use::Notices) || c.addr() == peer {
            return;
        }
        let known = c.addr().clone();
        if self.sentinels.alias(peer.clone(), known) {
            self.forget_sentinel(peer);
            self.ensure_notices(now);
        }
    }

    fn connect_failed(&mut self, id: ConnId, why: ConnectFailure, now: Instant) {
        if self.io.get(id).is_some_and(|c| !c.is_open()) {
            if let Some(c) = self.io.forget(id) {
                self.lost(id, c, Cause::ConnectFailed(why), now);
            }
        }
    }

    fn on_connected(&mut self, id: ConnId, now: Instant) {
        let Some(usage) = self.io.mark_open(id, now) else {
            return;
        };
        match usage {
            Use::Query => self.query_connected(id, now),
            Use::Notices => self.notices_connected(id, now),
            Use::Node | Use::PubSub | Use::Blocking | Use::Dedicated | Use::Spread => {
                self.send_handshake(id, now)
            }
            Use::Retired => self.drop_conn(id, Cause::Shutdown, now),
        }
    }

    fn on_received(&mut self, id: ConnId, bytes: &[u8], now: Instant) {
        if !self.io.receive(id, bytes, now) {
            return;
        }
        while let Some(d) = self.io.next_frame(id) {
            match d {
                Decoded::Frame(v) => self.on_frame(id, v, now),
                Decoded::Invalid(e) => return self.drop_conn(id, Cause::Protocol(e), now),
            }
        }
    }

    fn on_frame(&mut self, id: ConnId, v: Value, now: Instant) {
        let Some(c) = self.io.get(id) else {
            return;
        };
        let usage = c.usage();
        let idle = c.is_idle();
        let is_push = matches!(v, Value::Push(_));
        match usage {
            Use::Notices if idle || is_push => return self.on_notice_frame(id, &v, now),
            Use::PubSub if idle || is_push => {
                if !self.pubsub_confirmation(&v) {
                    self.out_of_band(v);
                }
                return;
            }
            Use::Node | Use::Retired | Use::Blocking | Use::Dedicated | Use::Spread if is_push => {
                return self.out_of_band(v)
            }
            Use::Query if is_push => return,
            _ => {}
        }
        let role = self.phase.node().filter(|n| n.conn == id).map(|n| n.expect);
        let refusal = |v: &Value| role.is_some_and(|r| super::node::redirecting(v, r));
        // The refusal's own text (`-REDIRECT host:port` carries a hint), kept for a partial one.
        let refused_with = refusal(&v).then(|| error_text(&v).map(show).unwrap_or_default());
        let (p, sent, v) = match self.io.answer(id, v, refusal) {
            Some(Answer::Complete(p, sent, v)) => (p, sent, v),
            Some(Answer::Partial { refused }) => {
                // A unit's reply mid-way says the node cannot serve us: stop writing there now,
                // not when the unit's last reply arrives (it is settled then, on its own).
                if refused {
                    let why = refused_with
                        .unwrap_or_else(|| "a refusal inside a pipeline or transaction".into());
                    self.node_refused(why, now);
                }
                return;
            }
            None => {
                let why = format!("unexpected reply from {}", c_addr(self, id));
                return self.drop_conn(id, Cause::Unexpected(why), now);
            }
        };
        match p {
            Pending::Ignore => {}
            Pending::Hello | Pending::Auth | Pending::Select | Pending::SetName | Pending::Role => {
                self.on_handshake_reply(id, p, sent, &v, now)
            }
            Pending::Ping => self.on_ping_reply(id, &v, now),
            Pending::User(q) if usage == Use::Blocking => self.on_blocking_reply(id, q, v, now),
            Pending::User(q) if usage == Use::Dedicated => self.on_dedicated_reply(q, v),
            Pending::User(q) => self.on_user_reply(id, q, v, now),
            Pending::SentinelAuth => self.on_sentinel_auth(id, &v, now),
            Pending::GetMaster { walk }
            | Pending::MasterInfo { walk }
            | Pending::Replicas { walk } => self.on_walk_reply(id, walk, p, &v, now),
            Pending::Sentinels => self.on_sentinels_reply(id, &v, now),
        }
    }

    /// A frame that answers no command: a published message or another push, for the caller.
    fn out_of_band(&mut self, v: Value) {
        if let Some(o) = super::message::output(v) {
            self.io.push(o);
        }
    }

    /// Fails every queued command with `err()`.
    pub(crate) fn fail_queued(&mut self, err: impl Fn() -> CommandError) {
        let waiting: Vec<_> = self.queue.drain();
        let blocking: Vec<_> = self.follow.pool.waiting_mut().drain();
        let dedicated = self.follow.dedicated.drain_waiting();
        for q in waiting.into_iter().chain(blocking).chain(dedicated) {
            self.io.reply(q.id, Err(err()));
        }
    }

    /// Closes a connection we no longer want, then runs its loss handling.
    pub(crate) fn drop_conn(&mut self, id: ConnId, cause: Cause, now: Instant) {
        if let Some(c) = self.io.close(id) {
            self.lost(id, c, cause, now);
        }
    }

    /// A connection is gone (already out of the table): its owner settles what it carried.
    fn lost(&mut self, id: ConnId, c: Conn, cause: Cause, now: Instant) {
        match c.usage() {
            Use::Query => self.walk_conn_lost(id, &cause, now),
            Use::Notices => self.notices_lost(id, &cause, now),
            Use::PubSub => {
                self.follow.pubsub.lost(id, now + self.cfg.backoff.base);
            }
            Use::Node | Use::Retired => self.node_lost(id, c, cause, now),
            Use::Blocking => self.pool_lost(id, c, cause, now),
            Use::Dedicated => self.dedicated_lost(id, c, cause, now),
            Use::Spread => self.spread_lost(id, c, cause, now),
        }
    }
}

/// The address of connection `id`, for messages.
fn c_addr(m: &Machine, id: ConnId) -> String {
    m.io.get(id).map(|c| c.label()).unwrap_or_default()
}
