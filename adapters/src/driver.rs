//! The runtime-independent half of every adapter: owns the state machine, performs its outputs,
//! and routes replies, messages and events to the handles that wait for them.
//!
//! Runtimes differ only in how they open connections ([`Net`]) and how they wait for the next
//! [`Msg`] or deadline; both loops call [`Driver::handle`], [`Driver::on_timeout`] and
//! [`Driver::flush`].

use crate::error::Error;
use bytes::Bytes;
use flume::Sender;
use resp_sentinel_core::sentinel::{
    Addr, ConnId, Event, Input, Machine, Output, RequestId, SubmitOptions,
};
use resp_sentinel_core::{Cmd, Value};

use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Where a reply goes.
pub(crate) type Responder = Sender<Result<Value, Error>>;

/// Everything the driver loop reacts to: requests from handles and facts from connections.
pub(crate) enum Msg {
    /// Send a command.
    Submit {
        cmd: Cmd,
        idempotent: bool,
        reply: Responder,
    },
    /// Change the caller's pub/sub subscriptions.
    PubSub(PubSubOp, Vec<Bytes>),
    /// Deliver every future pub/sub message to this sink.
    Messages(Sender<Value>),
    /// Deliver every future event to this sink.
    Events(Sender<Event>),
    /// Ask which master the machine currently uses.
    MasterAddr(Sender<Option<Addr>>),
    /// A connection requested by the machine is open.
    Connected(ConnId, Link),
    /// A connection could not be opened.
    ConnectFailed(ConnId, String),
    /// Bytes arrived.
    Received(ConnId, Bytes),
    /// The connection ended.
    Closed(ConnId),
    /// The last client handle is gone.
    Shutdown,
}

/// A change to the caller's subscriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PubSubOp {
    Subscribe,
    PSubscribe,
    Unsubscribe,
    PUnsubscribe,
}

/// The driver's end of an open connection: dropping it closes the connection.
pub(crate) struct Link {
    /// Bytes to write, in order; closing this channel makes the writer shut the socket down.
    pub(crate) writer: Sender<Bytes>,
    /// Dropped to stop the reader (async readers wait on it beside the socket).
    pub(crate) _cancel: Sender<()>,
}

/// Opens connections for the driver; implemented once per runtime.
pub(crate) trait Net {
    /// Starts connecting to `addr` and reports [`Msg::Connected`] or [`Msg::ConnectFailed`].
    fn open(&self, conn: ConnId, addr: Addr, tx: Sender<Msg>);
}

/// The state machine plus the plumbing around it.
pub(crate) struct Driver<N: Net> {
    machine: Machine,
    net: N,
    tx: Sender<Msg>,
    links: HashMap<ConnId, Link>,
    opening: HashSet<ConnId>,
    pending: HashMap<RequestId, Responder>,
    events: Vec<Sender<Event>>,
    messages: Vec<Sender<Value>>,
}

impl<N: Net> Driver<N> {
    /// Wraps `machine`; `tx` is the sending side of the loop's own channel.
    pub(crate) fn new(machine: Machine, net: N, tx: Sender<Msg>) -> Self {
        Driver {
            machine,
            net,
            tx,
            links: HashMap::new(),
            opening: HashSet::new(),
            pending: HashMap::new(),
            events: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// When the machine next wants [`Driver::on_timeout`].
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.machine.poll_timeout()
    }

    /// The deadline passed.
    pub(crate) fn on_timeout(&mut self, now: Instant) {
        self.machine.handle_timeout(now);
    }

    /// Reacts to one message; returns false when the loop should end.
    pub(crate) fn handle(&mut self, msg: Msg, now: Instant) -> bool {
        match msg {
            Msg::Submit {
                cmd,
                idempotent,
                reply,
            } => {
                let id = self
                    .machine
                    .submit_with(cmd, SubmitOptions { idempotent }, now);
                self.pending.insert(id, reply);
            }
            Msg::PubSub(op, names) => match op {
                PubSubOp::Subscribe => self.machine.subscribe(names, now),
                PubSubOp::PSubscribe => self.machine.psubscribe(names, now),
                PubSubOp::Unsubscribe => self.machine.unsubscribe(names, now),
                PubSubOp::PUnsubscribe => self.machine.punsubscribe(names, now),
            },
            Msg::Messages(sink) => self.messages.push(sink),
            Msg::Events(sink) => self.events.push(sink),
            Msg::MasterAddr(reply) => {
                let _ = reply.send(self.machine.current_master().cloned());
            }
            Msg::Connected(conn, link) => {
                // A connection the machine gave up on while it was opening is dropped here.
                if self.opening.remove(&conn) {
                    self.links.insert(conn, link);
                    self.machine.handle_input(Input::Connected(conn), now);
                }
            }
            Msg::ConnectFailed(conn, why) => {
                if self.opening.remove(&conn) {
                    tracing::debug!(conn = conn.0, error = %why, "connect failed");
                    self.machine.handle_input(Input::ConnectFailed(conn), now);
                }
            }
            Msg::Received(conn, bytes) => {
                if self.links.contains_key(&conn) {
                    self.machine
                        .handle_input(Input::Received(conn, &bytes), now);
                }
            }
            Msg::Closed(conn) => {
                if self.links.remove(&conn).is_some() {
                    self.machine.handle_input(Input::Closed(conn), now);
                }
            }
            Msg::Shutdown => {
                self.machine.close();
                self.flush();
                for (_, reply) in self.pending.drain() {
                    let _ = reply.send(Err(Error::Closed));
                }
                self.links.clear();
                return false;
            }
        }
        true
    }

    /// Performs everything the machine asked for.
    pub(crate) fn flush(&mut self) {
        while let Some(out) = self.machine.poll_output() {
            match out {
                Output::Connect { conn, addr, kind } => {
                    tracing::debug!(conn = conn.0, %addr, ?kind, "connecting");
                    self.opening.insert(conn);
                    self.net.open(conn, addr, self.tx.clone());
                }
                Output::Transmit { conn, bytes } => {
                    if let Some(link) = self.links.get(&conn) {
                        let _ = link.writer.send(bytes);
                    }
                }
                Output::Close { conn } => {
                    self.opening.remove(&conn);
                    self.links.remove(&conn);
                }
                Output::Reply { request, result } => {
                    if let Some(reply) = self.pending.remove(&request) {
                        let _ = reply.send(result.map_err(Error::from));
                    }
                }
                Output::Message(msg) => {
                    self.messages.retain(|sink| sink.send(msg.clone()).is_ok());
                }
                Output::Event(event) => {
                    trace_event(&event);
                    self.events.retain(|sink| sink.send(event.clone()).is_ok());
                }
            }
        }
    }
}

fn trace_event(event: &Event) {
    match event {
        Event::Error(e) => tracing::warn!(error = %e, "sentinel client error"),
        Event::FenceRaised { old, reason } => {
            tracing::warn!(old = %old, reason = %reason, "failover started: writes held")
        }
        Event::MasterChanged { old, new } => {
            let old = old.as_ref().map(|a| a.to_string()).unwrap_or_default();
            tracing::info!(old = %old, new = %new, "master changed")
        }
        other => tracing::debug!(event = ?other, "sentinel client event"),
    }
}
