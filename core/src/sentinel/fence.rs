//! The failover fence: what it holds, and when it may come down. What the machine does with
//! each sentinel notice (raising, lifting, following the candidate) is in `failover.rs`.
//!
//! The moment a sentinel says a failover of *our* master is starting, nothing more is written
//! to that master: the old master stays writable until Sentinel reconfigures it, and writes it
//! acknowledges in that window are thrown away when it is demoted. New commands wait in a
//! bounded queue (with a deadline) until a different master is verified with `ROLE`.
//!
//! **When it rises.** On `+odown` (a quorum cannot reach the master: it may be cut off from
//! its replicas too, so nothing more is written to it), and on `+selected-slave` or any later
//! step of a failover of our master. Not on `+try-failover`, `+elected-leader` or
//! `+failover-state-select-slave`: until a replica is selected the attempt can still end with
//! nothing promoted (no good replica, election lost), and the master is healthy, so holding
//! writes then only lengthens the pause. The leader publishes `+selected-slave` and sends
//! `REPLICAOF NO ONE` on its next timer tick (Sentinel's timer runs at 10-19 Hz, so at least
//! about 50 ms later): writes the old master acknowledged before the fence reached the
//! replica long before it stops replicating. A forced failover (`SENTINEL FAILOVER`, no
//! `+odown`) therefore pauses writes for about one Sentinel tick plus our switch, not the
//! three ticks from the trigger to the promotion.
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
//! still abort after that (`-failover-abort-no-good-slave` or `-failover-abort-slave-timeout`
//! naming the replaced master), Sentinel turns the successor back into a replica: the mark is
//! dropped and sentinels are asked again.
//!
//! **What lowers it early.** `-odown` lowers a fence raised by `+odown` (no failover started);
//! the leader's `-failover-abort-no-good-slave` or `-failover-abort-slave-timeout` lowers any.
//! `-failover-abort-not-elected` lowers nothing: it says only that *its* sentinel lost the
//! election, and when sentinels race after `+odown` the winner goes on promoting (its
//! `+elected-leader` may even come before the losers' aborts). Lowering the fence then would
//! write to the old master between the abort and the winner's `+selected-slave`. When no
//! sentinel wins, the master stays objectively down and the fence stays until `-odown` or
//! past the hold (below).
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

use super::interface::{Addr, Event};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Sentinel's default `failover-timeout`, assumed until a sentinel reports its own.
pub(crate) const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_secs(180);

/// Immediate probes of the candidate after it closed our connection, per fence.
const QUICK_REPROBES: u8 = 2;

/// Shortest gap between two [`Event::FenceHeld`] reports (when `fence_max_hold` is tiny).
const MIN_REPORT_GAP: Duration = Duration::from_secs(1);

/// How sure we are that a failover is happening.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `+odown`: may still be called off by `-odown`.
    Suspected,
    /// A replica was selected or promoted: only an abort or a new master ends it.
    InProgress,
}

/// The fence: raised against `old` at `raised_at`.
#[derive(Clone, Debug)]
pub(crate) struct Fence {
    old: Addr,
    raised_at: Instant,
    stage: Stage,
    /// The replica being promoted, as sentinels named it: probed with `ROLE` until it says
    /// master (it never carries a command before that).
    candidate: Option<Addr>,
    /// When to ask the candidate again (it still said slave, or could not be reached).
    probe_at: Option<Instant>,
    /// When the hold expires (then, while the fence stays, when to report it again).
    hold_until: Instant,
    /// The hold expired: the fence now stays until a survey of the sentinels lets it go.
    overdue: bool,
    /// When the next walk is a survey (every sentinel asked), once overdue.
    survey_at: Instant,
    /// Why the fence is still up, as the last survey found (for [`Event::FenceHeld`]).
    status: String,
    /// Sentinels that announced this failover's progress (`+elected-leader` ..
    /// `+promoted-slave`): only its leader does, and only the leader can still promote.
    leaders: BTreeSet<Addr>,
    /// Largest `failover-timeout` a sentinel reported while the fence was up.
    failover_timeout: Option<Duration>,
    /// Times the candidate's connection was closed by the server and probed again at once.
    quick_reprobes: u8,
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

impl Fence {
    /// A fence against `old`, holding commands for `hold` from `now`.
    pub(crate) fn new(old: Addr, stage: Stage, hold: Duration, now: Instant) -> Fence {
        Fence {
            old,
            raised_at: now,
            stage,
            candidate: None,
            probe_at: None,
            hold_until: now + hold,
            overdue: false,
            survey_at: now,
            status: "hold expired: asking every sentinel whether the failover still runs".into(),
            leaders: BTreeSet::new(),
            failover_timeout: None,
            quick_reprobes: 0,
        }
    }

    /// The candidate closed our probe connection. Sentinel promotes a replica with one
    /// `MULTI` block that ends with `CLIENT KILL TYPE normal`, so that close is the moment
    /// of promotion: true when it may be probed again at once (a few times per fence, so a
    /// candidate that keeps closing cannot make thousands of clients hammer it).
    pub(crate) fn reprobe_at_once(&mut self) -> bool {
        if self.quick_reprobes < QUICK_REPROBES {
            self.quick_reprobes += 1;
            return true;
        }
        false
    }

    /// The fenced master.
    pub(crate) fn old(&self) -> &Addr {
        &self.old
    }

    /// How sure we are.
    pub(crate) fn stage(&self) -> Stage {
        self.stage
    }

    /// A notice showed the failover is really under way.
    pub(crate) fn confirm(&mut self) {
        self.stage = Stage::InProgress;
    }

    /// How long it has been up at `now`.
    pub(crate) fn held(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.raised_at)
    }

