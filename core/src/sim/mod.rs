//! A deterministic, in-memory simulator of a Sentinel deployment, for testing the state machine.
//!
//! Everything runs on virtual time from one seed: simulated Redis data nodes (keyspace, roles,
//! replication with lag, `-READONLY`, `-LOADING`, `HELLO`/`AUTH`/`SELECT`, pub/sub,
//! `MULTI`/`EXEC`/`DISCARD` with Redis' queue-time checks), simulated sentinels (address
//! queries, `SENTINEL replicas`/`sentinels` in Redis 7's field layout, event channels with
//! Redis' exact message texts), a network with per-message latency that keeps each connection
//! in order (and now and then cuts a data connection's message in two, as TCP may), and a
//! fault schedule: dropped connections, refused connects, partitions, paused nodes, slow
//! nodes, sentinels that lie or send garbage, a master that turns replica, and real failovers
//! that follow Sentinel's order and timing (the old master stays writable until it is
//! reconfigured about one INFO period, 10 s, after `+switch-master`, and then discards the
//! writes it acknowledged after the promoted replica's replication point).
//!
//! The [`driver`] runs a client (anything implementing [`Client`], such as the crate's
//! `Machine`) against a [`World`] with a workload of single commands, pipelines and
//! transactions, and checks invariants on every step and at the end: no write (and no `EXEC`)
//! reaches a node after the client learned it is not master, no reply goes to the wrong
//! request, every request (a command, a pipeline, a transaction) is answered exactly once, the
//! client reaches the new master in bounded time after a failover, acknowledged writes survive
//! failovers, no write runs twice, what an answer says never ran ran nowhere, a pipeline runs
//! a prefix of its writes and a transaction all of them or none, on every node.
//!
//! Layout, one concern a module:
//! - [`world`]: the [`World`] composing the parts below on one agenda of virtual-time events
//!   (a private `agenda` module), taking the client's outputs and running the commands that
//!   reach the servers;
//! - [`network`]: connections, per-message latency in order per connection, partitions,
//!   refused connects, slow links, and the [`Delivery`]s the client must learn; [`segment`]:
//!   messages on data connections cut in two (a transaction half-queued, a pipeline's replies
//!   half-received);
//! - [`replication`]: replicas following their master with lag (an `EXEC`'s writes as one
//!   entry), full resyncs, a demoted master discarding writes;
//! - [`faults`]: the [`Fault`]s a [`Schedule`] fires, applying them and healing them;
//! - [`failover`]: Sentinel's failover procedure, its events and timing, and the
//!   [`FailoverRecord`] history;
//! - [`node`], [`multi`], [`sentinel`], [`session`], [`wire`]: the simulated servers (a data
//!   node's transactions in `multi`), their sessions and the RESP they speak;
//! - [`driver`]: the loop that runs a client against a world with the workload (a private
//!   `workload` module: what is submitted and what each reply must be), and [`invariants`]:
//!   what it checks (the end-of-run checks of what the nodes ran in its private `ledger`) and
//!   the [`Report`] of a run;
//! - [`schedule`] and [`rng`]: seeded fault schedules and the seeded generator.
//!
//! Running it: `cargo test -p resp-sentinel-core --features sim --test sim_self` tests the
//! simulator itself (the world against a scripted client, the data node's transactions, the
//! invariant checker against a client that ignores failovers; the checker's rules for units of
//! work have unit tests in the crate); `--test simulator` runs the `Machine` under faults. Its
//! seed sweep (`seed_sweep_holds_every_invariant`) runs `SIM_SEEDS` seeds (default 200,
//! CI-sized); set `SIM_SEEDS=10000` for the long run and `SIM_SEED=<n>` to replay one seed (it
//! then prints the schedule); add `SIM_TRACE=1` to print the client's events, its connections,
//! and the data-node commands that touched the first lost key (an `EXEC` lists what it ran).
//! Every failure message starts with the seed. `sim_found_refusals_inside_split_units`
//! (ignored) replays what the sweep found once every data message is cut
//! (`WorldSpec::segment = 1`): see `core/src/sentinel/tests/units_sim_found.rs`.
//!
//! Enabled by the `sim` cargo feature; it is test support, not part of the client.

mod agenda;
pub mod driver;
pub mod failover;
pub mod faults;
pub mod invariants;
pub mod multi;
pub mod network;
pub mod node;
pub mod replication;
pub mod rng;
pub mod schedule;
pub mod segment;
pub mod sentinel;
pub mod session;
pub mod wire;
mod workload;
pub mod world;

pub use driver::{Client, Sim, SimConfig};
pub use failover::FailoverRecord;
pub use faults::{Fault, NodeSel};
pub use invariants::Report;
pub use network::{Delivery, Sent};
pub use rng::Rng;
pub use schedule::Schedule;
pub use world::{World, WorldSpec};
