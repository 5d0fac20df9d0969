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

// ---------------------------------------------------------------------------------------------
// A scripted client: raw outputs in, decoded replies out. Verifies the world before trusting it.

struct Scripted {
    world: World,
    now: Instant,
    next: u64,
    bufs: BTreeMap<ConnId, BytesMut>,
    replies: BTreeMap<ConnId, Vec<Value>>,
    closed: Vec<ConnId>,
    failed: Vec<ConnId>,
    reveals: Vec<Addr>,
}

impl Scripted {
    fn new(spec: WorldSpec, seed: u64) -> Scripted {
        let now = Instant::now();
        Scripted {
            world: World::new(spec, seed, now),
            now,
            next: 0,
            bufs: BTreeMap::new(),
            replies: BTreeMap::new(),
            closed: Vec::new(),
            failed: Vec::new(),
            reveals: Vec::new(),
        }
    }

    fn connect(&mut self, port: u16) -> ConnId {
        self.next += 1;
        let conn = ConnId(self.next);
        let kind = if port >= 26379 {
            PeerKind::Sentinel
        } else {
            PeerKind::Data(Role::Master)
        };
        self.world
            .on_output(&Output::Connect {
                conn,
                addr: Addr::new("127.0.0.1", port),
                kind,
            })
            .unwrap();
        self.run(Duration::from_millis(20));
        conn
    }

    fn send(&mut self, conn: ConnId, c: Cmd) {
        self.world
            .on_output(&Output::Transmit {
                conn,
                bytes: c.to_bytes(),
            })
            .unwrap();
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self.world.next_event_at().filter(|t| *t <= end);
            let t = next.unwrap_or(end);
            self.now = t;
            for del in self.world.advance(t) {
                match del {
                    Delivery::Connected(_) => {}
                    Delivery::ConnectFailed(c) => self.failed.push(c),
                    Delivery::Closed(c) => self.closed.push(c),
                    Delivery::Received {
                        conn,
                        bytes,
                        reveals_not_master,
                    } => {
                        self.reveals.extend(reveals_not_master);
                        let buf = self.bufs.entry(conn).or_default();
                        buf.extend_from_slice(&bytes);
                        let mut dec = Decoder::new();
                        while let Some(v) = dec.decode(buf).expect("world sends valid RESP") {
                            self.replies.entry(conn).or_default().push(v);
                        }
                    }
                }
            }
            if next.is_none() {
                break;
            }
        }
    }

    /// Sends `c`, runs 20 ms, returns the last reply on `conn`.
    fn call(&mut self, conn: ConnId, c: Cmd) -> Value {
        self.send(conn, c);
        self.run(Duration::from_millis(20));
        self.replies
            .get_mut(&conn)
            .and_then(|r| r.pop())
            .expect("a reply")
    }
}

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
    // caught losing acknowledged writes: proves the invariant can fail.
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
}

mod naive {
    //! A client that connects once to 127.0.0.1:6379 and pipelines everything there.
    use super::*;
    use resp_sentinel_core::sentinel::{CommandError, Input, RequestId};
    use resp_sentinel_core::sim::Client;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub struct Naive {
        out: VecDeque<Output>,
        conn: Option<ConnId>,
        open: bool,
        next_conn: u64,
        next_req: u64,
        waiting: VecDeque<RequestId>,
        unsent: VecDeque<(RequestId, Cmd)>,
        buf: BytesMut,
    }

    impl Naive {
        fn ensure_conn(&mut self) {
            if self.conn.is_none() {
                self.next_conn += 1;
                let conn = ConnId(self.next_conn);
                self.conn = Some(conn);
                self.out.push_back(Output::Connect {
                    conn,
                    addr: Addr::new("127.0.0.1", 6379),
                    kind: PeerKind::Data(Role::Master),
                });
            }
        }
        fn flush(&mut self) {
            if let (true, Some(conn)) = (self.open, self.conn) {
                while let Some((id, c)) = self.unsent.pop_front() {
                    self.out.push_back(Output::Transmit {
                        conn,
                        bytes: c.to_bytes(),
                    });
                    self.waiting.push_back(id);
                }
            }
        }
        fn fail_all(&mut self) {
            for id in self.waiting.drain(..) {
                self.out.push_back(Output::Reply {
                    request: id,
                    result: Err(CommandError::ConnectionLost { sent: true }),
                });
            }
            self.conn = None;
            self.open = false;
            self.buf.clear();
        }
    }

    impl Client for Naive {
        fn submit(&mut self, c: Cmd, _now: Instant) -> RequestId {
            self.next_req += 1;
            let id = RequestId(self.next_req);
            self.unsent.push_back((id, c));
            self.ensure_conn();
            self.flush();
            id
        }
        fn handle_input(&mut self, input: Input<'_>, _now: Instant) {
            match input {
                Input::Connected(c) if Some(c) == self.conn => {
                    self.open = true;
                    self.flush();
                }
                Input::ConnectFailed(c) | Input::Closed(c) if Some(c) == self.conn => {
                    self.fail_all();
                    self.ensure_conn();
                }
                Input::Received(c, b) if Some(c) == self.conn => {
                    self.buf.extend_from_slice(b);
                    let mut d = Decoder::new();
                    while let Ok(Some(v)) = d.decode(&mut self.buf) {
                        if let Some(id) = self.waiting.pop_front() {
                            self.out.push_back(Output::Reply {
                                request: id,
                                result: Ok(v),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn poll_output(&mut self) -> Option<Output> {
            self.out.pop_front()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }
}
