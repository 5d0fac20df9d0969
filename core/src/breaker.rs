//! A circuit breaker: after repeated connection-level failures, fail fast for a while instead of
//! queueing behind a dead deployment. Sans-IO like the rest of the crate: every method takes
//! `now`, so tests (and drivers) decide what time it is.
//!
//! Closed: commands flow; `failure_threshold` failures in a row open it. Open: commands are
//! refused until `open_for` has passed. Half-open: up to `half_open_probes` commands are let
//! through; an answer closes it, a failure opens it again. Probes whose outcome never comes back
//! (the caller gave up waiting) are given up after another `open_for`, so the circuit cannot stay
//! half-open for good.
//!
//! ```
//! use resp_sentinel_core::breaker::{Breaker, BreakerConfig, BreakerState, Outcome};
//! use std::time::{Duration, Instant};
//!
//! let mut b = Breaker::new(BreakerConfig { failure_threshold: 1, ..BreakerConfig::default() });
//! let t0 = Instant::now();
//! assert!(b.allow(t0));
//! b.record(Outcome::Failed, t0);
//! assert!(!b.allow(t0), "open: fail fast");
//! let later = t0 + Duration::from_secs(2);
//! assert!(b.allow(later), "half-open: one probe");
//! b.record(Outcome::Answered, later);
//! assert_eq!(b.state(), BreakerState::Closed);
//! ```

use std::time::{Duration, Instant};

/// Thresholds of the circuit breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before probing.
    pub open_for: Duration,
    /// Commands let through while half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    /// Five failures in a row open it for a second; one probe at a time.
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(1),
            half_open_probes: 1,
        }
    }
}

/// Where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Commands flow.
    Closed,
    /// Commands fail fast until the instant given.
    Open(Instant),
    /// A few probe commands are in flight.
    HalfOpen,
}

/// How one command the breaker let through went, as far as the breaker cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The deployment answered (a value, or an error reply: the server is up).
    Answered,
    /// A failure of the connection or the deployment (timeout, lost connection, no master...).
    Failed,
    /// The command never reached the deployment for reasons of its own (e.g. the breaker
    /// refused it); the state does not change.
    NotAttempted,
}

/// The breaker's state; not thread-safe by itself (drivers share it behind a lock).
#[derive(Clone, Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    failures: u32,
    probes: u32,
    /// While half-open: when probes still unanswered count as abandoned.
    probes_expire: Option<Instant>,
}

impl Breaker {
    /// A closed breaker with these thresholds.
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            state: BreakerState::Closed,
            failures: 0,
            probes: 0,
            probes_expire: None,
        }
    }

    /// The thresholds it was made with.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Where it stands (as of the last call; an open breaker whose time passed still reads
    /// `Open` until [`Breaker::allow`] is called).
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May a command go at `now`? A `true` while half-open counts the command as a probe.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open(until) if now < until => false,
            BreakerState::Open(_) | BreakerState::HalfOpen => {
                let fresh = self.state != BreakerState::HalfOpen
                    || self.probes_expire.is_none_or(|t| now >= t);
                if fresh {
                    self.state = BreakerState::HalfOpen;
                    self.probes = 0;
                    self.probes_expire = Some(after(now, self.config.open_for));
                }
                if self.probes < self.config.half_open_probes {
                    self.probes += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Records how a command went at `now`.
    pub fn record(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Failed => {
                self.failures = self.failures.saturating_add(1);
                if self.state == BreakerState::HalfOpen
                    || self.failures >= self.config.failure_threshold
                {
                    self.state = BreakerState::Open(after(now, self.config.open_for));
                    self.probes = 0;
                    self.probes_expire = None;
                }
            }
            Outcome::Answered => {
                self.failures = 0;
                self.probes = 0;
                self.probes_expire = None;
                self.state = BreakerState::Closed;
            }
            Outcome::NotAttempted => {}
        }
    }
}

/// `now + d`, saturating at a century or so for durations an `Instant` cannot reach.
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(1 << 32)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn opens_after_threshold_then_half_opens_and_closes() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            open_for: ms(100),
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        assert!(b.allow(t0));
        b.record(Outcome::Failed, t0);
        assert_eq!(b.state(), BreakerState::Closed);
        b.record(Outcome::Failed, t0);
        assert_eq!(b.state(), BreakerState::Open(t0 + ms(100)));
        assert!(!b.allow(t0 + ms(50)));
        assert!(
            !b.allow(t0 + ms(99)),
            "still open just before open_for ends"
        );
        let later = t0 + ms(150);
        assert!(b.allow(later), "one probe goes through");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allow(later), "only one probe");
        b.record(Outcome::Answered, later);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow(later));
    }

    #[test]
    fn an_answer_resets_the_count_of_failures() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            ..BreakerConfig::default()
        });
        let t0 = Instant::now();
        b.record(Outcome::Failed, t0);
        b.record(Outcome::Answered, t0);
        b.record(Outcome::Failed, t0);
        assert_eq!(b.state(), BreakerState::Closed, "not two in a row");
    }

    #[test]
    fn commands_not_attempted_change_nothing() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: ms(10),
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        b.record(Outcome::Failed, t0);
        b.record(Outcome::NotAttempted, t0);
        assert!(
            matches!(b.state(), BreakerState::Open(_)),
            "a refusal does not close it"
        );
        let mut closed = Breaker::new(BreakerConfig::default());
        for _ in 0..10 {
            closed.record(Outcome::NotAttempted, t0);
        }
        assert_eq!(closed.state(), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: ms(10),
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        b.record(Outcome::Failed, t0);
        let t1 = t0 + ms(20);
        assert!(b.allow(t1));
        b.record(Outcome::Failed, t1);
        assert_eq!(b.state(), BreakerState::Open(t1 + ms(10)));
        assert!(!b.allow(t1));
    }

    #[test]
    fn several_probes_when_configured() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: ms(10),
            half_open_probes: 3,
        });
        let t0 = Instant::now();
        b.record(Outcome::Failed, t0);
        let t1 = t0 + ms(10);
        assert_eq!((0..5).filter(|_| b.allow(t1)).count(), 3);
    }

    #[test]
    fn an_abandoned_probe_does_not_keep_it_half_open() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: ms(10),
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        b.record(Outcome::Failed, t0);
        let t1 = t0 + ms(20);
        assert!(b.allow(t1), "probe sent, its outcome never recorded");
        assert!(!b.allow(t1 + ms(5)));
        assert!(b.allow(t1 + ms(15)), "after open_for another probe may go");
        b.record(Outcome::Answered, t1 + ms(16));
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn an_open_for_no_instant_can_hold_does_not_panic() {
        let mut b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::MAX,
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        b.record(Outcome::Failed, t0);
        assert!(!b.allow(t0 + Duration::from_secs(3600)));
    }
}
