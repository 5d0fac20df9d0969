//! Sharing sentinel connections between machines: every machine made from one set of options
//! (a master client, a replica client, other services, one-shot discoveries) reaches each
//! sentinel over one query connection and one notice subscription, instead of a set each.
//!
//! The mux sits between the machines and the driver. A machine's sentinel connection becomes
//! a *member* of the shared connection to the same sentinel for the same use:
//!
//! - **Queries.** Members' commands are written in the order they arrive; each reply goes to
//!   the member whose command it answers, first in first out (a machine sends sentinels only
//!   commands with exactly one reply: `AUTH`, `SENTINEL ...`). The reply to a member that
//!   has left is dropped.
//! - **Notices.** The first member to write sets the connection's *script* (`AUTH`, then
//!   `SUBSCRIBE`). A later member that writes the same script is not written again: it is
//!   handed the replies the script received (the `AUTH` reply), then gets every frame after
//!   them (confirmations and notices), as every member does. A member whose script differs
//!   gets a connection of its own.
//!
//! Members get the inputs an unshared connection would give them: connected (with the peer
//! address), whole frames, failures and closes. Nothing here has a clock: machines keep their
//! own connect and reply timeouts, and a shared connection closes when its last member leaves.
//! A frame that answers no member, or bytes that are not RESP, go to every member (each machine
//! then reports its own typed error) and end the shared connection.

use super::interface::{Addr, ConnId, ConnectFailure, Input, Output, PeerKind};
use crate::resp::{Decoder, Frame, Limits};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};

/// One machine's sentinel connection, as the mux knows it (the driver numbers them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub u64);

/// What the mux asks its driver to do: connections to sentinels, and inputs for members.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MuxOutput {
    /// For a shared connection: [`Output::Connect`] (report it with
    /// [`SentinelMux::handle_input`]), [`Output::Transmit`] or [`Output::Close`].
    Conn(Output),
    /// The member's connection is open (`peer`: where it arrived, when the driver said).
    Connected {
        /// The member.
        member: MemberId,
        /// The address the connection reached.
        peer: Option<Addr>,
    },
    /// The member's connection could not be opened; the member is gone.
    ConnectFailed {
        /// The member.
        member: MemberId,
        /// Why.
        why: ConnectFailure,
    },
    /// Bytes for the member (whole frames, except after bytes that are not RESP).
    Received {
        /// The member.
        member: MemberId,
        /// What it receives.
        bytes: Bytes,
    },
    /// The member's connection ended; the member is gone.
    Closed {
        /// The member.
        member: MemberId,
        /// Why, when the driver said (a TLS alert).
        why: Option<ConnectFailure>,
    },
}

/// How a shared connection hands out what it receives.
#[derive(Debug)]
enum Mode {
    /// Each reply to the member whose command it answers.
    Queries { owed: VecDeque<MemberId> },
    /// Script replies to those who sent the script, the rest to every synced member.
    Notices(Script),
    /// One member whose notice script differed from the shared connection's: what it sent
    /// is written once open, the replies it was already handed are dropped, and everything
    /// else passes through untouched.
    Solo { replay: Option<Bytes>, skip: usize },
}

/// A notice connection's commands as its first writer sent them, and what answered them.
#[derive(Debug, Default)]
struct Script {
    /// The commands, in order.
    frames: Vec<Bytes>,
    /// How many of them are answered by one reply each (all but `SUBSCRIBE`s), before any
    /// frame that goes to every member.
    replies_due: usize,
    /// The replies received so far.
    replies: Vec<Bytes>,
    /// Members still catching up: (script frames they sent, replies handed to them).
    followers: BTreeMap<MemberId, (usize, usize)>,
    /// Members that get every frame after the replies.
    synced: Vec<MemberId>,
}

/// One connection to a sentinel and the members sharing it.
#[derive(Debug)]
struct Shared {
    addr: Addr,
    kind: PeerKind,
    /// `None` while opening; then the peer the driver reported, if it said.
    open: Option<Option<Addr>>,
    /// In the order they joined.
    members: Vec<MemberId>,
    rx: BytesMut,
    decoder: Decoder,
    mode: Mode,
    /// Taking no new members: a member left while owed a reply, so the sentinel may be stuck;
    /// a fresh connection serves the next one (this one closes with its last member).
    retired: bool,
}

