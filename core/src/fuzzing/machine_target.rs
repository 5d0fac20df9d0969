//! The `machine` fuzz target: the Sentinel state machine driven by an arbitrary sequence of
//! driver inputs, timer firings, submissions and subscriptions, decoded from the fuzz bytes.
//!
//! Input layout: byte 0 picks the configuration (role, protocol, auth, db, fence, timings),
//! byte 1 the number of sentinels (0-3), then operations until the bytes run out; every
//! operation reads an opcode byte and its operands (missing bytes read as 0). Received bytes
//! are either raw fuzz bytes or one of [`SNIPPETS`], well-formed replies and notices about the
//! addresses the configuration uses, so short inputs reach discovery, the handshake, the fence
//! and failovers (a master-role walk waits for both `get-master-addr-by-name` and the
//! `SENTINEL MASTER` reply carrying the config epoch). The whole sequence runs twice and must give the same outputs.

use crate::sentinel::{
    Addr, Backoff, Config, ConnId, Credentials, Input, Machine, Output, Protocol, RequestId, Role,
    SubmitOptions,
};
use crate::{cmd, Cmd};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Replies and notices a driver may hand back, chosen by one byte (built once).
fn snippets() -> &'static [Vec<u8>] {
    static SNIPPETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SNIPPETS.get_or_init(|| {
        let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
        let arr = |items: &[&str]| {
            let body: String = items.iter().map(|i| bulk(i)).collect();
            format!("*{}\r\n{body}", items.len())
        };
        let msg = |ch: &str, payload: &str| arr(&["message", ch, payload]);
        let slave =
            |ip: &str, port: &str| format!("slave {ip}:{port} {ip} {port} @ svc 10.0.0.1 6379");
        let old = "master svc 10.0.0.1 6379";
        let replica = arr(&[
            "name",
            "10.0.0.3:6381",
            "ip",
            "10.0.0.3",
            "port",
            "6381",
            "flags",
            "slave",
            "master-link-status",
            "ok",
        ]);
        let sentinel = arr(&[
            "name", "x", "ip", "10.9.0.5", "port", "26379", "flags", "sentinel",
        ]);
        // `SENTINEL MASTER svc` (the fields the machine reads), RESP2 pairs and a RESP3 map.
        let master_info = |ip: &str, port: &str, epoch: &str| {
            arr(&[
                "name",
                "svc",
                "ip",
                ip,
                "port",
                port,
                "flags",
                "master",
                "config-epoch",
                epoch,
            ])
        };
        let master_map = format!(
            "%2\r\n{}{}{}:2\r\n",
            bulk("name"),
            bulk("svc"),
            bulk("config-epoch")
        );
        let push = format!(
            ">3\r\n{}{}{}",
            bulk("message"),
            bulk("+promoted-slave"),
            bulk(&slave("10.0.0.3", "6381"))
        );
        [
            // 0-3: get-master-addr-by-name answers.
            arr(&["10.0.0.1", "6379"]),
            arr(&["10.0.0.2", "6380"]),
            arr(&["10.0.0.3", "6381"]),
            "*-1\r\n".to_string(),
            // 4-5: ROLE.
            "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n".to_string(),
            "*5\r\n$5\r\nslave\r\n$8\r\n10.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n".to_string(),
            // 6-14: command and handshake replies.
            "+OK\r\n".to_string(),
            ":1\r\n".to_string(),
            "$-1\r\n".to_string(),
            "-READONLY You can't write against a read only replica.\r\n".to_string(),
            "-LOADING Redis is loading the dataset in memory\r\n".to_string(),
            "-MASTERDOWN Link with MASTER is down\r\n".to_string(),
            "-ERR unknown command 'HELLO'\r\n".to_string(),
            "-NOAUTH Authentication required.\r\n".to_string(),
            format!("%1\r\n{}{}", bulk("server"), bulk("redis")),
            // 15-16: subscription acknowledgement, a pub/sub message for the caller.
            "*3\r\n$9\r\nsubscribe\r\n$3\r\nch0\r\n:1\r\n".to_string(),
            msg("ch0", "hi"),
            // 17-28: sentinel notices for service `svc`.
            msg("+switch-master", "svc 10.0.0.1 6379 10.0.0.2 6380"),
            msg("+switch-master", "svc 10.0.0.2 6380 10.0.0.1 6379"),
            msg("+selected-slave", &slave("10.0.0.2", "6380")),
            msg("+promoted-slave", &slave("10.0.0.2", "6380")),
            msg(
                "+failover-state-send-slaveof-noone",
                &slave("10.0.0.3", "6381"),
            ),
            msg("+odown", "master svc 10.0.0.1 6379 #quorum 2/2"),
            msg("-odown", old),
            msg("-failover-abort-no-good-slave", old),
            msg("+failover-end", "master svc 10.0.0.2 6380"),
            msg(
                "+sentinel",
                "sentinel 10.9.0.4:26379 10.9.0.4 26379 @ svc 10.0.0.1 6379",
            ),
            msg("+sdown", &slave("10.0.0.3", "6381")),
            push,
            // 29-30: SENTINEL replicas / sentinels answers.
            format!("*1\r\n{replica}"),
            format!("*1\r\n{sentinel}"),
            // 31-34: SENTINEL MASTER answers (config epoch 0 naming the first master, 1 after
            // a failover, a RESP3 map with epoch 2) and its unknown-service error.
            master_info("10.0.0.1", "6379", "0"),
            master_info("10.0.0.2", "6380", "1"),
            master_map,
            "-ERR No such master with that name\r\n".to_string(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect()
    })
}

/// Time steps, in milliseconds, chosen by one byte.
const STEPS_MS: &[u64] = &[
    0, 1, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000,
];

/// Reads the fuzz bytes front to back; past the end every byte reads as 0.
struct Bytes<'d> {
    data: &'d [u8],
}

