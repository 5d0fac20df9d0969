//! Scalar values found in target URLs: port, database, role, protocol, timeout, booleans.

use super::{Protocol, UrlError};
use crate::sentinel::Role;
use std::time::Duration;

/// A TCP port: ASCII digits only, 1-65535.
pub(crate) fn port(text: &str) -> Result<u16, UrlError> {
    let bad = || UrlError::BadPort {
        port: text.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(p) => Ok(p),
    }
}

/// A database number: ASCII digits only, fits in `u32`.
pub(crate) fn db(text: &str) -> Result<u32, UrlError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::BadDb {
            value: text.to_owned(),
        });
    }
    text.parse().map_err(|_| UrlError::BadDb {
        value: text.to_owned(),
    })
}

/// `master` or `replica` (ASCII case-insensitive).
pub(crate) fn role(text: &str) -> Result<Role, UrlError> {
    if text.eq_ignore_ascii_case("master") {
        Ok(Role::Master)
    } else if text.eq_ignore_ascii_case("replica") {
        Ok(Role::Replica)
    } else {
        Err(UrlError::UnknownRole {
            value: text.to_owned(),
        })
    }
}

/// `master`, `master_preferred`, `replica`, `replica_preferred`, `lowest_latency` or `any` (also with `-` for `_`, any case).
pub(crate) fn read_from(text: &str) -> Result<crate::sentinel::ReadFrom, UrlError> {
    use crate::sentinel::ReadFrom;
    let norm = text.to_ascii_lowercase().replace('-', "_");
    Ok(match norm.as_str() {
        "master" => ReadFrom::Master,
        "master_preferred" => ReadFrom::MasterPreferred,
        "replica" => ReadFrom::Replica,
        "replica_preferred" => ReadFrom::ReplicaPreferred,
        "lowest_latency" => ReadFrom::LowestLatency,
        "any" => ReadFrom::Any,
        _ => {
            return Err(UrlError::UnknownReadFrom {
                value: text.to_owned(),
            })
        }
    })
}

/// `2` or `3`.
pub(crate) fn protocol(text: &str) -> Result<Protocol, UrlError> {
    match text {
        "2" => Ok(Protocol::Resp2),
        "3" => Ok(Protocol::Resp3),
        _ => Err(UrlError::BadProtocol {
            value: text.to_owned(),
        }),
    }
}

/// django-redis `is_master`: `1` is the master, `0` a replica.
pub(crate) fn is_master(text: &str) -> Result<Role, UrlError> {
    match text {
        "1" => Ok(Role::Master),
        "0" => Ok(Role::Replica),
        _ => Err(UrlError::BadIsMaster {
            value: text.to_owned(),
        }),
    }
}

/// `true`/`1` or `false`/`0` (ASCII case-insensitive), as go-redis reads booleans.
pub(crate) fn boolean(key: &str, text: &str) -> Result<bool, UrlError> {
    if text == "1" || text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text == "0" || text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(UrlError::BadBool {
            key: key.to_owned(),
            value: text.to_owned(),
        })
    }
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A positive duration: a plain number of seconds (`5`, `1.5`), or one or more
/// number-and-unit groups (`500ms`, `5s`, `1m30s`) with units `ns`, `us`, `ms`, `s`, `m`,
/// `h`, `d`. This covers Lettuce's `timeout=` and Go's `time.ParseDuration` for positive values.
pub(crate) fn timeout(key: &str, text: &str) -> Result<Duration, UrlError> {
    let bad = |reason| UrlError::BadTimeout {
        key: key.to_owned(),
        value: text.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Err(bad("empty value"));
    }
    let bytes = text.as_bytes();
    let mut total: u128 = 0;
    let mut i = 0;
    let mut groups = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_part = &text[start..i];
        let mut frac_part = "";
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let fstart = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_part = &text[fstart..i];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad(if bytes[start] == b'-' {
                "must be positive"
            } else {
                "expected a number"
            }));
        }
        let ustart = i;
        while i < bytes.len() && !bytes[i].is_ascii_digit() && bytes[i] != b'.' {
            i += 1;
        }
        let unit = &text[ustart..i];
        let per_unit: u128 = match unit {
            "" if ustart == bytes.len() && groups == 0 => NANOS_PER_SEC,
            "" => return Err(bad("every number needs a unit when units are used")),
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            "d" => 86_400 * NANOS_PER_SEC,
            _ => return Err(bad("unknown unit (use ns, us, ms, s, m, h or d)")),
        };
        let int_val: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad("number too large"))?
        };
        let mut nanos = int_val
            .checked_mul(per_unit)
            .ok_or_else(|| bad("number too large"))?;
        // Fraction digits beyond nanosecond precision are dropped, not an error.
        let mut scale = per_unit;
        for d in frac_part.bytes().take(30) {
            scale /= 10;
            nanos = nanos
                .checked_add(u128::from(d - b'0') * scale)
                .ok_or_else(|| bad("number too large"))?;
        }
        total = total
            .checked_add(nanos)
            .ok_or_else(|| bad("number too large"))?;
        groups += 1;
    }
    if total == 0 {
        return Err(bad("must be greater than zero"));
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| bad("number too large"))?;
    // The remainder is below 10^9 and fits in u32.
    let sub = (total % NANOS_PER_SEC) as u32;
    Ok(Duration::new(secs, sub))
}

