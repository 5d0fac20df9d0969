//! The state machine: its parts, and its whole public API in one block.
//!
//! Each field of [`Machine`] is one part with its own file and private state (see the module
//! docs of `sentinel` for the map); the `impl Machine` blocks in the other files route events
//! between the parts, and only this file's block is public.

use super::backoff::Pacing;
use super::blocking::blocking_timeout;
use super::config::Config;
use super::connections::Io;
use super::dedicated::DedicatedId;
use super::discovery::Target;
use super::epoch::MasterHistory;
use super::error::CommandError;
use super::followers::Followers;
use super::handshake::Handshake;
use super::interface::{Addr, Event, Input, Output, RequestId, Role};
use super::phase::Phase;
use super::pubsub::SubKind;
use super::queue::{CommandQueue, Queued, Work};
use super::replicas::ReplicaPicker;
use super::sentinel_list::SentinelList;
use super::special::{special, Special};
use super::walk::Walker;
use super::watch::Watchers;
use crate::Cmd;
use std::time::{Duration, Instant};

/// Per-submission options for [`Machine::submit_with`], [`Machine::submit_batch`] and
/// [`Machine::submit_transaction`] (and the clients' `query_with`).
///
/// ```
/// use resp_sentinel_core::sentinel::SubmitOptions;
/// use std::time::Duration;
///
/// // A slow command with its own reply timeout instead of `Config::command_timeout`:
/// let slow = SubmitOptions::default().with_timeout(Duration::from_secs(30));
/// // A read that must see this caller's own write, when `Config::read_from` sends reads to
/// // replicas:
/// let fresh = SubmitOptions::master_only();
/// // A command safe to run twice, re-sent if its connection dies before the reply:
/// let retry = SubmitOptions::idempotent().with_timeout(Duration::from_millis(200));
/// assert!(fresh.master_only && retry.idempotent && slow.timeout.is_some());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubmitOptions {
    /// The command may run twice without harm: it is re-sent on the new node when the
    /// connection dies after it was written (never otherwise).
    pub idempotent: bool,
    /// How long to wait for the reply (from submission while queued, from writing once sent),
    /// instead of [`Config::command_timeout`].
    pub timeout: Option<Duration>,
    /// Send it to the master even when [`Config::read_from`] sends reads elsewhere (to read
    /// what this caller just wrote); on a replica client, to its node rather than spread over
    /// the other replicas (SCAN pages, which must stay on one node, are sent so).
    pub master_only: bool,
}

impl SubmitOptions {
    /// Options for an idempotent command.
    pub fn idempotent() -> SubmitOptions {
        SubmitOptions {
            idempotent: true,
            ..SubmitOptions::default()
        }
    }

    /// Options for a read that must see the master's latest data.
    pub fn master_only() -> SubmitOptions {
        SubmitOptions {
            master_only: true,
            ..SubmitOptions::default()
        }
    }

    /// These options, sent to the master only or not.
    pub fn with_master_only(mut self, master_only: bool) -> SubmitOptions {
        self.master_only = master_only;
        self
    }

    /// These options, marked idempotent or not.
    pub fn with_idempotent(mut self, idempotent: bool) -> SubmitOptions {
        self.idempotent = idempotent;
        self
    }

    /// These options with their own reply timeout (capped at one year).
    pub fn with_timeout(mut self, timeout: Duration) -> SubmitOptions {
        self.timeout = Some(timeout.min(Duration::from_secs(365 * 24 * 3600)));
        self
    }
}

/// What a machine is for: serving commands, or one discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Goal {
    Client,
    Discover(Target),
}

