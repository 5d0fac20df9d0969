//! Sentinel's failover procedure as the simulated sentinels run it: forced (`SENTINEL
//! FAILOVER`) or automatic (a master paused past `down-after-milliseconds`, with `+sdown`,
//! `+odown`, a quorum and a leader vote), then replica selection, promotion, reconfiguration of
//! the other replicas and `+switch-master`, each step publishing the events Redis publishes, in
//! its order, after delays drawn from the seed. Afterwards the other sentinels adopt the new
//! configuration by epoch, and the old master keeps accepting writes until it is reconfigured
//! about one INFO period later, when it discards them.
//!
//! `Failover` keeps the running failover, the epochs and the history; the steps are methods
//! of the [`World`], since each step touches nodes, sentinels and connections.

use super::network::Target;
use super::sentinel::{master_details, replica_details, switch_master};
use super::world::{Ev, World};
use crate::sentinel::Addr;
use std::time::{Duration, Instant};

/// The history of one failover, for invariants and reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverRecord {
    /// When it started (`+try-failover`).
    pub started: Instant,
    /// When the fence-raising events (`+selected-slave`...) were published.
    pub selected_at: Option<Instant>,
    /// Master being replaced.
    pub old: Addr,
    /// Promoted replica.
    pub new: Option<Addr>,
    /// When the leader published `+switch-master`.
    pub switched_at: Option<Instant>,
    /// When the old master was reconfigured as a replica (discarding later writes).
    pub demoted_at: Option<Instant>,
    /// True when no replica could be promoted.
    pub aborted: bool,
    /// Automatic (after `down_after`) rather than forced.
    pub automatic: bool,
}

/// A scheduled step of the procedure.
#[derive(Clone, Copy, Debug)]
pub(super) enum Step {
    /// `down_after` passed since the master `old` was paused: if it still is, the sentinels
    /// agree it is down and elect a leader.
    AutoStart { old: usize },
    /// The leader of a forced failover starts it.
    Start,
    /// The leader selects the replica to promote.
    Select,
    /// The leader sends `REPLICAOF NO ONE` to the selected replica.
    SendNoOne,
    /// The leader sees the promotion and reconfigures the other replicas.
    Promoted,
    /// The replicas are reconfigured: `+switch-master`.
    Done,
    /// Sentinel `usize` hears (by hello) of the configuration of epoch `u64`.
    ConfigUpdate(usize, u64),
    /// The old master is reconfigured as a replica of the new one.
    Demote {
        old: usize,
        new: usize,
        record: usize,
    },
}

/// The failover being run.
#[derive(Clone, Copy, Debug)]
struct Run {
    leader: usize,
    old: usize,
    new: Option<usize>,
    epoch: u64,
    record: usize,
    /// Stall between selecting the replica and promoting it.
    stall: Duration,
}

/// The sentinels' failover state: the running failover, the epochs, and every failover so far.
pub(super) struct Failover {
    run: Option<Run>,
    records: Vec<FailoverRecord>,
    /// Highest epoch claimed.
    epoch: u64,
    /// Config epoch of the current master's configuration (the epoch of the failover that
    /// promoted it; 0 for the initial one).
    config_epoch: u64,
}

impl Failover {
    /// No failover yet, epoch 0.
    pub(super) fn new() -> Failover {
        Failover {
            run: None,
            records: Vec::new(),
            epoch: 0,
            config_epoch: 0,
        }
    }

    /// Failovers so far, running one included.
    pub(super) fn records(&self) -> &[FailoverRecord] {
        &self.records
    }

    /// True while a failover runs (from `+try-failover` to `+switch-master` or its abort).
    pub(super) fn in_progress(&self) -> bool {
        self.run.is_some()
    }

    /// The sentinel leading the running failover.
    pub(super) fn leader(&self) -> Option<usize> {
        self.run.map(|r| r.leader)
    }

    /// The master the running failover replaces.
    pub(super) fn replacing(&self) -> Option<usize> {
        self.run.map(|r| r.old)
    }

    /// The replica the running failover selected.
    pub(super) fn selected(&self) -> Option<usize> {
        self.run.and_then(|r| r.new)
    }

    /// Config epoch of the current master's configuration.
    pub(super) fn config_epoch(&self) -> u64 {
        self.config_epoch
    }