/// Formats a duration so that [`timeout`] reads back exactly the same value.
pub(crate) fn format_timeout(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos % NANOS_PER_SEC == 0 {
        format!("{}s", d.as_secs())
    } else if nanos % 1_000_000 == 0 {
        format!("{}ms", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{nanos}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(port("26379"), Ok(26379));
        assert_eq!(port("65535"), Ok(65535));
        for bad in ["70000", "0", "", "+1", "-1", "12a", "99999999999999999999"] {
            assert_eq!(
                port(bad),
                Err(UrlError::BadPort { port: bad.into() }),
                "{bad}"
            );
        }
        assert!(port("70000").unwrap_err().to_string().contains("`70000`"));
    }

    #[test]
    fn dbs() {
        assert_eq!(db("0"), Ok(0));
        assert_eq!(db("15"), Ok(15));
        assert_eq!(db("4294967295"), Ok(u32::MAX));
        for bad in ["", "x", "-1", "+2", "4294967296", "1.0"] {
            assert_eq!(db(bad), Err(UrlError::BadDb { value: bad.into() }), "{bad}");
        }
    }

    #[test]
    fn roles_protocols_flags() {
        assert_eq!(role("master"), Ok(Role::Master));
        assert_eq!(role("Replica"), Ok(Role::Replica));
        assert_eq!(
            role("slave"),
            Err(UrlError::UnknownRole {
                value: "slave".into()
            })
        );
        assert_eq!(protocol("3"), Ok(Protocol::Resp3));
        assert_eq!(protocol("2"), Ok(Protocol::Resp2));
        assert_eq!(
            protocol("4"),
            Err(UrlError::BadProtocol { value: "4".into() })
        );
        assert_eq!(is_master("0"), Ok(Role::Replica));
        assert_eq!(is_master("1"), Ok(Role::Master));
        assert_eq!(
            is_master("yes"),
            Err(UrlError::BadIsMaster {
                value: "yes".into()
            })
        );
        assert_eq!(boolean("k", "TRUE"), Ok(true));
        assert_eq!(boolean("k", "0"), Ok(false));
        assert!(matches!(boolean("k", "y"), Err(UrlError::BadBool { .. })));
    }

    #[test]
    fn timeouts_accepted() {
        let t = |s| timeout("timeout", s).unwrap();
        assert_eq!(t("5"), Duration::from_secs(5));
        assert_eq!(t("1.5"), Duration::from_millis(1500));
        assert_eq!(t("500ms"), Duration::from_millis(500));
        assert_eq!(t("5s"), Duration::from_secs(5));
        assert_eq!(t("1m30s"), Duration::from_secs(90));
        assert_eq!(t("2h"), Duration::from_secs(7200));
        assert_eq!(t("1d"), Duration::from_secs(86400));
        assert_eq!(t("250us"), Duration::from_micros(250));
        assert_eq!(t("7ns"), Duration::from_nanos(7));
        assert_eq!(t(".5s"), Duration::from_millis(500));
        assert_eq!(t("3µs"), Duration::from_micros(3));
    }

    #[test]
    fn timeouts_rejected_with_reason() {
        let reason = |s: &str| match timeout("timeout", s) {
            Err(UrlError::BadTimeout { value, reason, .. }) => {
                assert_eq!(value, s);
                reason
            }
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(reason("5x"), "unknown unit (use ns, us, ms, s, m, h or d)");
        assert_eq!(reason(""), "empty value");
        assert_eq!(reason("0"), "must be greater than zero");
        assert_eq!(reason("0ms"), "must be greater than zero");
        assert_eq!(reason("-1"), "must be positive");
        assert_eq!(reason("s"), "expected a number");
        assert_eq!(reason("5 s"), "unknown unit (use ns, us, ms, s, m, h or d)");
        assert_eq!(
            reason("1m30"),
            "every number needs a unit when units are used"
        );
        assert_eq!(
            reason("99999999999999999999999999999999999999999d"),
            "number too large"
        );
        assert_eq!(reason("99999999999999999999999d"), "number too large");
        let msg = timeout("timeout", "5x").unwrap_err().to_string();
        assert!(msg.contains("`5x`"), "{msg}");
    }

    #[test]
    fn format_reads_back() {
        for d in [
            Duration::from_secs(3),
            Duration::from_millis(1500),
            Duration::from_micros(7),
            Duration::from_nanos(1_000_000_001),
            Duration::new(u64::MAX, 999_999_999),
        ] {
            assert_eq!(timeout("t", &format_timeout(d)), Ok(d), "{d:?}");
        }
    }
}
