//! Seeded fault schedules: which faults fire when, and whether acknowledged-write loss is
//! attributable to the client under them.

use super::faults::{Fault, NodeSel};
use super::rng::Rng;
use super::sentinel::{Behavior, Garbage};
use super::world::World;
use crate::sentinel::Addr;
use std::time::{Duration, Instant};

/// Faults at offsets from the start of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// (offset from start, fault), in any order.
    pub items: Vec<(Duration, Fault)>,
    /// True when no fault near a failover can make the servers lose acknowledged writes on
    /// their own (a paused, slowed or partitioned data node, or a cut sentinel subscription):
    /// then any acknowledged write lost is the client's fault.
    pub strict: bool,
}

impl Schedule {
    /// No faults.
    pub fn none() -> Schedule {
        Schedule {
            items: Vec::new(),
            strict: true,
        }
    }

    /// Adds a fault at `at` after the start.
    pub fn at(mut self, at: Duration, fault: Fault) -> Schedule {
        self.items.push((at, fault));
        self.strict = self.compute_strict();
        self
    }

    /// Registers every fault with the world, relative to `start`.
    pub fn apply(&self, world: &mut World, start: Instant) {
        for (at, f) in &self.items {
            world.schedule(start + *at, f.clone());
        }
    }

    /// Offset after which every scheduled fault has fired and healed.
    pub fn quiet_after(&self) -> Duration {
        self.items
            .iter()
            .map(|(at, f)| *at + fault_duration(f))
            .max()
            .unwrap_or_default()
    }

    /// A random schedule over `horizon` for a world with `sentinels` sentinels.
    ///
    /// Draws zero to five faults of every kind, and with probability 3/5 a forced failover led
    /// by a random sentinel, sometimes a second one 25 s later. One failover in four then
    /// stalls (TILT) longer than the client's default fence hold (10 s) before promoting its
    /// replica; that last draw comes after all others, so the rest of a seed's schedule does
    /// not depend on it.
    pub fn random(rng: &mut Rng, sentinels: usize, horizon: Duration) -> Schedule {
        let mut s = Schedule::none();
        let h_ms = horizon.as_millis() as u64;
        if rng.chance(3, 5) {
            let at = Duration::from_millis(rng.range(2_000, (h_ms / 2).max(2_000)));
            let leader = rng.below(sentinels as u64) as usize;
            s.items.push((at, Fault::ForcedFailover { leader }));
            if rng.chance(1, 6) {
                let leader = rng.below(sentinels as u64) as usize;
                s.items.push((
                    at + Duration::from_secs(25),
                    Fault::ForcedFailover { leader },
                ));
            }
        }
        let n = rng.below(6);
        for _ in 0..n {
            let at = Duration::from_millis(rng.range(500, h_ms.saturating_sub(2_000).max(500)));
            let d = Duration::from_millis(rng.range(100, 4_000));
            let sen = rng.below(sentinels.max(1) as u64) as usize;
            let node = match rng.below(3) {
                0 => NodeSel::CurrentMaster,
                _ => NodeSel::Replica(rng.below(4) as usize),
            };
            let fault = match rng.below(15) {
                0 => Fault::DropConnections(node),
                1 => Fault::DropSentinelConnections(sen),
                2 => Fault::DropOneConnection {
                    pick: rng.next_u64(),
                },
                3 => Fault::RefuseConnects(node, d),
                4 => Fault::Partition(node, d),
                5 => Fault::PartitionSentinel(sen, d),
                6 => Fault::Pause(node, d),
                7 => Fault::Slow(node, Duration::from_millis(rng.range(5, 500)), d),
                8 => {
                    let liar = match rng.below(3) {
                        0 => Behavior::Lies(Addr::new("127.0.0.1", 6380)),
                        1 => Behavior::Lies(Addr::new("127.0.0.1", 7777)),
                        _ => Behavior::Unknown,
                    };
                    Fault::Sentinel(sen, liar, d)
                }
                9 => {
                    let g = Garbage::ALL[rng.below(Garbage::ALL.len() as u64) as usize];
                    Fault::Sentinel(sen, Behavior::Garbage(g), d)
                }
                10 => Fault::SentinelDown(sen, d),
                11 => Fault::AllSentinelsDown(d.min(Duration::from_secs(2))),
                12 => Fault::MasterTurnsReplica(d),
                13 => Fault::Loading(node, d),
                _ => Fault::Pause(
                    NodeSel::CurrentMaster,
                    Duration::from_millis(rng.range(6_000, 9_000)),
                ),
            };
            s.items.push((at, fault));
        }
        if rng.chance(1, 4) {
            let stall = Duration::from_millis(rng.range(10_500, 16_000));
            let first = s.items.iter_mut().map(|(_, f)| f).find_map(|f| match *f {
                Fault::ForcedFailover { leader } => Some((f, leader)),
                _ => None,
            });
            if let Some((f, leader)) = first {
                *f = Fault::StalledFailover { leader, stall };
            }
        }
        s.strict = s.compute_strict();
        s
    }

