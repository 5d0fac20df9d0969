//! Choosing a replica from `SENTINEL replicas`: filter unusable ones ([`Instance::usable`]),
//! apply the strategy, fall back to the master when none is usable.

use super::backoff::Rng;
use super::config::ReplicaStrategy;
use super::interface::{Addr, Role};
use super::machine::Machine;
use super::parse::Instance;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// What the choice of a replica remembers between walks.
#[derive(Debug, Default)]
pub(crate) struct ReplicaPicker {
    /// Replicas that failed since the last verified node: not chosen again until then.
    excluded: BTreeSet<Addr>,
    /// Handshake round trip of each node verified so far.
    latency: BTreeMap<Addr, Duration>,
    /// How many round-robin choices were made.
    turns: u64,
}

impl ReplicaPicker {
    /// A picker whose round-robin starts at `turn` (drawn from the machine's seed, so the
    /// clients of a fleet do not all start on the same replica).
    pub(crate) fn starting_at(turn: u64) -> ReplicaPicker {
        ReplicaPicker {
            turns: turn,
            ..ReplicaPicker::default()
        }
    }

    /// A node was verified after `rtt`.
    pub(crate) fn measured(&mut self, addr: Addr, rtt: Duration) {
        self.latency.insert(addr, rtt);
    }

    /// A node was verified: failed replicas may be chosen again.
    pub(crate) fn forgive(&mut self) {
        self.excluded.clear();
    }

    /// The replica at `addr` failed: skip it until a node is verified.
    pub(crate) fn exclude(&mut self, addr: Addr) {
        self.excluded.insert(addr);
    }

    /// The usable replicas not excluded.
    fn candidates(&self, usable: Vec<Addr>) -> Vec<Addr> {
        usable
            .into_iter()
            .filter(|a| !self.excluded.contains(a))
            .collect()
    }

    /// One of `cands` by `strategy`.
    pub(crate) fn pick(
        &mut self,
        cands: &[Addr],
        strategy: ReplicaStrategy,
        rng: &mut Rng,
    ) -> Option<Addr> {
        let i = self.choose(cands.len(), |i| &cands[i], strategy, rng)?;
        cands.get(i).cloned()
    }

    /// The index of the choice among `n` candidates, candidate `i` at `addr(i)`, by
    /// `strategy` (without allocating: reads are spread with it, command by command).
    pub(crate) fn choose<'a>(
        &mut self,
        n: usize,
        addr: impl Fn(usize) -> &'a Addr,
        strategy: ReplicaStrategy,
        rng: &mut Rng,
    ) -> Option<usize> {
        if n == 0 {
            return None;
        }
        Some(match strategy {
            ReplicaStrategy::Random => rng.below(n as u64) as usize,
            ReplicaStrategy::RoundRobin => {
                let i = (self.turns % n as u64) as usize;
                self.turns = self.turns.wrapping_add(1);
                i
            }
            ReplicaStrategy::LowestLatency => (0..n)
                .min_by_key(|&i| match self.latency.get(addr(i)) {
                    None => (false, Default::default(), i),
                    Some(d) => (true, *d, i),
                })
                .unwrap_or(0),
        })
    }
}

impl Machine {
    /// Sentinel `from` answered with the master and its replicas: keep the current node if
    /// still usable, otherwise pick a replica (or the master when none is usable).
    pub(crate) fn replicas_named(
        &mut self,
        master: Addr,
        list: Vec<Instance>,
        from: Option<Addr>,
        now: Instant,
    ) {
        let ok: Vec<Addr> = list
            .iter()
            .filter(|r| r.usable())
            .map(|r| r.addr.clone())
            .collect();
        self.follow.spread.set_usable(ok.clone());
        if let Some(n) = self.phase.node() {
            let keep = match n.expect {
                Role::Replica => ok.contains(&n.addr),
                Role::Master => ok.is_empty() && n.addr == master,
            };
            if keep {
                return self.sync_spread(now);
            }
        }
        let cands = self.picker.candidates(ok);
        self.retire_node(now);
        let strategy = self.cfg.replica_strategy;
        match self.picker.pick(&cands, strategy, self.pacing.rng()) {
            Some(a) => self.connect_node(a, Role::Replica, from, now),
            None => {
                self.picker.forgive();
                self.connect_node(master, Role::Master, from, now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn strategies_and_exclusions() {
        let mut p = ReplicaPicker::default();
        let mut rng = Rng::new(1);
        let all = vec![a("r1:1"), a("r2:1"), a("r3:1")];
        let rr: Vec<_> = (0..4)
            .map(|_| p.pick(&all, ReplicaStrategy::RoundRobin, &mut rng).unwrap())
            .collect();
        assert_eq!(rr, [a("r1:1"), a("r2:1"), a("r3:1"), a("r1:1")]);
        p.measured(a("r1:1"), Duration::from_millis(9));
        p.measured(a("r3:1"), Duration::from_millis(2));
        let unmeasured = p.pick(&all, ReplicaStrategy::LowestLatency, &mut rng);
        assert_eq!(
            unmeasured,
            Some(a("r2:1")),
            "an unmeasured replica is tried first"
        );
        p.measured(a("r2:1"), Duration::from_millis(5));
        let fast = p.pick(&all, ReplicaStrategy::LowestLatency, &mut rng);
        assert_eq!(fast, Some(a("r3:1")));
        p.exclude(a("r3:1"));
        assert_eq!(p.candidates(all.clone()), [a("r1:1"), a("r2:1")]);
        p.forgive();
        assert_eq!(p.candidates(all.clone()).len(), 3);
        let random = p.pick(&all, ReplicaStrategy::Random, &mut rng).unwrap();
        assert!(all.contains(&random));
        assert_eq!(p.pick(&[], ReplicaStrategy::Random, &mut rng), None);
        // Round-robin starts where the seed says, so clients do not all begin on one replica.
        let starts: std::collections::BTreeSet<_> = (0..3u64)
            .map(|seed| {
                ReplicaPicker::starting_at(seed).pick(&all, ReplicaStrategy::RoundRobin, &mut rng)
            })
            .collect();
        assert_eq!(starts.len(), 3);
    }
}
