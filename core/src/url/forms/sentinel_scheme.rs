//! The forms whose scheme names Sentinel: ours (`redis+sentinel://`) and Lettuce/fred's
//! (`redis-sentinel://`).

use super::{db_only_path, service_name, set_db, set_once};
use crate::url::hosts::{parse_host_list, push_unique, DEFAULT_SENTINEL_PORT};
use crate::url::parts::{self, Parts};
use crate::url::query::Query;
use crate::url::{hosts, values, Secret, SentinelTarget, TlsSettings, UrlError, UrlForm};

const PLUS_KEYS: &[&str] = &[
    "sentinel_username",
    "sentinel_password",
    "role",
    "protocol",
    "timeout",
    "db",
    "map",
    "read_from",
    "sentinel_tls",
    "tls_* (see the url module docs)",
];

/// `redis+sentinel://[user:pass@]h1[:p1][,h2[:p2]...][/service[/db]][?key=value...]`.
pub(super) fn plus(p: Parts<'_>, tls: bool) -> Result<SentinelTarget, UrlError> {
    let mut t = SentinelTarget::empty(UrlForm::RedisSentinel, &p.scheme);
    t.tls = tls;
    (t.username, t.password) = parts::userinfo(p.userinfo, "data-node")?;
    t.sentinels = parse_host_list(p.hosts, DEFAULT_SENTINEL_PORT)?;
    if p.fragment.is_some() {
        return Err(UrlError::UnexpectedFragment { form: t.form });
    }
    // One trailing slash is tolerated: `/service/` reads as `/service`.
    let path = match p.path.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped,
        _ => p.path,
    };
    match parts::segments(path).as_slice() {
        [] => {}
        [svc] => t.service = Some(service_name(svc)?),
        [svc, db] => {
            t.service = Some(service_name(svc)?);
            t.db = Some(values::db(db)?);
        }
        _ => {
            return Err(UrlError::BadPath {
                path: p.path.to_owned(),
                expected: "`/service` or `/service/db`",
            })
        }
    }
    let mut q = Query::parse(p.query, false, &["map"])?;
    if let Some(db) = q.take("db")? {
        set_db(&mut t.db, &db, "database in path and `db=`")?;
    }
    for rule in q.take_all("map")? {
        let r = rule.parse().map_err(|e: crate::sentinel::AddrParseError| {
            UrlError::BadAddressRule { reason: e.0 }
        })?;
        t.address_map.push(r);
    }
    t.sentinel_username = q.take("sentinel_username")?.filter(|s| !s.is_empty());
    t.sentinel_password = q
        .take("sentinel_password")?
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    if let Some(r) = q.take("role")? {
        t.role = Some(values::role(&r)?);
    }
    if let Some(r) = q.take("read_from")? {
        t.read_from = Some(values::read_from(&r)?);
    }
    if let Some(v) = q.take("protocol")? {
        t.protocol = Some(values::protocol(&v)?);
    }
    if let Some(v) = q.take("timeout")? {
        t.timeout = Some(values::timeout("timeout", &v)?);
    }
    t.tls_settings = TlsSettings::take(&mut q)?;
    t.ignored_keys = q.finish(t.form, PLUS_KEYS, &[])?;
    Ok(t)
}

const DASH_KEYS: &[&str] = &[
    "sentinelMasterId",
    "sentinelServiceName",
    "node",
    "sentinelUsername",
    "sentinelPassword",
    "database",
    "db",
    "timeout",
    "protocol",
    "sentinel_tls",
    "tls_* (see the url module docs)",
    "clientName (ignored)",
    "libraryName (ignored)",
    "libraryVersion (ignored)",
    "verifyPeer (ignored)",
];
const DASH_IGNORED: &[&str] = &["clientName", "libraryName", "libraryVersion", "verifyPeer"];

