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
//! Running it: `cargo test -p resp-sentinel-core --features sim --test simulator`. The seed
//! sweep runs `SIM_SEEDS` seeds (default a few hundred, CI-sized); set `SIM_SEEDS=10000` for
//! the long run and `SIM_SEED=<n>` to replay one seed (it then prints the schedule); add
//! `SIM_TRACE=1` to print the client's events, its connections, and the data-node commands
//! that touched the first lost key. Every failure message starts with the seed.
//!
//! Enabled by the `sim` cargo feature; it is test support, not part of the client.

pub mod driver;
pub mod node;
pub mod rng;
pub mod schedule;
pub mod sentinel;
pub mod session;
pub mod wire;
pub mod world;

pub use driver::{Client, Report, Sim, SimConfig};
pub use rng::Rng;
pub use schedule::Schedule;
pub use world::{Delivery, Fault, NodeSel, World, WorldSpec};
