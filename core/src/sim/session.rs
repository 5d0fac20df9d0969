//! Per-connection server state shared by simulated data nodes and sentinels.

use super::wire::reply;
use crate::Value;
use bytes::Bytes;
use std::collections::BTreeSet;

pub use crate::sentinel::Credentials;

/// How a server answers `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HelloSupport {
    /// Redis 6+: `HELLO 2` and `HELLO 3`.
    #[default]
    Full,
    /// Knows `HELLO` but refuses protocol 3 with `-NOPROTO`.
    NoProto,
    /// Redis 5 and older: `HELLO` is an unknown command.
    Unknown,
}

/// What the server knows about one client connection.
#[derive(Debug, Default)]
pub struct Session {
    /// The connection speaks RESP3 (after `HELLO 3`).
    pub resp3: bool,
    /// `AUTH` (or `HELLO ... AUTH`) succeeded, or no password is required.
    pub authed: bool,
    /// Selected database.
    pub db: u32,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// Channels subscribed with `SUBSCRIBE`.
    pub channels: BTreeSet<Bytes>,
    /// Patterns subscribed with `PSUBSCRIBE`.
    pub patterns: BTreeSet<Bytes>,
    /// Set by `QUIT`: the server closes after replying.
    pub quit: bool,
    /// Inside `MULTI`: the commands queued so far (see [`multi`](super::multi)).
    pub multi: Option<Multi>,
}

/// A transaction being queued on one connection, between `MULTI` and `EXEC` / `DISCARD`.
#[derive(Debug, Default)]
pub struct Multi {
    /// Commands accepted with `+QUEUED`, in order.
    pub queued: Vec<Vec<Bytes>>,
    /// A command was refused at queue time: `EXEC` discards the transaction (`-EXECABORT`).
    pub dirty: bool,
}

impl Session {
    /// True in RESP2 subscribed mode, where only a few commands are allowed.
    pub fn in_pubsub_mode(&self) -> bool {
        let subscribed = !(self.channels.is_empty() && self.patterns.is_empty());
        !self.resp3 && subscribed
    }

    /// Subscription count as Redis reports it.
    pub fn sub_count(&self) -> i64 {
        (self.channels.len() + self.patterns.len()) as i64
    }
}

/// Outcome of a connection-level command both kinds of server handle the same way.
pub enum Common {
    /// The command was handled; send this reply.
    Reply(Value),
    /// Several replies (e.g. `SUBSCRIBE a b`).
    Replies(Vec<Value>),
    /// Not a connection-level command.
    NotMine,
}

/// Upper-cased command name.
pub fn upper(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_ascii_uppercase()
}

/// The standard unknown-command error.
pub fn unknown(args: &[Bytes]) -> Value {
    let name = args
        .first()
        .map(|n| String::from_utf8_lossy(n).into_owned());
    reply::err(&format!(
        "ERR unknown command '{}', with args beginning with: ",
        name.unwrap_or_default()
    ))
}

