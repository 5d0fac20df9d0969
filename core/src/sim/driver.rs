//! The driver loop on virtual time, the workload, and the invariants checked on every step.

use super::rng::Rng;
use super::schedule::Schedule;
use super::world::{Delivery, World, WorldSpec};
use crate::sentinel::{
    Addr, CommandError, Config, ConnId, Event, Input, Machine, Output, PeerKind, RequestId, Role,
};
use crate::{cmd, Cmd, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

/// The Sans-IO surface the simulator drives; implemented by [`Machine`].
pub trait Client {
    /// Queues a command.
    fn submit(&mut self, cmd: Cmd, now: Instant) -> RequestId;
    /// Feeds one fact.
    fn handle_input(&mut self, input: Input<'_>, now: Instant);
    /// The deadline passed.
    fn handle_timeout(&mut self, now: Instant);
    /// Next thing to do.
    fn poll_output(&mut self) -> Option<Output>;
    /// When to call `handle_timeout`.
    fn poll_timeout(&self) -> Option<Instant>;
}

impl Client for Machine {
    fn submit(&mut self, cmd: Cmd, now: Instant) -> RequestId {
        Machine::submit(self, cmd, now)
    }
    fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        Machine::handle_input(self, input, now)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Machine::handle_timeout(self, now)
    }
    fn poll_output(&mut self) -> Option<Output> {
        Machine::poll_output(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Machine::poll_timeout(self)
    }
}

/// Run parameters.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of everything random in the run.
    pub seed: u64,
    /// The deployment.
    pub spec: WorldSpec,
    /// How long commands are submitted.
    pub workload: Duration,
    /// Gap between submissions, drawn per command.
    pub interval: (Duration, Duration),
    /// Database the client uses (must match the client's configuration).
    pub db: u32,
    /// After a `+switch-master`, the client must report the new master (`MasterChanged` or
    /// `Ready`) within this much virtual time.
    pub failover_bound: Duration,
    /// Check `failover_bound` (off for clients configured for replicas).
    pub follow_master: bool,
    /// Assert zero acknowledged writes lost (only meaningful for strict schedules).
    pub check_acked: bool,
    /// Give up (and report unanswered requests) this long after workload and faults end.
    pub settle: Duration,
    /// Most driver steps before the run is declared stuck.
    pub max_steps: u64,
}

impl SimConfig {
    /// Defaults for `seed`: 20 s of commands every 5-40 ms on a 1+2 node, 3 sentinel world.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            spec: WorldSpec::default(),
            workload: Duration::from_secs(20),
            interval: (Duration::from_millis(5), Duration::from_millis(40)),
            db: 0,
            failover_bound: Duration::from_secs(15),
            follow_master: true,
            check_acked: true,
            settle: Duration::from_secs(60),
            max_steps: 2_000_000,
        }
    }
}

