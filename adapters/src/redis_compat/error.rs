//! Our errors as redis-rs errors, with kinds that keep their meaning, and the way back.
//!
//! | [`Error`] | `RedisError` | how the original is reached |
//! |---|---|---|
//! | `Server(reply)` | a server error with the reply's code (`NOSCRIPT` is `ErrorKind::Server(NoScript)`, `READONLY` is `ReadOnly`...) | `code()` and `detail()`; [`original_error`] rebuilds `Error::Server` |
//! | `Timeout` | I/O, `io::ErrorKind::TimedOut` (`is_timeout()`) | the `io::Error`'s inner error |
//! | `ConnectionLost` (sent, may or may not have run) | I/O, `ConnectionReset` (`is_connection_dropped()`) | the `io::Error`'s inner error |
//! | `Io { kind, .. }` (never sent) | I/O of that kind | the `io::Error`'s inner error |
//! | `Closed` | I/O, `NotConnected` | the `io::Error`'s inner error |
//! | `DedicatedEnded` | I/O, `ConnectionAborted` | the `io::Error`'s inner error |
//! | `Protocol` | I/O, `InvalidData` | the `io::Error`'s inner error |
//! | `FailoverInProgress`, `QueueFull`, `CircuitOpen`, `Unavailable` (never sent, retry later) | `ErrorKind::Server(TryAgain)`, retry method `WaitAndRetry`; the detail starts with `resp-sentinel:` | [`original_error`] |
//! | `MasterNotFound` / `ReplicaNotFound` | `MasterNameNotFoundBySentinel` / `NoValidReplicasFoundBySentinel` | the detail (text) |
//! | `Auth` | `AuthenticationFailed` | the detail (text) |
//! | `Rejected` (e.g. `WATCH` on the shared connection) | `ErrorKind::Client` | the detail (text) |
//! | `Conversion` | `UnexpectedReturnType` | the detail (text) |
//! | `Url` | `InvalidClientConfig` | the detail (text) |

use crate::error::Error;
use resp_sentinel_core::ErrorReply;
use std::io;

/// Where the detail of a retry-later error we made (as opposed to a server's `TRYAGAIN`) starts.
const OURS: &str = "resp-sentinel: ";

/// The retry-later errors, as they read after [`OURS`] (their `Display`), and back.
fn retry_later(e: &Error) -> bool {
    matches!(
        e,
        Error::FailoverInProgress | Error::QueueFull | Error::CircuitOpen | Error::Unavailable(_)
    )
}

/// A redis-rs server error for `reply`, classified by redis-rs itself (the reply goes through
/// its parser as one error line), so the kind is the one a redis-rs connection would report.
pub(crate) fn server_error(reply: &ErrorReply) -> redis::ServerError {
    let mut line = String::with_capacity(reply.code.len() + reply.message.len() + 4);
    line.push('-');
    line.push_str(&one_line(&reply.code));
    if !reply.message.is_empty() {
        line.push(' ');
        line.push_str(&one_line(&reply.message));
    }
    line.push_str("\r\n");
    if let Ok(redis::Value::ServerError(e)) = redis::parse_redis_value(line.as_bytes()) {
        return e;
    }
    // Not reached (one error line always parses as a server error); kept total anyway.
    let detail = (!reply.message.is_empty()).then(|| reply.message.clone());
    match redis::ServerError::try_from(redis::make_extension_error(reply.code.clone(), detail)) {
        Ok(e) => e,
        Err(_) => unreachable!("make_extension_error always builds a server error"),
    }
}

/// `s` with CR and LF as spaces: one RESP error line.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

fn wrapped(kind: io::ErrorKind, e: Error) -> redis::RedisError {
    redis::RedisError::from(io::Error::new(kind, e))
}