/// A member: its connection, and what it wrote that is not a whole command yet.
#[derive(Debug)]
struct Member {
    conn: ConnId,
    partial: BytesMut,
}

/// Shares connections to sentinels among machines (see the module docs). Sans-IO, like the
/// machines: feed it what members do and what the driver saw, drain [`SentinelMux::poll_output`].
#[derive(Debug)]
pub struct SentinelMux {
    limits: Limits,
    conns: BTreeMap<ConnId, Shared>,
    members: BTreeMap<MemberId, Member>,
    next_conn: u64,
    out: VecDeque<MuxOutput>,
}

impl SentinelMux {
    /// A mux whose connections accept replies within `limits` (the machines' own, e.g. a
    /// `Limits` whose `max_frame_len` is `Config::max_reply_len`).
    pub fn new(limits: Limits) -> SentinelMux {
        SentinelMux {
            limits,
            conns: BTreeMap::new(),
            members: BTreeMap::new(),
            next_conn: 1,
            out: VecDeque::new(),
        }
    }

    /// Connections open or opening.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Members attached.
    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// A machine opens a connection of `kind` to `addr`: it joins the shared one, or one is
    /// opened. An id already attached is closed first.
    pub fn open(&mut self, member: MemberId, addr: Addr, kind: PeerKind) {
        self.close(member);
        let shared = self.conns.iter().find(|(_, s)| {
            s.addr == addr && s.kind == kind && !s.retired && !matches!(s.mode, Mode::Solo { .. })
        });
        let conn = match shared {
            Some((&conn, _)) => conn,
            None => {
                let mode = match kind {
                    PeerKind::SentinelSubscriber => Mode::Notices(Script::default()),
                    _ => Mode::Queries {
                        owed: VecDeque::new(),
                    },
                };
                self.connect(addr, kind, mode)
            }
        };
        self.attach(member, conn);
    }

    /// What a member writes.
    pub fn transmit(&mut self, member: MemberId, bytes: &[u8]) {
        let Some(m) = self.members.get_mut(&member) else {
            return;
        };
        let conn = m.conn;
        let Some(s) = self.conns.get_mut(&conn) else {
            return;
        };
        if let Mode::Solo { replay, .. } = &mut s.mode {
            match replay {
                // Not open yet: written after what it sent before.
                Some(r) => {
                    let mut all = BytesMut::from(&r[..]);
                    all.extend_from_slice(bytes);
                    *r = all.freeze();
                }
                None => {
                    let bytes = Bytes::copy_from_slice(bytes);
                    let out = Output::Transmit { conn, bytes };
                    self.out.push_back(MuxOutput::Conn(out));
                }
            }
            return;
        }
        m.partial.extend_from_slice(bytes);
        let frames = split_commands(&mut m.partial);
        if frames.is_empty() {
            return;
        }
        let Mode::Queries { owed } = &mut s.mode else {
            return self.notice_commands(member, conn, frames);
        };
        owed.extend(std::iter::repeat_n(member, frames.len()));
        let bytes = match <[Bytes; 1]>::try_from(frames) {
            Ok([one]) => one,
            Err(frames) => {
                let mut all = BytesMut::new();
                for f in &frames {
                    all.extend_from_slice(f);
                }
                all.freeze()
            }
        };
        self.out
            .push_back(MuxOutput::Conn(Output::Transmit { conn, bytes }));
    }

    /// A member's machine closed its connection; the shared one closes with its last member.
    pub fn close(&mut self, member: MemberId) {
        let Some(m) = self.members.remove(&member) else {
            return;
        };
        let Some(s) = self.conns.get_mut(&m.conn) else {
            return;
        };
        s.members.retain(|x| *x != member);
        match &mut s.mode {
            Mode::Queries { owed } => s.retired |= owed.contains(&member),
            Mode::Notices(script) => {
                s.retired |= script.replies.len() < script.replies_due;
                script.followers.remove(&member);
                script.synced.retain(|x| *x != member);
            }
            Mode::Solo { .. } => {}
        }
        if s.members.is_empty() {
            self.conns.remove(&m.conn);
            self.out
                .push_back(MuxOutput::Conn(Output::Close { conn: m.conn }));
        }
    }

