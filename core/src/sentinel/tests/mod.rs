//! Machine tests: hand-written byte replies fed through the public Input/Output API. The
//! harness knows the machine's connections only from its outputs (what it asked to open and
//! close); a few tests read a part's state through that part's own methods.

mod address_map;
mod blocking;
mod candidate;
mod commands;
mod dedicated;
mod discovery;
mod epoch;
mod fence;
mod fence_hold;
mod handshake;
mod mux;
mod replicas;
mod robustness;
mod spread;
mod subs;
mod units;
mod units_sim_found;
mod valkey_replies;

use super::*;
use crate::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// RESP array of bulk strings.
pub(super) fn arr(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s += &format!("${}\r\n{}\r\n", i.len(), i);
    }
    s
}

pub(super) const ROLE_MASTER: &str = "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n";
pub(super) const ROLE_SLAVE: &str =
    "*5\r\n$5\r\nslave\r\n$8\r\n10.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:0\r\n";

/// A `SENTINEL MASTER` reply (the fields the machine reads) with config epoch `epoch`.
pub(super) fn info(epoch: u64) -> String {
    arr(&[
        "name",
        "svc",
        "flags",
        "master",
        "config-epoch",
        &epoch.to_string(),
    ])
}

/// One replica of a `SENTINEL replicas` reply, port 6380.
pub(super) fn rep(ip: &str, flags: &str, link: &str) -> String {
    arr(&[
        "ip",
        ip,
        "port",
        "6380",
        "flags",
        flags,
        "master-link-status",
        link,
    ])
}

pub(super) fn addr(s: &str) -> Addr {
    s.parse().expect("test address")
}

pub(super) fn sentinels(n: usize) -> Vec<Addr> {
    (1..=n).map(|i| addr(&format!("s{i}:26379"))).collect()
}

/// A test driver: the machine, a fake clock, the connections it has open (as its outputs
/// said), and helpers to read outputs.
pub(super) struct T {
    pub m: Machine,
    pub now: Instant,
    open: BTreeMap<ConnId, (Addr, PeerKind)>,
}

impl T {
    pub fn new(cfg: Config) -> T {
        let now = Instant::now();
        T {
            m: Machine::new(cfg, now),
            now,
            open: BTreeMap::new(),
        }
    }

    pub fn cfg(n: usize) -> Config {
        Config::new(sentinels(n), "svc")
    }

    /// Drains the machine's outputs, noting the connections it opens and closes.
    pub fn out(&mut self) -> Vec<Output> {
        let o: Vec<Output> = std::iter::from_fn(|| self.m.poll_output()).collect();
        for x in &o {
            match x {
                Output::Connect { conn, addr, kind } => {
                    self.open.insert(*conn, (addr.clone(), *kind));
                }
                Output::Close { conn } => {
                    self.open.remove(conn);
                }
                _ => {}
            }
        }
        o
    }

    pub fn input(&mut self, i: Input<'_>) -> Vec<Output> {
        if let Input::Closed(c) | Input::ConnectFailed(c) = i {
            self.open.remove(&c);
        }
        self.m.handle_input(i, self.now);
        self.out()
    }

    /// The machine's options.
    pub fn config(&self) -> &Config {
        self.m.config()
    }

    /// The sentinel query connection open now.
    pub fn query(&self) -> Option<ConnId> {
        let mut q = self
            .open
            .iter()
            .filter(|(_, (_, k))| *k == PeerKind::Sentinel)
            .map(|(c, _)| *c);
        let first = q.next();
        assert!(q.next().is_none(), "one query connection at a time");
        first
    }

    /// The notice subscription open to the sentinel at `a`.
    pub fn watch(&self, a: &Addr) -> Option<ConnId> {
        self.open
            .iter()
            .filter(|(_, (at, k))| at == a && *k == PeerKind::SentinelSubscriber)
            .map(|(c, _)| *c)
            .next_back()
    }

    /// Where an open connection goes.
    pub fn addr_of(&self, c: ConnId) -> Option<Addr> {
        self.open.get(&c).map(|(a, _)| a.clone())
    }

    /// Every connection open now.
    pub fn open_conns(&self) -> BTreeSet<ConnId> {
        self.open.keys().copied().collect()
    }

    pub fn connected(&mut self, c: ConnId) -> Vec<Output> {
        self.input(Input::Connected(c))
    }

