//! No panics, no outputs for foreign connections, determinism.

use super::*;
use crate::cmd;

fn owned(o: &[Output], opened: &mut std::collections::BTreeSet<ConnId>) {
    for x in o {
        match x {
            Output::Connect { conn, .. } => {
                assert!(opened.insert(*conn), "connection id reused");
            }
            Output::Transmit { conn, .. } | Output::Close { conn } => {
                assert!(
                    opened.contains(conn),
                    "output for a connection never opened"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn unknown_connections_and_garbage_are_harmless() {
    let (mut t, d) = T::ready(T::cfg(2), "10.0.0.1:6379");
    let mut opened = t.open_conns();
    let stray = ConnId(999);
    for i in [
        Input::Connected(stray),
        Input::Received(stray, b"+OK\r\n"),
        Input::Closed(stray),
        Input::ConnectFailed(stray),
        Input::ConnectFailed(d),
        Input::Connected(d),
    ] {
        let o = t.input(i);
        assert!(o.is_empty(), "{o:?}");
    }
    let o = t.feed(d, "+unsolicited\r\n");
    assert!(closed(&o, d));
    owned(&o, &mut opened);
    let o = t.feed(d, "+after close\r\n");
    assert!(o.is_empty());
    let o = t.input(Input::Closed(d));
    assert!(o.is_empty());
}

#[test]
fn fuzz_like_input_never_panics_and_stays_within_opened_connections() {
    let chunks: [&[u8]; 8] = [
        b"*2\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n",
        b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n",
        b"-READONLY x\r\n",
        b"$-1\r\n",
        b"\x00\xff garbage",
        b"*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$32\r\nsvc 10.0.0.1 6379 10.0.0.2 6380\r\n",
        b">1\r\n+x\r\n",
        b"*999999999999\r\n",
    ];
    for seed in 0..200u64 {
        let mut rng = crate::sentinel::backoff::Rng::new(seed);
        let mut cfg = T::cfg(3);
        cfg.role = if seed % 2 == 0 {
            Role::Master
        } else {
            Role::Replica
        };
        cfg.protocol = if seed % 3 == 0 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let mut t = T::new(cfg);
        let mut opened = std::collections::BTreeSet::new();
        let o = t.out();
        owned(&o, &mut opened);
        for _ in 0..60 {
            let c = ConnId(rng.below(12));
            let o = match rng.below(7) {
                0 => t.connected(c),
                1 => t.input(Input::Closed(c)),
                2 => t.input(Input::ConnectFailed(c)),
                3 => {
                    let chunk = chunks[rng.below(chunks.len() as u64) as usize];
                    let cut = rng.below(chunk.len() as u64 + 1) as usize;
                    t.input(Input::Received(c, &chunk[..cut]))
                }
                4 => t.advance(Duration::from_millis(rng.below(3000))),
                5 => t.submit(cmd("INCR").arg("k")).1,
                _ => {
                    t.m.subscribe(["ch"], t.now);
                    t.out()
                }
            };
            owned(&o, &mut opened);
        }
        t.m.close();
        let o = t.out();
        owned(&o, &mut opened);
    }
}

#[test]
fn same_inputs_same_outputs() {
    let run = || {
        let mut t = T::new(T::cfg(3));
        let mut log = t.out();
        let q = connects(&log)[0].0;
        log.extend(t.input(Input::ConnectFailed(q)));
        log.extend(t.advance(Duration::from_secs(3)));
        log.extend(t.advance(Duration::from_secs(3)));
        log.extend(t.submit(cmd("GET").arg("k")).1);
        for _ in 0..5 {
            log.extend(t.advance(Duration::from_secs(1)));
        }
        log
    };
    let a = run();
    assert!(a.len() > 5);
    assert_eq!(a, run());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Connected(u64),
        Closed(u64),
        Failed(u64),
        Bytes(u64, Vec<u8>),
        Wait(u64),
        Submit(bool),
        Subscribe,
    }

    fn op() -> impl Strategy<Value = Op> {
        let frames = prop::sample::select(vec![
            b"*2\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n".to_vec(),
            b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n".to_vec(),
            b"-READONLY x\r\n".to_vec(),
            b"+OK\r\n".to_vec(),
            b"*-1\r\n".to_vec(),
            b"*3\r\n$7\r\nmessage\r\n$15\r\n+selected-slave\r\n$49\r\nslave 10.0.0.2:6380 10.0.0.2 6380 @ svc 10.0.0.1 6379\r\n".to_vec(),
        ]);
        prop_oneof![
            (0..10u64).prop_map(Op::Connected),
            (0..10u64).prop_map(Op::Closed),
            (0..10u64).prop_map(Op::Failed),
            (0..10u64, frames).prop_map(|(c, b)| Op::Bytes(c, b)),
            (0..10u64, prop::collection::vec(any::<u8>(), 0..24))
                .prop_map(|(c, b)| Op::Bytes(c, b)),
            (0..4000u64).prop_map(Op::Wait),
            any::<bool>().prop_map(Op::Submit),
            Just(Op::Subscribe),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_inputs_keep_invariants(ops in prop::collection::vec(op(), 0..80)) {
            let mut t = T::new(T::cfg(2));
            let mut opened = std::collections::BTreeSet::new();
            let mut submitted = std::collections::BTreeSet::new();
            let mut answered = std::collections::BTreeSet::new();
            let mut check = |o: &[Output], opened: &mut std::collections::BTreeSet<ConnId>| {
                owned(o, opened);
                for (id, _) in replies(o) {
                    assert!(answered.insert(id), "{id:?} answered twice");
                }
            };
            let o = t.out();
            check(&o, &mut opened);
            for op in ops {
                let o = match op {
                    Op::Connected(c) => t.connected(ConnId(c)),
                    Op::Closed(c) => t.input(Input::Closed(ConnId(c))),
                    Op::Failed(c) => t.input(Input::ConnectFailed(ConnId(c))),
                    Op::Bytes(c, b) => t.input(Input::Received(ConnId(c), &b)),
                    Op::Wait(ms) => t.advance(Duration::from_millis(ms)),
                    Op::Submit(idem) => {
                        let opts = SubmitOptions::default().with_idempotent(idem);
                        submitted.insert(t.m.submit_with(crate::cmd("INCR").arg("k"), opts, t.now));
                        t.out()
                    }
                    Op::Subscribe => {
                        // Answered like a command: once confirmed, timed out, or closed.
                        submitted.insert(t.m.subscribe(["ch"], t.now));
                        t.out()
                    }
                };
                check(&o, &mut opened);
                // Once handle_timeout(now) ran, no deadline may be due any more: a driver that
                // sleeps until poll_timeout() would otherwise spin without yielding.
                let now = t.now;
                t.m.handle_timeout(now);
                let o = t.out();
                check(&o, &mut opened);
                if let Some(d) = t.m.poll_timeout() {
                    prop_assert!(d > now, "deadline {:?} before now survives handle_timeout", now - d);
                }
            }
            t.m.close();
            let o = t.out();
            check(&o, &mut opened);
            // After close every submitted command has exactly one answer.
            prop_assert_eq!(&answered, &submitted);
        }
    }
}

#[test]
fn subscribing_before_a_master_is_known_sets_no_due_deadline() {
    let mut t = T::new(T::cfg(2));
    t.out();
    t.m.subscribe(["news"], t.now);
    t.out();
    for ms in [0, 1, 5] {
        let now = t.now + Duration::from_millis(ms);
        t.m.handle_timeout(now);
        t.out();
        let next =
            t.m.poll_timeout()
                .expect("the sentinel connect timeout is pending");
        assert!(next > now, "due deadline left behind at {ms} ms");
    }
}

#[test]
fn a_reply_past_max_reply_len_fails_the_command_and_drops_the_connection() {
    let mut cfg = T::cfg(1);
    cfg.max_reply_len = 4096;
    let (mut t, d) = T::ready(cfg, "10.0.0.1:6379");
    let (id, _) = t.submit(cmd("LRANGE").arg("k").arg(0).arg(-1));
    let mut o = t.feed(d, "*4294967295\r\n");
    let mut fed = 0;
    while !closed(&o, d) {
        o = t.feed(d, &"$3\r\nabc\r\n".repeat(64));
        fed += 64 * 9;
        assert!(fed < 16 * 4096, "still reading after {fed} bytes");
    }
    let r = replies(&o);
    assert!(
        matches!(&r[..], [(rid, Err(CommandError::Protocol(e)))]
            if *rid == id && matches!(e.kind, crate::ProtocolErrorKind::FrameTooLong { max: 4096 })),
        "{r:?}"
    );
}

#[test]
fn a_node_that_sends_extra_replies_is_reconnected_with_a_growing_delay() {
    let (mut t, mut d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let mut delays = Vec::new();
    for round in 0..8 {
        let (_, _) = t.submit(cmd("GET").arg("k"));
        // The reply, then one nobody asked for.
        let o = t.feed(d, "$1\r\nv\r\n+EXTRA\r\n");
        assert!(closed(&o, d), "round {round}: desync detected");
        let delay = events(&o)
            .into_iter()
            .find_map(|e| match e {
                Event::Reconnecting { delay } => Some(delay),
                _ => None,
            })
            .unwrap_or_else(|| panic!("round {round}: backs off: {o:?}"));
        delays.push(delay);
        // After the delay: sentinels asked, the same node verified again.
        let mut o = t.fire();
        let q = loop {
            if let Some(q) = t.query() {
                if sent(&o, q).contains("get-master") {
                    break q;
                }
            }
            o = t.fire();
        };
        let s = sent(&o, q);
        let o = t.answer(q, &s, &arr(&["10.0.0.1", "6379"]));
        d = connect_of(&o, PeerKind::Data(Role::Master))
            .expect("reconnects")
            .0;
        t.verify(d, ROLE_MASTER);
    }
    let cap = t.config().backoff.cap;
    assert!(delays.iter().all(|d| *d <= cap));
    let late = delays[4..].iter().max().unwrap();
    assert!(
        *late > t.config().backoff.base * 2,
        "delays do not grow: {delays:?}"
    );
}
