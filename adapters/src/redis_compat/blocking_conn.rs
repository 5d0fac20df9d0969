//! `redis::ConnectionLike` for the blocking client.

use super::command::{from_packed, from_redis_cmd, one_packed};
use super::{exec_reply, odd_pipeline, single, window};
use crate::blocking::Client;
use resp_sentinel_core::Value;

impl redis::ConnectionLike for Client {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<redis::Value> {
        single(self.query::<Value>(one_packed(cmd)?))
    }

    /// Takes the command as it is, without packing and reading it back.
    fn req_command(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<redis::Value> {
        single(self.query::<Value>(from_redis_cmd(cmd)?))
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<redis::Value>> {
        let cmds = from_packed(cmd)?;
        if offset == 0 {
            if cmds.is_empty() {
                return Ok(Vec::new());
            }
            return Ok(window(self.pipeline(cmds)?, offset, count));
        }
        // An atomic pipeline: MULTI, the commands, EXEC; the replies of all but EXEC skipped.
        let inner = super::framed(cmds, offset).ok_or_else(odd_pipeline)?;
        exec_reply(self.transaction::<Value>(inner), count)
    }

    fn get_db(&self) -> i64 {
        i64::from(self.handle.db())
    }

    fn check_connection(&mut self) -> bool {
        self.ping().is_ok()
    }

    /// Open until the client is closed; a failover or a lost connection does not close it.
    fn is_open(&self) -> bool {
        !self.handle.is_closed()
    }
}
