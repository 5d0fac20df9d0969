//! Items 4 and 8: pipelining, reply order, retry semantics, reactions to errors and timeouts.

use super::*;
use crate::cmd;

/// Verifies a second master after the first one went away; returns its data connection.
fn rediscover(t: &mut T, o: &[Output], master: &str) -> ConnId {
    let q = t.query().expect("query conn");
    let s = sent(o, q);
    assert!(s.contains("get-master-addr-by-name"), "{s:?}");
    let (h, p) = master.rsplit_once(':').unwrap();
    let o = t.feed(q, &(arr(&[h, p]) + &info(0)));
    connect_of(&o, PeerKind::Data(Role::Master)).unwrap().0
}

#[test]
fn pipelined_in_one_write_and_matched_in_order() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let a = t.m.submit(cmd("INCR").arg("x"), t.now);
    let b = t.m.submit(cmd("GET").arg("y"), t.now);
    let c = t.m.submit(cmd("GET").arg("z"), t.now);
    let o = t.out();
    assert_eq!(o.len(), 1, "{o:?}");
    assert_eq!(
        sent(&o, d),
        arr(&["INCR", "x"]) + &arr(&["GET", "y"]) + &arr(&["GET", "z"])
    );
    // Replies split at awkward places still match in order.
    let o1 = t.feed(d, ":1\r\n$3\r\nfo");
    let o2 = t.feed(d, "o\r\n-ERR wrong type\r\n");
    assert_eq!(replies(&o1), vec![(a, Ok(Value::Integer(1)))]);
    assert_eq!(
        replies(&o2),
        vec![
            (b, Ok(bulk("foo"))),
            (c, Ok(Value::Error("ERR wrong type".into())))
        ]
    );
}

#[test]
fn lost_connection_fails_sent_commands_retries_idempotent_and_unsent() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let w = t.m.submit(cmd("INCR").arg("x"), t.now);
    let r =
        t.m.submit_with(cmd("GET").arg("y"), SubmitOptions::idempotent(), t.now);
    t.out();
    let u = t.m.submit(cmd("SET").arg("u").arg(1), t.now); // never handed to the driver
    let o = t.input(Input::Closed(d));
    assert_eq!(
        replies(&o),
        vec![(w, Err(CommandError::ConnectionLost { sent: true }))]
    );
    assert_eq!(t.m.queued(), 2);
    let d2 = rediscover(&mut t, &o, "10.0.0.2:6379");
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(sent(&o, d2), arr(&["GET", "y"]) + &arr(&["SET", "u", "1"]));
    assert!(events(&o).contains(&Event::MasterChanged {
        old: Some(addr("10.0.0.1:6379")),
        new: addr("10.0.0.2:6379")
    }));
    let o = t.feed(d2, "$1\r\n7\r\n+OK\r\n");
    assert_eq!(
        replies(&o),
        vec![
            (r, Ok(bulk("7"))),
            (u, Ok(Value::SimpleString("OK".into())))
        ]
    );
}

#[test]
fn readonly_reply_requeues_and_rediscovers() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let a = t.m.submit(cmd("SET").arg("a").arg(1), t.now);
    let b = t.m.submit(cmd("SET").arg("b").arg(2), t.now);
    t.out();
    let o = t.feed(
        d,
        "-READONLY You can't write against a read only replica.\r\n",
    );
    assert!(replies(&o).is_empty());
    assert!(t.m.current_node().is_none());
    // Nothing new goes to the replica; the second reply still arrives there.
    let c = t.m.submit(cmd("SET").arg("c").arg(3), t.now);
    let o2 = t.out();
    assert_eq!(sent(&o2, d), "");
    let o3 = t.feed(
        d,
        "-READONLY You can't write against a read only replica.\r\n",
    );
    assert!(closed(&o3, d), "drained retired connection is closed");
    let d2 = rediscover(&mut t, &o, "10.0.0.2:6379");
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(
        sent(&o, d2),
        arr(&["SET", "a", "1"]) + &arr(&["SET", "b", "2"]) + &arr(&["SET", "c", "3"])
    );
    let o = t.feed(d2, "+OK\r\n+OK\r\n+OK\r\n");
    let ids: Vec<_> = replies(&o).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, vec![a, b, c]);
}

#[test]
fn loading_and_masterdown_also_trigger_rediscovery() {
    for err in ["-LOADING Redis is loading\r\n", "-MASTERDOWN Link down\r\n"] {
        let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
        t.m.submit(cmd("GET").arg("a"), t.now);
        t.out();
        let o = t.feed(d, err);
        assert!(closed(&o, d));
        assert!(sent(&o, t.query().unwrap()).contains("get-master"));
        assert_eq!(t.m.queued(), 1);
    }
}

