//! Where to dial an address that Sentinel announces: for NAT, Docker and Kubernetes set-ups in
//! which sentinels report addresses (their own, the master's, the replicas') that the client
//! cannot reach.
//!
//! The machine keeps reasoning in announced addresses (they are what every sentinel, notice and
//! `ROLE` reply speaks of); only the address a connection is opened to is mapped, in one place
//! (`Io::open`). Messages about such a connection name both.

use super::interface::{Addr, AddrParseError};
use std::fmt;
use std::str::FromStr;

/// One rule: connections to `from` go to `to` instead. Either both sides have a port
/// (`10.0.0.5:6379=>127.0.0.1:7001`, that address only) or neither (`10.0.0.5=>127.0.0.1`,
/// every port of the host, kept as announced).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressRule {
    from_host: String,
    to_host: String,
    /// `(from, to)` ports, or `None` for a host-only rule.
    ports: Option<(u16, u16)>,
}

impl AddressRule {
    /// A rule for one announced address.
    pub fn addr(from: Addr, to: Addr) -> AddressRule {
        AddressRule {
            from_host: from.host,
            to_host: to.host,
            ports: Some((from.port, to.port)),
        }
    }

    /// A rule for every port of an announced host; ports are kept.
    pub fn host(from: impl Into<String>, to: impl Into<String>) -> AddressRule {
        AddressRule {
            from_host: from.into(),
            to_host: to.into(),
            ports: None,
        }
    }

    /// Where `a` is dialled under this rule, if the rule covers it.
    fn apply(&self, a: &Addr) -> Option<Addr> {
        if !self.from_host.eq_ignore_ascii_case(&a.host) {
            return None;
        }
        match self.ports {
            Some((from, to)) if from == a.port => Some(Addr::new(self.to_host.clone(), to)),
            Some(_) => None,
            None => Some(Addr::new(self.to_host.clone(), a.port)),
        }
    }
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ports {
            Some((p, q)) => write!(
                f,
                "{}=>{}",
                Addr::new(self.from_host.clone(), p),
                Addr::new(self.to_host.clone(), q)
            ),
            None => write!(
                f,
                "{}=>{}",
                host_text(&self.from_host),
                host_text(&self.to_host)
            ),
        }
    }
}

/// A host as written in a rule: IPv6 in brackets.
fn host_text(h: &str) -> String {
    if h.contains(':') {
        format!("[{h}]")
    } else {
        h.to_owned()
    }
}

impl FromStr for AddressRule {
    type Err = AddrParseError;
    /// Parses `announced=>dial`, each side `host:port` (or `[v6]:port`), or each side a bare
    /// host (or `[v6]`).
    fn from_str(s: &str) -> Result<AddressRule, AddrParseError> {
        let (from, to) = s.split_once("=>").ok_or_else(|| {
            AddrParseError(format!(
                "address rule `{s}`: expected `announced=>dial` (e.g. `10.0.0.5:6379=>127.0.0.1:7001`)"
            ))
        })?;
        let (from, to) = (from.trim(), to.trim());
        match (side(from)?, side(to)?) {
            (Side::Addr(f), Side::Addr(t)) => Ok(AddressRule::addr(f, t)),
            (Side::Host(f), Side::Host(t)) => Ok(AddressRule::host(f, t)),
            _ => Err(AddrParseError(format!(
                "address rule `{s}`: give a port on both sides or on neither"
            ))),
        }
    }
}

enum Side {
    Addr(Addr),
    Host(String),
}

fn side(s: &str) -> Result<Side, AddrParseError> {
    let bad = |why: &str| AddrParseError(format!("address rule side `{s}`: {why}"));
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s.bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'/')
    {
        return Err(bad("not a host"));
    }
    if let Some(v6) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Ok(Side::Host(v6.to_owned()));
    }
    // `[v6]:port` or `host:port`; a bare IPv6 address has several colons and no port.
    let has_port = s.starts_with('[') || s.matches(':').count() == 1;
    if has_port {
        return s.parse::<Addr>().map(Side::Addr);
    }
    Ok(Side::Host(s.to_owned()))
}

/// Rules from announced addresses to dialled ones; empty by default (dial what is announced).
/// The first rule for the exact address wins, then the first host-only rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressMap {
    rules: Vec<AddressRule>,
}

impl AddressMap {
    /// A map of these rules.
    pub fn new(rules: impl IntoIterator<Item = AddressRule>) -> AddressMap {
        AddressMap {
            rules: rules.into_iter().collect(),
        }
    }

    /// Adds a rule after the others.
    pub fn push(&mut self, rule: AddressRule) {
        self.rules.push(rule);
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[AddressRule] {
        &self.rules
    }

    /// True when nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Where to dial `announced`; `None` when no rule covers it (dial it as it is).
    pub fn dial(&self, announced: &Addr) -> Option<Addr> {
        let exact = self.rules.iter().filter(|r| r.ports.is_some());
        let hosts = self.rules.iter().filter(|r| r.ports.is_none());
        exact.chain(hosts).find_map(|r| r.apply(announced))
    }

    /// Where to dial `announced`, itself when no rule covers it.
    pub fn dial_or_same(&self, announced: &Addr) -> Addr {
        self.dial(announced).unwrap_or_else(|| announced.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn exact_rules_win_over_host_rules_and_ports_are_kept() {
        let m = AddressMap::new([
            "10.0.0.5=>127.0.0.1".parse().unwrap(),
            "10.0.0.5:6379=>127.0.0.1:7001".parse().unwrap(),
        ]);
        assert_eq!(m.dial(&a("10.0.0.5:6379")), Some(a("127.0.0.1:7001")));
        assert_eq!(m.dial(&a("10.0.0.5:6380")), Some(a("127.0.0.1:6380")));
        assert_eq!(m.dial(&a("10.0.0.6:6379")), None);
        assert_eq!(m.dial_or_same(&a("10.0.0.6:6379")), a("10.0.0.6:6379"));
        assert_eq!(
            AddressMap::new(["Redis-A=>127.0.0.1".parse().unwrap()]).dial(&a("redis-a:1")),
            Some(a("127.0.0.1:1")),
            "host names compare without regard to case"
        );
    }

    #[test]
    fn rules_parse_and_print_back() {
        for s in [
            "10.0.0.5:6379=>127.0.0.1:7001",
            "redis-0.svc:26379=>localhost:5000",
            "10.0.0.5=>127.0.0.1",
            "[fd00::5]:6379=>127.0.0.1:7001",
            "[fd00::5]=>[::1]",
        ] {
            let r: AddressRule = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
        }
        let v6: AddressRule = "[fd00::5]=>127.0.0.1".parse().unwrap();
        assert_eq!(
            AddressMap::new([v6]).dial(&Addr::new("fd00::5", 6379)),
            Some(a("127.0.0.1:6379"))
        );
        assert_eq!(
            " 10.0.0.5:1 => 127.0.0.1:2 "
                .parse::<AddressRule>()
                .unwrap(),
            AddressRule::addr(a("10.0.0.5:1"), a("127.0.0.1:2"))
        );
    }

    #[test]
    fn malformed_rules_say_why() {
        for (s, why) in [
            ("10.0.0.5:6379", "expected `announced=>dial`"),
            ("10.0.0.5:6379=>127.0.0.1", "on both sides or on neither"),
            ("=>127.0.0.1", "empty"),
            ("10.0.0.5:x=>127.0.0.1:1", "10.0.0.5:x"),
            ("a b=>c", "not a host"),
            ("a\x1b=>c", "not a host"),
        ] {
            let e = s.parse::<AddressRule>().unwrap_err().to_string();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
