//! The failover fence, and what the machine does with each sentinel notice.
//!
//! The moment a sentinel says a failover of *our* master is starting, nothing more is written
//! to that master: the old master stays writable until Sentinel reconfigures it, and writes it
//! acknowledges in that window are thrown away when it is demoted. New commands wait in a
//! bounded queue (with a deadline) until a different master is verified with `ROLE`.
//!
//! Recovery does not wait for `+switch-master`: the replica sentinels chose is named by
//! `+selected-slave`, `+failover-state-send-slaveof-noone`, `+failover-state-wait-promotion` and
//! `+promoted-slave` (all `slave <ip>:<port> <ip> <port> @ <name> <old-ip> <old-port>`). It
//! becomes the fence's *candidate*: a data connection is opened to it at once and `ROLE` is
//! asked every `fence_poll_interval` on that connection until it says master (then it is the new
//! master and the held commands go there, in order), the failover aborts, or the hold expires.
//! `ROLE` saying master means `REPLICAOF NO ONE` ran there, which is what Sentinel itself waits
//! for before `+promoted-slave`; nothing is ever written to the old master while fenced.
//! Sentinels learn of the promotion later than we do, and the old master stays writable until
//! it is demoted: once the successor is verified, the old master is *replaced* (`epoch.rs`), so
//! answers naming it are stale unless they carry a newer config epoch. Should the failover
//! still abort after that (`-failover-abort-*` naming the replaced master), Sentinel turns the
//! successor back into a replica: the mark is dropped and sentinels are asked again.
//!
//! **Past the hold.** A failover can stall after it was announced: every sentinel in TILT, or a
//! leader slower than `fence_max_hold`. The old master is then still writable, and the stalled
//! leader may yet send `REPLICAOF NO ONE` to its replica: writes the old master acknowledges
//! from that moment until our next notice would be lost. So the hold expiring does not lift
//! the fence. What it held fails with `FenceTimeout` (as before), an [`Event::FenceHeld`]
//! says how long the fence has been up and why, and walks become *surveys* (`walk.rs`):
//! every sentinel is asked `get-master-addr-by-name` and
//! `SENTINEL MASTER <name>`, whose `flags` (`failover_in_progress`) and `failover-state`
//! (present while one runs) say whether a failover of that master is in progress. Only the
//! failover's leader shows it, which is why a survey does not stop at the first answer.
//!
//! * A sentinel naming another master ends the survey: that master is connected and verified
//!   with `ROLE`, as in any walk (the fence comes down once it says master).
//! * Otherwise the fence comes down and the old master is used again (verified with `ROLE`,
//!   which must still say master) only when no sentinel reports a failover in progress, a
//!   majority of the known sentinels named the old master with none in progress, and every
//!   sentinel that announced this failover's progress (its leader: only it publishes
//!   `+elected-leader` .. `+promoted-slave`, and only it can still promote) is among them.
//!   [`Event::FenceLifted`] carries how long the fence was up.
//! * A leader that stays unreachable stops counting once the fence has been up longer than
//!   the sentinels' `failover-timeout` ([`DEFAULT_FAILOVER_TIMEOUT`] until one reports it):
//!   by then Sentinel has aborted or ended that failover.
//! * Anything else keeps the fence: sentinels are asked again every `fence_poll_interval`
//!   (the first that answers, as before the hold ran out) and surveyed every
//!   `sentinel_poll_interval`; notices and the candidate's `ROLE` probe go on as before.
//!   Commands submitted meanwhile wait up to `fence_max_hold` each, then fail with
//!   `FenceTimeout`; another `FenceHeld` follows every `fence_max_hold`, so a fence is never
//!   held silently.

use super::conn::Pending;
use super::io::{Addr, Event, Role};
use super::machine::Machine;
use super::notice::Notice;
use crate::cmd;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Sentinel's default `failover-timeout`, assumed until a sentinel reports its own.
pub(crate) const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_secs(180);

/// Shortest gap between two [`Event::FenceHeld`] reports (when `fence_max_hold` is tiny).
const MIN_REPORT_GAP: Duration = Duration::from_secs(1);

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
    /// The replica being promoted, as sentinels named it: probed with `ROLE` until it says
    /// master (it never carries a command before that).
    pub candidate: Option<Addr>,
    /// When to ask the candidate again (it still said slave, or could not be reached).
    pub probe_at: Option<Instant>,
    /// When the hold expires (then, while the fence stays, when to report it again).
    pub hold_until: Instant,
    /// The hold expired: the fence now stays until a survey of the sentinels lets it go.
    pub overdue: bool,
    /// When the next walk is a survey (every sentinel asked), once overdue.
    pub survey_at: Instant,
    /// Why the fence is still up, as the last survey found (for [`Event::FenceHeld`]).
    pub status: String,
    /// Sentinels that announced this failover's progress (`+elected-leader` ..
    /// `+promoted-slave`): only its leader does, and only the leader can still promote.
    pub leaders: BTreeSet<Addr>,
    /// Largest `failover-timeout` a sentinel reported while the fence was up.
    pub failover_timeout: Option<Duration>,
}

