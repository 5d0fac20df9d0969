//! The entry point: a set of sentinels and options, from which clients for a service's master or
//! replicas are made.

use crate::breaker::SharedBreaker;
use crate::driver::{Driven, NetOptions, Outcome};
use crate::error::Error;
use crate::handle::{Handle, Shared};
use crate::hub::{Hub, HubRef};
use crate::runtime::Runtime;
use resp_sentinel_core::sentinel::{
    Addr, Config, Discovered, Discovery, DiscoveryError, Machine, Role,
};
use resp_sentinel_core::BreakerConfig;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Instant;

/// Sentinel addresses and client options; makes clients for services' masters and replicas.
///
/// `R` is the [`Runtime`]: [`crate::blocking::Blocking`], or `Tokio`, `AsyncStd`, `Smol` behind
/// their features. Use the aliases `resp_sentinel::blocking::Sentinel`,
/// `resp_sentinel::tokio::Sentinel` and so on.
///
/// Make one per set of sentinels and keep it (or only the clients made from it). Every client
/// and discovery made from one `Sentinel` (and its clones) shares one set of sentinel
/// connections: a notice subscription per known sentinel, and a query connection to the
/// sentinel being asked (see `resp_sentinel_core::sentinel::SentinelMux`). Clients for the same
/// service and role also share one driver and its data connections: asking for
/// `master_for("mymaster")` again returns a clone of the live client. Shared means shared:
/// such clients have one circuit breaker, one replica choice, and `unsubscribe` on one ends
/// the other's subscriptions to those channels too. On tokio the drivers (and the one holding
/// the sentinel connections) run on the runtime of the first call: make clients for another
/// runtime from another `Sentinel`.
///
/// ```no_run
/// # #[cfg(feature = "tokio")]
/// # async fn example() -> Result<(), resp_sentinel::Error> {
/// // Same code on every runtime, only the module differs (`blocking` has no `.await`).
/// let sentinel = resp_sentinel::tokio::Sentinel::from_url("redis+sentinel://127.0.0.1:26379/mymaster")?;
/// let writer = sentinel.master_for("mymaster");
/// let reader = sentinel.replica_for("mymaster");
/// writer.set("greeting", "hello").await?;
/// let seen: Option<String> = reader.get("greeting").await?; // `None` while the replica lags
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Sentinel<R> {
    config: Config,
    /// The TLS clients built from `config` (or why they could not be).
    tls: Result<std::sync::Arc<crate::tls::Tls>, Error>,
    breaker: Option<BreakerConfig>,
    /// Seed every client with this instead of one drawn from the OS (for reproducible runs).
    seed: Option<u64>,
    /// The live clients made from this (and its clones), to hand out again.
    made: Made,
    /// The sentinel connections every driver made from this (and its clones) shares, started
    /// with the first.
    hub: Arc<OnceLock<HubRef>>,
    _rt: PhantomData<fn() -> R>,
}

/// The handles of the clients a [`Sentinel`] made, by service and role; dead entries are
/// dropped when a new client is made.
#[derive(Clone, Default)]
struct Made(Arc<Mutex<Vec<MadeClient>>>);

/// One client a [`Sentinel`] made: its service, role and handle.
type MadeClient = (String, Role, Weak<Handle>);

impl std::fmt::Debug for Made {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Made(..)")
    }
}

impl Made {
    /// The live, open client of `service` in `role`, or the one `make` builds (then kept).
    fn get_or_make(&self, service: &str, role: Role, make: impl FnOnce() -> Shared) -> Shared {
        // Handles upgraded while looking are dropped after the lock is let go: dropping the
        // last one ends its driver, which must not run under this lock.
        let mut looked_at = Vec::new();
        let mut made = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        made.retain(|(_, _, w)| match w.upgrade() {
            Some(h) => {
                let open = !h.is_closed();
                looked_at.push(h);
                open
            }
            None => false,
        });
        let live = made
            .iter()
            .find(|(s, r, _)| s == service && *r == role)
            .and_then(|(_, _, w)| w.upgrade());
        let h = match live {
            Some(h) => h,
            None => {
                let h = make();
                made.push((service.to_string(), role, Arc::downgrade(&h)));
                h
            }
        };
        drop(made);
        drop(looked_at);
        h
    }
}