impl From<Error> for redis::RedisError {
    /// See the module documentation for the table of kinds.
    fn from(e: Error) -> redis::RedisError {
        use redis::ErrorKind as K;
        match e {
            Error::Server(reply) => server_error(&reply).into(),
            Error::Timeout => wrapped(io::ErrorKind::TimedOut, e),
            Error::ConnectionLost => wrapped(io::ErrorKind::ConnectionReset, e),
            Error::Io { kind, .. } => wrapped(kind, e),
            Error::Closed => wrapped(io::ErrorKind::NotConnected, e),
            Error::DedicatedEnded(_) => wrapped(io::ErrorKind::ConnectionAborted, e),
            Error::Protocol(_) => wrapped(io::ErrorKind::InvalidData, e),
            ref r if retry_later(r) => server_error(&ErrorReply {
                code: "TRYAGAIN".into(),
                message: format!("{OURS}{e}"),
            })
            .into(),
            Error::MasterNotFound(_) => (
                K::MasterNameNotFoundBySentinel,
                "master not found",
                e.to_string(),
            )
                .into(),
            Error::ReplicaNotFound(_) => (
                K::NoValidReplicasFoundBySentinel,
                "replica not found",
                e.to_string(),
            )
                .into(),
            Error::Auth(_) => (
                K::AuthenticationFailed,
                "authentication failed",
                e.to_string(),
            )
                .into(),
            Error::Rejected(ref why) if why.contains("WATCH") => (
                K::Client,
                "command rejected",
                format!(
                    "{e}: redis-rs code that needs WATCH (e.g. redis::transaction) must run on \
                     a dedicated connection (resp_sentinel Client::dedicated, which implements the \
                     same redis-rs traits)"
                ),
            )
                .into(),
            Error::Rejected(_) => (K::Client, "command rejected", e.to_string()).into(),
            Error::Conversion(_) => {
                (K::UnexpectedReturnType, "unexpected reply", e.to_string()).into()
            }
            Error::Url(_) => (K::InvalidClientConfig, "invalid URL", e.to_string()).into(),
            // `Error` is non-exhaustive for users, not for this crate; a new variant lands here
            // until it gets its own row.
            #[allow(unreachable_patterns)]
            other => (K::Client, "resp-sentinel error", other.to_string()).into(),
        }
    }
}

/// The resp-sentinel error a `RedisError` from this crate's redis-rs compatibility came from.
///
/// Errors carried as I/O errors come back exactly (the `io::Error` holds ours: it is also
/// `err.source()` downcast to `io::Error`, then `get_ref()` downcast to [`Error`]); server
/// errors come back as [`Error::Server`] with their code and message; the retry-later errors
/// (`TRYAGAIN` whose detail starts with `resp-sentinel:`) as the variant they were. The rest
/// (`MasterNotFound`, `Auth`, `Rejected`...) is `None`: their kind says what happened and
/// `detail()` has our message.
pub fn original_error(err: &redis::RedisError) -> Option<Error> {
    if let Some(ours) = io_error(err)
        .and_then(io::Error::get_ref)
        .and_then(|e| e.downcast_ref::<Error>())
    {
        return Some(ours.clone());
    }
    let code = err.code()?;
    let detail = err.detail().unwrap_or_default();
    if code == "TRYAGAIN" {
        if let Some(ours) = detail.strip_prefix(OURS) {
            let known = [
                Error::FailoverInProgress,
                Error::QueueFull,
                Error::CircuitOpen,
            ];
            if let Some(e) = known.into_iter().find(|e| e.to_string() == ours) {
                return Some(e);
            }
            if let Some(why) = ours.strip_prefix("no usable node: ") {
                return Some(Error::Unavailable(why.to_string()));
            }
        }
    }
    Some(Error::Server(ErrorReply {
        code: code.to_string(),
        message: detail.to_string(),
    }))
}

