//! One-shot discovery: ask sentinels once for the master's address or the usable replicas,
//! with the same input/output protocol as [`Machine`], then stop.

use super::config::Config;
use super::error::DiscoveryError;
use super::interface::{Addr, Input, Output};
use super::machine::{Goal, Machine};
use std::time::Instant;

/// What a one-shot discovery looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Master,
    Replicas,
}

/// What a one-shot discovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discovered {
    /// The master's address as sentinels report it.
    Master(Addr),
    /// Replicas that are up with a healthy link to the master (possibly none).
    Replicas(Vec<Addr>),
}

/// A single walk over the sentinels (`discover_master` / `discover_replicas`): drive it like
/// [`Machine`] until [`Discovery::result`] is `Some`.
#[derive(Debug)]
pub struct Discovery {
    m: Machine,
}

impl Discovery {
    /// Asks for the address of `config.service`'s master.
    pub fn master(config: Config, now: Instant) -> Discovery {
        Discovery {
            m: Machine::with_goal(config, Goal::Discover(Target::Master), now),
        }
    }

    /// Asks for `config.service`'s usable replicas.
    pub fn replicas(config: Config, now: Instant) -> Discovery {
        Discovery {
            m: Machine::with_goal(config, Goal::Discover(Target::Replicas), now),
        }
    }

    /// Feeds one fact from the driver.
    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        self.m.handle_input(input, now);
    }

    /// Called when the deadline from [`Discovery::poll_timeout`] passes.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.m.handle_timeout(now);
    }

    /// The next thing to do (connect, transmit, close).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.m.poll_output()
    }

    /// When to call [`Discovery::handle_timeout`] next; `None` once finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.m.poll_timeout()
    }

    /// The outcome, once every needed sentinel answered or failed.
    pub fn result(&self) -> Option<&Result<Discovered, DiscoveryError>> {
        self.m.phase.outcome()
    }

    /// The sentinel list after the walk (the answering sentinel first).
    pub fn sentinels(&self) -> &[Addr] {
        self.m.sentinels()
    }
}