impl<R: Runtime> Sentinel<R> {
    /// Clients made from this take every option from `config` (sentinels, credentials,
    /// timeouts, TLS...), with the service name and role of each call.
    ///
    /// TLS settings (`config.tls`, `config.sentinel_tls`) are loaded here, once. When they
    /// cannot be (an unreadable CA file, a key that does not match its certificate, a build
    /// without the `tls` feature), the error is logged and every connection of that side
    /// fails with a TLS setup failure: use [`Sentinel::try_new`] to get the error instead.
    ///
    /// ```
    /// use resp_sentinel::blocking::Sentinel;
    /// use resp_sentinel::core::sentinel::{Addr, Config, Credentials};
    /// use std::time::Duration;
    ///
    /// let mut config = Config::new(
    ///     vec![Addr::new("10.0.0.1", 26379), Addr::new("10.0.0.2", 26379)],
    ///     "mymaster",
    /// );
    /// config.auth = Some(Credentials::password("data-node-password"));
    /// config.command_timeout = Duration::from_secs(2);
    /// let sentinel = Sentinel::new(config); // connects nothing yet
    /// assert_eq!(sentinel.service(), "mymaster");
    /// ```
    pub fn new(config: Config) -> Self {
        let tls = crate::tls::Tls::build(&config);
        if let Err(e) = &tls {
            tracing::error!(error = %e, "TLS settings unusable; connections will fail");
        }
        Sentinel {
            seed: None,
            config,
            tls,
            breaker: None,
            made: Made::default(),
            hub: Arc::default(),
            _rt: PhantomData,
        }
    }

    /// Like [`Sentinel::new`], but TLS settings that cannot be used are an error
    /// ([`Error::TlsSetup`] naming the side and the file, or [`Error::TlsUnavailable`]).
    ///
    /// ```
    /// use resp_sentinel::blocking::Sentinel;
    /// use resp_sentinel::core::sentinel::{Addr, Config, TlsConfig};
    /// use resp_sentinel::Error;
    ///
    /// let mut config = Config::new(vec![Addr::new("127.0.0.1", 26379)], "mymaster");
    /// config.tls = Some(TlsConfig::with_ca_file("/no/such/ca.pem"));
    /// let err = Sentinel::try_new(config).unwrap_err();
    /// assert!(matches!(err, Error::TlsSetup { .. } | Error::TlsUnavailable), "{err}");
    /// ```
    pub fn try_new(config: Config) -> Result<Self, Error> {
        let s = Sentinel::new(config);
        match &s.tls {
            Ok(_) => Ok(s),
            Err(e) => Err(e.clone()),
        }
    }

