//! The simulated network between the client and the servers: connections and their states, the
//! server-side session and command stream of each, per-message latency drawn from the seed that
//! still keeps each direction of a connection in order, and the network faults that act on it
//! (refused connects, partitions that hold traffic until they heal, slow links).
//!
//! The network computes when things arrive; the [`World`](super::World) puts them on its
//! agenda and decides what servers do with them.

use super::rng::Rng;
use super::session::{upper, Session};
use super::wire::{CommandReader, WireError};
use crate::sentinel::{Addr, ConnId, PeerKind};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

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
    /// Names of write commands (SET, INCR, ...) and of `EXEC`s in the transmitted bytes.
    pub writes: Vec<String>,
}

/// Commands the simulated nodes treat as writes.
pub fn is_write(name: &str) -> bool {
    matches!(name, "SET" | "INCR" | "INCRBY" | "DECR" | "DEL")
}

/// The server a connection reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// Data node by index.
    Node(usize),
    /// Sentinel by index.
    Sentinel(usize),
    /// No server listens at the address.
    Nowhere,
}

/// Something in flight on a connection.
pub(super) enum NetEv {
    /// The outcome of a connection attempt reaches the client.
    ConnectDone(ConnId),
    /// Bytes from the client reach the server.
    ToServer(ConnId, Bytes),
    /// Bytes from the server reach the client, with the node they reveal is not a master.
    ToClient(ConnId, Bytes, Option<Addr>),
    /// The server's close reaches the client.
    Closed(ConnId),
}

impl NetEv {
    /// The connection the event travels on.
    pub(super) fn conn(&self) -> ConnId {
        match self {
            NetEv::ConnectDone(c)
            | NetEv::ToServer(c, _)
            | NetEv::ToClient(c, ..)
            | NetEv::Closed(c) => *c,
        }
    }
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
    /// The server side's session.
    session: Session,
    /// Commands the server has yet to read.
    reader: CommandReader,
    /// Everything the client transmitted, parsed to find writes and contract violations.
    tx_reader: CommandReader,
    /// Arrival time of the last message towards the server.
    last_up: Instant,
    /// Arrival time of the last message towards the client.
    last_down: Instant,
}

/// Client connections and the state of the links to each server address.
pub(super) struct Network {
    latency: (Duration, Duration),
    conns: BTreeMap<ConnId, Conn>,
    refusing: BTreeMap<Addr, Instant>,
    partitioned: BTreeMap<Addr, Instant>,
    slow: BTreeMap<Addr, (Duration, Instant)>,
}

impl Network {
    /// A network with no connections whose one-way latency is drawn in `latency`.
    pub(super) fn new(latency: (Duration, Duration)) -> Network {
        Network {
            latency,
            conns: BTreeMap::new(),
            refusing: BTreeMap::new(),
            partitioned: BTreeMap::new(),
            slow: BTreeMap::new(),
        }
    }

    /// Open client connections.
    pub(super) fn open_count(&self) -> usize {
        self.conns
            .values()
            .filter(|c| c.state == ConnState::Open)
            .count()
    }

    /// Open connections, in id order.
    pub(super) fn open(&self) -> Vec<ConnId> {
        self.open_where(|_| true)
    }

    /// Open connections to `target`, in id order.
    pub(super) fn open_to(&self, target: Target) -> Vec<ConnId> {
        self.open_where(|c| c.target == target)
    }

