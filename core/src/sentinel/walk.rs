//! Asking sentinels, in order, which node is the master (and which replicas exist).
//!
//! One walk at a time. The query connection is kept open and reused while its sentinel stays
//! at the front of the list; the first sentinel that answers moves to the front.
//!
//! A walk started while the failover fence is past its hold is a *survey* (`fence.rs`): a
//! sentinel naming the fenced master does not end it, every sentinel is asked, and what they
//! report about a failover in progress decides whether the fence comes down.

use super::connections::{Cause, Pending, Use};
use super::discovery::{Discovered, Target};
use super::epoch::Verdict;
use super::error::{CommandError, DiscoveryError};
use super::fence::Survey;
use super::interface::{Addr, ConnId, Event, PeerKind, Role};
use super::machine::{Goal, Machine};
use super::parse::{
    config_epoch, error_text, failover_state, failover_timeout, instances, master_addr, show,
    FailoverState, Instance,
};
use super::phase::Phase;
use crate::{cmd, Value};
use std::time::{Duration, Instant};

/// A walk over the sentinel list.
#[derive(Debug)]
struct Walk {
    gen: u64,
    idx: usize,
    tried: Vec<(Addr, String)>,
    reached: usize,
    nulls: usize,
    conn: Option<ConnId>,
    awaiting: u8,
    master: Option<Result<Option<Addr>, String>>,
    /// The `SENTINEL MASTER` reply's config epoch (outer `None`: not answered yet).
    epoch: Option<Option<u64>>,
    /// The `SENTINEL MASTER` reply's failover state and `failover-timeout`.
    failover: Option<(FailoverState, Option<Duration>)>,
    /// Set when this walk is a survey: what the sentinels asked so far said.
    survey: Option<Survey>,
    replicas: Option<Vec<Instance>>,
    /// (sentinel, node it named) for answers that contradicted the ready master.
    votes: Vec<(Addr, Addr)>,
    /// Answers that named a replaced master (stale, see `epoch.rs`).
    stale: usize,
}

/// The walk in progress, the next one scheduled, and the sentinel query connection.
#[derive(Debug, Default)]
pub(crate) struct Walker {
    current: Option<Walk>,
    /// Walks started so far (replies to an older walk are dropped).
    started: u64,
    /// When the next walk starts, unless one starts sooner.
    due: Option<Instant>,
    /// The connection queries go out on; kept while its sentinel stays first.
    query: Option<ConnId>,
}

impl Walker {
    /// True while a walk runs.
    pub(crate) fn running(&self) -> bool {
        self.current.is_some()
    }

    /// When the next walk is due.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Sets the next walk no later than `at` (not once the machine stopped).
    pub(crate) fn schedule(&mut self, at: Instant, phase: &Phase) {
        if phase.is_over() {
            return;
        }
        self.due = Some(self.due.map_or(at, |t| t.min(at)));
    }

    /// True when a walk runs, or one is scheduled.
    pub(crate) fn pending(&self) -> bool {
        self.current.is_some() || self.due.is_some()
    }

    /// Forgets the query connection once it is gone; true when `id` was it.
    fn query_gone(&mut self, id: ConnId) -> bool {
        if self.query == Some(id) {
            self.query = None;
            return true;
        }
        false
    }

    /// Stops walking for good; returns the query connection to close.
    pub(crate) fn stop(&mut self) -> Option<ConnId> {
        self.current = None;
        self.due = None;
        self.query.take()
    }
}

impl Machine {
    /// Config epochs matter to a client following the master (see `epoch.rs`).
    fn wants_epoch(&self) -> bool {
        self.goal == Goal::Client && self.cfg.role == Role::Master
    }

    fn wants_replicas(&self) -> bool {
        match self.goal {
            Goal::Client => {
                self.cfg.role == Role::Replica || self.cfg.read_from != super::ReadFrom::Master
            }
            Goal::Discover(t) => t == Target::Replicas,
        }
    }

