//! What every end-to-end scenario shares: a synchronous facade over the four client flavors, so
//! one scenario body runs on blocking, tokio, async-std and smol alike, and topology helpers.

#![allow(dead_code)]

use resp_sentinel::core::sentinel::{Addr, Config, Role};
use resp_sentinel::{blocking, Cmd, ConversionError, Error, FromValue, Message};
use resp_sentinel_tests::{Topology, TopologyOptions};
use std::future::Future;
use std::time::{Duration, Instant};

pub mod child;
pub mod writer;

/// Emits one `#[test]` per scenario and runtime: `blocking::name`, `tokio::name`,
/// `async_std::name`, `smol::name`, each calling `name(Rt::...)` of the including file.
#[allow(unused_macros)]
macro_rules! on_every_runtime {
    ($($scenario:ident),* $(,)?) => {
        mod blocking { $( #[test] fn $scenario() { super::$scenario(super::Rt::Blocking) } )* }
        mod tokio { $( #[test] fn $scenario() { super::$scenario(super::Rt::Tokio) } )* }
        mod async_std { $( #[test] fn $scenario() { super::$scenario(super::Rt::AsyncStd) } )* }
        mod smol { $( #[test] fn $scenario() { super::$scenario(super::Rt::Smol) } )* }
    };
}

/// The runtime a scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    Blocking,
    Tokio,
    AsyncStd,
    Smol,
}

enum Inner {
    Blocking(blocking::Client),
    Tokio(
        resp_sentinel::Client,
        std::sync::Arc<tokio::runtime::Runtime>,
    ),
    AsyncStd(resp_sentinel::Client),
    Smol(resp_sentinel::Client),
}

/// A client of any flavor, driven synchronously from the test thread.
pub struct TestClient {
    inner: Inner,
}

impl TestClient {
    /// A client for `role` of the topology's service, made with `config`.
    pub fn new(rt: Rt, config: Config, role: Role) -> TestClient {
        TestClient::family(rt, config, &[role])
            .pop()
            .expect("one client")
    }

    /// Clients for each of `roles`, all made from one `Sentinel` (in order).
    pub fn family(rt: Rt, config: Config, roles: &[Role]) -> Vec<TestClient> {
        let service = config.service.clone();
        let wrap = |inner| TestClient { inner };
        match rt {
            Rt::Blocking => {
                let s = blocking::Sentinel::new(config);
                let make = |role: &Role| match role {
                    Role::Master => s.master_for(&service),
                    Role::Replica => s.replica_for(&service),
                };
                roles
                    .iter()
                    .map(|r| wrap(Inner::Blocking(make(r))))
                    .collect()
            }
            Rt::Tokio => {
                let runtime = std::sync::Arc::new(
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("tokio runtime"),
                );
                let s = resp_sentinel::tokio::Sentinel::new(config);
                let _guard = runtime.enter();
                let make = |role: &Role| match role {
                    Role::Master => s.master_for(&service),
                    Role::Replica => s.replica_for(&service),
                };
                roles
                    .iter()
                    .map(|r| wrap(Inner::Tokio(make(r), runtime.clone())))
                    .collect()
            }
            Rt::AsyncStd => {
                let s = resp_sentinel::async_std::Sentinel::new(config);
                let make = |role: &Role| match role {
                    Role::Master => s.master_for(&service),
                    Role::Replica => s.replica_for(&service),
                };
                roles
                    .iter()
                    .map(|r| wrap(Inner::AsyncStd(make(r))))
                    .collect()
            }
            Rt::Smol => {
                let s = resp_sentinel::smol::Sentinel::new(config);
                let make = |role: &Role| match role {
                    Role::Master => s.master_for(&service),
                    Role::Replica => s.replica_for(&service),
                };
                roles.iter().map(|r| wrap(Inner::Smol(make(r)))).collect()
            }
        }
    }

    /// Runs `fut` to completion on this client's runtime.
    fn run<F: Future>(&self, fut: F) -> F::Output {
        match &self.inner {
            Inner::Tokio(_, rt) => rt.block_on(fut),
            Inner::AsyncStd(_) => async_std::task::block_on(fut),
            Inner::Smol(_) | Inner::Blocking(_) => smol::block_on(fut),
        }
    }

    /// Sends a command and converts the reply.
    pub fn query<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.query(cmd),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => self.run(c.query(cmd)),
        }
    }

    /// Sends a typed command.
    pub fn typed<R: FromValue>(
        &self,
        cmd: resp_sentinel::core::typed::Typed<R>,
    ) -> Result<R, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.run(cmd),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => self.run(c.run(cmd)),
        }
    }

    /// Runs a script (EVALSHA, EVAL on NOSCRIPT).
    pub fn eval<R: FromValue>(
        &self,
        script: &resp_sentinel::core::typed::Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<R, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.eval(script, keys, args),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                self.run(c.eval(script, keys, args))
            }
        }
    }

    /// Every item of a SCAN-family iteration.
    pub fn scan_all(
        &self,
        over: resp_sentinel::core::typed::ScanOver,
        pattern: Option<&[u8]>,
    ) -> Result<Vec<bytes::Bytes>, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.scan(over, pattern).collect(),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => self.run(async {
                let mut s = c.scan(over, pattern);
                let mut out = Vec::new();
                while let Some(item) = s.next().await {
                    out.push(item?);
                }
                Ok(out)
            }),
        }
    }

    /// Sends the commands as one pipeline, converting the replies.
    pub fn pipeline_as<T: FromValue>(&self, cmds: Vec<Cmd>) -> Result<T, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.pipeline_as(cmds),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                self.run(c.pipeline_as(cmds))
            }
        }
    }

    /// Sends the commands as one pipeline.
    pub fn pipeline(&self, cmds: Vec<Cmd>) -> Result<Vec<resp_sentinel::Value>, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.pipeline(cmds),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => self.run(c.pipeline(cmds)),
        }
    }

    /// Runs the commands as a transaction and converts `EXEC`'s reply.
    pub fn transaction<T: FromValue>(&self, cmds: Vec<Cmd>) -> Result<T, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.transaction(cmds),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                self.run(c.transaction(cmds))
            }
        }
    }

    /// Sends a command with its own options.
    pub fn query_with<T: FromValue>(
        &self,
        cmd: Cmd,
        opts: resp_sentinel::SubmitOptions,
    ) -> Result<T, Error> {
        match &self.inner {
            Inner::Blocking(c) => c.query_with(cmd, opts),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                self.run(c.query_with(cmd, opts))
            }
        }
    }

    /// The first lifecycle event a new `events()` subscriber gets within `timeout`.
    pub fn first_event(&self, timeout: Duration) -> Option<resp_sentinel::core::sentinel::Event> {
        match &self.inner {
            Inner::Blocking(c) => c.events().next_timeout(timeout),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                let mut events = c.events();
                let deadline = Instant::now() + timeout;
                loop {
                    if let Some(e) = events.try_next() {
                        return Some(e);
                    }
                    if Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// A dedicated connection.
    pub fn dedicated(&self) -> Result<TestDedicated<'_>, Error> {
        let inner = match &self.inner {
            Inner::Blocking(c) => DedicatedInner::Blocking(c.dedicated()?),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                DedicatedInner::Async(self.run(c.dedicated())?)
            }
        };
        Ok(TestDedicated {
            client: self,
            inner,
        })
    }

    /// `INCR key`.
    pub fn incr(&self, key: &str) -> Result<i64, Error> {
        self.query(resp_sentinel::cmd("INCR").arg(key))
    }

    /// `INCR key` `n` times, one after another, within one run of the runtime (so that only
    /// the client's own work is in the loop).
    pub fn incr_times(&self, key: &str, n: usize) -> Result<(), Error> {
        match &self.inner {
            Inner::Blocking(c) => (0..n).try_for_each(|_| c.incr(key).map(drop)),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => self.run(async {
                for _ in 0..n {
                    c.incr(key).await?;
                }
                Ok(())
            }),
        }
    }

    /// Sends `cmds` as a pipeline `n` times, within one run of the runtime.
    pub fn pipeline_times(&self, cmds: &[Cmd], n: usize) -> Result<(), Error> {
        match &self.inner {
            Inner::Blocking(c) => (0..n).try_for_each(|_| c.pipeline(cmds.to_vec()).map(drop)),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => self.run(async {
                for _ in 0..n {
                    c.pipeline(cmds.to_vec()).await?;
                }
                Ok(())
            }),
        }
    }

    /// The first word of `ROLE` (`master` or `slave`) on the node the client uses.
    pub fn role(&self) -> Result<String, Error> {
        let v: Vec<resp_sentinel::Value> = self.query(resp_sentinel::cmd("ROLE"))?;
        let first =
            v.into_iter()
                .next()
                .ok_or(Error::Conversion(ConversionError::UnexpectedType {
                    expected: "a ROLE reply",
                    got: "an empty array",
                }))?;
        Ok(String::from_value(first)?)
    }

    /// The verified master in use.
    pub fn master_addr(&self) -> Option<Addr> {
        match &self.inner {
            Inner::Blocking(c) => c.master_addr(),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => self.run(c.master_addr()),
        }
    }

    /// Subscribes to the sharded `channel`.
    pub fn ssubscribe(&self, channel: &str) -> TestSub {
        match &self.inner {
            Inner::Blocking(c) => TestSub::Blocking(c.ssubscribe(&[channel]).expect("ssubscribe")),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                TestSub::Async(self.run(c.ssubscribe(&[channel])).expect("ssubscribe"))
            }
        }
    }

    /// Subscribes to `channel`.
    pub fn subscribe(&self, channel: &str) -> TestSub {
        match &self.inner {
            Inner::Blocking(c) => TestSub::Blocking(c.subscribe(&[channel]).expect("subscribe")),
            Inner::Tokio(c, _) | Inner::AsyncStd(c) | Inner::Smol(c) => {
                TestSub::Async(self.run(c.subscribe(&[channel])).expect("subscribe"))
            }
        }
    }
}

