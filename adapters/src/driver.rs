//! The runtime-independent half of every adapter: owns the state machine, performs its outputs,
//! and routes replies, messages and events to the handles that wait for them.
//!
//! Runtimes differ only in how they open connections ([`Net`]) and how they wait for the next
//! [`Msg`] or deadline; every loop calls [`Driver::handle`], [`Driver::on_timeout`] and
//! [`Driver::flush`].
//!
//! How a connection closes, on every runtime alike: when the driver drops a [`Link`] (the
//! machine said `Close`, the peer closed, or the client shut down), the writer writes what was
//! already queued, then shuts the socket down in both directions; the reader stops at once.
//! A failed write or read reports [`Msg::Closed`] and ends the same way.

use crate::error::Error;
use crate::metrics::Metrics;
use crate::pubsub::{self, Interest};
use crate::spans::Spans;
use bytes::Bytes;
use flume::{Receiver, Sender};
use resp_sentinel_core::sentinel::{
    Addr, CommandError, ConnId, ConnectFailure, DedicatedId, Discovered, Discovery, DiscoveryError,
    Event, Input, Machine, MemberId, Message, Output, PeerKind, RequestId, SubmitOptions,
    TlsFailure,
};
use resp_sentinel_core::Cmd;

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::io;
use std::time::Instant;

/// Most messages connections may have waiting for the driver: a reader whose messages the
/// driver has not taken yet pauses (backpressure) instead of buffering without bound.
pub(crate) const IO_BACKLOG: usize = 64;

/// Both ends of one of a driver loop's channels.
pub(crate) type Channel = (Sender<Msg>, Receiver<Msg>);

/// The two channels of a driver loop: requests from handles (`requests`, unbounded: callers
/// are bounded by the machine's queue limits) and facts from connections (`io`, bounded by
/// [`IO_BACKLOG`]).
pub(crate) fn channels() -> (Channel, Channel) {
    (flume::unbounded(), flume::bounded(IO_BACKLOG))
}

/// Most lifecycle events an `events()` stream holds unread.
pub(crate) const EVENT_BACKLOG: usize = 4096;

/// Most messages one turn of the loop handles before it writes (a bound on the latency a
/// burst adds to the first command of the next one).
pub(crate) const TURN: usize = 1024;

/// Where a reply goes.
pub(crate) use crate::reply::Responder;

/// Hashes request ids, which the machine numbers itself (never from the network): one
/// multiplication instead of SipHash, whose resistance to chosen keys buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Where the answer to a subscription change goes.
pub(crate) type Ack = Sender<Result<(), Error>>;

/// What a caller submits: one command, a pipeline, or a transaction.
pub enum Work {
    /// One command.
    One(Cmd),
    /// Commands written back to back, answered once with an array of their replies.
    Batch(Vec<Cmd>),
    /// `MULTI` .. `EXEC` around the commands, answered with `EXEC`'s reply.
    Transaction(Vec<Cmd>),
}

/// Everything the driver loop reacts to: requests from handles and facts from connections.
pub enum Msg {
    /// Send a unit of work.
    Submit {
        work: Work,
        opts: SubmitOptions,
        reply: Responder,
    },
    /// Change the client's pub/sub subscriptions; for a new subscription, first deliver the
    /// messages this interest accepts to this sink. The answer goes to `ack`.
    PubSub {
        op: PubSubOp,
        names: Vec<Bytes>,
        sink: Option<(Interest, Sender<Message>)>,
        ack: Ack,
    },
    /// A subscription was dropped: forget its sink and unsubscribe what nobody else wants.
    Release(u64),
    /// Open a dedicated connection; its id goes to the sender.
    OpenDedicated(Sender<DedicatedId>),
    /// Send a unit of work on a dedicated connection.
    SubmitOn {
        on: DedicatedId,
        work: Work,
        opts: SubmitOptions,
        reply: Responder,
    },
    /// Close a dedicated connection (its handle was dropped).
    CloseDedicated(DedicatedId),
    /// Deliver every future event to this sink.
    Events(Sender<Event>),
    /// Ask which master the machine currently uses.
    MasterAddr(Sender<Option<Addr>>),
    /// A connection requested by the machine is open.
    Connected(ConnId, Link),
    /// A connection could not be opened.
    ConnectFailed(ConnId, io::Error),
    /// A TLS handshake failed, or an open TLS connection ended with an alert.
    TlsFailed(ConnId, TlsFailure),
    /// Bytes arrived.
    Received(ConnId, Bytes),
    /// The connection ended.
    Closed(ConnId),
    /// The last client handle is gone.
    Shutdown,
    /// To a hub: how its members' links reach it.
    HubSelf(crate::handle::Loop),
    /// To a hub: a driver's sentinel connection `conn` joins; its facts go to `back`.
    HubOpen {
        conn: ConnId,
        addr: Addr,
        kind: PeerKind,
        back: crate::hub::Back,
    },
    /// To a hub: a member writes.
    HubWrite(MemberId, Bytes),
    /// To a hub: a member's link was dropped.
    HubClose(MemberId),
}

