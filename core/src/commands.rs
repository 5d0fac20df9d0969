//! Builders for the commands the clients have typed helpers for; each returns a [`Cmd`].
//!
//! The clients' `get`, `set`, `set_with`, `del`, `incr`, `expire`, `publish` and `ping` send
//! exactly what these build, so a driver of the bare [`crate::sentinel::Machine`] can submit the
//! same commands.

use crate::resp::{cmd, Arg, Cmd};
use std::time::Duration;

/// When a key set by `SET` expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// `EX` seconds.
    Seconds(u64),
    /// `PX` milliseconds.
    Millis(u64),
    /// `KEEPTTL`: keep the key's current time to live.
    KeepTtl,
}

impl From<Duration> for Expiry {
    /// Milliseconds, saturating at `u64::MAX`.
    fn from(d: Duration) -> Expiry {
        Expiry::Millis(d.as_millis().min(u64::MAX as u128) as u64)
    }
}

/// Only set the key if it does (`XX`) or does not (`NX`) exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetCondition {
    /// `NX`.
    IfAbsent,
    /// `XX`.
    IfPresent,
}

/// Options of `SET`; the default is a plain `SET key value`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    /// Expiry of the key.
    pub expiry: Option<Expiry>,
    /// Existence condition.
    pub condition: Option<SetCondition>,
    /// `GET`: return the previous value.
    pub get: bool,
}

/// `GET key`.
pub fn get(key: impl Arg) -> Cmd {
    cmd("GET").arg(key)
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL]`.
pub fn set(key: impl Arg, value: impl Arg, opts: SetOptions) -> Cmd {
    let mut c = cmd("SET").arg(key).arg(value);
    match opts.condition {
        Some(SetCondition::IfAbsent) => c.push("NX"),
        Some(SetCondition::IfPresent) => c.push("XX"),
        None => {}
    }
    if opts.get {
        c.push("GET");
    }
    match opts.expiry {
        Some(Expiry::Seconds(s)) => c = c.arg("EX").arg(s),
        Some(Expiry::Millis(ms)) => c = c.arg("PX").arg(ms),
        Some(Expiry::KeepTtl) => c.push("KEEPTTL"),
        None => {}
    }
    c
}

/// `DEL key...`.
pub fn del<K: Arg>(keys: &[K]) -> Cmd {
    let mut c = cmd("DEL");
    for k in keys {
        c.push(k);
    }
    c
}

/// `INCR key`.
pub fn incr(key: impl Arg) -> Cmd {
    cmd("INCR").arg(key)
}

/// `PEXPIRE key ms` (sub-second precision for any duration; saturates at `i64::MAX` ms).
pub fn expire(key: impl Arg, ttl: Duration) -> Cmd {
    cmd("PEXPIRE")
        .arg(key)
        .arg(ttl.as_millis().min(i64::MAX as u128) as i64)
}

/// `PUBLISH channel message`.
pub fn publish(channel: impl Arg, message: impl Arg) -> Cmd {
    cmd("PUBLISH").arg(channel).arg(message)
}

/// `PING`.
pub fn ping() -> Cmd {
    cmd("PING")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(c: &Cmd) -> Vec<String> {
        c.words()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    #[test]
    fn set_with_all_options() {
        let c = set(
            "k",
            "v",
            SetOptions {
                expiry: Some(Expiry::Seconds(10)),
                condition: Some(SetCondition::IfAbsent),
                get: true,
            },
        );
        assert_eq!(words(&c), ["SET", "k", "v", "NX", "GET", "EX", "10"]);
        let c = set(
            "k",
            1,
            SetOptions {
                expiry: Some(Expiry::KeepTtl),
                ..Default::default()
            },
        );
        assert_eq!(words(&c), ["SET", "k", "1", "KEEPTTL"]);
        let c = set(
            "k",
            "v",
            SetOptions {
                expiry: Some(Duration::from_secs(2).into()),
                condition: Some(SetCondition::IfPresent),
                get: false,
            },
        );
        assert_eq!(words(&c), ["SET", "k", "v", "XX", "PX", "2000"]);
        assert_eq!(
            words(&set("k", "v", SetOptions::default())),
            ["SET", "k", "v"]
        );
    }

    #[test]
    fn expire_uses_milliseconds() {
        assert_eq!(
            words(&expire("k", Duration::from_millis(1500))),
            ["PEXPIRE", "k", "1500"]
        );
        assert_eq!(
            words(&expire("k", Duration::MAX)),
            ["PEXPIRE", "k", &i64::MAX.to_string()]
        );
        assert_eq!(words(&del(&["a", "b"])), ["DEL", "a", "b"]);
    }

    #[test]
    fn the_simple_ones() {
        assert_eq!(words(&get("k")), ["GET", "k"]);
        assert_eq!(words(&incr("k")), ["INCR", "k"]);
        assert_eq!(words(&publish("c", "m")), ["PUBLISH", "c", "m"]);
        assert_eq!(words(&ping()), ["PING"]);
    }
}
