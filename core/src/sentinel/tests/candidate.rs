//! The fence's candidate: the replica being promoted is probed with `ROLE` and takes the held
//! commands the moment it says master; what the machine does when that early switch meets
//! lagging sentinels, aborts and expiry.

use super::fence::{notice, notices, selected_slave};
use super::*;
use crate::cmd;

const OLD: &str = "10.0.0.1:6379";
const NEW: &str = "10.0.0.2:6380";

fn promoted_slave() -> String {
    selected_slave()
}

/// Answers a sentinel poll in `o` (if any) with the old master: sentinels are slow to notice.
fn sentinels_still_say_old(t: &mut T, o: &[Output]) -> Vec<Output> {
    let q = t.query().expect("query connection");
    let asked = sent(o, q);
    if asked.contains("get-master") {
        t.answer(q, &asked, &arr(&["10.0.0.1", "6379"]))
    } else {
        Vec::new()
    }
}

fn no_traffic_to_old(o: &[Output], d: ConnId) {
    assert_eq!(sent(o, d), "", "a write reached the fenced master: {o:?}");
    assert!(
        connects(o).iter().all(|c| c.1 != addr(OLD)),
        "reconnected to the fenced master: {o:?}"
    );
}

#[test]
fn promoted_replica_verified_as_master_gets_the_held_commands_before_switch_master() {
    let (mut t, d) = T::ready(T::cfg(3), OLD);
    let n = notices(&mut t);
    let (a, o) = t.submit(cmd("INCR").arg("x"));
    assert_eq!(sent(&o, d), arr(&["INCR", "x"]));
    let b = t.m.submit(cmd("INCR").arg("y"), t.now);
    let o = notice(&mut t, n, "+promoted-slave", &promoted_slave());
    no_traffic_to_old(&o, d);
    assert!(events(&o).contains(&Event::FenceRaised {
        old: addr(OLD),
        reason: "+promoted-slave".into()
    }));
    // Straight to the named replica, without waiting for any sentinel reply.
    let (d2, a2) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    assert_eq!(a2, addr(NEW));
    let (c, o) = t.submit(cmd("INCR").arg("z"));
    assert!(o.is_empty(), "held while fenced: {o:?}");
    let o = t.connected(d2);
    assert_eq!(
        sent(&o, d2),
        arr(&["ROLE"]),
        "only ROLE before it is verified"
    );
    let o = t.feed(d2, ROLE_MASTER);
    assert!(events(&o).contains(&Event::MasterChanged {
        old: Some(addr(OLD)),
        new: addr(NEW)
    }));
    assert!(!t.m.is_fenced());
    assert_eq!(t.m.current_master(), Some(&addr(NEW)));
    assert_eq!(sent(&o, d2), arr(&["INCR", "y"]) + &arr(&["INCR", "z"]));
    no_traffic_to_old(&o, d);
    // What was in flight on the old master is settled at once: it was sent and may have run
    // there, and an acknowledgement from a replaced master could be thrown away at demotion.
    assert!(closed(&o, d));
    assert_eq!(
        replies(&o),
        vec![(a, Err(CommandError::ConnectionLost { sent: true }))]
    );
    let o = t.feed(d2, ":1\r\n:1\r\n");
    let ids: Vec<_> = replies(&o).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, vec![b, c]);
    assert!(t.feed(d, ":7\r\n").is_empty(), "the old connection is gone");
    // The late `+switch-master` changes nothing.
    let o = notice(
        &mut t,
        n,
        "+switch-master",
        "svc 10.0.0.1 6379 10.0.0.2 6380",
    );
    assert!(connects(&o).is_empty() && !closed(&o, d2), "{o:?}");
}

#[test]
fn selected_replica_still_a_slave_is_asked_again_until_promoted() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &selected_slave());
    let (id, _) = t.submit(cmd("SET").arg("k").arg("v"));
    let (d2, a2) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    assert_eq!(a2, addr(NEW));
    let mut all = o.clone();
    all.extend(sentinels_still_say_old(&mut t, &o));
    let o = t.connected(d2);
    assert_eq!(sent(&o, d2), arr(&["ROLE"]));
    all.extend(o);
    for round in 0..3 {
        let o = t.feed(d2, ROLE_SLAVE);
        assert!(!closed(&o, d2), "the probe connection is kept");
        assert!(connects(&o).is_empty(), "{o:?}");
        assert!(t.m.is_fenced());
        all.extend(o);
        let o = t.advance(t.config().fence_poll_interval);
        assert_eq!(sent(&o, d2), arr(&["ROLE"]), "round {round}: asked again");
        assert!(connects(&o).is_empty(), "same connection, no reconnect");
        all.extend(sentinels_still_say_old(&mut t, &o));
        all.extend(o);
    }
    // `REPLICAOF NO ONE` has run: the held command goes to the new master.
    let o = t.feed(d2, ROLE_MASTER);
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::MasterChanged { new, .. } if *new == addr(NEW))));
    assert_eq!(sent(&o, d2), arr(&["SET", "k", "v"]));
    all.extend(o);
    no_traffic_to_old(&all, d);
    let o = t.feed(d2, "+OK\r\n");
    assert_eq!(
        replies(&o),
        vec![(id, Ok(Value::SimpleString("OK".into())))]
    );
}

