//! The data connections besides the shared one, which all follow the node in use: the
//! caller's pub/sub connection (moved to each new node), the blocking-command pool (closed
//! when the node is retired, reopened on the next) and dedicated connections (ended when
//! their node is retired, never moved) and a replica client's spread reads (kept to the
//! other usable replicas while the node is a replica). One place says when they follow.

use super::blocking::BlockingPool;
use super::dedicated::DedicatedConns;
use super::machine::Machine;
use super::pubsub::PubSub;
use super::spread::ReadSpread;
use std::time::Instant;

/// The connections that follow the node, each its own part.
#[derive(Debug)]
pub(crate) struct Followers {
    /// The caller's subscriptions and their connection.
    pub(crate) pubsub: PubSub,
    /// Connections for blocking commands, and those waiting for one.
    pub(crate) pool: BlockingPool,
    /// Callers' exclusive connections.
    pub(crate) dedicated: DedicatedConns,
    /// A replica client's connections to the other usable replicas.
    pub(crate) spread: ReadSpread,
}

impl Followers {
    /// None yet.
    pub(crate) fn new() -> Followers {
        Followers {
            pubsub: PubSub::default(),
            pool: BlockingPool::new(),
            dedicated: DedicatedConns::default(),
            spread: ReadSpread::default(),
        }
    }
}

impl Machine {
    /// The node in use changed (verified, retired, lost): every follower catches up.
    pub(crate) fn sync_followers(&mut self, now: Instant) {
        self.sync_pubsub(now);
        self.sync_pool(now);
        self.sync_dedicated(now);
        self.sync_spread(now);
    }
}
