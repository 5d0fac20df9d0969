//! The connection table and the output queue: everything the machine asks of its driver.
//!
//! [`Io`] owns every connection the machine opened (what each is for, its buffers, the replies
//! it still expects, in order) and the queue of [`Output`]s. Bytes written to a connection
//! collect in its write buffer; one [`Output::Transmit`] per connection carries all of them
//! when the driver next drains the queue, so many commands leave in one write.

use super::address_map::AddressMap;
use super::interface::{Addr, ConnId, Event, Output, PeerKind, RequestId};
use super::queue::Queued;
use super::CommandError;
use crate::{Cmd, Decoder, Limits, ProtocolError, Value};
use bytes::BytesMut;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// What the machine uses a connection for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// Sentinel queries (discovery walks, refresh).
    Query,
    /// Sentinel event subscription.
    Notices,
    /// The data node carrying commands.
    Node,
    /// The data node carrying the caller's pub/sub subscriptions.
    PubSub,
    /// A pool connection to the data node for one blocking command at a time.
    Blocking,
    /// One caller's exclusive connection to the data node.
    Dedicated,
    /// A replica client's connection to another usable replica, for spread reads.
    Spread,
    /// A former data connection: nothing new is written, in-flight replies are still delivered.
    Retired,
}

/// What the next reply on a connection answers.
#[derive(Debug)]
pub(crate) enum Pending {
    /// A reply to drop (handshake replies made moot by a HELLO fallback).
    Ignore,
    Hello,
    Auth,
    Select,
    SetName,
    Role,
    Ping,
    User(Queued),
    SentinelAuth,
    GetMaster {
        walk: u64,
    },
    /// `SENTINEL MASTER <name>`, asked for its `config-epoch`.
    MasterInfo {
        walk: u64,
    },
    Replicas {
        walk: u64,
    },
    Sentinels,
}

/// Why a connection went away.
#[derive(Clone, Debug)]
pub(crate) enum Cause {
    ConnectFailed(super::interface::ConnectFailure),
    Closed,
    Timeout,
    Protocol(ProtocolError),
    Unexpected(String),
    Shutdown,
}

impl Cause {
    pub(crate) fn describe(&self) -> String {
        match self {
            Cause::ConnectFailed(super::interface::ConnectFailure::Other) => {
                "connect failed".into()
            }
            // The TCP connection opened: "connect failed" would mislead.
            Cause::ConnectFailed(why @ super::interface::ConnectFailure::Tls(_)) => why.to_string(),
            Cause::ConnectFailed(why) => format!("connect failed: {why}"),
            Cause::Closed => "connection closed".into(),
            Cause::Timeout => "timed out".into(),
            Cause::Protocol(e) => format!("invalid reply: {e}"),
            Cause::Unexpected(m) => m.clone(),
            Cause::Shutdown => "client closed".into(),
        }
    }
}

/// One connection the machine opened.
#[derive(Debug)]
pub(crate) struct Conn {
    addr: Addr,
    /// Where the connection was opened, when the address map sent it elsewhere than `addr`.
    dialed: Option<Addr>,
    usage: Use,
    open: bool,
    /// Handshake and role check completed (data connections).
    ready: bool,
    opened_at: Instant,
    /// Last time bytes arrived or a command was written.
    last_io: Instant,
    dec: Decoder,
    rbuf: BytesMut,
    wbuf: BytesMut,
    pending: VecDeque<(Pending, Instant)>,
    /// How many of the last `pending` entries are still in `wbuf` (not handed to the driver).
    unflushed: usize,
}

impl Conn {
    fn new(addr: Addr, dialed: Option<Addr>, usage: Use, limits: Limits, now: Instant) -> Conn {
        Conn {
            addr,
            dialed,
            usage,
            open: false,
            ready: false,
            opened_at: now,
            last_io: now,
            dec: Decoder::with_limits(limits),
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            pending: VecDeque::new(),
            unflushed: 0,
        }
    }

    /// Where it goes (as announced).
    pub(crate) fn addr(&self) -> &Addr {
        &self.addr
    }

    /// Where it was opened, when the address map sent it elsewhere than [`Conn::addr`].
    pub(crate) fn dialed(&self) -> Option<&Addr> {
        self.dialed.as_ref()
    }

    /// The address for messages: the announced one, and where it was dialled when mapped.
    pub(crate) fn label(&self) -> String {
        match &self.dialed {
            Some(d) => format!("{} (dialled at {d})", self.addr),
            None => self.addr.to_string(),
        }
    }

    /// What it is for.
    pub(crate) fn usage(&self) -> Use {
        self.usage
    }