#[test]
fn unreachable_candidate_is_retried_after_the_poll_interval() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(
        &mut t,
        n,
        "+failover-state-send-slaveof-noone",
        &selected_slave(),
    );
    let (id, _) = t.submit(cmd("SET").arg("k").arg("v"));
    let mut all = o.clone();
    all.extend(sentinels_still_say_old(&mut t, &o));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    let o = t.input(Input::ConnectFailed(d2));
    assert!(connects(&o).is_empty());
    assert!(
        !events(&o)
            .iter()
            .any(|e| matches!(e, Event::Reconnecting { .. })),
        "no exponential backoff while the successor is known: {o:?}"
    );
    all.extend(o);
    let o = t.advance(t.config().fence_poll_interval);
    let (d3, a3) = connect_of(&o, PeerKind::Data(Role::Master)).expect("retry");
    assert_eq!(a3, addr(NEW));
    all.extend(sentinels_still_say_old(&mut t, &o));
    all.extend(o);
    let o = t.verify(d3, ROLE_MASTER);
    assert_eq!(sent(&o, d3), arr(&["SET", "k", "v"]));
    all.extend(o);
    no_traffic_to_old(&all, d);
    let o = t.feed(d3, "+OK\r\n");
    assert_eq!(replies(&o)[0].0, id);
}

#[test]
fn failover_abort_while_probing_goes_back_to_the_old_master() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &selected_slave());
    let (id, _) = t.submit(cmd("SET").arg("k").arg(1));
    let q = t.query().unwrap();
    let polled = sent(&o, q);
    assert!(polled.contains("get-master"), "sentinels polled too");
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    let mut to_candidate = sent(&t.connected(d2), d2);
    to_candidate += &sent(&t.feed(d2, ROLE_SLAVE), d2);
    let o = notice(
        &mut t,
        n,
        "-failover-abort-slave-timeout",
        "master svc 10.0.0.1 6379",
    );
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::FenceLifted { .. })));
    assert!(!t.m.is_fenced());
    assert!(closed(&o, d2), "the candidate probe is dropped");
    // Nothing is probed any more.
    let o = t.advance(t.config().fence_poll_interval);
    assert!(connects(&o).iter().all(|c| c.1 != addr(NEW)), "{o:?}");
    assert_eq!(sent(&o, d2), "");
    assert_eq!(
        to_candidate,
        arr(&["ROLE"]),
        "only ROLE ever reached the candidate"
    );
    // Sentinels still name the old master: commands resume there.
    let o = t.answer(q, &polled, &arr(&["10.0.0.1", "6379"]));
    let (d3, a3) = connect_of(&o, PeerKind::Data(Role::Master)).expect("back to old");
    assert_eq!(a3, addr(OLD));
    let o = t.verify(d3, ROLE_MASTER);
    assert_eq!(sent(&o, d3), arr(&["SET", "k", "1"]));
    let o = t.feed(d3, "+OK\r\n");
    assert_eq!(replies(&o)[0].0, id);
}

#[test]
fn fence_expiry_while_probing_drops_the_candidate() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &selected_slave());
    let (id, _) = t.submit(cmd("SET").arg("k").arg(1));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    sentinels_still_say_old(&mut t, &o);
    t.connected(d2);
    let mut all = t.feed(d2, ROLE_SLAVE);
    let hold = t.config().fence_max_hold;
    let step = t.config().fence_poll_interval;
    let mut waited = Duration::ZERO;
    while t.m.is_fenced() && waited <= hold {
        let o = t.advance(step);
        waited += step;
        if sent(&o, d2).contains("ROLE") {
            all.extend(t.feed(d2, ROLE_SLAVE));
        }
        all.extend(sentinels_still_say_old(&mut t, &o));
        all.extend(o);
    }
    assert!(!t.m.is_fenced());
    assert_eq!(replies(&all), vec![(id, Err(CommandError::FenceTimeout))]);
    assert!(closed(&all, d2));
    assert!(
        !events(&all)
            .iter()
            .any(|e| matches!(e, Event::MasterChanged { .. })),
        "a replica that never said master is never used"
    );
}

