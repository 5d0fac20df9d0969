//! [`SentinelTarget`]: what a URL (plus command-line flags) says about where and how to connect.

use super::{hosts::push_unique, percent::encode_into, values::format_timeout, UrlError};
use crate::sentinel::{Addr, Role};
use std::fmt;
use std::time::Duration;

/// A password (or other secret) whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for sending in `AUTH` / `HELLO`; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// RESP protocol version to negotiate with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// RESP2 (no `HELLO`, or `HELLO 2`).
    Resp2,
    /// RESP3 (`HELLO 3`).
    Resp3,
}

/// Which ecosystem's syntax a target was read from; it decides whom the userinfo authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UrlForm {
    /// `redis+sentinel://`, `valkey+sentinel://` and their TLS variants (our canonical form).
    RedisSentinel,
    /// Celery/Kombu `sentinel://...;sentinel://...`.
    Kombu,
    /// django-redis `redis://service/db?is_master=0|1`.
    Django,
    /// Lettuce / fred `redis-sentinel://...` and variants.
    LettuceFred,
    /// go-redis `ParseFailoverURL`: `redis://...?master_name=X`.
    GoRedis,
    /// rueidis `redis://...?master_set=X`.
    Rueidis,
    /// No URL: the target was built from flags only.
    Flags,
}

impl fmt::Display for UrlForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlForm::RedisSentinel => "redis+sentinel",
            UrlForm::Kombu => "Celery/Kombu sentinel://",
            UrlForm::Django => "django-redis",
            UrlForm::LettuceFred => "Lettuce/fred redis-sentinel",
            UrlForm::GoRedis => "go-redis (master_name=)",
            UrlForm::Rueidis => "rueidis (master_set=)",
            UrlForm::Flags => "flags-only",
        })
    }
}

/// Everything a Sentinel client needs to find and reach a service, from any accepted URL form
/// and/or flags. `Debug` never shows passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelTarget {
    /// Which syntax the URL used ([`UrlForm::Flags`] when there was none).
    pub form: UrlForm,
    /// The URL scheme as written, lowercased (`""` for flags only).
    pub scheme: String,
    /// Sentinel addresses, in order, without duplicates.
    pub sentinels: Vec<Addr>,
    /// Service (master) name; `None` when the form leaves it to a flag such as `--master`.
    pub service: Option<String>,
    /// Database to `SELECT` on data nodes.
    pub db: Option<u32>,
    /// ACL username for data nodes (master and replicas).
    pub username: Option<String>,
    /// Password for data nodes.
    pub password: Option<Secret>,
    /// ACL username for sentinels.
    pub sentinel_username: Option<String>,
    /// Password for sentinels.
    pub sentinel_password: Option<Secret>,
    /// Which data node to use; `None` means the client default (the master).
    pub role: Option<Role>,
    /// RESP version to negotiate; `None` means the client default.
    pub protocol: Option<Protocol>,
    /// Connect/command timeout; `None` means the client default.
    pub timeout: Option<Duration>,
    /// TLS to sentinels and data nodes (the `rediss`/`valkeys` schemes).
    pub tls: bool,
    /// Query keys the source client knows that have no effect here (e.g. `client_name`),
    /// so a caller can warn about them.
    pub ignored_keys: Vec<String>,
}

impl fmt::Debug for SentinelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelTarget")
            .field("form", &self.form)
            .field("scheme", &self.scheme)
            .field("sentinels", &self.sentinels)
            .field("service", &self.service)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("sentinel_username", &self.sentinel_username)
            .field("sentinel_password", &self.sentinel_password)
            .field("role", &self.role)
            .field("protocol", &self.protocol)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("ignored_keys", &self.ignored_keys)
            .finish()
    }
}

impl Default for SentinelTarget {
    fn default() -> Self {
        SentinelTarget::new()
    }
}

impl SentinelTarget {
    /// An empty target of form [`UrlForm::Flags`], to be filled from flags with `with_*`.
    pub fn new() -> SentinelTarget {
        SentinelTarget::empty(UrlForm::Flags, "")
    }