    fn open_where(&self, keep: impl Fn(&Conn) -> bool) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.state == ConnState::Open && keep(c))
            .map(|(id, _)| *id)
            .collect()
    }

    // --- The client's side --------------------------------------------------------------

    /// The client starts connecting `conn` to `addr` (served by `target`). `Err` if the id
    /// is already used.
    pub(super) fn connect(
        &mut self,
        conn: ConnId,
        addr: &Addr,
        kind: PeerKind,
        target: Target,
        now: Instant,
    ) -> Result<(), String> {
        if self.conns.contains_key(&conn) {
            return Err(format!("Connect reuses connection id {conn:?}"));
        }
        self.conns.insert(
            conn,
            Conn {
                addr: addr.clone(),
                kind,
                target,
                state: ConnState::Connecting,
                session: Session::default(),
                reader: CommandReader::default(),
                tx_reader: CommandReader::default(),
                last_up: now,
                last_down: now,
            },
        );
        Ok(())
    }

    /// The client transmits `bytes` on `conn`: what they contain, and whether they travel
    /// (a connection the server closed, before the client learns so, swallows them). `Err`
    /// describes a contract violation: unknown connection, bytes that are not commands, or a
    /// connection that is not open.
    pub(super) fn transmit(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(Sent, bool), String> {
        let Some(c) = self.conns.get_mut(&conn) else {
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
                        let name = upper(name);
                        if is_write(&name) || name == "EXEC" {
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
            ConnState::Open => Ok((sent, true)),
            ConnState::ServerClosed { delivered: false } => Ok((sent, false)),
            other => Err(format!(
                "Transmit on {conn:?} in state {other:?} (not open)"
            )),
        }
    }

    /// The client closes `conn`. `Err` if it is unknown.
    pub(super) fn close(&mut self, conn: ConnId) -> Result<(), String> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(format!("Close of unknown connection {conn:?}"));
        };
        c.state = ConnState::ClientClosed;
        c.session = Session::default();
        Ok(())
    }

    // --- Timing -------------------------------------------------------------------------

    fn latency(&self, rng: &mut Rng, now: Instant, addr: &Addr) -> Duration {
        let base = rng.duration(self.latency.0, self.latency.1);
        match self.slow.get(addr) {
            Some((extra, until)) if now < *until => base + *extra,
            _ => base,
        }
    }

    /// When a message sent now towards the server of `conn` arrives: a latency drawn from
    /// `rng`, never before the previous message in that direction. `None` for an unknown
    /// connection (nothing is drawn).
    pub(super) fn up_at(&mut self, conn: ConnId, rng: &mut Rng, now: Instant) -> Option<Instant> {
        let lat = self.latency(rng, now, &self.conns.get(&conn)?.addr);
        let c = self.conns.get_mut(&conn)?;
        let at = (now + lat).max(c.last_up + Duration::from_nanos(1));
        c.last_up = at;
        Some(at)
    }

    /// When a message sent now towards the client of `conn` arrives, as [`Network::up_at`].
    pub(super) fn down_at(&mut self, conn: ConnId, rng: &mut Rng, now: Instant) -> Option<Instant> {
        let lat = self.latency(rng, now, &self.conns.get(&conn)?.addr);
        let c = self.conns.get_mut(&conn)?;
        let at = (now + lat).max(c.last_down + Duration::from_nanos(1));
        c.last_down = at;
        Some(at)
    }

    /// If `conn`'s peer is partitioned from the client, the time the partition heals: its
    /// traffic is held until then.
    pub(super) fn held_until(&self, conn: ConnId, now: Instant) -> Option<Instant> {
        let c = self.conns.get(&conn)?;
        self.partitioned.get(&c.addr).copied().filter(|t| now < *t)
    }

    // --- Arrivals -----------------------------------------------------------------------

    /// A connection attempt's outcome arrives. `accept` says, for the connection's target,
    /// whether a server accepts it and, if so, whether its session starts authenticated
    /// (no password configured). Connects to a refusing address fail.
    pub(super) fn settle_connect(
        &mut self,
        conn: ConnId,
        now: Instant,
        accept: impl FnOnce(Target) -> Option<bool>,
    ) -> Option<Delivery> {
        let c = self.conns.get_mut(&conn)?;
        if c.state != ConnState::Connecting {
            return None;
        }
        let refused = self.refusing.get(&c.addr).is_some_and(|t| now < *t);
        match accept(c.target) {
            Some(authed) if !refused => {
                c.state = ConnState::Open;
                c.session.authed = authed;
                Some(Delivery::Connected(conn))
            }
            _ => {
                c.state = ConnState::Failed;
                Some(Delivery::ConnectFailed(conn))
            }
        }
    }

    /// Server bytes arrive at the client, unless the client closed the connection meanwhile
    /// or already learned that the server did.
    pub(super) fn receive(
        &self,
        conn: ConnId,
        bytes: Bytes,
        reveals_not_master: Option<Addr>,
    ) -> Option<Delivery> {
        let c = self.conns.get(&conn)?;
        matches!(
            c.state,
            ConnState::Open | ConnState::ServerClosed { delivered: false }
        )
        .then_some(Delivery::Received {
            conn,
            bytes,
            reveals_not_master,
        })
    }

    /// The server's close arrives at the client (once).
    pub(super) fn closed(&mut self, conn: ConnId) -> Option<Delivery> {
        let c = self.conns.get_mut(&conn)?;
        if c.state != (ConnState::ServerClosed { delivered: false }) {
            return None;
        }
        c.state = ConnState::ServerClosed { delivered: true };
        Some(Delivery::Closed(conn))
    }

    // --- The server's side --------------------------------------------------------------

    /// The server closes `conn`; true when it was open, so that the close must travel to the
    /// client. Connections still connecting are settled by their pending outcome.
    pub(super) fn server_close(&mut self, conn: ConnId) -> bool {
        match self.conns.get_mut(&conn) {
            Some(c) if c.state == ConnState::Open => {
                c.state = ConnState::ServerClosed { delivered: false };
                c.session = Session::default();
                true
            }
            _ => false,
        }
    }

    /// The server `conn` reaches (or reached).
    pub(super) fn target(&self, conn: ConnId) -> Option<Target> {
        self.conns.get(&conn).map(|c| c.target)
    }

    /// The server `conn` reaches, while it is open.
    pub(super) fn serving(&self, conn: ConnId) -> Option<Target> {
        self.conns
            .get(&conn)
            .filter(|c| c.state == ConnState::Open)
            .map(|c| c.target)
    }

    /// Bytes from the client reach the server's command reader.
    pub(super) fn feed(&mut self, conn: ConnId, bytes: &[u8]) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.reader.push(bytes);
        }
    }

    /// The next complete command the server can read on `conn`; `None` for an unknown
    /// connection.
    pub(super) fn next_command(
        &mut self,
        conn: ConnId,
    ) -> Option<Result<Option<Vec<Bytes>>, WireError>> {
        Some(self.conns.get_mut(&conn)?.reader.next_command())
    }

    /// The server-side session of `conn`.
    pub(super) fn session(&self, conn: ConnId) -> Option<&Session> {
        self.conns.get(&conn).map(|c| &c.session)
    }

    /// Takes the session of `conn` out while a command runs (a default one stays in place).
    pub(super) fn take_session(&mut self, conn: ConnId) -> Session {
        self.conns
            .get_mut(&conn)
            .map(|c| std::mem::take(&mut c.session))
            .unwrap_or_default()
    }

    /// Puts the session of `conn` back after a command ran.
    pub(super) fn restore_session(&mut self, conn: ConnId, session: Session) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = session;
        }
    }

    // --- Faults -------------------------------------------------------------------------

    /// Connects to `addr` are refused until `until`.
    pub(super) fn refuse(&mut self, addr: Addr, until: Instant) {
        self.refusing.insert(addr, until);
    }

    /// Traffic to and from `addr` is held until `until`, or until an overlapping partition
    /// heals if that is later; returns when the partition now heals.
    pub(super) fn partition(&mut self, addr: Addr, until: Instant) -> Instant {
        let t = self
            .partitioned
            .get(&addr)
            .map_or(until, |t| (*t).max(until));
        self.partitioned.insert(addr, t);
        t
    }

    /// Messages to and from `addr` take `extra` longer until `until`.
    pub(super) fn slow_down(&mut self, addr: Addr, extra: Duration, until: Instant) {
        self.slow.insert(addr, (extra, until));
    }

    /// Ends the refusal of `addr` if it is due (a later one may have replaced it).
    pub(super) fn heal_refusal(&mut self, addr: &Addr, now: Instant) {
        if self.refusing.get(addr).is_some_and(|t| *t <= now) {
            self.refusing.remove(addr);
        }
    }

    /// Ends the partition of `addr` if it is due.
    pub(super) fn heal_partition(&mut self, addr: &Addr, now: Instant) {
        if self.partitioned.get(addr).is_some_and(|t| *t <= now) {
            self.partitioned.remove(addr);
        }
    }

    /// Ends the slowness of `addr` if it is due.
    pub(super) fn heal_slowness(&mut self, addr: &Addr, now: Instant) {
        if self.slow.get(addr).is_some_and(|(_, t)| *t <= now) {
            self.slow.remove(addr);
        }
    }
}
