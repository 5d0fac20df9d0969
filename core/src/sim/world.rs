//! The simulated world, composing the parts that live in their own modules: data nodes and
//! their [replication](super::replication), sentinels, the [network](super::network) between
//! them and the client, [faults](super::faults) and Sentinel's [failover](super::failover)
//! procedure, all on one agenda of virtual-time events drawn from one seed.
//!
//! This module holds the [`World`] itself: building it from a [`WorldSpec`], taking the
//! client's outputs, advancing time, and the servers' side of a connection (running the
//! commands that arrive on data nodes and sentinels, and publishing to subscribers).

use super::agenda::Agenda;
use super::failover::{Failover, FailoverRecord, Step};
use super::faults::{Fault, Heal};
use super::network::{Delivery, NetEv, Network, Sent, Target};
use super::node::{DataNode, NodeEffect, NodeOptions, NodeRole, READONLY};
use super::replication::Replication;
use super::rng::Rng;
use super::sentinel::{PeerInfo, ReplicaInfo, SimSentinel};
use super::session::{deliveries, Credentials, HelloSupport, Session};
use super::wire::encode_reply;
use crate::sentinel::{Addr, ConnId, Output};
use crate::Value;
use bytes::{Bytes, BytesMut};
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
    /// One message in `segment` on a data connection (either way) is cut in two, as TCP may
    /// deliver it (see [`segment`](super::segment)); 0: never.
    pub segment: u32,
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
            segment: 8,
        }
    }
}

/// Host of every simulated server.
pub(super) const HOST: &str = "127.0.0.1";

/// An event on the world's agenda.
pub(super) enum Ev {
    /// Something in flight on a connection arrives.
    Net(NetEv),
    /// A scheduled fault fires.
    Fault(Fault),
    /// A timed fault ends.
    Heal(Heal),
    /// The next step of a failover is due.
    Failover(Step),
}

