//! Sans-IO core of resp-sentinel: a RESP2/RESP3 codec and the Redis Sentinel failover state
//! machine.
//!
//! Nothing in this crate opens a socket, reads a clock or spawns a thread. Callers feed facts in
//! (bytes received, connection opened or closed, a timer fired, a command submitted, always with
//! `now`) and drain what to do next. The `resp-sentinel` crate drives it on real runtimes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod resp;
pub mod sentinel;
#[cfg(feature = "sim")]
pub mod sim;
pub mod url;

pub use resp::{
    cmd, ByteStr, Cmd, Decoder, Frame, Limits, ProtocolError, ProtocolErrorKind, Value,
};