/// What one survey of the sentinels found (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct Survey {
    /// Sentinels that named the fenced master and reported no failover in progress.
    pub clear: Vec<Addr>,
    /// Sentinels that named the fenced master with a failover in progress, and what they said.
    pub busy: Vec<String>,
    /// Sentinels that named the fenced master without a readable failover state.
    pub unsure: Vec<String>,
}

impl Machine {
    /// The master we talk to or would reconnect to.
    pub(crate) fn target(&self) -> Option<&Addr> {
        self.node.as_ref().map(|n| &n.addr).or(self.master.as_ref())
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
            "+selected-slave"
            | "+failover-state-send-slaveof-noone"
            | "+failover-state-wait-promotion"
            | "+promoted-slave" => {
                self.raise_fence(&n.master, Stage::InProgress, ch, now);
                if let (Some(replica), false) = (n.other, n.instance_type == "sentinel") {
                    self.candidate_named(&n.master, replica, now);
                }
            }
            "+elected-leader"
            | "+failover-state-select-slave"
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
            c if c.starts_with("-failover-abort") && self.replaced.contains_key(&n.master) => {
                self.switch_aborted(&n.master, now)
            }
            _ => {}
        }
        if let Some(master) = led {
            if let Some(f) = self.fence.as_mut().filter(|f| f.old == master) {
                f.leaders.insert(from.clone());
            }
        }
    }

    /// Stops writing to `master` if it is ours, and starts polling sentinels for its successor.
    pub(crate) fn raise_fence(&mut self, master: &Addr, stage: Stage, reason: &str, now: Instant) {
        if let Some(f) = self.fence.as_mut() {
            if stage == Stage::InProgress && f.old == *master {
                f.stage = stage;
            }
            return;
        }
        if !self.cfg.fence || self.cfg.role != Role::Master || self.target() != Some(master) {
            return;
        }
        self.fence = Some(Fence {
            old: master.clone(),
            raised_at: now,
            stage,
            candidate: None,
            probe_at: None,
            hold_until: now + self.cfg.fence_max_hold,
            overdue: false,
            survey_at: now,
            status: "hold expired: asking every sentinel whether the failover still runs".into(),
            leaders: BTreeSet::new(),
            failover_timeout: None,
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
        self.lift_fence_to(reason, None, now)
    }

    /// Ends the fence without a new master; with `resume`, goes straight back to that master
    /// (verified with `ROLE` like any other), else asks sentinels.
    fn lift_fence_to(&mut self, reason: &str, resume: Option<Addr>, now: Instant) {
        let Some(f) = self.fence.take() else {
            return;
        };
        // A candidate still being probed is not our master: the failover did not happen.
        let probing = self
            .node
            .as_ref()
            .is_some_and(|n| Some(&n.addr) == f.candidate.as_ref());
        if probing && self.ready_node().is_none() {
            self.retire_node(now);
        }
        self.event(Event::FenceLifted {
            old: f.old,
            reason: reason.to_string(),
            held: now.saturating_duration_since(f.raised_at),
        });
        if self.node.is_none() {
            match resume {
                Some(addr) => {
                    self.connect_node(addr, Role::Master, now);
                    self.schedule_walk(now + self.cfg.sentinel_poll_interval);
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
        if self.fence.as_ref().is_some_and(|f| f.old == new) {
            self.lift_fence("+switch-master back to the fenced master", now);
        }
        self.retire_node(now);
        self.set_candidate(&new);
        self.connect_node(new, Role::Master, now);
    }

    /// Sentinels named `replica` as the successor of `master`: if that is the master we fenced,
    /// probe it now (a different candidate replaces one still being probed).
    fn candidate_named(&mut self, master: &Addr, replica: Addr, now: Instant) {
        if self.fence.as_ref().is_none_or(|f| &f.old != master) {
            return;
        }
        let before = self.fence.as_ref().and_then(|f| f.candidate.clone());
        if !self.set_candidate(&replica) {
            return;
        }
        let stale = self
            .node
            .as_ref()
            .is_some_and(|n| Some(&n.addr) == before.as_ref() && n.addr != replica);
        if stale && self.ready_node().is_none() {
            self.retire_node(now);
        }
        self.probe_candidate(now);
    }

    /// Makes `addr` the fence's candidate (never the fenced master itself); false when there is
    /// no fence or `addr` is the fenced master.
    pub(crate) fn set_candidate(&mut self, addr: &Addr) -> bool {
        match self.fence.as_mut() {
            Some(f) if f.old != *addr => {
                if f.candidate.as_ref() != Some(addr) {
                    f.candidate = Some(addr.clone());
                    f.probe_at = None;
                }
                true
            }
            _ => false,
        }
    }

    /// The fence's candidate, if any.
    pub(crate) fn candidate(&self) -> Option<&Addr> {
        self.fence.as_ref().and_then(|f| f.candidate.as_ref())
    }

    /// Asks the candidate whether it is master yet: connects when no data node is in flight,
    /// or sends `ROLE` again on its idle, unverified connection. Nothing else is written there.
    pub(crate) fn probe_candidate(&mut self, now: Instant) {
        let Some(cand) = self.candidate().cloned() else {
            return;
        };
        if let Some(f) = self.fence.as_mut() {
            f.probe_at = None;
        }
        match self.node.clone() {
            None => self.connect_node(cand, Role::Master, now),
            Some(n) if n.addr == cand => {
                let idle = self
                    .conns
                    .get(&n.conn)
                    .is_some_and(|c| c.open && !c.ready && c.pending.is_empty());
                if idle {
                    self.send(n.conn, &cmd("ROLE"), Pending::Role, now);
                }
            }
            Some(_) => {}
        }
    }

    /// Probes the candidate again after `fence_poll_interval`.
    pub(crate) fn probe_later(&mut self, now: Instant) {
        let at = now + self.cfg.fence_poll_interval;
        if let Some(f) = self.fence.as_mut().filter(|f| f.candidate.is_some()) {
            f.probe_at = Some(at);
        }
    }

    /// The failover that replaced `old` was aborted after we had already verified its
    /// successor (an early switch): Sentinel will turn that replica back, so `old` is no longer
    /// stale, and the successor is left (drained, not written to) while sentinels are asked.
    fn switch_aborted(&mut self, old: &Addr, now: Instant) {
        self.replaced.remove(old);
        let successor = self
            .node
            .as_ref()
            .is_some_and(|n| n.expect == Role::Master && n.addr != *old);
        if successor {
            self.event(Event::Error(format!(
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
        let gap = self.cfg.fence_max_hold.max(MIN_REPORT_GAP);
        let Some(f) = self.fence.as_mut() else {
            return;
        };
        let first = !f.overdue;
        f.overdue = true;
        f.hold_until = now + gap;
        if first {
            f.survey_at = now;
        }
        let e = Event::FenceHeld {
            old: f.old.clone(),
            held: now.saturating_duration_since(f.raised_at),
            reason: f.status.clone(),
        };
        if first {
            self.fail_queued(|| super::CommandError::FenceTimeout);
        }
        self.event(e);
        if first {
            self.start_walk(now);
        }
    }

    /// True when the next walk must be a survey: the hold expired and the last survey is
    /// `sentinel_poll_interval` old.
    pub(crate) fn survey_due(&self, now: Instant) -> bool {
        self.fence
            .as_ref()
            .is_some_and(|f| f.overdue && f.survey_at <= now)
    }

    /// A sentinel reported its `failover-timeout` while fenced.
    pub(crate) fn note_failover_timeout(&mut self, t: Duration) {
        if let Some(f) = self.fence.as_mut() {
            f.failover_timeout = Some(f.failover_timeout.map_or(t, |x| x.max(t)));
        }
    }

    /// Every sentinel was asked and none named another master: lift the fence and go back to
    /// the old master only if enough of them, the failover's leader included, say no failover
    /// is in progress; otherwise keep it and survey again later.
    pub(crate) fn survey_done(&mut self, s: Survey, tried: &[(Addr, String)], now: Instant) {
        let poll = self.cfg.fence_poll_interval;
        let n = self.sentinels.len();
        let need = n / 2 + 1;
        let Some(f) = self.fence.as_mut() else {
            return self.schedule_walk(now + self.cfg.sentinel_poll_interval);
        };
        f.survey_at = now + self.cfg.sentinel_poll_interval;
        let held = now.saturating_duration_since(f.raised_at);
        // Past its `failover-timeout` a leader aborts (or has ended) its failover: a leader
        // we cannot reach stops holding the fence then.
        let patience = f.failover_timeout.unwrap_or(DEFAULT_FAILOVER_TIMEOUT);
        let silent_leader = f
            .leaders
            .iter()
            .find(|l| held < patience && !s.clear.contains(l))
            .cloned();
        let wait = if let Some(b) = s.busy.first() {
            Some(b.clone())
        } else if let Some(l) = silent_leader {
            Some(format!(
                "sentinel {l} ran the failover and has not said it ended"
            ))
        } else if s.clear.len() < need {
            let why = s
                .unsure
                .first()
                .cloned()
                .or_else(|| tried.first().map(|(a, w)| format!("sentinel {a}: {w}")));
            Some(format!(
                "{} of {n} sentinels say no failover is in progress, {need} needed{}",
                s.clear.len(),
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ))
        } else {
            None
        };
        match wait {
            Some(why) => {
                f.status = why;
                self.schedule_walk(now + poll);
            }
            None => {
                let old = f.old.clone();
                let why = format!(
                    "hold expired; {} of {n} sentinels name {old} with no failover in progress",
                    s.clear.len()
                );
                self.lift_fence_to(&why, Some(old), now);
            }
        }
    }
}
