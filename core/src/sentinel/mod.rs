//! The Sentinel client state machine: discovery, verification, failover fence, multiplexing.
//!
//! Drive it like quinn-proto: feed [`Input`]s and timeouts with `now`, drain [`Output`]s, and
//! sleep until [`Machine::poll_timeout`]. The same inputs in the same order always give the same
//! outputs.

mod io;
mod machine;

pub use io::{Addr, AddrParseError, ConnId, Event, Input, Output, PeerKind, RequestId, Role};
pub use machine::{CommandError, Machine};
