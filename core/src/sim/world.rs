//! The simulated world: data nodes, sentinels, a network of connections with seeded latency,
//! fault injection, replication with lag, and Sentinel's failover procedure with its timing.

use super::node::{DataNode, NodeEffect, NodeOptions, NodeRole, READONLY};
use super::rng::Rng;
use super::sentinel::{
    master_details, replica_details, switch_master, Behavior, PeerInfo, ReplicaInfo, SimSentinel,
};
use super::session::{deliveries, Credentials, HelloSupport, Session};
use super::wire::{encode_reply, CommandReader};
use crate::sentinel::{Addr, ConnId, Output, PeerKind};
use crate::Value;
use bytes::{Bytes, BytesMut};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

/// Shape and timing of a world.
#[derive(Clone, Debug)]
pub struct WorldSpec {
    /// Service (master) name the sentinels monitor.
    pub service: String,
    /// Replicas besides the initial master.
    pub replicas: usize,
    /// Number of sentinels.
    pub sentinels: usize,
    /// One-way network latency range, drawn per message.
    pub latency: (Duration, Duration),
    /// Replication lag range, drawn once per replica.
    pub repl_lag: (Duration, Duration),
    /// Delay between `+switch-master` and the old master's reconfiguration (Redis 7: the 10 s
    /// INFO period), drawn in `info_period ± 1 s`.
    pub info_period: Duration,
    /// Sentinel `down-after-milliseconds`: a master paused this long fails over automatically.
    pub down_after: Duration,
    /// Password (and ACL user) of the data nodes.
    pub data_auth: Option<Credentials>,
    /// Password (and ACL user) of the sentinels.
    pub sentinel_auth: Option<Credentials>,
    /// How data nodes answer `HELLO`.
    pub hello: HelloSupport,
}

impl Default for WorldSpec {
    fn default() -> WorldSpec {
        WorldSpec {
            service: "mymaster".into(),
            replicas: 2,
            sentinels: 3,
            latency: (Duration::from_micros(100), Duration::from_micros(1500)),
            repl_lag: (Duration::from_micros(200), Duration::from_millis(3)),
            info_period: Duration::from_secs(10),
            down_after: Duration::from_secs(5),
            data_auth: None,
            sentinel_auth: None,
            hello: HelloSupport::Full,
        }
    }
}

/// Which data node a fault hits, resolved when the fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeSel {
    /// Whatever node is the master at that moment.
    CurrentMaster,
    /// One of the current master's replicas (`pick` modulo their number).
    Replica(usize),
    /// A node by index (0 is the initial master).
    Index(usize),
}

/// A fault or operator action, fired at a scheduled time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `SENTINEL FAILOVER` on sentinel `leader`: a real failover with Redis' event sequence.
    ForcedFailover {
        /// Index of the sentinel that runs it.
        leader: usize,
    },
    /// A forced failover whose leader stalls (as in Sentinel's TILT mode) for `stall` right
    /// after announcing the selected replica and before `REPLICAOF NO ONE`; its
    /// `SENTINEL MASTER` entry keeps saying `failover_in_progress` / `send_slaveof_noone`
    /// meanwhile, then it carries on.
    StalledFailover {
        /// Index of the sentinel that runs it.
        leader: usize,
        /// How long it stalls.
        stall: Duration,
    },
    /// The node closes every client connection (e.g. `CLIENT KILL`, restart of the proxy).
    DropConnections(NodeSel),
    /// Sentinel `index` closes every client connection.
    DropSentinelConnections(usize),
    /// One open client connection, chosen by `pick`, is reset.
    DropOneConnection {
        /// Chooses the connection among open ones.
        pick: u64,
    },
    /// Connection attempts to the node are refused for a while.
    RefuseConnects(NodeSel, Duration),
    /// Nothing passes between client and node for a while (held, then delivered, like TCP).
    Partition(NodeSel, Duration),
    /// Partition between the client and sentinel `index`.
    PartitionSentinel(usize, Duration),
    /// The node stops processing (SIGSTOP); a paused master longer than `down_after` fails
    /// over automatically.
    Pause(NodeSel, Duration),
    /// Replies from the node take `extra` longer for a while.
    Slow(NodeSel, Duration, Duration),
    /// Sentinel `index` answers address queries per `Behavior` for a while.
    Sentinel(usize, Behavior, Duration),
    /// Sentinel `index` is down (connections closed and refused) for a while.
    SentinelDown(usize, Duration),
    /// Every sentinel is down for a while.
    AllSentinelsDown(Duration),
    /// The master becomes a replica of an unreachable host (keeps data, `-READONLY`), then
    /// master again.
    MasterTurnsReplica(Duration),
    /// The node answers `-LOADING` for a while.
    Loading(NodeSel, Duration),
    /// Another client publishes `message` on `channel` through the node.
    Publish(NodeSel, String, String),
}

/// What the driver must tell the client machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The connection is established.
    Connected(ConnId),
    /// The connection attempt failed.
    ConnectFailed(ConnId),
    /// Bytes arrived.
    Received {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        bytes: Bytes,
        /// When the bytes contain `-READONLY` or a `ROLE` reply saying replica, the node's
        /// address: from now on the client knows that node is not a master.
        reveals_not_master: Option<Addr>,
    },
    /// The connection closed.
    Closed(ConnId),
}

/// What the world saw in one client output.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// Address of the connection's peer, for `Transmit`.
    pub addr: Option<Addr>,
    /// The connection's declared purpose.
    pub kind: Option<PeerKind>,
    /// Names of write commands (SET, INCR, ...) in the transmitted bytes.
    pub writes: Vec<String>,
}