    /// Starts a walk now unless one is running.
    pub(crate) fn start_walk(&mut self, now: Instant) {
        if self.walker.current.is_some() || self.phase.is_over() {
            return;
        }
        self.walker.due = None;
        self.walker.started += 1;
        let survey = self.survey_due(now).then(Survey::default);
        self.walker.current = Some(Walk {
            gen: self.walker.started,
            idx: 0,
            tried: Vec::new(),
            reached: 0,
            nulls: 0,
            conn: None,
            awaiting: 0,
            master: None,
            epoch: None,
            failover: None,
            survey,
            replicas: None,
            votes: Vec::new(),
            stale: 0,
        });
        self.try_sentinel(now);
    }

    /// The scheduled walk is due: start it (or let the running one finish).
    pub(crate) fn start_walk_now(&mut self, now: Instant) {
        self.walker.due = None;
        self.start_walk(now);
    }

    fn try_sentinel(&mut self, now: Instant) {
        let Some(idx) = self.walker.current.as_ref().map(|w| w.idx) else {
            return;
        };
        let Some(addr) = self.sentinels.get(idx).cloned() else {
            if self
                .walker
                .current
                .as_ref()
                .is_some_and(|w| w.survey.is_some())
            {
                return self.survey_finished(now);
            }
            return self.walk_failed(now);
        };
        let reuse = self
            .walker
            .query
            .filter(|q| self.io.get(*q).is_some_and(|c| *c.addr() == addr));
        let q = match reuse {
            Some(q) => q,
            None => {
                if let Some(old) = self.walker.query.take() {
                    self.io.close(old);
                }
                let q = self.io.open(addr, Use::Query, PeerKind::Sentinel, now);
                self.walker.query = Some(q);
                q
            }
        };
        if let Some(w) = self.walker.current.as_mut() {
            w.conn = Some(q);
        }
        if self.io.get(q).is_some_and(|c| c.is_open()) {
            self.send_queries(q, now);
        }
    }

    /// Sends `AUTH` to a sentinel connection when sentinels need credentials.
    pub(crate) fn sentinel_auth(&mut self, id: ConnId, now: Instant) {
        if let Some(a) = self.cfg.sentinel_auth.clone() {
            let mut c = cmd("AUTH");
            if let Some(u) = &a.username {
                c = c.arg(u);
            }
            self.io
                .send(id, &c.arg(&a.password), Pending::SentinelAuth, now);
        }
    }

    /// A query connection is up: authenticate, then ask if a walk is waiting for it.
    pub(crate) fn query_connected(&mut self, id: ConnId, now: Instant) {
        self.sentinel_auth(id, now);
        if self
            .walker
            .current
            .as_ref()
            .is_some_and(|w| w.conn == Some(id))
        {
            self.send_queries(id, now);
        }
    }

    fn send_queries(&mut self, q: ConnId, now: Instant) {
        let (epoch, replicas) = (self.wants_epoch(), self.wants_replicas());
        let Some(w) = self.walker.current.as_mut() else {
            return;
        };
        let gen = w.gen;
        w.master = None;
        w.epoch = None;
        w.failover = None;
        w.replicas = None;
        w.awaiting = 1 + u8::from(epoch) + u8::from(replicas);
        let svc = self.cfg.service.clone();
        let get = cmd("SENTINEL").arg("get-master-addr-by-name").arg(&svc);
        self.io.send(q, &get, Pending::GetMaster { walk: gen }, now);
        if epoch {
            let c = cmd("SENTINEL").arg("MASTER").arg(&svc);
            self.io.send(q, &c, Pending::MasterInfo { walk: gen }, now);
        }
        if replicas {
            let c = cmd("SENTINEL").arg("replicas").arg(&svc);
            self.io.send(q, &c, Pending::Replicas { walk: gen }, now);
        }
        if self
            .sentinels
            .refresh_due(now, self.cfg.sentinel_refresh_interval)
        {
            let c = cmd("SENTINEL").arg("sentinels").arg(&svc);
            self.io.send(q, &c, Pending::Sentinels, now);
        }
    }