#[test]
fn switch_master_while_the_candidate_waits_asks_role_at_once() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &selected_slave());
    let (id, _) = t.submit(cmd("GET").arg("k"));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    t.connected(d2);
    t.feed(d2, ROLE_SLAVE);
    let o = notice(
        &mut t,
        n,
        "+switch-master",
        "svc 10.0.0.1 6379 10.0.0.2 6380",
    );
    assert_eq!(
        sent(&o, d2),
        arr(&["ROLE"]),
        "no wait for the poll interval"
    );
    assert!(connects(&o).is_empty());
    no_traffic_to_old(&o, d);
    let o = t.feed(d2, ROLE_MASTER);
    assert_eq!(sent(&o, d2), arr(&["GET", "k"]));
    let o = t.feed(d2, "$-1\r\n");
    assert_eq!(replies(&o), vec![(id, Ok(Value::Null))]);
}

#[test]
fn a_different_candidate_replaces_the_one_being_probed() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &selected_slave());
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    t.connected(d2);
    t.feed(d2, ROLE_SLAVE);
    let o = notice(
        &mut t,
        n,
        "+selected-slave",
        "slave 10.0.0.3:6381 10.0.0.3 6381 @ svc 10.0.0.1 6379",
    );
    assert!(closed(&o, d2));
    let (d3, a3) = connect_of(&o, PeerKind::Data(Role::Master)).expect("new probe");
    assert_eq!(a3, addr("10.0.0.3:6381"));
    no_traffic_to_old(&o, d);
    // A notice naming the fenced master itself as successor is not a candidate.
    let o = notice(
        &mut t,
        n,
        "+promoted-slave",
        "slave 10.0.0.1:6379 10.0.0.1 6379 @ svc 10.0.0.1 6379",
    );
    assert!(connects(&o).is_empty() && !closed(&o, d3), "{o:?}");
}

#[test]
fn old_master_gets_nothing_while_fenced() {
    let (mut t, d) = T::ready(T::cfg(2), OLD);
    let n = notices(&mut t);
    // A forced failover first publishes its attempt and its leader: no replica is chosen
    // yet, so the master stays in use.
    for ch in [
        "+try-failover",
        "+elected-leader",
        "+failover-state-select-slave",
    ] {
        let o = notice(&mut t, n, ch, "master svc 10.0.0.1 6379");
        assert!(events(&o).is_empty() && !t.m.is_fenced(), "{ch}: {o:?}");
    }
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(t.m.submit(cmd("INCR").arg(i), t.now));
    }
    let o = t.out();
    assert_eq!(sent(&o, d).matches("INCR").count(), 3);
    let mut all = Vec::new();
    // The rest of what a forced failover publishes, with commands arriving all along,
    // sentinels still naming the old master, the probe failing once and saying slave twice.
    let steps: [(&str, String); 2] = [
        ("+selected-slave", selected_slave()),
        ("+failover-state-send-slaveof-noone", selected_slave()),
    ];
    for (ch, payload) in steps {
        let o = notice(&mut t, n, ch, &payload);
        all.extend(sentinels_still_say_old(&mut t, &o));
        all.extend(o);
        ids.push(t.m.submit(cmd("INCR").arg(ch), t.now));
        all.extend(t.out());
    }
    let (d2, _) = connect_of(&all, PeerKind::Data(Role::Master)).expect("probe");
    all.extend(t.input(Input::Closed(d2)));
    let mut probe = None;
    for _ in 0..6 {
        let o = t.advance(t.config().fence_poll_interval);
        if let Some((c, _)) = connect_of(&o, PeerKind::Data(Role::Master)) {
            probe = Some(c);
            all.extend(t.connected(c));
        }
        let p = probe.expect("probe reopened");
        if t.m.io.get(p).is_some_and(|c| !c.is_idle()) {
            all.extend(t.feed(p, ROLE_SLAVE));
        }
        all.extend(sentinels_still_say_old(&mut t, &o));
        all.extend(o);
        ids.push(t.m.submit(cmd("INCR").arg("later"), t.now));
        all.extend(t.out());
        // The old master answers what it had in flight before the fence.
        if ids.len() == 8 {
            all.extend(t.feed(d, ":1\r\n:2\r\n:3\r\n"));
        }
    }
    assert!(t.m.is_fenced());
    no_traffic_to_old(&all, d);
    let p = probe.unwrap();
    assert!(sent(&all, p).contains("ROLE"), "the candidate was probed");
    assert_eq!(
        sent(&all, p),
        arr(&["ROLE"]).repeat(sent(&all, p).matches("ROLE").count()),
        "only ROLE reached the unpromoted replica"
    );
    // `+promoted-slave` for the candidate: asked again at once, not at the next interval.
    let o = notice(&mut t, n, "+promoted-slave", &promoted_slave());
    assert_eq!(sent(&o, p), arr(&["ROLE"]));
    all.extend(o);
    let o = t.feed(p, ROLE_MASTER);
    assert!(!t.m.is_fenced());
    let released = sent(&o, p).matches("INCR").count();
    assert_eq!(
        released,
        ids.len() - 3,
        "every held command goes to the new master"
    );
    all.extend(o);
    no_traffic_to_old(&all, d);
    let r: Vec<_> = replies(&all).into_iter().map(|r| r.0).collect();
    assert_eq!(
        r,
        ids[..3].to_vec(),
        "in-flight replies only from the old master"
    );
}

