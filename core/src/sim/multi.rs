//! Transactions on the simulated data node, as Redis runs them.
//!
//! `MULTI` starts queuing on the connection (`+OK`; a nested `MULTI` is an error and the
//! transaction goes on). Each command is checked as it is queued: an unknown command, a wrong
//! number of arguments, a write on a replica (`-READONLY`) or a node loading its dataset
//! (`-LOADING`) is refused, which flags the transaction; anything else is answered `+QUEUED`.
//! `EXEC` then answers `-EXECABORT Transaction discarded because of previous errors.` and runs
//! nothing when the transaction is flagged, or `-EXECABORT Transaction discarded because of:
//! READONLY ...` when writes were queued on a node that has turned replica since; otherwise it
//! runs the queued commands one after the other with nothing in between (the simulated server
//! runs one command at a time, like Redis) and answers with the array of their replies. Their
//! writes go to the replicas as one entry of the replication stream, so no node ever holds half
//! a transaction. `DISCARD` drops the queue; `EXEC` and `DISCARD` outside a transaction are
//! errors. The state lives in the connection's [`Session`]: a closed connection drops it.
//!
//! Simplifications: `WATCH` is not simulated (the client never sends it; inside `MULTI` it is
//! refused as Redis does, outside it is an unknown command), and `PUBLISH`, `REPLICAOF` and the
//! subscription commands are refused inside `MULTI` (Redis queues some of them; the workloads
//! never do).

use super::network::is_write;
use super::node::{DataNode, LOADING, READONLY};
use super::session::{arity, unknown, upper, Multi, Session};
use super::wire::reply;
use crate::sentinel::Addr;
use crate::Value;
use bytes::Bytes;
use std::time::Instant;

/// What `EXEC` answers for a transaction refused while it was queued.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Commands the simulated node refuses to queue.
const NOT_QUEUED: &[&str] = &[
    "PUBLISH",
    "REPLICAOF",
    "SLAVEOF",
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
];

/// Redis' arity of the commands the simulated node knows: exact when positive, a minimum
/// when negative (the command name counts).
fn arity_of(name: &str) -> Option<i32> {
    Some(match name {
        "GET" | "INCR" | "DECR" | "ECHO" | "SELECT" => 2,
        "INCRBY" | "PUBLISH" | "REPLICAOF" | "SLAVEOF" => 3,
        "ROLE" => 1,
        "SET" => -3,
        "DEL" | "AUTH" | "CLIENT" | "SUBSCRIBE" | "PSUBSCRIBE" => -2,
        "PING" | "INFO" | "HELLO" | "QUIT" | "UNSUBSCRIBE" | "PUNSUBSCRIBE" => -1,
        _ => return None,
    })
}

impl DataNode {
    /// Transaction control, and queuing between `MULTI` and `EXEC`: the replies, or `None`
    /// when the command runs as usual.
    pub(super) fn transaction(
        &mut self,
        s: &mut Session,
        name: &str,
        args: &[Bytes],
        replicas: &[(Addr, u64)],
        now: Instant,
    ) -> Option<Vec<Value>> {
        if s.multi.is_none() {
            return match name {
                "MULTI" => {
                    s.multi = Some(Multi::default());
                    Some(vec![reply::ok()])
                }
                "EXEC" | "DISCARD" => Some(vec![reply::err(&format!("ERR {name} without MULTI"))]),
                _ => None,
            };
        }
        let r = match name {
            "MULTI" => reply::err("ERR MULTI calls can not be nested"),
            "WATCH" => reply::err("ERR WATCH inside MULTI is not allowed"),
            "DISCARD" => {
                s.multi = None;
                reply::ok()
            }
            "EXEC" => self.exec(s, replicas, now),
            "QUIT" => return None,
            _ => {
                let refused = self.queue_time_error(name, args, now);
                let m = s.multi.get_or_insert_with(Multi::default);
                match refused {
                    Some(e) => {
                        m.dirty = true;
                        e
                    }
                    None => {
                        m.queued.push(args.to_vec());
                        reply::simple("QUEUED")
                    }
                }
            }
        };
        Some(vec![r])
    }

    /// Why a command cannot be queued, as the error Redis answers.
    fn queue_time_error(&self, name: &str, args: &[Bytes], now: Instant) -> Option<Value> {
        let Some(a) = arity_of(name) else {
            return Some(unknown(args));
        };
        let n = args.len();
        if (a > 0 && n != a as usize) || (a < 0 && n < a.unsigned_abs() as usize) {
            return Some(arity(name));
        }
        if NOT_QUEUED.contains(&name) {
            return Some(reply::err("ERR Command not allowed inside a transaction"));
        }
        if is_write(name) && !self.is_master() {
            return Some(reply::err(READONLY));
        }
        if self.is_loading(now) && !matches!(name, "ROLE" | "INFO") {
            return Some(reply::err(LOADING));
        }
        None
    }

    /// `EXEC`: runs the queued commands at once, or discards them.
    fn exec(&mut self, s: &mut Session, replicas: &[(Addr, u64)], now: Instant) -> Value {
        let m = s.multi.take().unwrap_or_default();
        let writes = m.queued.iter().any(|c| is_write(&upper(&c[0])));
        if (m.dirty || writes) && !self.is_master() {
            self.discarded_as_replica += 1;
        }
        if m.dirty {
            return reply::err(EXECABORT);
        }
        if writes && !self.is_master() {
            return reply::err(&format!(
                "EXECABORT Transaction discarded because of: {READONLY}"
            ));
        }
        self.exec_ops = Some(Vec::new());
        let mut replies = Vec::with_capacity(m.queued.len());
        for args in &m.queued {
            let (r, _) = self.run(s, args, replicas, now);
            replies.extend(r.into_iter().next());
        }
        self.end_exec(now);
        Value::Array(replies)
    }
}
