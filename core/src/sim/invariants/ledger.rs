//! The end-of-run checks: what the data nodes ran, held against what the client answered.
//!
//! Every data node counts the client writes it executed per key, resyncs included (a demoted
//! master's discarded writes still count as having run). From those counts and the final
//! datasets:
//! - no write runs more than once, anywhere, and none holds another value than its own;
//! - an acknowledged write ran somewhere and, under a strict schedule, is on the final master;
//! - a write whose answer says it never ran (error reply, or a client error for work never
//!   written) ran on no node;
//! - a pipeline ran a prefix of its writes (it runs in order on one node);
//! - a transaction ran both its writes or neither, on every node, and the pair only
//!   transactions touch holds one value on every node; a poisoned transaction never ran.

use super::super::driver::SimConfig;
use super::super::node::DataNode;
use super::super::workload::{tx_keys, Fate, Unit, SHARED};
use super::super::world::World;
use super::Checker;
use crate::sentinel::Addr;
use bytes::Bytes;
use std::time::Instant;

/// How many times `node` ran a client write of `key` in `db`.
fn ran_on(node: &DataNode, db: u32, key: &str) -> u32 {
    let k = (db, Bytes::copy_from_slice(key.as_bytes()));
    node.executed.get(&k).copied().unwrap_or(0)
}

/// The value of `key` on `node`, as text.
fn value_on(node: &DataNode, db: u32, key: &str) -> Option<String> {
    node.get(db, key.as_bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Violations of one kind: how many, and the first few.
#[derive(Default)]
struct Found(Vec<String>);

impl Found {
    fn push(&mut self, what: String) {
        self.0.push(what);
    }

    fn report(self, c: &mut Checker, now: Instant, kind: &str) {
        if let Some(first) = self.0.first() {
            let more = self.0.get(1..4).unwrap_or(&self.0[1..]).join("; ");
            let more = if more.is_empty() {
                String::new()
            } else {
                format!("; {more}")
            };
            let msg = format!("{} {kind}: {first}{more}", self.0.len());
            c.violation(now, msg);
        }
    }
}

impl Checker {
    /// Holds what the data nodes ran against every answer (see the module docs).
    pub(super) fn check_data(&mut self, now: Instant, world: &World, cfg: &SimConfig) {
        let db = cfg.db;
        let master = world.master().clone();
        let nodes = world.nodes();
        let last = world.node(&master);
        let (mut twice, mut ran_anyway, mut unrun, mut out_of_order, mut half) = (
            Found::default(),
            Found::default(),
            Found::default(),
            Found::default(),
            Found::default(),
        );
        let mut lost: Vec<(String, Instant)> = Vec::new();
        let mut proven = 0;
        for (id, r) in &self.requests {
            let writes = r.unit.writes();
            let counts: Vec<u32> = writes
                .iter()
                .map(|(k, _)| nodes.iter().map(|n| ran_on(n, db, k)).sum())
                .collect();
            let (at, fates) = match &r.answer {
                Some((at, f)) => (Some(*at), f.as_slice()),
                None => (None, &[][..]),
            };
            for (w, (key, value)) in writes.iter().enumerate() {
                let count = counts[w];
                let held = last.and_then(|n| value_on(n, db, key));
                if count > 1 {
                    twice.push(format!("{key} ran {count} times ({id:?})"));
                } else if held.as_ref().is_some_and(|h| *h != value.to_string()) {
                    twice.push(format!("{key} holds {held:?} on {master}, not {value}"));
                }
                match fates.get(w) {
                    Some(Fate::NotRun(why)) => {
                        proven += 1;
                        if count > 0 {
                            ran_anyway.push(format!("{key} of {id:?} {why}"));
                        }
                    }
                    Some(Fate::Acked) if count == 0 => {
                        unrun.push(format!("{key} of {id:?}"));
                    }
                    Some(Fate::Acked) if held.is_none() => {
                        lost.push((key.clone(), at.unwrap_or(now)));
                    }
                    _ => {}
                }
            }
            match &r.unit {
                Unit::Batch(_) if counts.windows(2).any(|p| p[1] > 0 && p[0] == 0) => {
                    let keys: Vec<&str> = writes.iter().map(|(k, _)| k.as_str()).collect();
                    out_of_order.push(format!("{id:?} ran {counts:?} of {keys:?}"));
                }
                Unit::Transaction(i) => {
                    let [a, b] = tx_keys(*i);
                    for n in nodes {
                        let (va, vb) = (value_on(n, db, &a), value_on(n, db, &b));
                        let (ca, cb) = (ran_on(n, db, &a), ran_on(n, db, &b));
                        if va.is_some() != vb.is_some() || ca != cb {
                            half.push(format!(
                                "transaction {i} ({id:?}) on {}: {a} = {va:?} (ran {ca}), {b} = {vb:?} (ran {cb})",
                                n.addr
                            ));
                        }
                    }
                }
                Unit::Poisoned(i) if counts.iter().any(|c| *c > 0) => {
                    half.push(format!("poisoned transaction {i} ({id:?}) ran"));
                }
                _ => {}
            }
        }
        for n in nodes {
            let (a, b) = (value_on(n, db, SHARED[0]), value_on(n, db, SHARED[1]));
            if a != b {
                let role = if n.is_master() { "master" } else { "replica" };
                half.push(format!(
                    "{} = {a:?} but {} = {b:?} on {} ({role})",
                    SHARED[0], SHARED[1], n.addr
                ));
            }
        }
        self.report.proven_not_run = proven;
        self.report.acked_lost = lost.len() as u64;
        twice.report(self, now, "write(s) executed more than once, e.g.");
        ran_anyway.report(
            self,
            now,
            "write(s) ran although their answer says they never ran, e.g.",
        );
        unrun.report(
            self,
            now,
            "acknowledged write(s) ran on no node (not their own reply), e.g.",
        );
        out_of_order.report(
            self,
            now,
            "pipeline(s) ran a write after one that did not run, e.g.",
        );
        half.report(self, now, "transaction(s) half-applied, e.g.");
        if cfg.check_acked && self.report.strict && !lost.is_empty() {
            self.lost_writes(now, world, db, &master, &lost);
        }
    }

    /// Records the loss of the acknowledged writes `lost` with what explains it: where the
    /// first one is now and the timeline of every failover (and, tracing, its commands).
    fn lost_writes(
        &mut self,
        now: Instant,
        world: &World,
        db: u32,
        master: &Addr,
        lost: &[(String, Instant)],
    ) {
        let (key, t) = &lost[0];
        let (last, u) = &lost[lost.len() - 1];
        let holders: Vec<String> = world
            .nodes()
            .iter()
            .filter(|n| n.get(db, key.as_bytes()).is_some())
            .map(|n| n.addr.to_string())
            .collect();
        let start = self.start;
        let since = move |t: Instant| t.saturating_duration_since(start);
        let msg = format!(
            "{} acknowledged write(s) missing from final master {master}: {key} acked at {:?} (now on {holders:?}) .. {last} acked at {:?}; failovers: {:?}",
            lost.len(),
            since(*t),
            since(*u),
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
