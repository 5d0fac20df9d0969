//! Inputs, outputs and identifiers exchanged between the state machine and its driver.

use crate::Value;
use bytes::Bytes;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Identifies one connection the machine asked its driver to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Identifies one submitted command; its reply carries the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A host (name or IP literal) and TCP port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    /// Host name or IP address as text (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Addr {
    /// An address from host and port.
    pub fn new(host: impl Into<String>, port: u16) -> Addr {
        Addr {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why a `host:port` string is not an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrParseError(pub String);

impl fmt::Display for AddrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddrParseError {}

impl FromStr for Addr {
    type Err = AddrParseError;
    /// Parses `host:port` or `[v6]:port`.
    fn from_str(s: &str) -> Result<Addr, AddrParseError> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, p) = rest
                .split_once("]:")
                .ok_or_else(|| AddrParseError(format!("`{s}`: expected [ipv6]:port")))?;
            (h, p)
        } else {
            s.rsplit_once(':')
                .ok_or_else(|| AddrParseError(format!("`{s}`: expected host:port")))?
        };
        if host.is_empty() {
            return Err(AddrParseError(format!("`{s}`: empty host")));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| AddrParseError(format!("`{s}`: port must be 1-65535")))?;
        if port == 0 {
            return Err(AddrParseError(format!("`{s}`: port must be 1-65535")));
        }
        Ok(Addr::new(host, port))
    }
}

/// What a data node is, or which kind of node the caller wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The writable primary.
    Master,
    /// A read-only replica.
    Replica,
}

/// Why the machine opens a connection; drivers may use it for logging only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerKind {
    /// A sentinel, for queries.
    Sentinel,
    /// A sentinel, for the event subscription.
    SentinelSubscriber,
    /// A data node used for commands in the given role.
    Data(Role),
    /// A data node used for the caller's pub/sub subscriptions.
    DataSubscriber(Role),
    /// A data node used for one blocking command at a time (`BLPOP`, `XREAD BLOCK`, `WAIT`...).
    DataBlocking(Role),
    /// A data node used by one caller exclusively (a dedicated connection, e.g. for `WATCH`).
    DataDedicated(Role),
    /// Another replica a replica client spreads its reads over, besides its node.
    DataRead(Role),
}

/// Why a connection could not be established, as the driver saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The host name did not resolve to any address.
    Unresolved,
    /// Nothing listens there (connection refused).
    Refused,
    /// No answer within the connect timeout.
    TimedOut,
    /// No route to the host or its network.
    Unreachable,
    /// Another reason (the driver did not say, or it fits none of the above).
    Other,
    /// The TCP connection opened but the TLS handshake failed.
    Tls(super::TlsFailure),
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ConnectFailure::Tls(t) = self {
            return t.fmt(f);
        }
        f.write_str(match self {
            ConnectFailure::Tls(_) => "TLS failed",
            ConnectFailure::Unresolved => "host name not found",
            ConnectFailure::Refused => "connection refused",
            ConnectFailure::TimedOut => "connect timed out",
            ConnectFailure::Unreachable => "host unreachable",
            ConnectFailure::Other => "connect failed",
        })
    }
}

/// A fact the driver reports to the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input<'a> {
    /// The TCP connection requested by [`Output::Connect`] is established.
    Connected(ConnId),
    /// The same, saying which address the connection reached (the resolved IP and port):
    /// a sentinel configured by host name is then recognised when others announce its IP.
    ConnectedTo(ConnId, &'a Addr),
    /// The connection could not be established.
    ConnectFailed(ConnId),
    /// The connection could not be established, and why (errors then say so).
    ConnectFailedWith(ConnId, ConnectFailure),
    /// Bytes arrived on a connection.
    Received(ConnId, &'a [u8]),
    /// The peer closed the connection, or reading/writing failed.
    Closed(ConnId),
    /// An open connection ended for a reason the driver can name, e.g. a TLS 1.3 server's
    /// alert refusing the client certificate, which arrives only after the client finished
    /// its handshake (errors then say so instead of "connection closed").
    ClosedBy(ConnId, ConnectFailure),
}

/// Something the machine asks its driver to do, or tells its user.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Open a TCP connection to `addr` and report [`Input::Connected`] or [`Input::ConnectFailed`].
    Connect {
        /// Id to use in inputs about this connection.
        conn: ConnId,
        /// Where to connect.
        addr: Addr,
        /// What the connection is for.
        kind: PeerKind,
    },
    /// Write `bytes` to the connection, in order.
    Transmit {
        /// The connection.
        conn: ConnId,
        /// What to write.
        bytes: Bytes,
    },
    /// Close the connection; no input about it is expected afterwards.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// The outcome of a submitted command.
    Reply {
        /// Which command.
        request: RequestId,
        /// The server's reply (error replies included), or why there is none.
        result: Result<Value, super::CommandError>,
    },
    /// A published message (`message` or `pmessage`, RESP2 array or RESP3 push) for the
    /// caller's subscriptions. Subscription confirmations are not reported: the machine tracks
    /// its subscriptions itself.
    Message(super::Message),
    /// An out-of-band frame that is neither a reply nor a published message, as received: a
    /// RESP3 push such as client-side caching's `invalidate`, or an unrecognised frame on the
    /// caller's subscriber connection. Callers that do not use such features may ignore it.
    Push(Value),
    /// Something observers may want to know.
    Event(Event),
}

/// Lifecycle events for logging and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Connecting to a data node.
    Connecting {
        /// The node, as sentinels name it.
        addr: Addr,
        /// Where it is dialled, when [`super::Config::address_map`] maps `addr` elsewhere.
        dialed: Option<Addr>,
        /// The role we expect of it.
        role: Role,
    },
    /// A data node is verified and carries commands.
    Ready {
        /// The node, as sentinels name it.
        addr: Addr,
        /// Where it was dialled, when [`super::Config::address_map`] maps `addr` elsewhere.
        dialed: Option<Addr>,
        /// Its verified role.
        role: Role,
    },
    /// Something failed; the machine recovers on its own.
    Error(String),
    /// Waiting before the next attempt.
    Reconnecting {
        /// How long.
        delay: Duration,
    },
    /// A failover of our master started: writes to the old master stop here.
    FenceRaised {
        /// The master being replaced.
        old: Addr,
        /// The sentinel event that raised the fence (e.g. `+selected-slave`).
        reason: String,
    },
    /// The fence is still up after another `fence_max_hold` (the first time: the hold expired
    /// and what it held failed with `FenceTimeout`); it stays until sentinels agree no
    /// failover of `old` is in progress, or a new master is verified.
    FenceHeld {
        /// The fenced master.
        old: Addr,
        /// How long the fence has been up.
        held: Duration,
        /// Why it is still up (e.g. a sentinel still reports `failover-state send_slaveof_noone`).
        reason: String,
    },
    /// The fence came down without a new master (failover aborted, or after the hold expired
    /// sentinels agreed no failover is in progress); commands resume wherever sentinels point.
    FenceLifted {
        /// The master that was fenced.
        old: Addr,
        /// What lifted it (e.g. `-failover-abort-not-elected`).
        reason: String,
        /// How long the fence was up.
        held: Duration,
    },
    /// The master moved.
    MasterChanged {
        /// Previous master, if one was known.
        old: Option<Addr>,
        /// New master.
        new: Addr,
    },
    /// A sentinel was learned from `SENTINEL sentinels`.
    SentinelAdded(Addr),
    /// A discovered sentinel was dropped.
    SentinelRemoved(Addr),
}