/// Lettuce / fred: `redis-sentinel://[[user:]pass@]h1[:p1][,h2[:p2]][/db][?...][#service]`.
pub(super) fn dash(p: Parts<'_>, tls: bool) -> Result<SentinelTarget, UrlError> {
    let mut t = SentinelTarget::empty(UrlForm::LettuceFred, &p.scheme);
    t.tls = tls;
    (t.username, t.password) = parts::userinfo(p.userinfo, "data-node")?;
    t.sentinels = parse_host_list(p.hosts, DEFAULT_SENTINEL_PORT)?;
    t.db = db_only_path(
        p.path,
        "`/db`: in redis-sentinel:// URLs the service goes in `#name`, `sentinelMasterId=` \
         or `sentinelServiceName=`",
    )?;
    if let Some(frag) = p.fragment {
        t.service = Some(service_name(frag)?);
    }
    let mut q = Query::parse(p.query, true, &["node"])?;
    for key in ["sentinelMasterId", "sentinelServiceName"] {
        if let Some(name) = q.take(key)? {
            if name.is_empty() {
                return Err(UrlError::EmptyServiceName);
            }
            set_once(
                &mut t.service,
                name,
                "service names (`#`, sentinelMasterId=, sentinelServiceName=)",
            )?;
        }
    }
    for node in q.take_all("node")? {
        push_unique(
            &mut t.sentinels,
            hosts::parse_host_port(&node, DEFAULT_SENTINEL_PORT)?,
        );
    }
    for key in ["database", "db"] {
        if let Some(db) = q.take(key)? {
            set_db(&mut t.db, &db, "databases (path, database=, db=)")?;
        }
    }
    t.sentinel_username = q.take("sentinelUsername")?.filter(|s| !s.is_empty());
    t.sentinel_password = q
        .take("sentinelPassword")?
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    if let Some(v) = q.take("timeout")? {
        t.timeout = Some(values::timeout("timeout", &v)?);
    }
    if let Some(v) = q.take("protocol")? {
        t.protocol = Some(values::protocol(&v)?);
    }
    t.tls_settings = TlsSettings::take(&mut q)?;
    t.ignored_keys = q.finish(t.form, DASH_KEYS, DASH_IGNORED)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use crate::sentinel::{Addr, Role};
    use crate::url::{parse, Protocol, Secret, UrlError, UrlForm};
    use std::time::Duration;

    fn pw(s: &str) -> Option<Secret> {
        Some(Secret::new(s))
    }

    #[test]
    fn plus_full_form() {
        let t = parse(
            "redis+sentinel://app:p%40ss@h1:26380,h2,[::1]:26381/mymaster/2\
             ?sentinel_password=s%26p&sentinel_username=sent&role=replica&protocol=3&timeout=500ms",
        )
        .unwrap();
        assert_eq!(t.form, UrlForm::RedisSentinel);
        assert_eq!(t.scheme, "redis+sentinel");
        assert_eq!(
            t.sentinels,
            vec![
                Addr::new("h1", 26380),
                Addr::new("h2", 26379),
                Addr::new("::1", 26381)
            ]
        );
        assert_eq!(t.service.as_deref(), Some("mymaster"));
        assert_eq!(t.db, Some(2));
        assert_eq!(t.username.as_deref(), Some("app"));
        assert_eq!(t.password, pw("p@ss"));
        assert_eq!(t.sentinel_username.as_deref(), Some("sent"));
        assert_eq!(t.sentinel_password, pw("s&p"));
        assert_eq!(t.role, Some(Role::Replica));
        assert_eq!(t.protocol, Some(Protocol::Resp3));
        assert_eq!(t.timeout, Some(Duration::from_millis(500)));
        assert!(!t.tls);
        assert!(t.ignored_keys.is_empty());
    }

    #[test]
    fn plus_variants() {
        let t = parse("redis+sentinel://h1/mymaster").unwrap();
        assert_eq!(t.sentinels, vec![Addr::new("h1", 26379)]);
        assert_eq!((t.db, t.password.clone(), t.role), (None, None, None));
        let t = parse("valkey+sentinel://:pw@h1:1/svc/").unwrap();
        assert_eq!(
            (t.scheme.as_str(), t.password.clone()),
            ("valkey+sentinel", pw("pw"))
        );
        assert_eq!(t.service.as_deref(), Some("svc"));
        for (url, tls) in [
            ("rediss+sentinel://h/s", true),
            ("valkeys+sentinel://h/s", true),
            ("REDIS+SENTINEL://h/s", false),
        ] {
            assert_eq!(parse(url).unwrap().tls, tls, "{url}");
        }
        // No service in the URL: left to --master.
        let t = parse("redis+sentinel://h1,h2").unwrap();
        assert_eq!((t.service.clone(), t.sentinels.len()), (None, 2));
        assert!(t.validate().is_err());
        let t = parse("redis+sentinel://h1?db=4&role=master&timeout=2").unwrap();
        assert_eq!((t.db, t.role), (Some(4), Some(Role::Master)));
        assert_eq!(t.timeout, Some(Duration::from_secs(2)));
        let t = parse("redis+sentinel://h/svc%2Fa%20b/0?protocol=2").unwrap();
        assert_eq!(t.service.as_deref(), Some("svc/a b"));
        assert_eq!((t.db, t.protocol), (Some(0), Some(Protocol::Resp2)));
    }

    #[test]
    fn plus_errors() {
        let e = |u: &str| parse(u).unwrap_err();
        assert_eq!(
            e("redis+sentinel://h:70000/s"),
            UrlError::BadPort {
                port: "70000".into()
            }
        );
        assert_eq!(e("redis+sentinel:///s"), UrlError::EmptyHost { index: 1 });
        assert_eq!(
            e("redis+sentinel://h1,,h2/s"),
            UrlError::EmptyHost { index: 2 }
        );
        assert_eq!(
            e("redis+sentinel://h/s/x"),
            UrlError::BadDb { value: "x".into() }
        );
        assert_eq!(e("redis+sentinel://h//0"), UrlError::EmptyServiceName);
        assert!(matches!(
            e("redis+sentinel://h/s/0/1"),
            UrlError::BadPath { .. }
        ));
        assert_eq!(
            e("redis+sentinel://h/s?role=slave"),
            UrlError::UnknownRole {
                value: "slave".into()
            }
        );
        assert_eq!(
            e("redis+sentinel://h/s?protocol=4"),
            UrlError::BadProtocol { value: "4".into() }
        );
        assert!(matches!(
            e("redis+sentinel://h/s?timeout=5x"),
            UrlError::BadTimeout { ref value, .. } if value == "5x"
        ));
        assert!(matches!(
            e("redis+sentinel://h/s?sentinelPassword=x"),
            UrlError::UnknownQueryKey { ref key, form: UrlForm::RedisSentinel, .. }
                if key == "sentinelPassword"
        ));
        assert_eq!(
            e("redis+sentinel://h/s?role=master&role=master"),
            UrlError::DuplicateQueryKey { key: "role".into() }
        );
        assert!(matches!(
            e("redis+sentinel://h/s/1?db=2"),
            UrlError::Conflict { .. }
        ));
        assert!(matches!(
            e("redis+sentinel://h/s#x"),
            UrlError::UnexpectedFragment {
                form: UrlForm::RedisSentinel
            }
        ));
        assert_eq!(
            e("redis+sentinel://u:p%zz@h/s"),
            UrlError::BadPercentEscape {
                part: "data-node password".into(),
                escape: None
            }
        );
    }

    #[test]
    fn dash_lettuce_forms() {
        let t = parse("redis-sentinel://secret@h1:26379,h2:26380/3#mymaster").unwrap();
        assert_eq!(t.form, UrlForm::LettuceFred);
        assert_eq!(t.password, pw("secret"));
        assert_eq!(t.username, None);
        assert_eq!(t.service.as_deref(), Some("mymaster"));
        assert_eq!(t.db, Some(3));
        assert_eq!(t.sentinels.len(), 2);
        let t =
            parse("redis-sentinel://u:p@h1?sentinelMasterId=m1&timeout=10s&database=1").unwrap();
        assert_eq!(t.service.as_deref(), Some("m1"));
        assert_eq!(
            (t.username.as_deref(), t.password.clone()),
            (Some("u"), pw("p"))
        );
        assert_eq!((t.db, t.timeout), (Some(1), Some(Duration::from_secs(10))));
        let t = parse("rediss-sentinel://h1?sentinelmasterid=m1&clientName=app").unwrap();
        assert!(t.tls);
        assert_eq!(t.service.as_deref(), Some("m1"));
        assert_eq!(t.ignored_keys, vec!["clientName"]);
        // Same name twice is fine; different names are not.
        assert!(parse("redis-sentinel://h1?sentinelMasterId=m#m").is_ok());
        assert!(matches!(
            parse("redis-sentinel://h1?sentinelMasterId=a#b"),
            Err(UrlError::Conflict { .. })
        ));
    }

    #[test]
    fn dash_fred_forms() {
        let t = parse(
            "valkey-sentinel://user:pw@h1:26379/2?node=h2:26380&node=[::1]&sentinelServiceName=svc\
             &sentinelUsername=su&sentinelPassword=sp",
        )
        .unwrap();
        assert_eq!(t.scheme, "valkey-sentinel");
        assert_eq!(
            t.sentinels,
            vec![
                Addr::new("h1", 26379),
                Addr::new("h2", 26380),
                Addr::new("::1", 26379)
            ]
        );
        assert_eq!(t.service.as_deref(), Some("svc"));
        assert_eq!(t.db, Some(2));
        assert_eq!(t.username.as_deref(), Some("user"));
        assert_eq!(t.password, pw("pw"));
        assert_eq!(t.sentinel_username.as_deref(), Some("su"));
        assert_eq!(t.sentinel_password, pw("sp"));
        assert!(parse("valkeys-sentinel://h#s").unwrap().tls);
    }

    #[test]
    fn dash_errors() {
        let e = |u: &str| parse(u).unwrap_err();
        assert!(matches!(
            e("redis-sentinel://h/mymaster"),
            UrlError::BadPath { .. }
        ));
        assert!(e("redis-sentinel://h/mymaster")
            .to_string()
            .contains("#name"));
        assert_eq!(e("redis-sentinel://h#"), UrlError::EmptyServiceName);
        assert_eq!(
            e("redis-sentinel://h?sentinelMasterId="),
            UrlError::EmptyServiceName
        );
        assert_eq!(
            e("redis-sentinel://h?node=h:0#s"),
            UrlError::BadPort { port: "0".into() }
        );
        assert!(matches!(
            e("redis-sentinel://h/1?db=2#s"),
            UrlError::Conflict { .. }
        ));
        assert!(matches!(
            e("redis-sentinel://h?role=replica#s"),
            UrlError::UnknownQueryKey {
                form: UrlForm::LettuceFred,
                ..
            }
        ));
        assert_eq!(
            e("redis-sentinel://h?sentinelMasterId=a&SENTINELMASTERID=a"),
            UrlError::DuplicateQueryKey {
                key: "SENTINELMASTERID".into()
            }
        );
    }

    #[test]
    fn address_rules_repeat_and_round_trip() {
        let t = parse(
            "redis+sentinel://h1/svc?map=10.0.0.5:6379=>127.0.0.1:7001&map=redis-0=>localhost",
        )
        .unwrap();
        let rules: Vec<String> = t.address_map.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            rules,
            ["10.0.0.5:6379=>127.0.0.1:7001", "redis-0=>localhost"]
        );
        let back = parse(&t.to_url()).unwrap();
        assert_eq!(back.address_map, t.address_map);
        let c = t.to_config().unwrap();
        assert_eq!(
            c.address_map.dial(&Addr::new("10.0.0.5", 6379)),
            Some(Addr::new("127.0.0.1", 7001))
        );
        let r = parse("redis+sentinel://h1/svc?read_from=replica-preferred").unwrap();
        assert_eq!(
            r.to_config().unwrap().read_from,
            crate::sentinel::ReadFrom::ReplicaPreferred
        );
        assert_eq!(parse(&r.to_url()).unwrap().read_from, r.read_from);
        assert!(matches!(
            parse("redis+sentinel://h1/svc?read_from=nearest"),
            Err(UrlError::UnknownReadFrom { .. })
        ));
        let e = parse("redis+sentinel://h1/svc?map=10.0.0.5:6379").unwrap_err();
        assert!(matches!(e, UrlError::BadAddressRule { .. }), "{e:?}");
        assert!(e.to_string().contains("announced=>dial"), "{e}");
    }
}