enum DedicatedInner {
    Blocking(blocking::Dedicated),
    Async(resp_sentinel::Dedicated),
}

/// A dedicated connection of any flavor, driven on its client's runtime.
pub struct TestDedicated<'a> {
    client: &'a TestClient,
    inner: DedicatedInner,
}

impl TestDedicated<'_> {
    /// Sends a command on the dedicated connection.
    pub fn query<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
        match &self.inner {
            DedicatedInner::Blocking(d) => d.query(cmd),
            DedicatedInner::Async(d) => self.client.run(d.query(cmd)),
        }
    }

    /// A transaction on the dedicated connection.
    pub fn transaction<T: FromValue>(&self, cmds: Vec<Cmd>) -> Result<T, Error> {
        match &self.inner {
            DedicatedInner::Blocking(d) => d.transaction(cmds),
            DedicatedInner::Async(d) => self.client.run(d.transaction(cmds)),
        }
    }
}

/// A subscription of any flavor.
pub enum TestSub {
    Blocking(blocking::Subscription),
    Async(resp_sentinel::Subscription),
}

impl TestSub {
    /// The next message within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Message> {
        match self {
            TestSub::Blocking(s) => s.next_timeout(timeout),
            TestSub::Async(s) => {
                let deadline = Instant::now() + timeout;
                loop {
                    if let Some(m) = s.try_next() {
                        return Some(m);
                    }
                    if Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

/// Starts a topology or fails the test with the harness's message (a missing Redis fails).
pub fn topology(opts: TopologyOptions) -> Topology {
    match Topology::start(opts) {
        Ok(t) => t,
        Err(e) => panic!("cannot start the Redis topology: {e}"),
    }
}

/// Client options matching the topology's credentials, with test-friendly timeouts.
pub fn config_for(topo: &Topology) -> Config {
    let mut c = Config::new(topo.sentinel_addrs(), topo.service_name());
    let o = topo.options();
    c.auth = o.data_auth.clone();
    c.sentinel_auth = o.sentinel_auth.clone();
    c.command_timeout = Duration::from_secs(3);
    c.health_check_interval = Duration::from_millis(500);
    c.sentinel_poll_interval = Duration::from_millis(500);
    c.fence_max_hold = Duration::from_secs(20);
    c
}

/// Retries `f` until it succeeds or `timeout` passes; returns the last error on timeout.
pub fn eventually<T, E: std::fmt::Debug>(
    timeout: Duration,
    mut f: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => panic!("gave up after {timeout:?}: {e:?}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// The audit behind "no acknowledged write lost, none taken by a demoted master": every value
/// an INCR acknowledged is distinct (a write accepted by the old master after the new one took
/// over repeats a value) and no larger than the counter the current master holds.
pub fn audit_counter(acked: &[i64], final_value: i64) {
    let mut sorted = acked.to_vec();
    sorted.sort_unstable();
    let before = sorted.len();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        before,
        "{} acknowledged values repeat: writes went to a demoted master",
        before - sorted.len()
    );
    if let Some(max) = sorted.last() {
        assert!(
            *max <= final_value,
            "acknowledged value {max} is missing: the master holds {final_value}"
        );
    }
    assert!(
        acked.len() as i64 <= final_value,
        "{} writes acknowledged but the counter is {final_value}",
        acked.len()
    );
}

/// `discover_master` and `discover_replicas` of the given flavor, run to completion.
pub fn discover(rt: Rt, config: Config) -> (Result<Addr, Error>, Result<Vec<Addr>, Error>) {
    let service = config.service.clone();
    match rt {
        Rt::Blocking => {
            let s = blocking::Sentinel::new(config);
            (s.discover_master(&service), s.discover_replicas(&service))
        }
        Rt::Tokio => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            let s = resp_sentinel::tokio::Sentinel::new(config);
            runtime.block_on(async {
                (
                    s.discover_master(&service).await,
                    s.discover_replicas(&service).await,
                )
            })
        }
        Rt::AsyncStd => {
            let s = resp_sentinel::async_std::Sentinel::new(config);
            async_std::task::block_on(async {
                (
                    s.discover_master(&service).await,
                    s.discover_replicas(&service).await,
                )
            })
        }
        Rt::Smol => {
            let s = resp_sentinel::smol::Sentinel::new(config);
            smol::block_on(async {
                (
                    s.discover_master(&service).await,
                    s.discover_replicas(&service).await,
                )
            })
        }
    }
}
