//! Items 5 and 6: the sentinel subscription, the failover fence, switches, aborts, expiry.

use super::*;
use crate::cmd;

const OLD: &str = "10.0.0.1:6379";
const NEW: &str = "10.0.0.2:6380";

/// The notice subscription to sentinel `i` of the configured list, if open.
pub(super) fn watch_of(t: &T, i: usize) -> Option<ConnId> {
    t.watch(&t.config().sentinels[i])
}

/// Connects the notice subscription to the first sentinel; returns its connection.
pub(super) fn notices(t: &mut T) -> ConnId {
    let n = watch_of(t, 0).expect("notice subscription opened");
    let o = t.connected(n);
    let s = sent(&o, n);
    assert!(s.starts_with("*") && s.contains("SUBSCRIBE"));
    for ch in [
        "+switch-master",
        "+selected-slave",
        "+odown",
        "+failover-end",
        "+sentinel",
    ] {
        assert!(s.contains(ch), "{ch}");
    }
    t.feed(
        n,
        "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n",
    );
    n
}

pub(super) fn notice(t: &mut T, n: ConnId, ch: &str, payload: &str) -> Vec<Output> {
    t.feed(n, &arr(&["message", ch, payload]))
}

pub(super) fn selected_slave() -> String {
    "slave 10.0.0.2:6380 10.0.0.2 6380 @ svc 10.0.0.1 6379".to_string()
}

#[test]
fn fence_stops_writes_holds_commands_and_releases_them_on_the_new_master() {
    let (mut t, d) = T::ready(T::cfg(2), OLD);
    let n = notices(&mut t);
    let a = t.m.submit(cmd("INCR").arg("x"), t.now);
    let o = t.out();
    assert_eq!(sent(&o, d), arr(&["INCR", "x"]));
    // Written but not yet flushed to the driver when the fence goes up: taken back.
    let b = t.m.submit(cmd("INCR").arg("y"), t.now);
    // An event that names no successor: sentinels are polled for it.
    let o = notice(&mut t, n, "+odown", "master svc 10.0.0.1 6379 #quorum 2/2");
    assert!(events(&o).contains(&Event::FenceRaised {
        old: addr(OLD),
        reason: "+odown".into()
    }));
    assert!(connect_of(&o, PeerKind::Data(Role::Master)).is_none());
    assert_eq!(sent(&o, d), "", "nothing more reaches the old master");
    assert!(t.m.is_fenced());
    let c = t.m.submit(cmd("INCR").arg("z"), t.now);
    let o2 = t.out();
    assert_eq!(sent(&o2, d), "");
    // The in-flight command still gets its reply from the old master.
    let o3 = t.feed(d, ":41\r\n");
    assert_eq!(replies(&o3), vec![(a, Ok(Value::Integer(41)))]);
    assert!(closed(&o3, d), "old connection closed once drained");
    // Sentinels still name the old master: poll again soon.
    let q = t.query().unwrap();
    assert!(sent(&o, q).contains("get-master"));
    let o = t.feed(q, &(arr(&["10.0.0.1", "6379"]) + &info(0)));
    assert!(connects(&o).is_empty());
    let o = t.advance(t.config().fence_poll_interval);
    assert!(sent(&o, q).contains("get-master"));
    let o = t.feed(q, &(arr(&["10.0.0.2", "6380"]) + &info(0)));
    let (d2, a2) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    assert_eq!(a2, addr(NEW));
    let o = t.verify(d2, ROLE_MASTER);
    assert!(events(&o).contains(&Event::MasterChanged {
        old: Some(addr(OLD)),
        new: addr(NEW)
    }));
    assert!(!t.m.is_fenced());
    assert_eq!(sent(&o, d2), arr(&["INCR", "y"]) + &arr(&["INCR", "z"]));
    let o = t.feed(d2, ":1\r\n:1\r\n");
    let ids: Vec<_> = replies(&o).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, vec![b, c]);
}

