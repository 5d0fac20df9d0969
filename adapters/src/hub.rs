//! One set of sentinel connections for every driver made from one [`crate::Sentinel`]: the hub
//! is a driver loop of its own that runs the core's [`SentinelMux`]; the sentinel connections
//! of client and discovery drivers are its members.
//!
//! A driver's net hands a sentinel connection to the hub ([`HubRef::open`]) instead of
//! dialling. The hub answers on the driver's connection channel exactly as a socket would
//! (`Connected` with a [`Link`], `Received`, `Closed`...), so the driver and its machine do not
//! know the difference; the link's writes and its drop go back to the hub. The hub ends when
//! the `Sentinel` and every driver made from it are gone.
//!
//! The hub never waits on a driver: what a driver's full connection channel cannot take now
//! waits in the hub's backlog, in order, and is retried shortly. A driver that falls
//! [`BACKLOG_MAX`] messages behind loses its sentinel connections (it reconnects, as after
//! any loss), so a flooding sentinel cannot grow the hub's memory without bound.

use crate::driver::{Link, Msg, Writer};
use crate::handle::{Loop, Pump};
use bytes::Bytes;
use flume::{Sender, TrySendError};
use resp_sentinel_core::sentinel::{
    Addr, ConnId, ConnectFailure, MemberId, MuxOutput, PeerKind, SentinelMux,
};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most messages waiting for drivers whose channels are full.
pub(crate) const BACKLOG_MAX: usize = 1024;

/// How soon a backlog is retried.
const RETRY: Duration = Duration::from_millis(1);

/// True for the connections the hub carries: to sentinels.
pub(crate) fn carries(kind: PeerKind) -> bool {
    matches!(kind, PeerKind::Sentinel | PeerKind::SentinelSubscriber)
}

/// A driver's way into the hub; the last one dropped ends the hub's loop.
#[derive(Clone)]
pub struct HubRef(Arc<Owner>);

/// Ends the hub's loop when dropped.
struct Owner(Loop);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.send(Msg::Shutdown);
    }
}

impl std::fmt::Debug for HubRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HubRef(..)")
    }
}

impl HubRef {
    /// The hub whose loop `to` reaches; the loop is told how to reach itself (its members'
    /// links write to it).
    pub(crate) fn new(to: Loop) -> HubRef {
        let _ = to.send(Msg::HubSelf(to.clone()));
        HubRef(Arc::new(Owner(to)))
    }

    /// Hands the hub a sentinel connection `conn` of a driver, whose facts go to `back`;
    /// false when the hub is gone (its runtime shut down), and the caller dials itself.
    pub(crate) fn open(&self, conn: ConnId, addr: Addr, kind: PeerKind, back: Back) -> bool {
        self.0
             .0
            .send(Msg::HubOpen {
                conn,
                addr,
                kind,
                back,
            })
            .is_ok()
    }
}

/// Where a member's facts go: its driver's connection channel (and, for a loop with no
/// thread of its own, the turn to take after sending).
#[derive(Clone)]
pub struct Back {
    tx: Sender<Msg>,
    pump: Option<Pump>,
}

impl Back {
    /// Facts for a driver that reads `tx` (and whose turn `pump` takes, if it needs one).
    pub(crate) fn new(tx: Sender<Msg>, pump: Option<Pump>) -> Back {
        Back { tx, pump }
    }

    fn same(&self, other: &Back) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

/// A member's end of its link: writes and the close go to the hub.
pub struct MemberLink {
    member: MemberId,
    hub: Loop,
}

impl MemberLink {
    /// Writes `bytes` on the member's connection.
    pub(crate) fn send(&self, bytes: Bytes) {
        let _ = self.hub.send(Msg::HubWrite(self.member, bytes));
    }
}

impl Drop for MemberLink {
    fn drop(&mut self) {
        let _ = self.hub.send(Msg::HubClose(self.member));
    }
}

/// The hub's state in its driver: the mux, its members' drivers, and what waits for them.
pub struct Hub {
    mux: SentinelMux,
    /// Its own loop, for its members' links (told once it runs).
    me: Option<Loop>,
    members: HashMap<MemberId, (Back, ConnId)>,
    next: u64,
    backlog: VecDeque<(Back, Msg)>,
    retry_at: Option<Instant>,
}

impl Hub {
    /// A hub whose shared connections take replies within `limits`.
    pub(crate) fn new(limits: resp_sentinel_core::Limits) -> Hub {
        Hub {
            mux: SentinelMux::new(limits),
            me: None,
            members: HashMap::new(),
            next: 1,
            backlog: VecDeque::new(),
            retry_at: None,
        }
    }

    /// The mux (the driver feeds it what its connections report).
    pub(crate) fn mux(&mut self) -> &mut SentinelMux {
        &mut self.mux
    }

    /// When the backlog is retried next.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.retry_at
    }