/// The Sans-IO Sentinel client for one service and role.
///
/// **The driving rule.** After every input (`handle_input`, `handle_timeout`, `submit`,
/// `subscribe`..., `close`), drain [`Machine::poll_output`] until it returns `None`, performing
/// each output in order, then read [`Machine::poll_timeout`] again and wake up no later than
/// it says. Inputs about connections the machine no longer knows are ignored, so a driver
/// never has to track what the machine closed.
///
/// The methods below are grouped as quinn-proto's `Connection` is: getters, `handle_*`
/// inputs, commands that change what the machine does, and `poll_*` outputs. A complete
/// driver on std threads and sockets is `core/examples/std_driver.rs`; this is its skeleton:
///
/// ```no_run
/// use resp_sentinel_core::sentinel::{Config, Input, Machine, Output};
/// use resp_sentinel_core::cmd;
/// use std::time::{Duration, Instant};
///
/// # fn wait_for_io(_until: Option<Instant>) -> Option<(resp_sentinel_core::sentinel::ConnId, Vec<u8>)> { None }
/// let config = Config::new(vec!["127.0.0.1:26379".parse()?], "mymaster");
/// let mut m = Machine::new(config, Instant::now());
/// let id = m.submit(cmd("INCR").arg("visits"), Instant::now());
/// loop {
///     while let Some(out) = m.poll_output() {
///         match out {
///             Output::Connect { conn, addr, .. } => { /* open a socket, later report
///                 Input::Connected(conn) or Input::ConnectFailed(conn) */ }
///             Output::Transmit { conn, bytes } => { /* write `bytes` to `conn` */ }
///             Output::Close { conn } => { /* drop the socket */ }
///             Output::Reply { request, result } if request == id => {
///                 println!("{result:?}");
///                 m.close();
///             }
///             _ => {} // other replies, events, published messages
///         }
///     }
///     match wait_for_io(m.poll_timeout()) {
///         Some((conn, bytes)) => m.handle_input(Input::Received(conn, &bytes), Instant::now()),
///         None => m.handle_timeout(Instant::now()),
///     }
/// #   break;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Machine {
    /// The options, with durations clamped so deadline arithmetic cannot overflow.
    pub(super) cfg: Config,
    /// Serving commands, or one discovery.
    pub(super) goal: Goal,
    /// Where the machine stands: resolving, connecting, ready, fenced, done or closed.
    pub(super) phase: Phase,
    /// The connections and the outputs waiting for the driver.
    pub(super) io: Io,
    /// The sentinels, in asking order.
    pub(super) sentinels: SentinelList,
    /// The walk over the sentinels in progress, the next one, the query connection.
    pub(super) walker: Walker,
    /// A notice subscription on every sentinel, and the notices seen.
    pub(super) watch: Watchers,
    /// Verified masters, replaced ones, config epochs.
    pub(super) history: MasterHistory,
    /// Commands waiting for a node.
    pub(super) queue: CommandQueue,
    /// What handshakes taught: RESP3 support, refused credentials.
    pub(super) handshake: Handshake,
    /// Replica choice: exclusions, latencies, round-robin turns.
    pub(super) picker: ReplicaPicker,
    /// Randomness and backoff between failed attempts.
    pub(super) pacing: Pacing,
    /// The connections that follow the node: pub/sub, blocking-command pool, dedicated.
    pub(super) follow: Followers,
}

impl Machine {
    /// A client for `config`; it starts asking sentinels right away (drain [`Machine::poll_output`]).
    pub fn new(config: Config, now: Instant) -> Machine {
        Machine::with_goal(config, Goal::Client, now)
    }

    pub(crate) fn with_goal(mut config: Config, goal: Goal, now: Instant) -> Machine {
        config.clamp_durations();
        let refresh_at = (goal == Goal::Client).then_some(now);
        let first_turn = config.backoff.seed;
        let mut m = Machine {
            sentinels: SentinelList::new(&config.sentinels, refresh_at),
            pacing: Pacing::new(config.backoff.seed),
            io: Io::new(config.max_reply_len, config.address_map.clone()),
            cfg: config,
            goal,
            phase: Phase::Resolving,
            walker: Walker::default(),
            watch: Watchers::default(),
            history: MasterHistory::default(),
            queue: CommandQueue::new(),
            handshake: Handshake::new(),
            picker: ReplicaPicker::starting_at(first_turn),
            follow: Followers::new(),
        };
        m.start_walk(now);
        m
    }

    // ---- getters ----

    /// The options the machine runs with (durations capped at one year).
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The last verified master (kept while the fence is up, so it names the old one).
    pub fn current_master(&self) -> Option<&Addr> {
        self.history.last()
    }

    /// The data node commands go to right now, with its verified role, if one is ready.
    pub fn current_node(&self) -> Option<(&Addr, Role)> {
        self.phase.ready().map(|n| (&n.addr, n.expect))
    }

    /// The [`Event::Ready`] that describes the current node, for an observer that arrives
    /// after it was reported.
    pub fn ready_event(&self) -> Option<Event> {
        let n = self.phase.ready()?;
        Some(Event::Ready {
            addr: n.addr.clone(),
            dialed: self.io.get(n.conn).and_then(|c| c.dialed().cloned()),
            role: n.expect,
        })
    }