/// The history of one failover, for invariants and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverRecord {
    /// When it started (`+try-failover`).
    pub started: Instant,
    /// When the fence-raising events (`+selected-slave`...) were published.
    pub selected_at: Option<Instant>,
    /// Master being replaced.
    pub old: Addr,
    /// Promoted replica.
    pub new: Option<Addr>,
    /// When the leader published `+switch-master`.
    pub switched_at: Option<Instant>,
    /// When the old master was reconfigured as a replica (discarding later writes).
    pub demoted_at: Option<Instant>,
    /// True when no replica could be promoted.
    pub aborted: bool,
    /// Automatic (after `down_after`) rather than forced.
    pub automatic: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Node(usize),
    Sentinel(usize),
    Nowhere,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    Connecting,
    Open,
    ServerClosed { delivered: bool },
    ClientClosed,
    Failed,
}

struct Conn {
    addr: Addr,
    kind: PeerKind,
    target: Target,
    state: ConnState,
    session: Session,
    reader: CommandReader,
    tx_reader: CommandReader,
    last_up: Instant,
    last_down: Instant,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Start,
    AutoStart {
        old: usize,
    },
    Select,
    SendNoOne,
    Promoted,
    Done,
    /// Sentinel `usize` hears (by hello) of the configuration of epoch `u64`.
    ConfigUpdate(usize, u64),
    Demote {
        old: usize,
        new: usize,
        record: usize,
    },
}

#[derive(Clone, Debug)]
enum Heal {
    Refuse(Addr),
    Partition(Addr),
    Slow(Addr),
    Sentinel(usize),
    SentinelUp(usize),
    MasterBack(usize, usize),
}

enum Ev {
    ConnectDone(ConnId),
    ToServer(ConnId, Bytes),
    ToClient(ConnId, Bytes, Option<Addr>),
    Closed(ConnId),
    Fault(Fault),
    Heal(Heal),
    Failover(Step),
}

struct Scheduled {
    at: Instant,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest event first, ties in scheduling order.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

struct FailoverRun {
    leader: usize,
    old: usize,
    new: Option<usize>,
    epoch: u64,
    record: usize,
    /// Stall between selecting the replica and promoting it.
    stall: Duration,
}

/// The whole simulated deployment and its network.
pub struct World {
    spec: WorldSpec,
    now: Instant,
    rng: Rng,
    nodes: Vec<DataNode>,
    lags: Vec<Duration>,
    sentinels: Vec<SimSentinel>,
    conns: BTreeMap<ConnId, Conn>,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    refusing: BTreeMap<Addr, Instant>,
    partitioned: BTreeMap<Addr, Instant>,
    slow: BTreeMap<Addr, (Duration, Instant)>,
    master: usize,
    failover: Option<FailoverRun>,
    failovers: Vec<FailoverRecord>,
    epoch: u64,
    /// Config epoch of the current master's configuration (the epoch of the failover that
    /// promoted it; 0 for the initial one).
    config_epoch: u64,
    /// Events processed so far, for step counts in reports.
    pub events_processed: u64,
    /// When set, commands executed on data nodes are logged in [`World::trace_log`].
    pub trace: bool,
    /// (time, node, connection, command words) of executed data-node commands, when tracing.
    pub trace_log: Vec<(Instant, Addr, ConnId, String)>,
}

const HOST: &str = "127.0.0.1";

impl World {
    /// A world with one master, `spec.replicas` replicas and `spec.sentinels` sentinels, all
    /// healthy, starting at virtual time `start`.
    pub fn new(spec: WorldSpec, seed: u64, start: Instant) -> World {
        let mut rng = Rng::new(seed);
        let master_addr = Addr::new(HOST, 6379);
        let opts = NodeOptions {
            auth: spec.data_auth.clone(),
            hello: spec.hello,
        };
        let mut nodes = vec![DataNode::new(
            master_addr.clone(),
            NodeRole::Master,
            opts.clone(),
        )];
        let mut lags = vec![Duration::ZERO];
        for i in 0..spec.replicas {
            nodes.push(DataNode::new(
                Addr::new(HOST, 6380 + i as u16),
                NodeRole::Replica {
                    of: master_addr.clone(),
                    link_up: true,
                },
                opts.clone(),
            ));
            lags.push(rng.duration(spec.repl_lag.0, spec.repl_lag.1));
        }
        let sentinels = (0..spec.sentinels)
            .map(|i| {
                let mut s = SimSentinel::new(
                    Addr::new(HOST, 26379 + i as u16),
                    i,
                    &spec.service,
                    master_addr.clone(),
                );
                s.auth = spec.sentinel_auth.clone();
                s
            })
            .collect();
        World {
            spec,
            now: start,
            rng,
            nodes,
            lags,
            sentinels,
            conns: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            refusing: BTreeMap::new(),
            partitioned: BTreeMap::new(),
            slow: BTreeMap::new(),
            master: 0,
            failover: None,
            failovers: Vec::new(),
            epoch: 0,
            config_epoch: 0,
            events_processed: 0,
            trace: false,
            trace_log: Vec::new(),
        }
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The spec the world was built from.
    pub fn spec(&self) -> &WorldSpec {
        &self.spec
    }

    /// Addresses of all sentinels, in index order.
    pub fn sentinel_addrs(&self) -> Vec<Addr> {
        self.sentinels.iter().map(|s| s.addr.clone()).collect()
    }

    /// The authoritative master: the one the leader sentinel switched to last.
    pub fn master(&self) -> &Addr {
        &self.nodes[self.master].addr
    }

    /// All data nodes.
    pub fn nodes(&self) -> &[DataNode] {
        &self.nodes
    }

    /// Mutable access to data nodes, to set options (e.g. `-LOADING`) in tests.
    pub fn nodes_mut(&mut self) -> &mut [DataNode] {
        &mut self.nodes
    }

    /// The data node at `addr`.
    pub fn node(&self, addr: &Addr) -> Option<&DataNode> {
        self.nodes.iter().find(|n| &n.addr == addr)
    }

    /// All sentinels.
    pub fn sentinels(&self) -> &[SimSentinel] {
        &self.sentinels
    }

    /// Failovers so far.
    pub fn failovers(&self) -> &[FailoverRecord] {
        &self.failovers
    }

    /// The node a correct client may write to now: the promoted replica once a running
    /// failover has promoted it, else the authoritative master.
    pub fn writable_master(&self) -> &Addr {
        if let Some(new) = self.failover.as_ref().and_then(|f| f.new) {
            if self.nodes[new].is_master() {
                return &self.nodes[new].addr;
            }
        }
        self.master()
    }

    /// The master being replaced by the running failover, if any.
    pub fn failing_over(&self) -> Option<&Addr> {
        self.failover.as_ref().map(|f| &self.nodes[f.old].addr)
    }

    /// True while a failover runs (from `+try-failover` to `+switch-master`).
    pub fn failover_in_progress(&self) -> bool {
        self.failover.is_some()
    }

    /// Open client connections (for reports).
    pub fn open_connections(&self) -> usize {
        self.conns
            .values()
            .filter(|c| c.state == ConnState::Open)
            .count()
    }

    /// Fires `fault` at virtual time `at`.
    pub fn schedule(&mut self, at: Instant, fault: Fault) {
        self.push(at, Ev::Fault(fault));
    }

    /// When the next world event is due, if any.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.queue.peek().map(|s| s.at)
    }

    fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// Re-queues a held event at `at` under its original sequence number, so events of one
    /// connection held by overlapping partitions or pauses keep their order (TCP never
    /// reorders).
    fn hold(&mut self, at: Instant, seq: u64, ev: Ev) {
        self.queue.push(Scheduled { at, seq, ev });
    }

    fn latency(&mut self, addr: &Addr) -> Duration {
        let base = self.rng.duration(self.spec.latency.0, self.spec.latency.1);
        match self.slow.get(addr) {
            Some((extra, until)) if self.now < *until => base + *extra,
            _ => base,
        }
    }

    fn sched_up(&mut self, conn: ConnId, bytes: Bytes) {
        let Some(addr) = self.conns.get(&conn).map(|c| c.addr.clone()) else {
            return;
        };
        let lat = self.latency(&addr);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let at = (self.now + lat).max(c.last_up + Duration::from_nanos(1));
        c.last_up = at;
        self.push(at, Ev::ToServer(conn, bytes));
    }

    fn sched_down(&mut self, conn: ConnId, ev: Ev) {
        let Some(addr) = self.conns.get(&conn).map(|c| c.addr.clone()) else {
            return;
        };
        let lat = self.latency(&addr);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let at = (self.now + lat).max(c.last_down + Duration::from_nanos(1));
        c.last_down = at;
        self.push(at, ev);
    }

    fn resolve(&self, addr: &Addr) -> Target {
        if let Some(i) = self.nodes.iter().position(|n| &n.addr == addr) {
            return Target::Node(i);
        }
        if let Some(i) = self.sentinels.iter().position(|s| &s.addr == addr) {
            return Target::Sentinel(i);
        }
        Target::Nowhere
    }

    fn sel(&self, s: NodeSel) -> usize {
        match s {
            NodeSel::CurrentMaster => self.master,
            NodeSel::Index(i) => i.min(self.nodes.len() - 1),
            NodeSel::Replica(pick) => {
                let reps: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| *i != self.master)
                    .collect();
                if reps.is_empty() {
                    self.master
                } else {
                    reps[pick % reps.len()]
                }
            }
        }
    }

