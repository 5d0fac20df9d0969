//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (cargo feature `metrics`).
//!
//! Every client driver (blocking, tokio, async-std, smol alike) records into the recorder
//! the application installs (`metrics::set_global_recorder`, or an exporter's `install`).
//! The handles are registered when the client is made ([`Sentinel::master_for`],
//! [`Sentinel::replica_for`]), with the recorder in effect on that thread then: install the
//! recorder first, or a client made before it records nothing. A local recorder
//! (`metrics::with_local_recorder` around `master_for`) works too, which is how the tests
//! read one client's metrics. One-shot discoveries (`discover_master`, `discover_replicas`)
//! record nothing. [`describe`] registers a description and unit for every name below.
//!
//! # Labels
//!
//! Every metric carries `service` (the monitored master's name, [`Config::service`]) and
//! `role` (`master` or `replica`: which kind of client). Some carry one more label whose
//! values are the fixed sets listed below. Nothing carries an address, a key, a command name,
//! an error text or a credential, so the number of series is bounded by the number of
//! clients an application makes.
//!
//! # Metrics
//!
//! | name | type | extra label | meaning |
//! | --- | --- | --- | --- |
//! | `resp_sentinel_commands_total` | counter | `outcome` | units of work answered: a command, a pipeline or a transaction counts once. `outcome` is `ok` (a reply), `server_error` (an error reply such as `WRONGTYPE`), or one of the failure kinds below |
//! | `resp_sentinel_errors_total` | counter | `kind` | failures: every command failure by kind, plus `connect`, `tls` and `event` (below) |
//! | `resp_sentinel_connects_total` | counter | | connections opened to data nodes (the first one included): [`Event::Connecting`] |
//! | `resp_sentinel_reconnects_total` | counter | | waits before another attempt to find or reach a node: [`Event::Reconnecting`] |
//! | `resp_sentinel_failovers_total` | counter | | the master moved to another address: [`Event::MasterChanged`] with a previous master |
//! | `resp_sentinel_fence_raised_total` | counter | | a failover of our master started; writes are held: [`Event::FenceRaised`] |
//! | `resp_sentinel_fence_held_total` | counter | | the fence is still up after another `fence_max_hold`: [`Event::FenceHeld`] |
//! | `resp_sentinel_fence_lifted_total` | counter | | the fence came down without a new master (failover aborted): [`Event::FenceLifted`] |
//! | `resp_sentinel_queued_commands` | gauge | | commands waiting to be sent, fenced or not |
//! | `resp_sentinel_fenced_commands` | gauge | | commands held by the failover fence: the waiting commands while it is up, 0 otherwise |
//! | `resp_sentinel_command_duration_seconds` | histogram | `outcome` | from the driver taking a unit of work to its answer. `outcome` is `replied` (the server answered, error replies included) or `failed` (no reply: one of the failure kinds) |
//! | `resp_sentinel_fence_hold_seconds` | histogram | `outcome` | how long the fence was up. `outcome` is `new_master` (a new master was verified) or `lifted` (it came down without one) |
//! | `resp_sentinel_failover_seconds` | histogram | | from the fence going up (the first sentinel notice of the failover) to the new master verified with `ROLE` and carrying commands |
//!
//! Failure kinds (`outcome` of `resp_sentinel_commands_total`, `kind` of
//! `resp_sentinel_errors_total`), one per [`CommandError`] variant: `timeout`,
//! `connection_lost_sent` (it may have run), `connection_lost_unsent`, `fence_timeout`,
//! `queue_full`, `master_not_found`, `replica_not_found`, `auth`, `protocol`, `closed`,
//! `rejected`, `unavailable`, `dedicated_ended`, and `other` for a variant added later.
//! `resp_sentinel_errors_total` also counts, with kinds of their own: `connect` (a connection
//! to a sentinel or a node could not be opened), `tls` (a TLS handshake failed, or the
//! server ended a TLS connection with an alert) and `event` (an [`Event::Error`]: something
//! failed and the client recovers by itself, e.g. a node that answered `LOADING`). Those three
//! overlap with each other (a refused connection to a node is also reported as an event), so
//! sum command kinds only.
//!
//! [`Sentinel::master_for`]: crate::Sentinel::master_for
//! [`Sentinel::replica_for`]: crate::Sentinel::replica_for
//! [`Config::service`]: crate::core::sentinel::Config::service
//! [`CommandError`]: crate::core::sentinel::CommandError

