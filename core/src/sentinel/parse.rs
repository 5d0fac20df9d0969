//! Reading server replies: addresses, `ROLE`, `SENTINEL replicas|sentinels` entries, errors.
//!
//! Everything here is total: any value (garbage included) gives `Ok` or a short description.

use super::interface::Addr;
use crate::Value;
use std::time::Duration;

/// The bytes of a string-like value.
pub(crate) fn text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::SimpleString(b) | Value::Bulk(b) | Value::Verbatim { text: b, .. } => Some(b),
        Value::Attributed { value, .. } => text(value),
        _ => None,
    }
}

/// The elements of an array-like value.
pub(crate) fn items(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) | Value::Set(a) | Value::Push(a) => Some(a),
        Value::Attributed { value, .. } => items(value),
        _ => None,
    }
}

/// The text of an error reply.
pub(crate) fn error_text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Error(b) | Value::BlobError(b) => Some(b),
        _ => None,
    }
}

/// True when the error reply's first word is `code` (e.g. `READONLY`).
pub(crate) fn error_is(v: &Value, code: &str) -> bool {
    error_text(v).is_some_and(|e| {
        e.len() >= code.len()
            && e[..code.len()].eq_ignore_ascii_case(code.as_bytes())
            && e.get(code.len()).is_none_or(|b| *b == b' ')
    })
}

/// The address of a `REDIRECT host:port` error text (Valkey 8+, on a connection that declared
/// `CLIENT CAPA redirect`); `None` for any other text or an unreadable address.
pub(crate) fn redirect_hint(e: &[u8]) -> Option<Addr> {
    let code = b"REDIRECT ";
    if e.len() <= code.len() || !e[..code.len()].eq_ignore_ascii_case(code) {
        return None;
    }
    let rest = std::str::from_utf8(&e[code.len()..]).ok()?;
    let word = rest.split_ascii_whitespace().next()?;
    let a: Addr = word.parse().ok()?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    (a.host.len() <= 253 && a.host.chars().all(plain)).then_some(a)
}

/// Key/value pairs of a RESP3 map or of a RESP2 flat array with string keys.
pub(crate) fn pairs(v: &Value) -> Option<Vec<(&[u8], &Value)>> {
    match v {
        Value::Map(m) => m.iter().map(|(k, v)| Some((text(k)?, v))).collect(),
        _ => {
            let a = items(v)?;
            if a.len() % 2 != 0 {
                return None;
            }
            a.chunks_exact(2)
                .map(|kv| Some((text(&kv[0])?, &kv[1])))
                .collect()
        }
    }
}

/// Most bytes of a server's text quoted in an error or event.
const SHOW_MAX: usize = 120;

/// A short, escaped prefix of a server's text for error messages: printable ASCII as it is,
/// control characters and other bytes escaped (`\x1b`, `\r`...), at most [`SHOW_MAX`] bytes
/// of the original, so a hostile server can neither flood a log line nor forge one.
pub(crate) fn show(b: &[u8]) -> String {
    let cut = &b[..b.len().min(SHOW_MAX)];
    let mut s = cut.escape_ascii().to_string();
    if b.len() > SHOW_MAX {
        s.push_str("...");
    }
    s
}

/// A short description of a value for error messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Error(e) | Value::BlobError(e) => format!("error reply `{}`", show(e)),
        Value::Null => "null".into(),
        Value::Array(a) => format!("array of {}", a.len()),
        Value::Integer(i) => format!("integer {i}"),
        other => match text(other) {
            Some(t) => format!("string `{}`", show(t)),
            None => "unexpected reply type".into(),
        },
    }
}

fn parse_port(v: &Value) -> Option<u16> {
    let p = match v {
        Value::Integer(i) => u16::try_from(*i).ok()?,
        other => std::str::from_utf8(text(other)?)
            .ok()?
            .parse::<u16>()
            .ok()?,
    };
    (p != 0).then_some(p)
}

