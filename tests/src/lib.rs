//! Harness that runs real `redis-server` and `redis-sentinel` processes on loopback ports (or
//! Valkey's `valkey-server`, selected with `RESP_SENTINEL_SERVER=valkey`: [`Server`]).
//!
//! [`Topology::start`] launches one master, its replicas and a set of sentinels (by default 2
//! replicas, 3 sentinels, quorum 2) in a temp dir, waits until they agree, and offers the fault
//! operations end-to-end tests need: forced failover, SIGKILL, SIGSTOP/SIGCONT, restart. Every
//! process is killed when the [`Topology`] is dropped, even if a test panics.
//!
//! ```no_run
//! use resp_sentinel_tests::{Topology, TopologyOptions};
//! use std::time::Duration;
//!
//! let t = Topology::start(TopologyOptions::default().password("pw"))?;
//! let url = t.url(); // redis+sentinel://:pw@127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/mymaster
//! let old = t.failover()?;
//! let new = t.wait_for_new_master(&old, Duration::from_secs(30))?;
//! t.kill(&new)?;
//! let newer = t.wait_for_new_master(&new, Duration::from_secs(30))?;
//! t.restart(&new)?;
//! t.wait_until_replica(&new, Duration::from_secs(40))?;
//! # let _ = (url, newer);
//! # Ok::<(), resp_sentinel_tests::HarnessError>(())
//! ```
//!
//! Set `RESP_SENTINEL_KEEP_TMP=1` to keep the configs and logs of every topology for debugging.
#![deny(missing_docs)]

pub mod admin;
mod config;
mod error;
pub mod fake;
pub mod forward;
mod options;
mod pki;
mod ports;
mod process;
pub mod server;
mod tempdir;
mod topology;
pub mod url;

pub use admin::{AdminConn, AdminError, Reply};
pub use error::HarnessError;
pub use options::{Credentials, TlsTopology, TopologyOptions};
pub use pki::TlsFiles;
pub use resp_sentinel_core::sentinel::Addr;
pub use server::Server;
pub use topology::{NodeKind, NodeState, Topology};
