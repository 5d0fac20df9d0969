//! The sentinel connection mux: replies reach the member that asked, notices reach every
//! member, a script that differs gets its own connection, and bytes no member owns end the
//! shared connection with every member told. Then two real machines through one mux.

use super::*;
use crate::resp::Limits;

fn m(n: u64) -> MemberId {
    MemberId(n)
}

fn drain(x: &mut SentinelMux) -> Vec<MuxOutput> {
    std::iter::from_fn(|| x.poll_output()).collect()
}

fn s1() -> Addr {
    addr("s1:26379")
}

/// What each member received, concatenated.
fn got(o: &[MuxOutput]) -> BTreeMap<MemberId, String> {
    let mut g = BTreeMap::new();
    for x in o {
        if let MuxOutput::Received { member, bytes } = x {
            g.entry(*member)
                .or_insert_with(String::new)
                .push_str(&String::from_utf8_lossy(bytes));
        }
    }
    g
}

fn transmits(o: &[MuxOutput]) -> Vec<(ConnId, String)> {
    o.iter()
        .filter_map(|x| match x {
            MuxOutput::Conn(Output::Transmit { conn, bytes }) => {
                Some((*conn, String::from_utf8_lossy(bytes).into_owned()))
            }
            _ => None,
        })
        .collect()
}

fn connect_ids(o: &[MuxOutput]) -> Vec<ConnId> {
    o.iter()
        .filter_map(|x| match x {
            MuxOutput::Conn(Output::Connect { conn, .. }) => Some(*conn),
            _ => None,
        })
        .collect()
}

/// A mux with members 1 and 2 on one open connection of `kind` to s1; returns its id.
fn two_members(kind: PeerKind) -> (SentinelMux, ConnId) {
    let mut x = SentinelMux::new(Limits::default());
    x.open(m(1), s1(), kind);
    x.open(m(2), s1(), kind);
    let o = drain(&mut x);
    let c = connect_ids(&o);
    assert_eq!(c.len(), 1, "one connection for both: {o:?}");
    let peer = addr("10.0.0.9:26379");
    x.handle_input(Input::ConnectedTo(c[0], &peer));
    let o = drain(&mut x);
    for member in [m(1), m(2)] {
        assert!(
            o.contains(&MuxOutput::Connected {
                member,
                peer: Some(peer.clone())
            }),
            "{o:?}"
        );
    }
    (x, c[0])
}

#[test]
fn query_replies_go_to_the_member_that_asked_in_order_however_the_bytes_split() {
    let (mut x, c) = two_members(PeerKind::Sentinel);
    let get = arr(&["SENTINEL", "get-master-addr-by-name", "svc"]);
    let info = arr(&["SENTINEL", "MASTER", "svc"]);
    x.transmit(m(1), format!("{get}{info}").as_bytes());
    // Half a command waits for the rest.
    let other = arr(&["SENTINEL", "sentinels", "svc"]);
    let (head, tail) = other.split_at(7);
    x.transmit(m(2), head.as_bytes());
    assert!(transmits(&drain(&mut x)) == vec![(c, format!("{get}{info}"))]);
    x.transmit(m(2), tail.as_bytes());
    assert_eq!(transmits(&drain(&mut x)), vec![(c, other.clone())]);
    let replies = format!("{}{}*0\r\n", arr(&["10.0.0.1", "6379"]), super::info(3));
    let mut o = Vec::new();
    for b in replies.as_bytes() {
        x.handle_input(Input::Received(c, std::slice::from_ref(b)));
        o.extend(drain(&mut x));
    }
    let g = got(&o);
    assert_eq!(
        g[&m(1)],
        format!("{}{}", arr(&["10.0.0.1", "6379"]), super::info(3))
    );
    assert_eq!(g[&m(2)], "*0\r\n");
    // Each delivery is a whole frame.
    let frames = o
        .iter()
        .filter(|x| matches!(x, MuxOutput::Received { .. }))
        .count();
    assert_eq!(frames, 3);
}

