//! Host and port parsing: `host`, `host:port`, `[v6]`, `[v6]:port`, and comma-separated lists.

use super::{values, UrlError};
use crate::sentinel::Addr;
use std::net::Ipv6Addr;

/// The port Redis Sentinel listens on by default; used when a sentinel host has no port.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// The longest host name DNS allows (253 bytes, without the root's trailing dot).
const MAX_HOST_LEN: usize = 253;

/// Parses one `host[:port]` or `[v6][:port]`, using `default_port` when there is no port.
///
/// Host names may use letters, digits, `-`, `.` and `_`, at most 253 bytes; IPv6 literals must
/// be in brackets.
/// This is what the CLI should use for `--sentinel h[:p]`.
pub fn parse_host_port(text: &str, default_port: u16) -> Result<Addr, UrlError> {
    if text.is_empty() {
        return Err(UrlError::EmptyHost { index: 1 });
    }
    if let Some(rest) = text.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(UrlError::BadHost {
                host: text.to_owned(),
                reason: "`[` without a closing `]`",
            });
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(UrlError::BadHost {
                host: text.to_owned(),
                reason: "not an IPv6 address inside `[...]`",
            });
        }
        let port = match after {
            "" => default_port,
            _ => match after.strip_prefix(':') {
                Some(p) => values::port(p)?,
                None => {
                    return Err(UrlError::BadHost {
                        host: text.to_owned(),
                        reason: "expected `:port` after `]`",
                    })
                }
            },
        };
        return Ok(Addr::new(v6, port));
    }
    let (host, port) = match text.split_once(':') {
        None => (text, default_port),
        Some((h, p)) => {
            if p.contains(':') {
                return Err(UrlError::BadHost {
                    host: text.to_owned(),
                    reason: "an IPv6 address must be written in brackets, e.g. `[::1]:26379`",
                });
            }
            (h, values::port(p)?)
        }
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost { index: 1 });
    }
    if host.len() > MAX_HOST_LEN {
        return Err(UrlError::BadHost {
            host: host.to_owned(),
            reason: "longer than 253 bytes, the most a DNS name can have",
        });
    }
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(UrlError::BadHost {
            host: host.to_owned(),
            reason: match bad {
                '@' => "`@` in a host: percent-encode `@` in passwords as %40",
                '/' | '?' | '#' => "unexpected `/`, `?` or `#` in a host",
                c if c.is_control() => "control character in a host",
                _ => "only letters, digits, `-`, `.` and `_` are allowed in a host name",
            },
        });
    }
    Ok(Addr::new(host, port))
}

/// Parses a comma-separated host list; an empty entry (or an empty list) is an error that
/// gives the entry's 1-based position.
pub(crate) fn parse_host_list(text: &str, default_port: u16) -> Result<Vec<Addr>, UrlError> {
    let mut out = Vec::new();
    for (i, item) in text.split(',').enumerate() {
        if item.is_empty() {
            return Err(UrlError::EmptyHost { index: i + 1 });
        }
        let addr = parse_host_port(item, default_port).map_err(|e| match e {
            UrlError::EmptyHost { .. } => UrlError::EmptyHost { index: i + 1 },
            other => other,
        })?;
        push_unique(&mut out, addr);
    }
    Ok(out)
}

/// Appends `addr` unless it is already listed, keeping the first occurrence's position.
pub(crate) fn push_unique(list: &mut Vec<Addr>, addr: Addr) {
    if !list.contains(&addr) {
        list.push(addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        let p = |s| parse_host_port(s, DEFAULT_SENTINEL_PORT).unwrap();
        assert_eq!(p("h1"), Addr::new("h1", 26379));
        assert_eq!(p("h1:26380"), Addr::new("h1", 26380));
        assert_eq!(p("10.0.0.1:1"), Addr::new("10.0.0.1", 1));
        assert_eq!(p("[::1]:26379"), Addr::new("::1", 26379));
        assert_eq!(p("[fe80::1]"), Addr::new("fe80::1", 26379));
        assert_eq!(
            p("my_host-2.example"),
            Addr::new("my_host-2.example", 26379)
        );
    }

    #[test]
    fn host_errors() {
        let e = |s| parse_host_port(s, DEFAULT_SENTINEL_PORT).unwrap_err();
        assert_eq!(
            e("h:70000"),
            UrlError::BadPort {
                port: "70000".into()
            }
        );
        assert_eq!(e("h:"), UrlError::BadPort { port: "".into() });
        assert_eq!(e(":26379"), UrlError::EmptyHost { index: 1 });
        assert!(matches!(e("::1"), UrlError::BadHost { .. }));
        assert!(matches!(e("[::1"), UrlError::BadHost { .. }));
        assert!(matches!(e("[zz]:1"), UrlError::BadHost { .. }));
        assert!(matches!(e("[::1]x"), UrlError::BadHost { .. }));
        assert_eq!(e("[::1]:0"), UrlError::BadPort { port: "0".into() });
        assert!(matches!(e("ho st"), UrlError::BadHost { .. }));
        assert!(e("a@b").to_string().contains("%40"));
        let long = "a".repeat(254);
        let err = e(&long);
        assert!(matches!(err, UrlError::BadHost { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("253") && msg.len() < 200, "{msg}");
        assert!(parse_host_port(&"a".repeat(253), 1).is_ok());
        let err = e("h\u{1b}]0;x\u{7}:1");
        assert!(err.to_string().contains("control character"), "{err}");
        assert!(!err.to_string().contains(['\u{1b}', '\u{7}']), "{err}");
        assert!(!e("h:1\u{1b}[2J").to_string().contains('\u{1b}'));
    }

    #[test]
    fn lists() {
        assert_eq!(
            parse_host_list("a,b:2,[::1]:3", 26379).unwrap(),
            vec![
                Addr::new("a", 26379),
                Addr::new("b", 2),
                Addr::new("::1", 3)
            ]
        );
        assert_eq!(
            parse_host_list("a,,b", 26379),
            Err(UrlError::EmptyHost { index: 2 })
        );
        assert_eq!(
            parse_host_list("a,", 26379),
            Err(UrlError::EmptyHost { index: 2 })
        );
        assert_eq!(
            parse_host_list("", 26379),
            Err(UrlError::EmptyHost { index: 1 })
        );
        assert_eq!(
            parse_host_list("a,:5", 26379),
            Err(UrlError::EmptyHost { index: 2 })
        );
        assert_eq!(parse_host_list("a,a:26379", 26379).unwrap().len(), 1);
    }
}
