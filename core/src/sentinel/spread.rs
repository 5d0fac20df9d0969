//! Reads spread over every usable replica: a replica client's, and a master client's
//! read-only commands when [`ReadFrom`] says so.
//!
//! The node in use (a replica chosen by the strategy, `replicas.rs`, or the master) carries
//! transactions and what waits in the queue; besides it the client keeps one connection to
//! each other usable replica in the sentinels' last answer (at most [`MAX_SPREAD`]), verified
//! with `ROLE` like the node. A replica client sends each single command or pipeline submitted
//! while the node is ready to one of the verified ones, chosen by its strategy (random, in
//! turn, or the lowest `ROLE` round trip). A master client sends only commands the server flags
//! read-only there (a pipeline only if all its commands are), by [`ReadFrom`]; the rest, and
//! reads marked `master_only`, go to the master. The spread follows the sentinels: a replica they stop listing (down, promoted,
//! disconnected) loses its connection at the next answer; a connection that fails or refuses
//! (`-LOADING`, `-MASTERDOWN`) is closed and its unsent or refused work goes back to the
//! queue, and the replica is not tried again until the sentinels list it again. When the
//! client falls back to the master (no usable replica), or has no node, there is no spread.

use super::config::{ReadFrom, ReplicaStrategy};
use super::connections::{Cause, Conn, Use};
use super::interface::{Addr, ConnId, PeerKind, Role};
use super::machine::Machine;
use super::queue::Work;
use std::collections::BTreeMap;
use std::time::Instant;

/// Most replicas a replica client keeps a spread connection to, besides its node.
pub(crate) const MAX_SPREAD: usize = 16;

/// The spread's connections and what the sentinels last said.
#[derive(Debug, Default)]
pub(crate) struct ReadSpread {
    /// One connection per replica, by the replica's address.
    conns: BTreeMap<Addr, ConnId>,
    /// The usable replicas of the sentinels' last answer.
    usable: Vec<Addr>,
}

impl ReadSpread {
    /// The sentinels' latest usable replicas.
    pub(crate) fn set_usable(&mut self, usable: Vec<Addr>) {
        self.usable = usable;
    }

    /// Whether `id` is a spread connection.
    pub(crate) fn has(&self, id: ConnId) -> bool {
        self.conns.values().any(|c| *c == id)
    }

    /// Forgets `addr` until the sentinels list it again; true when `id` was its connection.
    fn forget(&mut self, addr: &Addr, id: ConnId) -> bool {
        if self.conns.get(addr) != Some(&id) {
            return false;
        }
        self.conns.remove(addr);
        self.usable.retain(|a| a != addr);
        true
    }
}

impl Machine {
    /// Keeps one verified connection to each usable replica besides the node, or none when
    /// the client is not reading from a replica right now.
    pub(crate) fn sync_spread(&mut self, now: Instant) {
        let spreading = match self.cfg.role {
            Role::Replica => Role::Replica,
            Role::Master if self.cfg.read_from != ReadFrom::Master => Role::Master,
            Role::Master => Role::Replica, // never matches a master node: no spread
        };
        let node = self
            .phase
            .ready()
            .filter(|n| n.expect == spreading)
            .map(|n| n.addr.clone());
        let want: Vec<Addr> = match &node {
            Some(n) => self
                .follow
                .spread
                .usable
                .iter()
                .filter(|a| *a != n)
                .take(MAX_SPREAD)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let stale: Vec<ConnId> = self
            .follow
            .spread
            .conns
            .iter()
            .filter(|(a, _)| !want.contains(a))
            .map(|(_, id)| *id)
            .collect();
        for id in stale {
            self.drop_conn(
                id,
                Cause::Unexpected("no longer a usable replica".into()),
                now,
            );
        }
        for a in want {
            if !self.follow.spread.conns.contains_key(&a) {
                let kind = PeerKind::DataRead(Role::Replica);
                let id = self.io.open(a.clone(), Use::Spread, kind, now);
                self.follow.spread.conns.insert(a, id);
            }
        }
    }

    /// A spread connection passed its handshake and `ROLE` check.
    pub(crate) fn spread_ready(&mut self, id: ConnId, addr: Addr, rtt: std::time::Duration) {
        if let Some(c) = self.io.get_mut(id) {
            c.set_ready();
        }
        self.picker.measured(addr, rtt);
    }

    /// Whether `work` may go elsewhere than the node: anything but a transaction on a replica
    /// client; read-only commands on a master client whose `read_from` allows it.
    pub(crate) fn may_spread(&self, work: &Work) -> bool {
        if self.follow.spread.conns.is_empty() {
            return false;
        }
        match (self.cfg.role, work) {
            (_, Work::Transaction(_)) => false,
            (Role::Replica, _) => true,
            (Role::Master, w) => w.cmds().iter().all(crate::command_flags::reads_only),
        }
    }

    /// The connection a unit that [`Machine::may_spread`] goes to: the node or one of the
    /// verified spread connections. A replica client chooses among all by its strategy; a
    /// master client by its [`ReadFrom`] (replicas only, by the strategy, for
    /// `ReplicaPreferred`; the master too for `LowestLatency` and `Any`).
    pub(crate) fn read_conn(&mut self, node: ConnId) -> ConnId {
        let Some(node_addr) = self.io.get(node).map(|c| c.addr()) else {
            return node;
        };
        let (with_node, strategy) = match (self.cfg.role, self.cfg.read_from) {
            (Role::Replica, _) | (_, ReadFrom::Master) => (true, self.cfg.replica_strategy),
            (Role::Master, ReadFrom::ReplicaPreferred) => (false, self.cfg.replica_strategy),
            (Role::Master, ReadFrom::LowestLatency) => (true, ReplicaStrategy::LowestLatency),
            (Role::Master, ReadFrom::Any) => (true, ReplicaStrategy::Random),
        };
        let spread = &self.follow.spread.conns;
        // Candidates: the node first (when it is one), then the verified spread connections
        // in address order.
        let first = usize::from(!with_node);
        let ready = |id: &ConnId| self.io.get(*id).is_some_and(|c| c.is_ready());
        let nth = |i: usize| spread.iter().filter(|(_, id)| ready(id)).nth(i);
        let n = usize::from(with_node) + spread.values().filter(|id| ready(id)).count();
        let addr = |i: usize| match i + first {
            0 => node_addr,
            j => nth(j - 1).map_or(node_addr, |(a, _)| a),
        };
        match self.picker.choose(n, addr, strategy, self.pacing.rng()) {
            Some(i) if i + first > 0 => nth(i + first - 1).map_or(node, |(_, id)| *id),
            _ => node,
        }
    }

    /// A spread connection is gone: what it had not sent (and idempotent work) goes back to
    /// the queue, the rest fails as on the node; its replica waits for the sentinels.
    pub(crate) fn spread_lost(&mut self, id: ConnId, c: Conn, cause: Cause, now: Instant) {
        let addr = c.addr().clone();
        self.follow.spread.forget(&addr, id);
        for q in self.settle_lost(c, &cause, now) {
            self.queue.push_resend(q);
        }
        if !self.phase.is_closed() {
            self.flush_queue(now);
        }
    }

    /// A spread connection answered as a replica that cannot serve (`-LOADING`...): close it.
    pub(crate) fn spread_refused(&mut self, id: ConnId, why: String, now: Instant) {
        self.drop_conn(id, Cause::Unexpected(why), now);
        self.flush_queue(now);
    }
}
