//! The state machine proper: its state, public API and input dispatch.
//!
//! The per-concern logic lives next door: `walk.rs` (asking sentinels), `epoch.rs` (judging
//! their answers: config epochs, replaced masters, second opinions), `node.rs` (data
//! connection handshake and commands), `fence.rs` (failover fence and sentinel notices),
//! `watch.rs` (a notice subscription on every sentinel), `pubsub.rs` (the caller's pub/sub),
//! `replicas.rs`, `timers.rs`.

use super::backoff::{BackoffState, Rng};
use super::config::Config;
use super::conn::{Conn, Pending, Queued, Use};
use super::discovery::{Discovered, Target};
use super::epoch::Replaced;
use super::error::{CommandError, DiscoveryError};
use super::fence::Fence;
use super::io::{Addr, ConnId, Event, Input, Output, PeerKind, RequestId, Role};
use super::walk::Walk;
use super::watch::{Seen, Watch};
use crate::{Cmd, ProtocolError, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Per-command options for [`Machine::submit_with`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// The command may run twice without harm: it is re-sent on the new node when the
    /// connection dies after it was written (never otherwise).
    pub idempotent: bool,
}

impl SubmitOptions {
    /// Options for an idempotent command.
    pub fn idempotent() -> SubmitOptions {
        SubmitOptions { idempotent: true }
    }
}

/// Whether the machine serves commands or runs a single discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Client,
    Discover(Target),
}

/// The data node currently used (connecting, handshaking or ready).
#[derive(Clone, Debug)]
pub(crate) struct NodeRef {
    pub conn: ConnId,
    pub addr: Addr,
    pub expect: Role,
    /// The sentinel whose answer chose this node (moved to the back if it fails verification).
    pub named_by: Option<Addr>,
}

/// Why a connection went away.
#[derive(Clone, Debug)]
pub(crate) enum Cause {
    ConnectFailed,
    Closed,
    Timeout,
    Protocol(ProtocolError),
    Unexpected(String),
    Shutdown,
}

impl Cause {
    pub(crate) fn describe(&self) -> String {
        match self {
            Cause::ConnectFailed => "connect failed".into(),
            Cause::Closed => "connection closed".into(),
            Cause::Timeout => "timed out".into(),
            Cause::Protocol(e) => format!("invalid reply: {e}"),
            Cause::Unexpected(m) => m.clone(),
            Cause::Shutdown => "client closed".into(),
        }
    }
}

/// The Sans-IO Sentinel client for one service and role.
///
/// Feed it [`Input`]s and timeouts, drain [`Output`]s; see the module documentation for the
/// states and the retry promises.
#[derive(Debug)]
pub struct Machine {
    pub(crate) cfg: Config,
    pub(crate) mode: Mode,
    pub(crate) sentinels: Vec<Addr>,
    pub(crate) configured: BTreeSet<Addr>,
    pub(crate) conns: BTreeMap<ConnId, Conn>,
    pub(crate) next_conn: u64,
    pub(crate) next_req: u64,
    pub(crate) out: VecDeque<Output>,
    pub(crate) dirty: BTreeSet<ConnId>,
    pub(crate) rng: Rng,
    pub(crate) backoff: BackoffState,
    pub(crate) walk: Option<Walk>,
    pub(crate) walk_gen: u64,
    pub(crate) walk_at: Option<Instant>,
    pub(crate) query: Option<ConnId>,
    pub(crate) refresh_at: Option<Instant>,
    pub(crate) node: Option<NodeRef>,
    pub(crate) master: Option<Addr>,
    /// Highest `config-epoch` any sentinel reported (see `epoch.rs`).
    pub(crate) epoch: u64,
    /// Masters the machine moved away from, stale for sentinels' answers (see `epoch.rs`).
    pub(crate) replaced: BTreeMap<Addr, Replaced>,
    /// The sentinel whose answer the next `connect_node` follows, while a walk acts on it.
    pub(crate) naming: Option<Addr>,
    pub(crate) resp3: bool,
    pub(crate) auth_error: Option<String>,
    pub(crate) excluded: BTreeSet<Addr>,
    pub(crate) latency: BTreeMap<Addr, Duration>,
    pub(crate) rr: u64,
    pub(crate) retry: VecDeque<Queued>,
    pub(crate) waiting: VecDeque<Queued>,
    pub(crate) fence: Option<Fence>,
    /// Notice subscriptions, one per known sentinel (see `watch.rs`).
    pub(crate) watches: BTreeMap<Addr, Watch>,
    /// Subscriptions are kept up (set once a sentinel first answered).
    pub(crate) watching: bool,
    /// Recent notices, to drop the copies other sentinels publish.
    pub(crate) seen: Seen,
    pub(crate) channels: BTreeSet<Vec<u8>>,
    pub(crate) patterns: BTreeSet<Vec<u8>>,
    pub(crate) pubsub: Option<ConnId>,
    pub(crate) pubsub_at: Option<Instant>,
    pub(crate) closed: bool,
    pub(crate) result: Option<Result<Discovered, DiscoveryError>>,
}

