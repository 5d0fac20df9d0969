//! Replication between the simulated data nodes: who replicates from whom, each replica's lag
//! behind its master (drawn once per replica from the seed), the incremental stream of writes
//! from a master's backlog, and full resynchronisations, which is how a demoted master
//! discards the writes it acknowledged after the promoted replica's replication point.

use super::node::{DataNode, NodeOptions, NodeRole};
use super::rng::Rng;
use crate::sentinel::Addr;
use std::ops::{Index, IndexMut};
use std::time::{Duration, Instant};

/// The data nodes and the replication links between them. Indexing gives node `i` (0 is the
/// initial master).
pub(super) struct Replication {
    nodes: Vec<DataNode>,
    /// Lag of each node behind its master, when it is a replica.
    lags: Vec<Duration>,
}

impl Replication {
    /// A master at `master` and `replicas` replicas of it on the following ports of the same
    /// host, each with a lag drawn from `lag`.
    pub(super) fn new(
        master: Addr,
        replicas: usize,
        options: NodeOptions,
        lag: (Duration, Duration),
        rng: &mut Rng,
    ) -> Replication {
        let mut nodes = vec![DataNode::new(
            master.clone(),
            NodeRole::Master,
            options.clone(),
        )];
        let mut lags = vec![Duration::ZERO];
        for i in 0..replicas {
            nodes.push(DataNode::new(
                Addr::new(master.host.clone(), master.port + 1 + i as u16),
                NodeRole::Replica {
                    of: master.clone(),
                    link_up: true,
                },
                options.clone(),
            ));
            lags.push(rng.duration(lag.0, lag.1));
        }
        Replication { nodes, lags }
    }

    /// All data nodes.
    pub(super) fn nodes(&self) -> &[DataNode] {
        &self.nodes
    }

    /// All data nodes, mutably.
    pub(super) fn nodes_mut(&mut self) -> &mut [DataNode] {
        &mut self.nodes
    }

    /// Number of data nodes.
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Index of the node at `addr`.
    pub(super) fn position(&self, addr: &Addr) -> Option<usize> {
        self.nodes.iter().position(|n| &n.addr == addr)
    }

    /// Indexes of the nodes replicating from the node at `master` (link up or not).
    pub(super) fn replicas_of_addr(&self, master: &Addr) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(
                |i| matches!(&self.nodes[*i].role, NodeRole::Replica { of, .. } if of == master),
            )
            .collect()
    }

    /// Replicas of node `i` with their offsets, for its `ROLE` reply.
    pub(super) fn replicas_of(&self, i: usize) -> Vec<(Addr, u64)> {
        self.replicas_of_addr(&self.nodes[i].addr)
            .into_iter()
            .map(|r| (self.nodes[r].addr.clone(), self.nodes[r].offset))
            .collect()
    }

    /// Applies replication progress up to `now`: each replica whose link is up takes its
    /// master's writes older than its lag, or resynchronises in full when the master no
    /// longer has the history it needs. Paused nodes make no progress.
    pub(super) fn catch_up(&mut self, now: Instant) {
        for i in 0..self.nodes.len() {
            let NodeRole::Replica { of, link_up: true } = &self.nodes[i].role else {
                continue;
            };
            let Some(m) = self.position(of) else {
                continue;
            };
            if !self.nodes[m].is_master()
                || self.nodes[m].is_paused(now)
                || self.nodes[i].is_paused(now)
            {
                continue;
            }
            let lag = self.lags[i];
            let mut ops = Vec::new();
            let mut off = self.nodes[i].offset;
            while off < self.nodes[m].offset {
                match self.nodes[m].backlog_after(off) {
                    Some((t, op)) if *t + lag <= now => {
                        ops.push(op.clone());
                        off += 1;
                    }
                    Some(_) => break,
                    None => {
                        // History the master no longer has: full resync.
                        self.resync(i, m);
                        ops.clear();
                        break;
                    }
                }
            }
            for op in &ops {
                self.nodes[i].apply(op);
            }
        }
    }

    /// `REPLICAOF` on node `i`: `None` promotes it (`NO ONE`); a known node makes it a replica
    /// of that node after a full resync; an unknown address leaves it a replica with its link
    /// down, keeping its data.
    pub(super) fn replica_of(&mut self, i: usize, of: Option<Addr>) {
        match of {
            None => {
                if !self.nodes[i].is_master() {
                    self.nodes[i].promote();
                }
            }
            Some(addr) => match self.position(&addr) {
                Some(m) if m != i => self.resync(i, m),
                _ => {
                    self.nodes[i].role = NodeRole::Replica {
                        of: addr,
                        link_up: false,
                    }
                }
            },
        }
    }

    /// Node `i` becomes a replica of node `master` after a full resynchronisation: its own
    /// data, including writes the master never had, is discarded.
    pub(super) fn resync(&mut self, i: usize, master: usize) {
        let snap = snapshot(&self.nodes[master]);
        self.nodes[i].full_resync_from(&snap);
    }
}

/// A copy of a node's dataset and offset, enough to resynchronise a replica from it.
fn snapshot(node: &DataNode) -> DataNode {
    let mut n = DataNode::new(node.addr.clone(), node.role.clone(), NodeOptions::default());
    n.data = node.data.clone();
    n.offset = node.offset;
    n
}

impl Index<usize> for Replication {
    type Output = DataNode;
    fn index(&self, i: usize) -> &DataNode {
        &self.nodes[i]
    }
}

impl IndexMut<usize> for Replication {
    fn index_mut(&mut self, i: usize) -> &mut DataNode {
        &mut self.nodes[i]
    }
}