    /// True while the failover fence holds commands back.
    pub fn is_fenced(&self) -> bool {
        self.phase.fence().is_some()
    }

    /// The sentinel list in its current order (answering sentinels move to the front).
    pub fn sentinels(&self) -> &[Addr] {
        self.sentinels.list()
    }

    /// Number of commands waiting to be sent.
    pub fn queued(&self) -> usize {
        self.queue.len() + self.follow.pool.queued() + self.follow.dedicated.queued()
    }

    // ---- inputs ----

    /// Feeds one fact from the driver. Inputs about unknown connections are ignored.
    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        self.dispatch(input, now);
    }

    /// Acts on every deadline that has passed at `now` (call it when [`Machine::poll_timeout`]
    /// passes; calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.on_deadlines(now);
    }

    // ---- commands ----

    /// Queues a command; its reply comes out as [`Output::Reply`] with the returned id.
    pub fn submit(&mut self, cmd: Cmd, now: Instant) -> RequestId {
        self.submit_with(cmd, SubmitOptions::default(), now)
    }

    /// Like [`Machine::submit`], with per-command options (idempotency, timeout).
    pub fn submit_with(&mut self, cmd: Cmd, opts: SubmitOptions, now: Instant) -> RequestId {
        self.submit_work(Work::One(cmd), opts, now)
    }

    /// Queues a pipeline: the commands reach the wire back to back, never interleaved with
    /// other submissions, and are answered once, by an [`Output::Reply`] whose value is an
    /// array of their replies in order (error replies included). Like a single command, the
    /// batch is re-sent whole when it was never written, or when every command in it was
    /// refused by a node that cannot serve it (`-READONLY`...).
    pub fn submit_batch(&mut self, cmds: Vec<Cmd>, opts: SubmitOptions, now: Instant) -> RequestId {
        self.submit_work(Work::Batch(cmds), opts, now)
    }

    /// Queues a transaction: `MULTI`, the commands, `EXEC`, written as one contiguous unit.
    /// Its reply is `EXEC`'s: an array of the commands' replies, or, when the server
    /// discarded the transaction (`-EXECABORT`), the error reply of the first command it
    /// refused. A transaction the connection lost after writing it fails as a unit with
    /// [`CommandError::ConnectionLost`] (unless idempotent); one refused by a node that cannot
    /// serve it ran nowhere and is re-sent whole.
    pub fn submit_transaction(
        &mut self,
        cmds: Vec<Cmd>,
        opts: SubmitOptions,
        now: Instant,
    ) -> RequestId {
        self.submit_work(Work::Transaction(cmds), opts, now)
    }

    /// Opens a dedicated connection: exclusive to the caller, to the node in use (the master,
    /// for a master client), verified with `ROLE`, for connection state such as `WATCH`. It
    /// is bound to that node and never moved: when the node is retired (a failover starts,
    /// the node is lost) it ends, and what it carries fails ([`CommandError::ConnectionLost`]
    /// if written, else [`CommandError::DedicatedEnded`]). Submissions made before a node is
    /// ready wait for it. Close it with [`Machine::close_dedicated`].
    pub fn open_dedicated(&mut self, now: Instant) -> DedicatedId {
        self.dedicated_open(now)
    }

    /// Sends a command on dedicated connection `on` (any command but the pub/sub ones:
    /// `WATCH`, `MULTI`, `EXEC`, `SELECT`... act on that connection only). Its reply comes out
    /// as [`Output::Reply`] as it is: no retry elsewhere, ever.
    pub fn submit_on(
        &mut self,
        on: DedicatedId,
        cmd: Cmd,
        opts: SubmitOptions,
        now: Instant,
    ) -> RequestId {
        self.submit_dedicated(on, Work::One(cmd), opts, now)
    }

    /// A pipeline on dedicated connection `on`: written back to back, answered once with an
    /// array of the replies.
    pub fn submit_batch_on(
        &mut self,
        on: DedicatedId,
        cmds: Vec<Cmd>,
        opts: SubmitOptions,
        now: Instant,
    ) -> RequestId {
        self.submit_dedicated(on, Work::Batch(cmds), opts, now)
    }

    /// `MULTI`, the commands, `EXEC` as one unit on dedicated connection `on`; after a
    /// `WATCH` there, a null reply means a watched key changed and nothing ran.
    pub fn submit_transaction_on(
        &mut self,
        on: DedicatedId,
        cmds: Vec<Cmd>,
        opts: SubmitOptions,
        now: Instant,
    ) -> RequestId {
        self.submit_dedicated(on, Work::Transaction(cmds), opts, now)
    }

    /// Closes dedicated connection `on`; what it still carries fails with `Closed`.
    pub fn close_dedicated(&mut self, on: DedicatedId) {
        self.dedicated_close(on);
    }

    /// Subscribes the caller to `channels`; messages come out as [`Output::Message`]. The
    /// returned request is answered (`Ok(Value::Null)`) once the server has confirmed every
    /// channel, so a message published after that reaches the caller; with `Timeout` if that
    /// takes `command_timeout` (the subscription stays, and is made as soon as a node can
    /// carry it). Subscriptions survive failovers: they are renewed on every new node.
    pub fn subscribe<I, S>(&mut self, channels: I, now: Instant) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(SubKind::Channel, true, channels, now)
    }

    /// Subscribes the caller to channel patterns (`PSUBSCRIBE`).
    pub fn psubscribe<I, S>(&mut self, patterns: I, now: Instant) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(SubKind::Pattern, true, patterns, now)
    }

    /// Drops channels from the caller's subscriptions.
    pub fn unsubscribe<I, S>(&mut self, channels: I, now: Instant) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(SubKind::Channel, false, channels, now)
    }

    /// Drops patterns from the caller's subscriptions.
    pub fn punsubscribe<I, S>(&mut self, patterns: I, now: Instant) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(SubKind::Pattern, false, patterns, now)
    }

    /// Subscribes the caller to sharded channels (`SSUBSCRIBE`, Redis 7); messages published
    /// with `SPUBLISH` come out as [`Output::Message`] with `sharded` set. Answered like
    /// [`Machine::subscribe`].
    pub fn ssubscribe<I, S>(&mut self, channels: I, now: Instant) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(SubKind::Shard, true, channels, now)
    }

    /// Drops sharded channels from the caller's subscriptions.
    pub fn sunsubscribe<I, S>(&mut self, channels: I, now: Instant) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.change_subs(SubKind::Shard, false, channels, now)
    }

    /// Shuts down: closes every connection and fails every outstanding command with
    /// [`CommandError::Closed`]. Later submissions fail the same way.
    pub fn close(&mut self) {
        if self.phase.is_closed() {
            return;
        }
        self.phase = Phase::Closed;
        self.io.close_all();
        self.fail_queued(|| CommandError::Closed);
        self.walker.stop();
        self.watch.stop();
        for id in self.follow.pubsub.stop() {
            self.io.reply(id, Err(CommandError::Closed));
        }
        self.sentinels.stop_refreshing();
    }

    // ---- outputs ----

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.io.poll()
    }

    /// When to call [`Machine::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }
}

