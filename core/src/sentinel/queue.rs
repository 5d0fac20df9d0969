//! Commands waiting for a node: those taken back to be sent again first, then new ones.

use super::interface::RequestId;
use crate::Cmd;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A command that has been submitted and not yet answered.
#[derive(Debug)]
pub(crate) struct Queued {
    pub id: RequestId,
    pub cmd: Cmd,
    pub idempotent: bool,
    pub submitted: Instant,
    pub attempts: u32,
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

    /// When the longest-waiting command was submitted.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        let resend = self.resend.iter().map(|q| q.submitted).min();
        let fresh = self.fresh.front().map(|q| q.submitted);
        match (resend, fresh) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes the commands that have waited `limit` or longer at `now`.
    pub(crate) fn expire(&mut self, limit: Duration, now: Instant) -> Vec<RequestId> {
        let mut expired = Vec::new();
        for queue in [&mut self.resend, &mut self.fresh] {
            queue.retain(|q| {
                let due = q.submitted + limit <= now;
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
    use crate::cmd;

    fn q(queue: &mut CommandQueue, at: Instant) -> Queued {
        Queued {
            id: queue.next_id(),
            cmd: cmd("PING"),
            idempotent: false,
            submitted: at,
            attempts: 0,
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
        assert_eq!(queue.oldest(), Some(t0));
        let gone = queue.expire(Duration::from_secs(1), t0 + Duration::from_millis(1500));
        assert_eq!(gone, vec![ida]);
        assert_eq!(queue.pop().map(|q| q.id), Some(idc));
        assert_eq!(queue.pop().map(|q| q.id), Some(idb));
        assert!(queue.is_empty() && queue.oldest().is_none());
    }
}