#[derive(Clone, Debug)]
enum Expect {
    IncrBy(u64),
    Echo(u64),
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

/// A [`Config`] for a machine talking to a world built from `spec`: its sentinels, service,
/// credentials and the run's database, with the backoff seeded from `seed`.
pub fn machine_config(spec: &WorldSpec, db: u32, seed: u64) -> Config {
    let sentinels = (0..spec.sentinels)
        .map(|i| Addr::new("127.0.0.1", 26379 + i as u16))
        .collect();
    let mut c = Config::new(sentinels, spec.service.clone());
    c.db = db;
    c.auth = spec.data_auth.clone();
    c.sentinel_auth = spec.sentinel_auth.clone();
    c.backoff.seed = seed;
    c
}

impl Sim<Machine> {
    /// A run of a [`Machine`] configured by [`machine_config`], after `adjust` edits the config.
    pub fn with_machine(
        cfg: SimConfig,
        schedule: Schedule,
        start: Instant,
        adjust: impl FnOnce(&mut Config),
    ) -> Sim<Machine> {
        let mut mc = machine_config(&cfg.spec, cfg.db, cfg.seed);
        adjust(&mut mc);
        let machine = Machine::new(mc, start);
        Sim::new(cfg, schedule, machine, start)
    }
}

/// One simulation run: a world, a client, a workload and the invariant checker.
pub struct Sim<C: Client> {
    /// The simulated deployment.
    pub world: World,
    /// The client under test.
    pub client: C,
    cfg: SimConfig,
    schedule: Schedule,
    start: Instant,
    now: Instant,
    rng: Rng,
    requests: BTreeMap<RequestId, Req>,
    kinds: BTreeMap<ConnId, PeerKind>,
    /// Nodes the client knows are not master: why, and whether it learned so from a failover.
    fenced: BTreeMap<Addr, (String, bool)>,
    learned: Vec<(Instant, Addr)>,
    checked_failovers: BTreeSet<usize>,
    next_submit: Option<Instant>,
    op_seq: u64,
    acked: Vec<(u64, Instant)>,
    aborted: bool,
    report: Report,
}

impl<C: Client> Sim<C> {
    /// A run of `client` against a fresh world built from `cfg`, starting at `start`, with the
    /// faults of `schedule`.
    pub fn new(cfg: SimConfig, schedule: Schedule, client: C, start: Instant) -> Sim<C> {
        let mut world = World::new(cfg.spec.clone(), cfg.seed, start);
        schedule.apply(&mut world, start);
        let mut rng = Rng::new(cfg.seed ^ 0x5151_5151_5151_5151);
        let first = start + rng.duration(cfg.interval.0, cfg.interval.1);
        let report = Report {
            seed: cfg.seed,
            strict: schedule.strict,
            ..Report::default()
        };
        Sim {
            world,
            client,
            cfg,
            schedule,
            start,
            now: start,
            rng,
            requests: BTreeMap::new(),
            kinds: BTreeMap::new(),
            fenced: BTreeMap::new(),
            learned: Vec::new(),
            checked_failovers: BTreeSet::new(),
            next_submit: Some(first),
            op_seq: 0,
            acked: Vec::new(),
            aborted: false,
            report,
        }
    }

    fn violation(&mut self, what: String) {
        let at = self.now.saturating_duration_since(self.start);
        self.report.violations.push(format!("at {at:?}: {what}"));
    }

    /// Runs to the end and returns the report (violations included, not asserted).
    pub fn run(mut self) -> Report {
        self.run_until(None);
        self.finish()
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Runs until virtual time `until` (or the natural end of the run, if earlier), so a test
    /// can act on the client mid-run (e.g. subscribe) and then call [`Sim::run`].
    pub fn run_to(&mut self, until: Instant) {
        self.run_until(Some(until));
    }

    fn run_until(&mut self, limit: Option<Instant>) {
        let work_end = self.start + self.cfg.workload;
        let quiet = (self.start + self.schedule.quiet_after()).max(work_end);
        let hard_end = quiet + self.cfg.settle;
        let end = limit.map_or(hard_end, |l| l.min(hard_end));
        let mut same_time = 0u32;
        loop {
            self.drain();
            if self.report.violations.len() > 20 {
                self.aborted = true;
                break;
            }
            let all_answered = self.requests.values().all(|r| r.answered);
            if self.now >= quiet && all_answered && !self.world.failover_in_progress() {
                break;
            }
            if self.now >= end {
                break;
            }
            let candidates = [
                self.world.next_event_at(),
                self.client.poll_timeout(),
                self.next_submit,
                Some(end),
            ];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            let next = next.max(self.now);
            if next == self.now {
                same_time += 1;
                if same_time > 100_000 {
                    let why = format!(
                        "livelock: 100000 steps without time advancing (client deadline {:?}, world event {:?}, now {:?})",
                        self.client.poll_timeout().map(|t| t.saturating_duration_since(self.start)),
                        self.world.next_event_at().map(|t| t.saturating_duration_since(self.start)),
                        self.now.saturating_duration_since(self.start)
                    );
                    self.violation(why);
                    break;
                }
            } else {
                same_time = 0;
            }
            self.now = next;
            self.report.steps += 1;
            if self.report.steps > self.cfg.max_steps {
                self.violation(format!("no end after {} steps", self.cfg.max_steps));
                break;
            }
            for d in self.world.advance(self.now) {
                self.deliver(d);
                self.drain();
            }
            if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
                self.client.handle_timeout(self.now);
                self.drain();
            }
            if self.next_submit.is_some_and(|t| t <= self.now) {
                self.submit_one();
                self.next_submit = if self.now < work_end {
                    Some(self.now + self.rng.duration(self.cfg.interval.0, self.cfg.interval.1))
                } else {
                    None
                };
                self.drain();
            }
            self.check_failover_bound(false);
        }
    }

    fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        match d {
            Delivery::Connected(c) => self.client.handle_input(Input::Connected(c), now),
            Delivery::ConnectFailed(c) => self.client.handle_input(Input::ConnectFailed(c), now),
            Delivery::Closed(c) => self.client.handle_input(Input::Closed(c), now),
            Delivery::Received {
                conn,
                bytes,
                reveals_not_master,
            } => {
                if let Some(addr) = reveals_not_master {
                    if self.kinds.get(&conn) == Some(&PeerKind::Data(Role::Master)) {
                        self.fenced
                            .entry(addr)
                            .or_insert_with(|| ("a -READONLY or ROLE-replica reply".into(), false));
                    }
                }
                self.client.handle_input(Input::Received(conn, &bytes), now)
            }
        }
    }

    fn submit_one(&mut self) {
        self.op_seq += 1;
        let i = self.op_seq;
        let roll = self.rng.below(100);
        let (c, expect) = if roll < 60 {
            (
                cmd("INCRBY").arg(format!("w:{i}")).arg(i),
                Expect::IncrBy(i),
            )
        } else if roll < 85 && i > 1 {
            let j = 1 + self.rng.below(i - 1);
            (cmd("GET").arg(format!("w:{j}")), Expect::Get(j))
        } else {
            (cmd("ECHO").arg(format!("e:{i}")), Expect::Echo(i))
        };
        let id = self.client.submit(c, self.now);
        self.report.submitted += 1;
        if self
            .requests
            .insert(
                id,
                Req {
                    expect,
                    answered: false,
                },
            )
            .is_some()
        {
            self.violation(format!("submit returned request id {id:?} twice"));
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.client.poll_output() {
            match self.world.on_output(&out) {
                Err(e) => self.violation(e),
                Ok(sent) => {
                    if let (Some(addr), Some(PeerKind::Data(Role::Master))) =
                        (&sent.addr, sent.kind)
                    {
                        if !sent.writes.is_empty() {
                            if let Some((why, _)) = self.fenced.get(addr) {
                                let msg = format!(
                                    "write {:?} sent to {addr} after the client learned it is not master (from {why})",
                                    sent.writes
                                );
                                self.violation(msg);
                            }
                        }
                    }
                }
            }
            match out {
                Output::Connect { conn, kind, addr } => {
                    if self.world.trace {
                        let at = self.now.saturating_duration_since(self.start);
                        eprintln!("connect {at:?}: {conn:?} {kind:?} {addr}");
                    }
                    self.kinds.insert(conn, kind);
                }
                Output::Reply { request, result } => self.on_reply(request, result),
                Output::Event(e) => self.on_event(e),
                Output::Message(m) => {
                    let text = String::from_utf8_lossy(&m.payload).into_owned();
                    self.report.messages.push(text);
                }
                _ => {}
            }
        }
    }

    fn on_event(&mut self, e: Event) {
        if self.world.trace {
            eprintln!(
                "event {:?}: {e:?}",
                self.now.saturating_duration_since(self.start)
            );
        }
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
                self.maybe_lift(&new);
                self.learned.push((self.now, new));
            }
            Event::Ready {
                addr,
                role: Role::Master,
            } => {
                self.maybe_lift(&addr);
                self.learned.push((self.now, addr));
            }
            _ => {}
        }
    }

    /// The client says `addr` is master again. When it had learned otherwise from a reply
    /// (`-READONLY`, `ROLE`), a fresh verification is enough if the node really is a master
    /// now. When it had learned so from a failover, `addr` must be the node a correct client
    /// may write to and not the master being replaced (a stale sentinel naming the old master
    /// does not count).
    fn maybe_lift(&mut self, addr: &Addr) {
        if let Some((_, from_failover)) = self.fenced.get(addr) {
            let ok = if *from_failover {
                addr == self.world.writable_master() && self.world.failing_over() != Some(addr)
            } else {
                self.world.node(addr).is_some_and(|n| n.is_master())
            };
            if ok {
                self.fenced.remove(addr);
            }
        }
    }

    fn on_reply(&mut self, id: RequestId, result: Result<Value, CommandError>) {
        let Some(req) = self.requests.get_mut(&id) else {
            return self.violation(format!("reply for unknown request {id:?}"));
        };
        if req.answered {
            return self.violation(format!("request {id:?} answered twice"));
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
                self.acked.push((*i, self.now));
                true
            }
            (Expect::Echo(i), Value::Bulk(b)) => b[..] == *format!("e:{i}").as_bytes(),
            (Expect::Get(_), Value::Null) => true,
            (Expect::Get(j), Value::Bulk(b)) => b[..] == *j.to_string().as_bytes(),
            _ => false,
        };
        if !fits {
            self.violation(format!(
                "request {id:?} ({expect:?}) got a reply that is not its own: {v:?}"
            ));
        }
    }

    fn check_failover_bound(&mut self, at_end: bool) {
        if !self.cfg.follow_master {
            return;
        }
        let bound = self.cfg.failover_bound;
        let records: Vec<(usize, Instant, Instant, Addr)> = self
            .world
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
                    self.violation(format!(
                        "reached new master {new} {:?} after +switch-master (bound {bound:?})",
                        t - switched
                    ));
                }
            } else if self.now > switched + bound || at_end {
                self.checked_failovers.insert(i);
                self.violation(format!(
                    "did not reach new master {new} within {bound:?} of +switch-master"
                ));
            }
        }
    }

    fn finish(mut self) -> Report {
        if !self.aborted {
            self.check_failover_bound(true);
        }
        let unanswered: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|(_, r)| !r.answered)
            .map(|(id, _)| *id)
            .collect();
        if !unanswered.is_empty() && !self.aborted {
            self.violation(format!(
                "{} request(s) never answered, first {:?}",
                unanswered.len(),
                &unanswered[..unanswered.len().min(5)]
            ));
        }
        let master = self.world.master().clone();
        let db = self.cfg.db;
        let mut lost = Vec::new();
        let mut doubled = Vec::new();
        if let Some(node) = self.world.node(&master) {
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
        if let Some(node) = self.world.node(&master) {
            for (i, t) in acked {
                let v = node.get(db, format!("w:{i}").as_bytes());
                if v.map(|b| &b[..]) != Some(i.to_string().as_bytes()) {
                    lost.push((i, t));
                }
            }
        }
        self.report.acked_lost = lost.len() as u64;
        if !doubled.is_empty() {
            self.violation(format!(
                "{} write(s) executed more than once, e.g. INCRBY w:{}",
                doubled.len(),
                doubled[0]
            ));
        }
        if self.cfg.check_acked && self.schedule.strict && !lost.is_empty() {
            let (i, t) = lost[0];
            let (j, u) = lost[lost.len() - 1];
            let key = format!("w:{i}");
            let holders: Vec<String> = self
                .world
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
                self.world
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
            self.violation(msg);
            if self.world.trace {
                for (t, a, c, line) in &self.world.trace_log {
                    if line.contains(&format!(" {key} ")) {
                        eprintln!("trace {:?} {a} {c:?}: {line}", since(*t));
                    }
                }
            }
        }
        self.report.failovers = self
            .world
            .failovers()
            .iter()
            .filter(|f| f.switched_at.is_some())
            .count();
        self.report.world_events = self.world.events_processed;
        self.report.virtual_time = self.now.saturating_duration_since(self.start);
        self.report
    }
}
