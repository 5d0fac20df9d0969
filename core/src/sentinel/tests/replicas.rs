//! Item 7: replica discovery, filtering, strategies, ROLE check, master fallback.

use super::*;
use crate::cmd;

fn replica_cfg(s: ReplicaStrategy) -> Config {
    let mut c = T::cfg(1);
    c.role = Role::Replica;
    c.replica_strategy = s;
    c
}

/// Answers the first walk with `replicas`; returns the outputs.
fn answer_replicas(t: &mut T, replicas: &[String]) -> Vec<Output> {
    let o = t.out();
    let q = connects(&o)[0].0;
    let o = t.connected(q);
    let s = sent(&o, q);
    assert!(s.contains("get-master-addr-by-name") && s.contains("replicas"));
    let mut r = arr(&["10.0.0.1", "6379"]);
    r += &format!("*{}\r\n{}", replicas.len(), replicas.concat());
    t.answer(q, &s, &r)
}

#[test]
fn filters_unusable_replicas_and_verifies_the_choice() {
    let mut t = T::new(replica_cfg(ReplicaStrategy::Random));
    let o = answer_replicas(
        &mut t,
        &[
            rep("10.0.0.2", "slave,s_down", "ok"),
            rep("10.0.0.3", "slave,disconnected", "ok"),
            rep("10.0.0.4", "slave,o_down", "ok"),
            rep("10.0.0.5", "slave", "err"),
            rep("10.0.0.6", "slave", "ok"),
        ],
    );
    let (d, a) = connect_of(&o, PeerKind::Data(Role::Replica)).unwrap();
    assert_eq!(a, addr("10.0.0.6:6380"));
    let o = t.verify(d, ROLE_SLAVE);
    assert!(events(&o).contains(&Event::Ready {
        addr: a,
        dialed: None,
        role: Role::Replica
    }));
    // READONLY is a normal answer from a replica, not a reason to move (a module command the
    // flag tables do not know reaches the replica, which refuses it).
    let (id, _) = t.submit(cmd("MYMODULE.SET").arg("k").arg(1));
    let o = t.feed(d, "-READONLY no\r\n");
    assert_eq!(
        replies(&o),
        vec![(id, Ok(Value::Error("READONLY no".into())))]
    );
    assert!(t.m.current_node().is_some());
    // Nor is Valkey's `-REDIRECT` (reads on a replica connection that declared `CLIENT CAPA
    // redirect` without `READONLY`): that is the caller's own choice, passed on.
    let (id, _) = t.submit(cmd("GET").arg("k"));
    let o = t.feed(d, "-REDIRECT 10.0.0.1:6379\r\n");
    assert_eq!(
        replies(&o),
        vec![(id, Ok(Value::Error("REDIRECT 10.0.0.1:6379".into())))]
    );
    assert!(t.m.current_node().is_some());
    assert!(!t.m.is_fenced());
}

