//! Redis and Valkey Sentinel client that keeps working through failovers.
//!
//! The protocol and every failover decision live in the Sans-IO crate `resp-sentinel-core`
//! (re-exported as [`core`]); this crate only drives it: with blocking std sockets (always
//! available, [`blocking`]) or with tokio, async-std or smol (cargo features of the same names,
//! modules `tokio`, `async_std`, `smol`). Every [`Runtime`] has the same shape, and the blocking
//! and async clients have the same methods (they come from one definition):
//!
//! ```no_run
//! use resp_sentinel::blocking::Sentinel;
//! use resp_sentinel::core::sentinel::Config;
//!
//! let config = Config::new(vec!["127.0.0.1:26379".parse()?], "mymaster");
//! let sentinel = Sentinel::new(config);
//! let client = sentinel.master_for("mymaster");
//! client.set("greeting", "hello")?;
//! let n: i64 = client.incr("visits")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The writable node is called the *master* throughout, as Sentinel itself does
//! (`SENTINEL get-master-addr-by-name`); other clients call it the primary.
//!
//! Errors are typed ([`Error`]); replies convert through [`FromValue`]; the command builders
//! ([`core::commands`]), [`ErrorReply`] and the circuit breaker ([`BreakerConfig`]) come from
//! the core and are re-exported here.
//!
//! With the cargo feature `metrics`, every client records counters, gauges and histograms
//! through the `metrics` facade (module `metrics` lists every name); tracing spans name each
//! driver's service and role and each connection's address and kind, with or without it.
#![deny(missing_docs)]

mod async_client;
mod breaker;
mod driver;
mod error;
mod handle;
mod hub;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "metrics_off.rs"]
mod metrics;
mod pubsub;
#[cfg(feature = "redis-rs")]
pub mod redis_compat;
mod reply;
mod runtime;
mod sentinel;
mod spans;
mod surface;
pub mod tls;

pub mod blocking;

#[cfg(feature = "async-std")]
pub use runtime::async_std;
#[cfg(feature = "smol")]
pub use runtime::smol;
#[cfg(feature = "tokio")]
pub use runtime::tokio;

pub use async_client::{Client, Dedicated, Events, Subscription};
pub use error::Error;
pub use resp_sentinel_core as core;
pub use resp_sentinel_core::breaker::{BreakerConfig, BreakerState};
pub use resp_sentinel_core::commands::{Expiry, SetCondition, SetOptions};
pub use resp_sentinel_core::convert::{ConversionError, FromValue};
pub use resp_sentinel_core::sentinel::{Message, SubmitOptions};
pub use resp_sentinel_core::{cmd, Cmd, ErrorReply, Value};
pub use runtime::Runtime;
pub use sentinel::Sentinel;
