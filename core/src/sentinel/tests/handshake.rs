//! Items 1 and 3: handshake pipelining, ROLE verification, HELLO fallback, auth failures.

use super::*;
use crate::cmd;

#[test]
fn handshake_is_pipelined_with_role_last() {
    let mut c = T::cfg(1);
    c.auth = Some(Credentials::user("app", "pw1"));
    c.db = 2;
    c.client_name = Some("me".into());
    let mut t = T::new(c);
    let d = t.resolve("10.0.0.1:6379");
    let o = t.connected(d);
    let transmits = o
        .iter()
        .filter(|x| matches!(x, Output::Transmit { conn, .. } if *conn == d))
        .count();
    assert_eq!(transmits, 1, "one write for the whole handshake");
    let want = arr(&["AUTH", "app", "pw1"])
        + &arr(&["CLIENT", "SETNAME", "me"])
        + &arr(&["SELECT", "2"])
        + &arr(&["ROLE"]);
    assert_eq!(sent(&o, d), want);
    // A command submitted before verification waits for it.
    let (id, o) = t.submit(cmd("SET").arg("k").arg("v"));
    assert_eq!(sent(&o, d), "");
    let o = t.feed(d, &format!("+OK\r\n+OK\r\n+OK\r\n{ROLE_MASTER}"));
    let ev = events(&o);
    assert!(ev.contains(&Event::MasterChanged {
        old: None,
        new: addr("10.0.0.1:6379")
    }));
    assert!(ev.contains(&Event::Ready {
        addr: addr("10.0.0.1:6379"),
        dialed: None,
        role: Role::Master
    }));
    assert_eq!(sent(&o, d), arr(&["SET", "k", "v"]));
    let o = t.feed(d, "+OK\r\n");
    assert_eq!(
        replies(&o),
        vec![(id, Ok(Value::SimpleString("OK".into())))]
    );
    assert_eq!(t.m.current_master(), Some(&addr("10.0.0.1:6379")));
    assert_eq!(
        t.m.current_node(),
        Some((&addr("10.0.0.1:6379"), Role::Master))
    );
}

#[test]
fn role_mismatch_disconnects_backs_off_and_rediscovers() {
    let mut t = T::new(T::cfg(1));
    let d = t.resolve("10.0.0.1:6379");
    let o = t.verify(d, ROLE_SLAVE);
    assert!(closed(&o, d));
    let delay = events(&o)
        .into_iter()
        .find_map(|e| match e {
            Event::Reconnecting { delay } => Some(delay),
            _ => None,
        })
        .expect("reconnecting event");
    assert!(delay <= t.config().backoff.base);
    let (id, o) = t.submit(cmd("GET").arg("k"));
    assert!(connects(&o).is_empty(), "waits for the backoff");
    // The query connection is kept and reused after the delay.
    let q = t.query().expect("query connection kept");
    let o = t.fire();
    assert!(sent(&o, q).contains("get-master-addr-by-name"));
    let o = t.feed(q, &(arr(&["10.0.0.2", "6379"]) + &info(0)));
    let (d2, _) = connect_of(&o, PeerKind::Data(Role::Master)).unwrap();
    let o = t.verify(d2, ROLE_MASTER);
    assert_eq!(sent(&o, d2), arr(&["GET", "k"]));
    assert!(t.feed(d2, "$-1\r\n").contains(&Output::Reply {
        request: id,
        result: Ok(Value::Null)
    }));
}

#[test]
fn resp3_hello_then_fallback_on_noproto() {
    let mut c = T::cfg(1);
    c.protocol = Protocol::Resp3;
    c.auth = Some(Credentials::password("pw"));
    c.client_name = Some("n".into());
    let mut t = T::new(c);
    let d = t.resolve("10.0.0.1:6379");
    let o = t.connected(d);
    let s = sent(&o, d);
    assert!(s.starts_with(&arr(&[
        "HELLO", "3", "AUTH", "default", "pw", "SETNAME", "n"
    ])));
    assert!(s.ends_with(&arr(&["ROLE"])));
    let o = t.feed(d, "-NOPROTO unsupported protocol version\r\n");
    assert_eq!(
        sent(&o, d),
        arr(&["AUTH", "pw"]) + &arr(&["CLIENT", "SETNAME", "n"]) + &arr(&["ROLE"])
    );
    // The first ROLE (sent unauthenticated) is ignored, the second one counts.
    let o = t.feed(d, "-NOAUTH Authentication required.\r\n");
    assert!(events(&o).is_empty());
    let o = t.feed(d, &format!("+OK\r\n+OK\r\n{ROLE_MASTER}"));
    assert!(events(&o).iter().any(|e| matches!(e, Event::Ready { .. })));
    assert!(!t.m.handshake.speaks_resp3());
}

