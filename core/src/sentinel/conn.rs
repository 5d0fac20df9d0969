//! Per-connection bookkeeping: what the connection is for, its read/write buffers and the
//! replies it still expects, in order.

use super::io::{Addr, RequestId};
use crate::{Cmd, Decoder};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::time::Instant;

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
    /// A former data connection: nothing new is written, in-flight replies are still delivered.
    Retired,
}

/// A command that has been submitted and not yet answered.
#[derive(Debug)]
pub(crate) struct Queued {
    pub id: RequestId,
    pub cmd: Cmd,
    pub idempotent: bool,
    pub submitted: Instant,
    pub attempts: u32,
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

/// One connection the machine opened.
#[derive(Debug)]
pub(crate) struct Conn {
    pub addr: Addr,
    pub usage: Use,
    pub open: bool,
    /// Handshake and role check completed (data connections).
    pub ready: bool,
    pub opened_at: Instant,
    /// Last time bytes arrived or a command was written.
    pub last_io: Instant,
    pub dec: Decoder,
    pub rbuf: BytesMut,
    pub wbuf: BytesMut,
    pub pending: VecDeque<(Pending, Instant)>,
    /// How many of the last `pending` entries are still in `wbuf` (not handed to the driver).
    pub unflushed: usize,
}

impl Conn {
    pub(crate) fn new(addr: Addr, usage: Use, now: Instant) -> Conn {
        Conn {
            addr,
            usage,
            open: false,
            ready: false,
            opened_at: now,
            last_io: now,
            dec: Decoder::new(),
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            pending: VecDeque::new(),
            unflushed: 0,
        }
    }

    /// Appends `cmd` to the write buffer and expects one reply of kind `p`.
    pub(crate) fn send(&mut self, cmd: &Cmd, p: Pending, now: Instant) {
        cmd.encode(&mut self.wbuf);
        self.pending.push_back((p, now));
        self.unflushed += 1;
        self.last_io = now;
    }

    /// True when a user command is waiting for its reply here.
    pub(crate) fn has_user(&self) -> bool {
        self.pending
            .iter()
            .any(|(p, _)| matches!(p, Pending::User(_)))
    }
}
