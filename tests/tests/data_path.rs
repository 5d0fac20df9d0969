//! The data path on every runtime, against real servers (and a fake one for the flood):
//! pipelines and transactions as units that other callers cannot split, transaction-control
//! commands refused on the shared connection, per-command timeouts, transactions through a
//! forced failover, and a reply flood that ends in a typed error.

#[macro_use]
mod support;

use resp_sentinel::core::sentinel::{Addr, Config, Role};
use resp_sentinel::core::ProtocolErrorKind;
use resp_sentinel::{cmd, Error, SubmitOptions, Value};
use resp_sentinel_tests::fake::{handshake, Answer, FakeSentinel, FakeServer};
use resp_sentinel_tests::TopologyOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::{config_for, topology, Rt, TestClient};

fn opts() -> TopologyOptions {
    TopologyOptions::default().down_after(Duration::from_millis(1500))
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// Transactions from two callers beside plain INCRs and GETs from three others, all on one
/// client: every transaction's replies are its own (the pair moves together), no plain
/// command is answered `QUEUED`, and the counters add up.
fn transactions_beside_concurrent_commands(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    let per_thread = 300;
    let anomalies = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..per_thread {
                    let r: Vec<Value> = client
                        .transaction(vec![cmd("INCR").arg("tx:a"), cmd("INCR").arg("tx:b")])
                        .expect("transaction");
                    if r.len() != 2 || int(&r[0]) != int(&r[1]) {
                        anomalies.lock().unwrap().push(format!("pair split: {r:?}"));
                    }
                }
            });
        }
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..per_thread {
                    let n: Value = client.query(cmd("INCR").arg("tx:c")).expect("INCR");
                    if !matches!(n, Value::Integer(_)) {
                        anomalies.lock().unwrap().push(format!("INCR got {n:?}"));
                    }
                    let g: Value = client.query(cmd("GET").arg("tx:a")).expect("GET");
                    let text = match &g {
                        Value::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                        Value::Null => "0".into(),
                        other => format!("{other:?}"),
                    };
                    if text.parse::<i64>().is_err() {
                        anomalies.lock().unwrap().push(format!("GET got {g:?}"));
                    }
                }
            });
        }
    });
    let anomalies = anomalies.into_inner().unwrap();
    assert!(
        anomalies.is_empty(),
        "{} anomalies: {:?}",
        anomalies.len(),
        &anomalies[..anomalies.len().min(5)]
    );
    let a: i64 = client.query(cmd("GET").arg("tx:a")).unwrap();
    let b: i64 = client.query(cmd("GET").arg("tx:b")).unwrap();
    let c: i64 = client.query(cmd("GET").arg("tx:c")).unwrap();
    assert_eq!((a, b, c), (2 * per_thread, 2 * per_thread, 3 * per_thread));
}

/// A pipeline is one unit on the shared connection: a caller's SET and GET are adjacent even
/// while other callers of the same client write the same key.
fn pipelines_are_not_interleaved(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    let split = Mutex::new(0usize);
    std::thread::scope(|s| {
        for t in 0..3 {
            let (client, split) = (&client, &split);
            s.spawn(move || {
                for i in 0..300 {
                    let mine = format!("{t}-{i}");
                    let r = client
                        .pipeline(vec![
                            cmd("SET").arg("pl:k").arg(mine.as_str()),
                            cmd("GET").arg("pl:k"),
                        ])
                        .expect("pipeline");
                    let got = match &r[..] {
                        [_, Value::Bulk(b)] => String::from_utf8_lossy(b).into_owned(),
                        other => panic!("unexpected replies {other:?}"),
                    };
                    if got != mine {
                        *split.lock().unwrap() += 1;
                    }
                }
            });
        }
    });
    assert_eq!(
        *split.lock().unwrap(),
        0,
        "pipelines interleaved with other callers"
    );
    let r = client
        .pipeline(vec![
            cmd("INCR").arg("pl:n"),
            cmd("NOSUCHCMD"),
            cmd("INCR").arg("pl:n"),
        ])
        .unwrap();
    assert!(
        matches!(
            &r[..],
            [Value::Integer(1), Value::Error(_), Value::Integer(2)]
        ),
        "{r:?}"
    );
    assert!(client.pipeline(vec![]).unwrap().is_empty());
}