fn parse_host(v: &Value) -> Option<String> {
    let h = std::str::from_utf8(text(v)?).ok()?;
    (!h.is_empty() && !h.contains(char::is_whitespace)).then(|| h.to_string())
}

/// A `get-master-addr-by-name` reply: `Ok(None)` for null (unknown service).
pub(crate) fn master_addr(v: &Value) -> Result<Option<Addr>, String> {
    if matches!(v, Value::Null) {
        return Ok(None);
    }
    if let Some(e) = error_text(v) {
        return Err(format!("error reply `{}`", show(e)));
    }
    let a = items(v).ok_or_else(|| format!("not an address: {}", describe(v)))?;
    if a.len() != 2 {
        return Err(format!("address with {} elements, expected 2", a.len()));
    }
    let host = parse_host(&a[0]).ok_or("invalid host in address")?;
    let port = parse_port(&a[1]).ok_or("port not in 1-65535")?;
    Ok(Some(Addr::new(host, port)))
}

/// The `config-epoch` field of a `SENTINEL MASTER` reply; `None` for anything else.
pub(crate) fn config_epoch(v: &Value) -> Option<u64> {
    let kv = pairs(v)?;
    let (_, e) = kv.iter().find(|(k, _)| *k == b"config-epoch")?;
    match e {
        Value::Integer(i) => u64::try_from(*i).ok(),
        other => std::str::from_utf8(text(other)?).ok()?.parse().ok(),
    }
}

/// What a `SENTINEL MASTER` reply says about a failover of that master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FailoverState {
    /// No `flags` field could be read (error reply, garbage): the sentinel did not say.
    Unknown,
    /// No `failover_in_progress` flag, and no `failover-state` other than `none`.
    Idle,
    /// A failover runs: its `failover-state` (or the flag, when the state is missing).
    InProgress(String),
}

/// The failover fields of a `SENTINEL MASTER` reply: the `failover_in_progress` flag and the
/// `failover-state` field (Redis lists it only while the flag is set).
pub(crate) fn failover_state(v: &Value) -> FailoverState {
    let Some(kv) = pairs(v) else {
        return FailoverState::Unknown;
    };
    let get = |k: &[u8]| kv.iter().find(|(key, _)| *key == k).and_then(|p| text(p.1));
    let Some(flags) = get(b"flags") else {
        return FailoverState::Unknown;
    };
    let flagged = flags
        .split(|b| *b == b',')
        .any(|f| f == b"failover_in_progress");
    match get(b"failover-state") {
        Some(st) if !st.is_empty() && st != b"none" => FailoverState::InProgress(show(st)),
        _ if flagged => FailoverState::InProgress("failover_in_progress".into()),
        _ => FailoverState::Idle,
    }
}

/// The `failover-timeout` field (milliseconds) of a `SENTINEL MASTER` reply.
pub(crate) fn failover_timeout(v: &Value) -> Option<Duration> {
    let kv = pairs(v)?;
    let (_, t) = kv.iter().find(|(k, _)| *k == b"failover-timeout")?;
    let ms: u64 = match t {
        Value::Integer(i) => u64::try_from(*i).ok()?,
        other => std::str::from_utf8(text(other)?).ok()?.parse().ok()?,
    };
    Some(Duration::from_millis(ms))
}

/// What `ROLE` said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RoleReply {
    Master,
    Replica,
    Other(String),
}

pub(crate) fn role(v: &Value) -> RoleReply {
    let first = items(v).and_then(|a| a.first()).and_then(text);
    match first {
        Some(b"master") | Some(b"primary") => RoleReply::Master,
        Some(b"slave") | Some(b"replica") => RoleReply::Replica,
        Some(other) => RoleReply::Other(show(other)),
        None => RoleReply::Other(describe(v)),
    }
}

