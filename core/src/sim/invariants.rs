//! The invariants a run is checked against, and the [`Report`] of what it did and what broke.
//!
//! The `Checker` is told every fact the driver sees (units submitted, outputs of the client,
//! what the world saw in them, replies and events) and records a violation when:
//! - a write, or an `EXEC`, goes to a node after the client learned it is not master (from a
//!   `-READONLY` or `ROLE` reply, or from its own failover events) and before it learned the
//!   node is master again (the fence);
//! - a reply is not its unit's own, comes for an unknown request or comes twice, or a unit is
//!   never answered: every unit (one command, a pipeline, a transaction) is answered once;
//! - the client does not report the new master within a bound after `+switch-master`.
//!
//! At the end, what the data nodes ran (each node counts the client writes it executed, per
//! key, including those a later resync discarded) is held against the answers (see the
//! private `ledger` module): no write runs twice; a write whose answer says it never ran (an
//! error reply, or a client error the machine gives only to work it never wrote) ran nowhere;
//! a pipeline ran a prefix of its writes; a transaction is all-or-nothing on every node, and
//! the pair of counters only transactions touch is equal on every node; and, under a strict
//! schedule, acknowledged writes (single, pipelined, or in an acknowledged `EXEC`) are on the
//! final master.

use super::driver::SimConfig;
use super::network::Sent;
use super::workload::{judge, Fate, Unit};
use super::world::World;
use crate::sentinel::{Addr, CommandError, ConnId, Event, PeerKind, RequestId, Role};
use crate::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

mod ledger;
#[cfg(test)]
mod tests;

#[derive(Debug)]
struct Req {
    unit: Unit,
    /// When it was answered, and what the answer says of each of its writes.
    answer: Option<(Instant, Vec<Fate>)>,
}

/// What a run did and what went wrong; [`Report::assert_ok`] fails with the seed.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Seed of the run.
    pub seed: u64,
    /// Commands submitted.
    pub submitted: u64,
    /// Replies that were a value (not an error).
    pub ok: u64,
    /// Replies that were a server error (`Ok(Value::Error)`).
    pub server_errors: u64,
    /// Replies that were a client error (`Err(CommandError)`).
    pub client_errors: u64,
    /// Writes acknowledged with their expected value (singles, pipelined, and the two of each
    /// acknowledged transaction).
    pub acked_writes: u64,
    /// Acknowledged writes missing from the final master.
    pub acked_lost: u64,
    /// Pipelines submitted.
    pub batches: u64,
    /// Pipelines whose every write was acknowledged.
    pub acked_batches: u64,
    /// Transactions submitted (poisoned ones included).
    pub transactions: u64,
    /// Transactions whose `EXEC` was acknowledged.
    pub acked_transactions: u64,
    /// Transactions answered with an error reply (discarded: nothing ran).
    pub refused_transactions: u64,
    /// Pipelines and transactions that failed after they may have been written (connection
    /// lost, timed out): checked all-or-nothing (transactions) or prefix-only (pipelines).
    pub units_in_doubt: u64,
    /// Writes whose answer says they never ran, checked to have run nowhere.
    pub proven_not_run: u64,
    /// `EXEC`s a node discarded while it was a replica (refused writes at queue time): each
    /// such transaction must be re-sent whole or answered with the refusal, never half-run.
    pub discarded_by_replicas: u64,
    /// Failovers that reached `+switch-master`.
    pub failovers: usize,
    /// Virtual time from each `+switch-master` to the client reporting the new master.
    pub time_to_new_master: Vec<Duration>,
    /// Driver steps.
    pub steps: u64,
    /// World events processed.
    pub world_events: u64,
    /// Virtual duration of the run.
    pub virtual_time: Duration,
    /// Whether the schedule was strict (acked loss attributable to the client).
    pub strict: bool,
    /// Payloads of the pub/sub messages delivered to the caller, as text, in order.
    pub messages: Vec<String>,
    /// Invariant violations, in order.
    pub violations: Vec<String>,
}

impl Report {
    /// Panics with the seed and every violation if any invariant failed.
    pub fn assert_ok(&self) {
        assert!(
            self.violations.is_empty(),
            "seed {}: {} violation(s):\n  {}\nreplay with SIM_SEED={}",
            self.seed,
            self.violations.len(),
            self.violations.join("\n  "),
            self.seed
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {} submitted, {} ok, {} server errors, {} client errors, {} acked writes, {} acked lost, {} batches ({} acked), {} transactions ({} acked, {} refused), {} units in doubt, {} writes proven not run, {} EXECs discarded by replicas, {} failovers, {:?} to new master, {} steps, {:?} virtual",
            self.seed,
            self.submitted,
            self.ok,
            self.server_errors,
            self.client_errors,
            self.acked_writes,
            self.acked_lost,
            self.batches,
            self.acked_batches,
            self.transactions,
            self.acked_transactions,
            self.refused_transactions,
            self.units_in_doubt,
            self.proven_not_run,
            self.discarded_by_replicas,
            self.failovers,
            self.time_to_new_master,
            self.steps,
            self.virtual_time
        )
    }
}

