//! Building `redis+sentinel://` URLs for a topology (the form our URL parser accepts).
//!
//! Userinfo carries the data-node credentials; sentinel credentials go in the query keys
//! `sentinel_username` and `sentinel_password`.

use crate::options::Credentials;
use resp_sentinel_core::sentinel::Addr;
use std::fmt::Write as _;

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `redis+sentinel://[user:pass@]h1:p1,h2:p2/service[?sentinel_password=..&sentinel_username=..]`.
/// With `redact`, passwords are written as `***` (for printing).
pub fn sentinel_url(
    sentinels: &[Addr],
    service: &str,
    data: Option<&Credentials>,
    sentinel: Option<&Credentials>,
    redact: bool,
) -> String {
    let pw = |p: &str| {
        if redact {
            "***".to_string()
        } else {
            percent_encode(p)
        }
    };
    let mut url = String::from("redis+sentinel://");
    if let Some(c) = data {
        if let Some(u) = &c.username {
            url.push_str(&percent_encode(u));
        }
        let _ = write!(url, ":{}@", pw(&c.password));
    }
    let hosts: Vec<String> = sentinels.iter().map(Addr::to_string).collect();
    url.push_str(&hosts.join(","));
    let _ = write!(url, "/{}", percent_encode(service));
    if let Some(c) = sentinel {
        let _ = write!(url, "?sentinel_password={}", pw(&c.password));
        if let Some(u) = &c.username {
            let _ = write!(url, "&sentinel_username={}", percent_encode(u));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> Vec<Addr> {
        vec![Addr::new("127.0.0.1", 21000), Addr::new("127.0.0.1", 21001)]
    }

    #[test]
    fn plain_url() {
        assert_eq!(
            sentinel_url(&addrs(), "mymaster", None, None, false),
            "redis+sentinel://127.0.0.1:21000,127.0.0.1:21001/mymaster"
        );
    }

    #[test]
    fn credentials_are_encoded_and_placed_per_convention() {
        let data = Credentials::user("app", "p@ss:w/rd");
        let sent = Credentials::user("sent", "s&p=");
        assert_eq!(
            sentinel_url(&addrs(), "svc", Some(&data), Some(&sent), false),
            "redis+sentinel://app:p%40ss%3Aw%2Frd@127.0.0.1:21000,127.0.0.1:21001/svc\
             ?sentinel_password=s%26p%3D&sentinel_username=sent"
        );
        let pw_only = Credentials::password("pw");
        assert_eq!(
            sentinel_url(&addrs()[..1], "svc", Some(&pw_only), None, false),
            "redis+sentinel://:pw@127.0.0.1:21000/svc"
        );
    }

    #[test]
    fn redacted_url_hides_passwords() {
        let data = Credentials::password("topsecret");
        let sent = Credentials::password("alsosecret");
        let u = sentinel_url(&addrs(), "svc", Some(&data), Some(&sent), true);
        assert!(!u.contains("secret"), "{u}");
        assert!(
            u.contains(":***@") && u.contains("sentinel_password=***"),
            "{u}"
        );
    }
}