/// The standard wrong-arity error.
pub fn arity(name: &str) -> Value {
    reply::err(&format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

fn check_auth(
    required: &Option<Credentials>,
    user: Option<&[u8]>,
    pass: &[u8],
) -> Result<(), Value> {
    match required {
        None => Err(reply::err(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        )),
        Some(c) => {
            let user_ok = match (&c.username, user) {
                (None, None) => true,
                (None, Some(u)) => u == b"default",
                (Some(cu), Some(u)) => cu.as_bytes() == u,
                (Some(_), None) => false,
            };
            if user_ok && c.password.as_bytes() == pass {
                Ok(())
            } else {
                Err(reply::err(
                    "WRONGPASS invalid username-password pair or user is disabled.",
                ))
            }
        }
    }
}

/// Commands that need no authentication.
pub fn allowed_unauthenticated(name: &str) -> bool {
    matches!(name, "AUTH" | "HELLO" | "QUIT")
}

/// Handles AUTH, HELLO, PING, ECHO, SELECT, CLIENT, QUIT, (P)(UN)SUBSCRIBE.
///
/// `hello_fields` supplies the server-specific part of the `HELLO` map (mode, role).
pub fn common(
    s: &mut Session,
    args: &[Bytes],
    required: &Option<Credentials>,
    hello: HelloSupport,
    hello_fields: &[(&str, Value)],
    selectable: bool,
) -> Common {
    let name = upper(&args[0]);
    let r = |v| Common::Reply(v);
    match name.as_str() {
        "PING" => {
            if s.in_pubsub_mode() {
                let msg = args.get(1).cloned().unwrap_or_default();
                r(Value::Array(vec![
                    reply::bulk("pong"),
                    Value::Bulk(msg.into()),
                ]))
            } else if let Some(m) = args.get(1) {
                r(Value::Bulk(m.clone().into()))
            } else {
                r(reply::simple("PONG"))
            }
        }
        "ECHO" => match args.get(1) {
            Some(m) if args.len() == 2 => r(Value::Bulk(m.clone().into())),
            _ => r(arity(&name)),
        },
        "QUIT" => {
            s.quit = true;
            r(reply::ok())
        }
        "AUTH" => {
            let res = match args.len() {
                2 => check_auth(required, None, &args[1]),
                3 => check_auth(required, Some(&args[1]), &args[2]),
                _ => return r(arity(&name)),
            };
            match res {
                Ok(()) => {
                    s.authed = true;
                    r(reply::ok())
                }
                Err(e) => r(e),
            }
        }
        "HELLO" => {
            if hello == HelloSupport::Unknown {
                return r(unknown(args));
            }
            let mut i = 1;
            let mut proto = if s.resp3 { 3 } else { 2 };
            if let Some(v) = args.get(1) {
                match std::str::from_utf8(v)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                {
                    Some(p @ (2 | 3)) => proto = p,
                    Some(_) => return r(reply::err("NOPROTO unsupported protocol version")),
                    None => {
                        return r(reply::err(
                            "ERR Protocol version is not an integer or out of range",
                        ))
                    }
                }
                i = 2;
            }
            if proto == 3 && hello == HelloSupport::NoProto {
                return r(reply::err("NOPROTO unsupported protocol version"));
            }
            let mut authed_now = false;
            let mut setname = None;
            while i < args.len() {
                match upper(&args[i]).as_str() {
                    "AUTH" if i + 2 < args.len() => {
                        if let Err(e) = check_auth(required, Some(&args[i + 1]), &args[i + 2]) {
                            return r(e);
                        }
                        authed_now = true;
                        i += 3;
                    }
                    "SETNAME" if i + 1 < args.len() => {
                        setname = Some(args[i + 1].clone());
                        i += 2;
                    }
                    _ => return r(reply::err("ERR Syntax error in HELLO option")),
                }
            }
            if !s.authed && !authed_now {
                return r(reply::err(
                    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
                ));
            }
            s.authed = true;
            if setname.is_some() {
                s.name = setname;
            }
            s.resp3 = proto == 3;
            let mut pairs = vec![
                ("server", reply::bulk("redis")),
                ("version", reply::bulk("7.2.4")),
                ("proto", Value::Integer(proto)),
                ("id", Value::Integer(7)),
            ];
            pairs.extend(hello_fields.iter().cloned());
            pairs.push(("modules", Value::Array(vec![])));
            r(reply::map(pairs))
        }
        "SELECT" => {
            if !selectable {
                return r(unknown(args));
            }
            let Some(db) = args
                .get(1)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<u32>().ok())
            else {
                return r(reply::err("ERR value is not an integer or out of range"));
            };
            if db >= 16 {
                return r(reply::err("ERR DB index is out of range"));
            }
            s.db = db;
            r(reply::ok())
        }
        "CLIENT" => match args.get(1).map(|a| upper(a)).as_deref() {
            Some("SETNAME") if args.len() == 3 => {
                s.name = Some(args[2].clone());
                r(reply::ok())
            }
            Some("GETNAME") => r(s
                .name
                .clone()
                .map(|b| Value::Bulk(b.into()))
                .unwrap_or(Value::Null)),
            Some("ID") => r(Value::Integer(7)),
            Some("SETINFO") => r(reply::ok()),
            _ => r(reply::err(
                "ERR unknown subcommand or wrong number of arguments for 'CLIENT'",
            )),
        },
        "SUBSCRIBE" | "PSUBSCRIBE" | "UNSUBSCRIBE" | "PUNSUBSCRIBE" => {
            let pattern = name.starts_with('P');
            let sub = !name.contains("UNSUB");
            let kind = name.to_ascii_lowercase();
            if sub && args.len() < 2 {
                return r(arity(&name));
            }
            let mut targets: Vec<Bytes> = args[1..].to_vec();
            if !sub && targets.is_empty() {
                let set = if pattern { &s.patterns } else { &s.channels };
                targets = set.iter().cloned().collect();
            }
            let mut out = Vec::new();
            for t in targets {
                let set = if pattern {
                    &mut s.patterns
                } else {
                    &mut s.channels
                };
                if sub {
                    set.insert(t.clone());
                } else {
                    set.remove(&t);
                }
                let items = vec![
                    reply::bulk(&kind),
                    Value::Bulk(t.into()),
                    Value::Integer(s.sub_count()),
                ];
                out.push(if s.resp3 {
                    Value::Push(items)
                } else {
                    Value::Array(items)
                });
            }
            if out.is_empty() {
                let items = vec![reply::bulk(&kind), Value::Null, Value::Integer(0)];
                out.push(if s.resp3 {
                    Value::Push(items)
                } else {
                    Value::Array(items)
                });
            }
            Common::Replies(out)
        }
        _ => Common::NotMine,
    }
}

/// True when a RESP2 subscriber may run this command.
pub fn allowed_in_pubsub(name: &str) -> bool {
    matches!(
        name,
        "SUBSCRIBE" | "PSUBSCRIBE" | "UNSUBSCRIBE" | "PUNSUBSCRIBE" | "PING" | "QUIT" | "RESET"
    )
}

/// Glob match supporting `*` and `?`, enough for `PSUBSCRIBE *` and `+*`.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// The messages a session receives for a publication on `channel`, in its protocol.
pub fn deliveries(s: &Session, channel: &[u8], msg: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    let wrap = |items: Vec<Value>| {
        if s.resp3 {
            Value::Push(items)
        } else {
            Value::Array(items)
        }
    };
    if s.channels.contains(channel) {
        out.push(wrap(vec![
            reply::bulk("message"),
            reply::bulk(channel),
            reply::bulk(msg),
        ]));
    }
    for p in &s.patterns {
        if glob(p, channel) {
            out.push(wrap(vec![
                reply::bulk("pmessage"),
                Value::Bulk(p.clone().into()),
                reply::bulk(channel),
                reply::bulk(msg),
            ]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob(b"*", b"+switch-master"));
        assert!(glob(b"+s*", b"+sdown"));
        assert!(!glob(b"+s*", b"-sdown"));
        assert!(glob(b"a?c", b"abc"));
        assert!(!glob(b"abc", b"abcd"));
    }

    #[test]
    fn hello_and_auth() {
        let creds = Some(Credentials::user("app", "pw"));
        let mut s = Session::default();
        let args = |v: &[&str]| {
            v.iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect::<Vec<_>>()
        };
        let Common::Reply(e) = common(
            &mut s,
            &args(&["HELLO", "3"]),
            &creds,
            HelloSupport::Full,
            &[],
            true,
        ) else {
            panic!()
        };
        assert!(matches!(e, Value::Error(ref m) if m.starts_with(b"NOAUTH")));
        let Common::Reply(e) = common(
            &mut s,
            &args(&["AUTH", "app", "bad"]),
            &creds,
            HelloSupport::Full,
            &[],
            true,
        ) else {
            panic!()
        };
        assert!(matches!(e, Value::Error(ref m) if m.starts_with(b"WRONGPASS")));
        let Common::Reply(m) = common(
            &mut s,
            &args(&["HELLO", "3", "AUTH", "app", "pw"]),
            &creds,
            HelloSupport::Full,
            &[],
            true,
        ) else {
            panic!()
        };
        assert!(matches!(m, Value::Map(_)));
        assert!(s.resp3 && s.authed);
        let mut s2 = Session::default();
        let Common::Reply(e) = common(
            &mut s2,
            &args(&["HELLO", "3"]),
            &None,
            HelloSupport::NoProto,
            &[],
            true,
        ) else {
            panic!()
        };
        assert!(matches!(e, Value::Error(ref m) if m.starts_with(b"NOPROTO")));
        assert!(!s2.resp3);
    }
}
