//! A replica client spreads its reads over every usable replica, and the spread follows the
//! sentinels' answers and the replicas' failures.

use super::*;
use crate::cmd;
use crate::sentinel::{ReadFrom, SubmitOptions};

/// A healthy replica at `ip`.
fn up(ip: &str) -> String {
    rep(ip, "slave", "ok")
}

fn cfg(s: ReplicaStrategy) -> Config {
    let mut c = T::cfg(1);
    c.role = Role::Replica;
    c.replica_strategy = s;
    c.backoff.seed = 0;
    c
}

/// A replica client ready on one of three replicas, with its spread connections verified:
/// returns the node and the spread connections.
fn spread_over_three(t: &mut T) -> (ConnId, Vec<ConnId>) {
    let o = t.out();
    let q = connects(&o)[0].0;
    let o = t.connected(q);
    let s = sent(&o, q);
    let mut r = arr(&["10.0.0.1", "6379"]);
    r += &format!(
        "*3\r\n{}{}{}",
        up("10.0.0.2"),
        up("10.0.0.3"),
        up("10.0.0.4")
    );
    let o = t.answer(q, &s, &r);
    let (d, _) = connect_of(&o, PeerKind::Data(Role::Replica)).unwrap();
    let o = t.verify(d, ROLE_SLAVE);
    let spread: Vec<ConnId> = connects(&o)
        .into_iter()
        .filter(|(_, _, k)| *k == PeerKind::DataRead(Role::Replica))
        .map(|(c, _, _)| c)
        .collect();
    assert_eq!(spread.len(), 2, "one spread connection per other replica");
    for &c in &spread {
        let o = t.connected(c);
        assert!(
            sent(&o, c).contains("ROLE"),
            "spread connections are verified"
        );
        t.feed(c, ROLE_SLAVE);
    }
    (d, spread)
}

/// Which connection each of `n` GETs was written to.
fn targets(t: &mut T, n: usize, conns: &[ConnId]) -> Vec<ConnId> {
    (0..n)
        .map(|i| {
            let (_, o) = t.submit(cmd("GET").arg(format!("k{i}")));
            let to: Vec<ConnId> = conns
                .iter()
                .copied()
                .filter(|c| sent(&o, *c).contains("GET"))
                .collect();
            assert_eq!(to.len(), 1, "each GET goes to one connection");
            to[0]
        })
        .collect()
}

#[test]
fn reads_go_round_the_usable_replicas() {
    let mut t = T::new(cfg(ReplicaStrategy::RoundRobin));
    let (d, spread) = spread_over_three(&mut t);
    let all = [vec![d], spread.clone()].concat();
    let went = targets(&mut t, 6, &all);
    for c in &all {
        assert_eq!(went.iter().filter(|w| *w == c).count(), 2, "{went:?}");
    }
    // A transaction stays on the node.
    let id =
        t.m.submit_transaction(vec![cmd("GET").arg("a")], Default::default(), t.now);
    let o = t.out();
    assert!(sent(&o, d).contains("MULTI"), "{id:?}");
}

#[test]
fn random_reads_reach_every_replica() {
    let mut t = T::new(cfg(ReplicaStrategy::Random));
    let (d, spread) = spread_over_three(&mut t);
    let all = [vec![d], spread].concat();
    let went = targets(&mut t, 60, &all);
    for c in &all {
        assert!(went.contains(c), "{c:?} never chosen: {went:?}");
    }
}

