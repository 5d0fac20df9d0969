//! Judging a sentinel's answer before acting on it: config epochs, replaced masters, and
//! second opinions.
//!
//! Sentinels do not change their minds all at once. After a failover the leader names the
//! promoted replica while the others still name the old master for a second or two, and the
//! old master keeps answering `ROLE master` until Sentinel reconfigures it (about 10 s): a
//! client that believes a lagging sentinel goes back there and its writes are thrown away.
//! A sentinel may also simply be wrong. The rules, in the order they apply (master role):
//!
//! 1. Each walk also asks `SENTINEL MASTER <name>` for the sentinel's `config-epoch`, the
//!    epoch of the configuration it reports; it only grows, one step per failover. The
//!    machine remembers the highest epoch any sentinel reported.
//! 2. A master the machine moved away from (a different master was verified after it) is
//!    *replaced*, tagged with the highest epoch known at that moment. An answer naming a
//!    replaced master is stale, and the next sentinel is asked, unless it carries a higher
//!    epoch (a later failover really went back there). A `+switch-master` away from the
//!    master in use naming it as the new master also clears the tag; one away from another
//!    master is a lagging sentinel announcing an earlier failover, and is ignored (a sentinel
//!    announces a switch to a configuration newer than *its* last one, not than ours). When a
//!    sentinel reports no epoch at all, the tag holds for
//!    [`STALE_WITHOUT_EPOCH`] only. The mark is set wherever the successor was verified with
//!    `ROLE`: after `+switch-master`, a sentinel poll, or the early probe of the fence's
//!    candidate (`fence.rs`) alike. A `-failover-abort-*` naming a replaced master clears it
//!    (the failover we ran ahead of did not happen: its successor is left, sentinels asked).
//!    When every sentinel that answered named a replaced master and no node is in use, the
//!    machine goes back to the master it verified last (checked with `ROLE` again) instead of
//!    failing the queued commands.
//! 3. While a verified master is ready and no fence is up, an answer naming another node
//!    with no newer epoch does not tear it down: the next sentinel is asked. A second
//!    sentinel naming the same node carries the switch; one naming the current master keeps
//!    it, and the dissenters go to the back of the sentinel list.
//! 4. A sentinel whose named node fails verification (connect failure or wrong `ROLE`) goes
//!    to the back of the list, so the next walk asks the others first.

use super::interface::{Addr, Role};
use super::machine::{Goal, Machine};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a replaced master stays stale for answers that carry no config epoch.
pub(crate) const STALE_WITHOUT_EPOCH: Duration = Duration::from_secs(60);

/// A master the machine moved away from.
#[derive(Clone, Copy, Debug)]
struct Replaced {
    /// Highest config epoch known when it was replaced.
    epoch: u64,
    /// When it was replaced.
    at: Instant,
}

/// What to do with one sentinel's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Act on it.
    Accept,
    /// It names a replaced master: ask the next sentinel (the text says why).
    Stale(String),
    /// It contradicts the ready master with no newer epoch: get a second opinion.
    Doubt,
}

/// The masters the machine has verified: the last one, the ones it moved away from, and the
/// highest config epoch any sentinel reported.
#[derive(Debug, Default)]
pub(crate) struct MasterHistory {
    /// The last master verified with `ROLE` (kept while fenced, so it names the old one).
    last: Option<Addr>,
    epoch: u64,
    replaced: BTreeMap<Addr, Replaced>,
}

impl MasterHistory {
    /// The last verified master.
    pub(crate) fn last(&self) -> Option<&Addr> {
        self.last.as_ref()
    }

    /// `addr` was verified as master: returns the previous one. A master that had been
    /// replaced is not stale any more; the previous one is replaced from now on.
    pub(crate) fn verified(&mut self, addr: &Addr, now: Instant) -> Option<Addr> {
        let old = self.last.replace(addr.clone());
        self.replaced.remove(addr);
        if let Some(o) = old.clone().filter(|o| o != addr) {
            let r = Replaced {
                epoch: self.epoch,
                at: now,
            };
            self.replaced.insert(o, r);
        }
        old
    }

    /// True while answers naming `addr` are stale.
    pub(crate) fn is_replaced(&self, addr: &Addr) -> bool {
        self.replaced.contains_key(addr)
    }

