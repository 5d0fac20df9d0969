//! Builders for the commands that get typed helpers on the clients.

use resp_sentinel_core::resp::Arg;
use resp_sentinel_core::{cmd, Cmd};
use std::time::Duration;

/// When a key set by `SET` expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// `EX` seconds.
    Seconds(u64),
    /// `PX` milliseconds.
    Millis(u64),
    /// `KEEPTTL`: keep the key's current time to live.
    KeepTtl,
}

impl From<Duration> for Expiry {
    fn from(d: Duration) -> Expiry {
        Expiry::Millis(d.as_millis().min(u64::MAX as u128) as u64)
    }
}

/// Only set the key if it does (`XX`) or does not (`NX`) exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCondition {
    /// `NX`.
    IfAbsent,
    /// `XX`.
    IfPresent,
}

/// Options of `SET`.
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

/// `PEXPIRE key ms` (sub-second precision for any duration).
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

/// Generates the typed helpers on a client; `$($aw)*` is `.await` for async clients.
macro_rules! typed_helpers {
    ($($async_:ident)? ; $($aw:tt)*) => {
        /// `GET key`: `None` when the key does not exist.
        pub $($async_)? fn get<T: $crate::FromValue>(&self, key: impl Arg) -> Result<Option<T>, Error> {
            self.query($crate::commands::get(key))$($aw)*
        }
        /// `SET key value`.
        pub $($async_)? fn set(&self, key: impl Arg, value: impl Arg) -> Result<(), Error> {
            self.query($crate::commands::set(key, value, Default::default()))$($aw)*
        }
        /// `SET` with options; `Ok(false)` when a condition prevented the write.
        pub $($async_)? fn set_with(
            &self,
            key: impl Arg,
            value: impl Arg,
            opts: $crate::commands::SetOptions,
        ) -> Result<bool, Error> {
            self.query($crate::commands::set(key, value, opts))$($aw)*
        }
        /// `DEL key...`: how many keys were removed.
        pub $($async_)? fn del<K: Arg>(&self, keys: &[K]) -> Result<u64, Error> {
            self.query($crate::commands::del(keys))$($aw)*
        }
        /// `INCR key`: the new value.
        pub $($async_)? fn incr(&self, key: impl Arg) -> Result<i64, Error> {
            self.query($crate::commands::incr(key))$($aw)*
        }
        /// `PEXPIRE key ms`: false when the key does not exist.
        pub $($async_)? fn expire(&self, key: impl Arg, ttl: std::time::Duration) -> Result<bool, Error> {
            self.query($crate::commands::expire(key, ttl))$($aw)*
        }
        /// `PUBLISH`: how many subscribers received the message.
        pub $($async_)? fn publish(&self, channel: impl Arg, message: impl Arg) -> Result<u64, Error> {
            self.query($crate::commands::publish(channel, message))$($aw)*
        }
        /// `PING`.
        pub $($async_)? fn ping(&self) -> Result<(), Error> {
            self.query($crate::commands::ping())$($aw)*
        }
    };
}
pub(crate) use typed_helpers;

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
    }

    #[test]
    fn expire_uses_milliseconds() {
        assert_eq!(
            words(&expire("k", Duration::from_millis(1500))),
            ["PEXPIRE", "k", "1500"]
        );
        assert_eq!(words(&del(&["a", "b"])), ["DEL", "a", "b"]);
    }
}
