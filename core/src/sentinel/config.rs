//! What the caller configures: sentinels, service, credentials, timeouts, backoff, strategies.

use super::interface::{Addr, Role};
use std::fmt;
use std::time::Duration;

/// A password, optionally with an ACL user name. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// ACL user; `None` authenticates as the default user.
    pub username: Option<String>,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// Password-only credentials (the `default` user).
    pub fn password(password: impl Into<String>) -> Credentials {
        Credentials {
            username: None,
            password: password.into(),
        }
    }

    /// ACL user and password.
    pub fn user(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: Some(username.into()),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Wire protocol used on data connections (sentinel connections always speak RESP2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2: `AUTH`, `SELECT`, `CLIENT SETNAME`.
    #[default]
    Resp2,
    /// RESP3 via `HELLO 3`, falling back to RESP2 when the server answers NOPROTO or does not
    /// know `HELLO`.
    Resp3,
}

/// How a backoff delay is randomised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Jitter {
    /// Uniform in `[0, min(cap, base * 2^attempt)]`.
    #[default]
    Full,
    /// Uniform in `[base, min(cap, previous * 3)]`.
    Decorrelated,
}

/// Delay policy between failed attempts; deterministic for a given `seed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// First delay scale.
    pub base: Duration,
    /// Largest delay.
    pub cap: Duration,
    /// Seed of the machine's pseudo-random generator (jitter and random replica choice).
    pub seed: u64,
    /// Jitter flavour.
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_secs(2),
            seed: 0x05e1_71e1,
            jitter: Jitter::Full,
        }
    }
}

/// How a replica is chosen among the usable ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReplicaStrategy {
    /// Uniformly at random (from the seeded generator).
    #[default]
    Random,
    /// In turn.
    RoundRobin,
    /// The lowest `ROLE` round-trip time seen so far; unmeasured replicas are tried first.
    LowestLatency,
}

/// Where a master client sends the commands the server flags read-only
/// ([`crate::command_flags::reads_only`]); everything else always goes to the master.
/// A read submitted with [`super::SubmitOptions::master_only`] goes to the master whatever this
/// says (to read one's own writes). Replicas may lag the master: choose a replica policy only for
/// reads that tolerate that. (A replica client, [`Role::Replica`], reads from replicas only,
/// spread by [`ReplicaStrategy`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReadFrom {
    /// Every command to the master.
    #[default]
    Master,
    /// Reads to the master while it is ready; while there is none (a failover is running,
    /// the fence is up, the master is being found) reads go to the replicas that are up
    /// instead of waiting, even when their link to the (gone) master is down: such reads may
    /// be stale.
    MasterPreferred,
    /// Reads to the usable replicas only (by [`ReplicaStrategy`]); while none is verified
    /// (also right after the client starts) a read fails at once with `Unavailable`.
    Replica,
    /// Reads to the usable replicas (by [`ReplicaStrategy`]), to the master when none is.
    ReplicaPreferred,
    /// Reads to the node, master or replica, with the lowest `ROLE` round trip measured.
    LowestLatency,
    /// Reads to any node, master or replica, at random.
    Any,
}

