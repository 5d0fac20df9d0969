//! Client throughput and latency: our client beside redis-rs and a raw-socket floor, in one run.
//!
//! The bench starts one local topology with the harness (1 master, no replica, 1 sentinel).
//! Our client finds the master through the sentinel, as it does in production; its clock starts
//! only after its first reply (a `PING` when the client is made). redis-rs 1.8.1 connects
//! straight to the master (`MultiplexedConnection` on tokio, sync `Connection`). The floor is a
//! raw socket to the master that writes the same commands, pre-encoded, as many at a time as
//! the workload allows, and counts the replies with `resp_sentinel_core::Decoder`.
//!
//! Every workload runs `INCR`, `SET`, `GET` in turn, on keys of its own per task
//! (`bench:{task}:n`, `bench:{task}:s`):
//!
//! | workload | ours | redis-rs | floor |
//! |---|---|---|---|
//! | `sequential` | tokio, one task | `MultiplexedConnection`, one task | tokio socket, 1 in flight |
//! | `pipeline-100` | `Client::pipeline` of 100 | `redis::pipe()` of 100 | tokio socket, 100 per write |
//! | `tasks-N` (16, 128, 1024) | N tasks, one client | N tasks, one connection (cloned) | tokio socket, N in flight |
//! | `blocking-sequential` | blocking client | sync `Connection` | std socket, 1 in flight |
//! | `blocking-8-threads` | 8 threads, one client | 8 threads, a `Connection` each | std socket, 8 in flight |
//!
//! The async workloads run on one tokio `current_thread` runtime (the drivers of both clients
//! are spawned on it). Each contender runs a fixed number of commands per run; rounds
//! interleave the contenders in rotating order, after one untimed warm-up run each. The tables
//! give the median ops/s over the rounds, p50/p99 latency over every command of every round (per
//! pipeline for `pipeline-100`) and ours / the others; the targets table judges ours / redis-rs
//! (ratio of the medians) against the targets, and also gives the median of the
//! per-round ratios, which a burst of outside load on a shared machine disturbs less.
//!
//! `cargo bench -p resp-sentinel-bench --bench client`. Environment:
//! - `CLIENT_BENCH_OPS`: commands per run (default 20000; `pipeline-100` rounds it up to whole
//!   pipelines);
//! - `CLIENT_BENCH_ROUNDS`: timed rounds (default 5; 0 skips the timing);
//! - `CLIENT_BENCH_WARMUP`: `0` drops the warm-up runs (a tenth of the commands each);
//! - `CLIENT_BENCH_ONLY`: comma-separated `workload[:contender]` (`ours`, `redis-rs`, `floor`),
//!   e.g. `tasks-128:ours,sequential`;
//! - `CLIENT_BENCH_STRACE`: `1` for the system calls per command of `sequential`,
//!   `pipeline-100` and `tasks-128`, or a comma-separated list of workloads (`all` for every
//!   one): each contender runs alone in a child process under `strace -f -c`, twice
//!   (`CLIENT_BENCH_STRACE_OPS` commands, default 5000, then twice as many) against the same
//!   topology, and the difference of the counts is divided by the extra commands, so that
//!   start-up (runtime, discovery, connecting) cancels out;
//! - `CLIENT_BENCH_SENTINEL`, `CLIENT_BENCH_MASTER` (`host:port`) and `CLIENT_BENCH_SERVICE`:
//!   use a running topology instead of starting one (the strace children do).

use bytes::{Buf, Bytes, BytesMut};
use redis::aio::MultiplexedConnection;
use resp_sentinel::core::sentinel::Config;
use resp_sentinel::{cmd, Value};
use resp_sentinel_core::{Decoder, Frame};
use resp_sentinel_tests::{Addr, Topology, TopologyOptions};
use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The value `SET` writes (32 bytes).
const VALUE: &str = "resp-sentinel-client-bench-value";
/// How much the floors ask the socket for at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Timeout of one command, the same for both clients (our default).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on the topology's start.
const SETTLE: Duration = Duration::from_secs(60);

// ----- workloads and contenders ----------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Sequential,
    Pipeline(usize),
    Tasks(usize),
    BlockingSequential,
    BlockingThreads(usize),
}

const WORKLOADS: [Workload; 7] = [
    Workload::Sequential,
    Workload::Pipeline(100),
    Workload::Tasks(16),
    Workload::Tasks(128),
    Workload::Tasks(1024),
    Workload::BlockingSequential,
    Workload::BlockingThreads(8),
];

/// Workloads whose system calls `CLIENT_BENCH_STRACE=1` counts.
const STRACE_DEFAULT: [Workload; 3] = [
    Workload::Sequential,
    Workload::Pipeline(100),
    Workload::Tasks(128),
];

impl Workload {
    fn name(self) -> String {
        match self {
            Workload::Sequential => "sequential".into(),
            Workload::Pipeline(n) => format!("pipeline-{n}"),
            Workload::Tasks(n) => format!("tasks-{n}"),
            Workload::BlockingSequential => "blocking-sequential".into(),
            Workload::BlockingThreads(n) => format!("blocking-{n}-threads"),
        }
    }

    fn title(self) -> String {
        match self {
            Workload::Sequential => "one task, sequential".into(),
            Workload::Pipeline(n) => format!("pipelines of {n}, one task"),
            Workload::Tasks(n) => format!("{n} tasks sharing one client"),
            Workload::BlockingSequential => "blocking, sequential".into(),
            Workload::BlockingThreads(n) => {
                format!("{n} threads sharing one blocking client (redis-rs: a connection each)")
            }
        }
    }