/// A change to the caller's subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PubSubOp {
    Subscribe,
    PSubscribe,
    Unsubscribe,
    PUnsubscribe,
    SSubscribe,
    SUnsubscribe,
}

/// The driver's end of an open connection: dropping it closes the connection.
pub struct Link {
    /// Where bytes to write go, in order.
    pub(crate) writer: Writer,
    /// Dropped to stop the reader at once (readers wait on it beside the socket).
    pub(crate) _cancel: Option<Sender<()>>,
    /// Where the connection arrived (the resolved address), when the socket says.
    pub(crate) peer: Option<Addr>,
}

/// Where a link's writes go: its socket's writer, or the hub that shares the connection.
pub(crate) enum Writer {
    /// A socket's writer; closing this channel makes it shut the socket down.
    Socket(Sender<Bytes>),
    /// A member of a shared sentinel connection (see `hub.rs`).
    Hub(crate::hub::MemberLink),
}

impl Writer {
    /// Queues `bytes` for writing.
    pub(crate) fn send(&self, bytes: Bytes) {
        match self {
            Writer::Socket(tx) => {
                let _ = tx.send(bytes);
            }
            Writer::Hub(member) => member.send(bytes),
        }
    }
}

/// A socket's peer as an [`Addr`].
pub(crate) fn peer_addr(sa: Option<std::net::SocketAddr>) -> Option<Addr> {
    sa.map(|sa| Addr::new(sa.ip().to_string(), sa.port()))
}

/// How a driver's connections are opened: the connect timeout (which also bounds a TLS
/// handshake) and the TLS clients of both sides.
#[derive(Clone, Debug)]
pub struct NetOptions {
    pub(crate) connect_timeout: std::time::Duration,
    pub(crate) tls: std::sync::Arc<crate::tls::Tls>,
    /// Where sentinel connections go instead of being dialled (none for the hub itself).
    pub(crate) hub: Option<crate::hub::HubRef>,
}

impl NetOptions {
    /// Plain TCP with this connect timeout.
    #[cfg(test)]
    pub(crate) fn plain(connect_timeout: std::time::Duration) -> NetOptions {
        NetOptions {
            connect_timeout,
            tls: Default::default(),
            hub: None,
        }
    }
}

/// Opens connections for the driver; implemented once per runtime.
pub(crate) trait Net {
    /// Starts connecting to `addr` (with TLS when `kind`'s side is configured for it) and
    /// reports [`Msg::Connected`], [`Msg::ConnectFailed`] or [`Msg::TlsFailed`].
    fn open(&self, conn: ConnId, addr: Addr, kind: PeerKind, tx: Sender<Msg>);
}

/// Where the outcome of a one-shot discovery goes.
pub(crate) type Outcome = Sender<Result<Discovered, DiscoveryError>>;