    /// A fact from the driver about a shared connection.
    pub fn handle_input(&mut self, input: Input<'_>) {
        match input {
            Input::Connected(conn) => self.connected(conn, None),
            Input::ConnectedTo(conn, peer) => self.connected(conn, Some(peer.clone())),
            Input::ConnectFailed(conn) => self.failed(conn, ConnectFailure::Other),
            Input::ConnectFailedWith(conn, why) => self.failed(conn, why),
            Input::Received(conn, bytes) => self.received(conn, bytes),
            Input::Closed(conn) => self.end(conn, None),
            Input::ClosedBy(conn, why) => self.end(conn, Some(why)),
        }
    }

    /// The next thing to do, in order; drain after every call above.
    pub fn poll_output(&mut self) -> Option<MuxOutput> {
        self.out.pop_front()
    }

    fn connect(&mut self, addr: Addr, kind: PeerKind, mode: Mode) -> ConnId {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.out.push_back(MuxOutput::Conn(Output::Connect {
            conn,
            addr: addr.clone(),
            kind,
        }));
        self.conns.insert(
            conn,
            Shared {
                addr,
                kind,
                open: None,
                members: Vec::new(),
                rx: BytesMut::new(),
                decoder: Decoder::with_limits(self.limits),
                mode,
                retired: false,
            },
        );
        conn
    }

    fn attach(&mut self, member: MemberId, conn: ConnId) {
        let Some(s) = self.conns.get_mut(&conn) else {
            return;
        };
        s.members.push(member);
        self.members.insert(
            member,
            Member {
                conn,
                partial: BytesMut::new(),
            },
        );
        if let Some(peer) = &s.open {
            self.out.push_back(MuxOutput::Connected {
                member,
                peer: peer.clone(),
            });
        }
    }

    fn connected(&mut self, conn: ConnId, peer: Option<Addr>) {
        let Some(s) = self.conns.get_mut(&conn) else {
            return;
        };
        if s.open.is_some() {
            return;
        }
        s.open = Some(peer.clone());
        if let Mode::Solo { replay, .. } = &mut s.mode {
            // Its member was told it is connected when it joined the shared connection.
            if let Some(bytes) = replay.take() {
                self.out
                    .push_back(MuxOutput::Conn(Output::Transmit { conn, bytes }));
            }
            return;
        }
        for &member in &s.members {
            self.out.push_back(MuxOutput::Connected {
                member,
                peer: peer.clone(),
            });
        }
    }

    fn failed(&mut self, conn: ConnId, why: ConnectFailure) {
        let Some(s) = self.conns.remove(&conn) else {
            return;
        };
        // A solo connection's member was told it is connected (on the shared one): for it,
        // the connection ended.
        let solo = matches!(s.mode, Mode::Solo { .. });
        for member in s.members {
            self.members.remove(&member);
            self.out.push_back(match solo {
                true => MuxOutput::Closed {
                    member,
                    why: Some(why),
                },
                false => MuxOutput::ConnectFailed { member, why },
            });
        }
    }

    fn end(&mut self, conn: ConnId, why: Option<ConnectFailure>) {
        let Some(s) = self.conns.remove(&conn) else {
            return;
        };
        for member in s.members {
            self.members.remove(&member);
            self.out.push_back(MuxOutput::Closed { member, why });
        }
    }

