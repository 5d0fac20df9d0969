//! Plain `redis://` (`rediss://`, `valkey://`, `valkeys://`) URLs read as Sentinel targets:
//! go-redis (`master_name=`), rueidis (`master_set=`), otherwise django-redis
//! (`redis://service/db?is_master=0|1`).

use super::{db_only_path, service_name, set_db};
use crate::sentinel::Role;
use crate::url::hosts::{parse_host_port, push_unique, DEFAULT_SENTINEL_PORT};
use crate::url::parts::{self, Parts};
use crate::url::query::Query;
use crate::url::{values, Secret, SentinelTarget, UrlError, UrlForm};

/// Chooses the form by query key and parses.
pub(super) fn parse(p: Parts<'_>, tls: bool) -> Result<SentinelTarget, UrlError> {
    let q = Query::parse(p.query, false, &["addr"])?;
    let form = match (q.has("master_name"), q.has("master_set")) {
        (true, true) => {
            return Err(UrlError::Conflict {
                what: "service keys (go-redis master_name=, rueidis master_set=)",
                first: "master_name".into(),
                second: "master_set".into(),
            })
        }
        (true, false) => UrlForm::GoRedis,
        (false, true) => UrlForm::Rueidis,
        (false, false) => UrlForm::Django,
    };
    let mut t = SentinelTarget::empty(form, &p.scheme);
    t.tls = tls;
    if p.fragment.is_some() {
        return Err(UrlError::UnexpectedFragment { form });
    }
    match form {
        UrlForm::Django => django(p, q, t),
        _ => go(p, q, t),
    }
}

const DJANGO_KEYS: &[&str] = &["is_master", "db", "protocol", "socket_timeout"];
const DJANGO_IGNORED: &[&str] = &[
    "client_name",
    "health_check_interval",
    "socket_connect_timeout",
    "socket_keepalive",
    "retry_on_timeout",
    "max_connections",
];

/// django-redis: the host part is the service name; sentinels come from elsewhere.
fn django(p: Parts<'_>, mut q: Query, mut t: SentinelTarget) -> Result<SentinelTarget, UrlError> {
    (t.username, t.password) = parts::userinfo(p.userinfo, "data-node")?;
    if p.hosts.contains(':') {
        return Err(UrlError::ServiceHasPort {
            authority: p.hosts.to_owned(),
        });
    }
    if p.hosts.contains(',') {
        return Err(UrlError::BadHost {
            host: p.hosts.to_owned(),
            reason: "a django-style URL names one service; sentinels are given separately",
        });
    }
    t.service = Some(service_name(p.hosts)?);
    t.db = db_only_path(p.path, "`/db` (a database number) or nothing")?;
    if let Some(db) = q.take("db")? {
        set_db(&mut t.db, &db, "database in path and `db=`")?;
    }
    if let Some(v) = q.take("is_master")? {
        t.role = Some(values::is_master(&v)?);
    }
    if let Some(v) = q.take("protocol")? {
        t.protocol = Some(values::protocol(&v)?);
    }
    if let Some(v) = q.take("socket_timeout")? {
        t.timeout = Some(values::timeout("socket_timeout", &v)?);
    }
    t.ignored_keys = q.finish(t.form, DJANGO_KEYS, DJANGO_IGNORED)?;
    Ok(t)
}

const GO_REDIS_KEYS: &[&str] = &[
    "master_name",
    "addr",
    "username",
    "password",
    "db",
    "protocol",
    "replica_only",
    "dial_timeout",
];
const GO_REDIS_IGNORED: &[&str] = &[
    "client_name",
    "max_retries",
    "min_retry_backoff",
    "max_retry_backoff",
    "read_timeout",
    "write_timeout",
    "context_timeout_enabled",
    "pool_fifo",
    "pool_size",
    "pool_timeout",
    "min_idle_conns",
    "max_idle_conns",
    "max_active_conns",
    "conn_max_idle_time",
    "conn_max_lifetime",
    "route_by_latency",
    "route_randomly",
    "use_disconnected_replicas",
    "skip_verify",
    "disableIdentity",
    "identitySuffix",
    "unstable_resp3",
];
const RUEIDIS_KEYS: &[&str] = &["master_set", "addr", "db", "protocol", "dial_timeout"];
const RUEIDIS_IGNORED: &[&str] = &[
    "client_name",
    "client_cache",
    "max_retries",
    "write_timeout",
    "skip_verify",
];