/// The state machine a driver runs: a client's, or a one-shot discovery that ends the loop with
/// its outcome.
pub enum Driven {
    /// A client: runs until the last handle is dropped.
    Client(Machine),
    /// A discovery: runs until it has an outcome, then hands it over.
    Discovery(Discovery, Outcome),
    /// The sentinel connections the drivers of one `Sentinel` share: runs until the last
    /// reference to it is gone.
    Hub(crate::hub::Hub),
}

impl Driven {
    fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        match self {
            Driven::Client(m) => m.handle_input(input, now),
            Driven::Discovery(d, _) => d.handle_input(input, now),
            Driven::Hub(h) => h.mux().handle_input(input),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Driven::Client(m) => m.handle_timeout(now),
            Driven::Discovery(d, _) => d.handle_timeout(now),
            Driven::Hub(h) => h.retry(),
        }
    }

    fn poll_output(&mut self) -> Option<Output> {
        match self {
            Driven::Client(m) => m.poll_output(),
            Driven::Discovery(d, _) => d.poll_output(),
            Driven::Hub(h) => hub_output(h),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Driven::Client(m) => m.poll_timeout(),
            Driven::Discovery(d, _) => d.poll_timeout(),
            Driven::Hub(h) => h.deadline(),
        }
    }
}

/// The state machine plus the plumbing around it.
pub(crate) struct Driver<N: Net> {
    driven: Driven,
    net: N,
    tx: Sender<Msg>,
    links: HashMap<ConnId, Link>,
    opening: HashSet<ConnId>,
    pending: HashMap<RequestId, Responder, BuildHasherDefault<IdHasher>>,
    events: Vec<Sender<Event>>,
    messages: Vec<(Interest, Sender<Message>)>,
    /// Subscription changes waiting for the server's confirmation.
    acks: HashMap<RequestId, Ack>,
    /// What it records (nothing without the `metrics` feature).
    metrics: Metrics,
    /// Its tracing spans.
    spans: Spans,
}

impl<N: Net> Driver<N> {
    /// Wraps `driven`; `tx` is the sending side of the loop's connection channel, handed to
    /// every connection it opens.
    pub(crate) fn new(driven: Driven, net: N, tx: Sender<Msg>) -> Self {
        Driver {
            metrics: Metrics::new(&driven),
            spans: Spans::new(&driven),
            driven,
            net,
            tx,
            links: HashMap::new(),
            opening: HashSet::new(),
            pending: HashMap::default(),
            events: Vec::new(),
            messages: Vec::new(),
            acks: HashMap::new(),
        }
    }