#[test]
fn the_reply_to_a_member_that_left_is_dropped_and_the_last_to_leave_closes() {
    let (mut x, c) = two_members(PeerKind::Sentinel);
    let q = arr(&["SENTINEL", "get-master-addr-by-name", "svc"]);
    x.transmit(m(1), q.as_bytes());
    x.transmit(m(2), q.as_bytes());
    drain(&mut x);
    x.close(m(1));
    assert!(drain(&mut x).is_empty(), "member 2 still uses it");
    x.handle_input(Input::Received(c, b"$1\r\na\r\n$1\r\nb\r\n"));
    assert_eq!(
        got(&drain(&mut x)),
        BTreeMap::from([(m(2), "$1\r\nb\r\n".into())])
    );
    x.close(m(2));
    assert_eq!(
        drain(&mut x),
        vec![MuxOutput::Conn(Output::Close { conn: c })]
    );
    assert_eq!((x.connections(), x.members()), (0, 0));
    // A later member opens a new connection.
    x.open(m(3), s1(), PeerKind::Sentinel);
    assert_eq!(connect_ids(&drain(&mut x)).len(), 1);
}

#[test]
fn a_reply_nobody_asked_for_or_bytes_that_are_not_resp_end_the_connection_for_everyone() {
    for stray in ["+OK\r\n", "?what\r\n"] {
        let (mut x, c) = two_members(PeerKind::Sentinel);
        x.handle_input(Input::Received(c, stray.as_bytes()));
        let o = drain(&mut x);
        let g = got(&o);
        assert_eq!(g[&m(1)], stray, "{o:?}");
        assert_eq!(g[&m(2)], stray);
        assert!(o.contains(&MuxOutput::Conn(Output::Close { conn: c })));
        for member in [m(1), m(2)] {
            assert!(o.contains(&MuxOutput::Closed { member, why: None }));
        }
        assert_eq!((x.connections(), x.members()), (0, 0));
        // Inputs about the ended connection are ignored.
        x.handle_input(Input::Received(c, b"+OK\r\n"));
        assert!(drain(&mut x).is_empty());
    }
}

#[test]
fn a_reply_past_the_limit_ends_the_connection_with_bounded_memory() {
    let limits = Limits {
        max_frame_len: 1024,
        ..Limits::default()
    };
    let mut x = SentinelMux::new(limits);
    x.open(m(1), s1(), PeerKind::Sentinel);
    let c = connect_ids(&drain(&mut x))[0];
    x.handle_input(Input::Connected(c));
    x.transmit(m(1), arr(&["SENTINEL", "sentinels", "svc"]).as_bytes());
    drain(&mut x);
    x.handle_input(Input::Received(c, b"*4294967295\r\n"));
    assert!(got(&drain(&mut x)).is_empty(), "a partial frame waits");
    let mut delivered = 0;
    for _ in 0..100 {
        x.handle_input(Input::Received(c, "$1\r\nx\r\n".repeat(50).as_bytes()));
        let o = drain(&mut x);
        delivered += got(&o).values().map(|s| s.len()).sum::<usize>();
        if o.contains(&MuxOutput::Closed {
            member: m(1),
            why: None,
        }) {
            assert!(delivered <= 1024 + 350, "{delivered}");
            return;
        }
    }
    panic!("an endless reply was never cut off");
}

#[test]
fn connect_failures_and_closes_reach_every_member() {
    let mut x = SentinelMux::new(Limits::default());
    x.open(m(1), s1(), PeerKind::Sentinel);
    x.open(m(2), s1(), PeerKind::Sentinel);
    let c = connect_ids(&drain(&mut x))[0];
    x.handle_input(Input::ConnectFailedWith(c, ConnectFailure::Refused));
    let o = drain(&mut x);
    for member in [m(1), m(2)] {
        assert!(o.contains(&MuxOutput::ConnectFailed {
            member,
            why: ConnectFailure::Refused
        }));
    }
    let (mut x, c) = two_members(PeerKind::SentinelSubscriber);
    x.handle_input(Input::Closed(c));
    let o = drain(&mut x);
    assert_eq!(
        o.iter()
            .filter(|x| matches!(x, MuxOutput::Closed { .. }))
            .count(),
        2
    );
}

#[test]
fn kinds_and_addresses_do_not_share() {
    let mut x = SentinelMux::new(Limits::default());
    x.open(m(1), s1(), PeerKind::Sentinel);
    x.open(m(2), s1(), PeerKind::SentinelSubscriber);
    x.open(m(3), addr("s2:26379"), PeerKind::Sentinel);
    x.open(m(4), s1(), PeerKind::Sentinel);
    assert_eq!(connect_ids(&drain(&mut x)).len(), 3);
    assert_eq!((x.connections(), x.members()), (3, 4));
}

