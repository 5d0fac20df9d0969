//! A simulated Redis data node: keyspace, role, replication offset and backlog.

use super::session::{
    allowed_in_pubsub, allowed_unauthenticated, arity, common, upper, Common, Credentials,
    HelloSupport, Session,
};
use super::wire::reply;
use crate::sentinel::Addr;
use crate::Value;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Instant;

/// The exact error Redis sends for a write on a read-only replica.
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
/// The exact error Redis sends while it loads its dataset.
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// A node's role as the node itself sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeRole {
    /// Accepts writes.
    Master,
    /// Replicates from `of`; `link_up` is false when that master is unreachable.
    Replica {
        /// Its master.
        of: Addr,
        /// Whether the replication link is established.
        link_up: bool,
    },
}

/// One replicated write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` in `db` to `value`.
    Set {
        /// Database.
        db: u32,
        /// Key.
        key: Bytes,
        /// New value.
        value: Bytes,
    },
    /// Remove `key` from `db`.
    Del {
        /// Database.
        db: u32,
        /// Key.
        key: Bytes,
    },
    /// The writes of one `EXEC`, replicated as one entry so a replica never holds half of it.
    Multi(Vec<WriteOp>),
}

/// Per-node knobs.
#[derive(Clone, Debug, Default)]
pub struct NodeOptions {
    /// Password (and ACL user) required before commands.
    pub auth: Option<Credentials>,
    /// How `HELLO` is answered.
    pub hello: HelloSupport,
}

/// Side effects of a command the world must carry out.
#[derive(Debug, PartialEq)]
pub enum NodeEffect {
    /// Deliver a publication to this node's subscribers.
    Publish {
        /// Channel.
        channel: Bytes,
        /// Payload.
        message: Bytes,
    },
    /// `REPLICAOF` was executed: the world resynchronises the node.
    ReplicaOf(Option<Addr>),
}

/// A simulated Redis server holding data.
#[derive(Debug)]
pub struct DataNode {
    /// Where it listens.
    pub addr: Addr,
    /// Its current role.
    pub role: NodeRole,
    /// Keyspace: (db, key) to value.
    pub data: BTreeMap<(u32, Bytes), Bytes>,
    /// Replication offset: number of writes applied.
    pub offset: u64,
    /// Writes applied while master, with their time: entry `i` has offset `backlog_base + i + 1`.
    pub backlog: Vec<(Instant, WriteOp)>,
    /// Offset before the first backlog entry.
    pub backlog_base: u64,
    /// Options.
    pub options: NodeOptions,
    /// `-LOADING` replies until this time.
    pub loading_until: Option<Instant>,
    /// Processing stops until this time (SIGSTOP / `DEBUG SLEEP`).
    pub paused_until: Option<Instant>,
    /// Count of writes executed (acknowledged) per (db, key) while master, for reports.
    pub writes_executed: u64,
    /// How many times a client's command wrote each (db, key) on this node (replication not
    /// counted, and kept when a resync discards the data): what ran where, for the checker.
    pub executed: BTreeMap<(u32, Bytes), u32>,
    /// While `EXEC` runs: its writes, replicated as one [`WriteOp::Multi`] when it ends.
    pub(super) exec_ops: Option<Vec<WriteOp>>,
    /// Transactions `EXEC` discarded while the node was a replica, for reports.
    pub discarded_as_replica: u64,
}

impl DataNode {
    /// A node at `addr` in `role` with an empty keyspace.
    pub fn new(addr: Addr, role: NodeRole, options: NodeOptions) -> DataNode {
        DataNode {
            addr,
            role,
            data: BTreeMap::new(),
            offset: 0,
            backlog: Vec::new(),
            backlog_base: 0,
            options,
            loading_until: None,
            paused_until: None,
            writes_executed: 0,
            executed: BTreeMap::new(),
            exec_ops: None,
            discarded_as_replica: 0,
        }
    }

    /// True while the node accepts writes.
    pub fn is_master(&self) -> bool {
        self.role == NodeRole::Master
    }

