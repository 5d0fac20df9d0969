//! [`SentinelTarget`]: what a URL (plus command-line flags) says about where and how to connect.

use super::{hosts::push_unique, Protocol, Secret, UrlError, UrlForm};
use crate::sentinel::{Addr, AddressRule, Role};
use std::fmt;
use std::time::Duration;

/// Everything a Sentinel client needs to find and reach a service, from any accepted URL form
/// and/or flags. `Debug` never shows passwords or usernames (userinfo is never echoed).
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
    /// Where a master client sends reads (`read_from=`); `None` means the default (master).
    pub read_from: Option<crate::sentinel::ReadFrom>,
    /// RESP version to negotiate; `None` means the client default.
    pub protocol: Option<Protocol>,
    /// Connect/command timeout; `None` means the client default.
    pub timeout: Option<Duration>,
    /// TLS to data nodes, and by default to sentinels (the `rediss`/`valkeys` schemes).
    pub tls: bool,
    /// Where to dial announced addresses (`map=announced=>dial`, repeated; `--map`).
    pub address_map: Vec<AddressRule>,
    /// CA, client certificate, server name and per-side TLS switches (query keys or flags).
    pub tls_settings: super::TlsSettings,
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
            .field("username", &self.username.as_ref().map(|_| Hidden))
            .field("password", &self.password)
            .field(
                "sentinel_username",
                &self.sentinel_username.as_ref().map(|_| Hidden),
            )
            .field("sentinel_password", &self.sentinel_password)
            .field("role", &self.role)
            .field("read_from", &self.read_from)
            .field("protocol", &self.protocol)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .field("address_map", &self.address_map)
            .field("tls_settings", &self.tls_settings)
            .field("ignored_keys", &self.ignored_keys)
            .finish()
    }
}

/// Stands for a username in `Debug`.
struct Hidden;

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
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
            read_from: None,
            protocol: None,
            timeout: None,
            tls: false,
            address_map: Vec::new(),
            tls_settings: super::TlsSettings::default(),
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

    /// Adds address rules (e.g. repeated `--map`) after those of the URL.
    pub fn with_address_rules(mut self, rules: impl IntoIterator<Item = AddressRule>) -> Self {
        self.address_map.extend(rules);
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
            assert!(
                !text.contains("app") && !text.contains("\"sent\""),
                "{text}"
            );
            assert!(
                text.contains("***,") || text.contains("username: Some(***)"),
                "{text}"
            );
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
}
