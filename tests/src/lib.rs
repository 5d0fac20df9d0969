//! Harness that runs real `redis-server` and `redis-sentinel` processes on loopback ports.
//!
//! [`Topology::start`] launches one master, its replicas and a set of sentinels (by default 2
//! replicas, 3 sentinels, quorum 2) in a temp dir, waits until they agree, and offers the fault
//! operations end-to-end tests need: forced failover, SIGKILL, SIGSTOP/SIGCONT, restart. Every
//! process is killed when the [`Topology`] is dropped, even if a test panics.
#![deny(missing_docs)]

pub mod admin;
mod config;
mod error;
mod options;
mod ports;
mod process;
mod tempdir;
mod topology;
pub mod url;

pub use admin::{AdminConn, AdminError, Reply};
pub use error::HarnessError;
pub use options::{Credentials, TopologyOptions};
pub use resp_sentinel_core::sentinel::Addr;
pub use topology::{NodeKind, NodeState, Topology};
