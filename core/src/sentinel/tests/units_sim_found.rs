//! Cases the simulator found in the handling of units of work, reduced to byte-level tests
//! (both fixed: `dispatch.rs` acts on a refusal inside a unit at once, and `node.rs` takes an
//! `EXECABORT` caused by `READONLY` as a refusal); each names what it expects. Both need a unit's bytes to be cut in two by TCP, which the
//! simulator does on data connections (`WorldSpec::segment`); with every data message cut
//! (`segment = 1`) its random schedules hit them, e.g. seeds 36 (the first) and 2887 (the
//! second); see `sim_found_refusals_inside_split_units` in `core/tests/simulator.rs`.
//!
//! 1. A `-READONLY` among a pipeline's (or a transaction's) replies is acted on only once the
//!    unit's last reply has arrived: until then the machine keeps writing new submissions to
//!    the node that has just said it is a replica (they are refused there and re-sent; nothing
//!    is lost, but the write reached a node the client knew was not master).
//! 2. `-EXECABORT Transaction discarded because of: READONLY ...` (Redis' answer when the node
//!    turned replica after the commands were queued, before `EXEC` arrived) is not taken as a
//!    refusal: the transaction, which ran nowhere, fails with that error instead of being
//!    re-sent whole, and the machine stays on the node.

use super::*;
use crate::cmd;

const OLD: &str = "10.0.0.1:6379";
const READONLY: &str = "-READONLY You can't write against a read only replica.\r\n";

#[test]
fn a_refusal_among_a_units_replies_stops_new_writes_at_once() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let cmds = vec![cmd("INCR").arg("a"), cmd("INCR").arg("b")];
    t.m.submit_batch(cmds, SubmitOptions::default(), t.now);
    t.out();
    // The first reply of the batch arrives on its own: the node says it is a replica.
    let o = t.feed(d, READONLY);
    assert!(
        replies(&o).is_empty(),
        "the batch waits for its second reply"
    );
    let (_, o) = t.submit(cmd("INCR").arg("c"));
    assert!(
        sent(&o, d).is_empty(),
        "a write goes to the node that has just answered -READONLY: {o:?}"
    );
}

#[test]
fn exec_refused_because_the_node_turned_replica_is_sent_again_whole() {
    let (mut t, d) = T::ready(T::cfg(1), OLD);
    let cmds = vec![cmd("INCR").arg("n"), cmd("INCR").arg("m")];
    let id =
        t.m.submit_transaction(cmds, SubmitOptions::default(), t.now);
    t.out();
    // Queued while master; the node turned replica before EXEC arrived.
    let o = t.feed(
        d,
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n\
         -EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.\r\n",
    );
    assert!(
        replies(&o).iter().all(|(r, _)| *r != id),
        "nothing ran: the transaction is re-sent whole, not failed: {o:?}"
    );
    let (_, o) = t.submit(cmd("INCR").arg("c"));
    assert!(
        sent(&o, d).is_empty(),
        "the node said it is a replica: {o:?}"
    );
    // Sent again whole to the next verified master, and answered there.
    let q = t.query().expect("rediscovers");
    let o = t.feed(q, &(arr(&["10.0.0.2", "6380"]) + &info(1)));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).expect("the new master");
    let o = t.verify(d2, ROLE_MASTER);
    assert!(
        sent(&o, d2).starts_with(
            &(arr(&["MULTI"]) + &arr(&["INCR", "n"]) + &arr(&["INCR", "m"]) + &arr(&["EXEC"]))
        ),
        "{}",
        sent(&o, d2)
    );
    let o = t.feed(d2, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n");
    assert!(replies(&o).iter().any(
        |(r, v)| *r == id && *v == Ok(Value::Array(vec![Value::Integer(1), Value::Integer(1)]))
    ));
}