impl Machine {
    /// Queues a unit of work, or sends it at once when a node is ready and nothing waits.
    fn submit_work(&mut self, work: Work, opts: SubmitOptions, now: Instant) -> RequestId {
        let id = self.queue.next_id();
        if let Some(err) = self.refuse(&work) {
            self.io.reply(id, Err(err));
            return id;
        }
        if work.replies() == 0 {
            self.io.reply(id, Ok(crate::Value::Array(Vec::new())));
            return id;
        }
        let blocking = match &work {
            Work::One(c) => blocking_timeout(c),
            _ => None,
        };
        // A blocking command waits its own timeout, plus `command_timeout` for the round trip.
        let own = blocking.flatten().map(|t| t + self.cfg.command_timeout);
        let q = Queued {
            id,
            work,
            idempotent: opts.idempotent,
            submitted: now,
            attempts: 0,
            timeout: opts.timeout.or(own),
            got: Vec::new(),
        };
        if blocking.is_some() {
            if self.follow.pool.queued() >= self.cfg.max_queued {
                self.io.reply(id, Err(CommandError::QueueFull));
                return id;
            }
            self.submit_blocking(q, now);
            if self.phase.node().is_none() && !self.walker.pending() {
                self.start_walk(now);
            }
            return id;
        }
        if self.queue.is_empty() {
            if let Some(mut conn) = self.ready_conn() {
                if !opts.master_only && self.may_spread(&q.work) {
                    match self.read_conn(conn) {
                        Ok(c) => conn = c,
                        Err(e) => {
                            self.io.reply(id, Err(e));
                            return id;
                        }
                    }
                }
                self.io.send_user(conn, q, now);
                return id;
            }
        }
        if !opts.master_only && self.ready_conn().is_none() {
            match self.read_without_node(&q.work) {
                Some(Ok(conn)) => {
                    self.io.send_user(conn, q, now);
                    return id;
                }
                Some(Err(e)) => {
                    self.io.reply(id, Err(e));
                    return id;
                }
                None => {}
            }
        }
        let limit = if self.is_fenced() {
            self.cfg.fence_max_queued
        } else {
            self.cfg.max_queued
        };
        if self.queue.len() >= limit {
            self.io.reply(id, Err(CommandError::QueueFull));
            return id;
        }
        self.queue.push_fresh(q);
        if self.phase.node().is_none() && !self.walker.pending() {
            self.start_walk(now);
        }
        id
    }