/// The invariant checker of one run; it fills the run's [`Report`].
pub(super) struct Checker {
    start: Instant,
    requests: BTreeMap<RequestId, Req>,
    kinds: BTreeMap<ConnId, PeerKind>,
    /// Nodes the client knows are not master: why, and whether it learned so from a failover.
    fenced: BTreeMap<Addr, (String, bool)>,
    /// When the client reported each master.
    learned: Vec<(Instant, Addr)>,
    checked_failovers: BTreeSet<usize>,
    report: Report,
}

impl Checker {
    /// A checker for the run of `seed` that starts at `start` under a schedule that is
    /// `strict` or not.
    pub(super) fn new(seed: u64, strict: bool, start: Instant) -> Checker {
        Checker {
            start,
            requests: BTreeMap::new(),
            kinds: BTreeMap::new(),
            fenced: BTreeMap::new(),
            learned: Vec::new(),
            checked_failovers: BTreeSet::new(),
            report: Report {
                seed,
                strict,
                ..Report::default()
            },
        }
    }

    /// Records a violation at `now`.
    pub(super) fn violation(&mut self, now: Instant, what: String) {
        let at = now.saturating_duration_since(self.start);
        self.report.violations.push(format!("at {at:?}: {what}"));
    }

    /// Violations so far.
    pub(super) fn violations(&self) -> usize {
        self.report.violations.len()
    }

    /// True when every submitted request has been answered.
    pub(super) fn all_answered(&self) -> bool {
        self.requests.values().all(|r| r.answer.is_some())
    }

    /// Counts a driver step; returns the steps so far.
    pub(super) fn count_step(&mut self) -> u64 {
        self.report.steps += 1;
        self.report.steps
    }

    /// The client accepted `unit` under id `id`.
    pub(super) fn submitted(&mut self, now: Instant, id: RequestId, unit: Unit) {
        self.report.submitted += 1;
        match unit {
            Unit::One(_) => {}
            Unit::Batch(_) => self.report.batches += 1,
            Unit::Transaction(_) | Unit::Poisoned(_) => self.report.transactions += 1,
            Unit::Subscription => self.report.submitted -= 1,
        }
        let req = Req { unit, answer: None };
        if self.requests.insert(id, req).is_some() {
            self.violation(now, format!("submit returned request id {id:?} twice"));
        }
    }

    /// The client opens `conn` for `kind`.
    pub(super) fn connecting(&mut self, conn: ConnId, kind: PeerKind) {
        self.kinds.insert(conn, kind);
    }

    /// Bytes arriving on `conn` reveal that the node at `addr` is not a master: from now on
    /// the client knows, if it used the connection as one.
    pub(super) fn revealed(&mut self, conn: ConnId, addr: Addr) {
        if self.kinds.get(&conn) == Some(&PeerKind::Data(Role::Master)) {
            self.fenced
                .entry(addr)
                .or_insert_with(|| ("a -READONLY or ROLE-replica reply".into(), false));
        }
    }

    /// The client transmitted `sent`: writes must not go to a node it knows is not master.
    pub(super) fn sent(&mut self, now: Instant, sent: &Sent) {
        if let (Some(addr), Some(PeerKind::Data(Role::Master))) = (&sent.addr, sent.kind) {
            if !sent.writes.is_empty() {
                if let Some((why, _)) = self.fenced.get(addr) {
                    let msg = format!(
                        "write {:?} sent to {addr} after the client learned it is not master (from {why})",
                        sent.writes
                    );
                    self.violation(now, msg);
                }
            }
        }
    }

    /// A pub/sub message reached the caller.
    pub(super) fn message(&mut self, text: String) {
        self.report.messages.push(text);
    }

    /// The client reported `e` at `now`.
    pub(super) fn event(&mut self, now: Instant, e: Event, world: &World) {
        match e {
            Event::FenceRaised { old, reason } => {
                self.fenced
                    .entry(old)
                    .or_insert_with(|| (format!("its own FenceRaised ({reason})"), true));
            }
            Event::MasterChanged { old, new } => {
                if let Some(old) = old.filter(|o| *o != new) {
                    self.fenced
                        .entry(old)
                        .or_insert_with(|| ("its own MasterChanged".into(), true));
                }
                self.maybe_lift(&new, world);
                self.learned.push((now, new));
            }
            Event::Ready {
                addr,
                role: Role::Master,
                ..
            } => {
                self.maybe_lift(&addr, world);
                self.learned.push((now, addr));
            }
            _ => {}
        }
    }