    /// The reply to `AUTH` on a sentinel connection.
    pub(crate) fn on_sentinel_auth(&mut self, id: ConnId, v: &Value, now: Instant) {
        let Some(e) = error_text(v) else {
            return;
        };
        let why = format!("sentinel AUTH failed: {}", show(e));
        let walking = match self.walker.current.as_mut().filter(|w| w.conn == Some(id)) {
            Some(w) => {
                w.reached += 1;
                true
            }
            None => false,
        };
        if walking {
            self.next_sentinel(why, now);
        } else {
            self.drop_conn(id, Cause::Unexpected(why), now);
        }
    }

    /// A reply to one of the walk's queries.
    pub(crate) fn on_walk_reply(
        &mut self,
        id: ConnId,
        gen: u64,
        p: Pending,
        v: &Value,
        now: Instant,
    ) {
        let Some(w) = self.walker.current.as_mut() else {
            return;
        };
        if w.gen != gen || w.conn != Some(id) {
            return;
        }
        match p {
            Pending::GetMaster { .. } => w.master = Some(master_addr(v)),
            Pending::MasterInfo { .. } => {
                w.epoch = Some(config_epoch(v));
                w.failover = Some((failover_state(v), failover_timeout(v)));
            }
            _ => w.replicas = Some(instances(v).unwrap_or_default()),
        }
        w.awaiting = w.awaiting.saturating_sub(1);
        if w.awaiting > 0 {
            return;
        }
        match w.master.take() {
            Some(Ok(Some(master))) => {
                let replicas = w.replicas.take().unwrap_or_default();
                let epoch = w.epoch.take().flatten();
                let failover = w.failover.take();
                let surveying = w.survey.is_some();
                let votes = w.votes.clone();
                let from = self.sentinels.get(w.idx).cloned();
                let fenced_here = self.phase.fence().is_some_and(|f| *f.old() == master);
                match self.judge(&master, epoch, &votes, now) {
                    Verdict::Accept if surveying && fenced_here => {
                        let (state, timeout) = failover.unwrap_or((FailoverState::Unknown, None));
                        self.survey_answer(state, timeout, now)
                    }
                    Verdict::Accept => self.walk_succeeded(master, replicas, now),
                    Verdict::Stale(why) => {
                        if let Some(w) = self.walker.current.as_mut() {
                            w.reached += 1;
                            w.stale += 1;
                        }
                        self.next_sentinel(why, now)
                    }
                    Verdict::Doubt => {
                        let why = format!("names {master}, not the verified master");
                        if let (Some(w), Some(from)) = (self.walker.current.as_mut(), from) {
                            w.reached += 1;
                            w.votes.push((from, master));
                        }
                        self.next_sentinel(why, now)
                    }
                }
            }
            Some(Ok(None)) => {
                w.reached += 1;
                w.nulls += 1;
                let why = format!("does not know service `{}`", self.cfg.service);
                self.next_sentinel(why, now)
            }
            Some(Err(why)) => {
                w.reached += 1;
                self.next_sentinel(why, now)
            }
            None => self.next_sentinel("no answer".into(), now),
        }
    }

    /// A surveyed sentinel named the fenced master: record what it says about the failover and
    /// ask the next one (the query connection is left to `try_sentinel`).
    fn survey_answer(&mut self, state: FailoverState, timeout: Option<Duration>, now: Instant) {
        if let (Some(t), Some(f)) = (timeout, self.phase.fence_mut()) {
            f.note_failover_timeout(t);
        }
        let Some(w) = self.walker.current.as_mut() else {
            return;
        };
        if let (Some(from), Some(s)) = (self.sentinels.get(w.idx), w.survey.as_mut()) {
            match state {
                FailoverState::Idle => s.clear.push(from.clone()),
                FailoverState::InProgress(st) => s
                    .busy
                    .push(format!("sentinel {from} reports failover-state {st}")),
                FailoverState::Unknown => s
                    .unsure
                    .push(format!("sentinel {from} did not report a failover state")),
            }
        }
        w.reached += 1;
        w.idx += 1;
        w.conn = None;
        self.try_sentinel(now);
    }

    /// Every sentinel of a survey was asked (none named another master).
    fn survey_finished(&mut self, now: Instant) {
        let Some(w) = self.walker.current.take() else {
            return;
        };
        let survey = w.survey.unwrap_or_default();
        self.survey_done(survey, &w.tried, now);
    }

