//! The redis-rs traits for dedicated connections (async and blocking), where connection state
//! is allowed: `WATCH` ... `EXEC` in redis-rs code (`redis::transaction` included) runs here.

use super::command::{from_packed, from_redis_cmd, one_packed};
use super::{exec_reply, odd_pipeline, single};
use resp_sentinel_core::Value;

/// The `count` replies after the first `offset`.
fn window(replies: Vec<redis::Value>, offset: usize, count: usize) -> Vec<redis::Value> {
    replies.into_iter().skip(offset).take(count).collect()
}

impl redis::aio::ConnectionLike for crate::Dedicated {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            let cmd = from_redis_cmd(cmd)?;
            single(self.query::<Value>(cmd).await)
        })
    }

    /// An atomic pipeline is [`crate::Dedicated::transaction`] (after a `WATCH` here, a
    /// changed key makes it `Nil`); a plain one runs its commands in order, one at a time.
    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            let cmds = pipeline
                .cmd_iter()
                .map(from_redis_cmd)
                .collect::<Result<Vec<_>, _>>()?;
            if pipeline.is_transaction() {
                return exec_reply(self.transaction::<Value>(cmds).await, count);
            }
            let mut replies = Vec::with_capacity(cmds.len());
            for cmd in cmds {
                replies.push(single(self.query::<Value>(cmd).await)?);
            }
            Ok(window(replies, offset, count))
        })
    }

    fn get_db(&self) -> i64 {
        i64::from(self.handle.db())
    }
}

impl redis::ConnectionLike for crate::blocking::Dedicated {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        single(self.query::<Value>(one_packed(cmd)?))
    }

    fn req_command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<redis::Value> {
        single(self.query::<Value>(from_redis_cmd(cmd)?))
    }

    /// Like the async form: atomic through the transaction, plain ones in order.
    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        let cmds = from_packed(cmd)?;
        if offset > 0 {
            let inner = super::framed(cmds, offset).ok_or_else(odd_pipeline)?;
            return exec_reply(self.transaction::<Value>(inner), count);
        }
        let mut replies = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            replies.push(single(self.query::<Value>(cmd))?);
        }
        Ok(window(replies, offset, count))
    }

    fn get_db(&self) -> i64 {
        i64::from(self.handle.db())
    }

    fn check_connection(&mut self) -> bool {
        self.query::<()>(resp_sentinel_core::cmd("PING")).is_ok()
    }

    /// Open until the client is closed; once the connection has ended (a failover), its
    /// commands fail with `DedicatedEnded` (an I/O `ConnectionAborted` here).
    fn is_open(&self) -> bool {
        !self.handle.is_closed()
    }
}