    fn compute_strict(&self) -> bool {
        let failovers: Vec<Duration> = self
            .items
            .iter()
            .filter(|(_, f)| {
                matches!(
                    f,
                    Fault::ForcedFailover { .. } | Fault::StalledFailover { .. }
                )
            })
            .map(|(at, _)| *at)
            .collect();
        // A master paused past down-after fails over on its own, and acknowledges queued writes
        // when it resumes: loss there is the servers'.
        let auto = self.items.iter().any(|(_, f)| {
            matches!(
                f,
                Fault::Pause(NodeSel::CurrentMaster | NodeSel::Index(0), _)
            )
        });
        if auto {
            return false;
        }
        !self.items.iter().any(|(at, f)| {
            let risky = matches!(
                f,
                Fault::Pause(..)
                    | Fault::Slow(..)
                    | Fault::Partition(..)
                    | Fault::PartitionSentinel(..)
                    | Fault::SentinelDown(..)
                    | Fault::AllSentinelsDown(..)
                    | Fault::DropSentinelConnections(..)
                    | Fault::DropOneConnection { .. }
                    | Fault::MasterTurnsReplica(..)
            );
            // A subscription cut by a sentinel outage comes back only at the client's next
            // reconnect attempt, up to its backoff cap (2 s by default) after the outage.
            let slack = match f {
                Fault::SentinelDown(..) | Fault::AllSentinelsDown(..) => Duration::from_secs(3),
                _ => Duration::from_secs(1),
            };
            let end = *at + fault_duration(f);
            risky
                && failovers
                    .iter()
                    .any(|fo| *at <= *fo + Duration::from_secs(5) && end + slack >= *fo)
        })
    }
}

/// How long a fault lasts (zero for instantaneous ones; a failover counts its ~15 s).
pub fn fault_duration(f: &Fault) -> Duration {
    match f {
        Fault::ForcedFailover { .. } => Duration::from_secs(15),
        Fault::StalledFailover { stall, .. } => Duration::from_secs(15) + *stall,
        Fault::DropConnections(_)
        | Fault::DropSentinelConnections(_)
        | Fault::DropOneConnection { .. }
        | Fault::Publish(..) => Duration::ZERO,
        Fault::RefuseConnects(_, d)
        | Fault::Partition(_, d)
        | Fault::PartitionSentinel(_, d)
        | Fault::Slow(_, _, d)
        | Fault::Sentinel(_, _, d)
        | Fault::SentinelDown(_, d)
        | Fault::AllSentinelsDown(d)
        | Fault::MasterTurnsReplica(d)
        | Fault::Loading(_, d) => *d,
        Fault::Pause(_, d) => *d + Duration::from_secs(15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_is_deterministic_and_strictness_is_computed() {
        let a = Schedule::random(&mut Rng::new(5), 3, Duration::from_secs(20));
        let b = Schedule::random(&mut Rng::new(5), 3, Duration::from_secs(20));
        assert_eq!(a, b);
        let s = Schedule::none().at(Duration::from_secs(3), Fault::ForcedFailover { leader: 0 });
        assert!(s.strict);
        let s = s.at(
            Duration::from_secs(2),
            Fault::PartitionSentinel(0, Duration::from_secs(2)),
        );
        assert!(!s.strict, "a cut subscription around the failover");
        assert!(s.quiet_after() >= Duration::from_secs(18));
    }
}