    /// The replica being promoted, if sentinels named one.
    pub(crate) fn candidate(&self) -> Option<&Addr> {
        self.candidate.as_ref()
    }

    /// Makes `addr` the candidate (never the fenced master itself); false for the fenced
    /// master. A new candidate is probed at once.
    pub(crate) fn set_candidate(&mut self, addr: &Addr) -> bool {
        if self.old == *addr {
            return false;
        }
        if self.candidate.as_ref() != Some(addr) {
            self.candidate = Some(addr.clone());
            self.probe_at = None;
        }
        true
    }

    /// When to ask the candidate again.
    pub(crate) fn probe_at(&self) -> Option<Instant> {
        self.probe_at
    }

    /// Asks the candidate again at `at` (`None`: not before it is named again). Only with a
    /// candidate.
    pub(crate) fn set_probe_at(&mut self, at: Option<Instant>) {
        if self.candidate.is_some() || at.is_none() {
            self.probe_at = at;
        }
    }

    /// When the hold expires, or the next [`Event::FenceHeld`] is due.
    pub(crate) fn hold_until(&self) -> Instant {
        self.hold_until
    }

    /// The hold expired: commands wait `fence_max_hold` each from then on.
    pub(crate) fn is_overdue(&self) -> bool {
        self.overdue
    }

    /// `from` announced this failover's progress: it leads it.
    pub(crate) fn add_leader(&mut self, from: &Addr) {
        self.leaders.insert(from.clone());
    }

    /// A sentinel reported its `failover-timeout` while fenced.
    pub(crate) fn note_failover_timeout(&mut self, t: Duration) {
        self.failover_timeout = Some(self.failover_timeout.map_or(t, |x| x.max(t)));
    }

    /// The hold ran out (true the first time) or another hold period passed: returns whether
    /// this is the first time, and the report to make.
    pub(crate) fn hold_expired(&mut self, hold: Duration, now: Instant) -> (bool, Event) {
        let first = !self.overdue;
        self.overdue = true;
        self.hold_until = now + hold.max(MIN_REPORT_GAP);
        if first {
            self.survey_at = now;
        }
        let e = Event::FenceHeld {
            old: self.old.clone(),
            held: self.held(now),
            reason: self.status.clone(),
        };
        (first, e)
    }

    /// True when the next walk must be a survey: the hold expired and the last survey is
    /// `sentinel_poll_interval` old.
    pub(crate) fn survey_due(&self, now: Instant) -> bool {
        self.overdue && self.survey_at <= now
    }

    /// Every one of `known` sentinels was asked and none named another master: `None` when
    /// the fence may come down (enough of them, the failover's leader included, say no
    /// failover is in progress), else why it stays. The next survey is due `interval` later.
    pub(crate) fn judge_survey(
        &mut self,
        s: &Survey,
        tried: &[(Addr, String)],
        known: usize,
        interval: Duration,
        now: Instant,
    ) -> Option<String> {
        let need = known / 2 + 1;
        self.survey_at = now + interval;
        let held = self.held(now);
        // Past its `failover-timeout` a leader aborts (or has ended) its failover: a leader
        // we cannot reach stops holding the fence then.
        let patience = self.failover_timeout.unwrap_or(DEFAULT_FAILOVER_TIMEOUT);
        let silent_leader = self
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
                "{} of {known} sentinels say no failover is in progress, {need} needed{}",
                s.clear.len(),
                why.map(|w| format!(" ({w})")).unwrap_or_default()
            ))
        } else {
            None
        };
        if let Some(why) = &wait {
            self.status = why.clone();
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn candidate_is_never_the_fenced_master() {
        let t = Instant::now();
        let mut f = Fence::new(a("m:1"), Stage::Suspected, Duration::from_secs(10), t);
        assert!(!f.set_candidate(&a("m:1")));
        f.set_probe_at(Some(t));
        assert_eq!(f.probe_at(), None, "no candidate, nothing to probe");
        assert!(f.set_candidate(&a("r:1")));
        f.set_probe_at(Some(t));
        assert!(f.set_candidate(&a("r:1")) && f.probe_at() == Some(t));
        assert!(f.set_candidate(&a("r:2")) && f.probe_at().is_none());
        f.confirm();
        assert_eq!(f.stage(), Stage::InProgress);
    }

    #[test]
    fn survey_needs_a_majority_and_the_leader() {
        let t = Instant::now();
        let poll = Duration::from_secs(2);
        let mut f = Fence::new(a("m:1"), Stage::InProgress, Duration::from_secs(10), t);
        let (first, _) = f.hold_expired(Duration::from_secs(10), t);
        assert!(first && f.is_overdue() && f.survey_due(t));
        assert!(!f.hold_expired(Duration::from_secs(10), t).0);
        f.add_leader(&a("s3:1"));
        let mut s = Survey {
            clear: vec![a("s1:1"), a("s2:1")],
            ..Survey::default()
        };
        let why = f.judge_survey(&s, &[], 3, poll, t).expect("leader silent");
        assert!(why.contains("s3:1"), "{why}");
        assert!(!f.survey_due(t) && f.survey_due(t + poll));
        s.clear.push(a("s3:1"));
        assert_eq!(f.judge_survey(&s, &[], 3, poll, t), None);
        let few = Survey {
            clear: vec![a("s3:1")],
            ..Survey::default()
        };
        let why = f.judge_survey(&few, &[], 3, poll, t).expect("no majority");
        assert!(why.contains("1 of 3"), "{why}");
        let late = t + DEFAULT_FAILOVER_TIMEOUT;
        let two = Survey {
            clear: vec![a("s1:1"), a("s2:1")],
            ..Survey::default()
        };
        assert_eq!(
            f.judge_survey(&two, &[], 3, poll, late),
            None,
            "leader timed out"
        );
    }
}
