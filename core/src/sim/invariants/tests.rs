//! The checker's rules for units of work can fail: each test hands it the answers and a
//! world whose nodes ran (or hold) what a broken client would have made them run.

use super::super::driver::SimConfig;
use super::super::network::Sent;
use super::super::workload::{Expect, Unit};
use super::super::world::{World, WorldSpec};
use super::{Checker, Report};
use crate::sentinel::{Addr, CommandError, Event, PeerKind, RequestId, Role};
use crate::{ByteStr, Value};
use bytes::Bytes;
use std::time::Instant;

fn setup() -> (Checker, World, SimConfig, Instant) {
    let now = Instant::now();
    let cfg = SimConfig::new(1);
    let world = World::new(WorldSpec::default(), 1, now);
    (Checker::new(1, true, now), world, cfg, now)
}

fn write(key: &str, by: u64) -> Expect {
    Expect::Write {
        key: key.into(),
        by,
    }
}

/// Node `i` ran a client write of `key` `times` times and holds `value`.
fn ran(world: &mut World, i: usize, key: &str, times: u32, value: Option<&str>) {
    let node = &mut world.nodes_mut()[i];
    let k = (0, Bytes::copy_from_slice(key.as_bytes()));
    node.executed.insert(k.clone(), times);
    match value {
        Some(v) => node.data.insert(k, Bytes::copy_from_slice(v.as_bytes())),
        None => node.data.remove(&k),
    };
}

fn finish(c: Checker, world: &World, cfg: &SimConfig, now: Instant) -> Report {
    c.finish(now, world, cfg, false)
}

fn has(r: &Report, what: &str) -> bool {
    r.violations.iter().any(|v| v.contains(what))
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|n| Value::Integer(*n)).collect())
}

#[test]
fn an_exec_after_the_fence_is_a_violation() {
    let (mut c, _, _, now) = setup();
    let old = Addr::new("127.0.0.1", 6379);
    let sent = Sent {
        addr: Some(old.clone()),
        kind: Some(PeerKind::Data(Role::Master)),
        writes: vec!["EXEC".into()],
    };
    c.sent(now, &sent);
    assert_eq!(c.violations(), 0, "before the fence");
    let world = World::new(WorldSpec::default(), 1, now);
    let reason = "+selected-slave".into();
    c.event(now, Event::FenceRaised { old, reason }, &world);
    c.sent(now, &sent);
    assert_eq!(c.violations(), 1);
    assert!(c.report.violations[0].contains("EXEC"));
}

#[test]
fn a_half_applied_transaction_is_caught_on_any_node() {
    let (mut c, mut world, cfg, now) = setup();
    c.submitted(now, RequestId(1), Unit::Transaction(1));
    c.reply(now, RequestId(1), Ok(ints(&[1, 1, 1, 1])));
    assert_eq!(c.violations(), 0);
    for k in ["x:1:a", "x:1:b", "tx:a", "tx:b"] {
        ran(&mut world, 0, k, 1, Some("1"));
    }
    // A replica holds one half of it: a transaction replicated in two pieces.
    ran(&mut world, 1, "x:1:a", 0, Some("1"));
    let r = finish(c, &world, &cfg, now);
    assert!(has(&r, "half-applied"), "{:?}", r.violations);
    assert_eq!(r.acked_transactions, 1);
    assert_eq!(r.acked_lost, 0);
}

#[test]
fn an_acked_transaction_must_survive_whole_and_keep_the_pair_equal() {
    let (mut c, mut world, cfg, now) = setup();
    c.submitted(now, RequestId(1), Unit::Transaction(1));
    c.reply(now, RequestId(1), Ok(ints(&[1, 1, 1, 1])));
    ran(&mut world, 0, "x:1:a", 1, Some("1"));
    ran(&mut world, 0, "x:1:b", 1, None);
    ran(&mut world, 0, "tx:a", 1, Some("1"));
    let r = finish(c, &world, &cfg, now);
    assert!(has(&r, "half-applied"), "{:?}", r.violations);
    assert!(
        has(&r, "tx:a = Some(\"1\") but tx:b = None"),
        "{:?}",
        r.violations
    );
    assert!(
        has(&r, "acknowledged write(s) missing"),
        "{:?}",
        r.violations
    );
    assert_eq!(r.acked_lost, 1);
}

#[test]
fn an_exec_reply_with_the_pair_apart_is_not_its_own() {
    let (mut c, _, _, now) = setup();
    c.submitted(now, RequestId(1), Unit::Transaction(1));
    c.reply(now, RequestId(1), Ok(ints(&[1, 1, 2, 3])));
    assert!(c.report.violations[0].contains("moved apart"));
    c.submitted(now, RequestId(2), Unit::Poisoned(2));
    c.reply(now, RequestId(2), Ok(ints(&[2])));
    assert!(c.report.violations[1].contains("refused at queue time ran"));
}

#[test]
fn refused_and_unsent_writes_must_not_have_run() {
    let (mut c, mut world, cfg, now) = setup();
    let readonly = Value::Error(ByteStr::copy_from_slice(b"READONLY no"));
    c.submitted(now, RequestId(1), Unit::One(write("w:1", 1)));
    c.reply(now, RequestId(1), Ok(readonly.clone()));
    let batch = Unit::Batch(vec![write("p:2:0", 2), Expect::Echo("e".into())]);
    c.submitted(now, RequestId(2), batch);
    let e = Value::Bulk(ByteStr::copy_from_slice(b"e"));
    c.reply(now, RequestId(2), Ok(Value::Array(vec![readonly, e])));
    c.submitted(now, RequestId(3), Unit::Transaction(3));
    c.reply(now, RequestId(3), Err(CommandError::FenceTimeout));
    ran(&mut world, 1, "w:1", 1, Some("1"));
    ran(&mut world, 0, "p:2:0", 1, Some("2"));
    ran(&mut world, 2, "x:3:a", 1, Some("3"));
    ran(&mut world, 2, "x:3:b", 1, Some("3"));
    let r = finish(c, &world, &cfg, now);
    let v = r
        .violations
        .iter()
        .find(|v| v.contains("ran although"))
        .expect("refused writes ran");
    assert!(v.starts_with("at 0ns: 4 write(s)"), "{v}");
    assert_eq!(r.proven_not_run, 4);
}

#[test]
fn a_pipeline_runs_a_prefix_and_nothing_twice() {
    let (mut c, mut world, cfg, now) = setup();
    let batch = Unit::Batch(vec![write("p:1:0", 1), write("p:1:1", 1)]);
    c.submitted(now, RequestId(1), batch);
    c.reply(
        now,
        RequestId(1),
        Err(CommandError::ConnectionLost { sent: true }),
    );
    c.submitted(now, RequestId(2), Unit::One(write("w:2", 2)));
    c.reply(now, RequestId(2), Ok(Value::Integer(2)));
    ran(&mut world, 0, "p:1:1", 1, Some("1"));
    ran(&mut world, 0, "w:2", 1, Some("2"));
    ran(&mut world, 1, "w:2", 1, Some("2"));
    let r = finish(c, &world, &cfg, now);
    assert!(has(&r, "ran a write after one"), "{:?}", r.violations);
    assert!(has(&r, "w:2 ran 2 times"), "{:?}", r.violations);
    assert_eq!(r.units_in_doubt, 1);
}
