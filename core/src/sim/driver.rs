//! The driver: the loop on virtual time that runs a [`Client`] against a [`World`], moving the
//! client's outputs into the world and the world's deliveries, timeouts and the workload's
//! commands into the client, and telling the `Checker` every fact so it can check the
//! invariants (see [`invariants`](super::invariants)) on every step.

use super::invariants::{Checker, Report};
use super::network::Delivery;
use super::rng::Rng;
use super::schedule::Schedule;
use super::workload::{self, Submission};
use super::world::{World, WorldSpec};
use crate::sentinel::{Addr, Config, Event, Input, Machine, Output, RequestId, SubmitOptions};
use crate::Cmd;
use std::time::{Duration, Instant};

/// The Sans-IO surface the simulator drives; implemented by [`Machine`].
pub trait Client {
    /// Queues a command.
    fn submit(&mut self, cmd: Cmd, now: Instant) -> RequestId;
    /// Queues a pipeline: answered once, with the array of its commands' replies.
    fn submit_batch(&mut self, cmds: Vec<Cmd>, now: Instant) -> RequestId;
    /// Queues a transaction (`MULTI`, `cmds`, `EXEC`): answered once, with `EXEC`'s reply (or
    /// the first error of a transaction the server discarded).
    fn submit_transaction(&mut self, cmds: Vec<Cmd>, now: Instant) -> RequestId;
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
    fn submit_batch(&mut self, cmds: Vec<Cmd>, now: Instant) -> RequestId {
        Machine::submit_batch(self, cmds, SubmitOptions::default(), now)
    }
    fn submit_transaction(&mut self, cmds: Vec<Cmd>, now: Instant) -> RequestId {
        Machine::submit_transaction(self, cmds, SubmitOptions::default(), now)
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
    /// Draws the workload: gaps between submissions and what each submits.
    rng: Rng,
    check: Checker,
    next_submit: Option<Instant>,
    op_seq: u64,
    /// True when the run stopped early on too many violations.
    aborted: bool,
}

impl<C: Client> Sim<C> {
    /// A run of `client` against a fresh world built from `cfg`, starting at `start`, with the
    /// faults of `schedule`.
    pub fn new(cfg: SimConfig, schedule: Schedule, client: C, start: Instant) -> Sim<C> {
        let mut world = World::new(cfg.spec.clone(), cfg.seed, start);
        schedule.apply(&mut world, start);
        let mut rng = Rng::new(cfg.seed ^ 0x5151_5151_5151_5151);
        let first = start + rng.duration(cfg.interval.0, cfg.interval.1);
        let check = Checker::new(cfg.seed, schedule.strict, start);
        Sim {
            world,
            client,
            cfg,
            schedule,
            start,
            now: start,
            rng,
            check,
            next_submit: Some(first),
            op_seq: 0,
            aborted: false,
        }
    }

    fn violation(&mut self, what: String) {
        self.check.violation(self.now, what);
    }

    /// Runs to the end and returns the report (violations included, not asserted).
    pub fn run(mut self) -> Report {
        self.run_until(None);
        self.check
            .finish(self.now, &self.world, &self.cfg, self.aborted)
    }

    /// Registers a request the test made on the client directly (a subscription change): it
    /// must be answered exactly once, like every other.
    pub fn expect_answer(&mut self, id: RequestId) {
        let now = self.now;
        self.check
            .submitted(now, id, super::workload::Unit::Subscription);
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
            if self.check.violations() > 20 {
                self.aborted = true;
                break;
            }
            let all_answered = self.check.all_answered();
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
            if self.check.count_step() > self.cfg.max_steps {
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
            if self.cfg.follow_master {
                let bound = self.cfg.failover_bound;
                self.check
                    .failover_bound(self.now, &self.world, bound, false);
            }
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
                    self.check.revealed(conn, addr);
                }
                self.client.handle_input(Input::Received(conn, &bytes), now)
            }
        }
    }

    /// Submits the workload's next unit (see [`workload`](super::workload)).
    fn submit_one(&mut self) {
        self.op_seq += 1;
        let (submission, unit) = workload::next(&mut self.rng, self.op_seq);
        let now = self.now;
        let id = match submission {
            Submission::One(c) => self.client.submit(c, now),
            Submission::Batch(cmds) => self.client.submit_batch(cmds, now),
            Submission::Transaction(cmds) => self.client.submit_transaction(cmds, now),
        };
        self.check.submitted(now, id, unit);
    }

    fn drain(&mut self) {
        while let Some(out) = self.client.poll_output() {
            match self.world.on_output(&out) {
                Err(e) => self.violation(e),
                Ok(sent) => self.check.sent(self.now, &sent),
            }
            match out {
                Output::Connect { conn, kind, addr } => {
                    if self.world.trace {
                        let at = self.now.saturating_duration_since(self.start);
                        eprintln!("connect {at:?}: {conn:?} {kind:?} {addr}");
                    }
                    self.check.connecting(conn, kind);
                }
                Output::Reply { request, result } => self.check.reply(self.now, request, result),
                Output::Event(e) => self.on_event(e),
                Output::Message(m) => {
                    let text = String::from_utf8_lossy(&m.payload).into_owned();
                    self.check.message(text);
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
        self.check.event(self.now, e, &self.world);
    }
}
