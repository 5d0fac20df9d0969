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

use super::io::{Addr, Role};
use super::machine::{Machine, Mode};
use std::time::{Duration, Instant};

/// How long a replaced master stays stale for answers that carry no config epoch.
pub(crate) const STALE_WITHOUT_EPOCH: Duration = Duration::from_secs(60);

/// A master the machine moved away from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Replaced {
    /// Highest config epoch known when it was replaced.
    pub epoch: u64,
    /// When it was replaced.
    pub at: Instant,
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

impl Machine {
    /// Judges `named` (with the sentinel's `epoch`, if it reported one); `votes` are the
    /// nodes earlier sentinels of this walk named in doubt.
    pub(crate) fn judge(
        &mut self,
        named: &Addr,
        epoch: Option<u64>,
        votes: &[(Addr, Addr)],
        now: Instant,
    ) -> Verdict {
        if self.mode != Mode::Client || self.cfg.role != Role::Master {
            return Verdict::Accept;
        }
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
        let current = self
            .ready_node()
            .and(self.node.as_ref())
            .filter(|n| n.expect == Role::Master)
            .map(|n| n.addr.clone());
        match current {
            Some(cur) if self.fence.is_none() && cur != *named && !newer => {
                if votes.iter().any(|(_, n)| n == named) {
                    Verdict::Accept
                } else {
                    Verdict::Doubt
                }
            }
            _ => Verdict::Accept,
        }
    }

    /// A different master than `old` was verified: `old` is replaced from now on.
    pub(crate) fn mark_replaced(&mut self, old: Addr, now: Instant) {
        let r = Replaced {
            epoch: self.epoch,
            at: now,
        };
        self.replaced.insert(old, r);
    }

    /// Moves the sentinel at `addr` to the back of the list (its answer did not hold up).
    pub(crate) fn demote_sentinel(&mut self, addr: &Addr) {
        let Some(pos) = self.sentinels.iter().position(|s| s == addr) else {
            return;
        };
        if self.walk.is_some() {
            // Indices of a running walk must stay valid; the next walk sees the new order.
            return;
        }
        let s = self.sentinels.remove(pos);
        self.sentinels.push(s);
    }
}
