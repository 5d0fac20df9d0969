//! Judging sentinel answers: replaced masters and config epochs, second opinions against a
//! healthy master, and sentinels whose answer failed verification moving to the back.

use super::fence::{notice, notices};
use super::*;

const OLD: &str = "10.0.0.1:6379";
const NEW: &str = "10.0.0.2:6380";
const REPLICA: &str = "10.0.0.3:6381";

fn named(a: &str) -> String {
    let (h, p) = a.rsplit_once(':').unwrap();
    arr(&[h, p])
}

/// Advances until the backstop poll asks the query connection; returns that connection.
fn poll(t: &mut T, d: ConnId) -> ConnId {
    for _ in 0..20 {
        let o = t.advance(t.config().sentinel_poll_interval / 4);
        if sent(&o, d).contains("PING") {
            t.feed(d, "+PONG\r\n");
        }
        if let Some((q, _)) = connect_of(&o, PeerKind::Sentinel) {
            // The last walk closed its connection: a new one is opened.
            let o = t.connected(q);
            assert!(sent(&o, q).contains("get-master"));
            return q;
        }
        if let Some(q) = t.query() {
            if sent(&o, q).contains("get-master") {
                return q;
            }
        }
    }
    panic!("no backstop poll");
}

/// Connects the walk's fresh query connection (opened in `o`) and returns it.
fn next_query(t: &mut T, o: &[Output]) -> (ConnId, Addr) {
    let (q, a) = connect_of(o, PeerKind::Sentinel).expect("next sentinel asked");
    let s = sent(&t.connected(q), q);
    assert!(s.contains("get-master") && s.contains(&arr(&["SENTINEL", "MASTER", "svc"])));
    (q, a)
}

fn data_connects(o: &[Output]) -> Vec<Addr> {
    connects(o)
        .into_iter()
        .filter(|c| c.2 == PeerKind::Data(Role::Master))
        .map(|c| c.1)
        .collect()
}

/// Ready on OLD, then a `+switch-master` to NEW verified: returns the NEW data connection.
fn switched(t: &mut T) -> ConnId {
    let n = notices(t);
    let o = notice(t, n, "+switch-master", "svc 10.0.0.1 6379 10.0.0.2 6380");
    let (d2, a) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    assert_eq!(a, addr(NEW));
    // The fence's poll meets a sentinel that has not heard of the switch yet.
    let q = t.query().unwrap();
    assert!(sent(&o, q).contains("get-master"));
    let o = t.feed(q, &(named(OLD) + &info(0)));
    assert!(data_connects(&o).is_empty());
    let o = t.verify(d2, ROLE_MASTER);
    assert!(events(&o).contains(&Event::MasterChanged {
        old: Some(addr(OLD)),
        new: addr(NEW)
    }));
    d2
}

#[test]
fn lagging_sentinel_naming_the_replaced_master_is_skipped() {
    let (mut t, _) = T::ready(T::cfg(2), OLD);
    let d2 = switched(&mut t);
    // The new master's connection drops; the first sentinel has not heard of the failover.
    let o = t.input(Input::Closed(d2));
    let q = t.query().unwrap();
    assert!(sent(&o, q).contains("get-master"));
    let o = t.feed(q, &(named(OLD) + &info(0)));
    assert!(
        data_connects(&o).is_empty(),
        "not back to the old master: {o:?}"
    );
    let (q2, a) = next_query(&mut t, &o);
    assert_eq!(a, addr("s2:26379"));
    let o = t.feed(q2, &(named(NEW) + &info(1)));
    assert_eq!(data_connects(&o), vec![addr(NEW)]);
}

#[test]
fn backstop_poll_from_a_lagging_sentinel_keeps_the_new_master() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let d2 = switched(&mut t);
    let q = poll(&mut t, d2);
    let o = t.feed(q, &(named(OLD) + &info(0)));
    assert!(data_connects(&o).is_empty(), "{o:?}");
    assert!(!closed(&o, d2));
    assert_eq!(t.m.current_node().map(|n| n.0.clone()), Some(addr(NEW)));
    let (id, o) = t.submit(crate::cmd("INCR").arg("x"));
    assert_eq!(
        sent(&o, d2),
        arr(&["INCR", "x"]),
        "{id:?} goes to the new master"
    );
}

#[test]
fn a_newer_epoch_naming_a_replaced_master_is_followed() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let d2 = switched(&mut t);
    // Learn the epoch of the current configuration first.
    let q = poll(&mut t, d2);
    let o = t.feed(q, &(named(NEW) + &info(1)));
    assert!(data_connects(&o).is_empty());
    let q = poll(&mut t, d2);
    let o = t.feed(q, &(named(OLD) + &info(1)));
    assert!(data_connects(&o).is_empty(), "same epoch: still stale");
    let q = poll(&mut t, d2);
    let o = t.feed(q, &(named(OLD) + &info(2)));
    assert!(closed(&o, d2));
    assert_eq!(
        data_connects(&o),
        vec![addr(OLD)],
        "a later failover went back"
    );
}

