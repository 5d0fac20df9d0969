//! Deadlines: connect and reply timeouts, health checks, queued-command expiry, the fence
//! hold (and its periodic reports once expired), the candidate's probe, scheduled walks and
//! reconnects. One function lists them, one acts on the due ones.

use super::connections::{Cause, Use};
use super::error::CommandError;
use super::interface::ConnectFailure;
use super::machine::Machine;
use std::time::{Duration, Instant};

impl Machine {
    fn reply_timeout(&self, usage: Use) -> Duration {
        match usage {
            Use::Query | Use::Notices => self.cfg.sentinel_timeout,
            _ => self.cfg.command_timeout,
        }
    }

    fn health_due(&self) -> Option<Instant> {
        let c = self.io.get(self.ready_conn()?)?;
        c.is_idle()
            .then(|| c.last_io() + self.cfg.health_check_interval)
    }

    /// How long a queued command may wait: `command_timeout`, or while the fence is up past
    /// its hold, `fence_max_hold` (before that, the hold's own deadline applies to all).
    fn queue_limit(&self) -> Option<(Duration, CommandError)> {
        match self.phase.fence() {
            None => Some((self.cfg.command_timeout, CommandError::Timeout)),
            Some(f) if f.is_overdue() => {
                Some((self.cfg.fence_max_hold, CommandError::FenceTimeout))
            }
            Some(_) => None,
        }
    }

    fn queue_due(&self) -> Option<Instant> {
        let (limit, _) = self.queue_limit()?;
        let main = self.queue.next_expiry(limit);
        let pool = self.follow.pool.waiting().next_expiry(limit);
        let dedicated = self.follow.dedicated.next_expiry(limit);
        [main, pool, dedicated].into_iter().flatten().min()
    }

    /// The earliest deadline of anything the machine waits for.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut at = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        for (_, c) in self.io.iter() {
            if !c.is_open() {
                at(Some(c.opened_at() + self.cfg.connect_timeout));
            } else {
                at(c.reply_deadline(self.reply_timeout(c.usage())));
            }
        }
        at(self.health_due());
        at(self.queue_due());
        at(self.walker.due());
        at(self.watch.due());
        at(self.follow.pubsub.due(self.ready_conn().is_some()));
        at(self.follow.pubsub.confirm_due());
        at(self.phase.fence().map(|f| f.hold_until()));
        at(self.phase.fence().and_then(|f| f.probe_at()));
        next
    }

    /// Acts on every deadline that has passed at `now`.
    pub(crate) fn on_deadlines(&mut self, now: Instant) {
        if self.phase.is_closed() {
            return;
        }
        let due: Vec<_> = self
            .io
            .iter()
            .filter_map(|(id, c)| {
                if !c.is_open() {
                    (c.opened_at() + self.cfg.connect_timeout <= now)
                        .then_some((id, Cause::ConnectFailed(ConnectFailure::TimedOut)))
                } else {
                    let due = c.reply_deadline(self.reply_timeout(c.usage()))?;
                    (due <= now).then_some((id, Cause::Timeout))
                }
            })
            .collect();
        for (id, cause) in due {
            self.drop_conn(id, cause, now);
        }
        if self.phase.fence().is_some_and(|f| f.hold_until() <= now) {
            self.fence_held(now);
        }
        let probe_at = self.phase.fence().and_then(|f| f.probe_at());
        if probe_at.is_some_and(|t| t <= now) {
            self.probe_candidate(now);
        }
        if self.queue_due().is_some_and(|t| t <= now) {
            self.expire_queued(now);
        }
        if self.health_due().is_some_and(|t| t <= now) {
            self.health_check(now);
        }
        self.ensure_notices(now);
        if self.follow.pubsub.is_due(now) {
            self.sync_pubsub(now);
        }
        if self.follow.pubsub.confirm_due().is_some_and(|t| t <= now) {
            self.expire_pubsub(now);
        }
        if self.walker.due().is_some_and(|t| t <= now) {
            self.start_walk_now(now);
        }
    }

    fn expire_queued(&mut self, now: Instant) {
        let Some((limit, mut err)) = self.queue_limit() else {
            return;
        };
        // Waited in vain for a node: say what went wrong with the last one tried.
        if let (CommandError::Timeout, None, Some(why)) =
            (&err, self.phase.ready(), self.handshake.trouble())
        {
            err = CommandError::Unavailable(why.clone());
        }
        let mut expired = self.queue.expire(limit, now);
        expired.extend(self.follow.pool.waiting_mut().expire(limit, now));
        expired.extend(self.follow.dedicated.expire(limit, now));
        for id in expired {
            self.io.reply(id, Err(err.clone()));
        }
    }
}
