//! The state machine proper.

use super::io::{Input, Output, RequestId};
use crate::Cmd;
use std::time::Instant;

/// Why a command got no reply from a server.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// Placeholder until issue #3 lands.
    Unavailable(String),
}

/// The Sans-IO Sentinel client for one service and role.
#[derive(Debug, Default)]
pub struct Machine {}

impl Machine {
    /// Queues a command; its reply comes out as [`Output::Reply`] with the returned id.
    pub fn submit(&mut self, cmd: Cmd, now: Instant) -> RequestId {
        let _ = (cmd, now);
        todo!("issue #3")
    }

    /// Feeds one fact from the driver.
    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        let _ = (input, now);
        todo!("issue #3")
    }

    /// Called when the deadline from [`Machine::poll_timeout`] passes.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!("issue #3")
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        todo!("issue #3")
    }

    /// When to call [`Machine::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!("issue #3")
    }
}