#[test]
fn retries_are_bounded() {
    let mut c = T::cfg(1);
    c.max_retries = 0;
    let (mut t, d) = T::ready(c, "10.0.0.1:6379");
    let a = t.m.submit(cmd("SET").arg("a").arg(1), t.now);
    t.out();
    let o = t.feed(d, "-READONLY no\r\n");
    assert_eq!(
        replies(&o),
        vec![(a, Ok(Value::Error("READONLY no".into())))]
    );
}

#[test]
fn command_timeout_notices_a_paused_master() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let a = t.m.submit(cmd("INCR").arg("x"), t.now);
    t.out();
    let o = t.advance(t.config().command_timeout);
    assert_eq!(replies(&o), vec![(a, Err(CommandError::Timeout))]);
    assert!(closed(&o, d));
    assert!(sent(&o, t.query().unwrap()).contains("get-master"));
}

#[test]
fn health_check_pings_idle_connection_and_times_out() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let o = t.advance(t.config().health_check_interval);
    assert_eq!(sent(&o, d), arr(&["PING"]));
    let o = t.feed(d, "+PONG\r\n");
    assert!(o.is_empty());
    let o = t.advance(t.config().health_check_interval);
    assert_eq!(sent(&o, d), arr(&["PING"]));
    // SIGSTOP: no answer. The timeout closes it and rediscovery starts.
    let o = t.advance(t.config().command_timeout);
    assert!(closed(&o, d));
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::Error(m) if m.contains("timed out"))));
}

#[test]
fn queued_commands_expire_and_queue_is_bounded() {
    let mut c = T::cfg(1);
    c.max_queued = 2;
    c.command_timeout = Duration::from_millis(300);
    let mut t = T::new(c);
    let a = t.m.submit(cmd("GET").arg("a"), t.now);
    t.now += Duration::from_millis(100);
    let b = t.m.submit(cmd("GET").arg("b"), t.now);
    let (x, o) = t.submit(cmd("GET").arg("c"));
    assert_eq!(replies(&o), vec![(x, Err(CommandError::QueueFull))]);
    let q = connects(&o)[0].0;
    t.connected(q); // sentinel connected but silent
    let o = t.advance(Duration::from_millis(200));
    assert_eq!(replies(&o), vec![(a, Err(CommandError::Timeout))]);
    let o = t.advance(Duration::from_millis(100));
    assert_eq!(replies(&o), vec![(b, Err(CommandError::Timeout))]);
}

#[test]
fn pubsub_commands_are_rejected_on_the_command_connection() {
    let (mut t, _) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let (id, o) = t.submit(cmd("subscribe").arg("ch"));
    assert!(matches!(&replies(&o)[..], [(r, Err(CommandError::Rejected(_)))] if *r == id));
}

#[test]
fn close_fails_everything_and_closes_every_connection() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let a = t.m.submit(cmd("GET").arg("a"), t.now);
    t.out();
    t.m.close();
    let o = t.out();
    assert!(closed(&o, d));
    assert!(closed(&o, ConnId(1)), "sentinel query connection");
    assert_eq!(replies(&o), vec![(a, Err(CommandError::Closed))]);
    let (b, o) = t.submit(cmd("GET").arg("b"));
    assert_eq!(replies(&o), vec![(b, Err(CommandError::Closed))]);
    assert_eq!(t.m.poll_timeout(), None);
}

/// A Valkey 9.1 replica's answer to a write on a connection that declared `CLIENT CAPA
/// redirect` (captured from `valkey-server` 9.1.2).
const REDIRECT: &str = "-REDIRECT 10.0.0.2:6380\r\n";

