//! Typed commands (`resp_sentinel::core::typed`), SCAN-family iteration and scripts with the
//! NOSCRIPT fallback, against a real server on every runtime.

#[macro_use]
mod support;

use resp_sentinel::cmd;
use resp_sentinel::core::sentinel::Role;
use resp_sentinel::core::typed::{self, ScanOver, Script};
use resp_sentinel_tests::TopologyOptions;
use std::collections::{BTreeSet, HashMap};
use support::{config_for, topology, Rt, TestClient};

fn small() -> TopologyOptions {
    TopologyOptions {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        ..TopologyOptions::default()
    }
}

fn families_scan_and_scripts(rt: Rt) {
    let topo = topology(small());
    let c = TestClient::new(rt, config_for(&topo), Role::Master);
    // Strings.
    c.typed(typed::mset([("s1", "a"), ("s2", "b")])).unwrap();
    let got: Vec<Option<String>> = c.typed(typed::mget(["s1", "nope", "s2"])).unwrap();
    assert_eq!(got, [Some("a".into()), None, Some("b".into())]);
    assert_eq!(c.typed(typed::incrby("n", 5)).unwrap(), 5);
    assert_eq!(c.typed(typed::incrbyfloat("f", 1.5)).unwrap(), 1.5);
    assert_eq!(c.typed(typed::append("s1", "bc")).unwrap(), 3);
    // Hashes.
    assert_eq!(
        c.typed(typed::hset("h", [("f1", "1"), ("f2", "2")]))
            .unwrap(),
        2
    );
    assert_eq!(c.typed(typed::hget::<i64>("h", "f2")).unwrap(), Some(2));
    let all: HashMap<String, i64> = c.typed(typed::hgetall("h")).unwrap();
    assert_eq!(all.len(), 2);
    assert!(c.typed(typed::hexists("h", "f1")).unwrap());
    assert_eq!(c.typed(typed::hincrby("h", "f1", 10)).unwrap(), 11);
    // Lists.
    assert_eq!(c.typed(typed::rpush("l", ["x", "y", "z"])).unwrap(), 3);
    let l: Vec<String> = c.typed(typed::lrange("l", 0, -1)).unwrap();
    assert_eq!(l, ["x", "y", "z"]);
    assert_eq!(
        c.typed(typed::lpop::<String>("l")).unwrap().as_deref(),
        Some("x")
    );
    // Sets and sorted sets.
    assert_eq!(c.typed(typed::sadd("set", ["a", "b", "a"])).unwrap(), 2);
    assert!(c.typed(typed::sismember("set", "b")).unwrap());
    assert_eq!(
        c.typed(typed::zadd("z", [(1.5, "m"), (0.5, "n")])).unwrap(),
        2
    );
    assert_eq!(c.typed(typed::zscore("z", "m")).unwrap(), Some(1.5));
    let by_rank: Vec<String> = c.typed(typed::zrange("z", 0, -1)).unwrap();
    assert_eq!(by_rank, ["n", "m"]);
    // Keys and expiry.
    assert_eq!(c.typed(typed::exists(["s1", "h", "nope"])).unwrap(), 2);
    assert!(c.typed(typed::expire("s1", 100)).unwrap());
    assert!((1..=100).contains(&c.typed(typed::ttl("s1")).unwrap()));
    assert_eq!(c.typed(typed::key_type("z")).unwrap(), "zset");
    // Typed tuples from a transaction.
    let (added, value): (u64, Option<String>) = c
        .transaction(vec![
            typed::hset("t", [("k", "v")]).into(),
            typed::hget::<String>("t", "k").into(),
        ])
        .unwrap();
    assert_eq!((added, value.as_deref()), (1, Some("v")));
    let (len, first): (u64, Option<String>) = c
        .pipeline_as(vec![
            typed::llen("l").into(),
            typed::lindex::<String>("l", 0).into(),
        ])
        .unwrap();
    assert_eq!((len, first.as_deref()), (2, Some("y")));

    // SCAN: every matching key exactly once, over many pages.
    for i in 0..250 {
        c.query::<()>(cmd("SET").arg(format!("scan:{i}")).arg(i))
            .unwrap();
    }
    let keys = c.scan_all(ScanOver::Keys, Some(b"scan:*")).unwrap();
    let distinct: BTreeSet<_> = keys.iter().cloned().collect();
    assert_eq!(distinct.len(), 250, "{} items", keys.len());
    assert!(distinct.iter().all(|k| k.starts_with(b"scan:")));
    let fields = c
        .scan_all(ScanOver::Hash(bytes::Bytes::from_static(b"h")), None)
        .unwrap();
    assert_eq!(fields.len(), 4, "fields and values in turn: {fields:?}");

    // Scripts: the first call after SCRIPT FLUSH falls back to EVAL (NOSCRIPT), which loads it.
    c.query::<()>(cmd("SCRIPT").arg("FLUSH")).unwrap();
    let script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let exists: Vec<i64> = c
        .query(cmd("SCRIPT").arg("EXISTS").arg(script.sha1()))
        .unwrap();
    assert_eq!(exists, [0]);
    assert_eq!(c.eval::<i64>(&script, &["sc"], &["2"]).unwrap(), 2);
    let exists: Vec<i64> = c
        .query(cmd("SCRIPT").arg("EXISTS").arg(script.sha1()))
        .unwrap();
    assert_eq!(exists, [1], "EVAL loaded it");
    assert_eq!(c.eval::<i64>(&script, &["sc"], &["3"]).unwrap(), 5);
    let bad = Script::new("return redis.call('NOSUCHCOMMAND')");
    assert!(matches!(
        c.eval::<i64>(&bad, &[], &[]),
        Err(resp_sentinel::Error::Server(_))
    ));
}

on_every_runtime!(families_scan_and_scripts);