impl<'d> Bytes<'d> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &'d [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// The configuration chosen by the first two bytes.
fn config(flags: u8, sentinels: u8) -> Config {
    let list = (1..=sentinels % 4)
        .map(|i| Addr::new(format!("10.9.0.{i}"), 26379))
        .collect();
    let mut c = Config::new(list, "svc");
    if flags & 1 != 0 {
        c.role = Role::Replica;
    }
    if flags & 2 != 0 {
        c.protocol = Protocol::Resp3;
    }
    if flags & 4 != 0 {
        c.auth = Some(Credentials::user("app", "secret"));
        c.sentinel_auth = Some(Credentials::password("sentinel-secret"));
        c.client_name = Some("fuzz".into());
    }
    if flags & 8 != 0 {
        c.db = 3;
    }
    c.fence = flags & 16 == 0;
    if flags & 32 != 0 {
        // Short timings and small queues, so timers and limits fire within a few steps.
        let ms = Duration::from_millis;
        c.connect_timeout = ms(100);
        c.sentinel_timeout = ms(100);
        c.command_timeout = ms(200);
        c.health_check_interval = ms(100);
        c.sentinel_poll_interval = ms(300);
        c.sentinel_refresh_interval = ms(1_000);
        c.fence_max_hold = ms(500);
        c.fence_poll_interval = ms(20);
        c.fence_max_queued = 2;
        c.max_queued = 4;
        c.max_retries = 1;
        c.backoff = Backoff {
            base: ms(10),
            cap: ms(100),
            ..Backoff::default()
        };
    }
    if flags & 64 != 0 {
        c.fence_poll_interval = Duration::ZERO;
        c.health_check_interval = Duration::ZERO;
    }
    c.backoff.seed = u64::from(flags);
    c
}

/// What the driver knows, and the promises checked on every output.
struct Driver {
    m: Machine,
    now: Instant,
    /// Connections the machine asked for, with whether they are gone (closed by either side).
    conns: BTreeMap<ConnId, bool>,
    /// Submitted requests, with whether they were answered.
    requests: BTreeMap<RequestId, bool>,
    /// Every output, for the determinism check.
    trace: Vec<String>,
}

impl Driver {
    fn drain(&mut self) {
        while let Some(o) = self.m.poll_output() {
            match &o {
                Output::Connect { conn, .. } => {
                    let fresh = self.conns.insert(*conn, false).is_none();
                    assert!(fresh, "connection id {conn:?} handed out twice");
                }
                Output::Transmit { conn, .. } => {
                    let gone = self.conns.get(conn);
                    assert!(gone.is_some(), "transmit on {conn:?}, never opened");
                    assert_eq!(gone, Some(&false), "transmit on {conn:?} after it closed");
                }
                Output::Close { conn } => {
                    let gone = self.conns.insert(*conn, true);
                    assert!(gone.is_some(), "close of {conn:?}, never opened");
                    assert_eq!(gone, Some(false), "{conn:?} closed twice");
                }
                Output::Reply { request, .. } => {
                    let answered = self.requests.insert(*request, true);
                    assert!(answered.is_some(), "reply to {request:?}, never submitted");
                    assert_eq!(answered, Some(false), "{request:?} answered twice");
                }
                Output::Message(_) | Output::Push(_) | Output::Event(_) => {}
            }
            self.trace.push(format!("{o:?}"));
        }
    }