#[test]
fn falls_back_to_the_master_when_no_replica_is_usable() {
    let mut t = T::new(replica_cfg(ReplicaStrategy::RoundRobin));
    let o = answer_replicas(&mut t, &[rep("10.0.0.2", "slave,s_down", "ok")]);
    let (d, a) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    assert_eq!(a, addr("10.0.0.1:6379"));
    let o = t.verify(d, ROLE_MASTER);
    assert!(events(&o).iter().any(|e| matches!(
        e,
        Event::Ready {
            role: Role::Master,
            ..
        }
    )));
    // On the master it fell back to, a replica client still refuses writes, as on a replica.
    let (id, o) = t.submit(cmd("SET").arg("k").arg(1));
    assert_eq!(sent(&o, d), "", "nothing written");
    match &replies(&o)[..] {
        [(got, Err(CommandError::Rejected(why)))] => {
            assert_eq!(*got, id);
            assert!(
                why.contains("SET") && why.contains("master client"),
                "{why}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let (_, o) = t.submit(cmd("EVAL").arg("return 1").arg(0));
    assert!(matches!(
        &replies(&o)[..],
        [(_, Err(CommandError::Rejected(_)))]
    ));
    let (_, o) = t.submit(cmd("GET").arg("k"));
    assert_eq!(sent(&o, d), arr(&["GET", "k"]), "reads go out");
}

#[test]
fn a_master_client_writes_and_a_replica_client_refuses_writes_in_units_too() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let (_, o) = t.submit(cmd("SET").arg("k").arg(1));
    assert_eq!(sent(&o, d), arr(&["SET", "k", "1"]));
    let mut t = T::new(replica_cfg(ReplicaStrategy::Random));
    let id = t.m.submit_batch(
        vec![cmd("GET").arg("a"), cmd("DEL").arg("a")],
        Default::default(),
        t.now,
    );
    let o = t.out();
    match &replies(&o)[..] {
        [(got, Err(CommandError::Rejected(why)))] => {
            assert_eq!(*got, id);
            assert!(why.contains("DEL"), "{why}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn replica_that_is_actually_a_master_is_excluded_next_time() {
    let mut cfg = replica_cfg(ReplicaStrategy::RoundRobin);
    cfg.backoff.seed = 0; // round-robin starts at the first replica
    let mut t = T::new(cfg);
    let reps = [
        rep("10.0.0.2", "slave", "ok"),
        rep("10.0.0.3", "slave", "ok"),
    ];
    let o = answer_replicas(&mut t, &reps);
    let (d, a) = connect_of(&o, PeerKind::Data(Role::Replica)).unwrap();
    assert_eq!(a, addr("10.0.0.2:6380"));
    let o = t.verify(d, ROLE_MASTER);
    assert!(closed(&o, d));
    let q = t.query().unwrap();
    let o = t.fire();
    assert!(sent(&o, q).contains("replicas"));
    let r = arr(&["10.0.0.1", "6379"]) + &format!("*2\r\n{}", reps.concat());
    let o = t.feed(q, &r);
    let (_, a) = connect_of(&o, PeerKind::Data(Role::Replica)).unwrap();
    assert_eq!(a, addr("10.0.0.3:6380"));
}

#[test]
fn no_sentinel_means_replica_not_found() {
    let mut t = T::new(replica_cfg(ReplicaStrategy::Random));
    let id = t.m.submit(cmd("GET").arg("k"), t.now);
    let o = t.out();
    let q = connects(&o)[0].0;
    let o = t.input(Input::ConnectFailed(q));
    assert!(matches!(
        &replies(&o)[..],
        [(r, Err(CommandError::ReplicaNotFound(DiscoveryError::NoSentinelReachable { .. })))] if *r == id
    ));
}

#[test]
fn lowest_latency_prefers_unmeasured_then_fastest() {
    let mut t = T::new(replica_cfg(ReplicaStrategy::LowestLatency));
    t.m.picker
        .measured(addr("10.0.0.2:6380"), Duration::from_millis(9));
    t.m.picker
        .measured(addr("10.0.0.3:6380"), Duration::from_millis(2));
    let reps = [
        rep("10.0.0.2", "slave", "ok"),
        rep("10.0.0.3", "slave", "ok"),
    ];
    let o = answer_replicas(&mut t, &reps);
    let (_, a) = connect_of(&o, PeerKind::Data(Role::Replica)).unwrap();
    assert_eq!(a, addr("10.0.0.3:6380"));
    let mut t = T::new(replica_cfg(ReplicaStrategy::LowestLatency));
    t.m.picker
        .measured(addr("10.0.0.2:6380"), Duration::from_millis(1));
    let o = answer_replicas(&mut t, &reps);
    let (_, a) = connect_of(&o, PeerKind::Data(Role::Replica)).unwrap();
    assert_eq!(a, addr("10.0.0.3:6380"), "unmeasured first");
}

#[test]
fn random_choice_is_deterministic_per_seed() {
    let reps: Vec<String> = (2..8)
        .map(|i| rep(&format!("10.0.0.{i}"), "slave", "ok"))
        .collect();
    let pick = |seed: u64| {
        let mut c = replica_cfg(ReplicaStrategy::Random);
        c.backoff.seed = seed;
        let mut t = T::new(c);
        let o = answer_replicas(&mut t, &reps);
        connect_of(&o, PeerKind::Data(Role::Replica)).unwrap().1
    };
    assert_eq!(pick(1), pick(1));
    let distinct: std::collections::BTreeSet<_> = (0..20).map(pick).collect();
    assert!(distinct.len() > 1);
}