fn subscribe() -> String {
    arr(&["SUBSCRIBE", "+switch-master", "+odown"])
}

fn confirmations() -> String {
    let mut s = String::from("*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n");
    s += "*3\r\n$9\r\nsubscribe\r\n$6\r\n+odown\r\n:2\r\n";
    s
}

fn notice() -> String {
    arr(&[
        "message",
        "+switch-master",
        "svc 10.0.0.1 6379 10.0.0.3 6379",
    ])
}

#[test]
fn a_later_notice_member_is_not_subscribed_twice_and_gets_the_auth_reply_then_every_notice() {
    let (mut x, c) = two_members(PeerKind::SentinelSubscriber);
    let auth = arr(&["AUTH", "pw"]);
    let script = format!("{auth}{}", subscribe());
    x.transmit(m(1), script.as_bytes());
    assert_eq!(transmits(&drain(&mut x)), vec![(c, script.clone())]);
    // Member 2 writes the same before the reply came: nothing goes out.
    x.transmit(m(2), auth.as_bytes());
    assert!(drain(&mut x).is_empty());
    x.handle_input(Input::Received(
        c,
        format!("+OK\r\n{}", confirmations()).as_bytes(),
    ));
    let o = drain(&mut x);
    let g = got(&o);
    assert_eq!(g[&m(1)], format!("+OK\r\n{}", confirmations()));
    assert_eq!(
        g[&m(2)],
        "+OK\r\n",
        "the AUTH reply only: it has not subscribed yet"
    );
    x.transmit(m(2), subscribe().as_bytes());
    assert!(transmits(&drain(&mut x)).is_empty());
    // A member joining after everything was answered is handed the reply at once.
    x.open(m(3), s1(), PeerKind::SentinelSubscriber);
    x.transmit(m(3), script.as_bytes());
    let o = drain(&mut x);
    assert!(
        transmits(&o).is_empty() && connect_ids(&o).is_empty(),
        "{o:?}"
    );
    assert_eq!(got(&o)[&m(3)], "+OK\r\n");
    x.handle_input(Input::Received(c, notice().as_bytes()));
    let g = got(&drain(&mut x));
    for member in [m(1), m(2), m(3)] {
        assert_eq!(g[&member], notice(), "{member:?}");
    }
    // The writer leaving does not end the subscription of the others.
    x.close(m(1));
    x.handle_input(Input::Received(c, notice().as_bytes()));
    let g = got(&drain(&mut x));
    assert_eq!(g.keys().copied().collect::<Vec<_>>(), vec![m(2), m(3)]);
}

#[test]
fn a_notice_member_with_another_script_gets_a_connection_of_its_own() {
    let (mut x, c) = two_members(PeerKind::SentinelSubscriber);
    let auth = arr(&["AUTH", "pw"]);
    x.transmit(m(1), format!("{auth}{}", subscribe()).as_bytes());
    x.handle_input(Input::Received(c, b"+OK\r\n"));
    drain(&mut x);
    // Member 2 repeats the AUTH (and is handed its reply), then subscribes to other channels.
    x.transmit(m(2), auth.as_bytes());
    assert_eq!(got(&drain(&mut x))[&m(2)], "+OK\r\n");
    let other = arr(&["SUBSCRIBE", "+sdown"]);
    x.transmit(m(2), other.as_bytes());
    let o = drain(&mut x);
    let solo = connect_ids(&o);
    assert_eq!(solo.len(), 1, "{o:?}");
    assert_ne!(solo[0], c);
    assert!(
        transmits(&o).is_empty(),
        "nothing is written before it is open: {o:?}"
    );
    x.handle_input(Input::Connected(solo[0]));
    let o = drain(&mut x);
    assert_eq!(transmits(&o), vec![(solo[0], format!("{auth}{other}"))]);
    assert!(
        !o.iter().any(|o| matches!(o, MuxOutput::Connected { .. })),
        "member 2 was told it is connected once: {o:?}"
    );
    // The AUTH reply it already had is dropped; the rest passes through.
    let confirm = "*3\r\n$9\r\nsubscribe\r\n$6\r\n+sdown\r\n:1\r\n";
    x.handle_input(Input::Received(
        solo[0],
        format!("+OK\r\n{confirm}").as_bytes(),
    ));
    x.handle_input(Input::Received(c, notice().as_bytes()));
    let g = got(&drain(&mut x));
    assert_eq!(g[&m(2)], confirm);
    assert_eq!(g[&m(1)], notice());
    // A member opening the same again joins the shared connection, not the solo one.
    x.open(m(3), s1(), PeerKind::SentinelSubscriber);
    assert!(drain(&mut x)
        .iter()
        .any(|o| matches!(o, MuxOutput::Connected { member, .. } if *member == m(3))));
    assert_eq!(x.connections(), 2);
    x.close(m(2));
    assert_eq!(
        drain(&mut x),
        vec![MuxOutput::Conn(Output::Close { conn: solo[0] })]
    );
}