#[test]
fn redirect_reply_fences_the_node_and_probes_its_hint_with_role() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let a = t.m.submit(cmd("SET").arg("a").arg(1), t.now);
    t.out();
    let o = t.feed(d, REDIRECT);
    assert!(replies(&o).is_empty(), "refused, so re-sent: {o:?}");
    assert!(events(&o).contains(&Event::FenceRaised {
        old: addr("10.0.0.1:6379"),
        reason: "-REDIRECT".into()
    }));
    assert!(closed(&o, d), "drained refusing node is closed");
    assert!(sent(&o, t.query().unwrap()).contains("get-master"));
    let (d2, a2) = connect_of(&o, PeerKind::Data(Role::Master)).expect("the hint is probed");
    assert_eq!(a2, addr("10.0.0.2:6380"));
    let b = t.m.submit(cmd("SET").arg("b").arg(2), t.now);
    let o = t.connected(d2);
    assert_eq!(
        sent(&o, d2),
        arr(&["ROLE"]),
        "nothing but ROLE before it says master"
    );
    let o = t.feed(d2, ROLE_MASTER);
    assert!(!t.m.is_fenced());
    assert!(events(&o).contains(&Event::MasterChanged {
        old: Some(addr("10.0.0.1:6379")),
        new: addr("10.0.0.2:6380")
    }));
    assert_eq!(
        sent(&o, d2),
        arr(&["SET", "a", "1"]) + &arr(&["SET", "b", "2"])
    );
    let o = t.feed(d2, "+OK\r\n+OK\r\n");
    let ids: Vec<_> = replies(&o).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, vec![a, b]);
}

#[test]
fn a_redirect_hint_that_is_not_master_is_not_used() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let a = t.m.submit(cmd("SET").arg("a").arg(1), t.now);
    t.out();
    let o = t.feed(d, REDIRECT);
    let q = t.query().unwrap();
    let asked = sent(&o, q);
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("the hint is probed");
    t.connected(d2);
    let o = t.feed(d2, ROLE_SLAVE);
    assert_eq!(sent(&o, d2), "", "a replica gets no command: {o:?}");
    assert!(t.m.is_fenced());
    // The sentinels name the real new master: it is verified and gets the command.
    let o = t.answer(q, &asked, &arr(&["10.0.0.3", "6381"]));
    let (d3, a3) = connect_of(&o, PeerKind::Data(Role::Master)).expect("sentinels' choice");
    assert_eq!(a3, addr("10.0.0.3:6381"));
    let o = t.verify(d3, ROLE_MASTER);
    assert_eq!(sent(&o, d3), arr(&["SET", "a", "1"]));
    let o = t.feed(d3, "+OK\r\n");
    assert_eq!(replies(&o), vec![(a, Ok(Value::SimpleString("OK".into())))]);
}

#[test]
fn redirect_without_the_fence_is_handled_as_readonly() {
    let mut c = T::cfg(1);
    c.fence = false;
    let (mut t, d) = T::ready(c, "10.0.0.1:6379");
    let a = t.m.submit(cmd("SET").arg("a").arg(1), t.now);
    t.out();
    let o = t.feed(d, REDIRECT);
    assert!(replies(&o).is_empty());
    assert!(closed(&o, d));
    assert!(
        connect_of(&o, PeerKind::Data(Role::Master)).is_none(),
        "the hint is not dialed without the fence: {o:?}"
    );
    let d2 = rediscover(&mut t, &o, "10.0.0.2:6380");
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(sent(&o, d2), arr(&["SET", "a", "1"]));
    let o = t.feed(d2, "+OK\r\n");
    assert_eq!(replies(&o), vec![(a, Ok(Value::SimpleString("OK".into())))]);
}

#[test]
fn redirect_retries_are_bounded_and_a_transaction_is_resent_whole() {
    let mut c = T::cfg(1);
    c.max_retries = 0;
    let (mut t, d) = T::ready(c, "10.0.0.1:6379");
    let a = t.m.submit(cmd("SET").arg("a").arg(1), t.now);
    t.out();
    let o = t.feed(d, REDIRECT);
    assert_eq!(
        replies(&o),
        vec![(a, Ok(Value::Error("REDIRECT 10.0.0.2:6380".into())))]
    );

    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let id =
        t.m.submit_transaction(vec![cmd("INCR").arg("n")], SubmitOptions::default(), t.now);
    t.out();
    // Valkey 9.1: the queued write is redirected and EXEC discards the transaction.
    let o = t.feed(
        d,
        "+OK\r\n-REDIRECT 10.0.0.2:6380\r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    assert!(replies(&o).is_empty(), "nothing ran: re-sent whole, {o:?}");
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap_or_else(|| panic!("{o:?}"));
    t.connected(d2);
    let o = t.feed(d2, ROLE_MASTER);
    assert_eq!(
        sent(&o, d2),
        arr(&["MULTI"]) + &arr(&["INCR", "n"]) + &arr(&["EXEC"])
    );
    let o = t.feed(d2, "+OK\r\n+QUEUED\r\n*1\r\n:1\r\n");
    assert_eq!(
        replies(&o),
        vec![(id, Ok(Value::Array(vec![Value::Integer(1)])))]
    );
}