    /// `addr` is a master again (a later failover went back there, or the one that replaced
    /// it was aborted).
    pub(crate) fn forget_replaced(&mut self, addr: &Addr) {
        self.replaced.remove(addr);
    }

    /// Judges `named` (with the sentinel's `epoch`, if it reported one). `current` is the
    /// verified master in use when no fence is up; `votes` are the nodes earlier sentinels of
    /// this walk named in doubt.
    pub(crate) fn judge(
        &mut self,
        named: &Addr,
        epoch: Option<u64>,
        current: Option<&Addr>,
        votes: &[(Addr, Addr)],
        now: Instant,
    ) -> Verdict {
        let known = self.epoch;
        if let Some(e) = epoch {
            self.epoch = self.epoch.max(e);
        }
        if let Some(r) = self.replaced.get(named).copied() {
            let stale = match epoch {
                Some(e) => e <= r.epoch,
                None => now.saturating_duration_since(r.at) < STALE_WITHOUT_EPOCH,
            };
            if stale {
                let e = epoch.map_or("no epoch".to_string(), |e| format!("epoch {e}"));
                return Verdict::Stale(format!(
                    "names {named}, a master replaced at epoch {} ({e})",
                    r.epoch
                ));
            }
            self.replaced.remove(named);
        }
        let newer = epoch.is_some_and(|e| e > known);
        match current {
            Some(cur) if cur != named && !newer => {
                if votes.iter().any(|(_, n)| n == named) {
                    Verdict::Accept
                } else {
                    Verdict::Doubt
                }
            }
            _ => Verdict::Accept,
        }
    }
}

impl Machine {
    /// Judges a sentinel's answer naming `named` as master (see the module docs).
    pub(crate) fn judge(
        &mut self,
        named: &Addr,
        epoch: Option<u64>,
        votes: &[(Addr, Addr)],
        now: Instant,
    ) -> Verdict {
        if self.goal != Goal::Client || self.cfg.role != Role::Master {
            return Verdict::Accept;
        }
        let current = self
            .phase
            .ready()
            .filter(|n| n.expect == Role::Master)
            .map(|n| n.addr.clone());
        self.history
            .judge(named, epoch, current.as_ref(), votes, now)
    }

    /// Moves the sentinel at `addr` to the back of the list (its answer did not hold up).
    pub(crate) fn demote_sentinel(&mut self, addr: &Addr) {
        if self.walker.running() {
            // Indices of a running walk must stay valid; the next walk sees the new order.
            return;
        }
        self.sentinels.move_to_back(addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn replaced_master_is_stale_until_a_newer_epoch() {
        let t = Instant::now();
        let mut h = MasterHistory::default();
        assert_eq!(h.judge(&a("m1:1"), Some(3), None, &[], t), Verdict::Accept);
        h.verified(&a("m1:1"), t);
        h.verified(&a("m2:1"), t);
        assert!(h.is_replaced(&a("m1:1")) && !h.is_replaced(&a("m2:1")));
        assert!(matches!(
            h.judge(&a("m1:1"), Some(3), None, &[], t),
            Verdict::Stale(_)
        ));
        assert!(matches!(
            h.judge(&a("m1:1"), None, None, &[], t),
            Verdict::Stale(_)
        ));
        let later = t + STALE_WITHOUT_EPOCH;
        assert_eq!(h.judge(&a("m1:1"), None, None, &[], later), Verdict::Accept);
        h.verified(&a("m1:1"), t);
        assert!(h.is_replaced(&a("m2:1")));
        assert_eq!(h.judge(&a("m2:1"), Some(4), None, &[], t), Verdict::Accept);
    }

    #[test]
    fn contradicting_the_current_master_needs_a_second_opinion() {
        let t = Instant::now();
        let mut h = MasterHistory::default();
        let cur = a("m1:1");
        assert_eq!(
            h.judge(&a("m2:1"), Some(0), Some(&cur), &[], t),
            Verdict::Doubt
        );
        let votes = [(a("s1:1"), a("m2:1"))];
        assert_eq!(
            h.judge(&a("m2:1"), Some(0), Some(&cur), &votes, t),
            Verdict::Accept
        );
        assert_eq!(
            h.judge(&a("m2:1"), Some(1), Some(&cur), &[], t),
            Verdict::Accept
        );
        assert_eq!(h.judge(&cur, Some(1), Some(&cur), &[], t), Verdict::Accept);
    }
}