/// go-redis `ParseFailoverURL` and rueidis `ParseURL`: the host and every `addr=` are sentinels.
fn go(p: Parts<'_>, mut q: Query, mut t: SentinelTarget) -> Result<SentinelTarget, UrlError> {
    let go_redis = t.form == UrlForm::GoRedis;
    let (user, pass) =
        parts::userinfo(p.userinfo, if go_redis { "sentinel" } else { "data-node" })?;
    if go_redis {
        (t.sentinel_username, t.sentinel_password) = (user, pass);
    } else {
        (t.username, t.password) = (user, pass);
    }
    if p.hosts.contains(',') {
        return Err(UrlError::BadHost {
            host: p.hosts.to_owned(),
            reason: "this form takes one host; add more sentinels with `addr=h:p`",
        });
    }
    t.sentinels = vec![parse_host_port(p.hosts, DEFAULT_SENTINEL_PORT)?];
    t.db = db_only_path(p.path, "`/db` (a database number) or nothing")?;
    let name_key = if go_redis {
        "master_name"
    } else {
        "master_set"
    };
    let name = q.take(name_key)?.unwrap_or_default();
    if name.is_empty() {
        return Err(UrlError::EmptyServiceName);
    }
    t.service = Some(name);
    for addr in q.take_all("addr")? {
        push_unique(
            &mut t.sentinels,
            parse_host_port(&addr, DEFAULT_SENTINEL_PORT)?,
        );
    }
    if let Some(db) = q.take("db")? {
        set_db(&mut t.db, &db, "database in path and `db=`")?;
    }
    if let Some(v) = q.take("protocol")? {
        t.protocol = Some(values::protocol(&v)?);
    }
    if let Some(v) = q.take("dial_timeout")? {
        t.timeout = Some(values::timeout("dial_timeout", &v)?);
    }
    if go_redis {
        t.username = q.take("username")?.filter(|s| !s.is_empty());
        t.password = q
            .take("password")?
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        if let Some(v) = q.take("replica_only")? {
            if values::boolean("replica_only", &v)? {
                t.role = Some(Role::Replica);
            }
        }
        t.ignored_keys = q.finish(t.form, GO_REDIS_KEYS, GO_REDIS_IGNORED)?;
    } else {
        t.ignored_keys = q.finish(t.form, RUEIDIS_KEYS, RUEIDIS_IGNORED)?;
    }
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
    fn django_forms() {
        let t = parse("redis://mymaster/1?is_master=0").unwrap();
        assert_eq!(t.form, UrlForm::Django);
        assert_eq!(t.service.as_deref(), Some("mymaster"));
        assert_eq!(t.db, Some(1));
        assert_eq!(t.role, Some(Role::Replica));
        assert!(t.sentinels.is_empty());
        let t = parse("redis://mymaster/0?is_master=1").unwrap();
        assert_eq!(t.role, Some(Role::Master));
        let t = parse("rediss://:pw@svc").unwrap();
        assert!(t.tls);
        assert_eq!((t.password.clone(), t.db, t.role), (pw("pw"), None, None));
        let t = parse("valkey://u:p@svc/2?client_name=x&protocol=3&socket_timeout=0.5").unwrap();
        assert_eq!(t.username.as_deref(), Some("u"));
        assert_eq!(t.ignored_keys, vec!["client_name"]);
        assert_eq!(t.protocol, Some(Protocol::Resp3));
        assert_eq!(t.timeout, Some(Duration::from_millis(500)));
    }

    #[test]
    fn django_errors() {
        let e = |u: &str| parse(u).unwrap_err();
        assert_eq!(
            e("redis://svc/0?is_master=2"),
            UrlError::BadIsMaster { value: "2".into() }
        );
        assert_eq!(
            e("redis://svc/0?is_master=true"),
            UrlError::BadIsMaster {
                value: "true".into()
            }
        );
        let err = e("redis://h1:26379/0");
        assert_eq!(
            err,
            UrlError::ServiceHasPort {
                authority: "h1:26379".into()
            }
        );
        assert!(err.to_string().contains("master_name="));
        assert_eq!(e("redis:///0"), UrlError::EmptyServiceName);
        assert!(matches!(e("redis://svc/x"), UrlError::BadPath { .. }));
        assert!(matches!(
            e("redis://svc/0?addr=h:1"),
            UrlError::UnknownQueryKey {
                form: UrlForm::Django,
                ..
            }
        ));
        assert!(matches!(e("redis://a,b/0"), UrlError::BadHost { .. }));
        assert_eq!(
            e("redis://svc/0?is_master=1&is_master=1"),
            UrlError::DuplicateQueryKey {
                key: "is_master".into()
            }
        );
    }

    #[test]
    fn go_redis_forms() {
        let t = parse(
            "redis://suser:spass@h1:26379/2?master_name=mymaster&addr=h2:26380&addr=h3\
             &username=app&password=apw&protocol=3&replica_only=true&dial_timeout=3&read_timeout=6s",
        )
        .unwrap();
        assert_eq!(t.form, UrlForm::GoRedis);
        assert_eq!(
            t.sentinels,
            vec![
                Addr::new("h1", 26379),
                Addr::new("h2", 26380),
                Addr::new("h3", 26379)
            ]
        );
        assert_eq!(t.service.as_deref(), Some("mymaster"));
        assert_eq!(t.db, Some(2));
        // go-redis userinfo authenticates the sentinels.
        assert_eq!(t.sentinel_username.as_deref(), Some("suser"));
        assert_eq!(t.sentinel_password, pw("spass"));
        assert_eq!(t.username.as_deref(), Some("app"));
        assert_eq!(t.password, pw("apw"));
        assert_eq!(t.role, Some(Role::Replica));
        assert_eq!(t.protocol, Some(Protocol::Resp3));
        assert_eq!(t.timeout, Some(Duration::from_secs(3)));
        assert_eq!(t.ignored_keys, vec!["read_timeout"]);
        let t = parse("rediss://h1?master_name=m&db=5&replica_only=0").unwrap();
        assert!(t.tls);
        assert_eq!((t.db, t.role), (Some(5), None));
        assert_eq!(t.sentinels, vec![Addr::new("h1", 26379)]);
        let t = parse("redis://h?master_name=a%25b+c").unwrap();
        assert_eq!(t.service.as_deref(), Some("a%b c"));
    }

    #[test]
    fn go_redis_errors() {
        let e = |u: &str| parse(u).unwrap_err();
        assert_eq!(e("redis://h?master_name="), UrlError::EmptyServiceName);
        assert_eq!(
            e("redis://h?master_name=m&addr=h2:99999"),
            UrlError::BadPort {
                port: "99999".into()
            }
        );
        assert!(matches!(
            e("redis://h1,h2?master_name=m"),
            UrlError::BadHost { .. }
        ));
        assert!(matches!(
            e("redis://h/1?master_name=m&db=2"),
            UrlError::Conflict { .. }
        ));
        assert!(matches!(
            e("redis://h?master_name=m&replica_only=maybe"),
            UrlError::BadBool { .. }
        ));
        assert!(matches!(
            e("redis://h?master_name=m&dial_timeout=5x"),
            UrlError::BadTimeout { .. }
        ));
        assert!(matches!(
            e("redis://h?master_name=m&sentinel_password=x"),
            UrlError::UnknownQueryKey {
                form: UrlForm::GoRedis,
                ..
            }
        ));
        assert!(matches!(
            e("redis://h?master_name=m&master_set=m"),
            UrlError::Conflict { .. }
        ));
        assert_eq!(
            e("redis://:26379?master_name=m"),
            UrlError::EmptyHost { index: 1 }
        );
        assert_eq!(
            e("redis://h?master_name=m&master_name=n"),
            UrlError::DuplicateQueryKey {
                key: "master_name".into()
            }
        );
    }

    #[test]
    fn rueidis_forms() {
        let t =
            parse("redis://u:p@h1:26379/1?master_set=mymaster&addr=h2:26380&protocol=2").unwrap();
        assert_eq!(t.form, UrlForm::Rueidis);
        // rueidis userinfo authenticates the data nodes.
        assert_eq!(t.username.as_deref(), Some("u"));
        assert_eq!(t.password, pw("p"));
        assert_eq!(t.sentinel_password, None);
        assert_eq!(t.service.as_deref(), Some("mymaster"));
        assert_eq!(t.sentinels.len(), 2);
        assert_eq!((t.db, t.protocol), (Some(1), Some(Protocol::Resp2)));
        let t = parse("valkeys://h?master_set=m&client_cache=0&dial_timeout=1m").unwrap();
        assert!(t.tls);
        assert_eq!(t.timeout, Some(Duration::from_secs(60)));
        assert_eq!(t.ignored_keys, vec!["client_cache"]);
        assert!(matches!(
            parse("redis://h?master_set=m&username=x"),
            Err(UrlError::UnknownQueryKey {
                form: UrlForm::Rueidis,
                ..
            })
        ));
    }
}
