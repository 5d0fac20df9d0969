//! redis-rs compatibility (cargo feature `redis-rs`) against real servers: one program written
//! for redis-rs (generic over its traits) runs unchanged on our client on every runtime and, as
//! a control, on a redis-rs connection straight to the master; a redis-rs writer keeps every
//! acknowledged write through a forced failover; an atomic redis-rs pipeline is never
//! interleaved with other callers' commands; WATCH is refused with a pointer to the dedicated
//! connection API, where redis-rs's optimistic locking works.

#[macro_use]
mod support;

use redis::{AsyncCommands, Commands, ErrorKind, RedisResult};
use resp_sentinel::core::sentinel::{Config, Protocol};
use resp_sentinel::redis_compat;
use resp_sentinel_tests::{Topology, TopologyOptions};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{audit_counter, config_for, topology, Rt};

fn opts() -> TopologyOptions {
    TopologyOptions::default().down_after(Duration::from_millis(1500))
}

/// Where an async client's futures run.
#[derive(Clone)]
enum Exec {
    Tokio(Arc<::tokio::runtime::Runtime>),
    AsyncStd,
    Smol,
}

impl Exec {
    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        match self {
            Exec::Tokio(rt) => rt.block_on(fut),
            Exec::AsyncStd => ::async_std::task::block_on(fut),
            Exec::Smol => ::smol::block_on(fut),
        }
    }
}

/// Our client of one flavor, as the redis-rs program sees it.
#[derive(Clone)]
enum Ours {
    Blocking(resp_sentinel::blocking::Client),
    Async(resp_sentinel::Client, Exec),
}

fn tokio_runtime() -> Arc<::tokio::runtime::Runtime> {
    Arc::new(
        ::tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    )
}

/// A client for the master of the topology's service, on `rt`.
fn ours(rt: Rt, config: Config) -> Ours {
    let service = config.service.clone();
    match rt {
        Rt::Blocking => {
            Ours::Blocking(resp_sentinel::blocking::Sentinel::new(config).master_for(&service))
        }
        Rt::Tokio => {
            let runtime = tokio_runtime();
            let client = {
                let _guard = runtime.enter();
                resp_sentinel::tokio::Sentinel::new(config).master_for(&service)
            };
            Ours::Async(client, Exec::Tokio(runtime))
        }
        Rt::AsyncStd => Ours::Async(
            resp_sentinel::async_std::Sentinel::new(config).master_for(&service),
            Exec::AsyncStd,
        ),
        Rt::Smol => Ours::Async(
            resp_sentinel::smol::Sentinel::new(config).master_for(&service),
            Exec::Smol,
        ),
    }
}

impl Ours {
    /// `INCR key` through redis-rs's own trait method (not our client's `incr`).
    fn redis_incr(&mut self, key: &str) -> RedisResult<i64> {
        match self {
            Ours::Blocking(c) => Commands::incr(c, key, 1),
            Ours::Async(c, exec) => {
                let exec = exec.clone();
                exec.block_on(AsyncCommands::incr(c, key, 1))
            }
        }
    }

    /// An atomic redis-rs pipeline of two `INCR key`.
    fn redis_double_incr(&mut self, key: &str) -> RedisResult<(i64, i64)> {
        let mut pipe = redis::pipe();
        pipe.atomic().incr(key, 1).incr(key, 1);
        match self {
            Ours::Blocking(c) => pipe.query(c),
            Ours::Async(c, exec) => {
                let exec = exec.clone();
                exec.block_on(pipe.query_async(c))
            }
        }
    }

    /// Runs the redis-rs program on this client.
    fn run_program(&mut self, prefix: &str) {
        match self {
            Ours::Blocking(c) => program_blocking(c, prefix).expect("blocking program"),
            Ours::Async(c, exec) => {
                let exec = exec.clone();
                exec.block_on(program_async(c, prefix))
                    .expect("async program")
            }
        }
    }
}

/// A redis-rs URL for a direct connection to the topology's master.
fn direct_url(topo: &Topology) -> String {
    let master = topo.master_addr().expect("master");
    format!("redis://{}:{}/", master.host, master.port)
}

/// A script the server cannot know yet (its text is unique to the run), so the first
/// `invoke` gets NOSCRIPT from EVALSHA and falls back to loading it.
fn fresh_script(prefix: &str) -> redis::Script {
    redis::Script::new(&format!(
        "-- {prefix}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1]) * 2"
    ))
}