    /// When the machine next wants [`Driver::on_timeout`].
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.driven.poll_timeout()
    }

    /// The deadline passed.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        let _span = self.spans.driver.clone().entered();
        self.driven.handle_timeout(now);
    }

    /// For a discovery: once it has an outcome, hands it over; true when the loop may end.
    pub(crate) fn finished(&mut self) -> bool {
        let Driven::Discovery(d, outcome) = &self.driven else {
            return false;
        };
        match d.result() {
            Some(r) => {
                let _ = outcome.send(r.clone());
                true
            }
            None => false,
        }
    }

    /// One turn of the loop after `first` arrived: it and every message already waiting (up
    /// to [`TURN`]) are handled before anything is written, so commands submitted together
    /// leave in one write per connection, whatever the number of callers; then any deadline
    /// that passed meanwhile fires (a flood of messages cannot starve the timers). Returns
    /// false when the loop should end. The caller flushes next.
    pub(crate) fn turn(&mut self, first: Msg, rx: &Receiver<Msg>, io: &Receiver<Msg>) -> bool {
        if !self.handle(first, Instant::now()) {
            return false;
        }
        for _ in 1..TURN {
            let Ok(msg) = io.try_recv().or_else(|_| rx.try_recv()) else {
                break;
            };
            if !self.handle(msg, Instant::now()) {
                return false;
            }
        }
        let now = Instant::now();
        if self.deadline().is_some_and(|d| d <= now) {
            self.on_timeout(now);
        }
        true
    }

    /// Reacts to one message; returns false when the loop should end.
    pub(crate) fn handle(&mut self, msg: Msg, now: Instant) -> bool {
        let _span = self.spans.driver.clone().entered();
        match msg {
            Msg::Submit { work, opts, reply } => match &mut self.driven {
                Driven::Client(m) => {
                    let id = match work {
                        Work::One(cmd) => m.submit_with(cmd, opts, now),
                        Work::Batch(cmds) => m.submit_batch(cmds, opts, now),
                        Work::Transaction(cmds) => m.submit_transaction(cmds, opts, now),
                    };
                    self.metrics.submitted(id, now);
                    self.pending.insert(id, reply);
                }
                _ => {
                    let _ = reply.send(Err(Error::Closed));
                }
            },
            Msg::PubSub {
                op,
                names,
                sink,
                ack,
            } => {
                let Driven::Client(m) = &mut self.driven else {
                    let _ = ack.send(Err(Error::Closed));
                    return true;
                };
                if let Some(sink) = sink {
                    self.messages.push(sink);
                }
                // Answered once the server confirmed the subscription (see `flush`).
                let id = match op {
                    PubSubOp::Subscribe => m.subscribe(names, now),
                    PubSubOp::PSubscribe => m.psubscribe(names, now),
                    PubSubOp::Unsubscribe => m.unsubscribe(names, now),
                    PubSubOp::PUnsubscribe => m.punsubscribe(names, now),
                    PubSubOp::SSubscribe => m.ssubscribe(names, now),
                    PubSubOp::SUnsubscribe => m.sunsubscribe(names, now),
                };
                self.acks.insert(id, ack);
            }
            Msg::Release(sub) => {
                if let (Driven::Client(m), Some((kind, names))) =
                    (&mut self.driven, pubsub::release(&mut self.messages, sub))
                {
                    if !names.is_empty() {
                        match kind {
                            pubsub::Kind::Patterns => m.punsubscribe(names, now),
                            pubsub::Kind::Shards => m.sunsubscribe(names, now),
                            pubsub::Kind::Channels => m.unsubscribe(names, now),
                        };
                    }
                }
            }
            Msg::OpenDedicated(reply) => {
                if let Driven::Client(m) = &mut self.driven {
                    let _ = reply.send(m.open_dedicated(now));
                }
            }
            Msg::SubmitOn {
                on,
                work,
                opts,
                reply,
            } => match &mut self.driven {
                Driven::Client(m) => {
                    let id = match work {
                        Work::One(cmd) => m.submit_on(on, cmd, opts, now),
                        Work::Transaction(cmds) => m.submit_transaction_on(on, cmds, opts, now),
                        Work::Batch(cmds) => m.submit_batch_on(on, cmds, opts, now),
                    };
                    self.metrics.submitted(id, now);
                    self.pending.insert(id, reply);
                }
                _ => {
                    let _ = reply.send(Err(Error::Closed));
                }
            },
            Msg::CloseDedicated(on) => {
                if let Driven::Client(m) = &mut self.driven {
                    m.close_dedicated(on);
                }
            }
            Msg::Events(sink) => {
                // A subscriber learns where things stand first, not only the next change.
                if let Driven::Client(m) = &self.driven {
                    if let Some(ready) = m.ready_event() {
                        let _ = sink.try_send(ready);
                    }
                }
                self.events.push(sink)
            }
            Msg::MasterAddr(reply) => {
                let master = match &self.driven {
                    Driven::Client(m) => m.current_master().cloned(),
                    _ => None,
                };
                let _ = reply.send(master);
            }
            Msg::Connected(conn, link) => {
                // A connection the machine gave up on while it was opening is dropped here.
                if self.opening.remove(&conn) {
                    let _conn = self.spans.conn(conn).map(|s| s.enter());
                    let peer = link.peer.clone();
                    tracing::debug!(peer = ?peer, "connected");
                    self.links.insert(conn, link);
                    let input = match &peer {
                        Some(p) => Input::ConnectedTo(conn, p),
                        None => Input::Connected(conn),
                    };
                    self.driven.handle_input(input, now);
                }
            }
            Msg::ConnectFailed(conn, why) => {
                if self.opening.remove(&conn) {
                    let span = self.spans.take(conn);
                    let _conn = span.as_ref().map(|s| s.enter());
                    tracing::debug!(conn = conn.0, error = %why, "connect failed");
                    self.metrics.connect_failed(false);
                    let input = Input::ConnectFailedWith(conn, connect_failure(&why));
                    self.driven.handle_input(input, now);
                }
            }
            Msg::TlsFailed(conn, why) => {
                let span = self.spans.take(conn);
                let _conn = span.as_ref().map(|s| s.enter());
                tracing::debug!(conn = conn.0, error = %why, "TLS failed");
                self.metrics.connect_failed(true);
                let why = ConnectFailure::Tls(why);
                if self.opening.remove(&conn) {
                    self.driven
                        .handle_input(Input::ConnectFailedWith(conn, why), now);
                } else if self.links.remove(&conn).is_some() {
                    self.driven.handle_input(Input::ClosedBy(conn, why), now);
                }
            }
            Msg::Received(conn, bytes) => {
                if self.links.contains_key(&conn) {
                    let _conn = self.spans.conn(conn).map(|s| s.enter());
                    self.driven.handle_input(Input::Received(conn, &bytes), now);
                }
            }
            Msg::Closed(conn) => {
                if self.links.remove(&conn).is_some() {
                    let span = self.spans.take(conn);
                    let _conn = span.as_ref().map(|s| s.enter());
                    tracing::debug!("connection ended");
                    self.driven.handle_input(Input::Closed(conn), now);
                } else if self.opening.remove(&conn) {
                    // A shared sentinel connection can end before this driver learned it opened
                    // (the hub cut a driver too far behind).
                    self.spans.take(conn);
                    let input = Input::ConnectFailedWith(conn, ConnectFailure::Other);
                    self.driven.handle_input(input, now);
                }
            }
            Msg::HubSelf(me) => {
                if let Driven::Hub(h) = &mut self.driven {
                    h.set_self(me);
                }
            }
            Msg::HubOpen {
                conn,
                addr,
                kind,
                back,
            } => {
                if let Driven::Hub(h) = &mut self.driven {
                    h.open(conn, addr, kind, back);
                }
            }
            Msg::HubWrite(member, bytes) => {
                if let Driven::Hub(h) = &mut self.driven {
                    h.write(member, &bytes);
                }
            }
            Msg::HubClose(member) => {
                if let Driven::Hub(h) = &mut self.driven {
                    h.close(member);
                }
            }
            Msg::Shutdown => {
                if let Driven::Client(m) = &mut self.driven {
                    m.close();
                }
                self.flush();
                for (id, reply) in self.pending.drain() {
                    self.metrics.replied(id, &Err(CommandError::Closed));
                    let _ = reply.send(Err(Error::Closed));
                }
                for (_, ack) in self.acks.drain() {
                    let _ = ack.send(Err(Error::Closed));
                }
                self.links.clear();
                return false;
            }
        }
        true
    }

    /// Performs everything the machine asked for.
    pub(crate) fn flush(&mut self) {
        let _span = self.spans.driver.clone().entered();
        while let Some(out) = self.driven.poll_output() {
            match out {
                Output::Connect { conn, addr, kind } => {
                    self.spans.opening(conn, &addr, kind);
                    tracing::debug!(conn = conn.0, %addr, ?kind, "connecting");
                    self.opening.insert(conn);
                    self.net.open(conn, addr, kind, self.tx.clone());
                }
                Output::Transmit { conn, bytes } => {
                    if let Some(link) = self.links.get(&conn) {
                        link.writer.send(bytes);
                    }
                }
                Output::Close { conn } => {
                    self.spans.take(conn);
                    self.opening.remove(&conn);
                    self.links.remove(&conn);
                }
                Output::Reply { request, result } => {
                    if let Some(reply) = self.pending.remove(&request) {
                        self.metrics.replied(request, &result);
                        let _ = reply.send(result.map_err(Error::from));
                    } else if let Some(ack) = self.acks.remove(&request) {
                        let _ = ack.send(result.map(|_| ()).map_err(Error::from));
                    }
                }
                Output::Message(msg) => pubsub::deliver(&mut self.messages, &msg),
                // No adapter feature asks for other pushes (client-side caching's `invalidate`
                // and the like), so they are only traced.
                Output::Push(frame) => tracing::debug!(?frame, "unrequested push frame"),
                Output::Event(event) => {
                    trace_event(&event);
                    self.metrics.event(&event);
                    // An events stream nobody reads is bounded: past its backlog, new events
                    // are dropped for it (the tracing log above still has them).
                    self.events.retain(|sink| {
                        !matches!(
                            sink.try_send(event.clone()),
                            Err(flume::TrySendError::Disconnected(_))
                        )
                    });
                }
                other => tracing::debug!(output = ?other, "unhandled machine output"),
            }
        }
        if let Driven::Client(m) = &self.driven {
            self.metrics.queues(m);
        }
    }
}