    /// Records why the current sentinel failed and tries the next one.
    fn next_sentinel(&mut self, why: String, now: Instant) {
        let Some(w) = self.walker.current.as_mut() else {
            return;
        };
        if let Some(a) = self.sentinels.get(w.idx) {
            w.tried.push((a.clone(), why));
        }
        w.idx += 1;
        if let Some(q) = w.conn.take() {
            self.walker.query_gone(q);
            self.io.close(q);
        }
        self.try_sentinel(now);
    }

    /// The query connection went away.
    pub(crate) fn walk_conn_lost(&mut self, id: ConnId, cause: &Cause, now: Instant) {
        self.walker.query_gone(id);
        let Some(w) = self.walker.current.as_mut() else {
            return;
        };
        if w.conn != Some(id) {
            return;
        }
        w.conn = None;
        if matches!(cause, Cause::Protocol(_) | Cause::Unexpected(_)) {
            w.reached += 1;
        }
        self.next_sentinel(cause.describe(), now);
    }

    fn walk_succeeded(&mut self, master: Addr, replicas: Vec<Instance>, now: Instant) {
        let Some(w) = self.walker.current.take() else {
            return;
        };
        let from = self.sentinels.get(w.idx).cloned();
        self.sentinels.move_to_front(w.idx);
        for (s, named) in &w.votes {
            if *named != master {
                self.demote_sentinel(s);
            }
        }
        if let Goal::Discover(t) = self.goal {
            let found = match t {
                Target::Master => Discovered::Master(master),
                Target::Replicas => Discovered::Replicas(
                    replicas
                        .into_iter()
                        .filter(Instance::usable)
                        .map(|r| r.addr)
                        .collect(),
                ),
            };
            return self.finish_discovery(Ok(found));
        }
        let next = if self.phase.fence().is_some() {
            self.cfg.fence_poll_interval
        } else {
            self.cfg.sentinel_poll_interval
        };
        self.walker.schedule(now + next, &self.phase);
        if self.watch.start() {
            self.ensure_notices(now);
        }
        match self.cfg.role {
            Role::Master => {
                // MasterPreferred reads replicas exactly when the master is gone, when their
                // link to it is down too: any replica that is up will do then.
                let keep: fn(&Instance) -> bool =
                    if self.cfg.read_from == super::ReadFrom::MasterPreferred {
                        Instance::up
                    } else {
                        Instance::usable
                    };
                let usable = replicas.iter().filter(|r| keep(r)).map(|r| r.addr.clone());
                let usable = usable.collect();
                self.follow.spread.set_usable(usable);
                self.master_named(master, from, now);
                self.sync_spread(now);
            }
            Role::Replica => self.replicas_named(master, replicas, from, now),
        }
    }

    fn walk_failed(&mut self, now: Instant) {
        let Some(w) = self.walker.current.take() else {
            return;
        };
        // Nobody seconded an answer that contradicted the ready master: keep it.
        for (s, _) in &w.votes {
            self.demote_sentinel(s);
        }
        let tried = w.tried;
        let err = if w.reached == 0 {
            DiscoveryError::NoSentinelReachable { tried }
        } else if w.nulls == w.reached {
            DiscoveryError::UnknownService {
                service: self.cfg.service.clone(),
                tried,
            }
        } else {
            DiscoveryError::InvalidReplies { tried }
        };
        if self.goal != Goal::Client {
            return self.finish_discovery(Err(err));
        }
        // With a verified node in use, sentinels that only named a master we moved away from
        // (lagging) or doubted it are not a failure worth a warning: it happens after every
        // early switch, until they catch up.
        let judged_only = w.reached > 0 && w.stale + w.votes.len() == w.reached;
        if !(judged_only && self.ready_conn().is_some()) {
            self.io
                .event(Event::Error(format!("discovery failed: {err}")));
        }
        if self.phase.fence().is_some() {
            let at = now + self.cfg.fence_poll_interval;
            return self.walker.schedule(at, &self.phase);
        }
        if self.ready_conn().is_some() {
            let at = now + self.cfg.sentinel_poll_interval;
            return self.walker.schedule(at, &self.phase);
        }
        // Sentinels that answered only named a master we moved away from: they have not
        // caught up yet. Go back to the master we verified last (ROLE checks it again) rather
        // than failing the queue; it is never a replaced one.
        let last = self
            .history
            .last()
            .filter(|m| !self.history.is_replaced(m))
            .cloned();
        if let (true, None, Some(m)) = (w.stale > 0, self.phase.node(), last) {
            let at = now + self.cfg.sentinel_poll_interval;
            self.walker.schedule(at, &self.phase);
            return self.connect_node(m, Role::Master, None, now);
        }
        let role = self.cfg.role;
        self.fail_queued(|| match role {
            Role::Master => CommandError::MasterNotFound(err.clone()),
            Role::Replica => CommandError::ReplicaNotFound(err.clone()),
        });
        self.back_off(now);
    }