#[test]
fn a_member_leaving_unanswered_retires_the_connection_for_newcomers() {
    let (mut x, c) = two_members(PeerKind::Sentinel);
    x.transmit(m(1), arr(&["SENTINEL", "sentinels", "svc"]).as_bytes());
    drain(&mut x);
    // Member 1 timed out: the sentinel may be stuck. Member 2 keeps the connection...
    x.close(m(1));
    assert!(drain(&mut x).is_empty());
    // ...but a member opening now gets a fresh one.
    x.open(m(3), s1(), PeerKind::Sentinel);
    let fresh = connect_ids(&drain(&mut x));
    assert_eq!(fresh.len(), 1);
    assert_ne!(fresh[0], c);
    x.close(m(2));
    assert_eq!(
        drain(&mut x),
        vec![MuxOutput::Conn(Output::Close { conn: c })]
    );
    // A member leaving with nothing owed retires nothing.
    let (mut x, c) = two_members(PeerKind::Sentinel);
    x.close(m(1));
    x.open(m(3), s1(), PeerKind::Sentinel);
    let o = drain(&mut x);
    assert!(connect_ids(&o).is_empty(), "{o:?}");
    assert!(o.contains(&MuxOutput::Connected {
        member: m(3),
        peer: Some(addr("10.0.0.9:26379"))
    }));
    let _ = c;
}

#[test]
fn a_solo_connection_takes_writes_made_before_it_opened_and_ends_as_a_close() {
    let (mut x, c) = two_members(PeerKind::SentinelSubscriber);
    x.transmit(m(1), subscribe().as_bytes());
    drain(&mut x);
    let other = arr(&["SUBSCRIBE", "+sdown"]);
    let more = arr(&["PING"]);
    // The differing command and half of the next one in one write, the rest later.
    let (head, tail) = more.split_at(5);
    x.transmit(m(2), format!("{other}{head}").as_bytes());
    let solo = connect_ids(&drain(&mut x))[0];
    assert_ne!(solo, c);
    x.transmit(m(2), tail.as_bytes());
    assert!(
        drain(&mut x).is_empty(),
        "nothing written before it is open"
    );
    x.handle_input(Input::Connected(solo));
    assert_eq!(
        transmits(&drain(&mut x)),
        vec![(solo, format!("{other}{more}"))]
    );
    // A solo connection that fails to open ends, for its member, a connection it had.
    let (mut x, _) = two_members(PeerKind::SentinelSubscriber);
    x.transmit(m(1), subscribe().as_bytes());
    x.transmit(m(2), other.as_bytes());
    let solo = connect_ids(&drain(&mut x))[0];
    x.handle_input(Input::ConnectFailedWith(solo, ConnectFailure::Refused));
    assert_eq!(
        drain(&mut x),
        vec![MuxOutput::Closed {
            member: m(2),
            why: Some(ConnectFailure::Refused)
        }]
    );
}

#[test]
fn a_retired_connection_takes_members_again_once_the_late_reply_comes() {
    let (mut x, c) = two_members(PeerKind::Sentinel);
    x.transmit(m(1), arr(&["SENTINEL", "sentinels", "svc"]).as_bytes());
    drain(&mut x);
    x.close(m(1));
    x.handle_input(Input::Received(c, b"*0\r\n"));
    assert!(
        got(&drain(&mut x)).is_empty(),
        "the reply to the one that left is dropped"
    );
    x.open(m(3), s1(), PeerKind::Sentinel);
    let o = drain(&mut x);
    assert!(connect_ids(&o).is_empty(), "{o:?}");
    assert_eq!(x.connections(), 1);
}