impl Machine {
    /// A client for `config`; it starts asking sentinels right away (drain [`Machine::poll_output`]).
    pub fn new(config: Config, now: Instant) -> Machine {
        Machine::with_mode(config, Mode::Client, now)
    }

    pub(crate) fn with_mode(mut config: Config, mode: Mode, now: Instant) -> Machine {
        config.clamp_durations();
        let mut m = Machine {
            sentinels: config.sentinels.clone(),
            configured: config.sentinels.iter().cloned().collect(),
            rng: Rng::new(config.backoff.seed),
            cfg: config,
            mode,
            conns: BTreeMap::new(),
            next_conn: 1,
            next_req: 1,
            out: VecDeque::new(),
            dirty: BTreeSet::new(),
            backoff: BackoffState::default(),
            walk: None,
            walk_gen: 0,
            walk_at: None,
            query: None,
            refresh_at: (mode == Mode::Client).then_some(now),
            node: None,
            master: None,
            epoch: 0,
            replaced: BTreeMap::new(),
            naming: None,
            resp3: true,
            auth_error: None,
            excluded: BTreeSet::new(),
            latency: BTreeMap::new(),
            rr: 0,
            retry: VecDeque::new(),
            waiting: VecDeque::new(),
            fence: None,
            watches: BTreeMap::new(),
            watching: false,
            seen: Seen::default(),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            pubsub: None,
            pubsub_at: None,
            closed: false,
            result: None,
        };
        m.start_walk(now);
        m
    }

    /// Queues a command; its reply comes out as [`Output::Reply`] with the returned id.
    pub fn submit(&mut self, cmd: Cmd, now: Instant) -> RequestId {
        self.submit_with(cmd, SubmitOptions::default(), now)
    }

    /// Like [`Machine::submit`], with per-command options (idempotency).
    pub fn submit_with(&mut self, cmd: Cmd, opts: SubmitOptions, now: Instant) -> RequestId {
        let id = RequestId(self.next_req);
        self.next_req += 1;
        if let Some(err) = self.refuse(&cmd) {
            self.reply(id, Err(err));
            return id;
        }
        let q = Queued {
            id,
            cmd,
            idempotent: opts.idempotent,
            submitted: now,
            attempts: 0,
        };
        if self.fence.is_none() && self.retry.is_empty() && self.waiting.is_empty() {
            if let Some(conn) = self.ready_node() {
                self.send_user(conn, q, now);
                return id;
            }
        }
        let limit = if self.fence.is_some() {
            self.cfg.fence_max_queued
        } else {
            self.cfg.max_queued
        };
        if self.retry.len() + self.waiting.len() >= limit {
            self.reply(id, Err(CommandError::QueueFull));
            return id;
        }
        self.waiting.push_back(q);
        if self.node.is_none() && self.walk.is_none() && self.walk_at.is_none() {
            self.start_walk(now);
        }
        id
    }