use crate::driver::Driven;
use metrics::{Counter, Gauge, Histogram, Label, Unit};
use resp_sentinel_core::sentinel::{CommandError, Event, Machine, RequestId, Role};
use resp_sentinel_core::Value;
use std::collections::HashMap;
use std::time::Instant;

/// Counter: units of work answered, by `outcome`.
pub const COMMANDS_TOTAL: &str = "resp_sentinel_commands_total";
/// Counter: failures, by `kind`.
pub const ERRORS_TOTAL: &str = "resp_sentinel_errors_total";
/// Counter: connections opened to data nodes.
pub const CONNECTS_TOTAL: &str = "resp_sentinel_connects_total";
/// Counter: waits before another attempt to find or reach a node.
pub const RECONNECTS_TOTAL: &str = "resp_sentinel_reconnects_total";
/// Counter: the master moved to another address.
pub const FAILOVERS_TOTAL: &str = "resp_sentinel_failovers_total";
/// Counter: the failover fence went up.
pub const FENCE_RAISED_TOTAL: &str = "resp_sentinel_fence_raised_total";
/// Counter: the fence is still up after another `fence_max_hold`.
pub const FENCE_HELD_TOTAL: &str = "resp_sentinel_fence_held_total";
/// Counter: the fence came down without a new master.
pub const FENCE_LIFTED_TOTAL: &str = "resp_sentinel_fence_lifted_total";
/// Gauge: commands waiting to be sent.
pub const QUEUED_COMMANDS: &str = "resp_sentinel_queued_commands";
/// Gauge: commands held by the failover fence (0 while it is down).
pub const FENCED_COMMANDS: &str = "resp_sentinel_fenced_commands";
/// Histogram: seconds from taking a unit of work to its answer, by `outcome`.
pub const COMMAND_DURATION_SECONDS: &str = "resp_sentinel_command_duration_seconds";
/// Histogram: seconds the fence was up, by `outcome`.
pub const FENCE_HOLD_SECONDS: &str = "resp_sentinel_fence_hold_seconds";
/// Histogram: seconds from the fence going up to the new master carrying commands.
pub const FAILOVER_SECONDS: &str = "resp_sentinel_failover_seconds";

/// Every failure kind, in [`CommandError`]'s order, then `other`.
const FAILURE_KINDS: [&str; 14] = [
    "timeout",
    "connection_lost_sent",
    "connection_lost_unsent",
    "fence_timeout",
    "queue_full",
    "master_not_found",
    "replica_not_found",
    "auth",
    "protocol",
    "closed",
    "rejected",
    "unavailable",
    "dedicated_ended",
    "other",
];

/// Kinds of `resp_sentinel_errors_total` that are not command failures.
const OTHER_ERROR_KINDS: [&str; 3] = ["connect", "tls", "event"];

/// Registers a description and unit for every metric of this module with the recorder in
/// effect (exporters show them, e.g. as Prometheus `# HELP` lines). Optional.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        COMMANDS_TOTAL,
        Unit::Count,
        "Units of work (command, pipeline, transaction) answered, by outcome"
    );
    describe_counter!(ERRORS_TOTAL, Unit::Count, "Failures, by kind");
    describe_counter!(
        CONNECTS_TOTAL,
        Unit::Count,
        "Connections opened to data nodes"
    );
    describe_counter!(
        RECONNECTS_TOTAL,
        Unit::Count,
        "Waits before another attempt to find or reach a node"
    );
    describe_counter!(
        FAILOVERS_TOTAL,
        Unit::Count,
        "Times the master moved to another address"
    );
    describe_counter!(
        FENCE_RAISED_TOTAL,
        Unit::Count,
        "Times a failover of the master started and writes were held"
    );
    describe_counter!(
        FENCE_HELD_TOTAL,
        Unit::Count,
        "Times the fence was still up after another fence_max_hold"
    );
    describe_counter!(
        FENCE_LIFTED_TOTAL,
        Unit::Count,
        "Times the fence came down without a new master"
    );
    describe_gauge!(QUEUED_COMMANDS, Unit::Count, "Commands waiting to be sent");
    describe_gauge!(
        FENCED_COMMANDS,
        Unit::Count,
        "Commands held by the failover fence"
    );
    describe_histogram!(
        COMMAND_DURATION_SECONDS,
        Unit::Seconds,
        "Time from taking a unit of work to its answer"
    );
    describe_histogram!(
        FENCE_HOLD_SECONDS,
        Unit::Seconds,
        "Time the failover fence was up"
    );
    describe_histogram!(
        FAILOVER_SECONDS,
        Unit::Seconds,
        "Time from the fence going up to the new master carrying commands"
    );
}