/// The program written for redis-rs, async: generic over any redis-rs async connection.
async fn program_async<C: AsyncCommands>(con: &mut C, p: &str) -> RedisResult<()> {
    // Strings.
    con.set::<_, _, ()>(format!("{p}:s"), "hello").await?;
    let s: String = con.get(format!("{p}:s")).await?;
    assert_eq!(s, "hello");
    let missing: Option<String> = con.get(format!("{p}:nothing")).await?;
    assert_eq!(missing, None);
    assert_eq!(con.incr::<_, _, i64>(format!("{p}:n"), 5).await?, 5);
    assert_eq!(con.incr::<_, _, i64>(format!("{p}:n"), -2).await?, 3);
    let both: Vec<Option<String>> = con.mget(&[format!("{p}:s"), format!("{p}:none")]).await?;
    assert_eq!(both, [Some("hello".to_string()), None]);
    // An error reply keeps its code.
    let err = con
        .lpush::<_, _, ()>(format!("{p}:s"), "x")
        .await
        .expect_err("WRONGTYPE");
    assert_eq!(err.code(), Some("WRONGTYPE"), "{err}");

    // Hashes.
    con.hset_multiple::<_, _, _, ()>(format!("{p}:h"), &[("a", 1), ("b", 2)])
        .await?;
    assert_eq!(con.hget::<_, _, i64>(format!("{p}:h"), "b").await?, 2);
    let all: HashMap<String, i64> = con.hgetall(format!("{p}:h")).await?;
    assert_eq!(all, HashMap::from([("a".into(), 1), ("b".into(), 2)]));

    // Lists.
    con.rpush::<_, _, ()>(format!("{p}:l"), &["x", "y", "z"])
        .await?;
    let items: Vec<String> = con.lrange(format!("{p}:l"), 0, -1).await?;
    assert_eq!(items, ["x", "y", "z"]);
    let first: Option<String> = con.lpop(format!("{p}:l"), None).await?;
    assert_eq!(first.as_deref(), Some("x"));

    // Sorted sets.
    con.zadd::<_, _, _, ()>(format!("{p}:z"), "ada", 3).await?;
    con.zadd::<_, _, _, ()>(format!("{p}:z"), "bob", 1).await?;
    assert_eq!(
        con.zincr::<_, _, _, f64>(format!("{p}:z"), "bob", 5)
            .await?,
        6.0
    );
    let ranked: Vec<(String, f64)> = con.zrange_withscores(format!("{p}:z"), 0, -1).await?;
    assert_eq!(ranked, [("ada".to_string(), 3.0), ("bob".to_string(), 6.0)]);

    // Expiry.
    assert!(con.expire::<_, bool>(format!("{p}:s"), 100).await?);
    let ttl: i64 = con.ttl(format!("{p}:s")).await?;
    assert!((1..=100).contains(&ttl), "{ttl}");
    assert!(con.persist::<_, bool>(format!("{p}:s")).await?);
    assert_eq!(con.ttl::<_, i64>(format!("{p}:s")).await?, -1);

    // SCAN iteration, over several cursor round trips (COUNT 10 for 60 keys).
    let mut pipe = redis::pipe();
    for i in 0..60 {
        pipe.set(format!("{p}:scan:{i}"), i).ignore();
    }
    pipe.query_async::<()>(con).await?;
    let mut seen = BTreeSet::new();
    {
        let opts = redis::ScanOptions::default()
            .with_pattern(format!("{p}:scan:*"))
            .with_count(10);
        let mut iter: redis::AsyncIter<String> = con.scan_options(opts).await?;
        while let Some(key) = iter.next_item().await {
            seen.insert(key?);
        }
    }
    assert_eq!(seen.len(), 60, "{seen:?}");

    // A script: EVALSHA gets NOSCRIPT, redis-rs loads it and runs it again.
    let script = fresh_script(p);
    let doubled: i64 = script
        .key(format!("{p}:script"))
        .arg(4)
        .invoke_async(con)
        .await?;
    assert_eq!(doubled, 8);
    let again: i64 = script
        .key(format!("{p}:script"))
        .arg(1)
        .invoke_async(con)
        .await?;
    assert_eq!(again, 10);

    // An atomic pipeline, with an ignored reply.
    let (incremented, read): (i64, i64) = redis::pipe()
        .atomic()
        .set(format!("{p}:tx"), 1)
        .ignore()
        .incr(format!("{p}:tx"), 2)
        .get(format!("{p}:tx"))
        .query_async(con)
        .await?;
    assert_eq!((incremented, read), (3, 3));
    Ok(())
}