/// The whole simulated deployment and its network.
///
/// Its parts are shared with the sibling modules that implement the world's behaviour around
/// them ([`faults`](super::faults), [`failover`](super::failover)).
pub struct World {
    pub(super) spec: WorldSpec,
    pub(super) now: Instant,
    /// The one source of randomness after construction: latencies and failover delays.
    pub(super) rng: Rng,
    pub(super) agenda: Agenda<Ev>,
    pub(super) net: Network,
    pub(super) repl: Replication,
    pub(super) sentinels: Vec<SimSentinel>,
    /// Index of the authoritative master: the one the leader sentinel switched to last.
    pub(super) master: usize,
    pub(super) failover: Failover,
    /// Events processed so far, for step counts in reports.
    pub events_processed: u64,
    /// When set, commands executed on data nodes are logged in [`World::trace_log`].
    pub trace: bool,
    /// (time, node, connection, command words) of executed data-node commands, when tracing.
    pub trace_log: Vec<(Instant, Addr, ConnId, String)>,
}

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
        let repl = Replication::new(
            master_addr.clone(),
            spec.replicas,
            opts,
            spec.repl_lag,
            &mut rng,
        );
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
            net: Network::new(spec.latency),
            spec,
            now: start,
            rng,
            agenda: Agenda::new(),
            repl,
            sentinels,
            master: 0,
            failover: Failover::new(),
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
        &self.repl[self.master].addr
    }

    /// All data nodes.
    pub fn nodes(&self) -> &[DataNode] {
        self.repl.nodes()
    }

    /// Mutable access to data nodes, to set options (e.g. `-LOADING`) in tests.
    pub fn nodes_mut(&mut self) -> &mut [DataNode] {
        self.repl.nodes_mut()
    }

    /// The data node at `addr`.
    pub fn node(&self, addr: &Addr) -> Option<&DataNode> {
        self.repl.nodes().iter().find(|n| &n.addr == addr)
    }

    /// All sentinels.
    pub fn sentinels(&self) -> &[SimSentinel] {
        &self.sentinels
    }

    /// Failovers so far.
    pub fn failovers(&self) -> &[FailoverRecord] {
        self.failover.records()
    }

    /// The node a correct client may write to now: the promoted replica once a running
    /// failover has promoted it, else the authoritative master.
    pub fn writable_master(&self) -> &Addr {
        if let Some(new) = self.failover.selected() {
            if self.repl[new].is_master() {
                return &self.repl[new].addr;
            }
        }
        self.master()
    }

    /// The master being replaced by the running failover, if any.
    pub fn failing_over(&self) -> Option<&Addr> {
        self.failover.replacing().map(|old| &self.repl[old].addr)
    }

    /// True while a failover runs (from `+try-failover` to `+switch-master`).
    pub fn failover_in_progress(&self) -> bool {
        self.failover.in_progress()
    }

    /// Open client connections (for reports).
    pub fn open_connections(&self) -> usize {
        self.net.open_count()
    }

    /// Fires `fault` at virtual time `at`.
    pub fn schedule(&mut self, at: Instant, fault: Fault) {
        self.agenda.push(at, Ev::Fault(fault));
    }

    /// When the next world event is due, if any.
    pub fn next_event_at(&self) -> Option<Instant> {
        self.agenda.next_at()
    }

    /// Takes one output of the client machine. `Err` describes a contract violation by the
    /// client (unknown connection, reused id, transmit before connect or after close).
    pub fn on_output(&mut self, out: &Output) -> Result<Sent, String> {
        match out {
            Output::Connect { conn, addr, kind } => {
                let target = self.resolve(addr);
                self.net.connect(*conn, addr, *kind, target, self.now)?;
                self.send_to_client(NetEv::ConnectDone(*conn));
                Ok(Sent::default())
            }
            Output::Transmit { conn, bytes } => {
                let (sent, travels) = self.net.transmit(*conn, bytes)?;
                if travels {
                    self.send_up(*conn, bytes.clone());
                }
                Ok(sent)
            }
            Output::Close { conn } => {
                self.net.close(*conn)?;
                Ok(Sent::default())
            }
            _ => Ok(Sent::default()),
        }
    }

    /// Processes every event due at or before `now` and returns what the client must learn,
    /// in order.
    pub fn advance(&mut self, now: Instant) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Some((at, seq, ev)) = self.agenda.pop_due(now) {
            self.now = self.now.max(at);
            self.repl.catch_up(self.now);
            self.events_processed += 1;
            match ev {
                Ev::Net(ev) => self.arrive(seq, ev, &mut out),
                Ev::Fault(f) => self.apply_fault(f),
                Ev::Heal(h) => self.heal(h),
                Ev::Failover(step) => self.failover_step(step),
            }
        }
        self.now = self.now.max(now);
        self.repl.catch_up(self.now);
        out
    }

    /// The server listening at `addr`.
    fn resolve(&self, addr: &Addr) -> Target {
        if let Some(i) = self.repl.position(addr) {
            return Target::Node(i);
        }
        if let Some(i) = self.sentinels.iter().position(|s| &s.addr == addr) {
            return Target::Sentinel(i);
        }
        Target::Nowhere
    }

    /// Sends `ev` from a server to the client over its connection.
    fn send_to_client(&mut self, ev: NetEv) {
        self.send_after(ev, Duration::ZERO);
    }

    /// Sends `ev` from a server to the client `delay` from now.
    pub(super) fn send_after(&mut self, ev: NetEv, delay: Duration) {
        if let Some(at) = self.net.down_at(ev.conn(), &mut self.rng, self.now + delay) {
            self.agenda.push(at, Ev::Net(ev));
        }
    }

    /// Something in flight arrives, unless a partition holds it (under its sequence number,
    /// so the connection stays in order).
    fn arrive(&mut self, seq: u64, ev: NetEv, out: &mut Vec<Delivery>) {
        if let Some(t) = self.net.held_until(ev.conn(), self.now) {
            return self.agenda.hold(t, seq, Ev::Net(ev));
        }
        let delivery = match ev {
            NetEv::ConnectDone(conn) => {
                let data_free = self.spec.data_auth.is_none();
                let sentinel_free = self.spec.sentinel_auth.is_none();
                let sentinels = &self.sentinels;
                self.net
                    .settle_connect(conn, self.now, |target| match target {
                        Target::Node(_) => Some(data_free),
                        Target::Sentinel(i) => (!sentinels[i].down).then_some(sentinel_free),
                        Target::Nowhere => None,
                    })
            }
            NetEv::ToServer(conn, bytes) => return self.server_receives(seq, conn, bytes),
            NetEv::ToClient(conn, bytes, reveal) => self.net.receive(conn, bytes, reveal),
            NetEv::Closed(conn) => self.net.closed(conn),
        };
        out.extend(delivery);
    }

    /// The server closes `conn` (if open); the close travels to the client.
    pub(super) fn server_close(&mut self, conn: ConnId) {
        if self.net.server_close(conn) {
            self.send_to_client(NetEv::Closed(conn));
        }
    }

    /// The server `target` closes every open client connection.
    pub(super) fn close_all_to(&mut self, target: Target) {
        for id in self.net.open_to(target) {
            self.server_close(id);
        }
    }

    /// Bytes reach the server of `conn`: it runs every complete command (a paused node holds
    /// them until it resumes) and sends the replies back in one message (a data node's now and
    /// then in two, see [`segment`](super::segment)).
    fn server_receives(&mut self, seq: u64, conn: ConnId, bytes: Bytes) {
        let Some(target) = self.net.serving(conn) else {
            return;
        };
        if let Target::Node(i) = target {
            if let Some(t) = self.repl[i].paused_until.filter(|t| self.now < *t) {
                return self
                    .agenda
                    .hold(t, seq, Ev::Net(NetEv::ToServer(conn, bytes)));
            }
        }
        self.net.feed(conn, &bytes);
        let mut out = BytesMut::new();
        let mut reveal = None;
        // Where each data-node command's replies end, and whether they revealed so far.
        let mut marks = Vec::new();
        let mut close = false;
        loop {
            let Some(next) = self.net.next_command(conn) else {
                return;
            };
            let args = match next {
                Ok(Some(a)) if a.is_empty() => continue,
                Ok(Some(a)) => a,
                Ok(None) => break,
                Err(e) => {
                    let msg =
                        Value::Error(Bytes::from(format!("ERR Protocol error: {}", e.0)).into());
                    let resp3 = self.net.session(conn).is_some_and(|s| s.resp3);
                    encode_reply(&msg, resp3, &mut out);
                    close = true;
                    break;
                }
            };
            let mut session = self.net.take_session(conn);
            match target {
                Target::Node(i) => {
                    if self.node_executes(i, conn, &mut session, &args, &mut out) {
                        reveal = Some(self.repl[i].addr.clone());
                    }
                    marks.push((out.len(), reveal.is_some()));
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
            self.net.restore_session(conn, session);
            if quit {
                close = true;
                break;
            }
        }
        if !out.is_empty() {
            self.send_replies(conn, out.freeze(), &marks, reveal);
        }
        if close {
            self.server_close(conn);
        }
    }

    /// Data node `i` runs `args` for `conn` and encodes the replies into `out`, applying the
    /// command's effect on the world. True when a reply reveals the node is not a master.
    fn node_executes(
        &mut self,
        i: usize,
        conn: ConnId,
        session: &mut Session,
        args: &[Bytes],
        out: &mut BytesMut,
    ) -> bool {
        let replicas = self.repl.replicas_of(i);
        let now = self.now;
        // What an `EXEC` runs, for the trace.
        let queued = session.multi.as_ref().map(|m| m.queued.clone());
        let (mut replies, effect) = self.repl[i].execute(session, args, &replicas, now);
        if self.trace {
            let words = |args: &[Bytes]| {
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let mut line = words(args);
            if let (Some(q), true) = (queued, args[0].eq_ignore_ascii_case(b"EXEC")) {
                let cmds: Vec<String> = q.iter().map(|c| words(c)).collect();
                line = format!("{line} [{} ]", cmds.join(" ; "));
            }
            let line = format!("{line} -> {replies:?}");
            let addr = self.repl[i].addr.clone();
            self.trace_log.push((now, addr, conn, line));
        }
        match effect {
            Some(NodeEffect::Publish { channel, message }) => {
                let n = self.publish_node(i, conn, session, &channel, &message);
                replies = vec![Value::Integer(n)];
            }
            Some(NodeEffect::ReplicaOf(of)) => self.repl.replica_of(i, of),
            None => {}
        }
        let mut revealed = false;
        for r in &replies {
            revealed |= reveals(r);
            encode_reply(r, session.resp3, out);
        }
        revealed
    }

    /// What sentinel `si` reports about the replicas of the master it knows.
    fn sentinel_replicas(&self, si: usize) -> Vec<ReplicaInfo> {
        let view = &self.sentinels[si].master;
        self.repl
            .nodes()
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

    /// What sentinel `si` reports about the other sentinels.
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

    /// Publishes `msg` on `channel` through data node `node` from connection `from` (whose
    /// session is `from_session` while its command runs); returns the number of receivers.
    pub(super) fn publish_node(
        &mut self,
        node: usize,
        from: ConnId,
        from_session: &Session,
        channel: &[u8],
        msg: &[u8],
    ) -> i64 {
        let mut n = 0;
        for id in self.net.open_to(Target::Node(node)) {
            let session = if id == from {
                Some(from_session)
            } else {
                self.net.session(id)
            };
            let msgs = session.map_or_else(Vec::new, |s| deliveries(s, channel, msg));
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
        let Some(session) = self.net.session(conn) else {
            return;
        };
        let mut out = BytesMut::new();
        for v in values {
            encode_reply(v, session.resp3, &mut out);
        }
        self.send_to_client(NetEv::ToClient(conn, out.freeze(), None));
    }

    /// Publishes a sentinel event (`channel`, `payload`) from sentinel `si`.
    pub(super) fn sentinel_event(&mut self, si: usize, channel: &str, payload: &str) {
        if self.sentinels[si].down {
            return;
        }
        for id in self.net.open_to(Target::Sentinel(si)) {
            let msgs = self.net.session(id).map_or_else(Vec::new, |s| {
                deliveries(s, channel.as_bytes(), payload.as_bytes())
            });
            self.send_values(id, &msgs);
        }
    }
}

/// True when a reply tells the client the node is not a master: `-READONLY` (also as the
/// reason `EXEC` gives for discarding a transaction) or a `ROLE` reply saying replica.
fn reveals(v: &Value) -> bool {
    let readonly = READONLY.split(' ').next().unwrap_or("READONLY").as_bytes();
    match v {
        Value::Error(e) => {
            let reason = e
                .strip_prefix(b"EXECABORT Transaction discarded because of: ".as_slice())
                .unwrap_or(e);
            reason.starts_with(readonly)
        }
        Value::Array(items) => matches!(items.first(), Some(Value::Bulk(b)) if &b[..] == b"slave"),
        _ => false,
    }
}
