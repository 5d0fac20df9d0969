//! TCP segmentation on data connections: now and then (one message in
//! [`WorldSpec::segment`](super::WorldSpec::segment)) a message is cut in two, and the second
//! part leaves up to 5 ms after the first (both keep the connection's order).
//!
//! A client's message is cut at any byte: the node runs the commands that are complete and
//! waits for the rest, so a transaction may sit half-queued when its connection drops (the
//! node forgets it) or when the node turns replica (its `EXEC` is then refused). A node's
//! replies are cut between two replies: the client may hold part of a pipeline's or a
//! transaction's replies when the connection drops. A cut reply message reveals the node is
//! not master in the part that carries the revealing reply.

use super::network::{NetEv, Target};
use super::world::{Ev, World};
use crate::sentinel::{Addr, ConnId};
use bytes::Bytes;
use std::time::Duration;

/// Longest delay of a message's second part.
const MAX_GAP: Duration = Duration::from_millis(5);

impl World {
    /// Sends client bytes towards the server of `conn`, perhaps in two parts.
    pub(super) fn send_up(&mut self, conn: ConnId, bytes: Bytes) {
        let cut = match bytes.len() {
            0 | 1 => None,
            n => self.segment(conn, n - 1).map(|k| k + 1),
        };
        let parts = match cut {
            Some(k) => {
                let gap = self.rng.duration(Duration::ZERO, MAX_GAP);
                vec![(bytes.slice(..k), Duration::ZERO), (bytes.slice(k..), gap)]
            }
            None => vec![(bytes, Duration::ZERO)],
        };
        for (part, delay) in parts {
            if let Some(at) = self.net.up_at(conn, &mut self.rng, self.now + delay) {
                self.agenda.push(at, Ev::Net(NetEv::ToServer(conn, part)));
            }
        }
    }

    /// Sends a server's replies on `conn`, perhaps in two parts: `out` holds them encoded,
    /// `marks` where each data-node command's replies end and whether a reply up to there
    /// revealed the node (`reveal`) is not master.
    pub(super) fn send_replies(
        &mut self,
        conn: ConnId,
        out: Bytes,
        marks: &[(usize, bool)],
        reveal: Option<Addr>,
    ) {
        let inner: Vec<(usize, bool)> = marks
            .iter()
            .copied()
            .filter(|(at, _)| *at > 0 && *at < out.len())
            .collect();
        let Some(k) = self.segment(conn, inner.len()) else {
            return self.send_after(NetEv::ToClient(conn, out, reveal), Duration::ZERO);
        };
        let (at, before) = inner[k];
        let first = reveal.clone().filter(|_| before);
        self.send_after(
            NetEv::ToClient(conn, out.slice(..at), first),
            Duration::ZERO,
        );
        let gap = self.rng.duration(Duration::ZERO, MAX_GAP);
        self.send_after(NetEv::ToClient(conn, out.slice(at..), reveal), gap);
    }

    /// Whether to cut the message on `conn` that has `points` places to cut, and at which.
    fn segment(&mut self, conn: ConnId, points: usize) -> Option<usize> {
        let n = self.spec.segment;
        let data = matches!(self.net.target(conn), Some(Target::Node(_)));
        if n == 0 || points == 0 || !data || !self.rng.chance(1, u64::from(n)) {
            return None;
        }
        Some(self.rng.below(points as u64) as usize)
    }
}