/// The same program for redis-rs's blocking API: generic over `redis::Commands`.
fn program_blocking<C: Commands>(con: &mut C, p: &str) -> RedisResult<()> {
    con.set::<_, _, ()>(format!("{p}:s"), "hello")?;
    let s: String = con.get(format!("{p}:s"))?;
    assert_eq!(s, "hello");
    let missing: Option<String> = con.get(format!("{p}:nothing"))?;
    assert_eq!(missing, None);
    assert_eq!(con.incr::<_, _, i64>(format!("{p}:n"), 5)?, 5);
    assert_eq!(con.incr::<_, _, i64>(format!("{p}:n"), -2)?, 3);
    let both: Vec<Option<String>> = con.mget(&[format!("{p}:s"), format!("{p}:none")])?;
    assert_eq!(both, [Some("hello".to_string()), None]);
    let err = con
        .lpush::<_, _, ()>(format!("{p}:s"), "x")
        .expect_err("WRONGTYPE");
    assert_eq!(err.code(), Some("WRONGTYPE"), "{err}");

    con.hset_multiple::<_, _, _, ()>(format!("{p}:h"), &[("a", 1), ("b", 2)])?;
    assert_eq!(con.hget::<_, _, i64>(format!("{p}:h"), "b")?, 2);
    let all: HashMap<String, i64> = con.hgetall(format!("{p}:h"))?;
    assert_eq!(all, HashMap::from([("a".into(), 1), ("b".into(), 2)]));

    con.rpush::<_, _, ()>(format!("{p}:l"), &["x", "y", "z"])?;
    let items: Vec<String> = con.lrange(format!("{p}:l"), 0, -1)?;
    assert_eq!(items, ["x", "y", "z"]);
    let first: Option<String> = con.lpop(format!("{p}:l"), None)?;
    assert_eq!(first.as_deref(), Some("x"));

    con.zadd::<_, _, _, ()>(format!("{p}:z"), "ada", 3)?;
    con.zadd::<_, _, _, ()>(format!("{p}:z"), "bob", 1)?;
    assert_eq!(con.zincr::<_, _, _, f64>(format!("{p}:z"), "bob", 5)?, 6.0);
    let ranked: Vec<(String, f64)> = con.zrange_withscores(format!("{p}:z"), 0, -1)?;
    assert_eq!(ranked, [("ada".to_string(), 3.0), ("bob".to_string(), 6.0)]);

    assert!(con.expire::<_, bool>(format!("{p}:s"), 100)?);
    let ttl: i64 = con.ttl(format!("{p}:s"))?;
    assert!((1..=100).contains(&ttl), "{ttl}");
    assert!(con.persist::<_, bool>(format!("{p}:s"))?);
    assert_eq!(con.ttl::<_, i64>(format!("{p}:s"))?, -1);

    let mut pipe = redis::pipe();
    for i in 0..60 {
        pipe.set(format!("{p}:scan:{i}"), i).ignore();
    }
    pipe.query::<()>(con)?;
    let opts = redis::ScanOptions::default()
        .with_pattern(format!("{p}:scan:*"))
        .with_count(10);
    let seen = con
        .scan_options::<String>(opts)?
        .collect::<RedisResult<BTreeSet<String>>>()?;
    assert_eq!(seen.len(), 60, "{seen:?}");

    let script = fresh_script(p);
    let doubled: i64 = script.key(format!("{p}:script")).arg(4).invoke(con)?;
    assert_eq!(doubled, 8);
    let again: i64 = script.key(format!("{p}:script")).arg(1).invoke(con)?;
    assert_eq!(again, 10);

    let (incremented, read): (i64, i64) = redis::pipe()
        .atomic()
        .set(format!("{p}:tx"), 1)
        .ignore()
        .incr(format!("{p}:tx"), 2)
        .get(format!("{p}:tx"))
        .query(con)?;
    assert_eq!((incremented, read), (3, 3));
    Ok(())
}