    /// The driver reported it connected.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// Its handshake (and `ROLE` check) completed.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready
    }

    /// Marks the handshake done.
    pub(crate) fn set_ready(&mut self) {
        self.ready = true;
    }

    /// When it was requested.
    pub(crate) fn opened_at(&self) -> Instant {
        self.opened_at
    }

    /// Last time bytes arrived or a command was written.
    pub(crate) fn last_io(&self) -> Instant {
        self.last_io
    }

    /// When the reply the connection waits for is overdue: `default` after it was asked for,
    /// or the caller's own timeout for its command.
    pub(crate) fn reply_deadline(&self, default: Duration) -> Option<Instant> {
        self.pending.front().map(|(p, sent)| match p {
            Pending::User(q) => *sent + q.limit(default),
            _ => *sent + default,
        })
    }

    /// True when no reply is expected.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// True when a user command is waiting for its reply here.
    pub(crate) fn has_user(&self) -> bool {
        self.pending
            .iter()
            .any(|(p, _)| matches!(p, Pending::User(_)))
    }

    /// Every reply still expected becomes one to drop (a HELLO fallback restarts the handshake).
    pub(crate) fn ignore_pending(&mut self) {
        for (p, _) in self.pending.iter_mut() {
            *p = Pending::Ignore;
        }
    }

    /// A reply arrived: what it answers, once the unit it belongs to is complete.
    fn answer(&mut self, v: Value, refusal: impl Fn(&Value) -> bool) -> Option<Answer> {
        if let Some((Pending::User(q), _)) = self.pending.front_mut() {
            if q.got.len() + 1 < q.work.replies() {
                let refused = refusal(&v);
                q.got.push(v);
                return Some(Answer::Partial { refused });
            }
        }
        let (p, sent) = self.pending.pop_front()?;
        self.unflushed = self.unflushed.min(self.pending.len());
        Some(Answer::Complete(p, sent, v))
    }

    /// Appends `cmd` to the write buffer and expects one reply of kind `p`.
    fn send(&mut self, cmd: &Cmd, p: Pending, now: Instant) {
        cmd.encode(&mut self.wbuf);
        self.pending.push_back((p, now));
        self.unflushed += 1;
        self.last_io = now;
    }

    /// Stops using the connection for new work: commands not yet handed to the driver are taken
    /// back (never sent); written ones keep waiting for their replies.
    pub(crate) fn retire(&mut self) -> Vec<Queued> {
        let keep = self.pending.len().saturating_sub(self.unflushed);
        let unsent = self.pending.split_off(keep);
        self.unflushed = 0;
        self.wbuf.clear();
        self.usage = Use::Retired;
        self.ready = false;
        unsent
            .into_iter()
            .filter_map(|(p, _)| match p {
                Pending::User(q) => Some(q),
                _ => None,
            })
            .collect()
    }

    /// The user commands it carried when it went away: `(command, sent, when written)`, in
    /// order; `sent` is false for those still in the write buffer.
    pub(crate) fn into_user_commands(self) -> Vec<(Queued, bool, Instant)> {
        let unsent_from = self.pending.len().saturating_sub(self.unflushed);
        self.pending
            .into_iter()
            .enumerate()
            .filter_map(|(i, (p, at))| match p {
                Pending::User(q) => Some((q, i < unsent_from, at)),
                _ => None,
            })
            .collect()
    }
}

/// What a reply completes.
pub(crate) enum Answer {
    /// The reply to `Pending`, asked for at the instant.
    Complete(Pending, Instant, Value),
    /// One more reply of a batch or transaction still waiting for the rest; `refused` when
    /// that reply says the node cannot serve us (so the machine acts on it at once).
    Partial { refused: bool },
}

/// What came of bytes received on a connection.
pub(crate) enum Decoded {
    /// A complete frame.
    Frame(Value),
    /// The bytes so far are not valid RESP.
    Invalid(ProtocolError),
}

/// Every connection of the machine, and the outputs waiting for the driver.
#[derive(Debug)]
pub(crate) struct Io {
    conns: BTreeMap<ConnId, Conn>,
    next_id: u64,
    /// Connections written to since the driver last drained the queue (one transmit each),
    /// without repeats; a `Vec` that keeps its room, so that marking one allocates nothing.
    written: Vec<ConnId>,
    out: VecDeque<Output>,
    /// What every connection's decoder accepts.
    limits: Limits,
    /// Where announced addresses are dialled.
    map: AddressMap,
}

impl Io {
    /// No connections, nothing to say; replies may span `max_reply_len` bytes.
    pub(crate) fn new(max_reply_len: usize, map: AddressMap) -> Io {
        Io {
            conns: BTreeMap::new(),
            next_id: 1,
            written: Vec::new(),
            out: VecDeque::new(),
            limits: Limits {
                max_frame_len: max_reply_len,
                ..Limits::default()
            },
            map,
        }
    }

    /// Asks the driver for a connection to `addr`, dialled where the address map says.
    pub(crate) fn open(&mut self, addr: Addr, usage: Use, kind: PeerKind, now: Instant) -> ConnId {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let dialed = self.map.dial(&addr);
        let to = dialed.clone().unwrap_or_else(|| addr.clone());
        self.conns
            .insert(id, Conn::new(addr, dialed, usage, self.limits, now));
        self.out.push_back(Output::Connect {
            conn: id,
            addr: to,
            kind,
        });
        id
    }

    /// Where announced address `a` is dialled (itself when the map does not cover it).
    pub(crate) fn dial(&self, a: &Addr) -> Addr {
        self.map.dial_or_same(a)
    }