    /// A notice member's whole commands: the first writer's become the script, a later
    /// member's must repeat it.
    fn notice_commands(&mut self, member: MemberId, conn: ConnId, frames: Vec<Bytes>) {
        let Some(Shared {
            mode: Mode::Notices(script),
            ..
        }) = self.conns.get_mut(&conn)
        else {
            return;
        };
        if script.frames.is_empty() && script.synced.is_empty() {
            let mut all = BytesMut::new();
            for f in &frames {
                all.extend_from_slice(f);
                if !is_subscribe(f) {
                    script.replies_due += 1;
                }
            }
            script.frames = frames;
            script.synced.push(member);
            self.out.push_back(MuxOutput::Conn(Output::Transmit {
                conn,
                bytes: all.freeze(),
            }));
            return;
        }
        // Commands beyond the script (from anyone) cannot be answered on a shared connection.
        let (sent, given) = match script.followers.get(&member) {
            Some(&entry) => entry,
            None if script.synced.contains(&member) => (script.frames.len(), script.replies.len()),
            None => (0, 0),
        };
        let matches = frames.len() <= script.frames.len() - sent
            && frames
                .iter()
                .zip(&script.frames[sent..])
                .all(|(a, b)| a == b);
        if !matches {
            let mut all = BytesMut::new();
            for f in script.frames[..sent].iter().chain(&frames) {
                all.extend_from_slice(f);
            }
            return self.go_solo(member, conn, all.freeze(), given);
        }
        script.followers.entry(member).or_default().0 = sent + frames.len();
        self.catch_up(conn, member);
    }

    /// Hands a follower the script replies it is owed; once it has sent the whole script and
    /// has them all, it gets every frame from now on.
    fn catch_up(&mut self, conn: ConnId, member: MemberId) {
        let Some(Shared {
            mode: Mode::Notices(script),
            ..
        }) = self.conns.get_mut(&conn)
        else {
            return;
        };
        let Some((sent, given)) = script.followers.get_mut(&member) else {
            return;
        };
        // Replies answer the script's commands in order; a follower is owed those of the
        // commands it sent (every command before a SUBSCRIBE has one).
        let owed = script.frames[..*sent]
            .iter()
            .filter(|f| !is_subscribe(f))
            .count()
            .min(script.replies.len());
        for r in &script.replies[*given..owed] {
            self.out.push_back(MuxOutput::Received {
                member,
                bytes: r.clone(),
            });
        }
        *given = owed.max(*given);
        if *sent == script.frames.len() && *given == script.replies_due {
            script.followers.remove(&member);
            script.synced.push(member);
        }
    }

    /// A notice member whose script differs: moved to a connection of its own, which is
    /// written everything the member sent once open; the `given` replies it already had are
    /// not handed to it again.
    fn go_solo(&mut self, member: MemberId, conn: ConnId, sent: Bytes, given: usize) {
        let Some(s) = self.conns.get(&conn) else {
            return;
        };
        let (addr, kind) = (s.addr.clone(), s.kind);
        // What it wrote of a command not yet whole goes along.
        let partial = self
            .members
            .get_mut(&member)
            .map(|m| m.partial.split())
            .unwrap_or_default();
        let mut sent = BytesMut::from(&sent[..]);
        sent.extend_from_slice(&partial);
        let sent = sent.freeze();
        // Leaves the shared connection (no input about that reaches the member).
        self.close(member);
        let mode = Mode::Solo {
            replay: Some(sent),
            skip: given,
        };
        let solo = self.connect(addr, kind, mode);
        if let Some(s) = self.conns.get_mut(&solo) {
            s.members.push(member);
        }
        self.members.insert(
            member,
            Member {
                conn: solo,
                partial: BytesMut::new(),
            },
        );
    }