    /// A connection chosen by `b`: mostly one the machine opened, sometimes any id at all.
    fn conn(&self, b: u8) -> ConnId {
        if b & 0x80 != 0 || self.conns.is_empty() {
            return ConnId(u64::from(b & 0x1f));
        }
        let live: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, gone)| !**gone)
            .map(|(id, _)| *id)
            .collect();
        let pool: Vec<ConnId> = if live.is_empty() {
            self.conns.keys().copied().collect()
        } else {
            live
        };
        pool[usize::from(b) % pool.len()]
    }

    fn input(&mut self, i: Input<'_>) {
        if let Input::Closed(c) = i {
            if let Some(gone) = self.conns.get_mut(&c) {
                *gone = true;
            }
        }
        self.m.handle_input(i, self.now);
        self.drain();
    }

    fn timeout(&mut self) {
        self.m.handle_timeout(self.now);
        self.drain();
        let next = self.m.poll_timeout();
        assert!(
            next.is_none_or(|t| t > self.now),
            "deadline {:?} not after now once handled",
            next.map(|t| t.saturating_duration_since(self.now))
        );
    }

    fn submit(&mut self, c: Cmd, idempotent: bool) {
        let id = self.m.submit_with(
            c,
            SubmitOptions::default().with_idempotent(idempotent),
            self.now,
        );
        let fresh = self.requests.insert(id, false).is_none();
        assert!(fresh, "request id {id:?} handed out twice");
        self.drain();
    }

    fn close(&mut self) {
        self.m.close();
        self.drain();
        let open: Vec<_> = self.requests.iter().filter(|(_, a)| !**a).collect();
        assert!(open.is_empty(), "unanswered after close(): {open:?}");
    }
}

/// Runs one decoded sequence; returns the trace of outputs.
fn run(data: &[u8], base: Instant) -> Vec<String> {
    let mut b = Bytes { data };
    let cfg = config(b.byte(), b.byte());
    let mut d = Driver {
        m: Machine::new(cfg, base),
        now: base,
        conns: BTreeMap::new(),
        requests: BTreeMap::new(),
        trace: Vec::new(),
    };
    d.drain();
    while !b.data.is_empty() {
        match b.byte() % 12 {
            0 => {
                let c = d.conn(b.byte());
                d.input(Input::Connected(c));
            }
            1 => {
                let c = d.conn(b.byte());
                d.input(Input::Closed(c));
            }
            2 => {
                let c = d.conn(b.byte());
                d.input(Input::ConnectFailed(c));
            }
            3 => {
                let c = d.conn(b.byte());
                let n = usize::from(b.byte() % 64);
                let raw = b.take(n);
                d.input(Input::Received(c, raw));
            }
            4 | 5 => {
                let c = d.conn(b.byte());
                let all = snippets();
                let s = &all[usize::from(b.byte()) % all.len()];
                // Sometimes only a prefix now: the rest may follow in a later raw or snippet.
                let cut = usize::from(b.byte());
                let s = if cut < 200 { s } else { &s[..cut % s.len()] };
                d.input(Input::Received(c, s));
            }
            6 => {
                // Every connection still waiting is established.
                let pending: Vec<ConnId> = d.conns.keys().copied().collect();
                for c in pending {
                    d.input(Input::Connected(c));
                }
            }
            7 => {
                let ms = STEPS_MS[usize::from(b.byte()) % STEPS_MS.len()];
                d.now += Duration::from_millis(ms);
                d.timeout();
            }
            8 => {
                if let Some(t) = d.m.poll_timeout() {
                    d.now = d.now.max(t);
                }
                d.timeout();
            }
            9 => {
                let k = b.byte();
                let c = match k % 5 {
                    0 => cmd("GET").arg("k"),
                    1 => cmd("SET").arg("k").arg(k),
                    2 => cmd("INCR").arg("n"),
                    3 => cmd("SUBSCRIBE").arg("ch0"),
                    _ => cmd("PING"),
                };
                d.submit(c, k & 0x80 != 0);
            }
            10 => {
                let k = b.byte();
                let ch = [format!("ch{}", k % 3)];
                let id = match (k >> 2) % 4 {
                    0 => d.m.subscribe(&ch, d.now),
                    1 => d.m.unsubscribe(&ch, d.now),
                    2 => d.m.psubscribe(&ch, d.now),
                    _ => d.m.punsubscribe(&ch, d.now),
                };
                // Subscription changes are answered like commands: exactly once.
                let fresh = d.requests.insert(id, false).is_none();
                assert!(fresh, "request id {id:?} handed out twice");
                d.drain();
            }
            _ => {
                // Closing is rare: most sequences should get deep before it.
                if b.byte() == 0xff {
                    d.close();
                }
            }
        }
    }
    d.close();
    d.trace
}