    /// Starts a failover of master `old` led by `leader`, claiming a new epoch.
    fn begin(&mut self, leader: usize, old: usize, old_addr: Addr, automatic: bool, now: Instant) {
        self.epoch += 1;
        self.records.push(FailoverRecord {
            started: now,
            selected_at: None,
            old: old_addr,
            new: None,
            switched_at: None,
            demoted_at: None,
            aborted: false,
            automatic,
        });
        self.run = Some(Run {
            leader,
            old,
            new: None,
            epoch: self.epoch,
            record: self.records.len() - 1,
            stall: Duration::ZERO,
        });
    }

    /// The running failover will stall for `stall` before promoting its replica.
    fn stall(&mut self, stall: Duration) {
        if let Some(run) = self.run.as_mut() {
            run.stall = stall;
        }
    }

    /// The running failover selected replica `new` at `addr`.
    fn select(&mut self, new: usize, addr: Addr, now: Instant) {
        if let Some(run) = self.run.as_mut() {
            run.new = Some(new);
            let rec = &mut self.records[run.record];
            rec.selected_at = Some(now);
            rec.new = Some(addr);
        }
    }

    /// The running failover found no replica to promote.
    fn abort(&mut self) {
        if let Some(run) = self.run.take() {
            self.records[run.record].aborted = true;
        }
    }

    /// The running failover published `+switch-master`: its configuration is the current one.
    fn switched(&mut self, now: Instant) {
        if let Some(run) = self.run.take() {
            self.records[run.record].switched_at = Some(now);
            self.config_epoch = run.epoch;
        }
    }

    /// The old master of failover `record` was reconfigured.
    fn demoted(&mut self, record: usize, now: Instant) {
        self.records[record].demoted_at = Some(now);
    }
}

impl World {
    /// Sentinel's failure detection: a master paused for `pause`, longer than `down_after`,
    /// is checked for an automatic failover once `down_after` has passed.
    pub(super) fn master_paused(&mut self, node: usize, pause: Duration) {
        if node == self.master && pause > self.spec.down_after {
            self.agenda.push(
                self.now + self.spec.down_after,
                Ev::Failover(Step::AutoStart { old: node }),
            );
        }
    }

    /// `SENTINEL FAILOVER` on sentinel `leader` (modulo their number), stalling for `stall`
    /// before the promotion; ignored while a failover runs or when that sentinel is down.
    pub(super) fn forced_failover(&mut self, leader: usize, stall: Duration) {
        if self.failover.in_progress() || self.sentinels.is_empty() {
            return;
        }
        let leader = leader % self.sentinels.len();
        if !self.sentinels[leader].down {
            self.begin_failover(leader, false);
            self.failover.stall(stall);
            self.failover_step(Step::Start);
        }
    }

    /// Runs one step of Sentinel's failover state machine.
    pub(super) fn failover_step(&mut self, step: Step) {
        match step {
            Step::AutoStart { old } => self.auto_start(old),
            Step::ConfigUpdate(si, epoch) => self.config_update(si, epoch),
            Step::Demote { old, new, record } => self.demote(old, new, record),
            Step::Start | Step::Select | Step::SendNoOne | Step::Promoted | Step::Done => {
                // Steps of a failover that ended meanwhile do nothing.
                let Some(run) = self.failover.run else {
                    return;
                };
                match step {
                    Step::Start => self.start(run),
                    Step::Select => self.select_replica(run),
                    Step::SendNoOne => self.send_no_one(run),
                    Step::Promoted => self.promoted(run),
                    _ => self.done(run),
                }
            }
        }
    }

    /// Sets the failover state the leader's `SENTINEL MASTER` entry shows.
    fn leader_state(&mut self, leader: usize, state: Option<&'static str>) {
        if let Some(s) = self.sentinels.get_mut(leader) {
            s.failover_state = state;
        }
    }

    fn begin_failover(&mut self, leader: usize, automatic: bool) {
        let old_addr = self.repl[self.master].addr.clone();
        self.failover
            .begin(leader, self.master, old_addr, automatic, self.now);
        self.leader_state(leader, Some("wait_start"));
    }

    /// Schedules `step` after a delay drawn in `lo_ms..hi_ms` milliseconds.
    fn after(&mut self, lo_ms: u64, hi_ms: u64, step: Step) {
        let d = self
            .rng
            .duration(Duration::from_millis(lo_ms), Duration::from_millis(hi_ms));
        self.agenda.push(self.now + d, Ev::Failover(step));
    }