/// One entry of a `SENTINEL replicas` or `SENTINEL sentinels` reply: the fields the client
/// rules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Its address (`ip`, `port`).
    pub addr: Addr,
    /// Its `flags` field as sent, e.g. `slave,s_down`.
    pub flags: String,
    /// `master-link-status` is `ok` (replicas only).
    pub link_ok: bool,
}

impl Instance {
    /// Entries of a `SENTINEL replicas|sentinels` reply; malformed entries are skipped, an
    /// error reply or a non-list is described.
    pub fn parse_list(v: &Value) -> Result<Vec<Instance>, String> {
        instances(v)
    }

    /// A replica clients may read from: up, and its link to the master `ok`. The one rule
    /// for choosing replicas, used by the machine, one-shot discovery and the CLI.
    pub fn usable(&self) -> bool {
        self.up() && self.link_ok
    }

    /// Not flagged down or disconnected.
    pub fn up(&self) -> bool {
        !self
            .flags
            .split(',')
            .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
    }
}

/// Entries of a `SENTINEL replicas|sentinels` reply; malformed entries are skipped.
pub(crate) fn instances(v: &Value) -> Result<Vec<Instance>, String> {
    if let Some(e) = error_text(v) {
        return Err(format!("error reply `{}`", show(e)));
    }
    let list = items(v).ok_or_else(|| format!("not a list: {}", describe(v)))?;
    let mut out = Vec::new();
    for entry in list {
        let Some(kv) = pairs(entry) else { continue };
        let get = |k: &str| kv.iter().find(|(key, _)| *key == k.as_bytes()).map(|p| p.1);
        let (Some(ip), Some(port)) = (get("ip").and_then(parse_host), get("port")) else {
            continue;
        };
        let Some(port) = parse_port(port) else {
            continue;
        };
        let flags = get("flags")
            .and_then(text)
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .unwrap_or_default();
        // Valkey 9.1 still sends `master-link-status`; `primary-link-status` is the spelling
        // Valkey's renaming (`PRIMARY`, `primary-*` config) would give it: both are read.
        let link_ok = get("master-link-status")
            .or_else(|| get("primary-link-status"))
            .and_then(text)
            == Some(b"ok");
        out.push(Instance {
            addr: Addr::new(ip, port),
            flags,
            link_ok,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::Bulk(crate::ByteStr::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn master_addr_cases() {
        let ok = Value::Array(vec![b("10.0.0.1"), b("6379")]);
        assert_eq!(master_addr(&ok), Ok(Some(Addr::new("10.0.0.1", 6379))));
        assert_eq!(master_addr(&Value::Null), Ok(None));
        assert!(master_addr(&Value::Array(vec![b("h")])).is_err());
        assert!(master_addr(&Value::Array(vec![b("h"), b("70000")])).is_err());
        assert!(master_addr(&Value::Array(vec![b("h"), b("0")])).is_err());
        assert!(master_addr(&Value::Array(vec![b(""), b("1")])).is_err());
        assert!(master_addr(&b("garbage")).is_err());
        assert!(master_addr(&Value::Error(crate::ByteStr::from_static(b"ERR x"))).is_err());
    }

    #[test]
    fn failover_fields_of_sentinel_master() {
        let entry = |flags: &str, state: Option<&str>| {
            let mut v = vec![b("name"), b("svc"), b("flags"), b(flags)];
            if let Some(s) = state {
                v.extend([b("failover-state"), b(s)]);
            }
            v.extend([b("failover-timeout"), b("180000")]);
            Value::Array(v)
        };
        assert_eq!(failover_state(&entry("master", None)), FailoverState::Idle);
        assert_eq!(
            failover_state(&entry("master,o_down", None)),
            FailoverState::Idle
        );
        assert_eq!(
            failover_state(&entry(
                "master,failover_in_progress",
                Some("wait_promotion")
            )),
            FailoverState::InProgress("wait_promotion".into())
        );
        assert_eq!(
            failover_state(&entry("master,failover_in_progress", None)),
            FailoverState::InProgress("failover_in_progress".into())
        );
        assert_eq!(
            failover_state(&entry("master", Some("select_slave"))),
            FailoverState::InProgress("select_slave".into())
        );
        assert_eq!(
            failover_state(&entry("master", Some("none"))),
            FailoverState::Idle
        );
        let map = Value::Map(vec![(b("flags"), b("master")), (b("x"), Value::Integer(1))]);
        assert_eq!(failover_state(&map), FailoverState::Idle);
        let no_flags = Value::Array(vec![b("name"), b("svc")]);
        assert_eq!(failover_state(&no_flags), FailoverState::Unknown);
        let e = Value::Error(crate::ByteStr::from_static(
            b"ERR No such master with that name",
        ));
        assert_eq!(failover_state(&e), FailoverState::Unknown);
        assert_eq!(failover_state(&Value::Integer(3)), FailoverState::Unknown);
        assert_eq!(
            failover_timeout(&entry("master", None)),
            Some(Duration::from_secs(180))
        );
        assert_eq!(failover_timeout(&no_flags), None);
        let bad = Value::Array(vec![b("failover-timeout"), b("-5")]);
        assert_eq!(failover_timeout(&bad), None);
    }

    #[test]
    fn role_and_errors() {
        assert_eq!(role(&Value::Array(vec![b("master")])), RoleReply::Master);
        assert_eq!(role(&Value::Array(vec![b("slave")])), RoleReply::Replica);
        assert!(matches!(role(&Value::Integer(1)), RoleReply::Other(_)));
        let e = Value::Error(crate::ByteStr::from_static(b"READONLY You can't write"));
        assert!(error_is(&e, "READONLY"));
        assert!(!error_is(&e, "READ"));
        assert!(!error_is(&b("READONLY"), "READONLY"));
    }

    #[test]
    fn redirect_hints() {
        let long = format!("REDIRECT {}:6379", "a".repeat(254));
        assert_eq!(
            redirect_hint(long.as_bytes()),
            None,
            "no host over 253 bytes"
        );
        // As a Valkey 9.1 replica answers a write after `CLIENT CAPA redirect`.
        assert_eq!(
            redirect_hint(b"REDIRECT 127.0.0.1:24212"),
            Some(Addr::new("127.0.0.1", 24212))
        );
        assert_eq!(
            redirect_hint(b"redirect [::1]:6380"),
            Some(Addr::new("::1", 6380))
        );
        for bad in [
            &b"REDIRECT"[..],
            b"REDIRECT ",
            b"REDIRECT host",
            b"REDIRECT host:0",
            b"REDIRECT host:70000",
            b"REDIRECTED 1.2.3.4:5",
            b"READONLY You can't write",
            b"REDIRECT \xff:1",
            b"REDIRECT a\\x1b:1",
        ] {
            assert_eq!(redirect_hint(bad), None, "{}", show(bad));
        }
    }

    #[test]
    fn instances_filter_bad_entries() {
        let good = Value::Array(vec![
            b("ip"),
            b("10.0.0.2"),
            b("port"),
            b("6380"),
            b("flags"),
            b("slave,s_down"),
            b("master-link-status"),
            b("ok"),
        ]);
        let bad_port = Value::Array(vec![b("ip"), b("h"), b("port"), b("99999")]);
        let odd = Value::Array(vec![b("ip")]);
        let r = instances(&Value::Array(vec![good, bad_port, odd, Value::Integer(3)])).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].addr, Addr::new("10.0.0.2", 6380));
        assert!(r[0].link_ok && !r[0].up());
        let map = Value::Map(vec![(b("ip"), b("h")), (b("port"), Value::Integer(5))]);
        let r = instances(&Value::Array(vec![map])).unwrap();
        assert!(r[0].up() && !r[0].link_ok);
        assert!(instances(&Value::Integer(1)).is_err());
    }
}