#[test]
fn switch_master_connects_straight_to_the_new_master() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(
        &mut t,
        n,
        "+switch-master",
        "svc 10.0.0.1 6379 10.0.0.2 6380",
    );
    assert!(closed(&o, d));
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::FenceRaised { reason, .. } if reason == "+switch-master")));
    let (d2, a) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    assert_eq!(a, addr(NEW));
    let (id, _) = t.submit(cmd("SET").arg("k").arg("v"));
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(sent(&o, d2), arr(&["SET", "k", "v"]));
    assert!(t
        .feed(d2, "+OK\r\n")
        .iter()
        .any(|x| matches!(x, Output::Reply { request, .. } if *request == id)));
}

#[test]
fn events_for_other_services_or_masters_are_ignored() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(
        &mut t,
        n,
        "+selected-slave",
        "slave a:1 10.0.0.5 1 @ other 10.0.0.1 6379",
    );
    assert!(events(&o).is_empty());
    let o = notice(
        &mut t,
        n,
        "+selected-slave",
        "slave a:1 10.0.0.5 1 @ svc 10.9.9.9 6379",
    );
    assert!(events(&o).is_empty());
    let o = notice(&mut t, n, "+odown", "garbage");
    assert!(o.is_empty());
    assert!(!t.m.is_fenced());
}

#[test]
fn failover_abort_lifts_the_fence_and_resumes_on_the_old_master() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    notice(&mut t, n, "+odown", "master svc 10.0.0.1 6379 #quorum 2/2");
    notice(&mut t, n, "+try-failover", "master svc 10.0.0.1 6379");
    assert!(t.m.is_fenced());
    let (id, _) = t.submit(cmd("SET").arg("k").arg(1));
    let o = notice(
        &mut t,
        n,
        "-failover-abort-no-good-slave",
        "master svc 10.0.0.1 6379",
    );
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::FenceLifted { .. })));
    assert!(!t.m.is_fenced());
    let _ = d;
    let q = t.query().unwrap();
    let o = t.feed(q, &(arr(&["10.0.0.1", "6379"]) + &info(0)));
    let (d2, a) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    assert_eq!(a, addr(OLD));
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(sent(&o, d2), arr(&["SET", "k", "1"]));
    let o = t.feed(d2, "+OK\r\n");
    assert_eq!(replies(&o)[0].0, id);
}

#[test]
fn a_lost_election_keeps_the_odown_fence_for_the_winner() {
    let (mut t, d) = T::ready(T::cfg(2), OLD);
    let n = notices(&mut t);
    notice(&mut t, n, "+odown", "master svc 10.0.0.1 6379 #quorum 2/2");
    assert!(t.m.is_fenced());
    // The winner is elected, then the loser gives up: nothing goes to the old master.
    notice(&mut t, n, "+elected-leader", "master svc 10.0.0.1 6379");
    let (id, o) = t.submit(cmd("SET").arg("k").arg(1));
    assert!(replies(&o).is_empty());
    assert_eq!(sent(&o, d), "", "held, not written to the old master");
    let o = notice(
        &mut t,
        n,
        "-failover-abort-not-elected",
        "master svc 10.0.0.1 6379",
    );
    assert_eq!(
        sent(&o, d),
        "",
        "the abort does not release it to the old master"
    );
    assert!(
        t.m.is_fenced(),
        "a lost election is not the end of the failover"
    );
    assert!(!events(&o)
        .iter()
        .any(|e| matches!(e, Event::FenceLifted { .. })));
    assert!(replies(&o).is_empty());
    assert!(connect_of(&o, PeerKind::Data(Role::Master)).is_none());
    // The winner goes on: its replica becomes the candidate and gets the held SET.
    let o = notice(&mut t, n, "+selected-slave", &selected_slave());
    let (d2, a) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    assert_ne!(a, addr(OLD));
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(sent(&o, d2), arr(&["SET", "k", "1"]));
    let o = t.feed(d2, "+OK\r\n");
    assert_eq!(replies(&o)[0].0, id);
}