    /// True while paused at `now`.
    pub fn is_paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|t| now < t)
    }

    /// The value of `key` in `db`.
    pub fn get(&self, db: u32, key: &[u8]) -> Option<&Bytes> {
        self.data.get(&(db, Bytes::copy_from_slice(key)))
    }

    /// Applies a write to the keyspace and bumps the offset (no backlog entry).
    pub fn apply(&mut self, op: &WriteOp) {
        self.apply_data(op);
        self.offset += 1;
    }

    fn apply_data(&mut self, op: &WriteOp) {
        match op {
            WriteOp::Set { db, key, value } => {
                self.data.insert((*db, key.clone()), value.clone());
            }
            WriteOp::Del { db, key } => {
                self.data.remove(&(*db, key.clone()));
            }
            WriteOp::Multi(ops) => ops.iter().for_each(|op| self.apply_data(op)),
        }
    }

    /// A client's command writes: applied now, and replicated on its own or, inside `EXEC`,
    /// with the rest of the transaction.
    fn write(&mut self, op: WriteOp, now: Instant) {
        if let WriteOp::Set { db, key, .. } | WriteOp::Del { db, key } = &op {
            *self.executed.entry((*db, key.clone())).or_default() += 1;
        }
        self.writes_executed += 1;
        self.apply_data(&op);
        match &mut self.exec_ops {
            Some(ops) => ops.push(op),
            None => {
                self.offset += 1;
                self.backlog.push((now, op));
            }
        }
    }

    /// Ends an `EXEC`: its writes become one replication entry.
    pub(super) fn end_exec(&mut self, now: Instant) {
        let ops = self.exec_ops.take().unwrap_or_default();
        if !ops.is_empty() {
            self.offset += 1;
            self.backlog.push((now, WriteOp::Multi(ops)));
        }
    }

    /// True while it answers `-LOADING`.
    pub fn is_loading(&self, now: Instant) -> bool {
        self.loading_until.is_some_and(|t| now < t)
    }

    /// The backlog entry that follows offset `after`, if this node still has it.
    pub fn backlog_after(&self, after: u64) -> Option<&(Instant, WriteOp)> {
        let idx = after.checked_sub(self.backlog_base)?;
        self.backlog.get(idx as usize)
    }

    /// Becomes a master keeping its data (`REPLICAOF NO ONE`).
    pub fn promote(&mut self) {
        self.role = NodeRole::Master;
        self.backlog.clear();
        self.backlog_base = self.offset;
    }

    /// Becomes a replica of `master` after a full resynchronisation: local data is discarded.
    pub fn full_resync_from(&mut self, master: &DataNode) {
        self.data = master.data.clone();
        self.offset = master.offset;
        self.backlog.clear();
        self.backlog_base = self.offset;
        self.role = NodeRole::Replica {
            of: master.addr.clone(),
            link_up: true,
        };
    }

    /// Fields of the `HELLO` reply specific to a data node.
    fn hello_fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("mode", reply::bulk("standalone")),
            (
                "role",
                reply::bulk(if self.is_master() {
                    "master"
                } else {
                    "replica"
                }),
            ),
        ]
    }

    /// The `ROLE` reply.
    pub fn role_reply(&self, replicas: &[(Addr, u64)]) -> Value {
        match &self.role {
            NodeRole::Master => Value::Array(vec![
                reply::bulk("master"),
                Value::Integer(self.offset as i64),
                Value::Array(
                    replicas
                        .iter()
                        .map(|(a, off)| {
                            Value::Array(vec![
                                reply::bulk(&a.host),
                                reply::bulk(a.port.to_string()),
                                reply::bulk(off.to_string()),
                            ])
                        })
                        .collect(),
                ),
            ]),
            NodeRole::Replica { of, link_up } => Value::Array(vec![
                reply::bulk("slave"),
                reply::bulk(&of.host),
                Value::Integer(of.port as i64),
                reply::bulk(if *link_up { "connected" } else { "connect" }),
                Value::Integer(self.offset as i64),
            ]),
        }
    }

    /// Executes one command for a client session at `now`: runs it, or, between `MULTI` and
    /// `EXEC`, queues it (see [`multi`](super::multi)).
    ///
    /// `replicas` lists this node's replicas for `ROLE`. Returns the replies (usually one) and
    /// the effects the world must apply.
    pub fn execute(
        &mut self,
        s: &mut Session,
        args: &[Bytes],
        replicas: &[(Addr, u64)],
        now: Instant,
    ) -> (Vec<Value>, Option<NodeEffect>) {
        let name = upper(&args[0]);
        let one = |v| (vec![v], None);
        if !s.authed && !allowed_unauthenticated(&name) {
            return one(reply::err("NOAUTH Authentication required."));
        }
        if s.in_pubsub_mode() && !allowed_in_pubsub(&name) {
            return one(reply::err(&format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                name.to_ascii_lowercase()
            )));
        }
        if let Some(replies) = self.transaction(s, &name, args, replicas, now) {
            return (replies, None);
        }
        self.run(s, args, replicas, now)
    }

    /// Runs one command that passed the connection's checks (authentication, subscribed mode)
    /// and is not queued in a transaction; `EXEC` runs its queued commands through it.
    pub(super) fn run(
        &mut self,
        s: &mut Session,
        args: &[Bytes],
        replicas: &[(Addr, u64)],
        now: Instant,
    ) -> (Vec<Value>, Option<NodeEffect>) {
        let name = upper(&args[0]);
        let one = |v| (vec![v], None);
        let loading = self.is_loading(now);
        let fields = self.hello_fields();
        match common(
            s,
            args,
            &self.options.auth,
            self.options.hello,
            &fields,
            true,
        ) {
            Common::Reply(v) => return one(v),
            Common::Replies(v) => return (v, None),
            Common::NotMine => {}
        }
        if loading && !matches!(name.as_str(), "ROLE" | "INFO") {
            return one(reply::err(LOADING));
        }
        let db = s.db;
        match name.as_str() {
            "ROLE" => one(self.role_reply(replicas)),
            "INFO" => {
                let role = if self.is_master() { "master" } else { "slave" };
                let text = format!(
                    "# Replication\r\nrole:{role}\r\nmaster_repl_offset:{}\r\nloading:{}\r\n",
                    self.offset,
                    u8::from(loading)
                );
                one(reply::bulk(text))
            }
            "GET" => match args.get(1) {
                Some(k) if args.len() == 2 => one(self
                    .get(db, k)
                    .cloned()
                    .map_or(Value::Null, |b| Value::Bulk(b.into()))),
                _ => one(arity(&name)),
            },
            "SET" | "INCR" | "INCRBY" | "DECR" | "DEL" if !self.is_master() => {
                one(reply::err(super::node::READONLY))
            }
            "SET" => {
                if args.len() < 3 {
                    return one(arity(&name));
                }
                self.write(
                    WriteOp::Set {
                        db,
                        key: args[1].clone(),
                        value: args[2].clone(),
                    },
                    now,
                );
                one(reply::ok())
            }
            "INCR" | "INCRBY" | "DECR" => {
                let by = match (name.as_str(), args.len()) {
                    ("INCR", 2) => Some(1),
                    ("DECR", 2) => Some(-1),
                    ("INCRBY", 3) => std::str::from_utf8(&args[2])
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok()),
                    _ => return one(arity(&name)),
                };
                let current = match self.get(db, &args[1]) {
                    None => Some(0),
                    Some(v) => std::str::from_utf8(v)
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok()),
                };
                let Some(next) = by.zip(current).and_then(|(b, c)| c.checked_add(b)) else {
                    return one(reply::err("ERR value is not an integer or out of range"));
                };
                self.write(
                    WriteOp::Set {
                        db,
                        key: args[1].clone(),
                        value: Bytes::from(next.to_string()),
                    },
                    now,
                );
                one(Value::Integer(next))
            }
            "DEL" => {
                if args.len() < 2 {
                    return one(arity(&name));
                }
                let mut n = 0;
                for k in &args[1..] {
                    if self.get(db, k).is_some() {
                        n += 1;
                        self.write(WriteOp::Del { db, key: k.clone() }, now);
                    }
                }
                one(Value::Integer(n))
            }
            "PUBLISH" => match (args.get(1), args.get(2)) {
                (Some(c), Some(m)) if args.len() == 3 => (
                    // The world replaces the count with the real number of receivers.
                    vec![Value::Integer(0)],
                    Some(NodeEffect::Publish {
                        channel: c.clone(),
                        message: m.clone(),
                    }),
                ),
                _ => one(arity(&name)),
            },
            "REPLICAOF" | "SLAVEOF" => {
                let (Some(h), Some(p)) = (args.get(1), args.get(2)) else {
                    return one(arity(&name));
                };
                if upper(h) == "NO" && upper(p) == "ONE" {
                    return (vec![reply::ok()], Some(NodeEffect::ReplicaOf(None)));
                }
                let port = std::str::from_utf8(p)
                    .ok()
                    .and_then(|t| t.parse::<u16>().ok());
                match port {
                    Some(port) if port > 0 => (
                        vec![reply::ok()],
                        Some(NodeEffect::ReplicaOf(Some(Addr::new(
                            String::from_utf8_lossy(h).into_owned(),
                            port,
                        )))),
                    ),
                    _ => one(reply::err("ERR Invalid master port")),
                }
            }
            _ => one(super::session::unknown(args)),
        }
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
    fn master_writes_replica_refuses() {
        let now = Instant::now();
        let mut m = DataNode::new(
            Addr::new("127.0.0.1", 6379),
            NodeRole::Master,
            NodeOptions::default(),
        );
        let mut s = Session {
            authed: true,
            ..Session::default()
        };
        let (r, _) = m.execute(&mut s, &args(&["INCRBY", "k", "5"]), &[], now);
        assert_eq!(r, vec![Value::Integer(5)]);
        let (r, _) = m.execute(&mut s, &args(&["INCR", "k"]), &[], now);
        assert_eq!(r, vec![Value::Integer(6)]);
        assert_eq!(m.offset, 2);
        assert_eq!(m.backlog.len(), 2);

        let mut rep = DataNode::new(
            Addr::new("127.0.0.1", 6380),
            NodeRole::Replica {
                of: m.addr.clone(),
                link_up: true,
            },
            NodeOptions::default(),
        );
        rep.full_resync_from(&m);
        assert_eq!(rep.get(0, b"k").map(|v| &v[..]), Some(&b"6"[..]));
        let (r, _) = rep.execute(&mut s, &args(&["SET", "k", "1"]), &[], now);
        assert_eq!(r, vec![reply::err(READONLY)]);
        let (r, _) = rep.execute(&mut s, &args(&["ROLE"]), &[], now);
        assert!(matches!(&r[0], Value::Array(a) if a[0] == reply::bulk("slave")));
        let (r, _) = rep.execute(&mut s, &args(&["SELECT", "3"]), &[], now);
        assert_eq!(r, vec![reply::ok()]);
        let (r, _) = rep.execute(&mut s, &args(&["GET", "k"]), &[], now);
        assert_eq!(r, vec![Value::Null], "db 3 is empty");
    }

    #[test]
    fn loading_and_noauth() {
        let now = Instant::now();
        let mut n = DataNode::new(
            Addr::new("127.0.0.1", 6379),
            NodeRole::Master,
            NodeOptions {
                auth: Some(Credentials::password("pw")),
                hello: HelloSupport::Full,
            },
        );
        let mut s = Session::default();
        let (r, _) = n.execute(&mut s, &args(&["GET", "k"]), &[], now);
        assert_eq!(r, vec![reply::err("NOAUTH Authentication required.")]);
        let (r, _) = n.execute(&mut s, &args(&["AUTH", "pw"]), &[], now);
        assert_eq!(r, vec![reply::ok()]);
        n.loading_until = Some(now + std::time::Duration::from_secs(1));
        let (r, _) = n.execute(&mut s, &args(&["GET", "k"]), &[], now);
        assert_eq!(r, vec![reply::err(LOADING)]);
        let (r, _) = n.execute(&mut s, &args(&["ROLE"]), &[], now);
        assert!(matches!(&r[0], Value::Array(_)));
    }
}