/// A fake sentinel at the byte level: answers each command the way the machine expects.
fn sentinel_replies(commands: &str) -> String {
    let mut out = String::new();
    let mut buf = bytes::BytesMut::from(commands.as_bytes());
    let mut d = crate::resp::Decoder::new();
    while let Ok(Some(v)) = d.decode(&mut buf) {
        let words: Vec<String> = match v {
            Value::Array(items) => items
                .iter()
                .map(|w| match w {
                    Value::Bulk(b) => String::from_utf8_lossy(b.as_bytes()).into_owned(),
                    _ => String::new(),
                })
                .collect(),
            _ => Vec::new(),
        };
        let w: Vec<&str> = words.iter().map(|s| s.as_str()).collect();
        match w.as_slice() {
            ["AUTH", ..] => out += "+OK\r\n",
            ["SENTINEL", "get-master-addr-by-name", _] => out += &arr(&["10.0.0.1", "6379"]),
            ["SENTINEL", "MASTER", _] => out += &info(1),
            ["SENTINEL", "replicas" | "slaves", _] => {
                out += "*1\r\n";
                out += &rep("10.0.0.2", "slave", "ok");
            }
            ["SENTINEL", "sentinels", _] => out += "*0\r\n",
            ["SUBSCRIBE", channels @ ..] => {
                for (i, ch) in channels.iter().enumerate() {
                    out += &format!("*3\r\n$9\r\nsubscribe\r\n{}:{}\r\n", bulk_of(ch), i + 1);
                }
            }
            _ => out += "-ERR unknown\r\n",
        }
    }
    out
}