/// The failure kind of a command error (one of [`FAILURE_KINDS`]).
fn failure_kind(e: &CommandError) -> &'static str {
    match e {
        CommandError::Timeout => "timeout",
        CommandError::ConnectionLost { sent: true } => "connection_lost_sent",
        CommandError::ConnectionLost { sent: false } => "connection_lost_unsent",
        CommandError::FenceTimeout => "fence_timeout",
        CommandError::QueueFull => "queue_full",
        CommandError::MasterNotFound(_) => "master_not_found",
        CommandError::ReplicaNotFound(_) => "replica_not_found",
        CommandError::Auth(_) => "auth",
        CommandError::Protocol(_) => "protocol",
        CommandError::Closed => "closed",
        CommandError::Rejected(_) => "rejected",
        CommandError::Unavailable(_) => "unavailable",
        CommandError::DedicatedEnded(_) => "dedicated_ended",
        _ => "other",
    }
}

/// A counter per label value, registered up front.
struct ByLabel(Vec<(&'static str, Counter)>);

impl ByLabel {
    fn new(
        name: &'static str,
        base: &[Label],
        label: &'static str,
        values: &[&'static str],
    ) -> Self {
        ByLabel(
            values
                .iter()
                .map(|v| (*v, metrics::counter!(name, with(base, label, v))))
                .collect(),
        )
    }

    fn increment(&self, value: &str) {
        if let Some((_, c)) = self.0.iter().find(|(v, _)| *v == value) {
            c.increment(1);
        }
    }
}

/// `base` plus one label.
fn with(base: &[Label], key: &'static str, value: &'static str) -> Vec<Label> {
    let mut labels = base.to_vec();
    labels.push(Label::new(key, value));
    labels
}

/// One client's handles, and what it measures durations from.
struct Handles {
    commands: ByLabel,
    errors: ByLabel,
    connects: Counter,
    reconnects: Counter,
    failovers: Counter,
    fence_raised: Counter,
    fence_held: Counter,
    fence_lifted: Counter,
    queued: Gauge,
    fenced: Gauge,
    replied: Histogram,
    failed: Histogram,
    hold_new_master: Histogram,
    hold_lifted: Histogram,
    failover: Histogram,
    /// When each unit of work in flight was taken.
    started: HashMap<RequestId, Instant>,
    /// When the fence went up, while it is.
    fence_since: Option<Instant>,
    /// The gauges' last values (set only when they change).
    last_queue: (usize, usize),
}

impl Handles {
    fn new(service: &str, role: Role) -> Handles {
        let role = match role {
            Role::Master => "master",
            Role::Replica => "replica",
        };
        let base = vec![
            Label::new("service", service.to_owned()),
            Label::new("role", role),
        ];
        let mut outcomes = vec!["ok", "server_error"];
        outcomes.extend(FAILURE_KINDS);
        let mut kinds = FAILURE_KINDS.to_vec();
        kinds.extend(OTHER_ERROR_KINDS);
        let counter = |name: &'static str| metrics::counter!(name, base.clone());
        let histogram = |name: &'static str, v: &'static str| {
            metrics::histogram!(name, with(&base, "outcome", v))
        };
        Handles {
            commands: ByLabel::new(COMMANDS_TOTAL, &base, "outcome", &outcomes),
            errors: ByLabel::new(ERRORS_TOTAL, &base, "kind", &kinds),
            connects: counter(CONNECTS_TOTAL),
            reconnects: counter(RECONNECTS_TOTAL),
            failovers: counter(FAILOVERS_TOTAL),
            fence_raised: counter(FENCE_RAISED_TOTAL),
            fence_held: counter(FENCE_HELD_TOTAL),
            fence_lifted: counter(FENCE_LIFTED_TOTAL),
            queued: metrics::gauge!(QUEUED_COMMANDS, base.clone()),
            fenced: metrics::gauge!(FENCED_COMMANDS, base.clone()),
            replied: histogram(COMMAND_DURATION_SECONDS, "replied"),
            failed: histogram(COMMAND_DURATION_SECONDS, "failed"),
            hold_new_master: histogram(FENCE_HOLD_SECONDS, "new_master"),
            hold_lifted: histogram(FENCE_HOLD_SECONDS, "lifted"),
            failover: metrics::histogram!(FAILOVER_SECONDS, base.clone()),
            started: HashMap::new(),
            fence_since: None,
            last_queue: (0, 0),
        }
    }
}

/// What the driver records; empty for a one-shot discovery.
pub(crate) struct Metrics(Option<Box<Handles>>);

impl Metrics {
    /// Handles for `driven`, registered with the recorder in effect on this thread.
    pub(crate) fn new(driven: &Driven) -> Metrics {
        match driven {
            Driven::Client(m) => Metrics::for_client(&m.config().service, m.config().role),
            Driven::Discovery(..) | Driven::Hub(_) => Metrics(None),
        }
    }

    /// Handles for a client of `service` in `role`.
    fn for_client(service: &str, role: Role) -> Metrics {
        Metrics(Some(Box::new(Handles::new(service, role))))
    }

    /// The driver took unit of work `id` at `now`.
    pub(crate) fn submitted(&mut self, id: RequestId, now: Instant) {
        if let Some(h) = &mut self.0 {
            h.started.insert(id, now);
        }
    }

    /// Unit of work `id` was answered with `result`.
    pub(crate) fn replied(&mut self, id: RequestId, result: &Result<Value, CommandError>) {
        let Some(h) = &mut self.0 else { return };
        let took = h.started.remove(&id).map(|t| t.elapsed().as_secs_f64());
        match result {
            Ok(Value::Error(_) | Value::BlobError(_)) => {
                h.commands.increment("server_error");
                if let Some(s) = took {
                    h.replied.record(s);
                }
            }
            Ok(_) => {
                h.commands.increment("ok");
                if let Some(s) = took {
                    h.replied.record(s);
                }
            }
            Err(e) => {
                let kind = failure_kind(e);
                h.commands.increment(kind);
                h.errors.increment(kind);
                if let Some(s) = took {
                    h.failed.record(s);
                }
            }
        }
    }

    /// A connection could not be opened (`tls`: its TLS handshake failed, or an open TLS
    /// connection ended with an alert).
    pub(crate) fn connect_failed(&mut self, tls: bool) {
        if let Some(h) = &self.0 {
            h.errors.increment(if tls { "tls" } else { "connect" });
        }
    }

    /// The machine reported `event` (just now).
    pub(crate) fn event(&mut self, event: &Event) {
        let Some(h) = &mut self.0 else { return };
        let now = Instant::now();
        match event {
            Event::Connecting { .. } => h.connects.increment(1),
            Event::Error(_) => h.errors.increment("event"),
            Event::Reconnecting { .. } => h.reconnects.increment(1),
            Event::FenceRaised { .. } => {
                h.fence_raised.increment(1);
                h.fence_since.get_or_insert(now);
            }
            Event::FenceHeld { .. } => h.fence_held.increment(1),
            Event::FenceLifted { held, .. } => {
                h.fence_lifted.increment(1);
                h.fence_since = None;
                h.hold_lifted.record(held.as_secs_f64());
            }
            Event::MasterChanged { old: Some(_), .. } => {
                h.failovers.increment(1);
                if let Some(since) = h.fence_since.take() {
                    let took = now.saturating_duration_since(since).as_secs_f64();
                    h.hold_new_master.record(took);
                    h.failover.record(took);
                }
            }
            _ => {}
        }
    }

    /// Samples the machine's queues (after a flush).
    pub(crate) fn queues(&mut self, m: &Machine) {
        let Some(h) = &mut self.0 else { return };
        let queued = m.queued();
        let now = (queued, if m.is_fenced() { queued } else { 0 });
        if now != h.last_queue {
            h.queued.set(now.0 as f64);
            h.fenced.set(now.1 as f64);
            h.last_queue = now;
        }
    }
}

#[cfg(test)]
mod tests;