    fn label(self, who: Who) -> &'static str {
        let blocking = matches!(
            self,
            Workload::BlockingSequential | Workload::BlockingThreads(_)
        );
        match (who, blocking) {
            (Who::Ours, false) => "ours (tokio)",
            (Who::Ours, true) => "ours (blocking)",
            (Who::Peer, false) => "redis-rs MultiplexedConnection",
            (Who::Peer, true) => match self {
                Workload::BlockingThreads(_) => "redis-rs Connection per thread",
                _ => "redis-rs Connection",
            },
            (Who::Floor, false) => "floor: raw tokio socket",
            (Who::Floor, true) => "floor: raw std socket",
        }
    }

    /// The target for ours / redis-rs in ops/s.
    fn target(self) -> Option<f64> {
        match self {
            Workload::Sequential | Workload::BlockingSequential => Some(0.95),
            Workload::Pipeline(_) => Some(1.2),
            Workload::Tasks(n) if n >= 128 => Some(2.0),
            Workload::Tasks(_) => None,
            Workload::BlockingThreads(_) => Some(1.5),
        }
    }

    /// What one latency sample covers.
    fn sample_unit(self) -> String {
        match self {
            Workload::Pipeline(n) => format!("pipeline of {n}"),
            _ => "command".into(),
        }
    }

    /// Commands per run: `ops` rounded up to whole pipelines.
    fn commands(self, ops: usize) -> usize {
        match self {
            Workload::Pipeline(n) => ops.div_ceil(n).max(1) * n,
            _ => ops.max(1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Ours,
    Peer,
    Floor,
}

const WHO: [Who; 3] = [Who::Ours, Who::Peer, Who::Floor];

impl Who {
    fn tag(self) -> &'static str {
        match self {
            Who::Ours => "ours",
            Who::Peer => "redis-rs",
            Who::Floor => "floor",
        }
    }
}

/// The keys of one task.
struct Keys {
    n: String,
    s: String,
}

fn keys(task: usize) -> Keys {
    Keys {
        n: format!("bench:{task}:n"),
        s: format!("bench:{task}:s"),
    }
}

/// Commands of task `t` out of `ops` split over `n` tasks.
fn share(ops: usize, n: usize, t: usize) -> usize {
    ops / n + usize::from(t < ops % n)
}

/// One timed run of one contender.
struct Run {
    elapsed: Duration,
    commands: usize,
    lat: Vec<Duration>,
}

// ----- the clients ---------------------------------------------------------------------------

/// An async client, either ours or redis-rs's.
#[derive(Clone)]
enum AsyncClient {
    Ours(resp_sentinel::Client),
    Peer(MultiplexedConnection),
}

impl AsyncClient {
    /// The `i`-th command of a task: `INCR`, `SET`, `GET` in turn.
    async fn command(&mut self, i: usize, k: &Keys) {
        match self {
            AsyncClient::Ours(c) => match i % 3 {
                0 => {
                    black_box(c.incr(k.n.as_str()).await.expect("ours: INCR"));
                }
                1 => c.set(k.s.as_str(), VALUE).await.expect("ours: SET"),
                _ => {
                    let v: Option<Vec<u8>> = c.get(k.s.as_str()).await.expect("ours: GET");
                    black_box(v);
                }
            },
            AsyncClient::Peer(c) => match i % 3 {
                0 => {
                    let n: i64 = redis::cmd("INCR")
                        .arg(&k.n)
                        .query_async(c)
                        .await
                        .expect("redis-rs: INCR");
                    black_box(n);
                }
                1 => {
                    let () = redis::cmd("SET")
                        .arg(&k.s)
                        .arg(VALUE)
                        .query_async(c)
                        .await
                        .expect("redis-rs: SET");
                }
                _ => {
                    let v: Option<Vec<u8>> = redis::cmd("GET")
                        .arg(&k.s)
                        .query_async(c)
                        .await
                        .expect("redis-rs: GET");
                    black_box(v);
                }
            },
        }
    }

    /// `count` commands of task `task`, one after the other; the latency of each.
    async fn sequence(&mut self, task: usize, count: usize) -> Vec<Duration> {
        let k = keys(task);
        let mut lat = Vec::with_capacity(count);
        for i in 0..count {
            let t = Instant::now();
            self.command(i, &k).await;
            lat.push(t.elapsed());
        }
        lat
    }

    /// Commands `first..first + n` of task 0 as one pipeline.
    async fn pipeline(&mut self, first: usize, n: usize, k: &Keys) {
        match self {
            AsyncClient::Ours(c) => {
                let cmds = (first..first + n).map(|i| match i % 3 {
                    0 => cmd("INCR").arg(k.n.as_str()),
                    1 => cmd("SET").arg(k.s.as_str()).arg(VALUE),
                    _ => cmd("GET").arg(k.s.as_str()),
                });
                let replies = c.pipeline(cmds).await.expect("ours: pipeline");
                assert_eq!(replies.len(), n, "ours: pipeline replies");
                assert!(
                    !replies.iter().any(|v| matches!(v, Value::Error(_))),
                    "ours: error reply in a pipeline"
                );
                black_box(replies);
            }
            AsyncClient::Peer(c) => {
                let mut p = redis::pipe();
                for i in first..first + n {
                    match i % 3 {
                        0 => p.cmd("INCR").arg(&k.n),
                        1 => p.cmd("SET").arg(&k.s).arg(VALUE),
                        _ => p.cmd("GET").arg(&k.s),
                    };
                }
                let replies: Vec<redis::Value> =
                    p.query_async(c).await.expect("redis-rs: pipeline");
                assert_eq!(replies.len(), n, "redis-rs: pipeline replies");
                black_box(replies);
            }
        }
    }
}

async fn async_sequential(mut c: AsyncClient, ops: usize) -> Run {
    let start = Instant::now();
    let lat = c.sequence(0, ops).await;
    Run {
        elapsed: start.elapsed(),
        commands: lat.len(),
        lat,
    }
}

async fn async_pipelines(mut c: AsyncClient, ops: usize, size: usize) -> Run {
    let k = keys(0);
    let mut lat = Vec::with_capacity(ops / size);
    let start = Instant::now();
    let mut first = 0;
    while first < ops {
        let t = Instant::now();
        c.pipeline(first, size, &k).await;
        lat.push(t.elapsed());
        first += size;
    }
    Run {
        elapsed: start.elapsed(),
        commands: first,
        lat,
    }
}

async fn async_tasks(c: AsyncClient, ops: usize, n: usize) -> Run {
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|t| {
            let mut c = c.clone();
            let count = share(ops, n, t);
            tokio::spawn(async move { c.sequence(t, count).await })
        })
        .collect();
    let mut lat = Vec::with_capacity(ops);
    for h in handles {
        lat.extend(h.await.expect("a bench task panicked"));
    }
    Run {
        elapsed: start.elapsed(),
        commands: lat.len(),
        lat,
    }
}