    fn received(&mut self, conn: ConnId, bytes: &[u8]) {
        let Some(s) = self.conns.get_mut(&conn) else {
            return;
        };
        if let Mode::Solo { skip, .. } = &mut s.mode {
            let Some(&member) = s.members.first() else {
                return;
            };
            if *skip == 0 {
                let bytes = Bytes::copy_from_slice(bytes);
                self.out.push_back(MuxOutput::Received { member, bytes });
                return;
            }
            // Drops the replies the member already had, then passes the rest through.
            s.rx.extend_from_slice(bytes);
            while *skip > 0 {
                match s.decoder.parse(&s.rx) {
                    Ok(Some(p)) => {
                        let _ = s.rx.split_to(p.len);
                        *skip -= 1;
                    }
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            *skip = 0;
            if !s.rx.is_empty() {
                let bytes = s.rx.split().freeze();
                self.out.push_back(MuxOutput::Received { member, bytes });
            }
            return;
        }
        s.rx.extend_from_slice(bytes);
        loop {
            let Some(s) = self.conns.get_mut(&conn) else {
                return;
            };
            let len = match s.decoder.parse(&s.rx) {
                Ok(Some(p)) => p.len,
                Ok(None) => return,
                Err(_) => {
                    // Every member's own decoder says what is wrong with these bytes.
                    let rest = s.rx.split().freeze();
                    return self.poison(conn, rest);
                }
            };
            let frame = s.rx.split_to(len).freeze();
            self.route(conn, frame);
        }
    }

    /// One whole frame received on a shared connection.
    fn route(&mut self, conn: ConnId, frame: Bytes) {
        let Some(s) = self.conns.get_mut(&conn) else {
            return;
        };
        let push = frame.first() == Some(&b'>');
        match &mut s.mode {
            Mode::Queries { owed } => {
                if push {
                    // Machines ignore pushes on query connections.
                    return;
                }
                let next = owed.pop_front();
                // The replies owed to members that left came: the sentinel answers after all.
                if s.retired && owed.iter().all(|m| s.members.contains(m)) {
                    s.retired = false;
                }
                match next {
                    Some(member) if s.members.contains(&member) => {
                        self.out.push_back(MuxOutput::Received {
                            member,
                            bytes: frame,
                        });
                    }
                    Some(_) => {} // its member left
                    None => self.poison(conn, frame),
                }
            }
            Mode::Notices(script) => {
                let to: Vec<MemberId> = script.synced.clone();
                for member in to {
                    self.out.push_back(MuxOutput::Received {
                        member,
                        bytes: frame.clone(),
                    });
                }
                if !push && script.replies.len() < script.replies_due {
                    // A script reply: the writer (synced from the start) got it above; a
                    // follower gets it once it has sent the command it answers.
                    script.replies.push(frame);
                    // Answered after all: whoever left waiting gave up too early.
                    if script.replies.len() == script.replies_due {
                        s.retired = false;
                    }
                    let followers: Vec<MemberId> = script.followers.keys().copied().collect();
                    for member in followers {
                        self.catch_up(conn, member);
                    }
                }
            }
            Mode::Solo { .. } => {}
        }
    }

    /// Bytes no member can be given as its own: every member gets them (its machine reports
    /// the error), and the shared connection ends.
    fn poison(&mut self, conn: ConnId, bytes: Bytes) {
        let Some(s) = self.conns.get(&conn) else {
            return;
        };
        for &member in &s.members {
            self.out.push_back(MuxOutput::Received {
                member,
                bytes: bytes.clone(),
            });
        }
        self.out.push_back(MuxOutput::Conn(Output::Close { conn }));
        self.end(conn, None);
    }
}

/// Splits the whole commands off the front of `buf` (a member's writes), leaving a partial one.
fn split_commands(buf: &mut BytesMut) -> Vec<Bytes> {
    let mut frames = Vec::new();
    loop {
        // Commands are our own encoder's output; a fresh decoder per command keeps no state
        // between writes.
        match Decoder::new().parse(buf) {
            Ok(Some(p)) => {
                let len = p.len;
                frames.push(buf.split_to(len).freeze());
            }
            Ok(None) => break,
            Err(_) => {
                // Not RESP: passed on whole, as a command (the server will say what it is).
                if !buf.is_empty() {
                    frames.push(buf.split().freeze());
                }
                break;
            }
        }
    }
    frames
}

/// True for `SUBSCRIBE` and `PSUBSCRIBE`, answered by one confirmation per channel.
fn is_subscribe(command: &[u8]) -> bool {
    let Ok(Some(p)) = Decoder::new().parse(command) else {
        return false;
    };
    let name = p
        .frame
        .as_aggregate()
        .and_then(|a| a.iter().next())
        .and_then(|f: Frame<'_>| f.as_bytes());
    name.is_some_and(|n| {
        n.eq_ignore_ascii_case(b"SUBSCRIBE") || n.eq_ignore_ascii_case(b"PSUBSCRIBE")
    })
}
