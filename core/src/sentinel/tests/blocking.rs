//! Blocking commands run on pool connections of their own, follow the node, and are covered
//! by the fence.

use super::fence::{notice, notices};
use super::*;
use crate::cmd;

const OLD: &str = "10.0.0.1:6379";

/// Connects and verifies a pool connection to the master.
fn pool_conn(t: &mut T, o: &[Output]) -> ConnId {
    let (p, a) = connect_of(o, PeerKind::DataBlocking(Role::Master)).expect("a pool connection");
    assert_eq!(a, addr(OLD));
    let o = t.connected(p);
    assert!(sent(&o, p).contains("ROLE"));
    p
}

#[test]
fn a_blocking_command_runs_on_its_own_connection_and_stalls_no_one() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let (b, o) = t.submit(cmd("BLPOP").arg("q").arg(5));
    assert!(sent(&o, d).is_empty(), "not on the shared connection");
    let p = pool_conn(&mut t, &o);
    let o = t.feed(p, ROLE_MASTER);
    assert_eq!(sent(&o, p), arr(&["BLPOP", "q", "5"]));
    let (g, o) = t.submit(cmd("GET").arg("k"));
    assert_eq!(sent(&o, d), arr(&["GET", "k"]));
    let o = t.feed(d, "$1\r\nv\r\n");
    assert_eq!(
        replies(&o),
        vec![(g, Ok(bulk("v")))],
        "answered while BLPOP waits"
    );
    // Its deadline is its own timeout plus the margin, not command_timeout.
    let o = t.advance(t.config().command_timeout + Duration::from_secs(1));
    assert!(replies(&o).is_empty() && !closed(&o, p), "{o:?}");
    let o = t.feed(p, &arr(&["q", "x"]));
    assert_eq!(
        replies(&o),
        vec![(b, Ok(Value::Array(vec![bulk("q"), bulk("x")])))]
    );
    // The connection is reused for the next one.
    let (_, o) = t.submit(cmd("BRPOP").arg("q").arg(0));
    assert_eq!(sent(&o, p), arr(&["BRPOP", "q", "0"]));
    assert!(connect_of(&o, PeerKind::DataBlocking(Role::Master)).is_none());
}

#[test]
fn a_blocking_command_past_its_own_deadline_times_out() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let (b, o) = t.submit(cmd("BLPOP").arg("q").arg(1));
    let p = pool_conn(&mut t, &o);
    t.feed(p, ROLE_MASTER);
    let margin = t.config().command_timeout;
    let o = t.advance(Duration::from_secs(1) + margin - Duration::from_millis(1));
    assert!(replies(&o).is_empty());
    let o = t.advance(Duration::from_millis(1));
    assert_eq!(replies(&o), vec![(b, Err(CommandError::Timeout))]);
    assert!(closed(&o, p));
}

#[test]
fn the_pool_is_bounded_and_commands_wait_their_turn() {
    let mut cfg = T::cfg(1);
    cfg.max_blocking_connections = 1;
    let (mut t, _) = T::ready(cfg, OLD);
    let (a, o) = t.submit(cmd("BLPOP").arg("a").arg(0));
    let p = pool_conn(&mut t, &o);
    t.feed(p, ROLE_MASTER);
    let (b, o) = t.submit(cmd("BLPOP").arg("b").arg(0));
    assert!(
        connect_of(&o, PeerKind::DataBlocking(Role::Master)).is_none(),
        "at the limit"
    );
    assert!(
        sent(&o, p).is_empty(),
        "one command per connection at a time"
    );
    assert_eq!(t.m.queued(), 1);
    let o = t.feed(p, "*-1\r\n");
    assert_eq!(replies(&o), vec![(a, Ok(Value::Null))]);
    assert_eq!(sent(&o, p), arr(&["BLPOP", "b", "0"]));
    let o = t.feed(p, "*-1\r\n");
    assert_eq!(replies(&o), vec![(b, Ok(Value::Null))]);
}

#[test]
fn the_fence_closes_the_pool_and_waiting_commands_go_to_the_new_master() {
    let mut cfg = T::cfg(1);
    cfg.max_blocking_connections = 1;
    let (mut t, _) = T::ready(cfg, OLD);
    let n = notices(&mut t);
    let (running, o) = t.submit(cmd("BLPOP").arg("a").arg(0));
    let p = pool_conn(&mut t, &o);
    t.feed(p, ROLE_MASTER);
    let (waiting, _) = t.submit(cmd("BLPOP").arg("b").arg(0));
    let payload = "slave 10.0.0.2:6380 10.0.0.2 6380 @ svc 10.0.0.1 6379";
    let o = notice(&mut t, n, "+selected-slave", payload);
    assert!(t.m.is_fenced());
    assert!(closed(&o, p), "nothing more runs on the old master");
    assert_eq!(
        replies(&o),
        vec![(running, Err(CommandError::ConnectionLost { sent: true }))]
    );
    let (cand, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe the candidate");
    let o = t.verify(cand, ROLE_MASTER);
    let (p2, a2) = connect_of(&o, PeerKind::DataBlocking(Role::Master)).expect("a new pool");
    assert_eq!(a2, addr("10.0.0.2:6380"));
    t.connected(p2);
    let o = t.feed(p2, ROLE_MASTER);
    assert_eq!(sent(&o, p2), arr(&["BLPOP", "b", "0"]));
    let o = t.feed(p2, &arr(&["b", "1"]));
    assert_eq!(
        replies(&o),
        vec![(waiting, Ok(Value::Array(vec![bulk("b"), bulk("1")])))]
    );
}

#[test]
fn a_pool_connection_that_is_not_the_master_is_dropped() {
    let (mut t, _) = T::ready(T::cfg(1), OLD);
    let (_, o) = t.submit(cmd("WAIT").arg(1).arg(100));
    let p = pool_conn(&mut t, &o);
    let o = t.feed(p, ROLE_SLAVE);
    assert!(closed(&o, p));
    assert!(
        events(&o)
            .iter()
            .any(|e| matches!(e, Event::Error(m) if m.contains("ROLE"))),
        "{o:?}"
    );
    assert!(
        connect_of(&o, PeerKind::DataBlocking(Role::Master)).is_none(),
        "no immediate retry against a node in that state"
    );
    assert!(sent(&o, t.query().expect("asks the sentinels")).contains("get-master-addr-by-name"));
    assert_eq!(t.m.queued(), 1, "the WAIT waits for the next verified node");
}