/// Raw transaction control is refused with the API to use; a discarded transaction is a typed
/// server error naming the refused command; a per-command timeout applies to that command.
fn transaction_errors_and_timeouts(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    for name in ["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"] {
        let err = client.query::<Value>(cmd(name).arg("k")).unwrap_err();
        match err {
            Error::Rejected(why) => assert!(why.contains("transaction"), "{name}: {why}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let err = client
        .transaction::<Vec<Value>>(vec![cmd("SET").arg("te:k").arg(1), cmd("NOSUCHCMD")])
        .unwrap_err();
    match err {
        Error::Server(e) => assert!(e.to_string().contains("unknown command"), "{e}"),
        other => panic!("{other:?}"),
    }
    let exists: i64 = client.query(cmd("EXISTS").arg("te:k")).unwrap();
    assert_eq!(exists, 0, "a discarded transaction ran nothing");
    // A 2 s BLPOP with its own 5 s timeout succeeds although command_timeout is 1 s...
    let mut config = config_for(&topo);
    config.command_timeout = Duration::from_secs(1);
    let quick = TestClient::new(rt, config, Role::Master);
    let long = SubmitOptions::default().with_timeout(Duration::from_secs(5));
    let started = Instant::now();
    let v: Value = quick
        .query_with(cmd("BLPOP").arg("te:empty").arg(2), long)
        .expect("BLPOP within its own timeout");
    assert_eq!(v, Value::Null);
    assert!(started.elapsed() >= Duration::from_millis(1900));
    // ...and a 300 ms timeout cuts a 3 s one short.
    let short = SubmitOptions::default().with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = quick
        .query_with::<Value>(cmd("BLPOP").arg("te:empty").arg(3), short)
        .unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(quick.incr("te:after").unwrap(), 1, "the client recovers");
}

/// Transactions keep running through a forced failover: every acknowledged one moved both
/// counters together, and none is lost (the final counters hold every acknowledged value).
fn transactions_through_a_forced_failover(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    assert_eq!(client.incr("warmup").unwrap(), 1);
    let stop = AtomicBool::new(false);
    let acked = Mutex::new(Vec::<i64>::new());
    let split = Mutex::new(0usize);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let r: Result<Vec<Value>, Error> =
                    client.transaction(vec![cmd("INCR").arg("ft:a"), cmd("INCR").arg("ft:b")]);
                if let Ok(r) = r {
                    if int(&r[0]) != int(&r[1]) {
                        *split.lock().unwrap() += 1;
                    }
                    acked.lock().unwrap().push(int(&r[0]));
                }
            }
        });
        std::thread::sleep(Duration::from_millis(500));
        let old = topo.failover().expect("SENTINEL FAILOVER");
        topo.wait_for_new_master(&old, Duration::from_secs(60))
            .expect("new master");
        let at_switch = acked.lock().unwrap().len();
        std::thread::sleep(Duration::from_secs(1));
        support::eventually(Duration::from_secs(20), || {
            let now = acked.lock().unwrap().len();
            if now > at_switch {
                Ok(())
            } else {
                Err(format!(
                    "no transaction acknowledged after the switch ({now})"
                ))
            }
        });
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(*split.lock().unwrap(), 0);
    let acked = acked.into_inner().unwrap();
    assert!(
        acked.len() > 10,
        "only {} transactions acknowledged",
        acked.len()
    );
    let a: i64 = client.query(cmd("GET").arg("ft:a")).unwrap();
    let b: i64 = client.query(cmd("GET").arg("ft:b")).unwrap();
    assert_eq!(a, b, "the counters moved together");
    support::audit_counter(&acked, a);
}

