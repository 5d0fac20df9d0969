//! A deterministic, in-memory simulator of a Sentinel deployment, for testing the state machine.
//!
//! Everything runs on virtual time from one seed: simulated Redis data nodes (keyspace, roles,
//! replication with lag, `-READONLY`, `-LOADING`, `HELLO`/`AUTH`/`SELECT`, pub/sub), simulated
//! sentinels (address queries, `SENTINEL replicas`/`sentinels` in Redis 7's field layout, event
//! channels with Redis' exact message texts), a network with per-message latency that keeps
//! each connection in order, and a fault schedule: dropped connections, refused connects,
//! partitions, paused nodes, slow nodes, sentinels that lie or send garbage, a master that turns
//! replica, and real failovers that follow Sentinel's order and timing (the old master stays
//! writable until it is reconfigured about one INFO period, 10 s, after `+switch-master`, and
//! then discards the writes it acknowledged after the promoted replica's replication point).
//!
//! The [`driver`] runs a client (anything implementing [`Client`], such as the crate's
//! `Machine`) against a [`World`] with a workload, and checks invariants on every step:
//! no write reaches a node after the client learned it is not master, no reply goes to the
//! wrong request, every request is answered exactly once, the client reaches the new master in
//! bounded time after a failover, and acknowledged writes survive failovers.
//!
//! Layout, one concern a module:
//! - [`world`]: the [`World`] composing the parts below on one agenda of virtual-time events
//!   (a private `agenda` module), taking the client's outputs and running the commands that
//!   reach the servers;
//! - [`network`]: connections, per-message latency in order per connection, partitions,
//!   refused connects, slow links, and the [`Delivery`]s the client must learn;
//! - [`replication`]: replicas following their master with lag, full resyncs, a demoted
//!   master discarding writes;
//! - [`faults`]: the [`Fault`]s a [`Schedule`] fires, applying them and healing them;
//! - [`failover`]: Sentinel's failover procedure, its events and timing, and the
//!   [`FailoverRecord`] history;
//! - [`node`], [`sentinel`], [`session`], [`wire`]: the simulated servers, their sessions
//!   and the RESP they speak;
//! - [`driver`]: the loop that runs a client against a world with a workload, and
//!   [`invariants`]: what it checks and the [`Report`] of a run;
//! - [`schedule`] and [`rng`]: seeded fault schedules and the seeded generator.
//!
//! Running it: `cargo test -p resp-sentinel-core --features sim --test sim_self` tests the
//! simulator itself (the world against a scripted client, the invariant checker against a
//! client that ignores failovers); `--test simulator` runs the `Machine` under faults. Its seed
//! sweep (`seed_sweep_holds_every_invariant`) runs `SIM_SEEDS` seeds (default 200,
//! CI-sized); set `SIM_SEEDS=10000` for the long run and `SIM_SEED=<n>` to replay one seed (it
//! then prints the schedule); add `SIM_TRACE=1` to print the client's events, its connections,
//! and the data-node commands that touched the first lost key. Every failure message starts
//! with the seed.
//!
//! Enabled by the `sim` cargo feature; it is test support, not part of the client.

mod agenda;
pub mod driver;
pub mod failover;
pub mod faults;
pub mod invariants;
pub mod network;
pub mod node;
pub mod replication;
pub mod rng;
pub mod schedule;
pub mod sentinel;
pub mod session;
pub mod wire;
pub mod world;

pub use driver::{Client, Sim, SimConfig};
pub use failover::FailoverRecord;
pub use faults::{Fault, NodeSel};
pub use invariants::Report;
pub use network::{Delivery, Sent};
pub use rng::Rng;
pub use schedule::Schedule;
pub use world::{World, WorldSpec};