    fn refuse(&self, cmd: &Cmd) -> Option<CommandError> {
        if self.closed || self.mode != Mode::Client {
            return Some(CommandError::Closed);
        }
        const PUBSUB: &[&str] = &[
            "SUBSCRIBE",
            "PSUBSCRIBE",
            "SSUBSCRIBE",
            "UNSUBSCRIBE",
            "PUNSUBSCRIBE",
            "SUNSUBSCRIBE",
            "MONITOR",
        ];
        if let Some(n) = PUBSUB.iter().find(|n| cmd.is(n)) {
            return Some(CommandError::Rejected(format!(
                "{n} changes the connection mode; use Machine::subscribe"
            )));
        }
        self.auth_error.clone().map(CommandError::Auth)
    }

    /// Feeds one fact from the driver. Inputs about unknown connections are ignored.
    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        match input {
            Input::Connected(id) => self.on_connected(id, now),
            Input::ConnectFailed(id) => {
                if self.conns.get(&id).is_some_and(|c| !c.open) {
                    if let Some(c) = self.conns.remove(&id) {
                        self.lost(id, c, Cause::ConnectFailed, now);
                    }
                }
            }
            Input::Closed(id) => {
                if let Some(c) = self.conns.remove(&id) {
                    self.dirty.remove(&id);
                    self.lost(id, c, Cause::Closed, now);
                }
            }
            Input::Received(id, bytes) => self.on_received(id, bytes, now),
        }
    }

    fn on_connected(&mut self, id: ConnId, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        if c.open {
            return;
        }
        c.open = true;
        c.last_io = now;
        match c.usage {
            Use::Query => self.query_connected(id, now),
            Use::Notices => self.notices_connected(id, now),
            Use::Node | Use::PubSub => self.send_handshake(id, now),
            Use::Retired => self.drop_conn(id, Cause::Shutdown, now),
        }
    }

    fn on_received(&mut self, id: ConnId, bytes: &[u8], now: Instant) {
        match self.conns.get_mut(&id) {
            Some(c) if c.open => {
                c.rbuf.extend_from_slice(bytes);
                c.last_io = now;
            }
            _ => return,
        }
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            match c.dec.decode(&mut c.rbuf) {
                Ok(Some(v)) => self.on_frame(id, v, now),
                Ok(None) => return,
                Err(e) => return self.drop_conn(id, Cause::Protocol(e), now),
            }
        }
    }

    fn on_frame(&mut self, id: ConnId, v: Value, now: Instant) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let usage = c.usage;
        let is_push = matches!(v, Value::Push(_));
        match usage {
            Use::Notices if c.pending.is_empty() || is_push => {
                return self.on_notice_frame(id, &v, now)
            }
            Use::PubSub if c.pending.is_empty() || is_push => {
                self.out.extend(super::message::output(v));
                return;
            }
            Use::Node | Use::Retired if is_push => {
                self.out.extend(super::message::output(v));
                return;
            }
            Use::Query if is_push => return,
            _ => {}
        }
        let Some((p, sent)) = c.pending.pop_front() else {
            let why = format!("unexpected reply from {}", c.addr);
            return self.drop_conn(id, Cause::Unexpected(why), now);
        };
        c.unflushed = c.unflushed.min(c.pending.len());
        match p {
            Pending::Ignore => {}
            Pending::Hello | Pending::Auth | Pending::Select | Pending::SetName | Pending::Role => {
                self.on_handshake_reply(id, p, sent, &v, now)
            }
            Pending::Ping => self.on_ping_reply(id, &v, now),
            Pending::User(q) => self.on_user_reply(id, q, v, now),
            Pending::SentinelAuth => self.on_sentinel_auth(id, &v, now),
            Pending::GetMaster { walk }
            | Pending::MasterInfo { walk }
            | Pending::Replicas { walk } => self.on_walk_reply(id, walk, p, &v, now),
            Pending::Sentinels => self.on_sentinels_reply(id, &v, now),
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.out.is_empty() {
            for id in std::mem::take(&mut self.dirty) {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.unflushed = 0;
                    if !c.wbuf.is_empty() {
                        let bytes = c.wbuf.split().freeze();
                        self.out.push_back(Output::Transmit { conn: id, bytes });
                    }
                }
            }
        }
        self.out.pop_front()
    }

    /// The last verified master (kept while the fence is up, so it names the old one).
    pub fn current_master(&self) -> Option<&Addr> {
        self.master.as_ref()
    }

    /// The data node commands go to right now, with its verified role, if one is ready.
    pub fn current_node(&self) -> Option<(&Addr, Role)> {
        let n = self.node.as_ref()?;
        self.conns
            .get(&n.conn)
            .filter(|c| c.ready)
            .map(|_| (&n.addr, n.expect))
    }

    /// True while the failover fence holds commands back.
    pub fn is_fenced(&self) -> bool {
        self.fence.is_some()
    }

    /// The sentinel list in its current order (answering sentinels move to the front).
    pub fn sentinels(&self) -> &[Addr] {
        &self.sentinels
    }

    /// Number of commands waiting to be sent.
    pub fn queued(&self) -> usize {
        self.retry.len() + self.waiting.len()
    }

    /// Shuts down: closes every connection and fails every outstanding command with
    /// [`CommandError::Closed`]. Later submissions fail the same way.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.remove(&id) {
                self.out.push_back(Output::Close { conn: id });
                for (p, _) in c.pending {
                    if let Pending::User(q) = p {
                        self.reply(q.id, Err(CommandError::Closed));
                    }
                }
            }
        }
        self.dirty.clear();
        self.fail_queued(|| CommandError::Closed);
        self.node = None;
        self.walk = None;
        self.walk_at = None;
        self.query = None;
        self.watches.clear();
        self.watching = false;
        self.pubsub = None;
        self.pubsub_at = None;
        self.fence = None;
        self.refresh_at = None;
    }

    // ---- helpers shared by the other modules ----

    pub(crate) fn reply(&mut self, request: RequestId, result: Result<Value, CommandError>) {
        self.out.push_back(Output::Reply { request, result });
    }

    pub(crate) fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    pub(crate) fn fail_queued(&mut self, err: impl Fn() -> CommandError) {
        let all: Vec<Queued> = self.retry.drain(..).chain(self.waiting.drain(..)).collect();
        for q in all {
            self.reply(q.id, Err(err()));
        }
    }

    /// Asks the driver for a connection.
    pub(crate) fn open(&mut self, addr: Addr, usage: Use, kind: PeerKind, now: Instant) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conns.insert(id, Conn::new(addr.clone(), usage, now));
        self.out.push_back(Output::Connect {
            conn: id,
            addr,
            kind,
        });
        id
    }

    /// Writes a command expecting one reply of kind `p`.
    pub(crate) fn send(&mut self, id: ConnId, cmd: &Cmd, p: Pending, now: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.send(cmd, p, now);
            self.dirty.insert(id);
        }
    }

    /// Writes bytes that expect no reply (pub/sub commands).
    pub(crate) fn send_raw(&mut self, id: ConnId, cmd: &Cmd) {
        if let Some(c) = self.conns.get_mut(&id) {
            cmd.encode(&mut c.wbuf);
            self.dirty.insert(id);
        }
    }

    /// Closes a connection we no longer want, then runs its loss handling.
    pub(crate) fn drop_conn(&mut self, id: ConnId, cause: Cause, now: Instant) {
        if let Some(c) = self.conns.remove(&id) {
            self.dirty.remove(&id);
            self.out.push_back(Output::Close { conn: id });
            self.lost(id, c, cause, now);
        }
    }

    /// Closes a connection with nothing outstanding that matters (no loss handling).
    pub(crate) fn close_quiet(&mut self, id: ConnId) {
        if self.conns.remove(&id).is_some() {
            self.dirty.remove(&id);
            self.out.push_back(Output::Close { conn: id });
        }
    }

    /// A connection is gone (already removed from the table): settle what it carried.
    pub(crate) fn lost(&mut self, id: ConnId, c: Conn, cause: Cause, now: Instant) {
        match c.usage {
            Use::Query => {
                if self.query == Some(id) {
                    self.query = None;
                }
                self.walk_conn_lost(id, &cause, now);
            }
            Use::Notices => self.notices_lost(id, &cause, now),
            Use::PubSub => {
                if self.pubsub == Some(id) {
                    self.pubsub = None;
                    self.pubsub_at = Some(now + self.cfg.backoff.base);
                }
            }
            Use::Node | Use::Retired => self.node_lost(id, c, cause, now),
        }
    }
}
