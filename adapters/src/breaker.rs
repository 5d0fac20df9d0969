//! The clients' circuit breaker: the core's [`Breaker`] behind a lock, read with the real clock,
//! and the rule that says which errors count against it.

use crate::error::Error;
use resp_sentinel_core::breaker::{Breaker, BreakerConfig, Outcome};
use resp_sentinel_core::Value;
use std::sync::Mutex;
use std::time::Instant;

/// A breaker shared by every clone of one client.
#[derive(Debug)]
pub(crate) struct SharedBreaker(Mutex<Breaker>);

impl SharedBreaker {
    pub(crate) fn new(config: BreakerConfig) -> SharedBreaker {
        SharedBreaker(Mutex::new(Breaker::new(config)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a command go now?
    pub(crate) fn allow(&self) -> bool {
        self.lock().allow(Instant::now())
    }

    /// Records a command's outcome.
    pub(crate) fn record(&self, result: &Result<Value, Error>) {
        self.lock().record(outcome(result), Instant::now())
    }
}

/// Only failures of the connection or the deployment count; a reply of any kind (error replies
/// included) means the deployment is up; a command the breaker refused changes nothing.
pub(crate) fn outcome(result: &Result<Value, Error>) -> Outcome {
    match result {
        Err(
            Error::Timeout
            | Error::Io { .. }
            | Error::ConnectionLost
            | Error::MasterNotFound(_)
            | Error::ReplicaNotFound(_)
            | Error::FailoverInProgress
            | Error::QueueFull,
        ) => Outcome::Failed,
        Err(Error::CircuitOpen) => Outcome::NotAttempted,
        _ => Outcome::Answered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp_sentinel_core::sentinel::DiscoveryError;
    use resp_sentinel_core::ErrorReply;

    #[test]
    fn only_connection_and_deployment_failures_count() {
        let nobody = DiscoveryError::NoSentinelReachable { tried: Vec::new() };
        for e in [
            Error::Timeout,
            Error::ConnectionLost,
            Error::MasterNotFound(nobody.clone()),
            Error::ReplicaNotFound(nobody),
            Error::FailoverInProgress,
            Error::QueueFull,
            Error::Io {
                kind: std::io::ErrorKind::ConnectionAborted,
                addr: None,
            },
        ] {
            assert_eq!(outcome(&Err(e.clone())), Outcome::Failed, "{e:?}");
        }
        let reply = ErrorReply::parse(b"ERR nope");
        assert_eq!(outcome(&Err(Error::Server(reply))), Outcome::Answered);
        assert_eq!(outcome(&Ok(Value::Null)), Outcome::Answered);
        assert_eq!(outcome(&Err(Error::CircuitOpen)), Outcome::NotAttempted);
    }

    #[test]
    fn server_errors_do_not_open_it() {
        let b = SharedBreaker::new(BreakerConfig {
            failure_threshold: 1,
            ..BreakerConfig::default()
        });
        b.record(&Err(Error::Server(ErrorReply::parse(b"ERR nope"))));
        assert!(b.allow());
        b.record(&Err(Error::Timeout));
        assert!(!b.allow(), "one failure opens a threshold-1 breaker");
    }
}