/// Drives [`Machine`] through the sequence `data` decodes to and checks that it never panics,
/// never emits an output for a connection it did not open (or after closing it), answers every
/// request at most once and every one after `close()`, leaves no past deadline after
/// `handle_timeout`, and gives the same outputs when run again.
pub fn machine(data: &[u8]) {
    let base = Instant::now();
    let first = run(data, base);
    let second = run(data, base);
    assert!(first == second, "same inputs, different outputs");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_whole_frames() {
        for (i, s) in snippets().iter().enumerate() {
            let mut buf = bytes::BytesMut::from(&s[..]);
            let mut dec = crate::Decoder::new();
            let v = dec.decode(&mut buf);
            assert!(matches!(v, Ok(Some(_))), "snippet {i}: {v:?}");
            assert!(buf.is_empty(), "snippet {i}: {} bytes left", buf.len());
        }
    }

    #[test]
    fn a_scripted_failover_reaches_the_new_master() {
        // Connections in order: 1 sentinel query, 2 notices, 3 data (10.0.0.1), 4 probe.
        let ops: Vec<u8> = vec![
            0, 1, // config: master role, defaults; one sentinel
            6, // connect all (the sentinel query)
            4, 0, 0, 0, // query: the master is 10.0.0.1
            4, 0, 31, 0, // query: SENTINEL MASTER, config epoch 0
            6, // connect notices and data
            4, 2, 4, 0, // data: ROLE master
            9, 2, // INCR, written to 10.0.0.1
            4, 1, 19, 0, // notices: +selected-slave 10.0.0.2 (fence up, probe opened, poll)
            4, 0, 0, 0, // query: sentinels still name 10.0.0.1 ...
            4, 0, 31, 0, // ... at epoch 0
            6, // connect the probe
            4, 3, 4, 0, // probe: ROLE master (early switch; 10.0.0.1 is replaced and its
            // connection closed: the INCR in flight there fails with ConnectionLost)
            7, 11, // 5 s later: backstop poll
            4, 0, 0, 0, // query: a lagging sentinel still names 10.0.0.1 ...
            4, 0, 31, 0, // ... at epoch 0: stale
            9, 2, // INCR, goes to 10.0.0.2
            4, 2, 7, 0, // probe, now the master: :1
        ];
        machine(&ops);
        let trace = run(&ops, Instant::now());
        let all = trace.join("\n");
        let switched = trace
            .iter()
            .position(|l| l.contains("MasterChanged") && l.contains("10.0.0.2"))
            .unwrap_or_else(|| panic!("no switch to 10.0.0.2: {all}"));
        let after = &trace[switched..];
        assert!(
            !after
                .iter()
                .any(|l| l.contains("Connect {") && l.contains("10.0.0.1")),
            "back to the replaced master: {all}"
        );
        let replies = trace.iter().filter(|l| l.contains("Reply")).count();
        assert_eq!(replies, 2, "both INCRs answered: {all}");
        assert!(
            after
                .iter()
                .any(|l| l.contains("Transmit { conn: ConnId(4)") && l.contains("INCR")),
            "the later INCR went to the new master: {all}"
        );
    }

    #[test]
    fn seeds_reach_what_they_are_named_for() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/machine");
        for (seed, expect) in [
            ("early_failover", "new: Addr { host: \"10.0.0.2\""),
            (
                "probe_says_slave_then_master",
                "new: Addr { host: \"10.0.0.2\"",
            ),
            ("abort_while_probing", "FenceLifted"),
            ("fence_expires", "FenceTimeout"),
            ("replica_role", "role: Replica"),
            ("resp3_hello", "Ready"),
            ("noauth", "Auth("),
            ("subscribe_and_move", "Message("),
        ] {
            let data = std::fs::read(dir.join(seed)).expect("seed file");
            let trace = run(&data, Instant::now());
            assert!(
                trace.iter().any(|l| l.contains(expect)),
                "seed {seed} never shows `{expect}`: {trace:#?}"
            );
        }
    }
}