    /// Sends a unit of work on a dedicated connection.
    fn submit_dedicated(
        &mut self,
        on: DedicatedId,
        work: Work,
        opts: SubmitOptions,
        now: Instant,
    ) -> RequestId {
        let id = self.queue.next_id();
        let cmds = work.cmds();
        let refused = if self.phase.is_over() || self.goal != Goal::Client {
            Some(CommandError::Closed)
        } else {
            cmds.iter()
                .find_map(pubsub_refusal)
                .or_else(|| self.replica_refusal(cmds))
        };
        if let Some(err) = refused {
            self.io.reply(id, Err(err));
            return id;
        }
        if work.replies() == 0 {
            self.io.reply(id, Ok(crate::Value::Array(Vec::new())));
            return id;
        }
        let q = Queued {
            id,
            work,
            idempotent: false,
            submitted: now,
            attempts: 0,
            timeout: opts.timeout,
            got: Vec::new(),
        };
        self.dedicated_submit(on, q, now);
        if self.phase.node().is_none() && !self.walker.pending() {
            self.start_walk(now);
        }
        id
    }

    /// Why a unit of work cannot be taken at all, if it cannot.
    fn refuse(&self, work: &Work) -> Option<CommandError> {
        if self.phase.is_over() || self.goal != Goal::Client {
            return Some(CommandError::Closed);
        }
        let cmds = work.cmds();
        cmds.iter()
            .find_map(refusal)
            .or_else(|| self.replica_refusal(cmds))
            .or_else(|| self.handshake.auth_error().cloned().map(CommandError::Auth))
    }

    /// A replica client only reads, wherever it is connected: a write would fail with
    /// `READONLY` on a replica and succeed on the master it falls back to, so it is refused
    /// before it is sent, the same way in both cases. Scripts count as writes (the server
    /// flags neither way; a script that writes fails on a replica): the `_RO` forms are reads.
    fn replica_refusal(&self, cmds: &[Cmd]) -> Option<CommandError> {
        const SCRIPTS: &[&str] = &["EVAL", "EVALSHA", "FCALL"];
        if self.cfg.role != Role::Replica {
            return None;
        }
        let c = cmds
            .iter()
            .find(|c| crate::command_flags::writes(c) || c.is_one_of(SCRIPTS).is_some())?;
        Some(CommandError::Rejected(format!(
            "{} writes (or may), and a replica client only reads, on a replica or on the master \
             it falls back to: send it through a master client (scripts that only read: \
             EVAL_RO, EVALSHA_RO, FCALL_RO)",
            super::parse::show(c.name())
        )))
    }
}

/// Commands that change what the shared connection answers: each is refused with the API to
/// use instead.
fn refusal(cmd: &Cmd) -> Option<CommandError> {
    match special(cmd)? {
        Special::PubSub(n) => Some(pubsub_rejected(n)),
        Special::Transaction(n) => Some(CommandError::Rejected(format!(
            "{n} would change the shared connection for every caller; use a transaction \
             (MULTI ... EXEC as one unit), or a dedicated connection for WATCH"
        ))),
        Special::Blocking(_) => None,
    }
}

/// Commands that turn a connection into a subscriber: refused everywhere but the
/// subscription API.
fn pubsub_refusal(cmd: &Cmd) -> Option<CommandError> {
    match special(cmd)? {
        Special::PubSub(n) => Some(pubsub_rejected(n)),
        _ => None,
    }
}

fn pubsub_rejected(name: &str) -> CommandError {
    CommandError::Rejected(format!(
        "{name} changes the connection mode; use the subscribe API"
    ))
}
