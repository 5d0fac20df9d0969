//! Typed errors: why a command failed, why discovery failed.

use super::interface::Addr;
use crate::ProtocolError;
use std::fmt;

/// Why sentinel discovery found no node; each variant names every sentinel tried and what
/// happened there, in the order they were asked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// No sentinel answered (connect failed, timed out or closed), or none are configured.
    NoSentinelReachable {
        /// Each sentinel and what went wrong.
        tried: Vec<(Addr, String)>,
    },
    /// Every sentinel that answered said it does not monitor this service name.
    UnknownService {
        /// The service name asked for.
        service: String,
        /// Each sentinel and what it said.
        tried: Vec<(Addr, String)>,
    },
    /// Sentinels answered, but not with a usable address (garbage, wrong arity, bad port,
    /// error replies, failed sentinel AUTH).
    InvalidReplies {
        /// Each sentinel and what it said.
        tried: Vec<(Addr, String)>,
    },
}

impl DiscoveryError {
    /// Every sentinel tried and what happened there.
    pub fn tried(&self) -> &[(Addr, String)] {
        match self {
            DiscoveryError::NoSentinelReachable { tried }
            | DiscoveryError::UnknownService { tried, .. }
            | DiscoveryError::InvalidReplies { tried } => tried,
        }
    }
}

fn write_tried(f: &mut fmt::Formatter<'_>, tried: &[(Addr, String)]) -> fmt::Result {
    if tried.is_empty() {
        return f.write_str(" (no sentinels configured)");
    }
    f.write_str(":")?;
    for (i, (a, why)) in tried.iter().enumerate() {
        let sep = if i == 0 { " " } else { "; " };
        write!(f, "{sep}{a}: {why}")?;
    }
    Ok(())
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::NoSentinelReachable { tried } => {
                f.write_str("no sentinel reachable")?;
                write_tried(f, tried)
            }
            DiscoveryError::UnknownService { service, tried } => {
                write!(f, "no sentinel knows service `{service}`")?;
                write_tried(f, tried)
            }
            DiscoveryError::InvalidReplies { tried } => {
                f.write_str("no sentinel gave a usable answer")?;
                write_tried(f, tried)
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Why a command got no reply from a server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// No reply within `command_timeout` (sent, or still queued).
    Timeout,
    /// The connection died; `sent` tells whether the command may have been executed. Sent
    /// commands are retried only when submitted as idempotent.
    ConnectionLost {
        /// The command was written before the connection died.
        sent: bool,
    },
    /// Held by the failover fence longer than `fence_max_hold`; it was never sent.
    FenceTimeout,
    /// The queue (`max_queued`, or `fence_max_queued` while fenced) is full; never sent.
    QueueFull,
    /// Sentinels did not name a master.
    MasterNotFound(DiscoveryError),
    /// Neither a replica nor the master fallback could be found.
    ReplicaNotFound(DiscoveryError),
    /// The data node rejected our credentials (`WRONGPASS`, `NOAUTH`...).
    Auth(String),
    /// The server sent bytes that are not RESP.
    Protocol(ProtocolError),
    /// The machine was closed.
    Closed,
    /// The command cannot be multiplexed (e.g. `SUBSCRIBE`: use the machine's subscribe API).
    Rejected(String),
    /// It waited its timeout while no node could serve it; the text says what went wrong
    /// last (e.g. the node at host:port reports role `slave`, or is loading its dataset).
    /// Never sent.
    Unavailable(String),
    /// The dedicated connection it was submitted to has ended (its node was retired by a
    /// failover, or the connection was lost): its connection state is gone; never sent.
    DedicatedEnded(String),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Timeout => f.write_str("command timed out"),
            CommandError::ConnectionLost { sent: true } => f.write_str(
                "connection lost after the command was sent; it may or may not have run",
            ),
            CommandError::ConnectionLost { sent: false } => {
                f.write_str("connection lost before the command was sent")
            }
            CommandError::FenceTimeout => {
                f.write_str("held by the failover fence too long; the command was not sent")
            }
            CommandError::QueueFull => f.write_str("command queue full; the command was not sent"),
            CommandError::MasterNotFound(e) => write!(f, "master not found: {e}"),
            CommandError::ReplicaNotFound(e) => write!(f, "replica not found: {e}"),
            CommandError::Auth(m) => write!(f, "authentication failed: {m}"),
            CommandError::Protocol(e) => write!(f, "{e}"),
            CommandError::Closed => f.write_str("client closed"),
            CommandError::Rejected(m) => write!(f, "command rejected: {m}"),
            CommandError::Unavailable(m) => {
                write!(
                    f,
                    "no usable node within the timeout; the command was not sent: {m}"
                )
            }
            CommandError::DedicatedEnded(m) => {
                write!(
                    f,
                    "dedicated connection ended; the command was not sent: {m}"
                )
            }
        }
    }
}

impl std::error::Error for CommandError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_sentinel() {
        let e = DiscoveryError::UnknownService {
            service: "svc".into(),
            tried: vec![
                (Addr::new("a", 1), "null".into()),
                (Addr::new("b", 2), "connect failed".into()),
            ],
        };
        let s = e.to_string();
        assert!(s.contains("svc") && s.contains("a:1: null") && s.contains("b:2: connect"));
        assert_eq!(e.tried().len(), 2);
        let c = CommandError::MasterNotFound(e);
        assert!(c.to_string().starts_with("master not found"));
        assert!(CommandError::ConnectionLost { sent: true }
            .to_string()
            .contains("may or may not"));
    }
}
