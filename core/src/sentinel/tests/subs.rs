//! Items 5, 8, 9: sentinel list refresh, the caller's pub/sub following the master.

use super::fence::{notice, notices};
use super::*;

fn sentinel_entry(ip: &str, flags: &str) -> String {
    arr(&["name", "x", "ip", ip, "port", "26379", "flags", flags])
}

#[test]
fn refresh_adds_newcomers_skips_down_ones_and_keeps_configured() {
    let mut t = T::new(T::cfg(1));
    let o = t.out();
    let q = connects(&o)[0].0;
    let o = t.connected(q);
    let s = sent(&o, q);
    assert!(
        s.contains("sentinels"),
        "refresh pipelined with the first query: {s}"
    );
    let reply = format!(
        "{}{}*2\r\n{}{}",
        arr(&["10.0.0.1", "6379"]),
        info(0),
        sentinel_entry("10.0.0.7", "sentinel"),
        sentinel_entry("10.0.0.8", "sentinel,s_down")
    );
    let o = t.feed(q, &reply);
    let ev = events(&o);
    assert!(ev.contains(&Event::SentinelAdded(addr("10.0.0.7:26379"))));
    assert!(!ev.contains(&Event::SentinelAdded(addr("10.0.0.8:26379"))));
    assert_eq!(t.m.sentinels(), &[addr("s1:26379"), addr("10.0.0.7:26379")]);
    let subs: Vec<Addr> = connects(&o)
        .into_iter()
        .filter(|c| c.2 == PeerKind::SentinelSubscriber)
        .map(|c| c.1)
        .collect();
    assert_eq!(
        subs,
        vec![addr("s1:26379"), addr("10.0.0.7:26379")],
        "a learned sentinel is listened to as well"
    );
    let learned = t.watch(&addr("10.0.0.7:26379")).unwrap();
    // Next refresh: the newcomer is now flagged down and is removed; the configured one stays.
    t.now += t.config().sentinel_refresh_interval;
    let mut o = Vec::new();
    for _ in 0..5 {
        o = t.advance(t.config().sentinel_poll_interval);
        if sent(&o, q).contains("sentinels") {
            break;
        }
    }
    assert!(sent(&o, q).contains("sentinels"));
    let reply = format!(
        "{}{}*1\r\n{}",
        arr(&["10.0.0.1", "6379"]),
        info(0),
        sentinel_entry("10.0.0.7", "sentinel,s_down")
    );
    let o = t.feed(q, &reply);
    assert!(events(&o).contains(&Event::SentinelRemoved(addr("10.0.0.7:26379"))));
    assert_eq!(t.m.sentinels(), &[addr("s1:26379")]);
    assert!(
        closed(&o, learned) || t.addr_of(learned).is_none(),
        "its subscription goes with it"
    );
    assert!(t.watch(&addr("10.0.0.7:26379")).is_none());
}

#[test]
fn sentinel_notice_adds_a_sentinel() {
    let (mut t, _) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let n = notices(&mut t);
    let o = notice(
        &mut t,
        n,
        "+sentinel",
        "sentinel abc 10.0.0.9 26379 @ svc 10.0.0.1 6379",
    );
    assert!(events(&o).contains(&Event::SentinelAdded(addr("10.0.0.9:26379"))));
}

#[test]
fn user_pubsub_has_its_own_connection_and_follows_the_master() {
    let (mut t, d) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let news = t.m.subscribe(["news"], t.now);
    let h = t.m.psubscribe(["h*"], t.now);
    let o = t.out();
    assert!(replies(&o).is_empty(), "answered once the server confirms");
    let (p, a) = connect_of(&o, PeerKind::DataSubscriber(Role::Master)).unwrap();
    assert_eq!(a, addr("10.0.0.1:6379"));
    assert_ne!(p, d);
    let o = t.connected(p);
    assert_eq!(sent(&o, p), arr(&["ROLE"]));
    let o = t.feed(p, ROLE_MASTER);
    assert_eq!(
        sent(&o, p),
        arr(&["SUBSCRIBE", "news"]) + &arr(&["PSUBSCRIBE", "h*"])
    );
    // Confirmations answer the subscription requests (a message published after that
    // reaches the caller); publications come out typed.
    let confirm = "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n\
                   *3\r\n$10\r\npsubscribe\r\n$2\r\nh*\r\n:2\r\n";
    assert_eq!(
        replies(&t.feed(p, confirm)),
        vec![(news, Ok(Value::Null)), (h, Ok(Value::Null))]
    );
    // Already subscribed: answered at once.
    let again = t.m.subscribe(["news"], t.now);
    assert_eq!(replies(&t.out()), vec![(again, Ok(Value::Null))]);
    let msg = arr(&["message", "news", "hello"]) + &arr(&["pmessage", "h*", "hi", "there"]);
    let o = t.feed(p, &msg);
    assert_eq!(
        o,
        vec![
            Output::Message(Message {
                channel: "news".into(),
                pattern: None,
                payload: "hello".into(),
                sharded: false,
            }),
            Output::Message(Message {
                channel: "hi".into(),
                pattern: Some("h*".into()),
                payload: "there".into(),
                sharded: false,
            }),
        ]
    );
    // A later subscription goes out on the live connection.
    t.m.subscribe(["more"], t.now);
    assert_eq!(sent(&t.out(), p), arr(&["SUBSCRIBE", "more"]));
    // Failover: the pub/sub connection moves with the command connection and resubscribes.
    let n = notices(&mut t);
    let o = notice(
        &mut t,
        n,
        "+switch-master",
        "svc 10.0.0.1 6379 10.0.0.2 6380",
    );
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    let o = t.verify(d2, ROLE_MASTER);
    assert!(closed(&o, p));
    let (p2, a2) = connect_of(&o, PeerKind::DataSubscriber(Role::Master)).unwrap();
    assert_eq!(a2, addr("10.0.0.2:6380"));
    t.connected(p2);
    let o = t.feed(p2, ROLE_MASTER);
    assert_eq!(
        sent(&o, p2),
        arr(&["SUBSCRIBE", "more", "news"]) + &arr(&["PSUBSCRIBE", "h*"])
    );
    // Unsubscribing everything closes it.
    t.m.unsubscribe(["news", "more"], t.now);
    t.m.punsubscribe(["h*"], t.now);
    let o = t.out();
    assert!(closed(&o, p2));
}