/// Everything the [`super::Machine`] needs to find and keep the right node.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Sentinels to ask, in order (host names allowed).
    pub sentinels: Vec<Addr>,
    /// The monitored master's name (`sentinel monitor <name> ...`).
    pub service: String,
    /// Which node carries commands.
    pub role: Role,
    /// Database selected on data connections.
    pub db: u32,
    /// Sent with `CLIENT SETNAME` (or `HELLO ... SETNAME`).
    pub client_name: Option<String>,
    /// Credentials for data nodes.
    pub auth: Option<Credentials>,
    /// Credentials for sentinels (separate from data auth).
    pub sentinel_auth: Option<Credentials>,
    /// Data connection protocol.
    pub protocol: Protocol,
    /// Longest wait for a TCP connection.
    pub connect_timeout: Duration,
    /// Longest wait for a sentinel's answer.
    pub sentinel_timeout: Duration,
    /// Longest wait for a data node's reply (and for an unsent command in the queue).
    pub command_timeout: Duration,
    /// An idle data connection is `PING`ed this often, so a paused server is noticed.
    pub health_check_interval: Duration,
    /// Backstop poll of `get-master-addr-by-name` while connected (pub/sub can lose messages).
    pub sentinel_poll_interval: Duration,
    /// How often `SENTINEL sentinels` refreshes the sentinel list.
    pub sentinel_refresh_interval: Duration,
    /// Delays between failed attempts.
    pub backoff: Backoff,
    /// Replica choice when `role` is [`Role::Replica`] (and for reads `read_from` sends to
    /// replicas).
    pub replica_strategy: ReplicaStrategy,
    /// Where a master client sends read-only commands (default: the master).
    ///
    /// ```
    /// use resp_sentinel_core::sentinel::{Addr, Config, ReadFrom, ReplicaStrategy};
    ///
    /// let mut config = Config::new(vec![Addr::new("127.0.0.1", 26379)], "mymaster");
    /// // GET, HGETALL, SCAN... to a replica (the master when none is usable); writes, and
    /// // reads submitted with `SubmitOptions::master_only()`, to the master.
    /// config.read_from = ReadFrom::ReplicaPreferred;
    /// config.replica_strategy = ReplicaStrategy::LowestLatency;
    /// ```
    ///
    /// In a URL: `read_from=replica_preferred` (also `master`, `lowest_latency`, `any`).
    pub read_from: ReadFrom,
    /// Raise the failover fence on failover-progress events (strongly recommended).
    pub fence: bool,
    /// Most commands held while the fence is up; more fail with `QueueFull`.
    pub fence_max_queued: usize,
    /// Longest time the fence holds commands; they then fail with `FenceTimeout`. The fence
    /// itself stays while sentinels report the failover in progress (see `Event::FenceHeld`).
    pub fence_max_hold: Duration,
    /// While fenced, sentinels are polled this often until they name a new master.
    pub fence_poll_interval: Duration,
    /// Most commands queued while no node is ready (outside the fence).
    pub max_queued: usize,
    /// How many times a command is re-sent after `-READONLY`/`-REDIRECT`/`-LOADING`/
    /// `-MASTERDOWN` or, when idempotent, after a lost connection.
    pub max_retries: u32,
    /// Most bytes one reply may span (default 1 GiB, above the server's 512 MiB strings). A
    /// connection whose reply grows past it is closed with a `FrameTooLong` protocol error, so a
    /// misbehaving server cannot grow the client's memory without bound.
    pub max_reply_len: usize,
    /// Most connections for blocking commands (`BLPOP`, `XREAD ... BLOCK`, `WAIT`...), each
    /// carrying one at a time so none stalls other callers (default 8); more wait their turn.
    pub max_blocking_connections: usize,
    /// Where to dial the addresses sentinels announce (theirs, masters', replicas'), for NAT,
    /// Docker and Kubernetes; empty: dial what is announced. Configured sentinels are dialled
    /// as given (unless a rule covers them too).
    ///
    /// ```
    /// use resp_sentinel_core::sentinel::{Addr, AddressMap, AddressRule, Config};
    ///
    /// let mut config = Config::new(vec![Addr::new("127.0.0.1", 26379)], "mymaster");
    /// config.address_map = AddressMap::new([
    ///     // One announced address to another (a port forwarded from a container):
    ///     AddressRule::addr(Addr::new("172.17.0.5", 6379), Addr::new("127.0.0.1", 7001)),
    ///     // Every port of an announced host, ports kept:
    ///     AddressRule::host("10.0.0.9", "127.0.0.1"),
    /// ]);
    /// assert_eq!(
    ///     config.address_map.dial_or_same(&Addr::new("10.0.0.9", 6380)),
    ///     Addr::new("127.0.0.1", 6380)
    /// );
    /// ```
    ///
    /// In a URL: `map=172.17.0.5:6379=>127.0.0.1:7001` (repeatable).
    pub address_map: super::AddressMap,
    /// TLS to masters and replicas; `None` speaks plain TCP.
    ///
    /// ```
    /// use resp_sentinel_core::sentinel::{Addr, ClientIdentity, Config, Pem, TlsConfig};
    ///
    /// let mut config = Config::new(vec![Addr::new("127.0.0.1", 26379)], "mymaster");
    /// // Data nodes: our own CA, a client certificate, one name on every node's certificate.
    /// config.tls = Some(TlsConfig {
    ///     identity: Some(ClientIdentity {
    ///         cert: Pem::File("client.crt".into()),
    ///         key: Pem::File("client.key".into()),
    ///     }),
    ///     server_name: Some("redis.internal".to_string()),
    ///     ..TlsConfig::with_ca_file("ca.pem")
    /// });
    /// // Sentinels: TLS too, trusting the system's roots.
    /// config.sentinel_tls = Some(TlsConfig::default());
    /// ```
    ///
    /// In a URL: a TLS scheme (`rediss+sentinel://`) with `tls_ca_file=`, `tls_cert_file=`,
    /// `tls_key_file=`, `tls_server_name=`, `sentinel_tls=`. Files are read when the client is
    /// built.
    pub tls: Option<super::TlsConfig>,
    /// TLS to sentinels (separate from `tls`: either side may be plain); `None` is plain TCP.
    pub sentinel_tls: Option<super::TlsConfig>,
}

