//! Asking sentinels, in order, which node is the master (and which replicas exist).
//!
//! One walk at a time. The query connection is kept open and reused while its sentinel stays
//! at the front of the list; the first sentinel that answers moves to the front.
//!
//! A walk started while the failover fence is past its hold is a *survey* (`fence.rs`): a
//! sentinel naming the fenced master does not end it, every sentinel is asked, and what they
//! report about a failover in progress decides whether the fence comes down.

use super::conn::{Pending, Use};
use super::discovery::{Discovered, Target};
use super::epoch::Verdict;
use super::error::{CommandError, DiscoveryError};
use super::fence::Survey;
use super::io::{Addr, ConnId, Event, PeerKind, Role};
use super::machine::{Cause, Machine, Mode};
use super::reply::{
    config_epoch, error_text, failover_state, failover_timeout, instances, master_addr, show,
    FailoverState, Instance,
};
use crate::{cmd, Value};
use std::time::{Duration, Instant};

/// A walk over the sentinel list.
#[derive(Debug)]
pub(crate) struct Walk {
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

impl Machine {
    /// Config epochs matter to a client following the master (see `epoch.rs`).
    fn wants_epoch(&self) -> bool {
        self.mode == Mode::Client && self.cfg.role == Role::Master
    }

    fn wants_replicas(&self) -> bool {
        match self.mode {
            Mode::Client => self.cfg.role == Role::Replica,
            Mode::Discover(t) => t == Target::Replicas,
        }
    }

    /// Sets the next walk no later than `at`.
    pub(crate) fn schedule_walk(&mut self, at: Instant) {
        if self.closed || self.result.is_some() {
            return;
        }
        self.walk_at = Some(self.walk_at.map_or(at, |t| t.min(at)));
    }

