//! The error type users see, mapped from the core's typed errors.

use resp_sentinel_core::sentinel::CommandError;
use resp_sentinel_core::ProtocolError;
use std::fmt;

/// An error reply from the server, split into its code (`ERR`, `WRONGTYPE`...) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    /// The first word of the reply, e.g. `ERR`, `WRONGTYPE`, `READONLY`.
    pub code: String,
    /// The rest of the line.
    pub message: String,
}

impl ErrorReply {
    /// Splits a raw error line such as `WRONGTYPE Operation against a key...`.
    pub fn parse(line: &[u8]) -> ErrorReply {
        let text = String::from_utf8_lossy(line);
        match text.split_once(' ') {
            Some((code, msg)) => ErrorReply {
                code: code.to_string(),
                message: msg.to_string(),
            },
            None => ErrorReply {
                code: text.to_string(),
                message: String::new(),
            },
        }
    }
}

impl fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{} {}", self.code, self.message)
        }
    }
}

/// Everything a command or a discovery can fail with.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration or URL is not usable (the message says what is wrong).
    Config(String),
    /// No sentinel could name a reachable, verified master for the service.
    PrimaryNotFound(String),
    /// No usable replica (nor the master as fallback) could be found.
    ReplicaNotFound(String),
    /// The command got no reply within the command timeout.
    Timeout,
    /// The server sent bytes that are not valid RESP.
    Protocol(ProtocolError),
    /// The server answered with an error reply.
    Server(ErrorReply),
    /// A socket operation failed (message of the underlying error).
    Io(String),
    /// The server or a sentinel refused our credentials.
    Auth(String),
    /// The connection died after the command was written; it was not retried because it was not
    /// marked idempotent and may or may not have run.
    ConnectionLost,
    /// A failover was in progress longer than the configured hold time, or the hold queue was
    /// full; the command was never sent.
    FailoverInProgress(String),
    /// The circuit breaker is open: recent commands failed, so this one was not attempted.
    CircuitOpen,
    /// The reply could not be converted into the requested Rust type.
    Conversion(String),
    /// The client refused the command (e.g. `SUBSCRIBE` sent as a plain command: use
    /// `subscribe()`).
    Rejected(String),
    /// The client was closed.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(why) => write!(f, "invalid configuration: {why}"),
            Error::PrimaryNotFound(why) => write!(f, "master not found: {why}"),
            Error::ReplicaNotFound(why) => write!(f, "replica not found: {why}"),
            Error::Timeout => f.write_str("command timed out"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Server(e) => write!(f, "server error: {e}"),
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::Auth(e) => write!(f, "authentication failed: {e}"),
            Error::ConnectionLost => f.write_str(
                "connection lost after the command was sent; it may or may not have run",
            ),
            Error::FailoverInProgress(why) => write!(f, "failover in progress: {why}"),
            Error::CircuitOpen => f.write_str("circuit breaker open"),
            Error::Conversion(e) => write!(f, "unexpected reply: {e}"),
            Error::Rejected(why) => write!(f, "command rejected: {why}"),
            Error::Closed => f.write_str("client closed"),
        }
    }
}

impl std::error::Error for Error {}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Error {
        match e {
            CommandError::Timeout => Error::Timeout,
            CommandError::ConnectionLost { sent: true } => Error::ConnectionLost,
            CommandError::ConnectionLost { sent: false } => {
                Error::Io("connection lost before the command was sent".into())
            }
            CommandError::FenceTimeout | CommandError::QueueFull => {
                Error::FailoverInProgress(e.to_string())
            }
            CommandError::MasterNotFound(d) => Error::PrimaryNotFound(d.to_string()),
            CommandError::ReplicaNotFound(d) => Error::ReplicaNotFound(d.to_string()),
            CommandError::Auth(why) => Error::Auth(why),
            CommandError::Protocol(p) => Error::Protocol(p),
            CommandError::Closed => Error::Closed,
            other => Error::Rejected(other.to_string()),
        }
    }
}