fn ours_blocking_command(c: &resp_sentinel::blocking::Client, i: usize, k: &Keys) {
    match i % 3 {
        0 => {
            black_box(c.incr(k.n.as_str()).expect("ours: INCR"));
        }
        1 => c.set(k.s.as_str(), VALUE).expect("ours: SET"),
        _ => {
            let v: Option<Vec<u8>> = c.get(k.s.as_str()).expect("ours: GET");
            black_box(v);
        }
    }
}

fn peer_sync_command(c: &mut redis::Connection, i: usize, k: &Keys) {
    match i % 3 {
        0 => {
            let n: i64 = redis::cmd("INCR")
                .arg(&k.n)
                .query(c)
                .expect("redis-rs: INCR");
            black_box(n);
        }
        1 => {
            let () = redis::cmd("SET")
                .arg(&k.s)
                .arg(VALUE)
                .query(c)
                .expect("redis-rs: SET");
        }
        _ => {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(&k.s).query(c).expect("redis-rs: GET");
            black_box(v);
        }
    }
}

/// `count` blocking commands of task `task`; the latency of each.
fn sync_sequence(task: usize, count: usize, mut f: impl FnMut(usize, &Keys)) -> Vec<Duration> {
    let k = keys(task);
    let mut lat = Vec::with_capacity(count);
    for i in 0..count {
        let t = Instant::now();
        f(i, &k);
        lat.push(t.elapsed());
    }
    lat
}

/// Ours blocking: `threads` threads sharing one client (inline when 1).
fn blocking_ours(c: &resp_sentinel::blocking::Client, ops: usize, threads: usize) -> Run {
    let start = Instant::now();
    let lat = if threads == 1 {
        sync_sequence(0, ops, |i, k| ours_blocking_command(c, i, k))
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let c = c.clone();
                    let count = share(ops, threads, t);
                    s.spawn(move || sync_sequence(t, count, |i, k| ours_blocking_command(&c, i, k)))
                })
                .collect();
            let mut lat = Vec::with_capacity(ops);
            for h in handles {
                lat.extend(h.join().expect("a bench thread panicked"));
            }
            lat
        })
    };
    Run {
        elapsed: start.elapsed(),
        commands: lat.len(),
        lat,
    }
}

/// redis-rs sync: one connection per thread (inline when 1).
fn blocking_peer(conns: &mut [redis::Connection], ops: usize) -> Run {
    let threads = conns.len();
    let start = Instant::now();
    let lat = if threads == 1 {
        let c = &mut conns[0];
        sync_sequence(0, ops, |i, k| peer_sync_command(c, i, k))
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = conns
                .iter_mut()
                .enumerate()
                .map(|(t, c)| {
                    let count = share(ops, threads, t);
                    s.spawn(move || sync_sequence(t, count, |i, k| peer_sync_command(c, i, k)))
                })
                .collect();
            let mut lat = Vec::with_capacity(ops);
            for h in handles {
                lat.extend(h.join().expect("a bench thread panicked"));
            }
            lat
        })
    };
    Run {
        elapsed: start.elapsed(),
        commands: lat.len(),
        lat,
    }
}

// ----- the floor ----------------------------------------------------------------------------

/// How the floor keeps commands in flight.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `n` commands in flight, one per simulated task; a reply lets that task send its next.
    Window(usize),
    /// `n` commands in one write, all replies read, then the next batch.
    Batch(usize),
}

/// Every command a floor can send, encoded once: `[INCR, SET, GET]` per task.
struct Encoded {
    tasks: Vec<[Bytes; 3]>,
}

