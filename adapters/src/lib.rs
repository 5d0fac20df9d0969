//! Redis and Valkey Sentinel client that keeps working through failovers.
//!
//! The protocol and every failover decision live in the Sans-IO crate `resp-sentinel-core`; this
//! crate drives it with blocking std sockets (always available) or with tokio, async-std or smol
//! (cargo features of the same names).
#![deny(missing_docs)]

pub use resp_sentinel_core as core;
pub use resp_sentinel_core::{cmd, Cmd, Value};
