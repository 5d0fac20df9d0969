//! Deadlines: connect and reply timeouts, health checks, queued-command expiry, the fence
//! hold (and its periodic reports once expired), scheduled walks and reconnects. One function lists them, one acts on the due ones.

use super::conn::{Pending, Use};
use super::error::CommandError;
use super::machine::{Cause, Machine};
use crate::cmd;
use std::time::{Duration, Instant};

impl Machine {
    fn reply_timeout(&self, usage: Use) -> Duration {
        match usage {
            Use::Query | Use::Notices => self.cfg.sentinel_timeout,
            _ => self.cfg.command_timeout,
        }
    }

    fn health_due(&self) -> Option<Instant> {
        let id = self.ready_node()?;
        let c = self.conns.get(&id)?;
        c.pending
            .is_empty()
            .then(|| c.last_io + self.cfg.health_check_interval)
    }

    /// How long a queued command may wait: `command_timeout`, or while the fence is up past
    /// its hold, `fence_max_hold` (before that, the hold's own deadline applies to all).
    fn queue_limit(&self) -> Option<(Duration, CommandError)> {
        match &self.fence {
            None => Some((self.cfg.command_timeout, CommandError::Timeout)),
            Some(f) if f.overdue => Some((self.cfg.fence_max_hold, CommandError::FenceTimeout)),
            Some(_) => None,
        }
    }

    fn queue_due(&self) -> Option<Instant> {
        let (limit, _) = self.queue_limit()?;
        let first = self.retry.iter().map(|q| q.submitted).min();
        let w = self.waiting.front().map(|q| q.submitted);
        let t = match (first, w) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(t + limit)
    }

    /// When to call [`Machine::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut at = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for c in self.conns.values() {
            if !c.open {
                at(Some(c.opened_at + self.cfg.connect_timeout));
            } else if let Some((_, sent)) = c.pending.front() {
                at(Some(*sent + self.reply_timeout(c.usage)));
            }
        }
        at(self.health_due());
        at(self.queue_due());
        at(self.walk_at);
        at(self.notices_due());
        // The pub/sub connection follows the data node: with no ready node there is nothing to
        // open yet, and the node becoming ready syncs it (a past deadline here would spin).
        let want_pubsub = !self.channels.is_empty() || !self.patterns.is_empty();
        at(self
            .pubsub_at
            .filter(|_| self.pubsub.is_none() && want_pubsub && self.ready_node().is_some()));
        at(self.fence.as_ref().map(|f| f.hold_until));
        at(self.fence.as_ref().and_then(|f| f.probe_at));
        next
    }

    /// Acts on every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let due: Vec<_> = self
            .conns
            .iter()
            .filter_map(|(id, c)| {
                if !c.open {
                    (c.opened_at + self.cfg.connect_timeout <= now)
                        .then_some((*id, Cause::ConnectFailed))
                } else {
                    let (_, sent) = c.pending.front()?;
                    (*sent + self.reply_timeout(c.usage) <= now).then_some((*id, Cause::Timeout))
                }
            })
            .collect();
        for (id, cause) in due {
            self.drop_conn(id, cause, now);
        }
        if self.fence.as_ref().is_some_and(|f| f.hold_until <= now) {
            self.fence_held(now);
        }
        let probe_at = self.fence.as_ref().and_then(|f| f.probe_at);
        if probe_at.is_some_and(|t| t <= now) {
            self.probe_candidate(now);
        }
        if self.queue_due().is_some_and(|t| t <= now) {
            self.expire_queued(now);
        }
        if self.health_due().is_some_and(|t| t <= now) {
            if let Some(id) = self.ready_node() {
                self.send(id, &cmd("PING"), Pending::Ping, now);
            }
        }
        self.ensure_notices(now);
        if self.pubsub_at.is_some_and(|t| t <= now) {
            self.sync_pubsub(now);
        }
        if self.walk_at.is_some_and(|t| t <= now) {
            self.walk_at = None;
            self.start_walk(now);
        }
    }

    fn expire_queued(&mut self, now: Instant) {
        let Some((limit, err)) = self.queue_limit() else {
            return;
        };
        let mut expired = Vec::new();
        for queue in [&mut self.retry, &mut self.waiting] {
            let mut keep = std::collections::VecDeque::with_capacity(queue.len());
            for q in queue.drain(..) {
                if q.submitted + limit <= now {
                    expired.push(q.id);
                } else {
                    keep.push_back(q);
                }
            }
            *queue = keep;
        }
        for id in expired {
            self.reply(id, Err(err.clone()));
        }
    }
}
