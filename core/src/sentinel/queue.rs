//! Commands waiting for a node: those taken back to be sent again first, then new ones. What
//! the caller submits is a unit of work (one command, a pipeline, or a transaction) that is
//! written contiguously and answered once.

use super::interface::RequestId;
use crate::{cmd, Cmd, Value};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What one submission sends.
#[derive(Debug)]
pub(crate) enum Work {
    /// One command, one reply.
    One(Cmd),
    /// Commands written back to back; the reply is an array of theirs, in order.
    Batch(Vec<Cmd>),
    /// `MULTI`, the commands, `EXEC`; the reply is `EXEC`'s (see [`Work::finish`]).
    Transaction(Vec<Cmd>),
}

impl Work {
    /// The commands it sends (without the `MULTI` / `EXEC` of a transaction).
    pub(crate) fn cmds(&self) -> &[Cmd] {
        match self {
            Work::One(c) => std::slice::from_ref(c),
            Work::Batch(c) | Work::Transaction(c) => c,
        }
    }

    /// Replies the server sends for it.
    pub(crate) fn replies(&self) -> usize {
        match self {
            Work::One(_) => 1,
            Work::Batch(c) => c.len(),
            Work::Transaction(c) => c.len() + 2,
        }
    }

    /// Writes it, contiguously, at the end of `out`.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        match self {
            Work::One(c) => c.encode(out),
            Work::Batch(cmds) => cmds.iter().for_each(|c| c.encode(out)),
            Work::Transaction(cmds) => {
                cmd("MULTI").encode(out);
                cmds.iter().for_each(|c| c.encode(out));
                cmd("EXEC").encode(out);
            }
        }
    }

    /// The caller's reply from the server's `replies` (as many as [`Work::replies`]): the one
    /// reply; an array for a batch; for a transaction `EXEC`'s reply (an array of the
    /// commands' replies, or null when a watched key changed), except when the server
    /// discarded it (`-EXECABORT`), where it is the error of the first command refused.
    pub(crate) fn finish(&self, mut replies: Vec<Value>) -> Value {
        match self {
            Work::One(_) => replies.pop().unwrap_or(Value::Null),
            Work::Batch(_) => Value::Array(replies),
            Work::Transaction(_) => {
                let exec = replies.pop().unwrap_or(Value::Null);
                let aborted = super::parse::error_is(&exec, "EXECABORT");
                if aborted {
                    if let Some(first) = replies.into_iter().find(|r| matches!(r, Value::Error(_)))
                    {
                        return first;
                    }
                }
                exec
            }
        }
    }
}

/// A unit of work that has been submitted and not yet answered.
#[derive(Debug)]
pub(crate) struct Queued {
    pub id: RequestId,
    pub work: Work,
    pub idempotent: bool,
    pub submitted: Instant,
    pub attempts: u32,
    /// Its own deadline, instead of `command_timeout`.
    pub timeout: Option<Duration>,
    /// Replies received so far (a batch or transaction is answered once all are in).
    pub got: Vec<Value>,
}

impl Queued {
    /// The caller's reply once `last` completes it (no gathering for a single command).
    pub(crate) fn finish(&mut self, last: Value) -> Value {
        if self.got.is_empty() && matches!(self.work, Work::One(_)) {
            return last;
        }
        let mut replies = std::mem::take(&mut self.got);
        replies.push(last);
        self.work.finish(replies)
    }

    /// How long it may wait for its reply when `default` is the configured timeout.
    pub(crate) fn limit(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }
}

/// The commands no connection carries right now, in the order they will be sent.
#[derive(Debug)]
pub(crate) struct CommandQueue {
    /// Taken back from a node (never written, refused with `-READONLY` and the like, or
    /// idempotent and lost): they go out before anything newer.
    resend: VecDeque<Queued>,
    /// Submitted while no node could take them, oldest first.
    fresh: VecDeque<Queued>,
    next_id: u64,
}

impl CommandQueue {
    /// An empty queue; request ids start at 1.
    pub(crate) fn new() -> CommandQueue {
        CommandQueue {
            resend: VecDeque::new(),
            fresh: VecDeque::new(),
            next_id: 1,
        }
    }

    /// A new request id.
    pub(crate) fn next_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Commands waiting.
    pub(crate) fn len(&self) -> usize {
        self.resend.len() + self.fresh.len()
    }