/// A data node that answers with an endless array: the command fails with a typed protocol
/// error once the reply passes `max_reply_len`, and the client reconnects instead of growing.
fn reply_flood_from_a_fake_node(rt: Rt) {
    let node = FakeServer::start(|w| {
        if let Some(a) = handshake(w) {
            return a;
        }
        Answer::Flood {
            head: b"*4294967295\r\n".to_vec(),
            chunk: b"$3\r\nabc\r\n".to_vec(),
            limit: 64 << 20,
        }
    });
    let sentinel = FakeSentinel::naming(node.addr());
    let mut config = Config::new(vec![sentinel.addr()], "flood");
    config.max_reply_len = 1 << 20;
    config.command_timeout = Duration::from_secs(20);
    let client = TestClient::new(rt, config, Role::Master);
    let started = Instant::now();
    let err = client
        .query::<Value>(cmd("LRANGE").arg("k").arg(0).arg(-1))
        .unwrap_err();
    match &err {
        Error::Protocol(e) => {
            assert!(
                matches!(e.kind, ProtocolErrorKind::FrameTooLong { max } if max == 1 << 20),
                "{e}"
            )
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        node.bytes_sent() < 48 << 20,
        "the client kept reading: {} bytes",
        node.bytes_sent()
    );
}

/// A pending BLPOP runs on a connection of its own: GETs beside it are answered at once, a
/// BLPOP longer than `command_timeout` is not cut short, and a push wakes the waiting one.
fn blocking_commands_stall_no_one(rt: Rt) {
    let topo = topology(opts());
    let mut config = config_for(&topo);
    config.command_timeout = Duration::from_secs(2);
    let client = TestClient::new(rt, config, Role::Master);
    client.query::<()>(cmd("SET").arg("bl:k").arg("v")).unwrap();
    std::thread::scope(|s| {
        let long = s.spawn(|| {
            let started = Instant::now();
            let v: Value = client
                .query(cmd("BLPOP").arg("bl:never").arg(3))
                .expect("BLPOP 3 s");
            (v, started.elapsed())
        });
        let woken = s.spawn(|| client.query::<Value>(cmd("BLPOP").arg("bl:q").arg(0)));
        std::thread::sleep(Duration::from_millis(200));
        let mut worst = Duration::ZERO;
        for _ in 0..50 {
            let started = Instant::now();
            let v: String = client.query(cmd("GET").arg("bl:k")).unwrap();
            assert_eq!(v, "v");
            worst = worst.max(started.elapsed());
        }
        assert!(
            worst < Duration::from_millis(500),
            "a GET waited {worst:?} behind BLPOP"
        );
        let pushed: i64 = client.query(cmd("RPUSH").arg("bl:q").arg("x")).unwrap();
        assert_eq!(pushed, 1);
        let got = woken.join().unwrap().expect("BLPOP 0 woken by the push");
        let items = match got {
            Value::Array(items) => items,
            other => panic!("{other:?}"),
        };
        assert_eq!(items.len(), 2);
        let (v, took) = long.join().unwrap();
        assert_eq!(v, Value::Null, "timed out on the server, not the client");
        assert!(took >= Duration::from_millis(2900), "{took:?}");
    });
}

/// Optimistic transactions on dedicated connections: WATCH ... MULTI ... EXEC retried on
/// conflict keeps a counter exact under contention; a failover ends a dedicated connection
/// with a clear error instead of moving it.
fn watch_on_dedicated_connections(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    let (per_thread, threads) = (40, 3);
    let conflicts = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let d = client.dedicated().expect("dedicated connection");
                for _ in 0..per_thread {
                    loop {
                        let _: () = d.query(cmd("WATCH").arg("w:n")).unwrap();
                        let now: Option<i64> = d.query(cmd("GET").arg("w:n")).unwrap();
                        let next = now.unwrap_or(0) + 1;
                        let done: Option<Vec<Value>> = d
                            .transaction(vec![cmd("SET").arg("w:n").arg(next)])
                            .unwrap();
                        if done.is_some() {
                            break;
                        }
                        *conflicts.lock().unwrap() += 1;
                    }
                }
            });
        }
        // Plain commands on the shared connection meanwhile are unaffected by any WATCH.
        for _ in 0..50 {
            assert!(client.incr("w:other").unwrap() > 0);
        }
    });
    let n: i64 = client.query(cmd("GET").arg("w:n")).unwrap();
    assert_eq!(
        n,
        per_thread * threads,
        "{} conflicts retried",
        conflicts.lock().unwrap()
    );
    // A failover ends a dedicated connection; a new one works on the new master.
    let d = client.dedicated().unwrap();
    let _: () = d.query(cmd("WATCH").arg("w:n")).unwrap();
    let old = topo.failover().expect("SENTINEL FAILOVER");
    let new = topo
        .wait_for_new_master(&old, Duration::from_secs(60))
        .unwrap();
    support::eventually(Duration::from_secs(20), || {
        match d.query::<Value>(cmd("GET").arg("w:n")) {
            Err(Error::DedicatedEnded(why)) => Ok(why),
            other => Err(format!("{other:?}")),
        }
    });
    support::eventually(Duration::from_secs(20), || {
        let d2 = client.dedicated().map_err(|e| e.to_string())?;
        let role: Vec<Value> = d2.query(cmd("ROLE")).map_err(|e| e.to_string())?;
        match (&role[..], client.master_addr()) {
            ([Value::Bulk(r), ..], Some(m)) if &r[..] == b"master" && m == new => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

/// A data node that drips its reply one byte every 200 ms: the command times out at its
/// deadline (1 s), the trickle of bytes does not keep it alive.
fn a_dripping_node_is_cut_off_at_the_deadline(rt: Rt) {
    let node = FakeServer::start(|w| {
        if let Some(a) = handshake(w) {
            return a;
        }
        Answer::Drip {
            bytes: b"$20\r\nabcdefghijklmnopqrst\r\n".to_vec(),
            gap: Duration::from_millis(200),
        }
    });
    let sentinel = FakeSentinel::naming(node.addr());
    let mut config = Config::new(vec![sentinel.addr()], "drip");
    config.command_timeout = Duration::from_secs(1);
    let client = TestClient::new(rt, config, Role::Master);
    assert_eq!(client.query::<String>(cmd("PING")).unwrap(), "PONG");
    let started = Instant::now();
    let err = client.query::<Value>(cmd("GET").arg("k")).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

/// An `events()` subscriber that registers once the client is ready learns the current state
/// first, not only the next change.
fn events_start_with_the_current_state(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    assert_eq!(client.incr("ev").unwrap(), 1);
    match client.first_event(Duration::from_secs(2)) {
        Some(resp_sentinel::core::sentinel::Event::Ready { addr, role, .. }) => {
            assert_eq!(Some(addr), topo.master_addr().ok());
            assert_eq!(role, Role::Master);
        }
        other => panic!("expected the current state first, got {other:?}"),
    }
}

/// Replica clients of one process spread over the replicas: each client is seeded on its own
/// (before, all used one fixed seed and read from the same replica).
fn replica_clients_spread_over_replicas(rt: Rt) {
    let topo = topology(opts());
    let mut ports = std::collections::BTreeSet::new();
    for _ in 0..16 {
        let client = TestClient::new(rt, config_for(&topo), Role::Replica);
        let port: Vec<String> = client.query(cmd("CONFIG").arg("GET").arg("port")).unwrap();
        ports.insert(port[1].clone());
    }
    let master = topo.master_addr().unwrap().port.to_string();
    assert!(
        !ports.contains(&master),
        "a replica client read from the master: {ports:?}"
    );
    assert_eq!(
        ports.len(),
        2,
        "16 replica clients all used one replica: {ports:?}"
    );
}

/// `subscribe` returns once the server confirmed: a message published right after it returns
/// arrives; dropping the last subscription to a channel unsubscribes the server.
fn subscribe_is_confirmed_and_dropping_unsubscribes(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    for round in 0..5 {
        let channel = format!("sub:ch{round}");
        let mut sub = client.subscribe(&channel);
        let receivers: i64 = client
            .query(cmd("PUBLISH").arg(channel.as_str()).arg("hi"))
            .unwrap();
        assert_eq!(
            receivers, 1,
            "round {round}: subscribed on the server when it returned"
        );
        let m = sub
            .next(Duration::from_secs(5))
            .expect("the message published right after");
        assert_eq!(&m.payload[..], b"hi");
        drop(sub);
        support::eventually(Duration::from_secs(5), || {
            let v: Vec<Value> = client
                .query(cmd("PUBSUB").arg("NUMSUB").arg(channel.as_str()))
                .map_err(|e| e.to_string())?;
            match &v[..] {
                [_, Value::Integer(0)] => Ok(()),
                other => Err(format!("{other:?}")),
            }
        });
    }
}

/// Sharded pub/sub: `ssubscribe` returns once confirmed, `SPUBLISH`ed messages arrive marked
/// sharded, and dropping the subscription unsubscribes the server.
fn sharded_pubsub(rt: Rt) {
    let topo = topology(opts());
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    let mut sub = client.ssubscribe("sh:orders");
    let receivers: i64 = client
        .query(cmd("SPUBLISH").arg("sh:orders").arg("42"))
        .unwrap();
    assert_eq!(receivers, 1, "subscribed on the server when it returned");
    let m = sub
        .next(Duration::from_secs(5))
        .expect("the sharded message");
    assert!(m.sharded && &m.payload[..] == b"42", "{m:?}");
    drop(sub);
    support::eventually(Duration::from_secs(5), || {
        let v: Vec<Value> = client
            .query(cmd("PUBSUB").arg("SHARDNUMSUB").arg("sh:orders"))
            .map_err(|e| e.to_string())?;
        match &v[..] {
            [_, Value::Integer(0)] => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

/// Sentinels configured as `localhost:P` are not added again as `127.0.0.1:P` when the others
/// announce them: each sentinel carries one notice subscription from the client, not two.
fn sentinels_named_localhost_are_not_doubled(rt: Rt) {
    let topo = topology(opts());
    let mut config = config_for(&topo);
    config.sentinels = topo
        .sentinel_addrs()
        .iter()
        .map(|a| Addr::new("localhost", a.port))
        .collect();
    let client = TestClient::new(rt, config, Role::Master);
    assert_eq!(client.incr("named").unwrap(), 1);
    // The first walk asked `SENTINEL sentinels` and opened every subscription it led to;
    // give late duplicates time to show, then require one subscriber, three times in a row.
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..3 {
        every_sentinel_has_subscribers(&topo, 1);
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `CLIENT LIST` of the sentinel at `a`.
fn client_list(topo: &resp_sentinel_tests::Topology, a: &Addr) -> Result<String, String> {
    let sa: std::net::SocketAddr = format!("127.0.0.1:{}", a.port).parse().unwrap();
    let mut conn = resp_sentinel_tests::AdminConn::connect(sa, Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    if let Some(auth) = &topo.options().sentinel_auth {
        conn.auth(auth.username.as_deref(), &auth.password)
            .map_err(|e| e.to_string())?;
    }
    let list = conn.call(&["CLIENT", "LIST"]).map_err(|e| e.to_string())?;
    Ok(list.as_str().unwrap_or_default().to_string())
}

/// Waits (up to 10 s) until every sentinel of `topo` has exactly `want` subscribed clients.
fn every_sentinel_has_subscribers(topo: &resp_sentinel_tests::Topology, want: usize) {
    for a in topo.sentinel_addrs() {
        support::eventually(Duration::from_secs(10), || {
            let text = client_list(topo, &a)?;
            let subscribers = text
                .lines()
                .filter(|l| l.split(' ').any(|f| f.starts_with("sub=") && f != "sub=0"))
                .count();
            if subscribers == want {
                Ok(())
            } else {
                Err(format!(
                    "{subscribers} subscriptions on {a} (want {want}): {text}"
                ))
            }
        });
    }
}

/// Our connections to the sentinels of `topo`: every client connection but the one asking
/// and the sentinels' links to each other (named `sentinel-...`).
fn our_sentinel_connections(topo: &resp_sentinel_tests::Topology) -> Result<usize, String> {
    let mut total = 0;
    for a in topo.sentinel_addrs() {
        total += client_list(topo, &a)?
            .lines()
            .filter(|l| {
                let fields: Vec<&str> = l.split(' ').collect();
                !fields.contains(&"cmd=client|list")
                    && !fields.iter().any(|f| f.starts_with("name=sentinel-"))
            })
            .count();
    }
    Ok(total)
}

/// Clients of one `Sentinel` share its sentinel connections: a second master client runs on
/// the first one's driver, and a replica client and a one-shot discovery, drivers of their
/// own, add no sentinel connection: one notice subscription per sentinel and one query
/// connection for them all. Once every client is dropped, the connections close.
fn clients_of_one_sentinel_share_a_driver(rt: Rt) {
    let topo = topology(opts());
    let mut family = TestClient::family(
        rt,
        config_for(&topo),
        &[Role::Master, Role::Master, Role::Replica],
    );
    let id = |c: &TestClient| -> i64 { c.query(cmd("CLIENT").arg("ID")).expect("CLIENT ID") };
    assert_eq!(
        id(&family[0]),
        id(&family[1]),
        "two master clients of one Sentinel, one data connection"
    );
    assert_eq!(family[1].incr("shared").unwrap(), 1);
    assert_eq!(family[0].incr("shared").unwrap(), 2);
    let _: Option<String> = family[2]
        .query(cmd("GET").arg("shared"))
        .expect("replica read");
    // One notice subscription per sentinel for the master and the replica driver together.
    std::thread::sleep(Duration::from_secs(1));
    for _ in 0..3 {
        every_sentinel_has_subscribers(&topo, 1);
        std::thread::sleep(Duration::from_millis(500));
    }
    let sentinels = topo.sentinel_addrs().len();
    support::eventually(Duration::from_secs(10), || {
        let n = our_sentinel_connections(&topo)?;
        if n == sentinels + 1 {
            Ok(())
        } else {
            Err(format!(
                "{n} connections to sentinels, want {}",
                sentinels + 1
            ))
        }
    });
    // Dropping one of the two master clients leaves the other working on the same driver.
    let first = id(&family[1]);
    family.remove(0);
    assert_eq!(id(&family[0]), first);
    family.clear();
    every_sentinel_has_subscribers(&topo, 0);
    support::eventually(
        Duration::from_secs(10),
        || match our_sentinel_connections(&topo)? {
            0 => Ok(()),
            n => Err(format!("{n} connections to sentinels left")),
        },
    );
}

/// A master and a replica client of one `Sentinel`, on shared sentinel connections, both follow
/// a forced failover: the master client ends up writing to the new master with no acknowledged
/// write lost, and the replica client reads from a replica of the new master.
fn clients_of_one_sentinel_follow_a_failover_together(rt: Rt) {
    let topo = topology(opts());
    let family = TestClient::family(rt, config_for(&topo), &[Role::Master, Role::Replica]);
    let (writer, reader) = (&family[0], &family[1]);
    let mut acked = 0i64;
    for _ in 0..10 {
        writer.incr("ff:n").unwrap();
        acked += 1;
    }
    let _: Option<String> = reader.query(cmd("GET").arg("ff:n")).expect("replica read");
    every_sentinel_has_subscribers(&topo, 1);
    let old = topo.failover().expect("SENTINEL FAILOVER");
    let new = topo
        .wait_for_new_master(&old, Duration::from_secs(60))
        .expect("new master");
    support::eventually(Duration::from_secs(30), || {
        if writer.incr("ff:n").is_ok() {
            acked += 1;
        }
        match writer.master_addr() {
            Some(a) if a.port == new.port => Ok(()),
            other => Err(format!("master client on {other:?}, new master {new:?}")),
        }
    });
    support::eventually(Duration::from_secs(30), || {
        let role: Vec<Value> = reader.query(cmd("ROLE")).map_err(|e| e.to_string())?;
        match role.as_slice() {
            [Value::Bulk(kind), _, Value::Integer(port), ..]
                if kind.as_bytes() == b"slave" && *port == i64::from(new.port) =>
            {
                Ok(())
            }
            other => Err(format!("replica client's node: {other:?}")),
        }
    });
    let total: i64 = writer.query(cmd("GET").arg("ff:n")).expect("GET");
    assert!(
        total >= acked,
        "{acked} increments acknowledged, the new master holds {total}"
    );
}

on_every_runtime!(
    transactions_beside_concurrent_commands,
    pipelines_are_not_interleaved,
    transaction_errors_and_timeouts,
    transactions_through_a_forced_failover,
    reply_flood_from_a_fake_node,
    blocking_commands_stall_no_one,
    watch_on_dedicated_connections,
    a_dripping_node_is_cut_off_at_the_deadline,
    events_start_with_the_current_state,
    replica_clients_spread_over_replicas,
    subscribe_is_confirmed_and_dropping_unsubscribes,
    sharded_pubsub,
    clients_of_one_sentinel_share_a_driver,
    clients_of_one_sentinel_follow_a_failover_together,
    sentinels_named_localhost_are_not_doubled,
);