    /// Takes one output of the client machine. `Err` describes a contract violation by the
    /// client (unknown connection, reused id, transmit before connect or after close).
    pub fn on_output(&mut self, out: &Output) -> Result<Sent, String> {
        match out {
            Output::Connect { conn, addr, kind } => {
                if self.conns.contains_key(conn) {
                    return Err(format!("Connect reuses connection id {conn:?}"));
                }
                let target = self.resolve(addr);
                self.conns.insert(
                    *conn,
                    Conn {
                        addr: addr.clone(),
                        kind: *kind,
                        target,
                        state: ConnState::Connecting,
                        session: Session::default(),
                        reader: CommandReader::default(),
                        tx_reader: CommandReader::default(),
                        last_up: self.now,
                        last_down: self.now,
                    },
                );
                self.sched_down(*conn, Ev::ConnectDone(*conn));
                Ok(Sent::default())
            }
            Output::Transmit { conn, bytes } => {
                let Some(c) = self.conns.get_mut(conn) else {
                    return Err(format!("Transmit on unknown connection {conn:?}"));
                };
                let mut sent = Sent {
                    addr: Some(c.addr.clone()),
                    kind: Some(c.kind),
                    writes: Vec::new(),
                };
                c.tx_reader.push(bytes);
                loop {
                    match c.tx_reader.next_command() {
                        Ok(Some(args)) => {
                            if let Some(name) = args.first() {
                                let name = super::session::upper(name);
                                if is_write(&name) {
                                    sent.writes.push(name);
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            return Err(format!(
                                "Transmit on {conn:?}: bytes are not a command: {}",
                                e.0
                            ))
                        }
                    }
                }
                match c.state {
                    ConnState::Open => self.sched_up(*conn, bytes.clone()),
                    ConnState::ServerClosed { delivered: false } => {}
                    other => {
                        return Err(format!(
                            "Transmit on {conn:?} in state {other:?} (not open)"
                        ))
                    }
                }
                Ok(sent)
            }
            Output::Close { conn } => {
                let Some(c) = self.conns.get_mut(conn) else {
                    return Err(format!("Close of unknown connection {conn:?}"));
                };
                c.state = ConnState::ClientClosed;
                c.session = Session::default();
                Ok(Sent::default())
            }
            _ => Ok(Sent::default()),
        }
    }

    /// Processes every event due at or before `now` and returns what the client must learn,
    /// in order.
    pub fn advance(&mut self, now: Instant) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Some(top) = self.queue.peek() {
            if top.at > now {
                break;
            }
            let Some(Scheduled { at, seq, ev }) = self.queue.pop() else {
                break;
            };
            self.now = self.now.max(at);
            self.replicate();
            self.events_processed += 1;
            self.process(seq, ev, &mut out);
        }
        self.now = self.now.max(now);
        self.replicate();
        out
    }

    /// If `conn`'s peer is partitioned from the client, the time the partition heals.
    fn held_until(&self, conn: ConnId) -> Option<Instant> {
        let c = self.conns.get(&conn)?;
        self.partitioned
            .get(&c.addr)
            .copied()
            .filter(|t| self.now < *t)
    }

    fn process(&mut self, seq: u64, ev: Ev, out: &mut Vec<Delivery>) {
        match ev {
            Ev::ConnectDone(conn) => {
                if let Some(t) = self.held_until(conn) {
                    return self.hold(t, seq, Ev::ConnectDone(conn));
                }
                let now = self.now;
                let refused = self.conns.get(&conn).is_some_and(|c| {
                    self.refusing.get(&c.addr).is_some_and(|t| now < *t)
                        || match c.target {
                            Target::Nowhere => true,
                            Target::Sentinel(i) => self.sentinels[i].down,
                            Target::Node(_) => false,
                        }
                });
                let auth_free = self.conns.get(&conn).map(|c| match c.target {
                    Target::Node(_) => self.spec.data_auth.is_none(),
                    Target::Sentinel(_) => self.spec.sentinel_auth.is_none(),
                    Target::Nowhere => false,
                });
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                if c.state != ConnState::Connecting {
                    return;
                }
                if refused {
                    c.state = ConnState::Failed;
                    out.push(Delivery::ConnectFailed(conn));
                } else {
                    c.state = ConnState::Open;
                    c.session.authed = auth_free.unwrap_or(false);
                    out.push(Delivery::Connected(conn));
                }
            }
            Ev::ToServer(conn, bytes) => self.server_receives(seq, conn, bytes),
            Ev::ToClient(conn, bytes, reveal) => {
                if let Some(t) = self.held_until(conn) {
                    return self.hold(t, seq, Ev::ToClient(conn, bytes, reveal));
                }
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                if matches!(
                    c.state,
                    ConnState::Open | ConnState::ServerClosed { delivered: false }
                ) {
                    out.push(Delivery::Received {
                        conn,
                        bytes,
                        reveals_not_master: reveal,
                    });
                }
            }
            Ev::Closed(conn) => {
                if let Some(t) = self.held_until(conn) {
                    return self.hold(t, seq, Ev::Closed(conn));
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    if c.state == (ConnState::ServerClosed { delivered: false }) {
                        c.state = ConnState::ServerClosed { delivered: true };
                        out.push(Delivery::Closed(conn));
                    }
                }
            }
            Ev::Fault(f) => self.fault(f),
            Ev::Heal(h) => self.heal(h),
            Ev::Failover(step) => self.failover_step(step),
        }
    }

    fn server_close(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // Connections still connecting are settled by their pending `ConnectDone`.
        if c.state == ConnState::Open {
            c.state = ConnState::ServerClosed { delivered: false };
            c.session = Session::default();
            self.sched_down(conn, Ev::Closed(conn));
        }
    }

    fn close_all_to(&mut self, target: Target) {
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.target == target && c.state == ConnState::Open)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.server_close(id);
        }
    }

    fn server_receives(&mut self, seq: u64, conn: ConnId, bytes: Bytes) {
        if let Some(t) = self.held_until(conn) {
            return self.hold(t, seq, Ev::ToServer(conn, bytes));
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.state != ConnState::Open {
            return;
        }
        let target = c.target;
        if let Target::Node(i) = target {
            if let Some(t) = self.nodes[i].paused_until.filter(|t| self.now < *t) {
                return self.hold(t, seq, Ev::ToServer(conn, bytes));
            }
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.reader.push(&bytes);
        let mut out = BytesMut::new();
        let mut reveal = None;
        let mut close = false;
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let args = match c.reader.next_command() {
                Ok(Some(a)) if a.is_empty() => continue,
                Ok(Some(a)) => a,
                Ok(None) => break,
                Err(e) => {
                    let msg =
                        Value::Error(Bytes::from(format!("ERR Protocol error: {}", e.0)).into());
                    encode_reply(&msg, c.session.resp3, &mut out);
                    close = true;
                    break;
                }
            };
            let mut session = std::mem::take(&mut c.session);
            match target {
                Target::Node(i) => {
                    let replicas = self.replicas_of(i);
                    let now = self.now;
                    let (replies, effect) =
                        self.nodes[i].execute(&mut session, &args, &replicas, now);
                    let mut replies = replies;
                    if self.trace {
                        let words: Vec<String> = args
                            .iter()
                            .map(|a| String::from_utf8_lossy(a).into_owned())
                            .collect();
                        let line = format!("{} -> {:?}", words.join(" "), replies);
                        self.trace_log
                            .push((now, self.nodes[i].addr.clone(), conn, line));
                    }
                    if let Some(NodeEffect::Publish { channel, message }) = &effect {
                        let n = self.publish_node(i, conn, &session, channel, message);
                        replies = vec![Value::Integer(n)];
                    }
                    if let Some(NodeEffect::ReplicaOf(of)) = effect {
                        self.replica_of(i, of);
                    }
                    for r in &replies {
                        if reveals(r) {
                            reveal = Some(self.nodes[i].addr.clone());
                        }
                        encode_reply(r, session.resp3, &mut out);
                    }
                }
                Target::Sentinel(i) => {
                    let replicas = self.sentinel_replicas(i);
                    let peers = self.sentinel_peers(i);
                    match self.sentinels[i].execute(&mut session, &args, &replicas, &peers) {
                        Ok(replies) => {
                            for r in &replies {
                                encode_reply(r, session.resp3, &mut out);
                            }
                        }
                        Err(garbage) => out.extend_from_slice(garbage),
                    }
                }
                Target::Nowhere => {}
            }
            let quit = session.quit;
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = session;
            }
            if quit {
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            self.sched_down(conn, Ev::ToClient(conn, out.freeze(), reveal));
        }
        if close {
            self.server_close(conn);
        }
    }

    fn replicas_of(&self, i: usize) -> Vec<(Addr, u64)> {
        let me = &self.nodes[i].addr;
        self.nodes
            .iter()
            .filter(|n| matches!(&n.role, NodeRole::Replica { of, .. } if of == me))
            .map(|n| (n.addr.clone(), n.offset))
            .collect()
    }

    fn sentinel_replicas(&self, si: usize) -> Vec<ReplicaInfo> {
        let view = &self.sentinels[si].master;
        self.nodes
            .iter()
            .filter(|n| &n.addr != view)
            .map(|n| {
                let down = n.is_paused(self.now);
                let link_ok = !down
                    && matches!(&n.role, NodeRole::Replica { of, link_up: true } if of == view);
                ReplicaInfo {
                    addr: n.addr.clone(),
                    down,
                    link_ok,
                    offset: n.offset,
                }
            })
            .collect()
    }

    fn sentinel_peers(&self, si: usize) -> Vec<PeerInfo> {
        self.sentinels
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != si)
            .map(|(_, s)| PeerInfo {
                addr: s.addr.clone(),
                run_id: s.run_id.clone(),
                down: s.down,
            })
            .collect()
    }

    fn publish_node(
        &mut self,
        node: usize,
        from: ConnId,
        from_session: &Session,
        channel: &[u8],
        msg: &[u8],
    ) -> i64 {
        let mut n = 0;
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.target == Target::Node(node) && c.state == ConnState::Open)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let msgs = if id == from {
                deliveries(from_session, channel, msg)
            } else {
                deliveries(&self.conns[&id].session, channel, msg)
            };
            n += msgs.len() as i64;
            if id != from {
                self.send_values(id, &msgs);
            }
            // The publisher's own copy is not delivered: a publisher in RESP3 could also be a
            // subscriber, but the simulated workloads never do that.
        }
        n
    }

    fn send_values(&mut self, conn: ConnId, values: &[Value]) {
        if values.is_empty() {
            return;
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let mut out = BytesMut::new();
        for v in values {
            encode_reply(v, c.session.resp3, &mut out);
        }
        self.sched_down(conn, Ev::ToClient(conn, out.freeze(), None));
    }

    /// Publishes a sentinel event (`channel`, `payload`) from sentinel `si`.
    fn sentinel_event(&mut self, si: usize, channel: &str, payload: &str) {
        if self.sentinels[si].down {
            return;
        }
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.target == Target::Sentinel(si) && c.state == ConnState::Open)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let msgs = deliveries(
                &self.conns[&id].session,
                channel.as_bytes(),
                payload.as_bytes(),
            );
            self.send_values(id, &msgs);
        }
    }

    fn replica_of(&mut self, i: usize, of: Option<Addr>) {
        match of {
            None => {
                if !self.nodes[i].is_master() {
                    self.nodes[i].promote();
                }
            }
            Some(addr) => match self.nodes.iter().position(|n| n.addr == addr) {
                Some(m) if m != i => {
                    let master = self.nodes[m].clone_for_sync();
                    self.nodes[i].full_resync_from(&master);
                }
                _ => {
                    self.nodes[i].role = NodeRole::Replica {
                        of: addr,
                        link_up: false,
                    }
                }
            },
        }
    }

    /// Applies replication progress up to `self.now`: each replica takes its master's writes
    /// older than its lag.
    fn replicate(&mut self) {
        let now = self.now;
        for i in 0..self.nodes.len() {
            let NodeRole::Replica { of, link_up: true } = &self.nodes[i].role else {
                continue;
            };
            let Some(m) = self.nodes.iter().position(|n| &n.addr == of) else {
                continue;
            };
            if !self.nodes[m].is_master()
                || self.nodes[m].is_paused(now)
                || self.nodes[i].is_paused(now)
            {
                continue;
            }
            let lag = self.lags[i];
            let mut ops = Vec::new();
            let mut off = self.nodes[i].offset;
            while off < self.nodes[m].offset {
                match self.nodes[m].backlog_after(off) {
                    Some((t, op)) if *t + lag <= now => {
                        ops.push(op.clone());
                        off += 1;
                    }
                    Some(_) => break,
                    None => {
                        // History the master no longer has: full resync.
                        let snap = self.nodes[m].clone_for_sync();
                        self.nodes[i].full_resync_from(&snap);
                        ops.clear();
                        break;
                    }
                }
            }
            for op in &ops {
                self.nodes[i].apply(op);
            }
        }
    }

    fn fault(&mut self, f: Fault) {
        let now = self.now;
        match f {
            Fault::ForcedFailover { leader } => self.forced_failover(leader, Duration::ZERO),
            Fault::StalledFailover { leader, stall } => self.forced_failover(leader, stall),
            Fault::DropConnections(sel) => {
                let i = self.sel(sel);
                self.close_all_to(Target::Node(i));
            }
            Fault::DropSentinelConnections(i) => {
                if !self.sentinels.is_empty() {
                    self.close_all_to(Target::Sentinel(i % self.sentinels.len()));
                }
            }
            Fault::DropOneConnection { pick } => {
                let open: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| c.state == ConnState::Open)
                    .map(|(id, _)| *id)
                    .collect();
                if !open.is_empty() {
                    let id = open[(pick % open.len() as u64) as usize];
                    self.server_close(id);
                }
            }
            Fault::RefuseConnects(sel, d) => {
                let addr = self.nodes[self.sel(sel)].addr.clone();
                self.refusing.insert(addr.clone(), now + d);
                self.push(now + d, Ev::Heal(Heal::Refuse(addr)));
            }
            Fault::Partition(sel, d) => {
                let addr = self.nodes[self.sel(sel)].addr.clone();
                self.partition(addr, d);
            }
            Fault::PartitionSentinel(i, d) => {
                if !self.sentinels.is_empty() {
                    let addr = self.sentinels[i % self.sentinels.len()].addr.clone();
                    self.partition(addr, d);
                }
            }
            Fault::Pause(sel, d) => {
                let i = self.sel(sel);
                let until = now + d;
                self.nodes[i].paused_until =
                    Some(self.nodes[i].paused_until.map_or(until, |t| t.max(until)));
                if i == self.master && d > self.spec.down_after {
                    self.push(
                        now + self.spec.down_after,
                        Ev::Failover(Step::AutoStart { old: i }),
                    );
                }
            }
            Fault::Slow(sel, extra, d) => {
                let addr = self.nodes[self.sel(sel)].addr.clone();
                self.slow.insert(addr.clone(), (extra, now + d));
                self.push(now + d, Ev::Heal(Heal::Slow(addr)));
            }
            Fault::Sentinel(i, b, d) => {
                if !self.sentinels.is_empty() {
                    let i = i % self.sentinels.len();
                    self.sentinels[i].behavior = b;
                    self.push(now + d, Ev::Heal(Heal::Sentinel(i)));
                }
            }
            Fault::SentinelDown(i, d) => {
                if !self.sentinels.is_empty() {
                    let i = i % self.sentinels.len();
                    self.sentinel_down(i, d);
                }
            }
            Fault::AllSentinelsDown(d) => {
                for i in 0..self.sentinels.len() {
                    self.sentinel_down(i, d);
                }
            }
            Fault::MasterTurnsReplica(d) => {
                if self.failover.is_none() {
                    let m = self.master;
                    self.nodes[m].role = NodeRole::Replica {
                        of: Addr::new(HOST, 1),
                        link_up: false,
                    };
                    let count = self.failovers.len();
                    self.push(now + d, Ev::Heal(Heal::MasterBack(m, count)));
                }
            }
            Fault::Loading(sel, d) => {
                let i = self.sel(sel);
                self.nodes[i].loading_until = Some(now + d);
            }
            Fault::Publish(sel, channel, message) => {
                let i = self.sel(sel);
                let nobody = Session::default();
                self.publish_node(
                    i,
                    ConnId(u64::MAX),
                    &nobody,
                    channel.as_bytes(),
                    message.as_bytes(),
                );
            }
        }
    }

    fn partition(&mut self, addr: Addr, d: Duration) {
        let until = self.now + d;
        let t = self
            .partitioned
            .get(&addr)
            .map_or(until, |t| (*t).max(until));
        self.partitioned.insert(addr.clone(), t);
        self.push(t, Ev::Heal(Heal::Partition(addr)));
    }

    fn sentinel_down(&mut self, i: usize, d: Duration) {
        self.sentinels[i].down = true;
        self.close_all_to(Target::Sentinel(i));
        self.push(self.now + d, Ev::Heal(Heal::SentinelUp(i)));
    }

    fn heal(&mut self, h: Heal) {
        let now = self.now;
        match h {
            Heal::Refuse(a) => {
                if self.refusing.get(&a).is_some_and(|t| *t <= now) {
                    self.refusing.remove(&a);
                }
            }
            Heal::Partition(a) => {
                if self.partitioned.get(&a).is_some_and(|t| *t <= now) {
                    self.partitioned.remove(&a);
                }
            }
            Heal::Slow(a) => {
                if self.slow.get(&a).is_some_and(|(_, t)| *t <= now) {
                    self.slow.remove(&a);
                }
            }
            Heal::Sentinel(i) => self.sentinels[i].behavior = Behavior::Honest,
            Heal::SentinelUp(i) => {
                let leads = self.failover.as_ref().is_some_and(|f| f.leader == i);
                if self.sentinels[i].down && leads {
                    // The failover it leads goes on in the simulation, so it comes back as a
                    // sentinel that was only unreachable: its view, failover state included,
                    // is kept (a real restart would abandon the failover instead).
                    self.sentinels[i].down = false;
                } else if self.sentinels[i].down {
                    self.sentinels[i].down = false;
                    // A restarted sentinel reloads the current configuration.
                    self.sentinels[i].master = self.nodes[self.master].addr.clone();
                    self.sentinels[i].epoch = self.config_epoch;
                    self.sentinels[i].switching_from = None;
                    self.sentinels[i].failover_state = None;
                }
            }
            Heal::MasterBack(m, failovers_then) => {
                // Sentinel restores its master's role, unless a failover replaced it meanwhile.
                if !self.nodes[m].is_master()
                    && m == self.master
                    && self.failovers.len() == failovers_then
                {
                    self.nodes[m].promote();
                }
            }
        }
    }

    fn forced_failover(&mut self, leader: usize, stall: Duration) {
        if self.failover.is_none() && !self.sentinels.is_empty() {
            let leader = leader % self.sentinels.len();
            if !self.sentinels[leader].down {
                self.begin_failover(leader, false);
                if let Some(run) = self.failover.as_mut() {
                    run.stall = stall;
                }
                self.failover_step(Step::Start);
            }
        }
    }

    /// Sets the failover state the leader's `SENTINEL MASTER` entry shows.
    fn leader_state(&mut self, leader: usize, state: Option<&'static str>) {
        if let Some(s) = self.sentinels.get_mut(leader) {
            s.failover_state = state;
        }
    }

    fn begin_failover(&mut self, leader: usize, automatic: bool) {
        self.epoch += 1;
        self.failovers.push(FailoverRecord {
            started: self.now,
            selected_at: None,
            old: self.nodes[self.master].addr.clone(),
            new: None,
            switched_at: None,
            demoted_at: None,
            aborted: false,
            automatic,
        });
        self.failover = Some(FailoverRun {
            leader,
            old: self.master,
            new: None,
            epoch: self.epoch,
            record: self.failovers.len() - 1,
            stall: Duration::ZERO,
        });
        self.leader_state(leader, Some("wait_start"));
    }

    fn after(&mut self, lo_ms: u64, hi_ms: u64, step: Step) {
        let d = self
            .rng
            .duration(Duration::from_millis(lo_ms), Duration::from_millis(hi_ms));
        self.push(self.now + d, Ev::Failover(step));
    }

    /// Runs one step of Sentinel's failover state machine, publishing the events Redis
    /// publishes, in its order.
    fn failover_step(&mut self, step: Step) {
        let svc = self.spec.service.clone();
        if let Step::AutoStart { old } = step {
            if self.failover.is_some() || old != self.master || !self.nodes[old].is_paused(self.now)
            {
                return;
            }
            let up: Vec<usize> = (0..self.sentinels.len())
                .filter(|i| !self.sentinels[*i].down)
                .collect();
            let quorum = self.sentinels.len() / 2 + 1;
            let m = master_details(&svc, &self.nodes[old].addr);
            for &i in &up {
                self.sentinel_event(i, "+sdown", &m);
            }
            if up.len() < quorum {
                return;
            }
            for &i in &up {
                self.sentinel_event(i, "+odown", &format!("{m} #quorum {}/{}", up.len(), quorum));
            }
            let Some(li) = self.rng.index(up.len()) else {
                return;
            };
            let leader = up[li];
            self.begin_failover(leader, true);
            let epoch = self.epoch;
            let leader_id = self.sentinels[leader].run_id.clone();
            for &i in &up {
                self.sentinel_event(i, "+new-epoch", &epoch.to_string());
                self.sentinel_event(i, "+try-failover", &m);
                if i != leader {
                    self.sentinel_event(i, "+vote-for-leader", &format!("{leader_id} {epoch}"));
                }
            }
            return self.after(100, 400, Step::Select);
        }
        if let Step::ConfigUpdate(si, epoch) = step {
            // As Sentinel: a hello only moves a sentinel to a configuration of a higher epoch
            // than its own, and the leader of a running failover has already claimed a
            // higher one. Without this, a late update of an earlier failover would move a
            // sentinel backwards and announce a `+switch-master` no real sentinel sends.
            let leads = self.failover.as_ref().is_some_and(|f| f.leader == si);
            if leads || self.sentinels[si].epoch >= epoch {
                return;
            }
            let new = self.nodes[self.master].addr.clone();
            let old = self.sentinels[si].master.clone();
            if old != new {
                self.sentinels[si].master = new.clone();
                self.sentinels[si].epoch = self.config_epoch;
                let from = self
                    .sentinels
                    .iter()
                    .enumerate()
                    .find(|(j, s)| *j != si && s.master == new)
                    .map(|(_, s)| (s.run_id.clone(), s.addr.clone()));
                if let Some((id, a)) = from {
                    self.sentinel_event(
                        si,
                        "+config-update-from",
                        &format!(
                            "sentinel {id} {} {} @ {svc} {} {}",
                            a.host, a.port, old.host, old.port
                        ),
                    );
                }
                self.sentinel_event(si, "+switch-master", &switch_master(&svc, &old, &new));
            }
            return;
        }
        if let Step::Demote { old, new, record } = step {
            if let Some(t) = self.nodes[old].paused_until.filter(|t| self.now < *t) {
                let d = self.rng.duration(Duration::ZERO, Duration::from_secs(1));
                return self.push(t + d, Ev::Failover(step));
            }
            if self.nodes[old].is_master() && self.master == new {
                let leader = self.sentinels.iter().position(|s| !s.down).unwrap_or(0);
                let details = replica_details(&svc, &self.nodes[old].addr, &self.nodes[new].addr);
                self.sentinel_event(leader, "+convert-to-slave", &details);
                let snap = self.nodes[new].clone_for_sync();
                self.nodes[old].full_resync_from(&snap);
                self.close_all_to(Target::Node(old));
                self.failovers[record].demoted_at = Some(self.now);
            }
            return;
        }
        let Some(run) = self.failover.as_ref() else {
            return;
        };
        let (leader, old, epoch, record) = (run.leader, run.old, run.epoch, run.record);
        let old_addr = self.nodes[old].addr.clone();
        let m = master_details(&svc, &old_addr);
        match step {
            Step::Start => {
                self.sentinel_event(leader, "+new-epoch", &epoch.to_string());
                self.sentinel_event(leader, "+try-failover", &m);
                self.after(50, 150, Step::Select);
            }
            Step::Select => {
                let now = self.now;
                let candidate = (0..self.nodes.len())
                    .filter(|i| {
                        let n = &self.nodes[*i];
                        matches!(&n.role, NodeRole::Replica { of, .. } if *of == old_addr)
                            && !n.is_paused(now)
                            && n.loading_until.is_none_or(|t| now >= t)
                    })
                    .max_by_key(|i| (self.nodes[*i].offset, std::cmp::Reverse(*i)));
                let Some(new) = candidate else {
                    self.sentinel_event(leader, "-failover-abort-no-good-slave", &m);
                    self.failovers[record].aborted = true;
                    self.failover = None;
                    self.leader_state(leader, None);
                    return;
                };
                if let Some(r) = self.failover.as_mut() {
                    r.new = Some(new);
                }
                let d = replica_details(&svc, &self.nodes[new].addr, &old_addr);
                self.sentinel_event(leader, "+elected-leader", &m);
                self.sentinel_event(leader, "+failover-state-select-slave", &m);
                self.sentinel_event(leader, "+selected-slave", &d);
                self.sentinel_event(leader, "+failover-state-send-slaveof-noone", &d);
                self.failovers[record].selected_at = Some(self.now);
                self.failovers[record].new = Some(self.nodes[new].addr.clone());
                self.leader_state(leader, Some("send_slaveof_noone"));
                // A stalled leader (TILT) resumes where it stopped, promoting the replica.
                let stall = run_stall(&self.failover);
                let d = self
                    .rng
                    .duration(Duration::from_millis(50), Duration::from_millis(150));
                self.push(self.now + stall + d, Ev::Failover(Step::SendNoOne));
            }
            Step::SendNoOne => {
                let Some(new) = run.new else { return };
                // The replica stops replicating the moment it is promoted: later writes
                // acknowledged by the old master exist only there.
                self.nodes[new].promote();
                self.close_all_to(Target::Node(new));
                let d = replica_details(&svc, &self.nodes[new].addr, &old_addr);
                self.sentinel_event(leader, "+failover-state-wait-promotion", &d);
                self.leader_state(leader, Some("wait_promotion"));
                self.after(100, 1000, Step::Promoted);
            }
            Step::Promoted => {
                let Some(new) = run.new else { return };
                let d = replica_details(&svc, &self.nodes[new].addr, &old_addr);
                self.sentinel_event(
                    leader,
                    "-role-change",
                    &format!("{d} new reported role is master"),
                );
                self.sentinel_event(leader, "+promoted-slave", &d);
                self.sentinel_event(leader, "+failover-state-reconf-slaves", &m);
                // From here the leader advertises the promoted replica, and its configuration
                // carries the failover's epoch (Redis sets the master's config epoch when it
                // sees the promotion); its `SENTINEL MASTER` entry still names the old address.
                self.sentinels[leader].master = self.nodes[new].addr.clone();
                self.sentinels[leader].switching_from = Some(old_addr.clone());
                self.sentinels[leader].failover_state = Some("reconf_slaves");
                self.sentinels[leader].epoch = epoch;
                let snap = self.nodes[new].clone_for_sync();
                for r in 0..self.nodes.len() {
                    if r != new && r != old {
                        let rd = replica_details(&svc, &self.nodes[r].addr, &old_addr);
                        self.sentinel_event(leader, "+slave-reconf-sent", &rd);
                        self.nodes[r].full_resync_from(&snap);
                        self.close_all_to(Target::Node(r));
                    }
                }
                self.after(200, 1000, Step::Done);
            }
            Step::Done => {
                let Some(new) = run.new else { return };
                let new_addr = self.nodes[new].addr.clone();
                for r in 0..self.nodes.len() {
                    if r != new && r != old {
                        let rd = replica_details(&svc, &self.nodes[r].addr, &old_addr);
                        self.sentinel_event(leader, "+slave-reconf-inprog", &rd);
                        self.sentinel_event(leader, "+slave-reconf-done", &rd);
                    }
                }
                self.sentinel_event(leader, "+failover-end", &m);
                self.sentinel_event(
                    leader,
                    "+switch-master",
                    &switch_master(&svc, &old_addr, &new_addr),
                );
                self.sentinels[leader].master = new_addr.clone();
                self.sentinels[leader].epoch = epoch;
                self.sentinels[leader].switching_from = None;
                self.sentinels[leader].failover_state = None;
                self.master = new;
                self.config_epoch = epoch;
                for r in 0..self.nodes.len() {
                    if r != new {
                        let rd = replica_details(&svc, &self.nodes[r].addr, &new_addr);
                        self.sentinel_event(leader, "+slave", &rd);
                    }
                }
                self.failovers[record].switched_at = Some(self.now);
                self.failover = None;
                for si in 0..self.sentinels.len() {
                    if si != leader {
                        self.after(200, 2000, Step::ConfigUpdate(si, epoch));
                    }
                }
                let p = self.spec.info_period.as_millis() as u64;
                self.after(
                    p.saturating_sub(1000),
                    p + 1000,
                    Step::Demote { old, new, record },
                );
            }
            Step::AutoStart { .. } | Step::ConfigUpdate(..) | Step::Demote { .. } => {}
        }
    }
}

fn run_stall(run: &Option<FailoverRun>) -> Duration {
    run.as_ref().map_or(Duration::ZERO, |r| r.stall)
}

impl DataNode {
    /// A copy of the node's dataset and offset, enough to resynchronise a replica from it.
    fn clone_for_sync(&self) -> DataNode {
        let mut n = DataNode::new(self.addr.clone(), self.role.clone(), NodeOptions::default());
        n.data = self.data.clone();
        n.offset = self.offset;
        n
    }
}

/// Commands the simulated nodes treat as writes.
pub fn is_write(name: &str) -> bool {
    matches!(name, "SET" | "INCR" | "INCRBY" | "DECR" | "DEL")
}

/// True when a reply tells the client the node is not a master.
fn reveals(v: &Value) -> bool {
    match v {
        Value::Error(e) => {
            e.starts_with(READONLY.split(' ').next().unwrap_or("READONLY").as_bytes())
        }
        Value::Array(items) => matches!(items.first(), Some(Value::Bulk(b)) if &b[..] == b"slave"),
        _ => false,
    }
}