#[test]
fn the_spread_follows_the_sentinels_and_failures() {
    let mut t = T::new(cfg(ReplicaStrategy::RoundRobin));
    let (d, spread) = spread_over_three(&mut t);
    // A spread replica that is loading is closed, and the read it refused runs elsewhere.
    let all = [vec![d], spread.clone()].concat();
    let went = targets(&mut t, 3, &all);
    let victim = spread[0];
    let at = went.iter().position(|c| *c == victim).unwrap();
    // Replies in order: answer the victim's read with LOADING.
    let o = t.feed(victim, "-LOADING loading the dataset\r\n");
    assert!(closed(&o, victim), "a refusing spread connection is closed");
    let resent = all
        .iter()
        .filter(|c| **c != victim)
        .any(|c| sent(&o, *c).contains(&format!("k{at}")));
    assert!(resent, "the refused read is sent again elsewhere");
    // Until the sentinels list it again, reads go to the two others only.
    let rest: Vec<ConnId> = all.iter().copied().filter(|c| *c != victim).collect();
    let went = targets(&mut t, 4, &all);
    assert!(went.iter().all(|c| rest.contains(c)), "{went:?}");

    // The sentinels' next answer names one replica only: the other spread connection closes.
    let q = t.query().unwrap_or_else(|| panic!("query connection"));
    let mut o = Vec::new();
    for _ in 0..10 {
        o = t.fire();
        if sent(&o, q).contains("replicas") {
            break;
        }
    }
    assert!(
        sent(&o, q).contains("replicas"),
        "a backstop poll asks again"
    );
    let node_addr = t.addr_of(d).unwrap();
    let r = arr(&["10.0.0.1", "6379"]) + &format!("*1\r\n{}", up(&node_addr.host));
    let o = t.feed(q, &r);
    assert!(
        closed(&o, spread[1]),
        "a replica no longer listed loses its connection"
    );
    let went = targets(&mut t, 3, &all);
    assert!(went.iter().all(|c| *c == d), "{went:?}");
}

#[test]
fn a_lost_spread_connection_settles_its_reads_like_the_node() {
    let mut t = T::new(cfg(ReplicaStrategy::RoundRobin));
    let (d, spread) = spread_over_three(&mut t);
    let all = [vec![d], spread.clone()].concat();
    let mut ids = Vec::new();
    for i in 0..3 {
        let (id, _) = t.submit(cmd("GET").arg(format!("k{i}")));
        ids.push(id);
    }
    let o = t.input(Input::Closed(spread[0]));
    let lost: Vec<_> = replies(&o)
        .into_iter()
        .filter(|(_, r)| matches!(r, Err(CommandError::ConnectionLost { sent: true })))
        .collect();
    assert_eq!(lost.len(), 1, "the read in flight there was sent: {o:?}");
    assert!(t.m.current_node().is_some(), "the node is unaffected");
    let went = targets(&mut t, 2, &all);
    assert!(!went.contains(&spread[0]));
}

#[test]
fn no_spread_on_the_master_fallback() {
    let mut t = T::new(cfg(ReplicaStrategy::RoundRobin));
    let o = t.out();
    let q = connects(&o)[0].0;
    let o = t.connected(q);
    let s = sent(&o, q);
    let r = arr(&["10.0.0.1", "6379"]) + "*0\r\n";
    let o = t.answer(q, &s, &r);
    let (d, _) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    let o = t.verify(d, ROLE_MASTER);
    assert!(connects(&o)
        .iter()
        .all(|(_, _, k)| *k != PeerKind::DataRead(Role::Replica)));
}

/// A master client with `read_from`, ready on the master with two verified replicas beside it.
fn master_with_replicas(read_from: ReadFrom) -> (T, ConnId, Vec<ConnId>) {
    let mut c = T::cfg(1);
    c.read_from = read_from;
    c.replica_strategy = ReplicaStrategy::RoundRobin;
    let mut t = T::new(c);
    let o = t.out();
    let q = connects(&o)[0].0;
    let o = t.connected(q);
    let s = sent(&o, q);
    assert!(
        s.contains("replicas"),
        "a routing master client asks for replicas: {s}"
    );
    let mut r = arr(&["10.0.0.1", "6379"]);
    if s.contains(&arr(&["SENTINEL", "MASTER", "svc"])) {
        r += &info(0);
    }
    r += &format!("*2\r\n{}{}", up("10.0.0.2"), up("10.0.0.3"));
    if s.contains("sentinels") {
        r += "*0\r\n";
    }
    let answered = t.feed(q, &r);
    let (d, _) = connect_of(&answered, PeerKind::Data(Role::Master)).unwrap();
    let o = t.verify(d, ROLE_MASTER);
    // (MasterPreferred opens them before there is a master, the others once it is verified.)
    let spread: Vec<ConnId> = connects(&answered)
        .into_iter()
        .chain(connects(&o))
        .filter(|(_, _, k)| *k == PeerKind::DataRead(Role::Replica))
        .map(|(c, _, _)| c)
        .collect();
    assert_eq!(spread.len(), 2);
    for &c in &spread {
        t.connected(c);
        t.feed(c, ROLE_SLAVE);
    }
    (t, d, spread)
}