    pub fn feed(&mut self, c: ConnId, bytes: &str) -> Vec<Output> {
        self.input(Input::Received(c, bytes.as_bytes()))
    }

    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        self.now += d;
        self.m.handle_timeout(self.now);
        self.out()
    }

    /// Advances straight to the machine's next deadline.
    pub fn fire(&mut self) -> Vec<Output> {
        let t = self.m.poll_timeout().expect("a deadline");
        self.now = self.now.max(t);
        self.m.handle_timeout(self.now);
        self.out()
    }

    pub fn submit(&mut self, c: crate::Cmd) -> (RequestId, Vec<Output>) {
        let id = self.m.submit(c, self.now);
        (id, self.out())
    }

    /// Answers the walk on the sentinel query connection `q` (already connected) with `reply`
    /// for get-master-addr-by-name, config epoch 0 for `SENTINEL MASTER`, and an empty list
    /// for a pipelined refresh if any.
    pub fn answer(&mut self, q: ConnId, sent: &str, reply: &str) -> Vec<Output> {
        let mut r = reply.to_string();
        if sent.contains(&arr(&["SENTINEL", "MASTER", "svc"])) {
            r += &info(0);
        }
        if sent.contains("sentinels") {
            r += "*0\r\n";
        }
        self.feed(q, &r)
    }

    /// From a fresh machine: first sentinel answers `master`; returns the data connection.
    pub fn resolve(&mut self, master: &str) -> ConnId {
        let o = self.out();
        let (q, _, _) = connects(&o)[0].clone();
        let o = self.connected(q);
        let s = sent(&o, q);
        assert!(s.contains("get-master-addr-by-name"), "{s}");
        let (host, port) = master.rsplit_once(':').unwrap();
        let o = self.answer(q, &s, &arr(&[host, port]));
        let c = connects(&o);
        let d = c
            .iter()
            .find(|(_, _, k)| matches!(k, PeerKind::Data(_)))
            .expect("data connect");
        assert_eq!(d.1, addr(master));
        d.0
    }

    /// Connects the data connection and answers its handshake (no auth, db 0) with `ROLE`.
    pub fn verify(&mut self, d: ConnId, role: &str) -> Vec<Output> {
        let o = self.connected(d);
        assert!(sent(&o, d).contains("ROLE"));
        self.feed(d, role)
    }

    /// A fresh machine with a verified master at `master`; returns (data conn, notices conn).
    pub fn ready(cfg: Config, master: &str) -> (T, ConnId) {
        let mut t = T::new(cfg);
        let d = t.resolve(master);
        let o = t.verify(d, ROLE_MASTER);
        assert!(events(&o).iter().any(|e| matches!(e, Event::Ready { .. })));
        (t, d)
    }
}

pub(super) fn connects(o: &[Output]) -> Vec<(ConnId, Addr, PeerKind)> {
    o.iter()
        .filter_map(|x| match x {
            Output::Connect { conn, addr, kind } => Some((*conn, addr.clone(), *kind)),
            _ => None,
        })
        .collect()
}

pub(super) fn connect_of(o: &[Output], kind: PeerKind) -> Option<(ConnId, Addr)> {
    connects(o)
        .into_iter()
        .find(|c| c.2 == kind)
        .map(|c| (c.0, c.1))
}

pub(super) fn sent(o: &[Output], c: ConnId) -> String {
    o.iter()
        .filter_map(|x| match x {
            Output::Transmit { conn, bytes } if *conn == c => {
                Some(String::from_utf8_lossy(bytes).into_owned())
            }
            _ => None,
        })
        .collect()
}

pub(super) fn closed(o: &[Output], c: ConnId) -> bool {
    o.iter()
        .any(|x| matches!(x, Output::Close { conn } if *conn == c))
}

pub(super) fn replies(o: &[Output]) -> Vec<(RequestId, Result<Value, CommandError>)> {
    o.iter()
        .filter_map(|x| match x {
            Output::Reply { request, result } => Some((*request, result.clone())),
            _ => None,
        })
        .collect()
}

pub(super) fn events(o: &[Output]) -> Vec<Event> {
    o.iter()
        .filter_map(|x| match x {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn bulk(s: &str) -> Value {
    Value::Bulk(crate::ByteStr::copy_from_slice(s.as_bytes()))
}