#[test]
fn switch_master_back_to_a_replaced_master_is_followed() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    switched(&mut t);
    let n = t.watch(&t.config().sentinels[0]).unwrap();
    // A second failover, announced from the same sentinel (not a copy).
    let o = notice(
        &mut t,
        n,
        "+switch-master",
        "svc 10.0.0.2 6380 10.0.0.1 6379",
    );
    assert_eq!(data_connects(&o), vec![addr(OLD)]);
    assert!(!t.m.history.is_replaced(&addr(OLD)));
}

#[test]
fn late_switch_master_of_an_earlier_failover_is_ignored() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let d2 = switched(&mut t);
    let n = t.watch(&t.config().sentinels[0]).unwrap();
    // A lagging sentinel announces a switch *to* the replaced master away from some other
    // node than the one in use (what it last believed): not a failover back from NEW.
    let o = notice(
        &mut t,
        n,
        "+switch-master",
        "svc 10.0.0.3 6381 10.0.0.1 6379",
    );
    assert!(data_connects(&o).is_empty(), "{o:?}");
    assert!(!closed(&o, d2));
    assert!(t.m.history.is_replaced(&addr(OLD)), "still replaced");
    assert!(!t.m.is_fenced());
    let (id, o) = t.submit(crate::cmd("INCR").arg("x"));
    assert_eq!(sent(&o, d2), arr(&["INCR", "x"]), "{id:?} stays on NEW");
}

#[test]
fn one_sentinel_contradicting_a_healthy_master_needs_a_second_opinion() {
    let (mut t, d) = T::ready(T::cfg(3), OLD);
    let q = poll(&mut t, d);
    assert_eq!(t.addr_of(q), Some(addr("s1:26379")));
    let o = t.feed(q, &(named(REPLICA) + &info(0)));
    assert!(!closed(&o, d), "the verified master is kept");
    assert!(data_connects(&o).is_empty());
    let (q2, a) = next_query(&mut t, &o);
    assert_eq!(a, addr("s2:26379"));
    let o = t.feed(q2, &(named(OLD) + &info(0)));
    assert!(data_connects(&o).is_empty() && !closed(&o, d));
    assert_eq!(
        t.m.sentinels(),
        &[addr("s2:26379"), addr("s3:26379"), addr("s1:26379")],
        "the dissenter goes to the back"
    );
    let (id, o) = t.submit(crate::cmd("GET").arg("k"));
    assert_eq!(sent(&o, d), arr(&["GET", "k"]), "{id:?}");
}

#[test]
fn two_sentinels_agreeing_carry_the_switch() {
    let (mut t, d) = T::ready(T::cfg(3), OLD);
    let q = poll(&mut t, d);
    let o = t.feed(q, &(named(NEW) + &info(0)));
    assert!(!closed(&o, d));
    let (q2, _) = next_query(&mut t, &o);
    let o = t.feed(q2, &(named(NEW) + &info(0)));
    assert!(closed(&o, d));
    assert_eq!(data_connects(&o), vec![addr(NEW)]);
}

#[test]
fn an_unseconded_contradiction_keeps_the_master_when_the_others_fail() {
    let (mut t, d) = T::ready(T::cfg(2), OLD);
    let q = poll(&mut t, d);
    let o = t.feed(q, &(named(REPLICA) + &info(0)));
    let (q2, _) = connect_of(&o, PeerKind::Sentinel).unwrap();
    let o = t.input(Input::ConnectFailed(q2));
    assert!(!closed(&o, d) && data_connects(&o).is_empty(), "{o:?}");
    assert!(t.m.current_node().is_some());
    assert_eq!(t.m.sentinels(), &[addr("s2:26379"), addr("s1:26379")]);
}

#[test]
fn sentinel_whose_master_fails_the_role_check_goes_to_the_back() {
    let mut t = T::new(T::cfg(3));
    let d = t.resolve(REPLICA);
    let o = t.verify(d, ROLE_SLAVE);
    assert!(closed(&o, d));
    assert_eq!(
        t.m.sentinels(),
        &[addr("s2:26379"), addr("s3:26379"), addr("s1:26379")]
    );
    // The next walk asks s2 first.
    let o = t.fire();
    assert_eq!(
        connect_of(&o, PeerKind::Sentinel).unwrap().1,
        addr("s2:26379")
    );
}
