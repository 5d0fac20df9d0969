//! Choosing a replica from `SENTINEL replicas`: filter unusable ones, apply the strategy,
//! fall back to the master when none is usable.

use super::config::ReplicaStrategy;
use super::io::{Addr, Role};
use super::machine::Machine;
use super::reply::Instance;
use std::time::Instant;

/// Replicas that are up and whose link to the master is `ok`.
pub(crate) fn usable(list: &[Instance]) -> Vec<Addr> {
    list.iter()
        .filter(|r| r.up() && r.link_ok)
        .map(|r| r.addr.clone())
        .collect()
}

impl Machine {
    /// Sentinels answered with the master and its replicas: keep the current node if still
    /// usable, otherwise pick a replica (or the master when none is usable).
    pub(crate) fn replicas_named(&mut self, master: Addr, list: Vec<Instance>, now: Instant) {
        let ok = usable(&list);
        if let Some(n) = &self.node {
            let keep = match n.expect {
                Role::Replica => ok.contains(&n.addr),
                Role::Master => ok.is_empty() && n.addr == master,
            };
            if keep {
                return;
            }
        }
        let cands: Vec<Addr> = ok
            .into_iter()
            .filter(|a| !self.excluded.contains(a))
            .collect();
        self.retire_node(now);
        match self.pick(&cands) {
            Some(a) => self.connect_node(a, Role::Replica, now),
            None => {
                self.excluded.clear();
                self.connect_node(master, Role::Master, now)
            }
        }
    }

    fn pick(&mut self, cands: &[Addr]) -> Option<Addr> {
        if cands.is_empty() {
            return None;
        }
        let i = match self.cfg.replica_strategy {
            ReplicaStrategy::Random => self.rng.below(cands.len() as u64) as usize,
            ReplicaStrategy::RoundRobin => {
                let i = (self.rr % cands.len() as u64) as usize;
                self.rr = self.rr.wrapping_add(1);
                i
            }
            ReplicaStrategy::LowestLatency => cands
                .iter()
                .enumerate()
                .min_by_key(|(i, a)| match self.latency.get(*a) {
                    None => (false, Default::default(), *i),
                    Some(d) => (true, *d, *i),
                })
                .map_or(0, |(i, _)| i),
        };
        cands.get(i).cloned()
    }
}
