//! The Sentinel client state machine: discovery, verification, failover fence, multiplexing.
//!
//! Drive it like quinn-proto: feed [`Input`]s and timeouts with `now`, drain [`Output`]s, and
//! sleep until [`Machine::poll_timeout`]. The same inputs in the same order always give the same
//! outputs (no clock reads, ordered maps only, randomness from the seeded generator).
//!
//! The states are [`Machine`]'s `Phase` (`phase.rs`); each holds the data that exists only in
//! it. This is the one copy of the diagram (the README links here).
//!
//! ```text
//!                 +-----------+  all sentinels fail: fail queued (MasterNotFound), back off
//!   new() ------> | Resolving |<------------------------------------------------+
//!                 +-----------+  get-master-addr-by-name, in order, move-to-front |
//!                       | address                 (Discovery: -> Done(result))    |
//!                       v                                                         |
//!                 +------------+  connect failed / timeout / ROLE mismatch ------>+
//!                 | Connecting |  (AUTH|HELLO, SELECT, CLIENT SETNAME, ROLE        |
//!                 |  (NodeRef) |   pipelined)                                      |
//!                 +------------+                                                  |
//!                       | ROLE ok: MasterChanged, Ready, flush queue              |
//!                       v                                                         |
//!                 +-----------+  closed / timeout / -READONLY -LOADING -MASTERDOWN|
//!                 |   Ready   |--------------------------- rediscover now ------->+
//!                 | (NodeRef) |  (backstop poll, health PING, sentinel refresh)
//!                 +-----------+
//!                   |       ^
//!  failover notice  |       | the probe's ROLE says master (fence down, queue released),
//!  for our master   v       | or abort (fence lifted, rediscover), or past the hold:
//!                   |       | sentinels agree no failover runs (fence lifted, old master)
//!                 +---------------+
//!                 |    Fenced     |  nothing written to the old master; new commands queue
//!                 | (Fence, probe)|  (fence_max_queued, fence_max_hold); sentinels polled
//!                 +---------------+  every fence_poll_interval; +switch-master connects
//!                                    straight away; the replica named by +selected-slave ..
//!                                    +promoted-slave is the probe, asked ROLE every
//!                                    fence_poll_interval, and becomes the master the moment
//!                                    it says so (no wait for +switch-master); either way the
//!                                    old master is then *replaced* (epoch.rs); the hold
//!                                    expiring fails what is held (FenceTimeout), then every
//!                                    sentinel is surveyed for a failover still in progress
//!
//!   close() from any state -> Closed (every outstanding command fails with Closed)
//! ```
//!
//! The parts, one file each, private state, composed by [`Machine`]: `connections.rs` (the
//! connection table and the output queue), `phase.rs` (the states above), `sentinel_list.rs`,
//! `walk.rs` (asking sentinels in turn), `watch.rs` (a notice subscription per sentinel),
//! `epoch.rs` (verified and replaced masters, config epochs), `fence.rs` (the fence and its
//! survey), `queue.rs` (commands waiting for a node), `handshake.rs`, `replicas.rs` (replica
//! choice), `backoff.rs` (randomness and backoff), `pubsub.rs`. Beside the machine, `mux.rs`
//! ([`SentinelMux`]) lets several machines share their sentinel connections. `dispatch.rs` routes inputs to
//! them, `failover.rs` acts on sentinel notices, `node.rs` runs commands on the data node,
//! `timers.rs` lists and fires deadlines.
//!
//! Listening and judging: a notice subscription is kept on every known sentinel (only the
//! sentinel leading a failover announces its progress), and a sentinel's answer is weighed
//! before the machine acts on it: a master it moved away from is not used again on the word of
//! a sentinel that has not caught up (config epochs), and a healthy verified master is not
//! dropped because one sentinel names another node (a second sentinel must agree, or report a
//! newer epoch). See `watch.rs` and `epoch.rs`.
//!
//! Retry promises: a command never written is sent to the next verified node. A command written
//! and answered `-READONLY` / `-LOADING` / `-MASTERDOWN` (or Valkey's `-REDIRECT host:port`,
//! whose address becomes the fence's candidate, used once it answers `ROLE` master) was
//! refused, so it is re-sent (up to `max_retries`). A command written and unanswered when its connection died fails with
//! [`CommandError::ConnectionLost`] `{ sent: true }` (or `Timeout`) unless it was submitted as
//! idempotent, in which case it is re-sent. Replies are matched to requests in order on one
//! pipelined connection; RESP3 push frames are never replies: a published message comes out as
//! [`Output::Message`] (a typed [`Message`]), a subscription confirmation is dropped, and any
//! other push (e.g. `invalidate`) comes out as [`Output::Push`].

// The parts of the machine, each owning its state (see ARCHITECTURE.md for the map).
mod address_map;
mod backoff;
mod blocking;
mod config;
mod connections;
mod dedicated;
mod discovery;
mod dispatch;
mod epoch;
mod error;
mod failover;
mod fence;
mod followers;
mod handshake;
mod interface;
mod machine;
mod message;
mod mux;
mod node;
mod notice;
mod parse;
mod phase;
mod pubsub;
mod queue;
mod replicas;
mod sentinel_list;
mod special;
mod spread;
mod timers;
mod tls;
mod walk;
mod watch;

#[cfg(test)]
mod tests;

pub use address_map::{AddressMap, AddressRule};
pub use config::{Backoff, Config, Credentials, Jitter, Protocol, ReadFrom, ReplicaStrategy};
pub use dedicated::DedicatedId;
pub use discovery::{Discovered, Discovery};
pub use error::{CommandError, DiscoveryError};
pub use interface::{
    Addr, AddrParseError, ConnId, ConnectFailure, Event, Input, Output, PeerKind, RequestId, Role,
};
pub use machine::{Machine, SubmitOptions};
pub use message::Message;
pub use mux::{MemberId, MuxOutput, SentinelMux};
pub use parse::Instance;
pub use tls::{ClientIdentity, Pem, TlsConfig, TlsFailure, TlsProblem, TlsRoots, TlsSide};