    /// Options from a URL of any form [`resp_sentinel_core::url::parse`] accepts, e.g.
    /// `redis+sentinel://:pass@h1:26379,h2:26379/mymaster/0?sentinel_password=..`; TLS
    /// settings are checked as [`Sentinel::try_new`] does.
    ///
    /// ```
    /// use resp_sentinel::blocking::Sentinel;
    ///
    /// let sentinel = Sentinel::from_url(
    ///     "redis+sentinel://:secret@127.0.0.1:26379,127.0.0.1:26380/mymaster/2?timeout=500ms",
    /// )?;
    /// assert_eq!(sentinel.service(), "mymaster");
    /// assert_eq!(sentinel.config().db, 2);
    /// // A mistake names the part at fault (never a password).
    /// let err = Sentinel::from_url("redis+sentinel://127.0.0.1:99999/mymaster").unwrap_err();
    /// assert!(err.to_string().contains("99999"));
    /// # Ok::<(), resp_sentinel::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let config = resp_sentinel_core::url::parse(url).and_then(|t| t.to_config())?;
        Sentinel::try_new(config)
    }

    /// How drivers of clients made from this open connections: sentinel connections through
    /// the shared hub (started here the first time, on the caller's runtime).
    fn net(&self) -> NetOptions {
        let hub = self.hub.get_or_init(|| {
            let limits = resp_sentinel_core::Limits {
                max_frame_len: self.config.max_reply_len,
                ..Default::default()
            };
            let own = NetOptions {
                hub: None,
                ..self.dial()
            };
            HubRef::new(R::spawn_driver(Driven::Hub(Hub::new(limits)), own))
        });
        NetOptions {
            hub: Some(hub.clone()),
            ..self.dial()
        }
    }

    /// Connections dialled directly.
    fn dial(&self) -> NetOptions {
        NetOptions {
            connect_timeout: self.config.connect_timeout,
            tls: self
                .tls
                .clone()
                .unwrap_or_else(|_| crate::tls::Tls::unusable(&self.config)),
            hub: None,
        }
    }

    /// The service named by the URL or configuration this was made from.
    pub fn service(&self) -> &str {
        &self.config.service
    }

    /// Adds a circuit breaker to every client made from now on.
    pub fn with_circuit_breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = Some(breaker);
        // Clients made before have no breaker: they are not handed out again.
        self.made = Made::default();
        self
    }

    /// The options clients are made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A client for the master of `service`: it discovers, verifies and follows it through
    /// failovers. Connects in the background; the first command waits for it.
    ///
    /// ```no_run
    /// use resp_sentinel::blocking::Sentinel;
    ///
    /// let sentinel = Sentinel::from_url("redis+sentinel://127.0.0.1:26379/mymaster")?;
    /// let client = sentinel.master_for("mymaster");
    /// let worker = client.clone(); // shares the connections: clone it into threads or tasks
    /// std::thread::spawn(move || worker.incr("jobs_started"));
    /// client.set("status", "up")?;
    /// # Ok::<(), resp_sentinel::Error>(())
    /// ```
    pub fn master_for(&self, service: &str) -> R::Client {
        self.client(service, Role::Master)
    }

    /// A client for a replica of `service`, chosen by the configured strategy, falling back to
    /// the master when no replica is usable. It refuses writes ([`Error::Rejected`]) before
    /// sending them: write through [`Sentinel::master_for`]. (A master client can also send
    /// its reads to replicas: [`Config::read_from`].)
    ///
    /// ```no_run
    /// use resp_sentinel::blocking::Sentinel;
    /// use resp_sentinel::Error;
    ///
    /// let sentinel = Sentinel::from_url("redis+sentinel://127.0.0.1:26379/mymaster")?;
    /// let reader = sentinel.replica_for("mymaster");
    /// let hits: Option<i64> = reader.get("hits")?; // may lag the master a little
    /// assert!(matches!(reader.incr("hits"), Err(Error::Rejected(_))));
    /// # Ok::<(), resp_sentinel::Error>(())
    /// ```
    pub fn replica_for(&self, service: &str) -> R::Client {
        self.client(service, Role::Replica)
    }

    /// Seeds every client made from now on with `seed` instead of a random one drawn for
    /// each client: backoff jitter and replica choice become reproducible (tests, drills).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self.made = Made::default();
        self
    }

    fn config_for(&self, service: &str, role: Role) -> Config {
        let mut config = self.config.clone();
        config.service = service.to_string();
        config.role = role;
        // Clients of one process (and of a fleet) must not all pick the same replica and
        // back off in step: each gets its own seed unless one was asked for.
        config.backoff.seed = self.seed.unwrap_or_else(random_seed);
        config
    }

    /// A one-shot discovery of `service`'s master or replicas, and where its outcome arrives.
    fn discovery(&self, service: &str, role: Role) -> (Driven, flume::Receiver<DiscoveryOutcome>) {
        let config = self.config_for(service, role);
        let (tx, rx): (Outcome, _) = flume::bounded(1);
        let d = match role {
            Role::Master => Discovery::master(config, Instant::now()),
            Role::Replica => Discovery::replicas(config, Instant::now()),
        };
        (Driven::Discovery(d, tx), rx)
    }

    fn client(&self, service: &str, role: Role) -> R::Client {
        let handle = self.made.get_or_make(service, role, || {
            let config = self.config_for(service, role);
            let machine = Machine::new(config.clone(), Instant::now());
            let to = R::spawn_driver(Driven::Client(machine), self.net());
            let breaker = self.breaker.map(SharedBreaker::new);
            Handle::for_db(to, breaker, config.db)
        });
        R::client(handle)
    }
}

