//! Sans-IO core of resp-sentinel: a RESP2/RESP3 codec and the Redis Sentinel failover state
//! machine.
//!
//! Nothing in this crate opens a socket, reads a clock or spawns a thread. Callers feed facts in
//! (bytes received, connection opened or closed, a timer fired, a command submitted, always with
//! `now`) and drain what to do next. The `resp-sentinel` crate drives it on real runtimes.
//!
//! Besides the codec ([`resp`]) and the state machine ([`sentinel`]), the protocol knowledge
//! every driver shares lives here too: reply typing ([`FromValue`]), error replies
//! ([`ErrorReply`]), the typed command builders ([`commands`]) and the circuit breaker
//! ([`breaker`]), which takes `now` like everything else.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod breaker;
pub mod command_flags;
pub mod commands;
pub mod convert;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod resp;
pub mod sentinel;
#[cfg(feature = "sim")]
pub mod sim;
pub mod typed;
pub mod url;

pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use commands::{Expiry, SetCondition, SetOptions};
pub use convert::{ConversionError, FromValue};
pub use resp::{
    cmd, ByteStr, Cmd, Decoder, ErrorReply, Frame, Limits, ProtocolError, ProtocolErrorKind, Value,
};