    fn auto_start(&mut self, old: usize) {
        if self.failover.in_progress() || old != self.master || !self.repl[old].is_paused(self.now)
        {
            return;
        }
        let svc = self.spec.service.clone();
        let up: Vec<usize> = (0..self.sentinels.len())
            .filter(|i| !self.sentinels[*i].down)
            .collect();
        let quorum = self.sentinels.len() / 2 + 1;
        let m = master_details(&svc, &self.repl[old].addr);
        for &i in &up {
            self.sentinel_event(i, "+sdown", &m);
        }
        if up.len() < quorum {
            return;
        }
        for &i in &up {
            self.sentinel_event(i, "+odown", &format!("{m} #quorum {}/{}", up.len(), quorum));
        }
        let Some(li) = self.rng.index(up.len()) else {
            return;
        };
        let leader = up[li];
        self.begin_failover(leader, true);
        let epoch = self.failover.epoch;
        let leader_id = self.sentinels[leader].run_id.clone();
        for &i in &up {
            self.sentinel_event(i, "+new-epoch", &epoch.to_string());
            self.sentinel_event(i, "+try-failover", &m);
            if i != leader {
                self.sentinel_event(i, "+vote-for-leader", &format!("{leader_id} {epoch}"));
            }
        }
        self.after(100, 400, Step::Select);
    }

    /// Sentinel `si` hears of the configuration of `epoch`.
    fn config_update(&mut self, si: usize, epoch: u64) {
        // As Sentinel: a hello only moves a sentinel to a configuration of a higher epoch
        // than its own, and the leader of a running failover has already claimed a
        // higher one. Without this, a late update of an earlier failover would move a
        // sentinel backwards and announce a `+switch-master` no real sentinel sends.
        let leads = self.failover.leader() == Some(si);
        if leads || self.sentinels[si].epoch >= epoch {
            return;
        }
        let svc = self.spec.service.clone();
        let new = self.repl[self.master].addr.clone();
        let old = self.sentinels[si].master.clone();
        if old == new {
            return;
        }
        self.sentinels[si].master = new.clone();
        self.sentinels[si].epoch = self.failover.config_epoch;
        let from = self
            .sentinels
            .iter()
            .enumerate()
            .find(|(j, s)| *j != si && s.master == new)
            .map(|(_, s)| (s.run_id.clone(), s.addr.clone()));
        if let Some((id, a)) = from {
            self.sentinel_event(
                si,
                "+config-update-from",
                &format!(
                    "sentinel {id} {} {} @ {svc} {} {}",
                    a.host, a.port, old.host, old.port
                ),
            );
        }
        self.sentinel_event(si, "+switch-master", &switch_master(&svc, &old, &new));
    }

    /// About one INFO period after `+switch-master`, the old master `old` (unless paused,
    /// which delays this) is reconfigured as a replica of `new`: the writes it accepted
    /// after the promotion are discarded, its clients disconnected.
    fn demote(&mut self, old: usize, new: usize, record: usize) {
        if let Some(t) = self.repl[old].paused_until.filter(|t| self.now < *t) {
            let d = self.rng.duration(Duration::ZERO, Duration::from_secs(1));
            let step = Step::Demote { old, new, record };
            return self.agenda.push(t + d, Ev::Failover(step));
        }
        if self.repl[old].is_master() && self.master == new {
            let svc = self.spec.service.clone();
            let leader = self.sentinels.iter().position(|s| !s.down).unwrap_or(0);
            let details = replica_details(&svc, &self.repl[old].addr, &self.repl[new].addr);
            self.sentinel_event(leader, "+convert-to-slave", &details);
            self.repl.resync(old, new);
            self.close_all_to(Target::Node(old));
            self.failover.demoted(record, self.now);
        }
    }

    /// The master being replaced and its `<name> <ip> <port>` description.
    fn old_master(&self, run: Run) -> (Addr, String) {
        let addr = self.repl[run.old].addr.clone();
        let m = master_details(&self.spec.service, &addr);
        (addr, m)
    }

    fn start(&mut self, run: Run) {
        let (_, m) = self.old_master(run);
        self.sentinel_event(run.leader, "+new-epoch", &run.epoch.to_string());
        self.sentinel_event(run.leader, "+try-failover", &m);
        self.after(50, 150, Step::Select);
    }

