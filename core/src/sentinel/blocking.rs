//! Blocking commands (`BLPOP`, `XREAD ... BLOCK`, `WAIT`...) on connections of their own.
//!
//! On the shared connection a blocking command would hold every reply behind it until it
//! returns. Instead each one runs alone on a connection from a small pool
//! ([`Config::max_blocking_connections`](super::Config)) opened to the ready node and
//! verified with `ROLE` like it. The pool follows the node: when the node is retired (a
//! failover starts, the fence goes up, the node is lost or refuses us), every pool connection
//! is closed at once, so nothing more runs on the old master; a blocking command in flight
//! there has been sent and may have run (it fails with `ConnectionLost`, or is re-sent when
//! idempotent), and those still waiting for a connection go to the next verified node. Each
//! command's deadline is its own timeout argument plus `command_timeout` as a margin (none
//! for a timeout of 0, which blocks until answered), unless the caller set one.

use super::connections::{Cause, Use};
use super::interface::{ConnId, PeerKind};
use super::machine::Machine;
use super::queue::{CommandQueue, Queued};
use super::special::{special, Special};
use crate::Cmd;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Longest deadline a blocking command gets (a timeout of 0 blocks "forever").
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long `cmd` may block, if it is a blocking command: `Some(None)` when its timeout could
/// not be read (the server will say why), `Some(Some(FOREVER))` for a timeout of 0.
pub(crate) fn blocking_timeout(cmd: &Cmd) -> Option<Option<Duration>> {
    let Some(Special::Blocking(known)) = special(cmd) else {
        return None;
    };
    let words: Vec<&[u8]> = cmd.words().collect();
    let name = known.as_bytes();
    let secs = |w: Option<&&[u8]>| w.and_then(|w| parse_f64(w)).map(seconds);
    let millis = |w: Option<&&[u8]>| w.and_then(|w| parse_f64(w)).map(|ms| seconds(ms / 1000.0));
    Some(match name {
        b"BLPOP" | b"BRPOP" | b"BZPOPMIN" | b"BZPOPMAX" | b"BLMOVE" | b"BRPOPLPUSH" => {
            secs(words.last())
        }
        b"BLMPOP" | b"BZMPOP" => secs(words.get(1)),
        b"WAIT" | b"WAITAOF" => millis(words.last()),
        b"XREAD" | b"XREADGROUP" => {
            let at = words
                .iter()
                .position(|w| w.eq_ignore_ascii_case(b"BLOCK"))?;
            millis(words.get(at + 1))
        }
        _ => return None,
    })
}

fn parse_f64(w: &[u8]) -> Option<f64> {
    std::str::from_utf8(w).ok()?.parse::<f64>().ok()
}

/// A timeout argument in seconds as a duration; 0 (or anything unreadable as a finite,
/// non-negative number) is forever.
fn seconds(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::try_from_secs_f64(s)
            .unwrap_or(FOREVER)
            .min(FOREVER)
    } else {
        FOREVER
    }
}

/// The pool's connections and the blocking commands waiting for one.
#[derive(Debug)]
pub(crate) struct BlockingPool {
    /// Each pool connection and the request it carries, if any.
    conns: BTreeMap<ConnId, Option<super::interface::RequestId>>,
    waiting: CommandQueue,
}

impl BlockingPool {
    /// No connections, nothing waiting.
    pub(crate) fn new() -> BlockingPool {
        BlockingPool {
            conns: BTreeMap::new(),
            waiting: CommandQueue::new(),
        }
    }

    /// Blocking commands waiting for a connection.
    pub(crate) fn queued(&self) -> usize {
        self.waiting.len()
    }

    /// The waiting commands, to expire or fail them.
    pub(crate) fn waiting_mut(&mut self) -> &mut CommandQueue {
        &mut self.waiting
    }

    /// The waiting commands.
    pub(crate) fn waiting(&self) -> &CommandQueue {
        &self.waiting
    }

    /// Forgets a connection that went away; true when it was a pool connection.
    fn forget(&mut self, id: ConnId) -> bool {
        self.conns.remove(&id).is_some()
    }
}

impl Machine {
    /// Queues a blocking command for the pool and runs what can run.
    pub(crate) fn submit_blocking(&mut self, q: Queued, now: Instant) {
        self.follow.pool.waiting.push_fresh(q);
        self.sync_pool(now);
    }