    /// The client says `addr` is master again. When it had learned otherwise from a reply
    /// (`-READONLY`, `ROLE`), a fresh verification is enough if the node really is a master
    /// now. When it had learned so from a failover, `addr` must be the node a correct client
    /// may write to and not the master being replaced (a stale sentinel naming the old master
    /// does not count).
    fn maybe_lift(&mut self, addr: &Addr, world: &World) {
        if let Some((_, from_failover)) = self.fenced.get(addr) {
            let ok = if *from_failover {
                addr == world.writable_master() && world.failing_over() != Some(addr)
            } else {
                world.node(addr).is_some_and(|n| n.is_master())
            };
            if ok {
                self.fenced.remove(addr);
            }
        }
    }

    /// The reply to request `id` arrived at `now`.
    pub(super) fn reply(
        &mut self,
        now: Instant,
        id: RequestId,
        result: Result<Value, CommandError>,
    ) {
        let Some(req) = self.requests.get_mut(&id) else {
            return self.violation(now, format!("reply for unknown request {id:?}"));
        };
        if req.answer.is_some() {
            return self.violation(now, format!("request {id:?} answered twice"));
        }
        let verdict = judge(&req.unit, &result);
        let acked = verdict.fates.iter().filter(|f| **f == Fate::Acked).count();
        let all_acked = acked == verdict.fates.len() && acked > 0;
        req.answer = Some((now, verdict.fates));
        let unit = req.unit.clone();
        let r = &mut self.report;
        r.acked_writes += acked as u64;
        match &result {
            Err(_) => {
                r.client_errors += 1;
                let in_doubt = matches!(
                    result,
                    Err(CommandError::ConnectionLost { sent: true } | CommandError::Timeout)
                );
                if unit.is_unit_of_work() && in_doubt {
                    r.units_in_doubt += 1;
                }
            }
            Ok(Value::Error(_)) => {
                r.server_errors += 1;
                if matches!(unit, Unit::Transaction(_) | Unit::Poisoned(_)) {
                    r.refused_transactions += 1;
                }
            }
            Ok(_) => {
                r.ok += 1;
                match unit {
                    Unit::Batch(_) if all_acked => r.acked_batches += 1,
                    Unit::Transaction(_) if all_acked => r.acked_transactions += 1,
                    _ => {}
                }
            }
        }
        if let Some(why) = verdict.wrong {
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            };
            self.violation(
                now,
                format!(
                    "request {id:?} ({unit:?}) got a reply that is not its own{why}: {result:?}"
                ),
            );
        }
    }

    /// Checks that the client reported the new master of each failover within `bound` of its
    /// `+switch-master`; `at_end`, failovers not reached yet fail.
    pub(super) fn failover_bound(
        &mut self,
        now: Instant,
        world: &World,
        bound: Duration,
        at_end: bool,
    ) {
        let records: Vec<(usize, Instant, Instant, Addr)> = world
            .failovers()
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i, f.started, f.switched_at?, f.new.clone()?)))
            .collect();
        for (k, &(i, started, switched, ref new)) in records.iter().enumerate() {
            if self.checked_failovers.contains(&i) {
                continue;
            }
            // Reaching the master of a later failover also counts: this one's may be gone.
            let targets: Vec<&Addr> = records[k..].iter().map(|r| &r.3).collect();
            let reached = self
                .learned
                .iter()
                .find(|(t, a)| *t >= started && targets.contains(&a))
                .map(|(t, _)| *t);
            if let Some(t) = reached {
                self.checked_failovers.insert(i);
                self.report
                    .time_to_new_master
                    .push(t.saturating_duration_since(switched));
                if t > switched + bound {
                    self.violation(
                        now,
                        format!(
                            "reached new master {new} {:?} after +switch-master (bound {bound:?})",
                            t - switched
                        ),
                    );
                }
            } else if now > switched + bound || at_end {
                self.checked_failovers.insert(i);
                self.violation(
                    now,
                    format!("did not reach new master {new} within {bound:?} of +switch-master"),
                );
            }
        }
    }

    /// The end-of-run checks (skipping those that need a complete run when it was `aborted`),
    /// then the report.
    pub(super) fn finish(
        mut self,
        now: Instant,
        world: &World,
        cfg: &SimConfig,
        aborted: bool,
    ) -> Report {
        if !aborted && cfg.follow_master {
            self.failover_bound(now, world, cfg.failover_bound, true);
        }
        let unanswered: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|(_, r)| r.answer.is_none())
            .map(|(id, _)| *id)
            .collect();
        if !unanswered.is_empty() && !aborted {
            self.violation(
                now,
                format!(
                    "{} request(s) never answered, first {:?}",
                    unanswered.len(),
                    &unanswered[..unanswered.len().min(5)]
                ),
            );
        }
        self.check_data(now, world, cfg);
        self.report.failovers = world
            .failovers()
            .iter()
            .filter(|f| f.switched_at.is_some())
            .count();
        self.report.discarded_by_replicas =
            world.nodes().iter().map(|n| n.discarded_as_replica).sum();
        self.report.world_events = world.events_processed;
        self.report.virtual_time = now.saturating_duration_since(self.start);
        self.report
    }
}
