//! Item 2: discovery order, move-to-front, typed errors, bad answers skipped.

use super::*;
use crate::cmd;

/// Runs a walk where sentinel i behaves as `script[i]`: `None` = connect fails, `Some(bytes)`
/// = connects and answers `bytes`. Returns all outputs.
fn walk(t: &mut T, script: &[Option<&str>]) -> Vec<Output> {
    let mut all = t.out();
    for step in script {
        let (q, a, k) = connects(&all).last().cloned().expect("sentinel connect");
        assert_eq!(k, PeerKind::Sentinel);
        assert!(a.host.starts_with('s'));
        let o = match step {
            None => t.input(Input::ConnectFailed(q)),
            Some(reply) => {
                let o = t.connected(q);
                let s = sent(&o, q);
                assert!(s.contains("get-master-addr-by-name") && s.contains("svc"));
                t.answer(q, &s, reply)
            }
        };
        all = o;
    }
    all
}

#[test]
fn asks_in_order_and_moves_answering_sentinel_to_front() {
    let mut t = T::new(T::cfg(3));
    let o = walk(&mut t, &[None, Some(&arr(&["10.0.0.1", "6379"]))]);
    assert_eq!(
        connect_of(&o, PeerKind::Data(Role::Master)).unwrap().1,
        addr("10.0.0.1:6379")
    );
    assert_eq!(
        t.m.sentinels(),
        &[addr("s2:26379"), addr("s1:26379"), addr("s3:26379")]
    );
}

#[test]
fn every_null_is_unknown_service_naming_each_sentinel() {
    let mut t = T::new(T::cfg(3));
    let id = t.m.submit(cmd("GET").arg("k"), t.now);
    let o = walk(&mut t, &[Some("*-1\r\n"), None, Some("$-1\r\n")]);
    let r = replies(&o);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, id);
    match &r[0].1 {
        Err(CommandError::MasterNotFound(DiscoveryError::UnknownService { service, tried })) => {
            assert_eq!(service, "svc");
            assert_eq!(tried.len(), 3);
            assert!(tried[0].1.contains("does not know"));
            assert_eq!(tried[1], (addr("s2:26379"), "connect failed".to_string()));
        }
        other => panic!("{other:?}"),
    }
    assert!(events(&o)
        .iter()
        .any(|e| matches!(e, Event::Reconnecting { .. })));
}

#[test]
fn nothing_reachable_is_its_own_error_and_retries_after_backoff() {
    let mut t = T::new(T::cfg(2));
    let (_, _) = t.submit(cmd("PING"));
    let o = t.out();
    assert!(o.is_empty());
    // First sentinel times out on connect; second refuses.
    let o = t.advance(t.config().connect_timeout);
    let (q2, _, _) = connects(&o)[0].clone();
    let o = t.input(Input::ConnectFailed(q2));
    match &replies(&o)[0].1 {
        Err(CommandError::MasterNotFound(DiscoveryError::NoSentinelReachable { tried })) => {
            assert_eq!(tried[0].1, "connect failed: connect timed out");
            assert_eq!(tried[1].1, "connect failed");
            assert_eq!(tried[0].0, addr("s1:26379"));
            assert_eq!(tried[1].0, addr("s2:26379"));
        }
        other => panic!("{other:?}"),
    }
    // After the backoff delay a new walk starts from the first sentinel.
    let o = t.fire();
    assert_eq!(connects(&o)[0].1, addr("s1:26379"));
}

#[test]
fn bad_answers_skip_to_next_sentinel() {
    let mut t = T::new(T::cfg(5));
    let o = walk(
        &mut t,
        &[
            Some("+garbage\r\n"),
            Some(&arr(&["10.0.0.1"])),
            Some(&arr(&["10.0.0.1", "70000"])),
            Some("-ERR boom\r\n"),
            Some(&arr(&["10.0.0.9", "6379"])),
        ],
    );
    assert_eq!(
        connect_of(&o, PeerKind::Data(Role::Master)).unwrap().1,
        addr("10.0.0.9:6379")
    );
    assert_eq!(t.m.sentinels()[0], addr("s5:26379"));
}

