//! redis-rs compatibility (cargo feature `redis-rs`): existing redis-rs code runs on the
//! failover-safe clients by changing only how the connection is made.
//!
//! [`crate::Client`] (tokio, async-std and smol alike) implements `redis::aio::ConnectionLike`,
//! so every `redis::AsyncCommands` method, `redis::cmd(..).query_async`, `redis::pipe()`,
//! `redis::Script` and `AsyncIter` (SCAN) work on it; [`crate::blocking::Client`] implements
//! `redis::ConnectionLike` for `redis::Commands` and the blocking forms.
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn demo() -> redis::RedisResult<()> {
//! use redis::AsyncCommands;
//!
//! let sentinel = resp_sentinel::tokio::Sentinel::from_url(
//!     "redis+sentinel://127.0.0.1:26379/mymaster",
//! )?;
//! let mut con = sentinel.master_for("mymaster");
//! con.hset::<_, _, _, ()>("user:1", "name", "ada").await?;
//! let name: String = con.hget("user:1", "name").await?;
//! let (a, b): (i64, i64) = redis::pipe()
//!     .atomic()
//!     .incr("a", 1)
//!     .incr("b", 1)
//!     .query_async(&mut con)
//!     .await?;
//! # let _ = (name, a, b);
//! # Ok(())
//! # }
//! ```
//!
//! What each redis-rs request becomes:
//! - one command: [`crate::Client::query`] (held by the failover fence, sent to the new master
//!   after a failover; one lost after it was written fails, it is not sent twice);
//! - a plain pipeline: [`crate::Client::pipeline`], one unit never interleaved with other callers;
//! - an `.atomic()` pipeline: [`crate::Client::transaction`] (redis-rs's own `MULTI`/`EXEC` are
//!   replaced by ours), so it is never interleaved either;
//! - `WATCH` (and so `redis::transaction`, which uses it), `MULTI`, `SUBSCRIBE`...: refused with
//!   an `ErrorKind::Client` error, as they would change the shared connection for every caller.
//!   `WATCH` ... `EXEC` belongs on a dedicated connection ([`crate::Client::dedicated`]), which
//!   implements the same traits: `redis::transaction` and `WATCH` + `.atomic()` run there (an
//!   atomic pipeline there is [`crate::Dedicated::transaction`]; a plain one runs its commands
//!   in order).
//!
//! Errors: see [`original_error`] and the table in its module for the kinds; a server error
//! reply keeps its code (a `NOSCRIPT` is `ErrorKind::Server(NoScript)`, which is what makes
//! `Script`'s fallback to `EVAL` work).
//!
//! In code that is not generic over the redis-rs traits, the client's own methods of the same
//! names (`get`, `set`, `del`, `incr`, `expire`, `publish`, `ping`, `scan`) take precedence over the
//! trait's: call those through the trait (`AsyncCommands::incr(&mut con, "k", 1)`) or from a
//! function generic over `C: AsyncCommands`. Commands marked `set_no_response` are not
//! supported (the client always waits for a reply).

mod async_conn;
mod blocking_conn;
mod command;
mod dedicated_conn;
mod error;
mod value;

pub use error::original_error;

use crate::error::Error;
use resp_sentinel_core::Value;

/// The reply to one command as a redis-rs connection returns it: an error reply is a value
/// (`Value::ServerError`, turned into `Err` by redis-rs's `query`), anything else an error.
fn single(got: Result<Value, Error>) -> redis::RedisResult<redis::Value> {
    match got {
        Ok(v) => Ok(value::to_redis_value(v)),
        Err(Error::Server(reply)) => Ok(redis::Value::ServerError(error::server_error(&reply))),
        Err(e) => Err(e.into()),
    }
}

/// The `count` replies after the first `offset`, as `req_packed_commands` returns them.
fn window(replies: Vec<Value>, offset: usize, count: usize) -> Vec<redis::Value> {
    replies
        .into_iter()
        .skip(offset)
        .take(count)
        .map(value::to_redis_value)
        .collect()
}

/// What a transaction answers, in the shape redis-rs asks an atomic pipeline for: the replies
/// after `MULTI` and every `QUEUED` (`offset` of them) are skipped and `count` (one: `EXEC`'s
/// array) kept.
fn exec_reply(got: Result<Value, Error>, count: usize) -> redis::RedisResult<Vec<redis::Value>> {
    if count != 1 {
        return Err((
            redis::ErrorKind::Client,
            "an atomic pipeline is answered by EXEC alone",
        )
            .into());
    }
    Ok(vec![value::to_redis_value(got?)])
}

/// The redis-rs error for a pipeline of another shape than redis-rs's `query` produces.
fn odd_pipeline() -> redis::RedisError {
    (
        redis::ErrorKind::Client,
        "only pipelines as redis::Pipeline sends them are supported",
    )
        .into()
}

/// Splits a packed atomic pipeline (`MULTI`, the commands, `EXEC`, answered from `offset`, as
/// redis-rs's blocking `query` sends it) into its commands; `None` when it is not one.
fn framed(
    mut cmds: Vec<resp_sentinel_core::Cmd>,
    offset: usize,
) -> Option<Vec<resp_sentinel_core::Cmd>> {
    let ok = cmds.len() >= 2
        && offset == cmds.len() - 1
        && cmds.first().is_some_and(|c| c.is("MULTI"))
        && cmds.last().is_some_and(|c| c.is("EXEC"));
    ok.then(|| {
        cmds.pop();
        cmds.remove(0);
        cmds
    })
}
