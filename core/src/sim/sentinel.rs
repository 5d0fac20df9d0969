//! A simulated Redis Sentinel: queries, event channels, and the exact event message formats.

use super::session::{
    allowed_in_pubsub, allowed_unauthenticated, common, upper, Common, Credentials, HelloSupport,
    Session,
};
use super::wire::reply;
use crate::sentinel::Addr;
use crate::Value;
use bytes::Bytes;

/// How a sentinel answers `SENTINEL get-master-addr-by-name` right now (a fault knob).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Behavior {
    /// Tells its real view.
    #[default]
    Honest,
    /// Names this address instead (a replica, a stale master, or nothing at all).
    Lies(Addr),
    /// Says it does not know the service (null reply).
    Unknown,
    /// Answers with malformed bytes of the given kind.
    Garbage(Garbage),
}

/// Flavours of malformed answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Garbage {
    /// A one-element array (valid RESP, wrong arity).
    WrongArity,
    /// Port out of range.
    BadPort,
    /// An integer instead of an array.
    WrongType,
    /// Bytes that are not RESP at all.
    NotResp,
}

impl Garbage {
    /// All kinds, for random choice.
    pub const ALL: [Garbage; 4] = [
        Garbage::WrongArity,
        Garbage::BadPort,
        Garbage::WrongType,
        Garbage::NotResp,
    ];

    /// The raw bytes sent for this kind.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Garbage::WrongArity => b"*1\r\n$9\r\n127.0.0.1\r\n",
            Garbage::BadPort => b"*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n",
            Garbage::WrongType => b":42\r\n",
            Garbage::NotResp => b"\x00\xffnot resp at all\r\n",
        }
    }
}

/// What a sentinel reports about one replica for `SENTINEL replicas`.
#[derive(Clone, Debug)]
pub struct ReplicaInfo {
    /// Its address.
    pub addr: Addr,
    /// Unreachable (paused or down) as seen by sentinels.
    pub down: bool,
    /// Replication link to the master is up.
    pub link_ok: bool,
    /// Replication offset.
    pub offset: u64,
}

/// What a sentinel reports about a peer sentinel.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// Its address.
    pub addr: Addr,
    /// Its run id.
    pub run_id: String,
    /// Down as seen by this sentinel.
    pub down: bool,
}

/// A simulated sentinel monitoring one service.
#[derive(Debug)]
pub struct SimSentinel {
    /// Where it listens.
    pub addr: Addr,
    /// 40-hex-digit run id.
    pub run_id: String,
    /// Monitored service name.
    pub service: String,
    /// Its view of the master.
    pub master: Addr,
    /// Config epoch of its view of the master (`config-epoch` in `SENTINEL MASTER`).
    pub epoch: u64,
    /// While it leads a failover past the promotion: the old master's address, which its
    /// `SENTINEL MASTER` entry still shows while `get-master-addr-by-name` already names the
    /// promoted replica (Redis' reconf-slaves state).
    pub switching_from: Option<Addr>,
    /// While it runs a failover: Redis' name of the failover state (`wait_start`,
    /// `select_slave`, `send_slaveof_noone`, `wait_promotion`, `reconf_slaves`), shown with the
    /// `failover_in_progress` flag in its `SENTINEL MASTER` entry.
    pub failover_state: Option<&'static str>,
    /// Fault knob for address queries.
    pub behavior: Behavior,
    /// Refuses connections (process down).
    pub down: bool,
    /// Password for clients of this sentinel.
    pub auth: Option<Credentials>,
}

/// The `<type> <name> <ip> <port> @ <master> <mip> <mport>` text of a replica instance.
pub fn replica_details(service: &str, replica: &Addr, master: &Addr) -> String {
    format!(
        "slave {}:{} {} {} @ {} {} {}",
        replica.host, replica.port, replica.host, replica.port, service, master.host, master.port
    )
}

/// The `master <name> <ip> <port>` text of a master instance.
pub fn master_details(service: &str, master: &Addr) -> String {
    format!("master {} {} {}", service, master.host, master.port)
}