    /// The connection, if it is still in the table.
    pub(crate) fn get(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(&id)
    }

    /// The connection, to change it.
    pub(crate) fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(&id)
    }

    /// Retired data connections to `addr` (commands written there still wait for replies).
    pub(crate) fn retired_to(&self, addr: &Addr) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.usage == Use::Retired && c.addr == *addr)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every connection, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (ConnId, &Conn)> {
        self.conns.iter().map(|(id, c)| (*id, c))
    }

    /// The driver reported the connection established; false when it was unknown or open.
    pub(crate) fn mark_open(&mut self, id: ConnId, now: Instant) -> Option<Use> {
        let c = self.conns.get_mut(&id).filter(|c| !c.open)?;
        c.open = true;
        c.last_io = now;
        Some(c.usage)
    }

    /// Appends received bytes to an open connection's read buffer; false when unknown.
    pub(crate) fn receive(&mut self, id: ConnId, bytes: &[u8], now: Instant) -> bool {
        match self.conns.get_mut(&id) {
            Some(c) if c.open => {
                c.rbuf.extend_from_slice(bytes);
                c.last_io = now;
                true
            }
            _ => false,
        }
    }

    /// The next complete frame in a connection's read buffer, if any.
    pub(crate) fn next_frame(&mut self, id: ConnId) -> Option<Decoded> {
        let c = self.conns.get_mut(&id)?;
        match c.dec.decode(&mut c.rbuf) {
            Ok(Some(v)) => Some(Decoded::Frame(v)),
            Ok(None) => None,
            Err(e) => Some(Decoded::Invalid(e)),
        }
    }

    /// A reply arrived on `id`: what it answers (`None`: nothing was expected); `refusal`
    /// tells a reply by which the node refuses to serve us.
    pub(crate) fn answer(
        &mut self,
        id: ConnId,
        v: Value,
        refusal: impl Fn(&Value) -> bool,
    ) -> Option<Answer> {
        self.conns.get_mut(&id)?.answer(v, refusal)
    }

    /// Writes a command expecting one reply of kind `p`.
    pub(crate) fn send(&mut self, id: ConnId, cmd: &Cmd, p: Pending, now: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            let first = c.wbuf.is_empty();
            c.send(cmd, p, now);
            self.mark_written(id, first);
        }
    }

    /// Writes a caller's command.
    pub(crate) fn send_user(&mut self, id: ConnId, q: Queued, now: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            let first = c.wbuf.is_empty();
            q.work.encode(&mut c.wbuf);
            c.pending.push_back((Pending::User(q), now));
            c.unflushed += 1;
            c.last_io = now;
            self.mark_written(id, first);
        }
    }

    /// Writes bytes that expect no reply (pub/sub commands).
    pub(crate) fn send_raw(&mut self, id: ConnId, cmd: &Cmd) {
        if let Some(c) = self.conns.get_mut(&id) {
            let first = c.wbuf.is_empty();
            cmd.encode(&mut c.wbuf);
            self.mark_written(id, first);
        }
    }

    /// Forgets a connection the driver reported gone (no [`Output::Close`]).
    pub(crate) fn forget(&mut self, id: ConnId) -> Option<Conn> {
        let c = self.conns.remove(&id)?;
        self.written.retain(|w| *w != id);
        Some(c)
    }

    /// Removes a connection and tells the driver to close it.
    pub(crate) fn close(&mut self, id: ConnId) -> Option<Conn> {
        let c = self.forget(id)?;
        self.out.push_back(Output::Close { conn: id });
        Some(c)
    }

    /// Closes every connection; the caller's commands they still carried fail with `Closed`.
    pub(crate) fn close_all(&mut self) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.close(id) {
                for (p, _) in c.pending {
                    if let Pending::User(q) = p {
                        self.reply(q.id, Err(CommandError::Closed));
                    }
                }
            }
        }
        self.written.clear();
    }

    /// Notes that `id` has bytes to transmit; `first` when its buffer was empty before this
    /// write. A connection with bytes waiting is always listed (only a drain empties the
    /// buffer, but for a take-back, which may leave a stale entry: a drain skips it), so it is
    /// listed once per drain without searching the list.
    fn mark_written(&mut self, id: ConnId, first: bool) {
        if first {
            self.written.push(id);
        }
    }

    /// Tells the caller how a command ended.
    pub(crate) fn reply(&mut self, request: RequestId, result: Result<Value, CommandError>) {
        self.out.push_back(Output::Reply { request, result });
    }

    /// Tells observers something happened.
    pub(crate) fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// Queues any other output.
    pub(crate) fn push(&mut self, o: Output) {
        self.out.push_back(o);
    }

    /// The next output; the bytes written since the last drain come out as one transmit per
    /// connection once everything queued before them is out.
    pub(crate) fn poll(&mut self) -> Option<Output> {
        if self.out.is_empty() {
            // In connection order, as a sorted set would give them.
            self.written.sort_unstable();
            for id in self.written.drain(..) {
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
}
