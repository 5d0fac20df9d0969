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
        // MasterPreferred reads from the replicas exactly while there is no master to read.
        let without_node = self.cfg.role == Role::Master
            && self.cfg.read_from == ReadFrom::MasterPreferred
            && !self.phase.is_over();
        let want: Vec<Addr> = if node.is_some() || without_node {
            self.follow
                .spread
                .usable
                .iter()
                .filter(|a| Some(*a) != node.as_ref())
                .take(MAX_SPREAD)
                .cloned()
                .collect()
        } else {
            Vec::new()
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
        let spread = !self.follow.spread.conns.is_empty();
        match (self.cfg.role, self.cfg.read_from, work) {
            (_, _, Work::Transaction(_)) => false,
            (Role::Replica, _, _) => spread,
            // With a master ready, MasterPreferred reads it.
            (Role::Master, ReadFrom::Master | ReadFrom::MasterPreferred, _) => false,
            // Replica-only reads are decided (sent or refused) even with no replica.
            (Role::Master, policy, w) => {
                (spread || policy == ReadFrom::Replica)
                    && w.cmds().iter().all(crate::command_flags::reads_only)
            }
        }
    }

    /// Where a read-only unit goes while no node is ready, for the policies that read
    /// replicas then (`MasterPreferred`, `Replica`); `Err` when `Replica` has none verified.
    pub(crate) fn read_without_node(
        &mut self,
        work: &Work,
    ) -> Option<Result<ConnId, super::CommandError>> {
        let policy = self.cfg.read_from;
        let reads = self.cfg.role == Role::Master
            && matches!(policy, ReadFrom::MasterPreferred | ReadFrom::Replica)
            && !matches!(work, Work::Transaction(_))
            && work.cmds().iter().all(crate::command_flags::reads_only);
        if !reads {
            return None;
        }
        match self.pick_spread() {
            Some(id) => Some(Ok(id)),
            None if policy == ReadFrom::Replica => Some(Err(no_replica())),
            None => None,
        }
    }

    /// A verified spread connection by the replica strategy, if any.
    fn pick_spread(&mut self) -> Option<ConnId> {
        let spread = &self.follow.spread.conns;
        let ready = |id: &ConnId| self.io.get(*id).is_some_and(|c| c.is_ready());
        let nth = |i: usize| spread.iter().filter(|(_, id)| ready(id)).nth(i);
        let n = spread.values().filter(|id| ready(id)).count();
        let fallback = nth(0).map(|(a, _)| a)?;
        let addr = |i: usize| nth(i).map_or(fallback, |(a, _)| a);
        let strategy = self.cfg.replica_strategy;
        let i = self.picker.choose(n, addr, strategy, self.pacing.rng())?;
        nth(i).map(|(_, id)| *id)
    }

    /// The connection a unit that [`Machine::may_spread`] goes to: the node or one of the
    /// verified spread connections. A replica client chooses among all by its strategy; a
    /// master client by its [`ReadFrom`] (replicas only, by the strategy, for
    /// `ReplicaPreferred`; the master too for `LowestLatency` and `Any`).
    pub(crate) fn read_conn(&mut self, node: ConnId) -> Result<ConnId, super::CommandError> {
        let Some(node_addr) = self.io.get(node).map(|c| c.addr()) else {
            return Ok(node);
        };
        let (with_node, strategy) = match (self.cfg.role, self.cfg.read_from) {
            (Role::Replica, _) | (_, ReadFrom::Master | ReadFrom::MasterPreferred) => {
                (true, self.cfg.replica_strategy)
            }
            (Role::Master, ReadFrom::ReplicaPreferred) => (false, self.cfg.replica_strategy),
            (Role::Master, ReadFrom::Replica) => match self.pick_spread() {
                Some(id) => return Ok(id),
                None => return Err(no_replica()),
            },
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
        Ok(
            match self.picker.choose(n, addr, strategy, self.pacing.rng()) {
                Some(i) if i + first > 0 => nth(i + first - 1).map_or(node, |(_, id)| *id),
                _ => node,
            },
        )
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

/// Why a read with `read_from = Replica` cannot be sent.
fn no_replica() -> super::CommandError {
    super::CommandError::Unavailable(
        "read_from is Replica and no replica is usable now (none listed by the sentinels, or \
         none verified yet)"
            .into(),
    )
}