impl Encoded {
    fn new(tasks: usize) -> Encoded {
        let tasks = (0..tasks)
            .map(|t| {
                let k = keys(t);
                [
                    cmd("INCR").arg(k.n.as_str()).to_bytes(),
                    cmd("SET").arg(k.s.as_str()).arg(VALUE).to_bytes(),
                    cmd("GET").arg(k.s.as_str()).to_bytes(),
                ]
            })
            .collect();
        Encoded { tasks }
    }
}

/// The floor's bookkeeping, apart from the socket (shared by the tokio and std floors).
struct Floor<'e> {
    enc: &'e Encoded,
    shape: Shape,
    ops: usize,
    /// Commands queued so far (their sequence numbers are `0..queued`).
    queued: usize,
    /// Replies counted.
    done: usize,
    dec: Decoder,
    inbuf: BytesMut,
    /// Bytes to write next.
    out: Vec<u8>,
    /// When each command in flight (each batch, for `Batch`) was queued.
    sent: VecDeque<Instant>,
    /// Replies still missing from the current batch.
    batch_left: usize,
    lat: Vec<Duration>,
}

impl<'e> Floor<'e> {
    fn new(enc: &'e Encoded, shape: Shape, ops: usize) -> Floor<'e> {
        let width = match shape {
            Shape::Window(n) | Shape::Batch(n) => n,
        };
        Floor {
            enc,
            shape,
            ops,
            queued: 0,
            done: 0,
            dec: Decoder::new(),
            inbuf: BytesMut::with_capacity(READ_CHUNK),
            out: Vec::with_capacity(width * 64),
            sent: VecDeque::with_capacity(width),
            batch_left: 0,
            lat: Vec::with_capacity(ops),
        }
    }

    /// Queues command `seq`: in a window of `n`, it is command `seq / n` of task `seq % n`.
    fn queue_one(&mut self, now: Instant) {
        let (task, i) = match self.shape {
            Shape::Window(n) => (self.queued % n, self.queued / n),
            Shape::Batch(_) => (0, self.queued),
        };
        self.out.extend_from_slice(&self.enc.tasks[task][i % 3]);
        self.queued += 1;
        if let Shape::Window(_) = self.shape {
            self.sent.push_back(now);
        }
    }

    fn queue_batch(&mut self, n: usize, now: Instant) {
        let b = n.min(self.ops - self.queued);
        for _ in 0..b {
            self.queue_one(now);
        }
        self.batch_left = b;
        self.sent.push_back(now);
    }

    /// Queues the first commands.
    fn start(&mut self, now: Instant) {
        match self.shape {
            Shape::Window(n) => {
                while self.queued < self.ops.min(n) {
                    self.queue_one(now);
                }
            }
            Shape::Batch(n) => self.queue_batch(n, now),
        }
    }

    /// Counts the complete replies in `inbuf` and queues what they let through.
    fn received(&mut self, now: Instant) {
        loop {
            let len = match self.dec.parse(&self.inbuf) {
                Ok(Some(p)) => {
                    assert!(
                        !matches!(p.frame, Frame::Error(_)),
                        "floor: error reply {:?}",
                        p.frame
                    );
                    p.len
                }
                Ok(None) => break,
                Err(e) => panic!("floor: bad reply: {e}"),
            };
            self.inbuf.advance(len);
            self.done += 1;
            match self.shape {
                Shape::Window(_) => {
                    let t = self.sent.pop_front().expect("a command in flight");
                    self.lat.push(now.saturating_duration_since(t));
                    if self.queued < self.ops {
                        self.queue_one(now);
                    }
                }
                Shape::Batch(n) => {
                    self.batch_left -= 1;
                    if self.batch_left == 0 {
                        let t = self.sent.pop_front().expect("a batch in flight");
                        self.lat.push(now.saturating_duration_since(t));
                        if self.queued < self.ops {
                            self.queue_batch(n, now);
                        }
                    }
                }
            }
        }
    }

    fn finished(&self) -> bool {
        self.done == self.ops
    }

    fn into_run(self, elapsed: Duration) -> Run {
        Run {
            elapsed,
            commands: self.done,
            lat: self.lat,
        }
    }
}

async fn floor_tokio(
    s: &mut tokio::net::TcpStream,
    enc: &Encoded,
    shape: Shape,
    ops: usize,
) -> Run {
    let start = Instant::now();
    let mut f = Floor::new(enc, shape, ops);
    f.start(Instant::now());
    loop {
        if !f.out.is_empty() {
            s.write_all(&f.out).await.expect("floor: write");
            f.out.clear();
        }
        if f.finished() {
            break;
        }
        f.inbuf.reserve(READ_CHUNK);
        let n = s.read_buf(&mut f.inbuf).await.expect("floor: read");
        assert!(n > 0, "floor: the master closed the connection");
        f.received(Instant::now());
    }
    f.into_run(start.elapsed())
}

fn floor_std(s: &mut TcpStream, enc: &Encoded, shape: Shape, ops: usize) -> Run {
    let start = Instant::now();
    let mut f = Floor::new(enc, shape, ops);
    let mut chunk = vec![0u8; READ_CHUNK];
    f.start(Instant::now());
    loop {
        if !f.out.is_empty() {
            s.write_all(&f.out).expect("floor: write");
            f.out.clear();
        }
        if f.finished() {
            break;
        }
        let n = s.read(&mut chunk).expect("floor: read");
        assert!(n > 0, "floor: the master closed the connection");
        f.inbuf.extend_from_slice(&chunk[..n]);
        f.received(Instant::now());
    }
    f.into_run(start.elapsed())
}

// ----- the context: one runtime, clients made on first use ----------------------------------

/// Where the topology is.
#[derive(Clone, Debug)]
struct Endpoints {
    sentinels: Vec<Addr>,
    master: Addr,
    service: String,
}

struct Ctx {
    rt: tokio::runtime::Runtime,
    at: Endpoints,
    enc: Encoded,
    ours: Option<resp_sentinel::Client>,
    ours_blocking: Option<resp_sentinel::blocking::Client>,
    peer: Option<MultiplexedConnection>,
    peer_sync: Vec<redis::Connection>,
    floor: Option<tokio::net::TcpStream>,
    floor_std: Option<TcpStream>,
}

impl Ctx {
    fn new(at: Endpoints, max_tasks: usize) -> Ctx {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Ctx {
            rt,
            at,
            enc: Encoded::new(max_tasks),
            ours: None,
            ours_blocking: None,
            peer: None,
            peer_sync: Vec::new(),
            floor: None,
            floor_std: None,
        }
    }

