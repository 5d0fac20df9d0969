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

/// How soon a backlog is retried; doubled, up to [`RETRY_MAX`], while no driver takes
/// anything (a driver that stays stuck is not polled every millisecond).
const RETRY: Duration = Duration::from_millis(1);
const RETRY_MAX: Duration = Duration::from_millis(64);

/// True for the connections the hub carries: to sentinels.
fn carries(kind: PeerKind) -> bool {
    matches!(kind, PeerKind::Sentinel | PeerKind::SentinelSubscriber)
}

/// Hands a driver's connection `conn` to `hub` if it is one the hub carries (facts back on
/// `tx`, then `pump`); false when the net must dial it itself (no hub, another kind, or the
/// hub is gone).
pub(crate) fn hand_over(
    hub: Option<&HubRef>,
    conn: ConnId,
    addr: &Addr,
    kind: PeerKind,
    tx: &Sender<Msg>,
    pump: impl FnOnce() -> Option<Pump>,
) -> bool {
    match hub.filter(|_| carries(kind)) {
        Some(hub) => hub.open(conn, addr.clone(), kind, Back::new(tx.clone(), pump())),
        None => false,
    }
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

    /// Lets the driver see what was just sent to it.
    fn wake(&self) {
        if let Some(p) = &self.pump {
            p();
        }
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
    /// What waits for drivers whose channels were full, one queue per driver.
    backlog: Vec<Waiting>,
    retry_at: Option<Instant>,
    /// The wait before the next retry.
    retry_delay: Duration,
}

/// Messages for one driver whose channel was full, in order.
struct Waiting {
    back: Back,
    msgs: VecDeque<Msg>,
}

/// True for a message that ends a connection: never dropped, whatever else is.
fn ends(msg: &Msg) -> bool {
    matches!(
        msg,
        Msg::Closed(_) | Msg::ConnectFailed(..) | Msg::TlsFailed(..)
    )
}

impl Hub {
    /// A hub whose shared connections take replies within `limits`.
    pub(crate) fn new(limits: resp_sentinel_core::Limits) -> Hub {
        Hub {
            mux: SentinelMux::new(limits),
            me: None,
            members: HashMap::new(),
            next: 1,
            backlog: Vec::new(),
            retry_at: None,
            retry_delay: RETRY,
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
                debug_assert!(self.me.is_some(), "the hub is told its loop first");
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

    /// Sends `msg` to `back` now, or after what already waits for that driver.
    fn deliver(&mut self, back: Back, msg: Msg) {
        let Some(i) = self.backlog.iter().position(|w| w.back.same(&back)) else {
            match back.tx.try_send(msg) {
                Ok(()) => back.wake(),
                Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(msg)) => {
                    self.backlog.push(Waiting {
                        back,
                        msgs: VecDeque::from([msg]),
                    });
                    let delay = self.retry_delay;
                    self.retry_at.get_or_insert_with(|| Instant::now() + delay);
                }
            }
            return;
        };
        self.backlog[i].msgs.push_back(msg);
        if self.backlog[i].msgs.len() > BACKLOG_MAX {
            self.cut(i);
        }
    }

    /// Sends what waits, in order, until each driver's channel is full again.
    pub(crate) fn retry(&mut self) {
        let mut taken = false;
        self.backlog.retain_mut(|w| {
            while let Some(msg) = w.msgs.pop_front() {
                match w.back.tx.try_send(msg) {
                    Ok(()) => {
                        taken = true;
                        w.back.wake();
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                    Err(TrySendError::Full(msg)) => {
                        w.msgs.push_front(msg);
                        return true;
                    }
                }
            }
            false
        });
        self.retry_delay = match taken {
            true => RETRY,
            false => (self.retry_delay * 2).min(RETRY_MAX),
        };
        let delay = self.retry_delay;
        self.retry_at = (!self.backlog.is_empty()).then(|| Instant::now() + delay);
    }

    /// Driver `i` of the backlog is too far behind: its members leave the mux, what waits for
    /// it is dropped but the ends of connections, and it is told (once it has room) that its
    /// members' connections closed. What then waits is one end per connection at most.
    fn cut(&mut self, i: usize) {
        let w = &mut self.backlog[i];
        w.msgs.retain(ends);
        let laggard = w.back.clone();
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
            self.backlog[i].msgs.push_back(Msg::Closed(conn));
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

#[cfg(test)]
mod tests {
    use super::*;
    use resp_sentinel_core::sentinel::{Input, Output};

    /// Performs the mux's outputs as the hub's driver would, returning its connection outputs.
    fn run(h: &mut Hub) -> Vec<MuxOutput> {
        let mut conns = Vec::new();
        while let Some(out) = h.mux().poll_output() {
            conns.extend(h.member_output(out));
        }
        conns
    }

    const SUBSCRIBE: &[u8] = b"*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\n+switch-master\r\n";

    /// A hub whose drivers, one per channel, each open a notice connection (driver `i`'s as
    /// `ConnId(i + 1)`, member `i + 1`) to one sentinel, connected and subscribed; returns
    /// the hub and the shared connection.
    fn subscribed(drivers: &[Sender<Msg>]) -> (Hub, ConnId) {
        let (hub_tx, _hub_rx) = flume::unbounded();
        let mut h = Hub::new(resp_sentinel_core::Limits::default());
        h.set_self(Loop::new(hub_tx));
        let at = Addr::new("127.0.0.1", 26379);
        for (i, tx) in drivers.iter().enumerate() {
            let back = Back::new(tx.clone(), None);
            h.open(
                ConnId(i as u64 + 1),
                at.clone(),
                PeerKind::SentinelSubscriber,
                back,
            );
        }
        let conn = match run(&mut h).as_slice() {
            [MuxOutput::Conn(Output::Connect { conn, .. })] => *conn,
            other => panic!("{other:?}"),
        };
        h.mux().handle_input(Input::Connected(conn));
        run(&mut h);
        for i in 0..drivers.len() {
            h.write(MemberId(i as u64 + 1), SUBSCRIBE);
        }
        assert!(matches!(
            run(&mut h).as_slice(),
            [MuxOutput::Conn(Output::Transmit { .. })]
        ));
        (h, conn)
    }

    fn notice(i: usize) -> Bytes {
        let payload = format!("svc 10.0.0.1 6379 10.0.0.{} 6379", i % 200);
        Bytes::from(format!(
            "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n${}\r\n{payload}\r\n",
            payload.len()
        ))
    }

    /// A driver whose channel is full gets what waits in order once it has room; one that
    /// stays behind past the bound loses its connection (told last), and the hub's backlog
    /// stays bounded.
    #[test]
    fn a_driver_behind_gets_everything_in_order_or_loses_the_connection() {
        let (tx, rx) = flume::bounded(4);
        let (mut h, conn) = subscribed(&[tx]);
        assert!(matches!(rx.try_recv(), Ok(Msg::Connected(ConnId(1), _))));
        // Ten notices: four fit, six wait.
        for i in 0..10 {
            h.mux().handle_input(Input::Received(conn, &notice(i)));
        }
        run(&mut h);
        assert_eq!(h.backlog.len(), 1);
        assert_eq!(h.backlog[0].msgs.len(), 6);
        assert!(h.deadline().is_some());
        let mut got = Vec::new();
        while got.len() < 10 {
            while let Ok(Msg::Received(ConnId(1), b)) = rx.try_recv() {
                got.push(b);
            }
            h.retry();
        }
        assert_eq!(got, (0..10).map(notice).collect::<Vec<_>>());
        assert!(h.backlog.is_empty() && h.deadline().is_none());
        // Past the bound without reading: cut off, told so last, the backlog bounded.
        for i in 0..BACKLOG_MAX + 10 {
            h.mux().handle_input(Input::Received(conn, &notice(i)));
            let conns = run(&mut h);
            assert!(h.backlog.iter().all(|w| w.msgs.len() <= BACKLOG_MAX + 1));
            if conns.contains(&MuxOutput::Conn(Output::Close { conn })) {
                break;
            }
        }
        assert_eq!(h.mux().members(), 0, "the member left the mux");
        assert_eq!(h.mux().connections(), 0, "and its connection closed");
        let mut last = None;
        loop {
            while let Ok(msg) = rx.try_recv() {
                last = Some(msg);
            }
            if h.backlog.is_empty() {
                break;
            }
            h.retry();
        }
        assert!(matches!(last, Some(Msg::Closed(ConnId(1)))));
    }

    /// One driver's full channel holds up no other driver.
    #[test]
    fn a_full_driver_does_not_hold_up_the_others() {
        let (slow, slow_rx) = flume::bounded(1);
        let (fast, fast_rx) = flume::unbounded();
        let (mut h, conn) = subscribed(&[slow, fast]);
        for i in 0..50 {
            h.mux().handle_input(Input::Received(conn, &notice(i)));
            run(&mut h);
        }
        let got: Vec<Bytes> = fast_rx
            .try_iter()
            .filter_map(|m| match m {
                Msg::Received(ConnId(2), b) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(got, (0..50).map(notice).collect::<Vec<_>>());
        assert_eq!(slow_rx.len(), 1);
        assert_eq!(h.backlog.len(), 1, "only the slow driver waits");
        assert_eq!(h.backlog[0].msgs.len(), 50, "its Connected went first");
        // While it takes nothing, it is polled less and less often; once it does, at once.
        let wait = |h: &Hub| {
            h.deadline()
                .unwrap()
                .saturating_duration_since(Instant::now())
        };
        for _ in 0..10 {
            h.retry();
        }
        assert!(wait(&h) > Duration::from_millis(32), "{:?}", wait(&h));
        assert!(wait(&h) <= RETRY_MAX);
        assert!(slow_rx.try_recv().is_ok());
        h.retry();
        assert!(wait(&h) <= RETRY);
    }

    /// Cutting a driver keeps the news of a connection that already ended.
    #[test]
    fn a_cut_keeps_the_ends_already_waiting() {
        let (tx, rx) = flume::bounded(1);
        let (mut h, notices) = subscribed(std::slice::from_ref(&tx));
        // The same driver's query connection, to another sentinel.
        let back = Back::new(tx, None);
        h.open(
            ConnId(9),
            Addr::new("127.0.0.1", 26380),
            PeerKind::Sentinel,
            back,
        );
        let query = match run(&mut h).as_slice() {
            [MuxOutput::Conn(Output::Connect { conn, .. })] => *conn,
            other => panic!("{other:?}"),
        };
        h.mux().handle_input(Input::Connected(query));
        run(&mut h);
        h.mux().handle_input(Input::Closed(query));
        run(&mut h);
        for i in 0..BACKLOG_MAX + 1 {
            h.mux().handle_input(Input::Received(notices, &notice(i)));
            run(&mut h);
        }
        assert_eq!(h.mux().members(), 0);
        let mut ends = Vec::new();
        loop {
            while let Ok(msg) = rx.try_recv() {
                if let Msg::Closed(c) = msg {
                    ends.push(c);
                }
            }
            if h.backlog.is_empty() {
                break;
            }
            h.retry();
        }
        ends.sort();
        assert_eq!(
            ends,
            vec![ConnId(1), ConnId(9)],
            "both connections' ends arrive"
        );
    }
}