/// The redis-rs program passes on our client (RESP2 and RESP3) and, unchanged, on redis-rs's
/// own connection to the master (the control: the expectations are redis-rs's, not ours).
fn redis_rs_program(rt: Rt) {
    let topo = topology(opts());
    let mut client = ours(rt, config_for(&topo));
    client.run_program("ours");
    // RESP3 replies (maps, doubles...) convert the way redis-rs expects too.
    let mut resp3 = config_for(&topo);
    resp3.protocol = Protocol::Resp3;
    ours(rt, resp3).run_program("ours3");

    let control = redis::Client::open(direct_url(&topo)).expect("redis-rs client");
    match rt {
        Rt::Blocking => {
            let mut con = control.get_connection().expect("direct connection");
            program_blocking(&mut con, "control").expect("control program");
        }
        _ => {
            tokio_runtime().block_on(async {
                let mut con = control
                    .get_multiplexed_async_connection()
                    .await
                    .expect("direct connection");
                program_async(&mut con, "control")
                    .await
                    .expect("control program");
            });
        }
    }
    // Both runs left the same data behind.
    let mut direct = control.get_connection().expect("direct connection");
    for key in ["n", "tx", "script"] {
        let a: i64 = direct.get(format!("ours:{key}")).unwrap();
        let b: i64 = direct.get(format!("control:{key}")).unwrap();
        let c: i64 = direct.get(format!("ours3:{key}")).unwrap();
        assert_eq!((a, c), (b, b), "{key}");
    }
}

/// A redis-rs writer INCRs through our client while sentinels force a failover: every
/// acknowledged value is distinct and held by the new master, and the fence holds the writes
/// instead of failing them.
fn redis_rs_writer_through_failover(rt: Rt) {
    let topo = topology(opts());
    let mut config = config_for(&topo);
    // Held, not failed, even when a loaded machine makes the switch slow.
    config.fence_max_hold = Duration::from_secs(60);
    let client = ours(rt, config);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (stop, acked, errors) = (stop.clone(), acked.clone(), errors.clone());
        let mut client = client.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match client.redis_incr("drill") {
                    Ok(v) => acked.lock().unwrap().push(v),
                    Err(e) => errors.lock().unwrap().push(format!("{e} ({:?})", e.kind())),
                }
            }
        })
    };
    let wait_for = |n: usize, timeout: Duration| {
        let target = acked.lock().unwrap().len() + n;
        let deadline = Instant::now() + timeout;
        while acked.lock().unwrap().len() < target {
            assert!(
                Instant::now() < deadline,
                "writes did not resume: last errors {:?}",
                errors
                    .lock()
                    .unwrap()
                    .iter()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(200, Duration::from_secs(10));
    let old = topo.failover().unwrap();
    let new = topo
        .wait_for_new_master(&old, Duration::from_secs(60))
        .unwrap();
    wait_for(200, Duration::from_secs(20));
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    assert_ne!(old, new);
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    audit_counter(&acked, topo.get_counter("drill").unwrap());
    let errors = errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "writes failed instead of being held: {errors:?}"
    );
}

/// Atomic redis-rs pipelines (two INCRs) beside other callers' INCRs on the same shared
/// connection: each pipeline's replies are consecutive (nothing ran between them), every
/// caller gets its own integer replies (none was queued into someone else's MULTI), and the
/// counter accounts for every increment.
fn atomic_pipeline_is_never_interleaved(rt: Rt) {
    let topo = topology(opts());
    let client = ours(rt, config_for(&topo));
    let deadline = Instant::now() + Duration::from_secs(3);
    let singles: Vec<_> = (0..3)
        .map(|_| {
            let mut c = client.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while Instant::now() < deadline {
                    got.push(c.redis_incr("mix").expect("INCR"));
                }
                got
            })
        })
        .collect();
    let mut pairs = Vec::new();
    let mut c = client.clone();
    while Instant::now() < deadline {
        pairs.push(c.redis_double_incr("mix").expect("atomic pipeline"));
    }
    let mut all: Vec<i64> = singles
        .into_iter()
        .flat_map(|t| t.join().expect("INCR thread"))
        .collect();
    assert!(
        pairs.len() > 10 && all.len() > 10,
        "too little traffic to tell"
    );
    for (a, b) in &pairs {
        assert_eq!(*b, a + 1, "another command ran inside the transaction");
        all.extend([*a, *b]);
    }
    all.sort_unstable();
    let n = all.len() as i64;
    all.dedup();
    assert_eq!(all.len() as i64, n, "a reply was delivered twice");
    assert_eq!(topo.get_counter("mix").unwrap(), n);
    assert_eq!(all.last().copied(), Some(n));
}