    /// Selects the replica of the old master with the highest offset (the lowest index on a
    /// tie) among those not paused or loading, or aborts.
    fn select_replica(&mut self, run: Run) {
        let (old_addr, m) = self.old_master(run);
        let leader = run.leader;
        let now = self.now;
        let candidate = self
            .repl
            .replicas_of_addr(&old_addr)
            .into_iter()
            .filter(|i| {
                let n = &self.repl[*i];
                !n.is_paused(now) && n.loading_until.is_none_or(|t| now >= t)
            })
            .max_by_key(|i| (self.repl[*i].offset, std::cmp::Reverse(*i)));
        let Some(new) = candidate else {
            self.sentinel_event(leader, "-failover-abort-no-good-slave", &m);
            self.failover.abort();
            self.leader_state(leader, None);
            return;
        };
        let new_addr = self.repl[new].addr.clone();
        self.failover.select(new, new_addr.clone(), now);
        let d = replica_details(&self.spec.service, &new_addr, &old_addr);
        self.sentinel_event(leader, "+elected-leader", &m);
        self.sentinel_event(leader, "+failover-state-select-slave", &m);
        self.sentinel_event(leader, "+selected-slave", &d);
        self.sentinel_event(leader, "+failover-state-send-slaveof-noone", &d);
        self.leader_state(leader, Some("send_slaveof_noone"));
        // A stalled leader (TILT) resumes where it stopped, promoting the replica.
        let d = self
            .rng
            .duration(Duration::from_millis(50), Duration::from_millis(150));
        self.agenda
            .push(self.now + run.stall + d, Ev::Failover(Step::SendNoOne));
    }

    fn send_no_one(&mut self, run: Run) {
        let Some(new) = run.new else { return };
        let (old_addr, _) = self.old_master(run);
        // The replica stops replicating the moment it is promoted: later writes
        // acknowledged by the old master exist only there.
        self.repl[new].promote();
        self.close_all_to(Target::Node(new));
        let d = replica_details(&self.spec.service, &self.repl[new].addr, &old_addr);
        self.sentinel_event(run.leader, "+failover-state-wait-promotion", &d);
        self.leader_state(run.leader, Some("wait_promotion"));
        self.after(100, 1000, Step::Promoted);
    }

    fn promoted(&mut self, run: Run) {
        let Some(new) = run.new else { return };
        let (old_addr, m) = self.old_master(run);
        let (leader, old) = (run.leader, run.old);
        let svc = self.spec.service.clone();
        let d = replica_details(&svc, &self.repl[new].addr, &old_addr);
        self.sentinel_event(
            leader,
            "-role-change",
            &format!("{d} new reported role is master"),
        );
        self.sentinel_event(leader, "+promoted-slave", &d);
        self.sentinel_event(leader, "+failover-state-reconf-slaves", &m);
        // From here the leader advertises the promoted replica, and its configuration
        // carries the failover's epoch (Redis sets the master's config epoch when it
        // sees the promotion); its `SENTINEL MASTER` entry still names the old address.
        let s = &mut self.sentinels[leader];
        s.master = self.repl[new].addr.clone();
        s.switching_from = Some(old_addr.clone());
        s.failover_state = Some("reconf_slaves");
        s.epoch = run.epoch;
        for r in 0..self.repl.len() {
            if r != new && r != old {
                let rd = replica_details(&svc, &self.repl[r].addr, &old_addr);
                self.sentinel_event(leader, "+slave-reconf-sent", &rd);
                self.repl.resync(r, new);
                self.close_all_to(Target::Node(r));
            }
        }
        self.after(200, 1000, Step::Done);
    }

    fn done(&mut self, run: Run) {
        let Some(new) = run.new else { return };
        let (old_addr, m) = self.old_master(run);
        let (leader, old, epoch, record) = (run.leader, run.old, run.epoch, run.record);
        let svc = self.spec.service.clone();
        let new_addr = self.repl[new].addr.clone();
        for r in 0..self.repl.len() {
            if r != new && r != old {
                let rd = replica_details(&svc, &self.repl[r].addr, &old_addr);
                self.sentinel_event(leader, "+slave-reconf-inprog", &rd);
                self.sentinel_event(leader, "+slave-reconf-done", &rd);
            }
        }
        self.sentinel_event(leader, "+failover-end", &m);
        self.sentinel_event(
            leader,
            "+switch-master",
            &switch_master(&svc, &old_addr, &new_addr),
        );
        let s = &mut self.sentinels[leader];
        s.master = new_addr.clone();
        s.epoch = epoch;
        s.switching_from = None;
        s.failover_state = None;
        self.master = new;
        for r in 0..self.repl.len() {
            if r != new {
                let rd = replica_details(&svc, &self.repl[r].addr, &new_addr);
                self.sentinel_event(leader, "+slave", &rd);
            }
        }
        self.failover.switched(self.now);
        for si in 0..self.sentinels.len() {
            if si != leader {
                self.after(200, 2000, Step::ConfigUpdate(si, epoch));
            }
        }
        let p = self.spec.info_period.as_millis() as u64;
        self.after(
            p.saturating_sub(1000),
            p + 1000,
            Step::Demote { old, new, record },
        );
    }
}