    fn config(&self) -> Config {
        let mut c = Config::new(self.at.sentinels.clone(), self.at.service.clone());
        c.command_timeout = COMMAND_TIMEOUT;
        c
    }

    fn redis_url(&self) -> String {
        format!("redis://{}:{}", self.at.master.host, self.at.master.port)
    }

    /// Our tokio client, after its first reply.
    fn ours(&mut self) -> AsyncClient {
        if self.ours.is_none() {
            let config = self.config();
            let service = self.at.service.clone();
            let c = self.rt.block_on(async move {
                let c = resp_sentinel::tokio::Sentinel::new(config).master_for(&service);
                c.ping().await.map(|()| c)
            });
            self.ours = Some(c.unwrap_or_else(|e| fail(&format!("ours (tokio): {e}"))));
        }
        AsyncClient::Ours(self.ours.clone().expect("made above"))
    }

    /// Our blocking client, after its first reply.
    fn ours_blocking(&mut self) -> resp_sentinel::blocking::Client {
        if self.ours_blocking.is_none() {
            let c =
                resp_sentinel::blocking::Sentinel::new(self.config()).master_for(&self.at.service);
            if let Err(e) = c.ping() {
                fail(&format!("ours (blocking): {e}"));
            }
            self.ours_blocking = Some(c);
        }
        self.ours_blocking.clone().expect("made above")
    }

    fn peer(&mut self) -> AsyncClient {
        if self.peer.is_none() {
            let client = redis::Client::open(self.redis_url())
                .unwrap_or_else(|e| fail(&format!("redis-rs: {e}")));
            let config =
                redis::AsyncConnectionConfig::new().set_response_timeout(Some(COMMAND_TIMEOUT));
            let con = self.rt.block_on(async move {
                let mut con = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                let () = redis::cmd("PING")
                    .query_async(&mut con)
                    .await
                    .map(|_: String| ())?;
                Ok::<_, redis::RedisError>(con)
            });
            self.peer = Some(con.unwrap_or_else(|e| fail(&format!("redis-rs multiplexed: {e}"))));
        }
        AsyncClient::Peer(self.peer.clone().expect("made above"))
    }

    /// `n` sync redis-rs connections.
    fn peer_sync(&mut self, n: usize) -> &mut [redis::Connection] {
        while self.peer_sync.len() < n {
            let client = redis::Client::open(self.redis_url())
                .unwrap_or_else(|e| fail(&format!("redis-rs: {e}")));
            let mut con = client
                .get_connection()
                .unwrap_or_else(|e| fail(&format!("redis-rs sync: {e}")));
            let _: String = redis::cmd("PING")
                .query(&mut con)
                .unwrap_or_else(|e| fail(&format!("redis-rs sync: {e}")));
            self.peer_sync.push(con);
        }
        &mut self.peer_sync[..n]
    }

    fn floor_run(&mut self, shape: Shape, ops: usize) -> Run {
        if self.floor.is_none() {
            let (host, port) = (self.at.master.host.clone(), self.at.master.port);
            let s = self.rt.block_on(async move {
                let s = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
                s.set_nodelay(true)?;
                Ok::<_, std::io::Error>(s)
            });
            self.floor = Some(s.unwrap_or_else(|e| fail(&format!("floor: {e}"))));
        }
        let s = self.floor.as_mut().expect("made above");
        self.rt.block_on(floor_tokio(s, &self.enc, shape, ops))
    }

    fn floor_std_run(&mut self, shape: Shape, ops: usize) -> Run {
        if self.floor_std.is_none() {
            let s = TcpStream::connect((self.at.master.host.as_str(), self.at.master.port))
                .and_then(|s| s.set_nodelay(true).map(|()| s))
                .unwrap_or_else(|e| fail(&format!("floor (std): {e}")));
            self.floor_std = Some(s);
        }
        let s = self.floor_std.as_mut().expect("made above");
        floor_std(s, &self.enc, shape, ops)
    }

    fn async_client(&mut self, who: Who) -> AsyncClient {
        match who {
            Who::Ours => self.ours(),
            _ => self.peer(),
        }
    }