    /// Learns its own loop.
    pub(crate) fn set_self(&mut self, me: Loop) {
        self.me = Some(me);
    }

    /// A driver's sentinel connection joins.
    pub(crate) fn open(&mut self, conn: ConnId, addr: Addr, kind: PeerKind, back: Back) {
        let member = MemberId(self.next);
        self.next += 1;
        self.members.insert(member, (back, conn));
        self.mux.open(member, addr, kind);
    }

    /// A member writes.
    pub(crate) fn write(&mut self, member: MemberId, bytes: &[u8]) {
        self.mux.transmit(member, bytes);
    }

    /// A member's link was dropped.
    pub(crate) fn close(&mut self, member: MemberId) {
        self.members.remove(&member);
        self.mux.close(member);
    }

    /// Hands a member's fact from the mux to its driver; connection outputs are returned for
    /// the driver to perform.
    pub(crate) fn member_output(&mut self, out: MuxOutput) -> Option<MuxOutput> {
        let member = match &out {
            MuxOutput::Connected { member, .. }
            | MuxOutput::Received { member, .. }
            | MuxOutput::ConnectFailed { member, .. }
            | MuxOutput::Closed { member, .. } => *member,
            _ => return Some(out),
        };
        let (back, conn) = self.members.get(&member).cloned()?;
        let (msg, ends) = match out {
            MuxOutput::Connected { peer, .. } => {
                let hub = self.me.clone()?;
                let link = Link {
                    writer: Writer::Hub(MemberLink { member, hub }),
                    _cancel: None,
                    peer,
                };
                (Msg::Connected(conn, link), false)
            }
            MuxOutput::Received { bytes, .. } => (Msg::Received(conn, bytes), false),
            MuxOutput::ConnectFailed { why, .. } => (failure(conn, why, true), true),
            MuxOutput::Closed { why, .. } => (
                why.map_or(Msg::Closed(conn), |w| failure(conn, w, false)),
                true,
            ),
            _ => return None,
        };
        if ends {
            self.members.remove(&member);
        }
        self.deliver(back, msg);
        None
    }

    /// Sends `msg` to `back` now, or after what already waits.
    fn deliver(&mut self, back: Back, msg: Msg) {
        if self.backlog.is_empty() {
            match back.tx.try_send(msg) {
                Ok(()) => {
                    if let Some(p) = &back.pump {
                        p();
                    }
                    return;
                }
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(msg)) => self.backlog.push_back((back, msg)),
            }
        } else {
            self.backlog.push_back((back, msg));
        }
        self.retry_at = Some(Instant::now() + RETRY);
        if self.backlog.len() > BACKLOG_MAX {
            self.cut_laggard();
        }
    }

    /// Sends what waits, in order, until a driver's channel is full again.
    pub(crate) fn retry(&mut self) {
        while let Some((back, msg)) = self.backlog.pop_front() {
            match back.tx.try_send(msg) {
                Ok(()) => {
                    if let Some(p) = &back.pump {
                        p();
                    }
                }
                Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(msg)) => {
                    self.backlog.push_front((back, msg));
                    self.retry_at = Some(Instant::now() + RETRY);
                    return;
                }
            }
        }
        self.retry_at = None;
    }

    /// The driver at the backlog's front is too far behind: its members leave the mux, what
    /// waits for it is dropped, and it is told its connections closed.
    fn cut_laggard(&mut self) {
        let Some(laggard) = self.backlog.front().map(|(b, _)| b.clone()) else {
            return;
        };
        self.backlog.retain(|(b, _)| !b.same(&laggard));
        let theirs: Vec<(MemberId, ConnId)> = self
            .members
            .iter()
            .filter(|(_, (b, _))| b.same(&laggard))
            .map(|(m, (_, c))| (*m, *c))
            .collect();
        tracing::warn!(
            connections = theirs.len(),
            "a driver fell too far behind its sentinel connections: they are closed"
        );
        for (member, conn) in theirs {
            self.members.remove(&member);
            self.mux.close(member);
            self.backlog.push_back((laggard.clone(), Msg::Closed(conn)));
        }
    }
}

/// The message that tells a driver its connection `conn` failed for `why`.
fn failure(conn: ConnId, why: ConnectFailure, opening: bool) -> Msg {
    let kind = match why {
        ConnectFailure::Tls(t) => return Msg::TlsFailed(conn, t),
        ConnectFailure::Refused => io::ErrorKind::ConnectionRefused,
        ConnectFailure::TimedOut => io::ErrorKind::TimedOut,
        ConnectFailure::Unreachable => io::ErrorKind::HostUnreachable,
        ConnectFailure::Unresolved => io::ErrorKind::NotFound,
        ConnectFailure::Other | _ => io::ErrorKind::Other,
    };
    if opening {
        Msg::ConnectFailed(conn, io::Error::new(kind, why.to_string()))
    } else {
        Msg::Closed(conn)
    }
}
