//! The error type users see: the core's typed errors, wrapped as they are.

use resp_sentinel_core::sentinel::{Addr, CommandError, DiscoveryError};
use resp_sentinel_core::url::UrlError;
use resp_sentinel_core::{ConversionError, ErrorReply, ProtocolError};
use std::{fmt, io};

/// Everything a command or a discovery can fail with.
///
/// Variants that wrap a typed error keep it: match on it, or walk [`std::error::Error::source`].
/// `Display` is one self-contained line that already includes the wrapped error's message, so
/// printing `{err}` alone says everything (a reporter that also prints the source chain will
/// repeat it). Nothing a server sent is quoted at length, and no password is ever shown.
///
/// Whether the command may have run: [`Error::ConnectionLost`] means it was sent and not
/// answered (it may or may not have run; it was not retried). [`Error::FailoverInProgress`],
/// [`Error::QueueFull`], [`Error::CircuitOpen`], [`Error::Rejected`] and [`Error::Closed`] mean
/// it was never sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The URL given to `Sentinel::from_url` is not usable (the error says which part and why,
    /// without echoing credentials).
    Url(UrlError),
    /// No sentinel could name a reachable, verified master for the service (the master is
    /// what some clients call the primary); the discovery error lists every sentinel tried.
    MasterNotFound(DiscoveryError),
    /// No usable replica (nor the master as fallback) could be found.
    ReplicaNotFound(DiscoveryError),
    /// The command got no reply within the command timeout.
    Timeout,
    /// The server sent bytes that are not valid RESP.
    Protocol(ProtocolError),
    /// The server answered with an error reply (`ERR`, `WRONGTYPE`, `NOSCRIPT`...).
    Server(ErrorReply),
    /// A socket failed before the command was sent: what kind of failure, and on which node
    /// when it is known.
    Io {
        /// The kind of the underlying I/O error.
        kind: io::ErrorKind,
        /// The node the connection went to, when known.
        addr: Option<Addr>,
    },
    /// The data node refused our credentials; the text is the core's description of the
    /// handshake step and the server's (shortened) reply.
    Auth(String),
    /// The connection died after the command was written; it was not retried because it was not
    /// marked idempotent and may or may not have run.
    ConnectionLost,
    /// A failover was in progress longer than the configured hold (`fence_max_hold`); the
    /// command was held by the failover fence and never sent.
    FailoverInProgress,
    /// The command queue was full (`max_queued`, or `fence_max_queued` while a failover holds
    /// writes); the command was never sent.
    QueueFull,
    /// The circuit breaker is open: recent commands failed, so this one was not attempted.
    CircuitOpen,
    /// The reply could not be converted into the requested Rust type.
    Conversion(ConversionError),
    /// The client refused the command (e.g. `SUBSCRIBE` sent as a plain command: use
    /// `subscribe()`); the text says why.
    Rejected(String),
    /// The client was closed (or its runtime shut down), so nothing more can be sent.
    Closed,
    /// The dedicated connection the command was sent to has ended (a failover retired its
    /// node, or it was lost); connection state such as `WATCH` is gone, and the command was
    /// not sent. Open a new one with `Client::dedicated`.
    DedicatedEnded(String),
    /// No node could serve the command within its timeout; the text says what went wrong
    /// with the last node tried (e.g. it reports role `slave`, or is loading). Never sent.
    Unavailable(String),
    /// The TLS settings of one side cannot be used (an unreadable or invalid CA, certificate or
    /// key file, an invalid server name); the text names the file, never its contents.
    /// Reported when the client is built ([`crate::Sentinel::try_new`], `from_url`).
    TlsSetup {
        /// Sentinels or data nodes.
        side: resp_sentinel_core::sentinel::TlsSide,
        /// What is wrong.
        why: String,
    },
    /// TLS is configured but this build of `resp-sentinel` lacks its `tls` cargo feature.
    TlsUnavailable,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(e) => write!(f, "invalid URL: {e}"),
            Error::MasterNotFound(e) => write!(f, "master not found: {e}"),
            Error::ReplicaNotFound(e) => write!(f, "replica not found: {e}"),
            Error::Timeout => f.write_str("command timed out"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::Io {
                kind,
                addr: Some(addr),
            } => write!(f, "i/o error on the connection to {addr}: {kind}"),
            Error::Io { kind, addr: None } => write!(f, "i/o error: {kind}"),
            Error::Auth(e) => write!(f, "authentication failed: {e}"),
            Error::ConnectionLost => f.write_str(
                "connection lost after the command was sent; it may or may not have run",
            ),
            Error::FailoverInProgress => f.write_str(
                "failover in progress: held by the failover fence too long; the command was not sent",
            ),
            Error::QueueFull => f.write_str("command queue full; the command was not sent"),
            Error::CircuitOpen => f.write_str("circuit breaker open"),
            Error::Conversion(e) => write!(f, "unexpected reply: {e}"),
            Error::Rejected(why) => write!(f, "command rejected: {why}"),
            Error::Closed => f.write_str("client closed"),
            Error::DedicatedEnded(why) => write!(f, "dedicated connection ended: {why}"),
            Error::Unavailable(why) => write!(f, "no usable node: {why}"),
            Error::TlsSetup { side, why } => write!(f, "TLS settings for {side}s: {why}"),
            Error::TlsUnavailable => f.write_str(
                "TLS is configured, but resp-sentinel was built without its `tls` cargo feature",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Url(e) => Some(e),
            Error::MasterNotFound(e) | Error::ReplicaNotFound(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Server(e) => Some(e),
            Error::Conversion(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Error {
        match e {
            CommandError::Timeout => Error::Timeout,
            CommandError::ConnectionLost { sent: true } => Error::ConnectionLost,
            // Never sent, so nothing ran; the core does not say which node it was.
            CommandError::ConnectionLost { sent: false } => Error::Io {
                kind: io::ErrorKind::ConnectionAborted,
                addr: None,
            },
            CommandError::FenceTimeout => Error::FailoverInProgress,
            CommandError::QueueFull => Error::QueueFull,
            CommandError::MasterNotFound(d) => Error::MasterNotFound(d),
            CommandError::ReplicaNotFound(d) => Error::ReplicaNotFound(d),
            CommandError::Auth(why) => Error::Auth(why),
            CommandError::Protocol(p) => Error::Protocol(p),
            CommandError::Closed => Error::Closed,
            CommandError::Rejected(why) => Error::Rejected(why),
            CommandError::DedicatedEnded(why) => Error::DedicatedEnded(why),
            CommandError::Unavailable(why) => Error::Unavailable(why),
            other => Error::Rejected(other.to_string()),
        }
    }
}

impl From<ConversionError> for Error {
    /// An error reply becomes [`Error::Server`]; any other mismatch [`Error::Conversion`].
    fn from(e: ConversionError) -> Error {
        match e {
            ConversionError::Server(reply) => Error::Server(reply),
            other => Error::Conversion(other),
        }
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Error {
        Error::Url(e)
    }
}

impl From<ErrorReply> for Error {
    fn from(e: ErrorReply) -> Error {
        Error::Server(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn nobody() -> DiscoveryError {
        DiscoveryError::NoSentinelReachable {
            tried: vec![(Addr::new("10.0.0.1", 26379), "connect failed".into())],
        }
    }

    #[test]
    fn command_errors_keep_their_types() {
        assert_eq!(
            Error::from(CommandError::MasterNotFound(nobody())),
            Error::MasterNotFound(nobody())
        );
        assert_eq!(
            Error::from(CommandError::ReplicaNotFound(nobody())),
            Error::ReplicaNotFound(nobody())
        );
        assert_eq!(Error::from(CommandError::Timeout), Error::Timeout);
        assert_eq!(Error::from(CommandError::Closed), Error::Closed);
        assert_eq!(
            Error::from(CommandError::Rejected("use subscribe".into())),
            Error::Rejected("use subscribe".into())
        );
        assert_eq!(
            Error::from(CommandError::Auth("AUTH failed: WRONGPASS".into())),
            Error::Auth("AUTH failed: WRONGPASS".into())
        );
    }

    #[test]
    fn a_full_queue_is_not_a_failover() {
        assert_eq!(Error::from(CommandError::QueueFull), Error::QueueFull);
        assert_eq!(
            Error::from(CommandError::FenceTimeout),
            Error::FailoverInProgress
        );
        assert!(!Error::QueueFull.to_string().contains("failover"));
    }

    #[test]
    fn connection_lost_keeps_its_meaning() {
        let sent = Error::from(CommandError::ConnectionLost { sent: true });
        assert_eq!(sent, Error::ConnectionLost);
        assert!(sent.to_string().contains("may or may not have run"));
        let unsent = Error::from(CommandError::ConnectionLost { sent: false });
        assert!(
            matches!(
                unsent,
                Error::Io {
                    kind: io::ErrorKind::ConnectionAborted,
                    addr: None
                }
            ),
            "{unsent:?}"
        );
    }

    #[test]
    fn conversions_split_error_replies_from_mismatches() {
        let reply = ErrorReply::parse(b"WRONGTYPE nope");
        assert_eq!(
            Error::from(ConversionError::Server(reply.clone())),
            Error::Server(reply)
        );
        let e = Error::from(ConversionError::NotUtf8);
        assert_eq!(e, Error::Conversion(ConversionError::NotUtf8));
        assert_eq!(e.to_string(), "unexpected reply: reply is not UTF-8");
    }

    #[test]
    fn wrapped_errors_are_the_source_and_display_says_it_all() {
        let e = Error::MasterNotFound(nobody());
        let source = e.source().expect("a source");
        assert_eq!(source.to_string(), nobody().to_string());
        assert!(source.downcast_ref::<DiscoveryError>().is_some());
        assert!(e
            .to_string()
            .starts_with("master not found: no sentinel reachable"));
        assert!(e.to_string().contains("10.0.0.1:26379"));

        let e = Error::Server(ErrorReply::parse(b"ERR unknown command"));
        assert!(e.source().unwrap().downcast_ref::<ErrorReply>().is_some());
        assert_eq!(e.to_string(), "server error: ERR unknown command");

        let e = Error::from(resp_sentinel_core::url::parse("nope").unwrap_err());
        assert!(matches!(e, Error::Url(_)));
        assert!(e.source().unwrap().downcast_ref::<UrlError>().is_some());

        assert!(Error::Timeout.source().is_none());
        let io = Error::Io {
            kind: io::ErrorKind::ConnectionRefused,
            addr: Some(Addr::new("h", 6379)),
        };
        assert!(io.to_string().contains("h:6379"), "{io}");
    }
}
