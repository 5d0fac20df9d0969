//! `redis::aio::ConnectionLike` for the async client (one type for tokio, async-std and smol).

use super::command::from_redis_cmd;
use super::{exec_reply, single, window};
use crate::Client;
use resp_sentinel_core::Value;

impl redis::aio::ConnectionLike for Client {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            let cmd = from_redis_cmd(cmd)?;
            single(self.query::<Value>(cmd).await)
        })
    }

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
            if cmds.is_empty() {
                return Ok(Vec::new());
            }
            Ok(window(self.pipeline(cmds).await?, offset, count))
        })
    }

    fn get_db(&self) -> i64 {
        i64::from(self.handle.db())
    }
}