#[test]
fn resp3_hello_success_routes_push_frames_to_messages() {
    let mut c = T::cfg(1);
    c.protocol = Protocol::Resp3;
    let mut t = T::new(c);
    let d = t.resolve("10.0.0.1:6379");
    t.connected(d);
    let o = t.feed(d, &format!("%1\r\n+proto\r\n:3\r\n{ROLE_MASTER}"));
    assert!(events(&o).iter().any(|e| matches!(e, Event::Ready { .. })));
    let (a, _) = t.submit(cmd("GET").arg("a"));
    let (b, _) = t.submit(cmd("GET").arg("b"));
    let o = t.feed(
        d,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n2\r\n",
    );
    assert_eq!(replies(&o), vec![(a, Ok(bulk("1"))), (b, Ok(bulk("2")))]);
    // Not a reply and not a pub/sub message: handed over as it came.
    assert_eq!(
        o.first(),
        Some(&Output::Push(Value::Push(vec![
            bulk("invalidate"),
            Value::Array(vec![bulk("a")])
        ])))
    );
}

#[test]
fn wrong_password_fails_commands_instead_of_retrying_silently() {
    let mut c = T::cfg(1);
    c.auth = Some(Credentials::password("bad"));
    let mut t = T::new(c);
    let id = t.m.submit(cmd("GET").arg("k"), t.now);
    let d = t.resolve("10.0.0.1:6379");
    t.connected(d);
    let o = t.feed(
        d,
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    assert!(closed(&o, d));
    match &replies(&o)[..] {
        [(r, Err(CommandError::Auth(m)))] => {
            assert_eq!(*r, id);
            assert!(m.contains("WRONGPASS"));
        }
        other => panic!("{other:?}"),
    }
    let (id2, o) = t.submit(cmd("GET").arg("k"));
    assert!(matches!(&replies(&o)[..], [(r, Err(CommandError::Auth(_)))] if *r == id2));
    assert!(events(&o).is_empty());
    // It keeps trying in the background with backoff, and recovers when auth works again.
    let q = t.query().unwrap();
    let o = t.fire();
    assert!(sent(&o, q).contains("get-master"));
}

#[test]
fn noauth_on_role_is_an_auth_error() {
    let mut t = T::new(T::cfg(1));
    let id = t.m.submit(cmd("PING"), t.now);
    let d = t.resolve("10.0.0.1:6379");
    t.connected(d);
    let o = t.feed(d, "-NOAUTH Authentication required.\r\n");
    assert!(matches!(&replies(&o)[..], [(r, Err(CommandError::Auth(_)))] if *r == id));
}

#[test]
fn a_command_that_waited_in_vain_says_what_went_wrong_with_the_node() {
    // A node that says it is a replica, again and again.
    let mut t = T::new(T::cfg(1));
    let d = t.resolve("10.0.0.1:6379");
    let (id, _) = t.submit(crate::cmd("GET").arg("k"));
    let o = t.verify(d, ROLE_SLAVE);
    assert!(closed(&o, d));
    let o = t.advance(t.config().command_timeout);
    let r = replies(&o);
    match &r[..] {
        [(rid, Err(CommandError::Unavailable(why)))] if *rid == id => {
            assert!(
                why.contains("10.0.0.1:6379") && why.contains("reports role slave"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A node that is loading its dataset.
    let mut t = T::new(T::cfg(1));
    let d = t.resolve("10.0.0.1:6379");
    let (id, _) = t.submit(crate::cmd("GET").arg("k"));
    t.connected(d);
    t.feed(d, "-LOADING Redis is loading the dataset in memory\r\n");
    let o = t.advance(t.config().command_timeout);
    match &replies(&o)[..] {
        [(rid, Err(CommandError::Unavailable(why)))] if *rid == id => {
            assert!(
                why.contains("10.0.0.1:6379") && why.contains("LOADING"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn connect_failures_say_which_kind_and_where() {
    for (why, text) in [
        (ConnectFailure::Refused, "connection refused"),
        (ConnectFailure::Unresolved, "host name not found"),
        (ConnectFailure::TimedOut, "connect timed out"),
    ] {
        let mut t = T::new(T::cfg(1));
        let o = t.out();
        let (q, _, _) = connects(&o)[0].clone();
        let (id, _) = t.submit(crate::cmd("GET").arg("k"));
        let o = t.input(Input::ConnectFailedWith(q, why));
        match &replies(&o)[..] {
            [(rid, Err(CommandError::MasterNotFound(e)))] if *rid == id => {
                let s = e.to_string();
                assert!(s.contains("s1:26379") && s.contains(text), "{s}");
            }
            other => panic!("{why:?}: {other:?}"),
        }
    }
    // The machine's own connect timeout says so too.
    let mut t = T::new(T::cfg(1));
    t.out();
    let (id, _) = t.submit(crate::cmd("GET").arg("k"));
    let o = t.advance(t.config().connect_timeout);
    match &replies(&o)[..] {
        [(rid, Err(CommandError::MasterNotFound(e)))] if *rid == id => {
            assert!(e.to_string().contains("connect timed out"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}