    /// Keeps the pool on the ready node: closes connections to any other node (or all, with
    /// none ready), hands waiting commands to idle verified connections, and opens more (up to
    /// the limit) while commands wait.
    pub(crate) fn sync_pool(&mut self, now: Instant) {
        let node = self
            .phase
            .ready()
            .and_then(|n| self.io.get(n.conn).map(|c| (c.addr().clone(), n.expect)));
        let stale: Vec<ConnId> = self
            .follow
            .pool
            .conns
            .keys()
            .copied()
            .filter(|id| {
                let here = self.io.get(*id).map(|c| c.addr().clone());
                node.as_ref()
                    .is_none_or(|(addr, _)| here.as_ref() != Some(addr))
            })
            .collect();
        for id in stale {
            self.drop_conn(id, Cause::Unexpected("the data node changed".into()), now);
        }
        let Some((addr, role)) = node else {
            return;
        };
        let idle: Vec<ConnId> = self
            .follow
            .pool
            .conns
            .iter()
            .filter(|(id, busy)| busy.is_none() && self.io.get(**id).is_some_and(|c| c.is_ready()))
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            let Some(q) = self.follow.pool.waiting.pop() else {
                break;
            };
            self.follow.pool.conns.insert(id, Some(q.id));
            self.io.send_user(id, q, now);
        }
        let unready = self
            .follow
            .pool
            .conns
            .keys()
            .filter(|id| self.io.get(**id).is_some_and(|c| !c.is_ready()))
            .count();
        let want = self.follow.pool.waiting.len().saturating_sub(unready);
        let room = self
            .cfg
            .max_blocking_connections
            .saturating_sub(self.follow.pool.conns.len());
        for _ in 0..want.min(room) {
            let id = self.io.open(
                addr.clone(),
                Use::Blocking,
                PeerKind::DataBlocking(role),
                now,
            );
            self.follow.pool.conns.insert(id, None);
        }
    }

    /// A pool connection passed its handshake and `ROLE` check.
    pub(crate) fn pool_ready(&mut self, id: ConnId, now: Instant) {
        if let Some(c) = self.io.get_mut(id) {
            c.set_ready();
        }
        self.sync_pool(now);
    }

    /// The reply to the blocking command a pool connection carried.
    pub(crate) fn on_blocking_reply(
        &mut self,
        id: ConnId,
        mut q: Queued,
        v: crate::Value,
        now: Instant,
    ) {
        self.follow.pool.conns.insert(id, None);
        let value = q.finish(v);
        self.io.reply(q.id, Ok(value));
        self.sync_pool(now);
    }

    /// A pool connection is gone: settle its command, then run what can run.
    pub(crate) fn pool_lost(
        &mut self,
        id: ConnId,
        c: super::connections::Conn,
        cause: Cause,
        now: Instant,
    ) {
        if !self.follow.pool.forget(id) {
            return;
        }
        let (addr, was_ready) = (c.addr().clone(), c.is_ready());
        for q in self.settle_lost(c, &cause, now) {
            self.follow.pool.waiting.push_resend(q);
        }
        if self.phase.is_closed() {
            return;
        }
        let node_addr = self
            .phase
            .ready()
            .and_then(|n| self.io.get(n.conn))
            .map(|c| c.addr().clone());
        if !was_ready && node_addr.as_ref() == Some(&addr) {
            // The ready node refused a second connection (wrong role, failed handshake, no
            // connect): something changed there. Find the node again rather than retry here
            // at once, so a node in that state is not hammered.
            self.io.event(super::interface::Event::Error(format!(
                "{addr}: blocking-command connection failed: {}",
                cause.describe()
            )));
            self.retire_node(now);
            return self.start_walk(now);
        }
        self.sync_pool(now);
    }

    /// The expected role for a pool connection, if the node it belongs to is still ready.
    pub(crate) fn pool_role(&self, id: ConnId) -> Option<super::interface::Role> {
        let n = self.phase.ready()?;
        let node_addr = self.io.get(n.conn)?.addr();
        let here = self.io.get(id)?.addr();
        (self.follow.pool.conns.contains_key(&id) && here == node_addr).then_some(n.expect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd;

    #[test]
    fn blocking_commands_and_their_timeouts() {
        let t = |c: Cmd| blocking_timeout(&c);
        assert_eq!(t(cmd("GET").arg("k")), None);
        assert_eq!(
            t(cmd("BLPOP").arg("a").arg("b").arg(5)),
            Some(Some(Duration::from_secs(5)))
        );
        assert_eq!(
            t(cmd("brpop").arg("a").arg("0.5")),
            Some(Some(Duration::from_millis(500)))
        );
        assert_eq!(t(cmd("BLPOP").arg("a").arg(0)), Some(Some(FOREVER)));
        assert_eq!(
            t(cmd("BLMPOP").arg(2).arg(1).arg("k").arg("LEFT")),
            Some(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            t(cmd("WAIT").arg(1).arg(250)),
            Some(Some(Duration::from_millis(250)))
        );
        assert_eq!(
            t(cmd("XREAD")
                .arg("COUNT")
                .arg(1)
                .arg("block")
                .arg(100)
                .arg("STREAMS")
                .arg("s")
                .arg("$")),
            Some(Some(Duration::from_millis(100)))
        );
        assert_eq!(
            t(cmd("XREAD").arg("STREAMS").arg("s").arg("0")),
            None,
            "no BLOCK, no wait"
        );
        assert_eq!(t(cmd("BLPOP").arg("a").arg("soon")), Some(None));
        assert_eq!(t(cmd("BLPOP").arg("a").arg("-1")), Some(Some(FOREVER)));
        assert_eq!(t(cmd("BLPOP").arg("a").arg("1e300")), Some(Some(FOREVER)));
    }
}