    /// Nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.resend.is_empty() && self.fresh.is_empty()
    }

    /// A command submitted while no node could take it.
    pub(crate) fn push_fresh(&mut self, q: Queued) {
        self.fresh.push_back(q);
    }

    /// A command taken back from a node, to send again before newer ones.
    pub(crate) fn push_resend(&mut self, q: Queued) {
        self.resend.push_back(q);
    }

    /// The next command to send.
    pub(crate) fn pop(&mut self) -> Option<Queued> {
        self.resend.pop_front().or_else(|| self.fresh.pop_front())
    }

    /// Every waiting command, in sending order.
    pub(crate) fn drain(&mut self) -> Vec<Queued> {
        self.resend.drain(..).chain(self.fresh.drain(..)).collect()
    }

    /// When the first waiting command expires, each waiting `limit` unless it has its own
    /// timeout (shorter or not).
    pub(crate) fn next_expiry(&self, limit: Duration) -> Option<Instant> {
        let due = |q: &Queued| q.submitted + q.limit(limit);
        let resend = self.resend.iter().map(due).min();
        let fresh = if self.fresh.iter().any(|q| q.timeout.is_some()) {
            self.fresh.iter().map(due).min()
        } else {
            self.fresh.front().map(due)
        };
        match (resend, fresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes the commands that have waited their limit at `now`.
    pub(crate) fn expire(&mut self, limit: Duration, now: Instant) -> Vec<RequestId> {
        let mut expired = Vec::new();
        for queue in [&mut self.resend, &mut self.fresh] {
            queue.retain(|q| {
                let due = q.submitted + q.limit(limit) <= now;
                if due {
                    expired.push(q.id);
                }
                !due
            });
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(queue: &mut CommandQueue, at: Instant) -> Queued {
        Queued {
            id: queue.next_id(),
            work: Work::One(cmd("PING")),
            idempotent: false,
            submitted: at,
            attempts: 0,
            timeout: None,
            got: Vec::new(),
        }
    }

    #[test]
    fn resends_go_first_and_expiry_keeps_order() {
        let t0 = Instant::now();
        let mut queue = CommandQueue::new();
        let a = q(&mut queue, t0);
        let b = q(&mut queue, t0 + Duration::from_secs(2));
        let c = q(&mut queue, t0 + Duration::from_secs(1));
        let (ida, idb, idc) = (a.id, b.id, c.id);
        queue.push_fresh(a);
        queue.push_fresh(b);
        queue.push_resend(c);
        assert_eq!(queue.len(), 3);
        let limit = Duration::from_secs(1);
        assert_eq!(queue.next_expiry(limit), Some(t0 + limit));
        let gone = queue.expire(Duration::from_secs(1), t0 + Duration::from_millis(1500));
        assert_eq!(gone, vec![ida]);
        assert_eq!(queue.pop().map(|q| q.id), Some(idc));
        assert_eq!(queue.pop().map(|q| q.id), Some(idb));
        assert!(queue.is_empty() && queue.next_expiry(limit).is_none());
    }
}

#[cfg(test)]
mod work_tests {
    use super::*;

    fn err(s: &str) -> Value {
        Value::Error(crate::ByteStr::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn units_are_written_contiguously_and_answered_once() {
        let tx = Work::Transaction(vec![cmd("INCR").arg("a"), cmd("GET").arg("a")]);
        assert_eq!(tx.replies(), 4);
        let mut out = BytesMut::new();
        tx.encode(&mut out);
        assert_eq!(
            &out[..],
            b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nEXEC\r\n"
        );
        let ok = Value::SimpleString(crate::ByteStr::copy_from_slice(b"OK"));
        let queued = Value::SimpleString(crate::ByteStr::copy_from_slice(b"QUEUED"));
        let exec = Value::Array(vec![Value::Integer(1), Value::Integer(1)]);
        let r = vec![ok.clone(), queued.clone(), queued.clone(), exec.clone()];
        assert_eq!(tx.finish(r), exec);
        let aborted = vec![
            ok.clone(),
            err("READONLY You can't write against a read only replica."),
            queued,
            err("EXECABORT Transaction discarded because of previous errors."),
        ];
        assert_eq!(
            tx.finish(aborted),
            err("READONLY You can't write against a read only replica.")
        );
        assert_eq!(tx.finish(vec![ok, Value::Null]), Value::Null);
        let batch = Work::Batch(vec![cmd("PING"), cmd("PING")]);
        assert_eq!(batch.replies(), 2);
        assert_eq!(
            batch.finish(vec![Value::Integer(1), err("ERR x")]),
            Value::Array(vec![Value::Integer(1), err("ERR x")])
        );
    }
}