    /// One run of `who` on `w`: `ops` commands.
    fn run(&mut self, w: Workload, who: Who, ops: usize) -> Run {
        match (w, who) {
            (Workload::Sequential, Who::Floor) => self.floor_run(Shape::Window(1), ops),
            (Workload::Sequential, _) => {
                let c = self.async_client(who);
                self.rt.block_on(async_sequential(c, ops))
            }
            (Workload::Pipeline(n), Who::Floor) => self.floor_run(Shape::Batch(n), ops),
            (Workload::Pipeline(n), _) => {
                let c = self.async_client(who);
                self.rt.block_on(async_pipelines(c, ops, n))
            }
            (Workload::Tasks(n), Who::Floor) => self.floor_run(Shape::Window(n), ops),
            (Workload::Tasks(n), _) => {
                let c = self.async_client(who);
                self.rt.block_on(async_tasks(c, ops, n))
            }
            (Workload::BlockingSequential, Who::Ours) => {
                blocking_ours(&self.ours_blocking(), ops, 1)
            }
            (Workload::BlockingSequential, Who::Peer) => blocking_peer(self.peer_sync(1), ops),
            (Workload::BlockingSequential, Who::Floor) => self.floor_std_run(Shape::Window(1), ops),
            (Workload::BlockingThreads(n), Who::Ours) => {
                blocking_ours(&self.ours_blocking(), ops, n)
            }
            (Workload::BlockingThreads(n), Who::Peer) => blocking_peer(self.peer_sync(n), ops),
            (Workload::BlockingThreads(n), Who::Floor) => self.floor_std_run(Shape::Window(n), ops),
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("client bench: {msg}");
    std::process::exit(1);
}

// ----- settings -----------------------------------------------------------------------------

struct Settings {
    ops: usize,
    rounds: usize,
    warmup: bool,
    /// Workloads to run, each with the contenders to run (all when the set is empty).
    only: Vec<(Workload, Vec<Who>)>,
    strace: Vec<Workload>,
    strace_ops: usize,
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| fail(&format!("{name}={v}: not a number"))),
        Err(_) => default,
    }
}

fn workload_named(name: &str) -> Workload {
    WORKLOADS
        .into_iter()
        .find(|w| w.name() == name)
        .unwrap_or_else(|| {
            let all: Vec<String> = WORKLOADS.iter().map(|w| w.name()).collect();
            fail(&format!("no workload `{name}` (one of {})", all.join(", ")))
        })
}

impl Settings {
    fn from_env() -> Settings {
        let mut only: Vec<(Workload, Vec<Who>)> = Vec::new();
        if let Ok(list) = std::env::var("CLIENT_BENCH_ONLY") {
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (w, who) = match item.split_once(':') {
                    Some((w, c)) => {
                        let who = WHO
                            .into_iter()
                            .find(|x| x.tag() == c)
                            .unwrap_or_else(|| fail(&format!("no contender `{c}`")));
                        (workload_named(w), Some(who))
                    }
                    None => (workload_named(item), None),
                };
                let pos = only.iter().position(|(x, _)| *x == w).unwrap_or_else(|| {
                    only.push((w, Vec::new()));
                    only.len() - 1
                });
                match who {
                    Some(c) if !only[pos].1.contains(&c) => only[pos].1.push(c),
                    Some(_) => {}
                    None => only[pos].1 = WHO.to_vec(),
                }
            }
            // Contenders in their fixed order, whatever the order asked.
            for (_, who) in &mut only {
                who.sort();
            }
        } else {
            only = WORKLOADS.iter().map(|&w| (w, WHO.to_vec())).collect();
        }
        let strace = match std::env::var("CLIENT_BENCH_STRACE").as_deref() {
            Err(_) | Ok("") | Ok("0") => Vec::new(),
            Ok("1") => STRACE_DEFAULT.to_vec(),
            Ok("all") => WORKLOADS.to_vec(),
            Ok(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(workload_named)
                .collect(),
        };
        Settings {
            ops: env_usize("CLIENT_BENCH_OPS", 20_000),
            rounds: env_usize("CLIENT_BENCH_ROUNDS", 5),
            warmup: env_usize("CLIENT_BENCH_WARMUP", 1) > 0,
            only,
            strace,
            strace_ops: env_usize("CLIENT_BENCH_STRACE_OPS", 5_000),
        }
    }
}

/// The topology given in the environment, or a fresh one from the harness.
fn endpoints() -> (Option<Topology>, Endpoints) {
    let parse = |v: String| -> Addr {
        v.parse()
            .unwrap_or_else(|e| fail(&format!("address `{v}`: {e:?}")))
    };
    let service = std::env::var("CLIENT_BENCH_SERVICE").unwrap_or_else(|_| "mymaster".into());
    if let (Ok(s), Ok(m)) = (
        std::env::var("CLIENT_BENCH_SENTINEL"),
        std::env::var("CLIENT_BENCH_MASTER"),
    ) {
        let at = Endpoints {
            sentinels: s.split(',').map(|a| parse(a.trim().to_string())).collect(),
            master: parse(m),
            service,
        };
        return (None, at);
    }
    let opts = TopologyOptions {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        ..TopologyOptions::default()
    }
    .service_name(service.clone());
    let t = Topology::start(opts).unwrap_or_else(|e| fail(&format!("topology: {e}")));
    let master = t
        .wait_healthy(SETTLE)
        .unwrap_or_else(|e| fail(&format!("topology not healthy: {e}")));
    let at = Endpoints {
        sentinels: t.sentinel_addrs(),
        master,
        service,
    };
    (Some(t), at)
}

// ----- figures ------------------------------------------------------------------------------

/// Every timed run of one contender on one workload.
struct Tally {
    who: Who,
    ops_per_s: Vec<f64>,
    lat: Vec<Duration>,
}

impl Tally {
    fn median(&self) -> f64 {
        let mut v = self.ops_per_s.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    fn range(&self) -> (f64, f64) {
        let min = self.ops_per_s.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.ops_per_s.iter().copied().fold(0.0, f64::max);
        (min, max)
    }
}

/// The `p`-quantile of sorted samples.
fn quantile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// What the targets table needs from one workload.
struct Verdict {
    w: Workload,
    vs_peer: Option<f64>,
    /// Median over the rounds of ours / redis-rs within each round (a burst of outside load
    /// hits the two runs of one round alike).
    vs_peer_paired: Option<f64>,
    vs_floor: Option<f64>,
}

/// Median of `a[r] / b[r]` over the rounds `r`.
fn paired(a: &Tally, b: &Tally) -> f64 {
    let mut v: Vec<f64> = a
        .ops_per_s
        .iter()
        .zip(&b.ops_per_s)
        .map(|(x, y)| x / y)
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench_workload(ctx: &mut Ctx, s: &Settings, w: Workload, who: &[Who]) -> Verdict {
    let ops = w.commands(s.ops);
    if s.warmup {
        for &c in who {
            let warm = w.commands(ops / 10);
            let r = ctx.run(w, c, warm);
            assert_eq!(r.commands, warm, "{}: {} warm-up", w.name(), c.tag());
        }
    }
    let mut tallies: Vec<Tally> = who
        .iter()
        .map(|&c| Tally {
            who: c,
            ops_per_s: Vec::new(),
            lat: Vec::new(),
        })
        .collect();
    for r in 0..s.rounds {
        for j in 0..who.len() {
            let i = (j + r) % who.len();
            let run = ctx.run(w, who[i], ops);
            assert_eq!(
                run.commands,
                ops,
                "{}: {} ran a different number of commands",
                w.name(),
                who[i].tag()
            );
            tallies[i]
                .ops_per_s
                .push(run.commands as f64 / run.elapsed.as_secs_f64().max(1e-9));
            tallies[i].lat.extend(run.lat);
        }
    }
    for t in &mut tallies {
        t.lat.sort_unstable();
    }
    let find = |c: Who| tallies.iter().find(|t| t.who == c).map(Tally::median);
    let ours = find(Who::Ours);
    println!(
        "\n### {} (`{}`): {} commands per run, {} rounds; latency per {}\n",
        w.title(),
        w.name(),
        ops,
        s.rounds,
        w.sample_unit()
    );
    println!("| contender | median ops/s | min-max ops/s | p50 us | p99 us | ours / this |");
    println!("|---|---:|---:|---:|---:|---:|");
    for t in &tallies {
        let (min, max) = t.range();
        let ratio = ours.map_or("n/a".into(), |o| format!("{:.2}x", o / t.median()));
        println!(
            "| {} | {:.0} | {:.0}-{:.0} | {:.1} | {:.1} | {} |",
            w.label(t.who),
            t.median(),
            min,
            max,
            us(quantile(&t.lat, 0.50)),
            us(quantile(&t.lat, 0.99)),
            ratio
        );
    }
    let ratio = |c: Who| Some(ours? / find(c)?);
    let tally = |c: Who| tallies.iter().find(|t| t.who == c);
    Verdict {
        w,
        vs_peer: ratio(Who::Peer),
        vs_peer_paired: tally(Who::Ours)
            .zip(tally(Who::Peer))
            .map(|(o, p)| paired(o, p)),
        vs_floor: ratio(Who::Floor),
    }
}

fn print_targets(verdicts: &[Verdict]) {
    println!("\n### Targets: ours / redis-rs in ops/s, same run\n");
    println!(
        "| workload | ours / redis-rs | target | verdict | ours / redis-rs, per round (median) | ours / floor |"
    );
    println!("|---|---:|---:|---|---:|---:|");
    let x = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.2}x"));
    for v in verdicts {
        let verdict = match (v.w.target(), v.vs_peer) {
            (None, _) => "(no target)".to_string(),
            (Some(_), None) => "n/a".to_string(),
            (Some(t), Some(r)) if r >= t => "met".to_string(),
            (Some(t), Some(r)) => format!("MISSED ({:.0}% of target)", 100.0 * r / t),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            v.w.name(),
            x(v.vs_peer),
            v.w.target().map_or("-".into(), |t| format!(">= {t}x")),
            verdict,
            x(v.vs_peer_paired),
            x(v.vs_floor),
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

// ----- system calls -------------------------------------------------------------------------

/// Reads the summary `strace -c` wrote: calls per system call (and `total`).
fn parse_strace(text: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[0].parse::<f64>().is_err() {
            continue;
        }
        if let Ok(n) = f[3].parse::<u64>() {
            calls.insert(f[f.len() - 1].to_string(), n);
        }
    }
    calls
}

/// Runs this binary for one contender of one workload under `strace -f -c`; its counts.
fn strace_child(
    at: &Endpoints,
    w: Workload,
    who: Who,
    ops: usize,
) -> Result<BTreeMap<String, u64>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = std::env::temp_dir().join(format!(
        "client-bench-strace-{}-{}-{}-{ops}.txt",
        std::process::id(),
        w.name(),
        who.tag()
    ));
    let sentinels: Vec<String> = at.sentinels.iter().map(|a| a.to_string()).collect();
    let child = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg("--")
        .arg(&exe)
        .env("CLIENT_BENCH_ONLY", format!("{}:{}", w.name(), who.tag()))
        .env("CLIENT_BENCH_OPS", ops.to_string())
        .env("CLIENT_BENCH_ROUNDS", "1")
        .env("CLIENT_BENCH_WARMUP", "0")
        .env_remove("CLIENT_BENCH_STRACE")
        .env("CLIENT_BENCH_SENTINEL", sentinels.join(","))
        .env("CLIENT_BENCH_MASTER", at.master.to_string())
        .env("CLIENT_BENCH_SERVICE", &at.service)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("strace: {e}"))?;
    let text = std::fs::read_to_string(&out);
    let _ = std::fs::remove_file(&out);
    if !child.status.success() {
        return Err(format!(
            "{} {} under strace: {}; {}",
            w.name(),
            who.tag(),
            child.status,
            String::from_utf8_lossy(&child.stderr).trim()
        ));
    }
    let text = text.map_err(|e| format!("reading {}: {e}", Path::new(&out).display()))?;
    Ok(parse_strace(&text))
}

const WRITE_CALLS: [&str; 5] = ["write", "writev", "sendto", "sendmsg", "sendmmsg"];
const READ_CALLS: [&str; 5] = ["read", "readv", "recvfrom", "recvmsg", "recvmmsg"];

fn strace_section(at: &Endpoints, list: &[Workload], ops: usize) {
    let works = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        println!("\n(strace not found: system calls not counted; `apt-get install -y strace`)");
        return;
    }
    println!(
        "\n### System calls per command (`strace -f -c`, difference of {} and {} commands)\n",
        ops,
        2 * ops
    );
    println!(
        "| workload | contender | write side | (calls) | read side | (calls) | epoll_wait | futex | all |"
    );
    println!("|---|---|---:|---|---:|---|---:|---:|---:|");
    for &w in list {
        let n = w.commands(ops);
        for who in WHO {
            let counts = strace_child(at, w, who, n)
                .and_then(|a| strace_child(at, w, who, w.commands(2 * ops)).map(|b| (a, b)));
            let (a, b) = match counts {
                Ok(ab) => ab,
                Err(e) => {
                    eprintln!("client bench: {e}");
                    println!("| {} | {} | failed | | | | | | |", w.name(), w.label(who));
                    continue;
                }
            };
            let extra = (w.commands(2 * ops) - n) as f64;
            let per = |name: &str| {
                let d = b.get(name).copied().unwrap_or(0) as f64
                    - a.get(name).copied().unwrap_or(0) as f64;
                // Counts are whole numbers: a residue this small is noise, not "-0.000".
                let v = d / extra;
                if v.abs() < 0.0005 {
                    0.0
                } else {
                    v
                }
            };
            let side = |names: &[&str]| {
                let sum: f64 = names.iter().map(|n| per(n)).sum();
                let which: Vec<String> = names
                    .iter()
                    .filter(|n| per(n).abs() >= 0.0005)
                    .map(|n| format!("{n} {:.3}", per(n)))
                    .collect();
                (sum, which.join(", "))
            };
            let (wsum, wwhich) = side(&WRITE_CALLS);
            let (rsum, rwhich) = side(&READ_CALLS);
            println!(
                "| {} | {} | {:.3} | {} | {:.3} | {} | {:.3} | {:.3} | {:.3} |",
                w.name(),
                w.label(who),
                wsum,
                wwhich,
                rsum,
                rwhich,
                per("epoll_wait") + per("epoll_pwait") + per("epoll_pwait2"),
                per("futex"),
                per("total")
            );
        }
    }
}

// ----- main ---------------------------------------------------------------------------------

fn main() {
    let s = Settings::from_env();
    let started = Instant::now();
    let load_before = load_average();
    let (topology, at) = endpoints();
    let max_tasks = WORKLOADS
        .iter()
        .map(|w| match w {
            Workload::Tasks(n) | Workload::BlockingThreads(n) => *n,
            _ => 1,
        })
        .max()
        .unwrap_or(1);
    let mut ctx = Ctx::new(at.clone(), max_tasks);
    if s.rounds > 0 {
        println!(
            "## Client throughput and latency: {} (load average {}), master {}, sentinel {}{}",
            std::thread::available_parallelism().map_or("? cores".into(), |n| format!("{n} cores")),
            load_before,
            at.master,
            at.sentinels
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(","),
            if topology.is_some() {
                " (started by the bench)"
            } else {
                ""
            }
        );
        let mut verdicts = Vec::new();
        for (w, who) in &s.only {
            verdicts.push(bench_workload(&mut ctx, &s, *w, who));
        }
        print_targets(&verdicts);
        println!(
            "\nTimed part: {:.1} s; load average {} before, {} after.",
            started.elapsed().as_secs_f64(),
            load_before,
            load_average()
        );
    }
    drop(ctx);
    if !s.strace.is_empty() {
        strace_section(&at, &s.strace, s.strace_ops);
    }
    drop(topology);
}
