//! The simulator's self-tests. The simulated world on its own, driven by a scripted client,
//! behaves as Redis and Sentinel do: replies, replication with lag, auth and `HELLO`
//! fallbacks, the failover's event order and timing, faults, the Sans-IO contract checks,
//! determinism. And the invariant checker catches a client that breaks an invariant.
//! The `Machine` under faults is tested in `simulator.rs`.

use bytes::{Bytes, BytesMut};
use resp_sentinel_core::sentinel::{Addr, ConnId, Output, PeerKind, Role};
use resp_sentinel_core::sim::sentinel::{Behavior, Garbage};
use resp_sentinel_core::sim::{
    Delivery, Fault, NodeSel, Schedule, Sim, SimConfig, World, WorldSpec,
};
use resp_sentinel_core::{cmd, Cmd, Decoder, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[path = "sim_self/scripted.rs"]
mod scripted;
use scripted::Scripted;

fn bulk(s: &str) -> Value {
    Value::Bulk(resp_sentinel_core::ByteStr::copy_from_slice(s.as_bytes()))
}

fn err_starts(v: &Value, prefix: &str) -> bool {
    matches!(v, Value::Error(e) if e.starts_with(prefix.as_bytes()))
}

#[test]
fn world_answers_like_redis_and_replicates_with_lag() {
    let mut s = Scripted::new(WorldSpec::default(), 1);
    let sen = s.connect(26379);
    assert_eq!(
        s.call(
            sen,
            cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg("mymaster")
        ),
        Value::Array(vec![bulk("127.0.0.1"), bulk("6379")])
    );
    assert_eq!(
        s.call(
            sen,
            cmd("SENTINEL").arg("get-master-addr-by-name").arg("other")
        ),
        Value::Null
    );
    let m = s.connect(6379);
    let r = s.connect(6380);
    assert_eq!(s.call(m, cmd("INCRBY").arg("k").arg(5)), Value::Integer(5));
    assert_eq!(s.call(m, cmd("INCR").arg("k")), Value::Integer(6));
    s.run(Duration::from_millis(10));
    assert_eq!(
        s.call(r, cmd("GET").arg("k")),
        bulk("6"),
        "replicated after the lag"
    );
    assert!(err_starts(
        &s.call(r, cmd("SET").arg("k").arg(1)),
        "READONLY"
    ));
    assert_eq!(s.reveals, vec![Addr::new("127.0.0.1", 6380)]);
    let role = s.call(r, cmd("ROLE"));
    assert!(matches!(&role, Value::Array(a) if a[0] == bulk("slave") && a[3] == bulk("connected")));
    let role = s.call(m, cmd("ROLE"));
    assert!(
        matches!(&role, Value::Array(a) if a[0] == bulk("master") && matches!(&a[2], Value::Array(r) if r.len() == 2))
    );
    // RESP3 after HELLO 3: SENTINEL replicas entries become maps, in Redis 7's field order.
    assert!(matches!(s.call(sen, cmd("HELLO").arg(3)), Value::Map(_)));
    let reps = s.call(sen, cmd("SENTINEL").arg("replicas").arg("mymaster"));
    let Value::Array(list) = reps else {
        panic!("{reps:?}")
    };
    assert_eq!(list.len(), 2);
    let Value::Map(fields) = &list[0] else {
        panic!()
    };
    assert_eq!(fields[1], (bulk("ip"), bulk("127.0.0.1")));
    assert!(fields.contains(&(bulk("master-link-status"), bulk("ok"))));
    let peers = s.call(sen, cmd("SENTINEL").arg("sentinels").arg("mymaster"));
    assert!(matches!(peers, Value::Array(ref p) if p.len() == 2));
    // SELECT isolates databases; ECHO echoes.
    assert_eq!(
        s.call(m, cmd("SELECT").arg(2)),
        Value::SimpleString(resp_sentinel_core::ByteStr::from_static(b"OK"))
    );
    assert_eq!(s.call(m, cmd("GET").arg("k")), Value::Null);
    assert_eq!(s.call(m, cmd("ECHO").arg("hi")), bulk("hi"));
}

#[test]
fn world_auth_hello_fallbacks_and_loading() {
    let spec = WorldSpec {
        data_auth: Some(resp_sentinel_core::sentinel::Credentials::user("app", "pw")),
        hello: resp_sentinel_core::sim::session::HelloSupport::NoProto,
        ..WorldSpec::default()
    };
    let mut s = Scripted::new(spec, 2);
    let m = s.connect(6379);
    assert!(err_starts(&s.call(m, cmd("GET").arg("k")), "NOAUTH"));
    assert!(err_starts(
        &s.call(m, cmd("AUTH").arg("app").arg("no")),
        "WRONGPASS"
    ));
    assert!(err_starts(
        &s.call(m, cmd("HELLO").arg(3).arg("AUTH").arg("app").arg("pw")),
        "NOPROTO"
    ));
    assert!(
        matches!(
            s.call(m, cmd("HELLO").arg(2).arg("AUTH").arg("app").arg("pw")),
            Value::Array(_)
        ),
        "RESP2 HELLO reply is a flat array"
    );
    assert_eq!(s.call(m, cmd("GET").arg("k")), Value::Null);
    let t = s.world.now();
    s.world
        .schedule(t, Fault::Loading(NodeSel::Index(0), Duration::from_secs(1)));
    s.run(Duration::from_millis(1));
    assert!(err_starts(&s.call(m, cmd("GET").arg("k")), "LOADING"));
    s.run(Duration::from_secs(1));
    assert_eq!(s.call(m, cmd("GET").arg("k")), Value::Null);
}

fn simple(s: &'static str) -> Value {
    Value::SimpleString(resp_sentinel_core::ByteStr::from_static(s.as_bytes()))
}

#[test]
fn world_runs_transactions_like_redis() {
    let mut s = Scripted::new(WorldSpec::default(), 5);
    let (m, other, rep) = (s.connect(6379), s.connect(6379), s.connect(6380));
    let (ok, queued) = (simple("OK"), simple("QUEUED"));
    assert!(err_starts(
        &s.call(m, cmd("EXEC")),
        "ERR EXEC without MULTI"
    ));
    assert!(err_starts(
        &s.call(m, cmd("DISCARD")),
        "ERR DISCARD without MULTI"
    ));
    assert_eq!(s.call(m, cmd("MULTI")), ok);
    assert!(err_starts(
        &s.call(m, cmd("MULTI")),
        "ERR MULTI calls can not be nested"
    ));
    assert_eq!(s.call(m, cmd("INCR").arg("a")), queued);
    assert_eq!(s.call(m, cmd("INCRBY").arg("b").arg(5)), queued);
    // Nothing runs before EXEC; another connection is not in the transaction.
    assert_eq!(s.call(other, cmd("GET").arg("a")), Value::Null);
    assert_eq!(s.call(other, cmd("INCR").arg("c")), Value::Integer(1));
    let master = Addr::new("127.0.0.1", 6379);
    let offset = s.world.node(&master).unwrap().offset;
    assert_eq!(
        s.call(m, cmd("EXEC")),
        Value::Array(vec![Value::Integer(1), Value::Integer(5)]),
        "the nested MULTI did not discard it"
    );
    assert_eq!(
        s.world.node(&master).unwrap().offset,
        offset + 1,
        "replicated as one entry"
    );
    s.run(Duration::from_millis(10));
    assert_eq!(s.call(rep, cmd("GET").arg("b")), bulk("5"));
    // DISCARD drops the queue.
    assert_eq!(s.call(m, cmd("MULTI")), ok);
    assert_eq!(s.call(m, cmd("INCR").arg("a")), queued);
    assert_eq!(s.call(m, cmd("DISCARD")), ok);
    assert_eq!(s.call(m, cmd("GET").arg("a")), bulk("1"));
    // A refusal at queue time (unknown command, wrong arity) discards the whole transaction.
    assert_eq!(s.call(m, cmd("MULTI")), ok);
    assert_eq!(s.call(m, cmd("INCR").arg("a")), queued);
    assert!(err_starts(&s.call(m, cmd("NOSUCH")), "ERR unknown command"));
    assert!(err_starts(
        &s.call(m, cmd("INCRBY").arg("a")),
        "ERR wrong number of arguments"
    ));
    let abort = "EXECABORT Transaction discarded because of previous errors.";
    assert!(err_starts(&s.call(m, cmd("EXEC")), abort));
    assert_eq!(s.call(m, cmd("GET").arg("a")), bulk("1"), "nothing ran");
    // On a replica a write is refused at queue time (the reply reveals it), and EXEC discards.
    assert_eq!(s.call(rep, cmd("MULTI")), ok);
    assert_eq!(s.call(rep, cmd("GET").arg("a")), queued);
    assert!(s.reveals.is_empty());
    assert!(err_starts(&s.call(rep, cmd("INCR").arg("a")), "READONLY"));
    assert_eq!(s.reveals, vec![Addr::new("127.0.0.1", 6380)]);
    assert!(err_starts(&s.call(rep, cmd("EXEC")), abort));
    // A connection closed inside MULTI takes its transaction with it.
    assert_eq!(s.call(other, cmd("MULTI")), ok);
    assert_eq!(s.call(other, cmd("INCR").arg("z")), queued);
    s.world.on_output(&Output::Close { conn: other }).unwrap();
    let again = s.connect(6379);
    assert_eq!(s.call(again, cmd("GET").arg("z")), Value::Null);
    assert_eq!(
        s.call(again, cmd("INCR").arg("z")),
        Value::Integer(1),
        "not queued"
    );
    // Writes queued on a master that turns replica before EXEC: EXEC refuses them by name.
    assert_eq!(s.call(m, cmd("MULTI")), ok);
    assert_eq!(s.call(m, cmd("INCR").arg("y")), queued);
    let t = s.world.now();
    s.world
        .schedule(t, Fault::MasterTurnsReplica(Duration::from_secs(1)));
    s.run(Duration::from_millis(1));
    assert!(err_starts(
        &s.call(m, cmd("EXEC")),
        "EXECABORT Transaction discarded because of: READONLY"
    ));
    assert_eq!(s.reveals.last(), Some(&master), "the abort reveals it too");
    assert_eq!(s.call(m, cmd("GET").arg("y")), Value::Null);
}

#[test]
fn world_cuts_data_messages_in_two_and_keeps_them_in_order() {
    let spec = WorldSpec {
        segment: 1,
        ..WorldSpec::default()
    };
    let mut s = Scripted::new(spec, 6);
    let m = s.connect(6379);
    let mut bytes = BytesMut::new();
    for c in [
        cmd("MULTI"),
        cmd("INCR").arg("a"),
        cmd("INCR").arg("b"),
        cmd("EXEC"),
        cmd("GET").arg("a"),
    ] {
        bytes.extend_from_slice(&c.to_bytes());
    }
    let before = s.received;
    s.world
        .on_output(&Output::Transmit {
            conn: m,
            bytes: bytes.freeze(),
        })
        .unwrap();
    s.run(Duration::from_millis(30));
    let (ok, queued) = (simple("OK"), simple("QUEUED"));
    let exec = Value::Array(vec![Value::Integer(1), Value::Integer(1)]);
    assert_eq!(
        s.replies[&m],
        vec![ok, queued.clone(), queued, exec, bulk("1")]
    );
    assert!(s.received - before >= 2, "cut on the way in and out");
}

fn event_channels(replies: &[Value]) -> Vec<(String, String)> {
    replies
        .iter()
        .filter_map(|v| match v {
            Value::Array(a) if a.len() == 4 && a[0] == bulk("pmessage") => {
                let s = |v: &Value| match v {
                    Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::new(),
                };
                Some((s(&a[2]), s(&a[3])))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn world_failover_follows_redis_order_and_old_master_discards_late_writes() {
    let mut s = Scripted::new(WorldSpec::default(), 3);
    let sub = s.connect(26379);
    s.send(sub, cmd("PSUBSCRIBE").arg("*"));
    let old = s.connect(6379);
    assert_eq!(
        s.call(old, cmd("SET").arg("before").arg("1")),
        Value::SimpleString(resp_sentinel_core::ByteStr::from_static(b"OK"))
    );
    s.run(Duration::from_millis(50));
    let t = s.world.now();
    s.world.schedule(t, Fault::ForcedFailover { leader: 0 });
    s.run(Duration::from_secs(3));
    let rec = s.world.failovers()[0].clone();
    let new = rec.new.clone().expect("a replica was promoted");
    assert!(rec.switched_at.is_some() && rec.demoted_at.is_none());
    // The old master is still writable after +switch-master: the fence window.
    assert_eq!(
        s.call(old, cmd("SET").arg("late").arg("1")),
        Value::SimpleString(resp_sentinel_core::ByteStr::from_static(b"OK"))
    );
    let events = event_channels(s.replies.get(&sub).map(Vec::as_slice).unwrap_or(&[]));
    let names: Vec<&str> = events.iter().map(|(c, _)| c.as_str()).collect();
    let expected = [
        "+new-epoch",
        "+try-failover",
        "+elected-leader",
        "+failover-state-select-slave",
        "+selected-slave",
        "+failover-state-send-slaveof-noone",
        "+failover-state-wait-promotion",
        "-role-change",
        "+promoted-slave",
        "+failover-state-reconf-slaves",
        "+slave-reconf-sent",
        "+slave-reconf-inprog",
        "+slave-reconf-done",
        "+failover-end",
        "+switch-master",
        "+slave",
    ];
    let mut it = names.iter();
    for e in expected {
        assert!(
            it.any(|n| *n == e),
            "{e} missing or out of order in {names:?}"
        );
    }
    let (_, payload) = events.iter().find(|(c, _)| c == "+switch-master").unwrap();
    assert_eq!(
        payload,
        &format!("mymaster 127.0.0.1 6379 127.0.0.1 {}", new.port)
    );
    let (_, sel) = events.iter().find(|(c, _)| c == "+selected-slave").unwrap();
    assert_eq!(
        sel,
        &format!(
            "slave 127.0.0.1:{p} 127.0.0.1 {p} @ mymaster 127.0.0.1 6379",
            p = new.port
        )
    );
    // ~10 s later the old master is reconfigured: its late write is discarded, clients killed.
    s.run(Duration::from_secs(12));
    let rec = s.world.failovers()[0].clone();
    assert!(rec.demoted_at.is_some());
    assert!(s.closed.contains(&old));
    let old_node = s.world.node(&Addr::new("127.0.0.1", 6379)).unwrap();
    assert!(!old_node.is_master());
    assert!(
        old_node.get(0, b"late").is_none(),
        "acked late write discarded on demotion"
    );
    assert!(old_node.get(0, b"before").is_some());
    assert!(s.world.node(&new).unwrap().get(0, b"before").is_some());
    let names: Vec<String> = event_channels(&s.replies[&sub])
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    assert!(names.contains(&"+convert-to-slave".to_string()));
}

#[test]
fn world_faults_refuse_partition_garbage_and_contract_checks() {
    let mut s = Scripted::new(WorldSpec::default(), 4);
    let t = s.world.now();
    s.world.schedule(
        t,
        Fault::RefuseConnects(NodeSel::Index(1), Duration::from_secs(1)),
    );
    s.world.schedule(
        t,
        Fault::Sentinel(
            1,
            Behavior::Garbage(Garbage::NotResp),
            Duration::from_secs(5),
        ),
    );
    s.world.schedule(
        t,
        Fault::Sentinel(
            2,
            Behavior::Lies(Addr::new("127.0.0.1", 6380)),
            Duration::from_secs(5),
        ),
    );
    s.run(Duration::from_millis(1));
    let c = s.connect(6380);
    assert_eq!(s.failed, vec![c]);
    // Garbage: raw bytes that are not RESP.
    s.next += 1;
    let g = ConnId(s.next);
    s.world
        .on_output(&Output::Connect {
            conn: g,
            addr: Addr::new("127.0.0.1", 26380),
            kind: PeerKind::Sentinel,
        })
        .unwrap();
    s.run(Duration::from_millis(10));
    s.send(
        g,
        cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg("mymaster"),
    );
    let mut got = Vec::new();
    let end = s.now + Duration::from_millis(20);
    while let Some(t) = s.world.next_event_at().filter(|t| *t <= end) {
        for d in s.world.advance(t) {
            if let Delivery::Received { bytes, .. } = d {
                got.extend_from_slice(&bytes);
            }
        }
    }
    assert_eq!(&got[..], Garbage::NotResp.bytes());
    let liar = s.connect(26381);
    assert_eq!(
        s.call(
            liar,
            cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg("mymaster")
        ),
        Value::Array(vec![bulk("127.0.0.1"), bulk("6380")])
    );
    // Partition: bytes are held, then delivered in order when it heals.
    let m = s.connect(6379);
    let t = s.world.now();
    s.world.schedule(
        t,
        Fault::Partition(NodeSel::CurrentMaster, Duration::from_secs(2)),
    );
    s.run(Duration::from_millis(1));
    s.send(m, cmd("ECHO").arg("a"));
    s.send(m, cmd("ECHO").arg("b"));
    s.run(Duration::from_secs(1));
    assert!(s.replies.get(&m).is_none_or(|r| r.is_empty()));
    s.run(Duration::from_secs(2));
    assert_eq!(s.replies[&m], vec![bulk("a"), bulk("b")]);
    // The world rejects outputs that break the Sans-IO contract.
    assert!(s
        .world
        .on_output(&Output::Transmit {
            conn: ConnId(999),
            bytes: cmd("PING").to_bytes()
        })
        .is_err());
    assert!(s
        .world
        .on_output(&Output::Connect {
            conn: m,
            addr: Addr::new("127.0.0.1", 6379),
            kind: PeerKind::Sentinel
        })
        .is_err());
    s.world.on_output(&Output::Close { conn: m }).unwrap();
    assert!(s
        .world
        .on_output(&Output::Transmit {
            conn: m,
            bytes: cmd("PING").to_bytes()
        })
        .is_err());
    assert!(s
        .world
        .on_output(&Output::Transmit {
            conn: liar,
            bytes: Bytes::from_static(b"GET k\r\n")
        })
        .is_err());
}

#[test]
fn world_is_deterministic() {
    let run = |seed| {
        let mut s = Scripted::new(WorldSpec::default(), seed);
        let m = s.connect(6379);
        let t = s.world.now();
        s.world.schedule(
            t + Duration::from_millis(30),
            Fault::ForcedFailover { leader: 1 },
        );
        for i in 0..50 {
            s.send(m, cmd("INCRBY").arg("k").arg(i));
            s.run(Duration::from_millis(7));
        }
        s.run(Duration::from_secs(20));
        let f = s.world.failovers()[0].clone();
        (
            f.switched_at.map(|t| t - s.world.failovers()[0].started),
            f.new,
            s.world.events_processed,
        )
    };
    assert_eq!(run(9), run(9));
}

// ---------------------------------------------------------------------------------------------
// The invariant checker.

#[test]
fn invariant_checker_catches_a_client_that_ignores_failovers() {
    // A deliberately naive client (always the initial master, no sentinel, no fence) must be
    // caught losing acknowledged writes and writing past the fence: proves the invariants can
    // fail (the checker's rules for units of work are tested one by one in the crate).
    let cfg = SimConfig::new(500);
    let s = Schedule::none().at(Duration::from_secs(3), Fault::ForcedFailover { leader: 0 });
    let r = Sim::new(cfg, s, naive::Naive::default(), Instant::now()).run();
    assert!(
        r.violations
            .iter()
            .any(|v| v.contains("acknowledged write(s) missing")),
        "{:?}",
        r.violations
    );
    assert!(r.acked_lost > 0);
    // Once the demoted master answers -READONLY, it keeps sending there: writes and EXECs.
    assert!(
        r.violations
            .iter()
            .any(|v| v.contains("\"EXEC\"]") && v.contains("after the client learned")),
        "{:?}",
        r.violations
    );
    assert!(r.acked_transactions > 0 && r.acked_batches > 0, "{r}");
}

#[path = "sim_self/naive.rs"]
mod naive;
