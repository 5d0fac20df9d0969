//! An optional circuit breaker: after repeated connection-level failures, fail fast for a while
//! instead of queueing behind a dead deployment.
//!
//! Closed: commands flow; `failure_threshold` failures in a row open it. Open: commands fail with
//! [`Error::CircuitOpen`] until `open_for` has passed. Half-open: up to `half_open_probes` commands
//! are let through; a success closes it, a failure opens it again. Probes whose outcome never
//! comes back (the caller dropped the future) are given up after another `open_for`, so the
//! circuit cannot stay half-open for good.

use crate::error::Error;
use resp_sentinel_core::Value;
use std::sync::Mutex;
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
pub enum BreakerState {
    /// Commands flow.
    Closed,
    /// Commands fail fast until the instant given.
    Open(Instant),
    /// A few probe commands are in flight.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    probes: u32,
    /// While half-open: when probes still unanswered count as abandoned.
    probes_expire: Option<Instant>,
}

/// A thread-safe circuit breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                probes: 0,
                probes_expire: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a command go now?
    pub(crate) fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        let mut s = self.lock();
        match s.state {
            BreakerState::Closed => true,
            BreakerState::Open(until) if now < until => false,
            BreakerState::Open(_) | BreakerState::HalfOpen => {
                let fresh =
                    s.state != BreakerState::HalfOpen || s.probes_expire.is_none_or(|t| now >= t);
                if fresh {
                    s.state = BreakerState::HalfOpen;
                    s.probes = 0;
                    s.probes_expire = Some(after(now, self.config.open_for));
                }
                if s.probes < self.config.half_open_probes {
                    s.probes += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Records a command's outcome; only failures of the connection or deployment count.
    pub(crate) fn record(&self, result: &Result<Value, Error>) {
        self.record_at(result, Instant::now())
    }

    fn record_at(&self, result: &Result<Value, Error>, now: Instant) {
        let failed = matches!(
            result,
            Err(Error::Timeout
                | Error::Io(_)
                | Error::ConnectionLost
                | Error::PrimaryNotFound(_)
                | Error::ReplicaNotFound(_)
                | Error::FailoverInProgress(_))
        );
        let mut s = self.lock();
        if failed {
            s.failures += 1;
            if s.state == BreakerState::HalfOpen || s.failures >= self.config.failure_threshold {
                s.state = BreakerState::Open(after(now, self.config.open_for));
                s.probes = 0;
                s.probes_expire = None;
            }
        } else if !matches!(result, Err(Error::CircuitOpen)) {
            s.failures = 0;
            s.probes = 0;
            s.probes_expire = None;
            s.state = BreakerState::Closed;
        }
    }

    #[cfg(test)]
    fn state(&self) -> BreakerState {
        self.lock().state
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

    #[test]
    fn opens_after_threshold_then_half_opens_and_closes() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            open_for: Duration::from_millis(100),
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        assert!(b.allow_at(t0));
        b.record_at(&Err(Error::Timeout), t0);
        assert_eq!(b.state(), BreakerState::Closed);
        b.record_at(&Err(Error::Timeout), t0);
        assert!(matches!(b.state(), BreakerState::Open(_)));
        assert!(!b.allow_at(t0 + Duration::from_millis(50)));
        let later = t0 + Duration::from_millis(150);
        assert!(b.allow_at(later), "one probe goes through");
        assert!(!b.allow_at(later), "only one probe");
        b.record_at(&Ok(Value::Null), later);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn server_errors_do_not_open_it() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            ..BreakerConfig::default()
        });
        let reply = crate::error::ErrorReply::parse(b"ERR nope");
        b.record_at(&Err(Error::Server(reply)), Instant::now());
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::from_millis(10),
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        b.record_at(&Err(Error::ConnectionLost), t0);
        let t1 = t0 + Duration::from_millis(20);
        assert!(b.allow_at(t1));
        b.record_at(&Err(Error::Timeout), t1);
        assert!(matches!(b.state(), BreakerState::Open(_)));
        assert!(!b.allow_at(t1));
    }

    #[test]
    fn an_abandoned_probe_does_not_keep_it_half_open() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::from_millis(10),
            half_open_probes: 1,
        });
        let t0 = Instant::now();
        b.record_at(&Err(Error::ConnectionLost), t0);
        let t1 = t0 + Duration::from_millis(20);
        assert!(b.allow_at(t1), "probe sent, its outcome never recorded");
        assert!(!b.allow_at(t1 + Duration::from_millis(5)));
        assert!(
            b.allow_at(t1 + Duration::from_millis(15)),
            "after open_for another probe may go"
        );
        b.record_at(&Ok(Value::Null), t1 + Duration::from_millis(16));
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