/// The `+switch-master` payload: `<name> <oldip> <oldport> <newip> <newport>`.
pub fn switch_master(service: &str, old: &Addr, new: &Addr) -> String {
    format!(
        "{} {} {} {} {}",
        service, old.host, old.port, new.host, new.port
    )
}

impl SimSentinel {
    /// A sentinel at `addr` whose view of `service` is `master`.
    pub fn new(addr: Addr, index: usize, service: &str, master: Addr) -> SimSentinel {
        SimSentinel {
            addr,
            run_id: format!("{:040x}", 0x05e4_71e1_u64 + index as u64),
            service: service.to_string(),
            master,
            epoch: 0,
            switching_from: None,
            failover_state: None,
            behavior: Behavior::Honest,
            down: false,
            auth: None,
        }
    }

    /// Executes one command. `Err(bytes)` is raw garbage to send instead of a reply.
    pub fn execute(
        &self,
        s: &mut Session,
        args: &[Bytes],
        replicas: &[ReplicaInfo],
        peers: &[PeerInfo],
    ) -> Result<Vec<Value>, &'static [u8]> {
        let name = upper(&args[0]);
        if !s.authed && !allowed_unauthenticated(&name) {
            return Ok(vec![reply::err("NOAUTH Authentication required.")]);
        }
        if s.in_pubsub_mode() && !allowed_in_pubsub(&name) {
            return Ok(vec![reply::err(&format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                name.to_ascii_lowercase()
            ))]);
        }
        let fields = [
            ("mode", reply::bulk("sentinel")),
            ("role", reply::bulk("sentinel")),
        ];
        match common(s, args, &self.auth, HelloSupport::Full, &fields, false) {
            Common::Reply(v) => return Ok(vec![v]),
            Common::Replies(v) => return Ok(v),
            Common::NotMine => {}
        }
        let one = |v| Ok(vec![v]);
        match name.as_str() {
            "ROLE" => one(Value::Array(vec![
                reply::bulk("sentinel"),
                Value::Array(vec![reply::bulk(&self.service)]),
            ])),
            "SENTINEL" => {
                let sub = args.get(1).map(|a| upper(a)).unwrap_or_default();
                let svc = args.get(2);
                let known = svc.is_some_and(|n| n[..] == *self.service.as_bytes());
                match sub.as_str() {
                    "GET-MASTER-ADDR-BY-NAME" if args.len() == 3 => {
                        let addr = match &self.behavior {
                            _ if !known => return one(Value::Null),
                            Behavior::Honest => &self.master,
                            Behavior::Lies(a) => a,
                            Behavior::Unknown => return one(Value::Null),
                            Behavior::Garbage(g) => return Err(g.bytes()),
                        };
                        one(Value::Array(vec![
                            reply::bulk(&addr.host),
                            reply::bulk(addr.port.to_string()),
                        ]))
                    }
                    "REPLICAS" | "SLAVES" if args.len() == 3 => {
                        if !known {
                            return one(reply::err("ERR No such master with that name"));
                        }
                        one(Value::Array(
                            replicas.iter().map(|r| self.replica_entry(r)).collect(),
                        ))
                    }
                    "SENTINELS" if args.len() == 3 => {
                        if !known {
                            return one(reply::err("ERR No such master with that name"));
                        }
                        one(Value::Array(
                            peers
                                .iter()
                                .map(|p| {
                                    reply::map(vec![
                                        ("name", reply::bulk(&p.run_id)),
                                        ("ip", reply::bulk(&p.addr.host)),
                                        ("port", reply::bulk(p.addr.port.to_string())),
                                        ("runid", reply::bulk(&p.run_id)),
                                        (
                                            "flags",
                                            reply::bulk(if p.down {
                                                "s_down,sentinel"
                                            } else {
                                                "sentinel"
                                            }),
                                        ),
                                        ("link-pending-commands", reply::bulk("0")),
                                        ("last-hello-message", reply::bulk("512")),
                                        ("voted-leader", reply::bulk("?")),
                                        ("voted-leader-epoch", reply::bulk("0")),
                                    ])
                                })
                                .collect(),
                        ))
                    }
                    "MASTER" if args.len() == 3 => {
                        if !known || self.behavior == Behavior::Unknown {
                            return one(reply::err("ERR No such master with that name"));
                        }
                        one(self.master_entry(replicas.len(), peers.len()))
                    }
                    "MYID" => one(reply::bulk(&self.run_id)),
                    _ => one(reply::err(&format!(
                        "ERR Unknown sentinel subcommand '{}'",
                        sub.to_ascii_lowercase()
                    ))),
                }
            }
            _ => one(super::session::unknown(args)),
        }
    }

    /// The `SENTINEL MASTER` reply in Redis 7's field order (a map, flat in RESP2).
    fn master_entry(&self, replicas: usize, peers: usize) -> Value {
        let a = self.switching_from.as_ref().unwrap_or(&self.master);
        let state = self
            .failover_state
            .or(self.switching_from.as_ref().map(|_| "reconf_slaves"));
        let flags = if state.is_some() {
            "master,failover_in_progress"
        } else {
            "master"
        };
        let mut fields = vec![
            ("name", reply::bulk(&self.service)),
            ("ip", reply::bulk(&a.host)),
            ("port", reply::bulk(a.port.to_string())),
            ("runid", reply::bulk(format!("{:040x}", a.port))),
            ("flags", reply::bulk(flags)),
            ("link-pending-commands", reply::bulk("0")),
            ("link-refcount", reply::bulk("1")),
        ];
        // Redis lists the state right after `link-refcount`, only while a failover runs.
        if let Some(st) = state {
            fields.push(("failover-state", reply::bulk(st)));
        }
        fields.extend([
            ("last-ping-sent", reply::bulk("0")),
            ("last-ok-ping-reply", reply::bulk("112")),
            ("last-ping-reply", reply::bulk("112")),
            ("down-after-milliseconds", reply::bulk("5000")),
            ("info-refresh", reply::bulk("1234")),
            ("role-reported", reply::bulk("master")),
            ("role-reported-time", reply::bulk("123456")),
            ("config-epoch", reply::bulk(self.epoch.to_string())),
            ("num-slaves", reply::bulk(replicas.to_string())),
            ("num-other-sentinels", reply::bulk(peers.to_string())),
            ("quorum", reply::bulk("2")),
            ("failover-timeout", reply::bulk("180000")),
            ("parallel-syncs", reply::bulk("1")),
        ]);
        reply::map(fields)
    }

    /// One `SENTINEL replicas` entry in Redis 7's field order (a map, flat in RESP2).
    fn replica_entry(&self, r: &ReplicaInfo) -> Value {
        let flags = if r.down { "s_down,slave" } else { "slave" };
        reply::map(vec![
            (
                "name",
                reply::bulk(format!("{}:{}", r.addr.host, r.addr.port)),
            ),
            ("ip", reply::bulk(&r.addr.host)),
            ("port", reply::bulk(r.addr.port.to_string())),
            ("runid", reply::bulk(format!("{:040x}", r.addr.port))),
            ("flags", reply::bulk(flags)),
            ("link-pending-commands", reply::bulk("0")),
            ("link-refcount", reply::bulk("1")),
            ("last-ping-sent", reply::bulk("0")),
            ("last-ok-ping-reply", reply::bulk("112")),
            ("last-ping-reply", reply::bulk("112")),
            ("down-after-milliseconds", reply::bulk("5000")),
            ("info-refresh", reply::bulk("1234")),
            ("role-reported", reply::bulk("slave")),
            ("role-reported-time", reply::bulk("123456")),
            ("master-link-down-time", reply::bulk("0")),
            (
                "master-link-status",
                reply::bulk(if r.link_ok { "ok" } else { "err" }),
            ),
            ("master-host", reply::bulk(&self.master.host)),
            ("master-port", reply::bulk(self.master.port.to_string())),
            ("slave-priority", reply::bulk("100")),
            ("slave-repl-offset", reply::bulk(r.offset.to_string())),
            ("replica-announced", reply::bulk("1")),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn formats_match_redis() {
        let m = Addr::new("127.0.0.1", 6379);
        let r = Addr::new("127.0.0.1", 6380);
        assert_eq!(
            replica_details("mymaster", &r, &m),
            "slave 127.0.0.1:6380 127.0.0.1 6380 @ mymaster 127.0.0.1 6379"
        );
        assert_eq!(
            master_details("mymaster", &m),
            "master mymaster 127.0.0.1 6379"
        );
        assert_eq!(
            switch_master("mymaster", &m, &r),
            "mymaster 127.0.0.1 6379 127.0.0.1 6380"
        );
    }

    #[test]
    fn answers_queries_and_faults() {
        let mut sen = SimSentinel::new(
            Addr::new("127.0.0.1", 26379),
            0,
            "svc",
            Addr::new("127.0.0.1", 6379),
        );
        let mut s = Session {
            authed: true,
            ..Session::default()
        };
        let q = args(&["SENTINEL", "get-master-addr-by-name", "svc"]);
        assert_eq!(
            sen.execute(&mut s, &q, &[], &[]),
            Ok(vec![Value::Array(vec![
                reply::bulk("127.0.0.1"),
                reply::bulk("6379")
            ])])
        );
        sen.epoch = 7;
        let info = sen
            .execute(&mut s, &args(&["SENTINEL", "master", "svc"]), &[], &[])
            .unwrap();
        let Value::Map(fields) = &info[0] else {
            panic!("{info:?}")
        };
        assert_eq!(fields.len(), 20);
        assert!(fields.contains(&(reply::bulk("config-epoch"), reply::bulk("7"))));
        assert!(fields.contains(&(reply::bulk("flags"), reply::bulk("master"))));
        sen.failover_state = Some("send_slaveof_noone");
        let info = sen
            .execute(&mut s, &args(&["SENTINEL", "master", "svc"]), &[], &[])
            .unwrap();
        let Value::Map(fields) = &info[0] else {
            panic!("{info:?}")
        };
        assert_eq!(fields.len(), 21);
        assert_eq!(
            fields[4],
            (
                reply::bulk("flags"),
                reply::bulk("master,failover_in_progress")
            )
        );
        assert_eq!(
            fields[7],
            (
                reply::bulk("failover-state"),
                reply::bulk("send_slaveof_noone")
            )
        );
        sen.failover_state = None;
        assert!(fields.contains(&(reply::bulk("port"), reply::bulk("6379"))));
        assert!(matches!(
            &sen.execute(&mut s, &args(&["SENTINEL", "master", "nope"]), &[], &[])
                .unwrap()[0],
            Value::Error(_)
        ));
        let other = args(&["SENTINEL", "get-master-addr-by-name", "nope"]);
        assert_eq!(sen.execute(&mut s, &other, &[], &[]), Ok(vec![Value::Null]));
        sen.behavior = Behavior::Garbage(Garbage::NotResp);
        assert_eq!(
            sen.execute(&mut s, &q, &[], &[]),
            Err(Garbage::NotResp.bytes())
        );
        sen.behavior = Behavior::Lies(Addr::new("127.0.0.1", 7000));
        assert_eq!(
            sen.execute(&mut s, &q, &[], &[]),
            Ok(vec![Value::Array(vec![
                reply::bulk("127.0.0.1"),
                reply::bulk("7000")
            ])])
        );
        let reps = [ReplicaInfo {
            addr: Addr::new("127.0.0.1", 6380),
            down: false,
            link_ok: true,
            offset: 9,
        }];
        let out = sen
            .execute(&mut s, &args(&["SENTINEL", "replicas", "svc"]), &reps, &[])
            .unwrap();
        let Value::Array(list) = &out[0] else {
            panic!()
        };
        let Value::Map(fields) = &list[0] else {
            panic!()
        };
        assert_eq!(
            fields[0],
            (reply::bulk("name"), reply::bulk("127.0.0.1:6380"))
        );
        assert_eq!(fields.len(), 21);
    }
}