    /// Starts a walk now unless one is running.
    pub(crate) fn start_walk(&mut self, now: Instant) {
        if self.walk.is_some() || self.closed || self.result.is_some() {
            return;
        }
        self.walk_at = None;
        self.walk_gen += 1;
        let survey = self.survey_due(now).then(Survey::default);
        self.walk = Some(Walk {
            gen: self.walk_gen,
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

    fn try_sentinel(&mut self, now: Instant) {
        let Some(idx) = self.walk.as_ref().map(|w| w.idx) else {
            return;
        };
        let Some(addr) = self.sentinels.get(idx).cloned() else {
            if self.walk.as_ref().is_some_and(|w| w.survey.is_some()) {
                return self.survey_finished(now);
            }
            return self.walk_failed(now);
        };
        let reuse = self
            .query
            .filter(|q| self.conns.get(q).is_some_and(|c| c.addr == addr));
        let q = match reuse {
            Some(q) => q,
            None => {
                if let Some(old) = self.query.take() {
                    self.close_quiet(old);
                }
                let q = self.open(addr, Use::Query, PeerKind::Sentinel, now);
                self.query = Some(q);
                q
            }
        };
        if let Some(w) = self.walk.as_mut() {
            w.conn = Some(q);
        }
        if self.conns.get(&q).is_some_and(|c| c.open) {
            self.send_queries(q, now);
        }
    }

    /// A query connection is up: authenticate, then ask if a walk is waiting for it.
    pub(crate) fn query_connected(&mut self, id: ConnId, now: Instant) {
        if let Some(a) = self.cfg.sentinel_auth.clone() {
            let mut c = cmd("AUTH");
            if let Some(u) = &a.username {
                c = c.arg(u);
            }
            self.send(id, &c.arg(&a.password), Pending::SentinelAuth, now);
        }
        if self.walk.as_ref().is_some_and(|w| w.conn == Some(id)) {
            self.send_queries(id, now);
        }
    }

    fn send_queries(&mut self, q: ConnId, now: Instant) {
        let Some(w) = self.walk.as_mut() else {
            return;
        };
        let gen = w.gen;
        w.master = None;
        w.epoch = None;
        w.failover = None;
        w.replicas = None;
        w.awaiting = 1;
        let svc = self.cfg.service.clone();
        let get = cmd("SENTINEL").arg("get-master-addr-by-name").arg(&svc);
        self.send(q, &get, Pending::GetMaster { walk: gen }, now);
        if self.wants_epoch() {
            if let Some(w) = self.walk.as_mut() {
                w.awaiting += 1;
            }
            let c = cmd("SENTINEL").arg("MASTER").arg(&svc);
            self.send(q, &c, Pending::MasterInfo { walk: gen }, now);
        }
        if self.wants_replicas() {
            if let Some(w) = self.walk.as_mut() {
                w.awaiting += 1;
            }
            let c = cmd("SENTINEL").arg("replicas").arg(&svc);
            self.send(q, &c, Pending::Replicas { walk: gen }, now);
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = Some(now + self.cfg.sentinel_refresh_interval);
            let c = cmd("SENTINEL").arg("sentinels").arg(&svc);
            self.send(q, &c, Pending::Sentinels, now);
        }
    }

    /// The reply to `AUTH` on a sentinel connection.
    pub(crate) fn on_sentinel_auth(&mut self, id: ConnId, v: &Value, now: Instant) {
        let Some(e) = error_text(v) else {
            return;
        };
        let why = format!("sentinel AUTH failed: {}", show(e));
        if self.walk.as_ref().is_some_and(|w| w.conn == Some(id)) {
            if let Some(w) = self.walk.as_mut() {
                w.reached += 1;
            }
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
        let Some(w) = self.walk.as_mut() else {
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
                match self.judge(&master, epoch, &votes, now) {
                    Verdict::Accept
                        if surveying && self.fence.as_ref().is_some_and(|f| f.old == master) =>
                    {
                        let (state, timeout) = failover.unwrap_or((FailoverState::Unknown, None));
                        self.survey_answer(state, timeout, now)
                    }
                    Verdict::Accept => self.walk_succeeded(master, replicas, now),
                    Verdict::Stale(why) => {
                        if let Some(w) = self.walk.as_mut() {
                            w.reached += 1;
                            w.stale += 1;
                        }
                        self.next_sentinel(why, now)
                    }
                    Verdict::Doubt => {
                        let why = format!("names {master}, not the verified master");
                        if let (Some(w), Some(from)) = (self.walk.as_mut(), from) {
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
        if let Some(t) = timeout {
            self.note_failover_timeout(t);
        }
        let Some(w) = self.walk.as_mut() else {
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
        let Some(w) = self.walk.take() else {
            return;
        };
        let survey = w.survey.unwrap_or_default();
        self.survey_done(survey, &w.tried, now);
    }

    /// Records why the current sentinel failed and tries the next one.
    fn next_sentinel(&mut self, why: String, now: Instant) {
        let Some(w) = self.walk.as_mut() else {
            return;
        };
        if let Some(a) = self.sentinels.get(w.idx) {
            w.tried.push((a.clone(), why));
        }
        w.idx += 1;
        if let Some(q) = w.conn.take() {
            if self.query == Some(q) {
                self.query = None;
            }
            self.close_quiet(q);
        }
        self.try_sentinel(now);
    }

    /// The query connection went away.
    pub(crate) fn walk_conn_lost(&mut self, id: ConnId, cause: &Cause, now: Instant) {
        let Some(w) = self.walk.as_mut() else {
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
        let Some(w) = self.walk.take() else {
            return;
        };
        let from = self.sentinels.get(w.idx).cloned();
        if w.idx < self.sentinels.len() {
            let s = self.sentinels.remove(w.idx);
            self.sentinels.insert(0, s);
        }
        for (s, named) in &w.votes {
            if *named != master {
                self.demote_sentinel(s);
            }
        }
        if let Mode::Discover(t) = self.mode {
            let found = match t {
                Target::Master => Discovered::Master(master),
                Target::Replicas => Discovered::Replicas(
                    replicas
                        .into_iter()
                        .filter(|r| r.up() && r.link_ok)
                        .map(|r| r.addr)
                        .collect(),
                ),
            };
            return self.finish_discovery(Ok(found));
        }
        let next = if self.fence.is_some() {
            self.cfg.fence_poll_interval
        } else {
            self.cfg.sentinel_poll_interval
        };
        self.schedule_walk(now + next);
        if !self.watching {
            self.watching = true;
            self.ensure_notices(now);
        }
        self.naming = from;
        match self.cfg.role {
            Role::Master => self.master_named(master, now),
            Role::Replica => self.replicas_named(master, replicas, now),
        }
        self.naming = None;
    }

    fn walk_failed(&mut self, now: Instant) {
        let Some(w) = self.walk.take() else {
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
        if self.mode != Mode::Client {
            return self.finish_discovery(Err(err));
        }
        self.event(Event::Error(format!("discovery failed: {err}")));
        if self.fence.is_some() {
            return self.schedule_walk(now + self.cfg.fence_poll_interval);
        }
        if self.ready_node().is_some() {
            return self.schedule_walk(now + self.cfg.sentinel_poll_interval);
        }
        // Sentinels that answered only named a master we moved away from: they have not
        // caught up yet. Go back to the master we verified last (ROLE checks it again) rather
        // than failing the queue; it is never a replaced one.
        let last = self
            .master
            .clone()
            .filter(|m| !self.replaced.contains_key(m));
        if let (true, None, Some(m)) = (w.stale > 0, &self.node, last) {
            self.schedule_walk(now + self.cfg.sentinel_poll_interval);
            return self.connect_node(m, Role::Master, now);
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
        let delay = self.backoff.next_delay(&self.cfg.backoff, &mut self.rng);
        self.event(Event::Reconnecting { delay });
        self.schedule_walk(now + delay);
    }

    fn finish_discovery(&mut self, r: Result<Discovered, DiscoveryError>) {
        if let Some(q) = self.query.take() {
            self.close_quiet(q);
        }
        self.walk_at = None;
        self.result = Some(r);
    }

    /// Sentinels named `addr` as master: go there unless already there (or it is fenced off).
    pub(crate) fn master_named(&mut self, addr: Addr, now: Instant) {
        if self.fence.as_ref().is_some_and(|f| f.old == addr) {
            return;
        }
        if self.node.as_ref().is_some_and(|n| n.addr == addr) {
            // Sentinels confirm the candidate being probed: ask it again now.
            return self.probe_candidate(now);
        }
        self.retire_node(now);
        self.set_candidate(&addr);
        self.connect_node(addr, Role::Master, now);
    }

    /// The reply to `SENTINEL sentinels`: add newcomers, drop discovered ones that are down or
    /// forgotten, keep the configured ones.
    pub(crate) fn on_sentinels_reply(&mut self, id: ConnId, v: &Value, now: Instant) {
        let Ok(list) = instances(v) else {
            return;
        };
        let from = self.conns.get(&id).map(|c| c.addr.clone());
        for i in &list {
            if i.up() && !self.sentinels.contains(&i.addr) {
                self.sentinels.push(i.addr.clone());
                self.event(Event::SentinelAdded(i.addr.clone()));
            }
        }
        let stale: Vec<Addr> = self
            .sentinels
            .iter()
            .filter(|s| !self.configured.contains(*s) && Some(*s) != from.as_ref())
            .filter(|s| !list.iter().any(|i| i.addr == **s && i.up()))
            .cloned()
            .collect();
        for s in stale {
            self.remove_sentinel(&s);
        }
        self.ensure_notices(now);
    }

    /// Adds a sentinel announced by `+sentinel`.
    pub(crate) fn add_sentinel(&mut self, a: Addr) {
        if !self.sentinels.contains(&a) {
            self.sentinels.push(a.clone());
            self.event(Event::SentinelAdded(a));
        }
    }

    fn remove_sentinel(&mut self, a: &Addr) {
        let Some(pos) = self.sentinels.iter().position(|s| s == a) else {
            return;
        };
        if self.walk.as_ref().is_some_and(|w| w.idx == pos) {
            return;
        }
        self.sentinels.remove(pos);
        if let Some(w) = self.walk.as_mut() {
            if pos < w.idx {
                w.idx -= 1;
            }
        }
        self.event(Event::SentinelRemoved(a.clone()));
    }
}