fn bulk_of(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

/// Machines whose sentinel connections go through one mux, to a fake sentinel; data
/// connections are answered `ROLE` by role.
struct Rig {
    machines: Vec<Machine>,
    mux: SentinelMux,
    now: Instant,
    /// Sentinel connections each machine opened (over its whole life).
    opened: usize,
    /// The mux's connections and their kinds.
    phys: BTreeMap<ConnId, PeerKind>,
    /// Data connections machines opened: (machine, conn, addr).
    data: Vec<(usize, ConnId, Addr)>,
}

fn member_of(i: usize, c: ConnId) -> MemberId {
    MemberId(((i as u64) << 32) | c.0)
}

impl Rig {
    fn new(roles: &[Role]) -> Rig {
        let now = Instant::now();
        let mut auth = Config::new(vec![s1()], "svc");
        auth.sentinel_auth = Some(Credentials::password("pw"));
        let machines = roles
            .iter()
            .map(|r| {
                let mut c = auth.clone();
                c.role = *r;
                Machine::new(c, now)
            })
            .collect();
        Rig {
            machines,
            mux: SentinelMux::new(Limits::default()),
            now,
            opened: 0,
            phys: BTreeMap::new(),
            data: Vec::new(),
        }
    }

    /// Performs outputs until nothing is left to do.
    fn run(&mut self) {
        loop {
            let mut busy = false;
            for i in 0..self.machines.len() {
                while let Some(o) = self.machines[i].poll_output() {
                    busy = true;
                    self.machine_output(i, o);
                }
            }
            while let Some(o) = self.mux.poll_output() {
                busy = true;
                self.mux_output(o);
            }
            if !busy {
                return;
            }
        }
    }

    fn is_sentinel(kind: PeerKind) -> bool {
        matches!(kind, PeerKind::Sentinel | PeerKind::SentinelSubscriber)
    }

    fn machine_output(&mut self, i: usize, o: Output) {
        let now = self.now;
        match o {
            Output::Connect { conn, addr, kind } if Self::is_sentinel(kind) => {
                self.opened += 1;
                self.mux.open(member_of(i, conn), addr, kind);
            }
            Output::Connect { conn, addr, .. } => {
                self.data.push((i, conn, addr));
                self.machines[i].handle_input(Input::Connected(conn), now);
            }
            Output::Transmit { conn, bytes } => {
                if self.data.iter().any(|(j, c, _)| *j == i && *c == conn) {
                    if String::from_utf8_lossy(&bytes).contains("ROLE") {
                        let role = match self.machines[i].config().role {
                            Role::Master => ROLE_MASTER,
                            Role::Replica => ROLE_SLAVE,
                        };
                        self.machines[i].handle_input(Input::Received(conn, role.as_bytes()), now);
                    }
                } else {
                    self.mux.transmit(member_of(i, conn), &bytes);
                }
            }
            Output::Close { conn } => self.mux.close(member_of(i, conn)),
            _ => {}
        }
    }

    fn mux_output(&mut self, o: MuxOutput) {
        let now = self.now;
        let target = |member: MemberId| ((member.0 >> 32) as usize, ConnId(member.0 & 0xffff_ffff));
        match o {
            MuxOutput::Conn(Output::Connect { conn, kind, .. }) => {
                self.phys.insert(conn, kind);
                self.mux.handle_input(Input::Connected(conn));
            }
            MuxOutput::Conn(Output::Transmit { conn, bytes }) => {
                let r = sentinel_replies(&String::from_utf8_lossy(&bytes));
                self.mux.handle_input(Input::Received(conn, r.as_bytes()));
            }
            MuxOutput::Conn(Output::Close { conn }) => {
                self.phys.remove(&conn);
            }
            MuxOutput::Connected { member, .. } => {
                let (i, c) = target(member);
                self.machines[i].handle_input(Input::Connected(c), now);
            }
            MuxOutput::Received { member, bytes } => {
                let (i, c) = target(member);
                self.machines[i].handle_input(Input::Received(c, &bytes), now);
            }
            MuxOutput::ConnectFailed { member, .. } => {
                let (i, c) = target(member);
                self.machines[i].handle_input(Input::ConnectFailed(c), now);
            }
            MuxOutput::Closed { member, .. } => {
                let (i, c) = target(member);
                self.machines[i].handle_input(Input::Closed(c), now);
            }
            other => panic!("not a mux output: {other:?}"),
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        for m in &mut self.machines {
            m.handle_timeout(self.now);
        }
        self.run();
    }
}

#[test]
fn a_master_and_a_replica_machine_share_one_query_and_one_notice_connection() {
    let mut rig = Rig::new(&[Role::Master, Role::Replica, Role::Master]);
    rig.run();
    for m in &rig.machines {
        assert!(m.current_master().is_some() || m.config().role == Role::Replica);
    }
    let data: BTreeSet<String> = rig.data.iter().map(|(_, _, a)| a.to_string()).collect();
    assert!(
        data.contains("10.0.0.1:6379") && data.contains("10.0.0.2:6380"),
        "{data:?}"
    );
    let kinds: Vec<PeerKind> = rig.phys.values().copied().collect();
    let subs = kinds
        .iter()
        .filter(|k| **k == PeerKind::SentinelSubscriber)
        .count();
    assert_eq!(subs, 1, "one notice subscription: {kinds:?}");
    assert_eq!(kinds.len(), 2, "and one query connection: {kinds:?}");
    assert!(
        rig.opened >= 6,
        "each machine opened its own: {}",
        rig.opened
    );
    // A minute of periodic refreshes later, still one of each.
    for _ in 0..60 {
        rig.advance(Duration::from_secs(1));
    }
    assert!(rig.phys.len() <= 2, "{:?}", rig.phys);
    // A failover notice on the shared subscription reaches both master machines.
    let n = rig
        .phys
        .iter()
        .find(|(_, k)| **k == PeerKind::SentinelSubscriber)
        .map(|(c, _)| *c)
        .expect("subscription");
    rig.mux
        .handle_input(Input::Received(n, notice().as_bytes()));
    rig.run();
    for i in [0, 2] {
        assert!(
            rig.data
                .iter()
                .any(|(j, _, a)| *j == i && a.to_string() == "10.0.0.3:6379"),
            "machine {i} followed the switch: {:?}",
            rig.data
        );
        assert_eq!(
            rig.machines[i].current_master().map(|a| a.to_string()),
            Some("10.0.0.3:6379".to_string())
        );
    }
}

/// A model of members and a sentinel that echoes each command's tag, driven by random steps:
/// every member gets exactly the replies to its own commands, in order, whatever the order of
/// joins, writes, leaves, partial deliveries and closes; nothing is output for a connection
/// never opened.
mod model {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Open(usize, bool),
        Send(usize, u8),
        Close(usize),
        Connect(usize),
        Deliver(usize, usize),
        Drop(usize),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..4usize, any::<bool>()).prop_map(|(m, b)| Step::Open(m, b)),
            (0..4usize, 1..4u8).prop_map(|(m, n)| Step::Send(m, n)),
            (0..4usize).prop_map(Step::Close),
            (0..4usize).prop_map(Step::Connect),
            (0..4usize, 1..40usize).prop_map(|(c, n)| Step::Deliver(c, n)),
            (0..8usize).prop_map(Step::Drop),
        ]
    }

    /// A member slot: its current id, whether it was told it is connected, and the tags of
    /// its commands still unanswered.
    #[derive(Default)]
    struct Slot {
        id: Option<MemberId>,
        connected: bool,
        owed: VecDeque<String>,
    }

    struct World {
        x: SentinelMux,
        slots: Vec<Slot>,
        next_member: u64,
        next_tag: u64,
        /// Open or opening connections: (open, reply bytes not yet delivered).
        conns: BTreeMap<ConnId, (bool, Vec<u8>)>,
        ever: BTreeSet<ConnId>,
    }

    use std::collections::VecDeque;

    impl World {
        fn slot_of(&self, m: MemberId) -> usize {
            self.slots
                .iter()
                .position(|s| s.id == Some(m))
                .unwrap_or_else(|| panic!("output for {m:?}, not a current member"))
        }

        fn settle(&mut self) {
            while let Some(o) = self.x.poll_output() {
                match o {
                    MuxOutput::Conn(Output::Connect { conn, .. }) => {
                        assert!(self.ever.insert(conn), "id reused");
                        self.conns.insert(conn, (false, Vec::new()));
                    }
                    MuxOutput::Conn(Output::Transmit { conn, bytes }) => {
                        let c = self.conns.get_mut(&conn).expect("transmit to a known conn");
                        assert!(c.0, "written before it was open");
                        let mut b = bytes::BytesMut::from(&bytes[..]);
                        while let Ok(Some(Value::Array(words))) =
                            crate::resp::Decoder::new().decode(&mut b)
                        {
                            let Some(Value::Bulk(tag)) = words.get(1) else {
                                panic!("not our command")
                            };
                            let tag = String::from_utf8_lossy(tag.as_bytes()).into_owned();
                            c.1.extend_from_slice(
                                format!("${}\r\n{tag}\r\n", tag.len()).as_bytes(),
                            );
                        }
                        assert!(b.is_empty(), "a partial command was written");
                    }
                    MuxOutput::Conn(Output::Close { conn }) => {
                        assert!(self.conns.remove(&conn).is_some(), "closed twice");
                    }
                    MuxOutput::Connected { member, .. } => {
                        let i = self.slot_of(member);
                        assert!(!self.slots[i].connected, "told twice");
                        self.slots[i].connected = true;
                    }
                    MuxOutput::Received { member, bytes } => {
                        let i = self.slot_of(member);
                        let mut b = bytes::BytesMut::from(&bytes[..]);
                        while let Ok(Some(Value::Bulk(tag))) =
                            crate::resp::Decoder::new().decode(&mut b)
                        {
                            let tag = String::from_utf8_lossy(tag.as_bytes()).into_owned();
                            assert_eq!(
                                self.slots[i].owed.pop_front().as_deref(),
                                Some(tag.as_str()),
                                "member {i} got another's reply"
                            );
                        }
                        assert!(b.is_empty(), "a partial frame was delivered");
                    }
                    MuxOutput::ConnectFailed { member, .. } | MuxOutput::Closed { member, .. } => {
                        let i = self.slot_of(member);
                        self.slots[i] = Slot::default();
                    }
                    other => panic!("not a mux output: {other:?}"),
                }
            }
        }

        fn apply(&mut self, s: Step) {
            match s {
                Step::Open(i, other) => {
                    let id = MemberId(self.next_member);
                    self.next_member += 1;
                    let at = if other { addr("s2:26379") } else { s1() };
                    // A machine closes its old connection before opening another.
                    if let Some(old) = self.slots[i].id.take() {
                        self.x.close(old);
                    }
                    self.slots[i] = Slot {
                        id: Some(id),
                        ..Slot::default()
                    };
                    self.x.open(id, at, PeerKind::Sentinel);
                }
                Step::Send(i, n) => {
                    let Some(id) = self.slots[i].id.filter(|_| self.slots[i].connected) else {
                        return;
                    };
                    let mut all = String::new();
                    for _ in 0..n {
                        let tag = format!("t{}", self.next_tag);
                        self.next_tag += 1;
                        all += &arr(&["GET", &tag]);
                        self.slots[i].owed.push_back(tag);
                    }
                    // Written in two pieces: a split command waits for its rest.
                    let (a, b) = all.split_at(all.len() / 2);
                    self.x.transmit(id, a.as_bytes());
                    self.x.transmit(id, b.as_bytes());
                }
                Step::Close(i) => {
                    if let Some(id) = self.slots[i].id.take() {
                        self.x.close(id);
                    }
                    self.slots[i] = Slot::default();
                }
                Step::Connect(k) => {
                    if let Some((&c, _)) = self.conns.iter().filter(|(_, v)| !v.0).nth(k) {
                        self.conns.get_mut(&c).unwrap().0 = true;
                        self.x.handle_input(Input::Connected(c));
                    }
                }
                Step::Deliver(k, n) => {
                    let open: Vec<ConnId> = self
                        .conns
                        .iter()
                        .filter(|(_, v)| v.0 && !v.1.is_empty())
                        .map(|(c, _)| *c)
                        .collect();
                    if let Some(&c) = open.get(k % open.len().max(1)) {
                        let pending = &mut self.conns.get_mut(&c).unwrap().1;
                        let chunk: Vec<u8> = pending.drain(..n.min(pending.len())).collect();
                        self.x.handle_input(Input::Received(c, &chunk));
                    }
                }
                Step::Drop(k) => {
                    if let Some(&c) = self.conns.keys().nth(k) {
                        self.conns.remove(&c);
                        self.x.handle_input(Input::Closed(c));
                    }
                }
            }
            self.settle();
            // Members a connection's loss forgot are forgotten by the mux too.
            let live = self.slots.iter().filter(|s| s.id.is_some()).count();
            assert_eq!(self.x.members(), live);
            assert_eq!(self.x.connections(), self.conns.len());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn every_member_gets_exactly_its_own_replies_in_order(
            steps in proptest::collection::vec(step(), 1..120)
        ) {
            let mut w = World {
                x: SentinelMux::new(Limits::default()),
                slots: (0..4).map(|_| Slot::default()).collect(),
                next_member: 1,
                next_tag: 0,
                conns: BTreeMap::new(),
                ever: BTreeSet::new(),
            };
            for s in steps {
                w.apply(s);
            }
            // Everything still owed arrives once the sentinels answer all.
            let open: Vec<ConnId> = w.conns.iter().filter(|(_, v)| v.0).map(|(c, _)| *c).collect();
            for c in open {
                let all = std::mem::take(&mut w.conns.get_mut(&c).unwrap().1);
                w.x.handle_input(Input::Received(c, &all));
                w.settle();
            }
            for (i, s) in w.slots.iter().enumerate() {
                if s.connected {
                    prop_assert!(s.owed.is_empty(), "member {} still owed {:?}", i, s.owed);
                }
            }
        }

        #[test]
        fn any_bytes_in_any_order_never_panic(
            ops in proptest::collection::vec((0..6u8, 0..3u64, proptest::collection::vec(any::<u8>(), 0..24)), 1..80)
        ) {
            let mut x = SentinelMux::new(Limits { max_frame_len: 64, ..Limits::default() });
            for (op, n, bytes) in ops {
                let kind = if n % 2 == 0 { PeerKind::Sentinel } else { PeerKind::SentinelSubscriber };
                match op {
                    0 => x.open(MemberId(n), s1(), kind),
                    1 => x.transmit(MemberId(n), &bytes),
                    2 => x.close(MemberId(n)),
                    3 => x.handle_input(Input::Connected(ConnId(n + 1))),
                    4 => x.handle_input(Input::Received(ConnId(n + 1), &bytes)),
                    _ => x.handle_input(Input::Closed(ConnId(n + 1))),
                }
                while x.poll_output().is_some() {}
            }
        }
    }
}