#[test]
fn a_sentinel_that_stays_down_is_reported_once() {
    let (mut t, _) = T::ready(T::cfg(2), "10.0.0.1:6379");
    let s2 = addr("s2:26379");
    let lost = |o: &[Output]| {
        events(o)
            .iter()
            .filter(|e| matches!(e, Event::Error(m) if m.contains("subscription to s2:26379")))
            .count()
    };
    let mut reported = 0;
    for _ in 0..10 {
        let w = t.watch(&s2).expect("a subscription (re)opened");
        let o = t.input(Input::ConnectFailed(w));
        reported += lost(&o);
        // Wait for the backed-off reconnect.
        let mut tries = 0;
        while t.watch(&s2).is_none() {
            reported += lost(&t.fire());
            tries += 1;
            assert!(tries < 50, "never reconnects");
        }
    }
    assert_eq!(reported, 1, "warned once while it stayed down");
    // Back up (a frame arrives), then lost again: reported again.
    let w = t.watch(&s2).unwrap();
    t.connected(w);
    t.feed(
        w,
        "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n",
    );
    let o = t.input(Input::Closed(w));
    assert_eq!(lost(&o), 1);
}

#[test]
fn sharded_subscriptions_are_confirmed_and_their_messages_marked() {
    let (mut t, _) = T::ready(T::cfg(1), "10.0.0.1:6379");
    let id = t.m.ssubscribe(["orders"], t.now);
    let o = t.out();
    let (p, _) = connect_of(&o, PeerKind::DataSubscriber(Role::Master)).unwrap();
    t.connected(p);
    let o = t.feed(p, ROLE_MASTER);
    assert_eq!(sent(&o, p), arr(&["SSUBSCRIBE", "orders"]));
    let o = t.feed(p, "*3\r\n$10\r\nssubscribe\r\n$6\r\norders\r\n:1\r\n");
    assert_eq!(replies(&o), vec![(id, Ok(Value::Null))]);
    let o = t.feed(p, &arr(&["smessage", "orders", "42"]));
    match &o[..] {
        [Output::Message(m)] => {
            assert!(m.sharded && m.pattern.is_none());
            assert_eq!(
                (&m.channel[..], &m.payload[..]),
                (&b"orders"[..], &b"42"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    let o = {
        t.m.sunsubscribe(["orders"], t.now);
        t.out()
    };
    assert!(
        closed(&o, p),
        "nothing left to listen to: the subscriber connection closes"
    );
}

#[test]
fn a_sentinel_configured_by_name_is_not_added_again_under_its_ip() {
    let cfg = Config::new(vec![addr("localhost:26379"), addr("s2:26379")], "svc");
    // Connections report the address they reached: the configured name's IP.
    let mut t = T::new(cfg.clone());
    let o = t.out();
    let (q, a, _) = connects(&o)[0].clone();
    assert_eq!(a, addr("localhost:26379"));
    let o = t.input(Input::ConnectedTo(q, &addr("127.0.0.1:26379")));
    assert!(sent(&o, q).contains("sentinels"));
    let reply = format!(
        "{}{}*2\r\n{}{}",
        arr(&["10.0.0.1", "6379"]),
        info(0),
        sentinel_entry("127.0.0.1", "sentinel"),
        sentinel_entry("10.0.0.9", "sentinel")
    );
    let o = t.feed(q, &reply);
    let ev = events(&o);
    assert!(ev.contains(&Event::SentinelAdded(addr("10.0.0.9:26379"))));
    assert!(
        !ev.contains(&Event::SentinelAdded(addr("127.0.0.1:26379"))),
        "{ev:?}"
    );
    assert_eq!(
        t.m.sentinels(),
        &[
            addr("localhost:26379"),
            addr("s2:26379"),
            addr("10.0.0.9:26379")
        ]
    );
    // Learned the other way round (an older driver said only `Connected`), the duplicate goes
    // as soon as a connection to the named sentinel reports where it arrived.
    let mut t = T::new(cfg);
    let o = t.out();
    let (q, _, _) = connects(&o)[0].clone();
    t.connected(q);
    let o = t.feed(q, &reply);
    assert!(events(&o).contains(&Event::SentinelAdded(addr("127.0.0.1:26379"))));
    let w = t
        .watch(&addr("localhost:26379"))
        .expect("a subscription to the named one");
    let o = t.input(Input::ConnectedTo(w, &addr("127.0.0.1:26379")));
    assert!(
        events(&o).contains(&Event::SentinelRemoved(addr("127.0.0.1:26379"))),
        "{o:?}"
    );
    assert!(!t.m.sentinels().contains(&addr("127.0.0.1:26379")));
    assert!(
        t.watch(&addr("127.0.0.1:26379")).is_none(),
        "its subscription closed"
    );
}