impl Config {
    /// A configuration with defaults for everything but the sentinels and the service name.
    pub fn new(sentinels: Vec<Addr>, service: impl Into<String>) -> Config {
        Config {
            sentinels,
            service: service.into(),
            role: Role::Master,
            db: 0,
            client_name: None,
            auth: None,
            sentinel_auth: None,
            protocol: Protocol::Resp2,
            connect_timeout: Duration::from_secs(2),
            sentinel_timeout: Duration::from_millis(1000),
            command_timeout: Duration::from_secs(5),
            health_check_interval: Duration::from_secs(1),
            sentinel_poll_interval: Duration::from_secs(2),
            sentinel_refresh_interval: Duration::from_secs(30),
            backoff: Backoff::default(),
            replica_strategy: ReplicaStrategy::Random,
            read_from: ReadFrom::Master,
            fence: true,
            fence_max_queued: 65_536,
            fence_max_hold: Duration::from_secs(10),
            fence_poll_interval: Duration::from_millis(50),
            max_queued: 65_536,
            max_retries: 3,
            max_reply_len: crate::Limits::default().max_frame_len,
            max_blocking_connections: 8,
            address_map: super::AddressMap::default(),
            tls: None,
            sentinel_tls: None,
        }
    }
}

impl Config {
    /// Caps every duration at one year so deadline arithmetic on `Instant` cannot overflow.
    pub(crate) fn clamp_durations(&mut self) {
        const MAX: Duration = Duration::from_secs(365 * 24 * 3600);
        for d in [
            &mut self.connect_timeout,
            &mut self.sentinel_timeout,
            &mut self.command_timeout,
            &mut self.health_check_interval,
            &mut self.sentinel_poll_interval,
            &mut self.sentinel_refresh_interval,
            &mut self.fence_max_hold,
            &mut self.fence_poll_interval,
            &mut self.backoff.base,
            &mut self.backoff.cap,
        ] {
            *d = (*d).min(MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_passwords() {
        let mut c = Config::new(vec![Addr::new("s1", 26379)], "mymaster");
        c.auth = Some(Credentials::user("app", "data-secret-1"));
        c.sentinel_auth = Some(Credentials::password("sentinel-secret-2"));
        let d = format!("{c:?} {:?}", c.auth);
        assert!(!d.contains("data-secret-1"), "{d}");
        assert!(!d.contains("sentinel-secret-2"), "{d}");
        assert!(d.contains("app") && d.contains("<redacted>"));
    }

    #[test]
    fn defaults_are_sensible() {
        let c = Config::new(vec![Addr::new("s1", 26379)], "svc");
        assert_eq!(c.role, Role::Master);
        assert_eq!(c.service, "svc");
        assert!(c.fence && c.fence_max_queued > 0);
        assert!(c.fence_poll_interval <= Duration::from_millis(100));
        assert!(c.backoff.base < c.backoff.cap);
    }
}
