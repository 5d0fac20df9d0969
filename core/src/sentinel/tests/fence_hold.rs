//! The fence past its hold: a stalled failover keeps it up until every sentinel that answers
//! (a majority, the failover's leader included) says none is in progress.

use super::fence::{notice, notices};
use super::*;
use crate::cmd;
use std::collections::{BTreeSet, VecDeque};

const OLD: &str = "10.0.0.1:6379";
const NEW: &str = "10.0.0.2:6380";

/// What a sentinel answers right now.
#[derive(Clone)]
enum Says {
    /// Names this master, with these `flags` and `failover-state` in `SENTINEL MASTER`.
    Names(&'static str, &'static str, Option<&'static str>),
    /// Connection refused (or closed when already open).
    Down,
}

const IDLE: Says = Says::Names(OLD, "master", None);
const BUSY: Says = Says::Names(
    OLD,
    "master,failover_in_progress",
    Some("send_slaveof_noone"),
);

fn master_info(flags: &str, state: Option<&str>) -> String {
    let mut v = vec!["name", "svc", "flags", flags];
    if let Some(s) = state {
        v.extend(["failover-state", s]);
    }
    v.extend(["config-epoch", "0", "failover-timeout", "180000"]);
    arr(&v)
}

/// Answers every sentinel query in `o`, and in whatever the answers lead to, per `say`
/// (indexed by the sentinel's position in the configured list); returns every output.
fn pump(t: &mut T, o: Vec<Output>, say: &[Says]) -> Vec<Output> {
    let of = |t: &T, a: &Addr| {
        let i = t
            .config()
            .sentinels
            .iter()
            .position(|s| s == a)
            .expect("known");
        say[i].clone()
    };
    let mut todo: VecDeque<Output> = o.into();
    let mut all = Vec::new();
    while let Some(x) = todo.pop_front() {
        let more = match &x {
            Output::Connect {
                conn,
                addr,
                kind: PeerKind::Sentinel,
            } => match of(t, addr) {
                Says::Down => t.input(Input::ConnectFailed(*conn)),
                _ => t.connected(*conn),
            },
            Output::Transmit { conn, bytes } => {
                let s = String::from_utf8_lossy(bytes).into_owned();
                let addr = t.addr_of(*conn);
                match addr {
                    Some(a) if s.contains("get-master-addr-by-name") => match of(t, &a) {
                        Says::Names(m, flags, state) => {
                            let (host, port) = m.rsplit_once(':').expect("host:port");
                            let mut r = arr(&[host, port]);
                            if s.contains("MASTER") {
                                r += &master_info(flags, state);
                            }
                            if s.contains("sentinels") {
                                r += "*0\r\n";
                            }
                            t.feed(*conn, &r)
                        }
                        Says::Down => t.input(Input::Closed(*conn)),
                    },
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        all.push(x);
        todo.extend(more);
    }
    all
}

/// Advances `d` in `fence_poll_interval` steps (stopping early once the fence is down),
/// answering sentinels per `say`.
fn run(t: &mut T, d: Duration, say: &[Says]) -> Vec<Output> {
    let step = t.config().fence_poll_interval;
    let mut all = Vec::new();
    let mut waited = Duration::ZERO;
    while waited < d && t.m.is_fenced() {
        let o = t.advance(step);
        waited += step;
        all.extend(pump(t, o, say));
    }
    all
}

fn data_connects_to(o: &[Output], a: &str) -> Vec<ConnId> {
    connects(o)
        .into_iter()
        .filter(|c| c.1 == addr(a) && matches!(c.2, PeerKind::Data(_)))
        .map(|c| c.0)
        .collect()
}

fn held_events(o: &[Output]) -> Vec<(Duration, String)> {
    events(o)
        .into_iter()
        .filter_map(|e| match e {
            Event::FenceHeld { held, reason, .. } => Some((held, reason)),
            _ => None,
        })
        .collect()
}

/// Three sentinels, a verified master at OLD, the fence raised by `+odown` and confirmed by
/// `+elected-leader` from the first sentinel (the failover's leader), and one command held.
fn fenced() -> (T, ConnId, RequestId) {
    let (mut t, d) = T::ready(T::cfg(3), OLD);
    let n = notices(&mut t);
    let o = notice(&mut t, n, "+odown", "master svc 10.0.0.1 6379 #quorum 2/2");
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::FenceRaised { .. })));
    let o2 = notice(&mut t, n, "+elected-leader", "master svc 10.0.0.1 6379");
    assert!(events(&o2).is_empty());
    let o = [o, o2].concat();
    pump(&mut t, o, &[IDLE, IDLE, IDLE]);
    let (id, o) = t.submit(cmd("INCR").arg("k"));
    assert_eq!(sent(&o, d), "");
    (t, d, id)
}

#[test]
fn hold_expiry_while_a_sentinel_reports_the_failover_keeps_the_fence() {
    let (mut t, _, first) = fenced();
    let hold = t.config().fence_max_hold;
    // Only the second sentinel says the failover is still running (as a stalled leader's
    // peer never would, but any sentinel saying so is enough).
    let say = [IDLE, BUSY, IDLE];
    let mut all = run(&mut t, hold, &say);
    assert_eq!(
        replies(&all),
        vec![(first, Err(CommandError::FenceTimeout))]
    );
    let (id, o) = t.submit(cmd("INCR").arg("k"));
    all.extend(o);
    all.extend(run(&mut t, hold * 2 + Duration::from_secs(1), &say));
    assert!(t.m.is_fenced(), "a failover in progress keeps the fence");
    assert!(
        data_connects_to(&all, OLD).is_empty(),
        "never back to the old master while a sentinel reports the failover"
    );
    assert!(!events(&all)
        .iter()
        .any(|e| matches!(e, Event::FenceLifted { .. })));
    // Each hold period says so, with how long the fence has been up.
    let held = held_events(&all);
    assert!(held.len() >= 3, "{held:?}");
    assert!(held[0].0 >= hold && held[2].0 >= hold * 3, "{held:?}");
    assert!(
        held[1].1.contains("s2:26379") && held[1].1.contains("send_slaveof_noone"),
        "{held:?}"
    );
    // A command held past the hold fails on its own deadline, with the same typed error.
    assert!(replies(&all).contains(&(id, Err(CommandError::FenceTimeout))));
}

#[test]
fn sentinels_agreeing_no_failover_runs_resume_on_the_old_master() {
    let (mut t, _, _) = fenced();
    let hold = t.config().fence_max_hold;
    run(&mut t, hold + Duration::from_secs(3), &[IDLE, BUSY, IDLE]);
    assert!(t.m.is_fenced());
    let (id, _) = t.submit(cmd("INCR").arg("k"));
    // The stalled failover ends without a promotion: everyone names OLD, none reports it.
    let all = run(&mut t, Duration::from_secs(3), &[IDLE, IDLE, IDLE]);
    assert!(!t.m.is_fenced());
    let lifted: Vec<_> = events(&all)
        .into_iter()
        .filter_map(|e| match e {
            Event::FenceLifted { old, reason, held } => Some((old, reason, held)),
            _ => None,
        })
        .collect();
    assert_eq!(lifted.len(), 1, "{lifted:?}");
    assert_eq!(lifted[0].0, addr(OLD));
    assert!(lifted[0].1.contains("3 of 3 sentinels"), "{lifted:?}");
    assert!(lifted[0].2 > hold, "{lifted:?}");
    // Back to the old master, verified with ROLE before the held command goes there.
    let d = data_connects_to(&all, OLD);
    assert_eq!(d.len(), 1);
    let o = t.verify(d[0], ROLE_MASTER);
    assert_eq!(sent(&o, d[0]), arr(&["INCR", "k"]));
    assert_eq!(
        replies(&t.feed(d[0], ":1\r\n")),
        vec![(id, Ok(Value::Integer(1)))]
    );
}

#[test]
fn sentinels_naming_a_new_master_after_the_stall_switch_to_it() {
    let (mut t, _, _) = fenced();
    let hold = t.config().fence_max_hold;
    run(&mut t, hold + Duration::from_secs(1), &[IDLE, BUSY, IDLE]);
    let (id, _) = t.submit(cmd("INCR").arg("k"));
    // The failover resumed and promoted NEW; the first sentinel already names it.
    let new = Says::Names(NEW, "master", None);
    let all = run(&mut t, Duration::from_millis(200), &[new, BUSY, IDLE]);
    assert!(data_connects_to(&all, OLD).is_empty());
    let d = data_connects_to(&all, NEW);
    assert_eq!(d.len(), 1, "{all:?}");
    let o = t.verify(d[0], ROLE_MASTER);
    assert!(!t.m.is_fenced());
    assert!(events(&o).contains(&Event::MasterChanged {
        old: Some(addr(OLD)),
        new: addr(NEW)
    }));
    assert_eq!(sent(&o, d[0]), arr(&["INCR", "k"]));
    assert_eq!(
        replies(&t.feed(d[0], ":7\r\n")),
        vec![(id, Ok(Value::Integer(7)))]
    );
}

#[test]
fn a_silent_leader_or_a_minority_keeps_the_fence_until_failover_timeout() {
    let (mut t, _, _) = fenced();
    let hold = t.config().fence_max_hold;
    // The leader (first sentinel) cannot be reached; the others see no failover.
    let all = run(
        &mut t,
        hold + Duration::from_secs(2),
        &[Says::Down, IDLE, IDLE],
    );
    assert!(t.m.is_fenced());
    assert!(data_connects_to(&all, OLD).is_empty());
    let all = run(&mut t, hold, &[Says::Down, IDLE, IDLE]);
    let held = held_events(&all);
    assert!(
        held.iter()
            .any(|(_, r)| r.contains("s1:26379") && r.contains("ran the failover")),
        "{held:?}"
    );
    // Only one sentinel answers, the leader: not a majority.
    let all = run(&mut t, hold, &[IDLE, Says::Down, Says::Down]);
    assert!(t.m.is_fenced());
    assert!(data_connects_to(&all, OLD).is_empty());
    assert!(
        held_events(&all)
            .iter()
            .any(|(_, r)| r.contains("1 of 3 sentinels")),
        "{all:?}"
    );
    // Past the reported failover-timeout (180 s) a silent leader no longer holds the fence.
    let all = run(&mut t, Duration::from_secs(160), &[Says::Down, IDLE, IDLE]);
    assert!(!t.m.is_fenced());
    assert_eq!(data_connects_to(&all, OLD).len(), 1);
}

#[test]
fn a_survey_asks_every_sentinel_not_just_the_first() {
    let (mut t, _, _) = fenced();
    let hold = t.config().fence_max_hold;
    let before = run(
        &mut t,
        hold - Duration::from_millis(100),
        &[IDLE, BUSY, IDLE],
    );
    // Before the hold expires, walks stop at the first sentinel that answers.
    let asked = |o: &[Output]| -> BTreeSet<Addr> {
        connects(o)
            .into_iter()
            .filter(|c| c.2 == PeerKind::Sentinel)
            .map(|c| c.1)
            .collect()
    };
    assert!(asked(&before).is_empty(), "{:?}", asked(&before));
    let after = run(&mut t, Duration::from_millis(200), &[IDLE, BUSY, IDLE]);
    let others: BTreeSet<Addr> = sentinels(3)[1..].iter().cloned().collect();
    assert!(asked(&after).is_superset(&others), "{:?}", asked(&after));
    assert!(t.m.is_fenced());
}