#[test]
fn a_master_client_sends_reads_to_replicas_and_the_rest_to_the_master() {
    let (mut t, d, spread) = master_with_replicas(ReadFrom::ReplicaPreferred);
    let all = [vec![d], spread.clone()].concat();
    let went = targets(&mut t, 4, &all);
    assert!(went.iter().all(|c| spread.contains(c)), "{went:?}");
    assert!(
        spread.iter().all(|c| went.contains(c)),
        "both replicas: {went:?}"
    );
    let (_, o) = t.submit(cmd("SET").arg("k").arg(1));
    assert!(sent(&o, d).contains("SET"), "writes go to the master");
    let id =
        t.m.submit_with(cmd("GET").arg("k"), SubmitOptions::master_only(), t.now);
    let o = t.out();
    assert!(sent(&o, d).contains("GET"), "a master-only read: {id:?}");
    let (_, o) = t.submit(cmd("PING"));
    assert!(
        sent(&o, d).contains("PING"),
        "not flagged read-only: the master"
    );
    let _ = t.m.submit_batch(
        vec![cmd("GET").arg("a"), cmd("SET").arg("a").arg(1)],
        Default::default(),
        t.now,
    );
    let o = t.out();
    assert!(
        sent(&o, d).contains("SET"),
        "a mixed pipeline stays whole on the master"
    );
    let _ = t.m.submit_batch(
        vec![cmd("GET").arg("a"), cmd("MGET").arg("b").arg("c")],
        Default::default(),
        t.now,
    );
    let o = t.out();
    assert!(
        spread.iter().any(|c| sent(&o, *c).contains("MGET")),
        "a read-only pipeline goes to a replica"
    );
}

#[test]
fn read_from_any_uses_the_master_too_and_master_keeps_everything() {
    let (mut t, d, spread) = master_with_replicas(ReadFrom::Any);
    let all = [vec![d], spread].concat();
    let went = targets(&mut t, 60, &all);
    for c in &all {
        assert!(went.contains(c), "{c:?} never chosen: {went:?}");
    }
    let mut t = T::new(T::cfg(1));
    let o = t.out();
    let q = connects(&o)[0].0;
    let o = t.connected(q);
    assert!(
        !sent(&o, q).contains("replicas"),
        "a master client with the default read_from does not ask for replicas"
    );
}

#[test]
fn master_preferred_reads_the_master_and_the_replicas_only_without_one() {
    let (mut t, d, spread) = master_with_replicas(ReadFrom::MasterPreferred);
    let all = [vec![d], spread.clone()].concat();
    let went = targets(&mut t, 4, &all);
    assert!(
        went.iter().all(|c| *c == d),
        "the master is ready: {went:?}"
    );
    // The master's connection is lost: reads go to the replicas meanwhile, writes wait.
    let o = t.input(Input::Closed(d));
    assert!(spread.iter().all(|c| !closed(&o, *c)), "the replicas stay");
    let went = targets(&mut t, 4, &spread);
    assert!(went.iter().all(|c| spread.contains(c)), "{went:?}");
    let (_, o) = t.submit(cmd("SET").arg("k").arg(1));
    assert!(
        spread.iter().all(|c| !sent(&o, *c).contains("SET")),
        "writes wait for a master"
    );
}

#[test]
fn replica_only_reads_never_reach_the_master() {
    let (mut t, d, spread) = master_with_replicas(ReadFrom::Replica);
    let all = [vec![d], spread.clone()].concat();
    let went = targets(&mut t, 6, &all);
    assert!(went.iter().all(|c| spread.contains(c)), "{went:?}");
    let (_, o) = t.submit(cmd("SET").arg("k").arg(1));
    assert!(sent(&o, d).contains("SET"), "writes go to the master");
    // Both replicas gone: a read fails at once instead of reaching the master.
    for &c in &spread {
        t.input(Input::Closed(c));
    }
    let (id, o) = t.submit(cmd("GET").arg("k"));
    assert!(!sent(&o, d).contains("GET"));
    assert!(matches!(
        &replies(&o)[..],
        [(r, Err(CommandError::Unavailable(why)))] if *r == id && why.contains("Replica")
    ));
}