#[test]
fn a_lost_election_does_not_undo_a_verified_switch() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+selected-slave", &selected_slave());
    assert!(t.m.is_fenced(), "the leader's step raises the fence");
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("candidate connection");
    t.verify(d2, ROLE_MASTER);
    assert!(!t.m.is_fenced());
    let o = notice(
        &mut t,
        n,
        "-failover-abort-not-elected",
        "master svc 10.0.0.1 6379",
    );
    assert!(!closed(&o, d2), "the verified successor stays in use");
    let (id, o) = t.submit(cmd("SET").arg("k").arg(2));
    assert_eq!(sent(&o, d2), arr(&["SET", "k", "2"]));
    assert_eq!(sent(&o, d), "", "nothing goes back to the old master");
    let o = t.feed(d2, "+OK\r\n");
    assert_eq!(replies(&o)[0].0, id);
}

#[test]
fn odown_cleared_lifts_a_suspected_fence_only() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    notice(&mut t, n, "+odown", "master svc 10.0.0.1 6379 #quorum 2/2");
    assert!(t.m.is_fenced());
    notice(&mut t, n, "-odown", "master svc 10.0.0.1 6379");
    assert!(!t.m.is_fenced());
    notice(&mut t, n, "+odown", "master svc 10.0.0.1 6379 #quorum 2/2");
    notice(&mut t, n, "+selected-slave", &selected_slave());
    notice(&mut t, n, "-odown", "master svc 10.0.0.1 6379");
    assert!(
        t.m.is_fenced(),
        "a failover in progress is not called off by -odown"
    );
}

#[test]
fn fence_hold_expires_with_fence_timeout_and_bounded_queue() {
    let mut c = T::cfg(1);
    c.fence_max_queued = 1;
    let (mut t, _) = T::ready(c, OLD);
    let n = notices(&mut t);
    notice(&mut t, n, "+promoted-slave", &selected_slave());
    let a = t.m.submit(cmd("SET").arg("a").arg(1), t.now);
    let (b, o) = t.submit(cmd("SET").arg("b").arg(1));
    assert_eq!(replies(&o), vec![(b, Err(CommandError::QueueFull))]);
    // Commands are not timed out individually while fenced; the fence deadline applies.
    let q = t.query().unwrap();
    let hold = t.config().fence_max_hold;
    let mut waited = Duration::ZERO;
    let mut all = Vec::new();
    while waited < hold {
        let o = t.advance(t.config().fence_poll_interval);
        waited += t.config().fence_poll_interval;
        if sent(&o, q).contains("get-master") {
            all.extend(t.feed(q, &(arr(&["10.0.0.1", "6379"]) + &info(0))));
        }
        all.extend(o);
    }
    assert_eq!(replies(&all), vec![(a, Err(CommandError::FenceTimeout))]);
    // The fence itself stays: no sentinel could be asked whether the failover ended (see
    // `fence_hold.rs` for what they say deciding it).
    assert!(events(&all)
        .iter()
        .any(|e| matches!(e, Event::FenceHeld { held, .. } if *held >= hold)));
    assert!(!events(&all)
        .iter()
        .any(|e| matches!(e, Event::FenceLifted { .. })));
    assert!(t.m.is_fenced());
}

#[test]
fn backstop_poll_moves_to_a_new_master_without_any_notice() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let q = t.query().unwrap();
    let mut o = Vec::new();
    for _ in 0..10 {
        o = t.advance(t.config().sentinel_poll_interval / 4);
        if sent(&o, q).contains("get-master") {
            break;
        }
        if sent(&o, d).contains("PING") {
            t.feed(d, "+PONG\r\n");
        }
    }
    assert!(sent(&o, q).contains("get-master"));
    // A newer config epoch: a failover this client missed.
    let o = t.feed(q, &(arr(&["10.0.0.2", "6380"]) + &info(1)));
    assert!(closed(&o, d));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    let o = t.verify(d2, ROLE_MASTER);
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::MasterChanged { .. })));
}

