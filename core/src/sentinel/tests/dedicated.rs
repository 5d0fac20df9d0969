//! Dedicated connections: exclusive, ROLE-verified, never moved; a failover ends them.

use super::fence::{notice, notices};
use super::*;
use crate::cmd;

const OLD: &str = "10.0.0.1:6379";

fn open(t: &mut T) -> (DedicatedId, ConnId) {
    let id = t.m.open_dedicated(t.now);
    let o = t.out();
    let (c, a) = connect_of(&o, PeerKind::DataDedicated(Role::Master)).expect("its own connection");
    assert_eq!(a, addr(OLD));
    let o = t.connected(c);
    assert!(sent(&o, c).contains("ROLE"));
    (id, c)
}

#[test]
fn watch_multi_exec_run_on_the_dedicated_connection_only() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let (id, c) = open(&mut t);
    let opts = SubmitOptions::default();
    // Submitted before it is verified: waits, then goes out in order.
    let w = t.m.submit_on(id, cmd("WATCH").arg("k"), opts, t.now);
    assert!(sent(&t.out(), c).is_empty());
    let o = t.feed(c, ROLE_MASTER);
    assert_eq!(sent(&o, c), arr(&["WATCH", "k"]));
    let o = t.feed(c, "+OK\r\n");
    assert_eq!(replies(&o), vec![(w, Ok(Value::SimpleString("OK".into())))]);
    let tx =
        t.m.submit_transaction_on(id, vec![cmd("INCR").arg("k")], opts, t.now);
    let o = t.out();
    assert_eq!(
        sent(&o, c),
        arr(&["MULTI"]) + &arr(&["INCR", "k"]) + &arr(&["EXEC"])
    );
    assert!(sent(&o, d).is_empty(), "nothing on the shared connection");
    // A watched key changed: EXEC answers null, delivered as it is.
    let o = t.feed(c, "+OK\r\n+QUEUED\r\n*-1\r\n");
    assert_eq!(replies(&o), vec![(tx, Ok(Value::Null))]);
    // Pub/sub stays refused there too.
    let s = t.m.submit_on(id, cmd("SUBSCRIBE").arg("x"), opts, t.now);
    assert!(matches!(&replies(&t.out())[..], [(r, Err(CommandError::Rejected(_)))] if *r == s));
    t.m.close_dedicated(id);
    let o = t.out();
    assert!(closed(&o, c));
    let late = t.m.submit_on(id, cmd("GET").arg("k"), opts, t.now);
    assert!(matches!(
        &replies(&t.out())[..],
        [(r, Err(CommandError::DedicatedEnded(_)))] if *r == late
    ));
}

#[test]
fn a_failover_ends_a_dedicated_connection_instead_of_moving_it() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    let (id, c) = open(&mut t);
    t.feed(c, ROLE_MASTER);
    let opts = SubmitOptions::default();
    let inflight = t.m.submit_on(id, cmd("WATCH").arg("k"), opts, t.now);
    t.out();
    let payload = "slave 10.0.0.2:6380 10.0.0.2 6380 @ svc 10.0.0.1 6379";
    let o = notice(&mut t, n, "+selected-slave", payload);
    assert!(t.m.is_fenced());
    assert!(closed(&o, c), "closed when the fence goes up");
    assert_eq!(
        replies(&o),
        vec![(inflight, Err(CommandError::ConnectionLost { sent: true }))]
    );
    let after = t.m.submit_on(id, cmd("GET").arg("k"), opts, t.now);
    match &replies(&t.out())[..] {
        [(r, Err(CommandError::DedicatedEnded(why)))] if *r == after => {
            assert!(
                why.contains("WATCH") && why.contains("10.0.0.1:6379"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    // The new master is verified; the ended connection stays ended (no silent move).
    let (cand, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("candidate probe");
    let o = t.verify(cand, ROLE_MASTER);
    assert!(connect_of(&o, PeerKind::DataDedicated(Role::Master)).is_none());
    // A new one opens on the new master.
    let id2 = t.m.open_dedicated(t.now);
    let o = t.out();
    let (_, a) = connect_of(&o, PeerKind::DataDedicated(Role::Master)).unwrap();
    assert_eq!(a, addr("10.0.0.2:6380"));
    assert_ne!(id, id2);
}

#[test]
fn a_dedicated_connection_lost_fails_what_it_carried() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let (id, c) = open(&mut t);
    t.feed(c, ROLE_MASTER);
    let opts = SubmitOptions::default();
    let r = t.m.submit_on(id, cmd("INCR").arg("k"), opts, t.now);
    t.out();
    let o = t.input(Input::Closed(c));
    assert_eq!(
        replies(&o),
        vec![(r, Err(CommandError::ConnectionLost { sent: true }))]
    );
    let again = t.m.submit_on(id, cmd("INCR").arg("k"), opts, t.now);
    assert!(matches!(
        &replies(&t.out())[..],
        [(x, Err(CommandError::DedicatedEnded(_)))] if *x == again
    ));
}