/// The `io::Error` inside `err`: redis-rs keeps it in an `Arc`, and its `source()` is that `Arc`.
fn io_error(err: &redis::RedisError) -> Option<&io::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let source = std::error::Error::source(err)?;
    if let Some(shared) = source.downcast_ref::<Shared>() {
        return shared.downcast_ref::<io::Error>();
    }
    source.downcast_ref::<io::Error>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::{ErrorKind, RetryMethod, ServerErrorKind};

    #[test]
    fn server_errors_keep_code_kind_and_message() {
        let e = redis::RedisError::from(Error::Server(ErrorReply::parse(
            b"NOSCRIPT No matching script. Please use EVAL.",
        )));
        assert_eq!(e.kind(), ErrorKind::Server(ServerErrorKind::NoScript));
        assert_eq!(e.code(), Some("NOSCRIPT"));
        assert_eq!(e.detail(), Some("No matching script. Please use EVAL."));
        assert_eq!(
            original_error(&e),
            Some(Error::Server(ErrorReply::parse(
                b"NOSCRIPT No matching script. Please use EVAL."
            )))
        );
        let e = redis::RedisError::from(Error::Server(ErrorReply::parse(b"READONLY no")));
        assert_eq!(e.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly));
        let e = redis::RedisError::from(Error::Server(ErrorReply::parse(b"MYMODULE x\r\ny")));
        assert_eq!(e.kind(), ErrorKind::Extension);
        assert_eq!(e.code(), Some("MYMODULE"));
        assert_eq!(e.detail(), Some("x  y"));
    }

    #[test]
    fn io_like_errors_are_io_and_carry_ours() {
        let timeout = redis::RedisError::from(Error::Timeout);
        assert!(timeout.is_io_error() && timeout.is_timeout());
        assert_eq!(original_error(&timeout), Some(Error::Timeout));

        let lost = redis::RedisError::from(Error::ConnectionLost);
        assert!(lost.is_io_error() && lost.is_connection_dropped() && !lost.is_timeout());
        assert!(
            lost.to_string().contains("may or may not have run"),
            "{lost}"
        );
        assert_eq!(original_error(&lost), Some(Error::ConnectionLost));

        let unsent = Error::Io {
            kind: io::ErrorKind::ConnectionRefused,
            addr: None,
        };
        let e = redis::RedisError::from(unsent.clone());
        assert!(e.is_connection_refusal());
        assert_eq!(original_error(&e), Some(unsent));

        let closed = redis::RedisError::from(Error::Closed);
        assert!(closed.is_connection_dropped());
        assert_eq!(original_error(&closed), Some(Error::Closed));
    }

    #[test]
    fn refused_before_sending_is_try_again_and_comes_back() {
        for ours in [
            Error::FailoverInProgress,
            Error::QueueFull,
            Error::CircuitOpen,
            Error::Unavailable("it reports role slave".into()),
        ] {
            let e = redis::RedisError::from(ours.clone());
            assert_eq!(
                e.kind(),
                ErrorKind::Server(ServerErrorKind::TryAgain),
                "{ours:?}"
            );
            assert!(matches!(e.retry_method(), RetryMethod::WaitAndRetry));
            assert!(!e.is_io_error());
            assert_eq!(original_error(&e), Some(ours));
        }
        // A server's own TRYAGAIN stays a server error.
        let theirs = redis::RedisError::from(Error::Server(ErrorReply::parse(b"TRYAGAIN later")));
        assert_eq!(
            original_error(&theirs),
            Some(Error::Server(ErrorReply::parse(b"TRYAGAIN later")))
        );
    }

    #[test]
    fn client_side_refusals_say_what_to_use() {
        let watch = Error::Rejected(
            "WATCH would change the shared connection for every caller; use a transaction \
             (MULTI ... EXEC as one unit), or a dedicated connection for WATCH"
                .into(),
        );
        let e = redis::RedisError::from(watch);
        assert_eq!(e.kind(), ErrorKind::Client);
        assert!(e.detail().unwrap().contains("Client::dedicated"), "{e}");
        assert_eq!(original_error(&e), None);
        let e = redis::RedisError::from(Error::Auth("AUTH failed: WRONGPASS".into()));
        assert_eq!(e.kind(), ErrorKind::AuthenticationFailed);
        assert!(e.detail().unwrap().contains("WRONGPASS"));
    }
}
