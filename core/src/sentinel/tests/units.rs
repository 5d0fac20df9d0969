//! Pipelines and transactions as units of work: written contiguously, answered once, and kept
//! whole across retirement, the fence and lost connections; per-command timeouts.

use super::fence::{notice, notices};
use super::*;
use crate::cmd;

const OLD: &str = "10.0.0.1:6379";

#[test]
fn a_batch_goes_out_contiguously_and_is_answered_once() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let a = t.m.submit(cmd("GET").arg("before"), t.now);
    let opts = SubmitOptions::default();
    let b =
        t.m.submit_batch(vec![cmd("INCR").arg("x"), cmd("GET").arg("x")], opts, t.now);
    let c = t.m.submit(cmd("GET").arg("after"), t.now);
    let o = t.out();
    assert_eq!(
        sent(&o, d),
        arr(&["GET", "before"])
            + &arr(&["INCR", "x"])
            + &arr(&["GET", "x"])
            + &arr(&["GET", "after"])
    );
    let o = t.feed(d, "$1\r\n0\r\n:1\r\n");
    assert_eq!(
        replies(&o),
        vec![(a, Ok(bulk("0")))],
        "the batch waits for all its replies"
    );
    let o = t.feed(d, "$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(
        replies(&o),
        vec![
            (b, Ok(Value::Array(vec![Value::Integer(1), bulk("1")]))),
            (c, Ok(bulk("2")))
        ]
    );
    let (e, o) = t.submit_empty();
    assert_eq!(replies(&o), vec![(e, Ok(Value::Array(vec![])))]);
}

impl T {
    fn submit_empty(&mut self) -> (RequestId, Vec<Output>) {
        let id = self
            .m
            .submit_batch(vec![], SubmitOptions::default(), self.now);
        (id, self.out())
    }
}

#[test]
fn a_transaction_is_multi_exec_and_answers_with_exec() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let cmds = vec![cmd("INCR").arg("n"), cmd("GET").arg("n")];
    let id =
        t.m.submit_transaction(cmds, SubmitOptions::default(), t.now);
    let o = t.out();
    assert_eq!(
        sent(&o, d),
        arr(&["MULTI"]) + &arr(&["INCR", "n"]) + &arr(&["GET", "n"]) + &arr(&["EXEC"])
    );
    let o = t.feed(d, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n$1\r\n1\r\n");
    assert_eq!(
        replies(&o),
        vec![(id, Ok(Value::Array(vec![Value::Integer(1), bulk("1")])))]
    );
    // Discarded by the server: the error of the command it refused.
    let cmds = vec![cmd("NOSUCH"), cmd("GET").arg("n")];
    let id =
        t.m.submit_transaction(cmds, SubmitOptions::default(), t.now);
    t.out();
    let o = t.feed(
        d,
        "+OK\r\n-ERR unknown command 'NOSUCH'\r\n+QUEUED\r\n-EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    assert_eq!(
        replies(&o),
        vec![(id, Ok(Value::Error("ERR unknown command 'NOSUCH'".into())))]
    );
}