type DiscoveryOutcome = Result<Discovered, DiscoveryError>;

/// A seed no other client of this process (or, very likely, of another one) shares: std's
/// per-process random hasher keys, a counter and the clock.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    h.write_u64(t);
    h.finish()
}

/// The master address out of a discovery outcome.
fn master_of(got: Result<DiscoveryOutcome, flume::RecvError>) -> Result<Addr, Error> {
    match got.map_err(|_| Error::Closed)? {
        Ok(Discovered::Master(a)) => Ok(a),
        // A master discovery only ever finds a master; this cannot happen.
        Ok(Discovered::Replicas(_)) => Err(Error::MasterNotFound(DiscoveryError::InvalidReplies {
            tried: Vec::new(),
        })),
        Err(e) => Err(Error::MasterNotFound(e)),
    }
}

/// The replica addresses out of a discovery outcome.
fn replicas_of(got: Result<DiscoveryOutcome, flume::RecvError>) -> Result<Vec<Addr>, Error> {
    match got.map_err(|_| Error::Closed)? {
        Ok(Discovered::Replicas(r)) => Ok(r),
        // A replica discovery only ever finds replicas; this cannot happen.
        Ok(Discovered::Master(_)) => Err(Error::ReplicaNotFound(DiscoveryError::InvalidReplies {
            tried: Vec::new(),
        })),
        Err(e) => Err(Error::ReplicaNotFound(e)),
    }
}

impl Sentinel<crate::blocking::Blocking> {
    /// Asks the sentinels (in order, first answer wins) where `service`'s master is, without
    /// connecting to it.
    pub fn discover_master(&self, service: &str) -> Result<Addr, Error> {
        let (driven, rx) = self.discovery(service, Role::Master);
        crate::runtime::threads::spawn_driver(driven, self.net());
        master_of(rx.recv())
    }

    /// The usable replicas of `service` the sentinels know (down or disconnected ones left out).
    pub fn discover_replicas(&self, service: &str) -> Result<Vec<Addr>, Error> {
        let (driven, rx) = self.discovery(service, Role::Replica);
        crate::runtime::threads::spawn_driver(driven, self.net());
        replicas_of(rx.recv())
    }
}

impl<R: Runtime<Client = crate::Client>> Sentinel<R> {
    /// Asks the sentinels (in order, first answer wins) where `service`'s master is, without
    /// connecting to it.
    pub async fn discover_master(&self, service: &str) -> Result<Addr, Error> {
        let (driven, rx) = self.discovery(service, Role::Master);
        R::spawn_driver(driven, self.net());
        master_of(rx.recv_async().await)
    }

    /// The usable replicas of `service` the sentinels know (down or disconnected ones left out).
    pub async fn discover_replicas(&self, service: &str) -> Result<Vec<Addr>, Error> {
        let (driven, rx) = self.discovery(service, Role::Replica);
        R::spawn_driver(driven, self.net());
        replicas_of(rx.recv_async().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocking::Blocking;

    #[test]
    fn from_url_reads_every_option_and_reports_mistakes() {
        let s =
            Sentinel::<Blocking>::from_url("redis+sentinel://:pw@127.0.0.1:26379/svc/2").unwrap();
        assert_eq!(s.service(), "svc");
        assert_eq!(s.config().db, 2);
        let err =
            Sentinel::<Blocking>::from_url("redis+sentinel://127.0.0.1:70000/svc").unwrap_err();
        assert!(matches!(err, Error::Url(_)), "{err:?}");
        assert!(err.to_string().contains("70000"), "{err}");
    }
}