/// `WATCH` (what `redis::transaction` starts with) cannot go on the shared connection: it is
/// refused before being sent, with a client error naming the dedicated connection API, and
/// the connection stays usable.
fn watch_is_refused_with_a_pointer_to_dedicated(rt: Rt) {
    let topo = topology(opts());
    let mut client = ours(rt, config_for(&topo));
    let mut watch = redis::cmd("WATCH");
    watch.arg("k");
    let got: RedisResult<()> = match &mut client {
        Ours::Blocking(c) => watch.query(c),
        Ours::Async(c, exec) => {
            let exec = exec.clone();
            exec.block_on(watch.query_async(c))
        }
    };
    let err = got.expect_err("WATCH refused");
    assert_eq!(err.kind(), ErrorKind::Client, "{err}");
    assert!(
        err.detail().unwrap_or_default().contains("dedicated"),
        "{err}"
    );
    assert_eq!(client.redis_incr("after").unwrap(), 1);
}

/// Optimistic locking in redis-rs code on a dedicated connection: `WATCH`, a read, another
/// client's write to the watched key, then the atomic pipeline is discarded (`None`) and the
/// retry commits. On the blocking flavor through `redis::transaction` itself.
fn watch_and_exec_on_a_dedicated_connection(rt: Rt) {
    let topo = topology(opts());
    let mut client = ours(rt, config_for(&topo));
    let attempts = std::cell::Cell::new(0);
    match client.clone() {
        Ours::Blocking(c) => {
            let mut d = c.dedicated().expect("dedicated");
            let mut other = c.clone();
            let (v,): (i64,) = redis::transaction(&mut d, &["opt"], |con, pipe| {
                attempts.set(attempts.get() + 1);
                let v: i64 = con.get::<_, Option<i64>>("opt")?.unwrap_or(0);
                if attempts.get() == 1 {
                    Commands::set::<_, _, ()>(&mut other, "opt", 100)?;
                }
                pipe.set("opt", v + 1).ignore().get("opt").query(con)
            })
            .expect("redis::transaction");
            assert_eq!(v, 101);
        }
        Ours::Async(c, exec) => exec.block_on(async {
            let mut d = c.dedicated().await.expect("dedicated");
            let mut other = c.clone();
            let committed = loop {
                attempts.set(attempts.get() + 1);
                redis::cmd("WATCH")
                    .arg("opt")
                    .query_async::<()>(&mut d)
                    .await
                    .expect("WATCH");
                let v: i64 = d
                    .get::<_, Option<i64>>("opt")
                    .await
                    .expect("GET")
                    .unwrap_or(0);
                if attempts.get() == 1 {
                    AsyncCommands::set::<_, _, ()>(&mut other, "opt", 100)
                        .await
                        .expect("SET");
                }
                let got: Option<(i64,)> = redis::pipe()
                    .atomic()
                    .set("opt", v + 1)
                    .ignore()
                    .get("opt")
                    .query_async(&mut d)
                    .await
                    .expect("EXEC");
                if let Some((v,)) = got {
                    break v;
                }
            };
            assert_eq!(committed, 101);
        }),
    }
    assert_eq!(attempts.get(), 2, "the first EXEC must have been discarded");
    assert_eq!(client.redis_incr("opt").unwrap(), 102);
}

on_every_runtime!(
    redis_rs_program,
    watch_and_exec_on_a_dedicated_connection,
    redis_rs_writer_through_failover,
    atomic_pipeline_is_never_interleaved,
    watch_is_refused_with_a_pointer_to_dedicated,
);

/// Errors of our own reach redis-rs code with their kind, and the original comes back: a
/// command that outlives its timeout on a real (busy) server is an I/O timeout carrying
/// `Error::Timeout`.
#[test]
fn a_timeout_is_an_io_timeout_carrying_ours() {
    let topo = topology(opts());
    let mut config = config_for(&topo);
    config.command_timeout = Duration::from_millis(200);
    let mut client = resp_sentinel::blocking::Sentinel::new(config).master_for(topo.service_name());
    // Connected first, so the timeout is the reply's.
    let _: () = redis::cmd("PING").query(&mut client).expect("PING");
    // A script that keeps the server busy for 600 ms.
    let busy = "local s = redis.call('TIME') \
                repeat local n = redis.call('TIME') \
                until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 600000 \
                return 1";
    let err = redis::cmd("EVAL")
        .arg(busy)
        .arg(0)
        .query::<()>(&mut client)
        .expect_err("timed out");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(
        redis_compat::original_error(&err),
        Some(resp_sentinel::Error::Timeout)
    );
}
