//! What the machine does with each sentinel notice about its service: raise the fence, follow
//! the replica being promoted, move on `+switch-master`, lift the fence on an abort, and end
//! a fence whose hold expired once a survey of the sentinels allows it (see `fence.rs`).

use super::connections::Pending;
use super::fence::{Fence, Stage, Survey};
use super::interface::{Addr, Event, Role};
use super::machine::Machine;
use super::notice::Notice;
use super::CommandError;
use crate::cmd;
use std::time::Instant;

impl Machine {
    /// The master we talk to or would reconnect to.
    pub(crate) fn target(&self) -> Option<&Addr> {
        self.phase.node().map(|n| &n.addr).or(self.history.last())
    }

    /// The fence's candidate, if any.
    pub(crate) fn candidate(&self) -> Option<&Addr> {
        self.phase.fence().and_then(|f| f.candidate())
    }

    /// Acts on one parsed sentinel notification, published by the sentinel at `from`.
    pub(crate) fn on_notice(&mut self, n: Notice, from: &Addr, now: Instant) {
        if n.service != self.cfg.service {
            return;
        }
        let ch = n.channel.as_str();
        let led = matches!(
            ch,
            "+elected-leader"
                | "+failover-state-select-slave"
                | "+selected-slave"
                | "+failover-state-send-slaveof-noone"
                | "+failover-state-wait-promotion"
                | "+promoted-slave"
                | "+failover-state-reconf-slaves"
        )
        .then(|| n.master.clone());
        let fenced_on = |m: &Machine, a: &Addr| m.phase.fence().is_some_and(|f| f.old() == a);
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
            "+odown" => self.raise_fence(&n.master, Stage::Suspected, ch, now),
            "+selected-slave"
            | "+failover-state-send-slaveof-noone"
            | "+failover-state-wait-promotion"
            | "+promoted-slave" => {
                self.raise_fence(&n.master, Stage::InProgress, ch, now);
                if let (Some(replica), false) = (n.other, n.instance_type == "sentinel") {
                    self.candidate_named(&n.master, replica, now);
                }
            }
            // A leader was chosen but no replica yet: the attempt can still end with
            // nothing promoted, so a fence already up (from `+odown`) is confirmed and none
            // is raised. See `fence.rs` for why the fence waits for `+selected-slave`.
            "+elected-leader" | "+failover-state-select-slave" => {
                if let Some(f) = self.phase.fence_mut().filter(|f| *f.old() == n.master) {
                    f.confirm();
                }
            }
            "+failover-state-reconf-slaves" => {
                self.raise_fence(&n.master, Stage::InProgress, ch, now)
            }
            "+failover-end" | "+failover-end-for-timeout"
                if self.phase.fence().is_some() || self.cfg.role == Role::Replica =>
            {
                self.start_walk(now);
            }
            "-odown" => {
                let suspected = self
                    .phase
                    .fence()
                    .is_some_and(|f| *f.old() == n.master && f.stage() == Stage::Suspected);
                if suspected {
                    self.lift_fence("-odown", None, now);
                }
            }
            "+sdown" => {
                let ours = self
                    .phase
                    .node()
                    .is_some_and(|x| Some(&x.addr) == n.other.as_ref());
                let replica = matches!(n.instance_type.as_str(), "slave" | "replica");
                if self.cfg.role == Role::Replica && replica && ours {
                    self.io
                        .event(Event::Error(format!("replica {} is down", n.master)));
                    self.retire_node(now);
                    self.start_walk(now);
                }
            }
            // Only the leader aborts a failover it runs. `-failover-abort-not-elected` comes
            // from a sentinel that lost the election: another may have won and be promoting,
            // so it neither lifts a fence nor undoes a switch.
            c @ ("-failover-abort-no-good-slave" | "-failover-abort-slave-timeout")
                if fenced_on(self, &n.master) =>
            {
                self.lift_fence(c, None, now);
            }
            "-failover-abort-no-good-slave" | "-failover-abort-slave-timeout"
                if self.history.is_replaced(&n.master) =>
            {
                self.switch_aborted(&n.master, now)
            }
            _ => {}
        }
        if let Some(master) = led {
            if let Some(f) = self.phase.fence_mut().filter(|f| *f.old() == master) {
                f.add_leader(from);
            }
        }
    }

    /// Stops writing to `master` if it is ours, and starts polling sentinels for its successor.
    pub(crate) fn raise_fence(&mut self, master: &Addr, stage: Stage, reason: &str, now: Instant) {
        if let Some(f) = self.phase.fence_mut() {
            if stage == Stage::InProgress && f.old() == master {
                f.confirm();
            }
            return;
        }
        if !self.cfg.fence || self.cfg.role != Role::Master || self.target() != Some(master) {
            return;
        }
        let fence = Fence::new(master.clone(), stage, self.cfg.fence_max_hold, now);
        self.phase.raise(fence);
        self.io.event(Event::FenceRaised {
            old: master.clone(),
            reason: reason.to_string(),
        });
        if self.phase.node().is_some_and(|n| &n.addr == master) {
            self.retire_node(now);
        }
        self.start_walk(now);
    }

    /// Ends the fence without a new master; with `resume`, goes straight back to that master
    /// (verified with `ROLE` like any other), else asks sentinels.
    pub(crate) fn lift_fence(&mut self, reason: &str, resume: Option<Addr>, now: Instant) {
        let Some(f) = self.phase.lift() else {
            return;
        };
        // A candidate still being probed is not our master: the failover did not happen.
        let probing = self
            .phase
            .node()
            .is_some_and(|n| Some(&n.addr) == f.candidate());
        if probing {
            self.retire_node(now);
        }
        self.io.event(Event::FenceLifted {
            old: f.old().clone(),
            reason: reason.to_string(),
            held: f.held(now),
        });
        if self.phase.node().is_none() {
            match resume {
                Some(addr) => {
                    self.connect_node(addr, Role::Master, None, now);
                    self.walker
                        .schedule(now + self.cfg.sentinel_poll_interval, &self.phase);
                }
                None => self.start_walk(now),
            }
        }
    }

    /// `+switch-master` for our service: move every master-role connection to `new`.
    fn on_switch(&mut self, old: Addr, new: Addr, now: Instant) {
        if self.cfg.role == Role::Replica {
            self.retire_node(now);
            return self.start_walk(now);
        }
        if self.target() == Some(&new) {
            // Already there, or probing it as the candidate: ask `ROLE` again right away.
            return self.probe_candidate(now);
        }
        if self.target() == Some(&old) {
            self.raise_fence(&old, Stage::InProgress, "+switch-master", now);
        }
        if self.phase.fence().is_some_and(|f| *f.old() == new) {
            self.lift_fence("+switch-master back to the fenced master", None, now);
        }
        self.retire_node(now);
        self.set_candidate(&new);
        self.connect_node(new, Role::Master, None, now);
    }

    /// Sentinels named `replica` as the successor of `master`: if that is the master we fenced,
    /// probe it now (a different candidate replaces one still being probed).
    pub(crate) fn candidate_named(&mut self, master: &Addr, replica: Addr, now: Instant) {
        let Some(f) = self.phase.fence().filter(|f| f.old() == master) else {
            return;
        };
        let before = f.candidate().cloned();
        if !self.set_candidate(&replica) {
            return;
        }
        let stale = self
            .phase
            .node()
            .is_some_and(|n| Some(&n.addr) == before.as_ref() && n.addr != replica);
        if stale {
            self.retire_node(now);
        }
        self.probe_candidate(now);
    }

    /// Makes `addr` the fence's candidate; false when there is no fence or `addr` is the
    /// fenced master.
    pub(crate) fn set_candidate(&mut self, addr: &Addr) -> bool {
        self.phase
            .fence_mut()
            .is_some_and(|f| f.set_candidate(addr))
    }

    /// Asks the candidate whether it is master yet: connects when no data node is in flight,
    /// or sends `ROLE` again on its idle, unverified connection. Nothing else is written there.
    pub(crate) fn probe_candidate(&mut self, now: Instant) {
        let Some(cand) = self.candidate().cloned() else {
            return;
        };
        if let Some(f) = self.phase.fence_mut() {
            f.set_probe_at(None);
        }
        match self.phase.node().map(|n| (n.conn, n.addr.clone())) {
            None => self.connect_node(cand, Role::Master, None, now),
            Some((conn, addr)) if addr == cand => {
                let idle = self
                    .io
                    .get(conn)
                    .is_some_and(|c| c.is_open() && !c.is_ready() && c.is_idle());
                if idle {
                    self.io.send(conn, &cmd("ROLE"), Pending::Role, now);
                }
            }
            Some(_) => {}
        }
    }

    /// Probes the candidate again after `fence_poll_interval`.
    pub(crate) fn probe_later(&mut self, now: Instant) {
        let at = now + self.cfg.fence_poll_interval;
        if let Some(f) = self.phase.fence_mut() {
            f.set_probe_at(Some(at));
        }
    }

    /// The failover that replaced `old` was aborted after we had already verified its
    /// successor (an early switch): Sentinel will turn that replica back, so `old` is no longer
    /// stale, and the successor is left (drained, not written to) while sentinels are asked.
    fn switch_aborted(&mut self, old: &Addr, now: Instant) {
        self.history.forget_replaced(old);
        let successor = self
            .phase
            .node()
            .is_some_and(|n| n.expect == Role::Master && n.addr != *old);
        if successor {
            self.io.event(Event::Error(format!(
                "failover of {old} aborted after its successor was verified"
            )));
            self.retire_node(now);
        }
        self.start_walk(now);
    }

    /// The hold ran out (first call) or another hold period passed with the fence still up:
    /// the first time, what it holds fails with `FenceTimeout` and a survey of the sentinels
    /// starts; every time, [`Event::FenceHeld`] says how long and why.
    pub(crate) fn fence_held(&mut self, now: Instant) {
        let hold = self.cfg.fence_max_hold;
        let Some(f) = self.phase.fence_mut() else {
            return;
        };
        let (first, e) = f.hold_expired(hold, now);
        if first {
            self.fail_queued(|| CommandError::FenceTimeout);
        }
        self.io.event(e);
        if first {
            self.start_walk(now);
        }
    }

    /// True when the next walk must be a survey of every sentinel.
    pub(crate) fn survey_due(&self, now: Instant) -> bool {
        self.phase.fence().is_some_and(|f| f.survey_due(now))
    }

    /// Every sentinel was asked and none named another master: lift the fence and go back to
    /// the old master only if enough of them, the failover's leader included, say no failover
    /// is in progress; otherwise keep it and survey again later.
    pub(crate) fn survey_done(&mut self, s: Survey, tried: &[(Addr, String)], now: Instant) {
        let known = self.sentinels.len();
        let interval = self.cfg.sentinel_poll_interval;
        let Some(f) = self.phase.fence_mut() else {
            return self.walker.schedule(now + interval, &self.phase);
        };
        match f.judge_survey(&s, tried, known, interval, now) {
            Some(_) => {
                let at = now + self.cfg.fence_poll_interval;
                self.walker.schedule(at, &self.phase);
            }
            None => {
                let old = f.old().clone();
                let why = format!(
                    "hold expired; {} of {known} sentinels name {old} with no failover in progress",
                    s.clear.len()
                );
                self.lift_fence(&why, Some(old), now);
            }
        }
    }
}
