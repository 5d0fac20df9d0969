//! The invariants a run is checked against, and the [`Report`] of what it did and what broke.
//!
//! The `Checker` is told every fact the driver sees (requests submitted, outputs of the
//! client, what the world saw in them, replies and events) and records a violation when:
//! a write goes to a node after the client learned it is not master (from a `-READONLY` or
//! `ROLE` reply, or from its own failover events) and before it learned the node is master
//! again; a reply is not its request's own, comes for an unknown request or comes twice; a
//! request is never answered; a write executes more than once; the client does not report the
//! new master within a bound after `+switch-master`; or, under a strict schedule, an
//! acknowledged write is missing from the final master.

use super::driver::SimConfig;
use super::network::Sent;
use super::world::World;
use crate::sentinel::{Addr, CommandError, ConnId, Event, PeerKind, RequestId, Role};
use crate::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

/// What the reply to a workload command must be.
#[derive(Clone, Debug)]
pub(super) enum Expect {
    /// `INCRBY w:<i> <i>` on a fresh key: the integer `i`.
    IncrBy(u64),
    /// `ECHO e:<i>`: the same text.
    Echo(u64),
    /// `GET w:<j>`: `j` once that write happened, else null.
    Get(u64),
}

#[derive(Debug)]
struct Req {
    expect: Expect,
    answered: bool,
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
    /// Writes acknowledged with their expected value.
    pub acked_writes: u64,
    /// Acknowledged writes missing from the final master.
    pub acked_lost: u64,
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
            "seed {}: {} submitted, {} ok, {} server errors, {} client errors, {} acked writes, {} acked lost, {} failovers, {:?} to new master, {} steps, {:?} virtual",
            self.seed,
            self.submitted,
            self.ok,
            self.server_errors,
            self.client_errors,
            self.acked_writes,
            self.acked_lost,
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
    /// Acknowledged writes and when.
    acked: Vec<(u64, Instant)>,
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
            acked: Vec::new(),
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
        self.requests.values().all(|r| r.answered)
    }

    /// Counts a driver step; returns the steps so far.
    pub(super) fn count_step(&mut self) -> u64 {
        self.report.steps += 1;
        self.report.steps
    }

    /// The client accepted a command whose reply must be `expect` under id `id`.
    pub(super) fn submitted(&mut self, now: Instant, id: RequestId, expect: Expect) {
        self.report.submitted += 1;
        let req = Req {
            expect,
            answered: false,
        };
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
        if req.answered {
            return self.violation(now, format!("request {id:?} answered twice"));
        }
        req.answered = true;
        let expect = req.expect.clone();
        let v = match result {
            Err(_) => {
                self.report.client_errors += 1;
                return;
            }
            Ok(Value::Error(_)) => {
                self.report.server_errors += 1;
                return;
            }
            Ok(v) => v,
        };
        self.report.ok += 1;
        let fits = match (&expect, &v) {
            (Expect::IncrBy(i), Value::Integer(n)) if *n as u64 == *i => {
                self.report.acked_writes += 1;
                self.acked.push((*i, now));
                true
            }
            (Expect::Echo(i), Value::Bulk(b)) => b[..] == *format!("e:{i}").as_bytes(),
            (Expect::Get(_), Value::Null) => true,
            (Expect::Get(j), Value::Bulk(b)) => b[..] == *j.to_string().as_bytes(),
            _ => false,
        };
        if !fits {
            self.violation(
                now,
                format!("request {id:?} ({expect:?}) got a reply that is not its own: {v:?}"),
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
            .filter(|(_, r)| !r.answered)
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
        let master = world.master().clone();
        let db = cfg.db;
        let mut lost = Vec::new();
        let mut doubled = Vec::new();
        if let Some(node) = world.node(&master) {
            for r in self.requests.values() {
                if let Expect::IncrBy(i) = r.expect {
                    let v = node
                        .get(db, format!("w:{i}").as_bytes())
                        .and_then(|b| std::str::from_utf8(b).ok()?.parse::<u64>().ok());
                    if v.is_some_and(|v| v != i) {
                        doubled.push(i);
                    }
                }
            }
        }
        // Acknowledged writes: those whose reply was their own value.
        let acked = std::mem::take(&mut self.acked);
        if let Some(node) = world.node(&master) {
            for (i, t) in acked {
                let v = node.get(db, format!("w:{i}").as_bytes());
                if v.map(|b| &b[..]) != Some(i.to_string().as_bytes()) {
                    lost.push((i, t));
                }
            }
        }
        self.report.acked_lost = lost.len() as u64;
        if !doubled.is_empty() {
            self.violation(
                now,
                format!(
                    "{} write(s) executed more than once, e.g. INCRBY w:{}",
                    doubled.len(),
                    doubled[0]
                ),
            );
        }
        if cfg.check_acked && self.report.strict && !lost.is_empty() {
            self.lost_writes(now, world, db, &master, &lost);
        }
        self.report.failovers = world
            .failovers()
            .iter()
            .filter(|f| f.switched_at.is_some())
            .count();
        self.report.world_events = world.events_processed;
        self.report.virtual_time = now.saturating_duration_since(self.start);
        self.report
    }

    /// Records the loss of the acknowledged writes `lost` with what explains it: where the
    /// first one is now and the timeline of every failover (and, tracing, its commands).
    fn lost_writes(
        &mut self,
        now: Instant,
        world: &World,
        db: u32,
        master: &Addr,
        lost: &[(u64, Instant)],
    ) {
        let (i, t) = lost[0];
        let (j, u) = lost[lost.len() - 1];
        let key = format!("w:{i}");
        let holders: Vec<String> = world
            .nodes()
            .iter()
            .filter(|n| n.get(db, key.as_bytes()).is_some())
            .map(|n| n.addr.to_string())
            .collect();
        let start = self.start;
        let since = move |t: Instant| t.saturating_duration_since(start);
        let msg = format!(
            "{} acknowledged write(s) missing from final master {master}: w:{i} acked at {:?} (now on {holders:?}) .. w:{j} acked at {:?}; failovers: {:?}",
            lost.len(),
            since(t),
            since(u),
            world
                .failovers()
                .iter()
                .map(|f| format!(
                    "{} -> {:?} started {:?} selected {:?} switched {:?} demoted {:?}",
                    f.old,
                    f.new.as_ref().map(|a| a.port),
                    since(f.started),
                    f.selected_at.map(since),
                    f.switched_at.map(since),
                    f.demoted_at.map(since)
                ))
                .collect::<Vec<_>>()
        );
        self.violation(now, msg);
        if world.trace {
            for (t, a, c, line) in &world.trace_log {
                if line.contains(&format!(" {key} ")) {
                    eprintln!("trace {:?} {a} {c:?}: {line}", since(*t));
                }
            }
        }
    }
}
