//! Seeded pseudo-random numbers and jittered exponential backoff.

use super::config::{Backoff, Jitter};
use std::time::Duration;

/// SplitMix64: tiny, fast, and fully determined by its seed.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Attempts since the last success, and the previous delay (for decorrelated jitter).
#[derive(Clone, Debug, Default)]
struct BackoffState {
    attempt: u32,
    prev: Duration,
}

impl BackoffState {
    /// Forgets past failures after a success.
    fn reset(&mut self) {
        *self = BackoffState::default();
    }

    /// The delay before the next attempt; grows with each call until [`BackoffState::reset`].
    fn next_delay(&mut self, policy: &Backoff, rng: &mut Rng) -> Duration {
        let cap = policy.cap.as_nanos().min(u64::MAX as u128) as u64;
        let base = (policy.base.as_nanos().min(u64::MAX as u128) as u64).min(cap);
        let nanos = match policy.jitter {
            Jitter::Full => {
                let shift = self.attempt.min(32);
                let ceil = base.saturating_mul(1u64 << shift).min(cap);
                rng.below(ceil.saturating_add(1))
            }
            Jitter::Decorrelated => {
                let prev = (self.prev.as_nanos().min(u64::MAX as u128) as u64).max(base);
                let hi = prev.saturating_mul(3).min(cap).max(base);
                base + rng.below(hi - base + 1)
            }
        };
        self.attempt = self.attempt.saturating_add(1);
        self.prev = Duration::from_nanos(nanos);
        self.prev
    }
}

/// The machine's randomness and its backoff between failed attempts.
#[derive(Debug)]
pub(crate) struct Pacing {
    rng: Rng,
    state: BackoffState,
    /// A node broke the protocol since it last proved healthy: passing its handshake again
    /// does not reset the backoff (it would reconnect at once, forever).
    strikes: u32,
}

impl Pacing {
    /// Random draws from `seed`, no failures yet.
    pub(crate) fn new(seed: u64) -> Pacing {
        Pacing {
            rng: Rng::new(seed),
            state: BackoffState::default(),
            strikes: 0,
        }
    }

    /// The delay before the next attempt under `policy`.
    pub(crate) fn next_delay(&mut self, policy: &Backoff) -> Duration {
        self.state.next_delay(policy, &mut self.rng)
    }

    /// A node was verified: the next failure waits the shortest delay again, unless a node
    /// broke the protocol and has not proved healthy since.
    pub(crate) fn reset(&mut self) {
        if self.strikes == 0 {
            self.state.reset();
        }
    }

    /// A node broke the protocol (an invalid or unexpected reply).
    pub(crate) fn strike(&mut self) {
        self.strikes = self.strikes.saturating_add(1);
    }

    /// The node answered a health check properly: it is trusted again.
    pub(crate) fn healthy(&mut self) {
        if self.strikes > 0 {
            self.strikes = 0;
            self.state.reset();
        }
    }

    /// The machine's random numbers (replica choice draws from the same seed).
    pub(crate) fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: Jitter) -> Backoff {
        Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(500),
            seed: 7,
            jitter,
        }
    }

    #[test]
    fn same_seed_same_delays() {
        for j in [Jitter::Full, Jitter::Decorrelated] {
            let run = || {
                let mut rng = Rng::new(7);
                let mut st = BackoffState::default();
                (0..20)
                    .map(|_| st.next_delay(&policy(j), &mut rng))
                    .collect::<Vec<_>>()
            };
            assert_eq!(run(), run());
        }
    }

    #[test]
    fn delays_respect_cap_and_grow() {
        let p = policy(Jitter::Full);
        let mut rng = Rng::new(1);
        let mut st = BackoffState::default();
        let d: Vec<_> = (0..40).map(|_| st.next_delay(&p, &mut rng)).collect();
        assert!(d.iter().all(|x| *x <= p.cap));
        assert!(d[0] <= p.base);
        // Later attempts draw from a wider range: at least one exceeds the base.
        assert!(d[10..].iter().any(|x| *x > p.base));
        let p = policy(Jitter::Decorrelated);
        let mut st = BackoffState::default();
        for _ in 0..40 {
            let x = st.next_delay(&p, &mut rng);
            assert!(x >= p.base && x <= p.cap, "{x:?}");
        }
        st.reset();
        assert_eq!(st.attempt, 0);
    }

    #[test]
    fn zero_policy_is_zero() {
        let p = Backoff {
            base: Duration::ZERO,
            cap: Duration::ZERO,
            seed: 0,
            jitter: Jitter::Full,
        };
        let mut st = BackoffState::default();
        assert_eq!(st.next_delay(&p, &mut Rng::new(0)), Duration::ZERO);
    }
}