#[test]
fn only_bad_answers_is_invalid_replies() {
    let mut t = T::new(T::cfg(2));
    t.m.submit(cmd("PING"), t.now);
    let o = walk(&mut t, &[Some(&arr(&["h", "0"])), Some(":12\r\n")]);
    match &replies(&o)[0].1 {
        Err(CommandError::MasterNotFound(DiscoveryError::InvalidReplies { tried })) => {
            assert!(tried[0].1.contains("port"), "{tried:?}");
            assert!(tried[1].1.contains("integer"), "{tried:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn protocol_garbage_from_sentinel_skips_it() {
    let mut t = T::new(T::cfg(2));
    let o = walk(&mut t, &[Some("?\r\n"), Some(&arr(&["10.0.0.1", "6379"]))]);
    assert!(connect_of(&o, PeerKind::Data(Role::Master)).is_some());
}

#[test]
fn sentinel_timeout_skips_it() {
    let mut t = T::new(T::cfg(2));
    let o = t.out();
    let q = connects(&o)[0].0;
    t.connected(q);
    let o = t.advance(t.config().sentinel_timeout);
    assert!(closed(&o, q));
    let (q2, a, _) = connects(&o)[0].clone();
    assert_eq!(a, addr("s2:26379"));
    t.connected(q2);
    let o = t.feed(q2, &(arr(&["10.0.0.1", "6379"]) + &info(0) + "*0\r\n"));
    assert!(connect_of(&o, PeerKind::Data(Role::Master)).is_some());
}

#[test]
fn sentinel_auth_is_sent_first_and_separately() {
    let mut c = T::cfg(1);
    c.sentinel_auth = Some(Credentials::user("sent", "spw"));
    c.auth = Some(Credentials::password("dpw"));
    let mut t = T::new(c);
    let o = t.out();
    let q = connects(&o)[0].0;
    let s = sent(&t.connected(q), q);
    assert!(s.starts_with(&arr(&["AUTH", "sent", "spw"])), "{s}");
    assert!(!s.contains("dpw"));
    // A refused sentinel AUTH is reported per sentinel.
    let id = t.m.submit(cmd("GET").arg("k"), t.now);
    let o = t.feed(q, "-WRONGPASS invalid username-password pair\r\n");
    match &replies(&o).iter().find(|r| r.0 == id).unwrap().1 {
        Err(CommandError::MasterNotFound(DiscoveryError::InvalidReplies { tried })) => {
            assert!(tried[0].1.contains("sentinel AUTH failed"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_shot_discovery_master_and_replicas() {
    let now = Instant::now();
    let mut d = Discovery::master(T::cfg(2), now);
    let o: Vec<_> = std::iter::from_fn(|| d.poll_output()).collect();
    let q = connects(&o)[0].0;
    d.handle_input(Input::Connected(q), now);
    let o: Vec<_> = std::iter::from_fn(|| d.poll_output()).collect();
    assert!(!sent(&o, q).contains("replicas"));
    d.handle_input(
        Input::Received(q, arr(&["10.0.0.1", "6379"]).as_bytes()),
        now,
    );
    let o: Vec<_> = std::iter::from_fn(|| d.poll_output()).collect();
    assert!(closed(&o, q));
    assert_eq!(
        d.result(),
        Some(&Ok(Discovered::Master(addr("10.0.0.1:6379"))))
    );
    assert_eq!(d.poll_timeout(), None);

    let mut d = Discovery::replicas(T::cfg(1), now);
    let o: Vec<_> = std::iter::from_fn(|| d.poll_output()).collect();
    let q = connects(&o)[0].0;
    d.handle_input(Input::Connected(q), now);
    let o: Vec<_> = std::iter::from_fn(|| d.poll_output()).collect();
    assert!(sent(&o, q).contains("replicas"));
    let reply = format!(
        "{}*3\r\n{}{}{}",
        arr(&["10.0.0.1", "6379"]),
        rep("10.0.0.2", "slave", "ok"),
        rep("10.0.0.3", "slave,s_down", "ok"),
        rep("10.0.0.4", "slave", "err")
    );
    d.handle_input(Input::Received(q, reply.as_bytes()), now);
    assert_eq!(
        d.result(),
        Some(&Ok(Discovered::Replicas(vec![addr("10.0.0.2:6380")])))
    );

    let mut d = Discovery::master(Config::new(vec![], "svc"), now);
    assert!(matches!(
        d.result(),
        Some(Err(DiscoveryError::NoSentinelReachable { tried })) if tried.is_empty()
    ));
    assert_eq!(d.poll_output(), None);
}