/// The hub's next connection output for the driver to perform (its members' facts are handed
/// to their drivers on the way), as a machine's output.
fn hub_output(h: &mut crate::hub::Hub) -> Option<Output> {
    use resp_sentinel_core::sentinel::MuxOutput;
    loop {
        let out = h.mux().poll_output()?;
        if let Some(MuxOutput::Conn(o)) = h.member_output(out) {
            return Some(o);
        }
    }
}

/// What kind of connect failure an I/O error is, for the machine's errors.
fn connect_failure(e: &io::Error) -> ConnectFailure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ConnectFailure::TimedOut,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            ConnectFailure::Unreachable
        }
        // `ToSocketAddrs` reports a name that does not resolve as an uncategorised error
        // ("failed to lookup address information"); ours says "no address resolved".
        io::ErrorKind::NotFound => ConnectFailure::Unresolved,
        _ if e.to_string().contains("lookup") || e.to_string().contains("resolve") => {
            ConnectFailure::Unresolved
        }
        _ => ConnectFailure::Other,
    }
}

fn trace_event(event: &Event) {
    match event {
        Event::Error(e) => tracing::warn!(error = %e, "sentinel client error"),
        Event::FenceRaised { old, reason } => {
            tracing::warn!(old = %old, reason = %reason, "failover started: writes held")
        }
        Event::FenceHeld { old, held, reason } => tracing::warn!(
            old = %old,
            held_ms = held.as_millis() as u64,
            reason = %reason,
            "failover still in progress: writes held past the hold"
        ),
        Event::FenceLifted { old, reason, held } => tracing::info!(
            old = %old,
            held_ms = held.as_millis() as u64,
            reason = %reason,
            "failover called off: writes resume"
        ),
        Event::MasterChanged { old, new } => {
            let old = old.as_ref().map(|a| a.to_string()).unwrap_or_default();
            tracing::info!(old = %old, new = %new, "master changed")
        }
        other => tracing::debug!(event = ?other, "sentinel client event"),
    }
}

#[cfg(test)]
mod connect_failure_tests {
    use super::*;

    #[test]
    fn io_errors_map_to_distinct_connect_failures() {
        let e = |k, m: &str| io::Error::new(k, m.to_string());
        let refused = e(io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(connect_failure(&refused), ConnectFailure::Refused);
        let timed_out = e(io::ErrorKind::TimedOut, "connect timed out");
        assert_eq!(connect_failure(&timed_out), ConnectFailure::TimedOut);
        let lookup = e(
            io::ErrorKind::Other,
            "failed to lookup address information: Name or service not known",
        );
        assert_eq!(connect_failure(&lookup), ConnectFailure::Unresolved);
        let ours = e(io::ErrorKind::NotFound, "no address resolved");
        assert_eq!(connect_failure(&ours), ConnectFailure::Unresolved);
        let odd = e(io::ErrorKind::PermissionDenied, "denied");
        assert_eq!(connect_failure(&odd), ConnectFailure::Other);
        // The real thing: nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let real = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(connect_failure(&real), ConnectFailure::Refused);
    }
}