    pub(crate) fn empty(form: UrlForm, scheme: &str) -> SentinelTarget {
        SentinelTarget {
            form,
            scheme: scheme.to_owned(),
            sentinels: Vec::new(),
            service: None,
            db: None,
            username: None,
            password: None,
            sentinel_username: None,
            sentinel_password: None,
            role: None,
            protocol: None,
            timeout: None,
            tls: false,
            ignored_keys: Vec::new(),
        }
    }

    /// Adds sentinels (e.g. repeated `--sentinel h:p`) after those of the URL, skipping
    /// addresses already listed.
    pub fn with_sentinels(mut self, sentinels: impl IntoIterator<Item = Addr>) -> Self {
        for a in sentinels {
            push_unique(&mut self.sentinels, a);
        }
        self
    }

    /// Sets the service (master) name (`--master`); a flag overrides the URL.
    pub fn with_service(mut self, name: impl Into<String>) -> Self {
        self.service = Some(name.into());
        self
    }

    /// Sets the database (`--db`); overrides the URL.
    pub fn with_db(mut self, db: u32) -> Self {
        self.db = Some(db);
        self
    }

    /// Sets the data-node username (`--username`); overrides the URL.
    pub fn with_username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the data-node password (`--password`); overrides the URL.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(Secret::new(password));
        self
    }

    /// Sets the sentinel username (`--sentinel-username`); overrides the URL.
    pub fn with_sentinel_username(mut self, username: impl Into<String>) -> Self {
        self.sentinel_username = Some(username.into());
        self
    }

    /// Sets the sentinel password (`--sentinel-password`); overrides the URL.
    pub fn with_sentinel_password(mut self, password: impl Into<String>) -> Self {
        self.sentinel_password = Some(Secret::new(password));
        self
    }

    /// Sets the role of the data node to use; overrides the URL.
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// Sets the RESP version; overrides the URL.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Sets the timeout; overrides the URL.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Turns TLS on or off; overrides the scheme.
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// Checks that the target can be used: at least one sentinel, a non-empty service name,
    /// and no username without its password. Reports everything missing at once.
    pub fn validate(&self) -> Result<(), UrlError> {
        let no_sentinels = self.sentinels.is_empty();
        let no_service = self.service.as_deref().is_none_or(str::is_empty);
        if no_sentinels || no_service {
            return Err(UrlError::Incomplete {
                no_sentinels,
                no_service,
            });
        }
        if self.username.is_some() && self.password.is_none() {
            return Err(UrlError::UsernameWithoutPassword { sentinel: false });
        }
        if self.sentinel_username.is_some() && self.sentinel_password.is_none() {
            return Err(UrlError::UsernameWithoutPassword { sentinel: true });
        }
        Ok(())
    }

    /// The target in our canonical form,
    /// `redis[s]+sentinel://[user:pass@]h1:p1[,h2:p2]/service[/db][?...]`, every text part
    /// percent-encoded. [`super::parse`] of the result gives back the same settings (with form
    /// [`UrlForm::RedisSentinel`]); a target without sentinels gives a URL that does not parse.
    /// The result contains the passwords: do not log it.
    pub fn to_url(&self) -> String {
        let mut url = String::from(if self.tls {
            "rediss+sentinel://"
        } else {
            "redis+sentinel://"
        });
        if self.username.is_some() || self.password.is_some() {
            if let Some(u) = &self.username {
                encode_into(&mut url, u);
            }
            url.push(':');
            if let Some(p) = &self.password {
                encode_into(&mut url, p.expose());
            }
            url.push('@');
        }
        for (i, a) in self.sentinels.iter().enumerate() {
            if i > 0 {
                url.push(',');
            }
            url.push_str(&a.to_string());
        }
        // A db without a service cannot be written in the path: it goes in the query.
        if let Some(s) = &self.service {
            url.push('/');
            encode_into(&mut url, s);
            if let Some(db) = self.db {
                url.push_str(&format!("/{db}"));
            }
        }
        let mut query: Vec<(&str, String)> = Vec::new();
        if self.service.is_none() {
            if let Some(db) = self.db {
                query.push(("db", db.to_string()));
            }
        }
        if let Some(u) = &self.sentinel_username {
            query.push(("sentinel_username", u.clone()));
        }
        if let Some(p) = &self.sentinel_password {
            query.push(("sentinel_password", p.expose().to_owned()));
        }
        if let Some(r) = self.role {
            query.push((
                "role",
                match r {
                    Role::Master => "master",
                    Role::Replica => "replica",
                }
                .to_owned(),
            ));
        }
        if let Some(p) = self.protocol {
            query.push((
                "protocol",
                match p {
                    Protocol::Resp2 => "2",
                    Protocol::Resp3 => "3",
                }
                .to_owned(),
            ));
        }
        if let Some(t) = self.timeout {
            query.push(("timeout", format_timeout(t)));
        }
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            encode_into(&mut url, v);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> SentinelTarget {
        SentinelTarget::new()
            .with_sentinels([Addr::new("h1", 1), Addr::new("::1", 2)])
            .with_service("svc")
            .with_db(3)
            .with_username("app")
            .with_password("data-s3cret")
            .with_sentinel_username("sent")
            .with_sentinel_password("sent-s3cret")
            .with_role(Role::Replica)
            .with_protocol(Protocol::Resp3)
            .with_timeout(Duration::from_millis(1500))
    }

    #[test]
    fn debug_never_shows_passwords() {
        let t = full();
        for text in [format!("{t:?}"), format!("{t:#?}")] {
            assert!(!text.contains("data-s3cret"), "{text}");
            assert!(!text.contains("sent-s3cret"), "{text}");
            assert!(text.contains("Secret(***)"), "{text}");
            assert!(text.contains("svc"), "{text}");
        }
        assert_eq!(format!("{:?}", Secret::new("x")), "Secret(***)");
    }

    #[test]
    fn builder_appends_sentinels_without_duplicates_and_overrides() {
        let t = full()
            .with_sentinels([Addr::new("h1", 1), Addr::new("h3", 3)])
            .with_service("other")
            .with_db(0);
        assert_eq!(
            t.sentinels,
            vec![Addr::new("h1", 1), Addr::new("::1", 2), Addr::new("h3", 3)]
        );
        assert_eq!(t.service.as_deref(), Some("other"));
        assert_eq!(t.db, Some(0));
        assert_eq!(t.form, UrlForm::Flags);
    }

    #[test]
    fn validate_reports_what_is_missing() {
        assert_eq!(
            SentinelTarget::new().validate(),
            Err(UrlError::Incomplete {
                no_sentinels: true,
                no_service: true
            })
        );
        let only_sentinel = SentinelTarget::new().with_sentinels([Addr::new("h", 1)]);
        let err = only_sentinel.validate().unwrap_err();
        assert_eq!(
            err,
            UrlError::Incomplete {
                no_sentinels: false,
                no_service: true
            }
        );
        assert!(err.to_string().contains("--master"), "{err}");
        let err = SentinelTarget::new()
            .with_service("s")
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("--sentinel"), "{err}");
        assert!(only_sentinel.clone().with_service("").validate().is_err());
        let ok = only_sentinel.with_service("s");
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(
            ok.clone().with_username("u").validate(),
            Err(UrlError::UsernameWithoutPassword { sentinel: false })
        );
        assert_eq!(
            ok.with_sentinel_username("u").validate(),
            Err(UrlError::UsernameWithoutPassword { sentinel: true })
        );
    }

    #[test]
    fn to_url_encodes_everything() {
        let url = full().with_password("p@ss:w/rd&x").to_url();
        assert_eq!(
            url,
            "redis+sentinel://app:p%40ss%3Aw%2Frd%26x@h1:1,[::1]:2/svc/3?sentinel_username=sent\
             &sentinel_password=sent-s3cret&role=replica&protocol=3&timeout=1500ms"
        );
        assert!(full()
            .with_tls(true)
            .to_url()
            .starts_with("rediss+sentinel://"));
    }
}