#[test]
fn transaction_control_commands_are_refused_on_the_shared_connection() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    for name in ["MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"] {
        let (id, o) = t.submit(cmd(name).arg("k"));
        match &replies(&o)[..] {
            [(r, Err(CommandError::Rejected(why)))] if *r == id => {
                assert!(why.contains(name) && why.contains("transaction"), "{why}")
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(sent(&o, d).is_empty(), "{name} reached the wire");
    }
    // Inside a batch or transaction as well: nothing of it is sent.
    let id = t.m.submit_batch(
        vec![cmd("SET").arg("a").arg(1), cmd("MULTI")],
        SubmitOptions::default(),
        t.now,
    );
    let o = t.out();
    assert!(matches!(&replies(&o)[..], [(r, Err(CommandError::Rejected(_)))] if *r == id));
    assert!(
        o.iter().all(|x| !matches!(x, Output::Transmit { .. })),
        "{o:?}"
    );
}

#[test]
fn a_transaction_refused_by_a_replica_runs_whole_on_the_new_master() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let cmds = vec![cmd("INCR").arg("n"), cmd("INCR").arg("m")];
    let id =
        t.m.submit_transaction(cmds, SubmitOptions::default(), t.now);
    t.out();
    let o = t.feed(
        d,
        "+OK\r\n-READONLY You can't write against a read only replica.\r\n\
         -READONLY You can't write against a read only replica.\r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n",
    );
    assert!(replies(&o).is_empty(), "refused as a whole: retried, {o:?}");
    let q = t.query().expect("rediscovers");
    let o = t.feed(q, &(arr(&["10.0.0.2", "6380"]) + &info(1)));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(
        sent(&o, d2),
        arr(&["MULTI"]) + &arr(&["INCR", "n"]) + &arr(&["INCR", "m"]) + &arr(&["EXEC"])
    );
    let o = t.feed(d2, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n");
    assert_eq!(
        replies(&o),
        vec![(
            id,
            Ok(Value::Array(vec![Value::Integer(1), Value::Integer(1)]))
        )]
    );
}

#[test]
fn a_transaction_lost_mid_reply_fails_as_a_unit() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let cmds = vec![cmd("INCR").arg("n"), cmd("INCR").arg("m")];
    let id =
        t.m.submit_transaction(cmds, SubmitOptions::default(), t.now);
    t.out();
    assert!(replies(&t.feed(d, "+OK\r\n+QUEUED\r\n")).is_empty());
    let o = t.input(Input::Closed(d));
    assert_eq!(
        replies(&o),
        vec![(id, Err(CommandError::ConnectionLost { sent: true }))]
    );
    assert_eq!(t.m.queued(), 0, "nothing of it is re-sent");
}

#[test]
fn exec_never_reaches_the_old_master_once_the_fence_is_up() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let n = notices(&mut t);
    // Submitted but not yet handed to the driver when the failover starts.
    let cmds = vec![cmd("INCR").arg("n")];
    let early =
        t.m.submit_transaction(cmds.clone(), SubmitOptions::default(), t.now);
    let payload = "slave 10.0.0.2:6380 10.0.0.2 6380 @ svc 10.0.0.1 6379";
    let o = notice(&mut t, n, "+selected-slave", payload);
    assert!(t.m.is_fenced());
    assert!(
        sent(&o, d).is_empty(),
        "nothing more to the old master: {o:?}"
    );
    let late =
        t.m.submit_transaction(cmds, SubmitOptions::default(), t.now);
    let o2 = t.out();
    assert!(sent(&o2, d).is_empty());
    let (cand, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("probe the candidate");
    let o = t.verify(cand, ROLE_MASTER);
    let tx = arr(&["MULTI"]) + &arr(&["INCR", "n"]) + &arr(&["EXEC"]);
    assert_eq!(sent(&o, cand), tx.clone() + &tx, "both, whole, in order");
    let o = t.feed(
        cand,
        "+OK\r\n+QUEUED\r\n*1\r\n:1\r\n+OK\r\n+QUEUED\r\n*1\r\n:2\r\n",
    );
    let r = replies(&o);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0], (early, Ok(Value::Array(vec![Value::Integer(1)]))));
    assert_eq!(r[1], (late, Ok(Value::Array(vec![Value::Integer(2)]))));
}

#[test]
fn a_command_with_its_own_timeout_expires_on_it() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let short = SubmitOptions::default().with_timeout(Duration::from_millis(100));
    let id = t.m.submit_with(cmd("GET").arg("k"), short, t.now);
    t.out();
    let due = t.m.poll_timeout().expect("a deadline");
    assert!(
        due <= t.now + Duration::from_millis(100),
        "{:?}",
        due - t.now
    );
    let o = t.advance(Duration::from_millis(100));
    assert_eq!(replies(&o), vec![(id, Err(CommandError::Timeout))]);
    assert!(closed(&o, d), "an unanswered connection is not reused");
    // Queued while no node is known: it expires on its own timeout too.
    let mut t = T::new(T::cfg(1));
    t.out();
    let q = t.m.submit_with(cmd("GET").arg("k"), short, t.now);
    let o = t.advance(Duration::from_millis(99));
    assert!(replies(&o).is_empty(), "{o:?}");
    let o = t.advance(Duration::from_millis(1));
    assert_eq!(replies(&o), vec![(q, Err(CommandError::Timeout))]);
}
