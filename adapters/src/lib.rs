//! Redis and Valkey Sentinel client that keeps working through failovers.
//!
//! The protocol and every failover decision live in the Sans-IO crate `resp-sentinel-core`; this
//! crate only drives it: with blocking std sockets (always available, [`blocking`]) or with
//! tokio, async-std or smol (cargo features of the same names, modules [`tokio`],
//! [`async_std`], [`smol`]). Every flavor has the same shape:
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
#![deny(missing_docs)]

mod breaker;
mod client;
mod commands;
mod convert;
mod driver;
mod error;
mod handle;
mod pubsub;
mod runtime;
mod sentinel;

pub mod blocking;

#[cfg(feature = "async-std")]
pub use runtime::async_std;
#[cfg(feature = "smol")]
pub use runtime::smol;
#[cfg(feature = "tokio")]
pub use runtime::tokio;

pub use breaker::{BreakerConfig, BreakerState};
pub use client::{Client, Events, Subscription};
pub use commands::{Expiry, SetCondition, SetOptions};
pub use convert::FromValue;
pub use error::{Error, ErrorReply};
pub use pubsub::Message;
pub use resp_sentinel_core as core;
pub use resp_sentinel_core::{cmd, Cmd, Value};
pub use runtime::Runtime;
pub use sentinel::{Flavor, Sentinel};