/// Early switch to NEW from `T::ready(.., OLD)`: returns (notices, new data connection,
/// what the fence's sentinel poll sent on the query connection, still unanswered).
fn switched_early(t: &mut T) -> (ConnId, ConnId, String) {
    let n = notices(t);
    let o = notice(t, n, "+promoted-slave", &promoted_slave());
    let polled = sent(&o, t.query().expect("fence polls sentinels"));
    assert!(polled.contains("get-master"), "{polled}");
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    t.connected(d2);
    let o = t.feed(d2, ROLE_MASTER);
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::MasterChanged { new, .. } if *new == addr(NEW))));
    (n, d2, polled)
}

/// The walk's query connection after `o`: the current one, or a fresh one opened in `o`
/// (connected here); returns it with what was asked on it.
fn asked(t: &mut T, o: &[Output]) -> (ConnId, String) {
    if let Some((q, _)) = connect_of(o, PeerKind::Sentinel) {
        let s = sent(&t.connected(q), q);
        return (q, s);
    }
    let q = t.query().expect("query connection");
    (q, sent(o, q))
}

#[test]
fn sentinels_still_naming_the_old_master_after_an_early_switch_are_not_followed() {
    // Found by the failover drill: right after the early switch, the backstop poll got the old
    // master from sentinels that had not caught up, and commands went back there (and were
    // lost when it was demoted). The early switch marks the old master replaced (the same
    // ROLE verification as any switch), so such answers are stale by the epoch rule.
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let (_, d2, polled) = switched_early(&mut t);
    assert!(t.m.history.is_replaced(&addr(OLD)));
    let q = t.query().unwrap();
    let mut all = t.answer(q, &polled, &arr(&["10.0.0.1", "6379"]));
    assert!(!closed(&all, d2), "stays on the verified new master");
    let (id, o) = t.submit(cmd("INCR").arg("x"));
    assert_eq!(sent(&o, d2), arr(&["INCR", "x"]));
    all.extend(o);
    // The new master's connection drops while sentinels still name the old one (same epoch):
    // reconnect to the new master, not the old, and fail nothing.
    all.extend(t.feed(d2, ":1\r\n"));
    let (q, s) = {
        let o = t.input(Input::Closed(d2));
        let (q, s) = asked(&mut t, &o);
        all.extend(o);
        if s.contains("get-master") {
            (q, s)
        } else {
            let o = t.advance(t.config().sentinel_poll_interval);
            let r = asked(&mut t, &o);
            all.extend(o);
            r
        }
    };
    assert!(s.contains("get-master"), "{s}");
    let (id2, o) = t.submit(cmd("INCR").arg("y"));
    all.extend(o);
    let o = t.answer(q, &s, &arr(&["10.0.0.1", "6379"]));
    let (d3, a3) = connect_of(&o, PeerKind::Data(Role::Master)).expect("reconnect");
    assert_eq!(a3, addr(NEW));
    all.extend(o);
    let o = t.verify(d3, ROLE_MASTER);
    assert_eq!(
        sent(&o, d3),
        arr(&["INCR", "y"]),
        "{id2:?} goes to the new master"
    );
    all.extend(o);
    no_traffic_to_old(&all, d);
    assert_eq!(replies(&all), vec![(id, Ok(Value::Integer(1)))]);
    assert_eq!(t.m.current_master(), Some(&addr(NEW)));
}

