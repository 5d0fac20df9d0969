//! The failover fence, and what the machine does with each sentinel notice.
//!
//! The moment a sentinel says a failover of *our* master is starting, nothing more is written
//! to that master: the old master stays writable until Sentinel reconfigures it, and writes it
//! acknowledges in that window are thrown away when it is demoted. New commands wait in a
//! bounded queue (with a deadline) until a different master is verified with `ROLE`.

use super::io::{Addr, Event, Role};
use super::machine::Machine;
use super::notice::Notice;
use std::time::Instant;

/// How sure we are that a failover is happening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `+odown` / `+try-failover`: may still be called off by `-odown`.
    Suspected,
    /// A replica was selected or promoted: only an abort or a new master ends it.
    InProgress,
}

/// The fence: raised against `old` at `raised_at`.
#[derive(Clone, Debug)]
pub(crate) struct Fence {
    pub old: Addr,
    pub raised_at: Instant,
    pub stage: Stage,
}

impl Machine {
    /// The master we talk to or would reconnect to.
    fn target(&self) -> Option<&Addr> {
        self.node.as_ref().map(|n| &n.addr).or(self.master.as_ref())
    }

    /// Acts on one parsed sentinel notification.
    pub(crate) fn on_notice(&mut self, n: Notice, now: Instant) {
        if n.service != self.cfg.service {
            return;
        }
        let ch = n.channel.as_str();
        match ch {
            "+sentinel" => {
                if let Some(a) = n.other {
                    self.add_sentinel(a);
                }
            }
            "+switch-master" => {
                if let Some(new) = n.other {
                    self.on_switch(n.master, new, now);
                }
            }
            "+odown" | "+try-failover" => self.raise_fence(&n.master, Stage::Suspected, ch, now),
            "+elected-leader"
            | "+failover-state-select-slave"
            | "+selected-slave"
            | "+failover-state-send-slaveof-noone"
            | "+failover-state-wait-promotion"
            | "+promoted-slave"
            | "+failover-state-reconf-slaves" => {
                self.raise_fence(&n.master, Stage::InProgress, ch, now)
            }
            "+failover-end" | "+failover-end-for-timeout"
                if self.fence.is_some() || self.cfg.role == Role::Replica =>
            {
                self.start_walk(now);
            }
            "-odown" => {
                let suspected = self
                    .fence
                    .as_ref()
                    .is_some_and(|f| f.old == n.master && f.stage == Stage::Suspected);
                if suspected {
                    self.lift_fence("-odown", now);
                }
            }
            "+sdown" => {
                let ours = self
                    .node
                    .as_ref()
                    .is_some_and(|x| Some(&x.addr) == n.other.as_ref());
                if self.cfg.role == Role::Replica && n.instance_type == "slave" && ours {
                    self.event(Event::Error(format!("replica {} is down", n.master)));
                    self.retire_node(now);
                    self.start_walk(now);
                }
            }
            c if c.starts_with("-failover-abort")
                && self.fence.as_ref().is_some_and(|f| f.old == n.master) =>
            {
                self.lift_fence(c, now);
            }
            _ => {}
        }
    }

    /// Stops writing to `master` if it is ours, and starts polling sentinels for its successor.
    pub(crate) fn raise_fence(&mut self, master: &Addr, stage: Stage, reason: &str, now: Instant) {
        if !self.cfg.fence || self.cfg.role != Role::Master || self.target() != Some(master) {
            return;
        }
        if let Some(f) = self.fence.as_mut() {
            if stage == Stage::InProgress {
                f.stage = stage;
            }
            return;
        }
        self.fence = Some(Fence {
            old: master.clone(),
            raised_at: now,
            stage,
        });
        self.event(Event::FenceRaised {
            old: master.clone(),
            reason: reason.to_string(),
        });
        if self.node.as_ref().is_some_and(|n| &n.addr == master) {
            self.retire_node(now);
        }
        self.start_walk(now);
    }

    /// Ends the fence without a new master: commands resume wherever sentinels point.
    pub(crate) fn lift_fence(&mut self, reason: &str, now: Instant) {
        let Some(f) = self.fence.take() else {
            return;
        };
        self.event(Event::FenceLifted {
            old: f.old,
            reason: reason.to_string(),
        });
        if self.node.is_none() {
            self.start_walk(now);
        }
    }

    /// `+switch-master` for our service: move every master-role connection to `new`.
    fn on_switch(&mut self, old: Addr, new: Addr, now: Instant) {
        if self.cfg.role == Role::Replica {
            self.retire_node(now);
            return self.start_walk(now);
        }
        if self.target() == Some(&new) {
            return;
        }
        if self.target() == Some(&old) {
            self.raise_fence(&old, Stage::InProgress, "+switch-master", now);
        }
        if self.fence.as_ref().is_some_and(|f| f.old == new) {
            self.lift_fence("+switch-master back to the fenced master", now);
        }
        self.retire_node(now);
        self.connect_node(new, Role::Master, now);
    }

    /// The fence held longer than `fence_max_hold`: fail what it holds, then resume wherever
    /// sentinels point (the old master again if the failover never happened).
    pub(crate) fn fence_expired(&mut self, now: Instant) {
        self.fail_queued(|| super::CommandError::FenceTimeout);
        self.lift_fence("fence hold expired", now);
    }
}