    /// Waits a jittered delay before the next walk.
    pub(crate) fn back_off(&mut self, now: Instant) {
        let delay = self.pacing.next_delay(&self.cfg.backoff);
        self.io.event(Event::Reconnecting { delay });
        self.walker.schedule(now + delay, &self.phase);
    }

    fn finish_discovery(&mut self, r: Result<Discovered, DiscoveryError>) {
        if let Some(q) = self.walker.stop() {
            self.io.close(q);
        }
        self.phase = Phase::Done(r);
    }

    /// Sentinel `from` named `addr` as master: go there unless already there (or it is
    /// fenced off).
    fn master_named(&mut self, addr: Addr, from: Option<Addr>, now: Instant) {
        if self.phase.fence().is_some_and(|f| *f.old() == addr) {
            return;
        }
        if self.phase.node().is_some_and(|n| n.addr == addr) {
            // Sentinels confirm the candidate being probed: ask it again now.
            return self.probe_candidate(now);
        }
        self.retire_node(now);
        self.set_candidate(&addr);
        self.connect_node(addr, Role::Master, from, now);
    }

    /// The reply to `SENTINEL sentinels`: add newcomers, drop discovered ones that are down or
    /// forgotten, keep the configured ones.
    pub(crate) fn on_sentinels_reply(&mut self, id: ConnId, v: &Value, now: Instant) {
        let Ok(list) = instances(v) else {
            return;
        };
        let from = self.io.get(id).map(|c| c.addr().clone());
        for i in list.iter().filter(|i| i.up()) {
            self.add_sentinel(i.addr.clone());
        }
        let stale: Vec<Addr> = self
            .sentinels
            .list()
            .iter()
            .filter(|s| !self.sentinels.is_configured(s) && Some(*s) != from.as_ref())
            .filter(|s| !list.iter().any(|i| i.addr == **s && i.up()))
            .cloned()
            .collect();
        for s in stale {
            self.remove_sentinel(&s);
        }
        self.ensure_notices(now);
    }

    /// Adds a sentinel announced by `+sentinel` or listed by `SENTINEL sentinels`.
    pub(crate) fn add_sentinel(&mut self, a: Addr) {
        // A configured sentinel announced under the address that the map dials at it.
        let dial = self.io.dial(&a);
        if dial != a && self.sentinels.contains(&dial) {
            return;
        }
        if self.sentinels.add(a.clone()) {
            self.io.event(Event::SentinelAdded(a));
        }
    }

    /// Drops the discovered sentinel `a` (it was another name for a known one).
    pub(crate) fn forget_sentinel(&mut self, a: &Addr) {
        self.remove_sentinel(a);
    }

    fn remove_sentinel(&mut self, a: &Addr) {
        let Some(pos) = self.sentinels.position(a) else {
            return;
        };
        if let Some(w) = self.walker.current.as_mut() {
            if w.idx == pos {
                return;
            }
            if pos < w.idx {
                w.idx -= 1;
            }
        }
        self.sentinels.remove_at(pos);
        self.io.event(Event::SentinelRemoved(a.clone()));
    }
}