#[test]
fn failover_abort_after_an_early_switch_goes_back_to_the_old_master() {
    // ROLE said master on the promoted replica, then the failover timed out: Sentinel will
    // turn that replica back, so the old master is no longer stale and writes stop at once.
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let (n, d2, polled) = switched_early(&mut t);
    let q = t.query().unwrap();
    t.answer(q, &polled, &arr(&["10.0.0.1", "6379"]));
    assert_eq!(t.m.current_master(), Some(&addr(NEW)));
    let o = notice(
        &mut t,
        n,
        "-failover-abort-slave-timeout",
        "master svc 10.0.0.1 6379",
    );
    assert!(closed(&o, d2), "the turned-back replica is left");
    assert!(!t.m.history.is_replaced(&addr(OLD)));
    let (id, o2) = t.submit(cmd("INCR").arg("x"));
    assert_eq!(sent(&o2, d2), "", "nothing more goes to it");
    let (q, s) = asked(&mut t, &o);
    assert!(s.contains("get-master"), "{s}");
    let o = t.answer(q, &s, &arr(&["10.0.0.1", "6379"]));
    let (d3, a3) = connect_of(&o, PeerKind::Data(Role::Master)).expect("back to old");
    assert_eq!(a3, addr(OLD));
    let o = t.verify(d3, ROLE_MASTER);
    assert_eq!(sent(&o, d3), arr(&["INCR", "x"]), "{id:?}");
}

#[test]
fn lagging_sentinels_after_an_early_switch_raise_no_warning() {
    // Seen after every successful failover: sentinels that have not caught up name the
    // replaced master, the walk finds nothing usable, and "discovery failed" was reported as
    // an error (tripping log-based alerts) although the client was fine on the new master.
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let (_, d2, polled) = switched_early(&mut t);
    let q = t.query().unwrap();
    let o = t.answer(q, &polled, &arr(&["10.0.0.1", "6379"]));
    assert!(!closed(&o, d2));
    assert!(
        !events(&o)
            .iter()
            .any(|e| matches!(e, Event::Error(m) if m.contains("discovery failed"))),
        "{o:?}"
    );
    // A real failure still is one: the sentinel answers garbage.
    let o = t.advance(t.config().sentinel_poll_interval);
    let (q, s) = asked(&mut t, &o);
    assert!(s.contains("get-master"), "{s}");
    let o = t.feed(q, "+garbage\r\n");
    let o = [o, t.feed(q, &info(0))].concat();
    assert!(
        events(&o)
            .iter()
            .any(|e| matches!(e, Event::Error(m) if m.contains("discovery failed"))),
        "{o:?}"
    );
}

#[test]
fn the_candidate_closing_our_probe_is_taken_as_its_promotion() {
    // Sentinel promotes with MULTI; SLAVEOF NO ONE; ...; CLIENT KILL TYPE normal; EXEC: the
    // candidate closes our probe connection at the moment it becomes master.
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &promoted_slave());
    let (p, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe");
    t.connected(p);
    t.feed(p, ROLE_SLAVE);
    let o = t.input(Input::Closed(p));
    assert!(
        !events(&o).iter().any(|e| matches!(e, Event::Error(_))),
        "the promotion is no error: {o:?}"
    );
    let (p2, a) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probed again at once");
    assert_eq!(a, addr(NEW));
    t.connected(p2);
    let o = t.feed(p2, ROLE_MASTER);
    assert!(!t.m.is_fenced());
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::MasterChanged { .. })));
    // Bounded: a candidate that keeps closing is asked again at the poll interval only.
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &promoted_slave());
    let mut p = connect_of(&o, PeerKind::Data(Role::Master)).unwrap().0;
    let mut immediate = 0;
    for _ in 0..5 {
        t.connected(p);
        t.feed(p, ROLE_SLAVE);
        let o = t.input(Input::Closed(p));
        match connect_of(&o, PeerKind::Data(Role::Master)) {
            Some((next, _)) => {
                immediate += 1;
                p = next;
            }
            None => {
                let o = t.advance(t.config().fence_poll_interval);
                p = connect_of(&o, PeerKind::Data(Role::Master))
                    .expect("polled later")
                    .0;
            }
        }
    }
    assert_eq!(immediate, 2, "a handful of immediate probes per fence");
}