#[test]
fn every_sentinel_gets_a_subscription_and_a_dropped_one_comes_back() {
    let (mut t, _) = T::ready(T::cfg(3), OLD);
    let subs: Vec<ConnId> = (0..3)
        .map(|i| watch_of(&t, i).expect("subscribed"))
        .collect();
    for (i, n) in subs.iter().enumerate() {
        assert_eq!(t.addr_of(*n).as_ref(), Some(&t.config().sentinels[i]));
        let o = t.connected(*n);
        assert!(sent(&o, *n).contains("+selected-slave"));
    }
    let o = t.input(Input::Closed(subs[1]));
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::Error(m) if m.contains("subscription"))));
    assert_eq!(watch_of(&t, 0), Some(subs[0]), "the others stay");
    assert_eq!(watch_of(&t, 2), Some(subs[2]));
    let o = t.advance(t.config().backoff.base);
    let (n2, a) = connect_of(&o, PeerKind::SentinelSubscriber).unwrap();
    assert_eq!(a, t.config().sentinels[1], "same sentinel again");
    // Losing it again doubles the delay before the next attempt.
    t.input(Input::Closed(n2));
    let o = t.advance(t.config().backoff.base);
    assert!(connect_of(&o, PeerKind::SentinelSubscriber).is_none());
    let o = t.advance(t.config().backoff.base);
    assert!(connect_of(&o, PeerKind::SentinelSubscriber).is_some());
}

#[test]
fn progress_events_from_a_non_first_sentinel_raise_the_fence() {
    let (mut t, d) = T::ready(T::cfg(3), OLD);
    let leader = watch_of(&t, 2).unwrap();
    t.connected(leader);
    let o = notice(&mut t, leader, "+selected-slave", &selected_slave());
    assert!(t.m.is_fenced());
    assert!(closed(&o, d));
}

#[test]
fn the_same_switch_from_several_sentinels_is_acted_on_once() {
    let (mut t, d) = T::ready(T::cfg(2), OLD);
    let a = notices(&mut t);
    let b = watch_of(&t, 1).unwrap();
    t.connected(b);
    let sw = "svc 10.0.0.1 6379 10.0.0.2 6380";
    let o = notice(&mut t, a, "+switch-master", sw);
    assert!(closed(&o, d));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    let o = notice(&mut t, b, "+switch-master", sw);
    assert!(o.is_empty(), "the copy changes nothing: {o:?}");
    assert_eq!(t.m.phase.node().map(|n| n.conn), Some(d2));
}

#[test]
fn resp3_push_and_pmessage_notices_are_understood() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let payload = selected_slave();
    let push = format!(
        ">3\r\n$7\r\nmessage\r\n$15\r\n+selected-slave\r\n${}\r\n{}\r\n",
        payload.len(),
        payload
    );
    let o = t.feed(n, &push);
    assert!(closed(&o, d));
    assert!(t.m.is_fenced());
    assert_eq!(
        connect_of(&o, PeerKind::Data(Role::Master)).unwrap().1,
        addr(NEW),
        "the selected replica is probed at once"
    );
    let o = t.feed(
        n,
        &arr(&[
            "pmessage",
            "*",
            "+switch-master",
            "svc 10.0.0.1 6379 10.0.0.2 6380",
        ]),
    );
    assert!(connects(&o).is_empty(), "already connecting there: {o:?}");
}

#[test]
fn huge_durations_do_not_overflow() {
    let mut c = T::cfg(1);
    c.fence_max_hold = Duration::MAX;
    c.command_timeout = Duration::MAX;
    c.connect_timeout = Duration::MAX;
    let (mut t, _) = T::ready(c, OLD);
    let n = notices(&mut t);
    notice(&mut t, n, "+selected-slave", &selected_slave());
    t.m.submit(cmd("GET").arg("k"), t.now);
    assert!(t.m.poll_timeout().is_some());
    t.advance(Duration::from_secs(1));
}
