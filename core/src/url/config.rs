//! From a parsed target to the client configuration.

use super::{SentinelTarget, UrlError};
use crate::sentinel::{Config, Credentials};

impl SentinelTarget {
    /// The client configuration this target describes, with defaults for everything it leaves
    /// open. Fails when the target is incomplete ([`SentinelTarget::validate`]) or its TLS
    /// settings do not add up ([`UrlError::TlsKeysWithoutTls`], [`UrlError::TlsIncomplete`]).
    pub fn to_config(&self) -> Result<Config, UrlError> {
        self.validate()?;
        let service = self.service.clone().unwrap_or_default();
        let mut c = Config::new(self.sentinels.clone(), service);
        if let Some(role) = self.role {
            c.role = role;
        }
        if let Some(r) = self.read_from {
            c.read_from = r;
        }
        c.db = self.db.unwrap_or(0);
        c.auth = self.password.as_ref().map(|p| Credentials {
            username: self.username.clone(),
            password: p.expose().to_owned(),
        });
        c.sentinel_auth = self.sentinel_password.as_ref().map(|p| Credentials {
            username: self.sentinel_username.clone(),
            password: p.expose().to_owned(),
        });
        if let Some(p) = self.protocol {
            c.protocol = p;
        }
        c.address_map = crate::sentinel::AddressMap::new(self.address_map.iter().cloned());
        if let Some(t) = self.timeout {
            c.connect_timeout = t;
            c.command_timeout = t;
            c.sentinel_timeout = t;
        }
        self.apply_tls(&mut c)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use crate::sentinel::{Addr, Protocol, Role};
    use crate::url::{parse, UrlError};
    use std::time::Duration;

    #[test]
    fn full_url_becomes_config() {
        let t = parse(
            "redis+sentinel://app:s3cret@10.0.0.1:26379,10.0.0.2/svc/3\
             ?sentinel_password=sp&role=replica&protocol=3&timeout=250ms",
        )
        .unwrap();
        let c = t.to_config().unwrap();
        assert_eq!(
            c.sentinels,
            vec![Addr::new("10.0.0.1", 26379), Addr::new("10.0.0.2", 26379)]
        );
        assert_eq!(
            (c.service.as_str(), c.db, c.role),
            ("svc", 3, Role::Replica)
        );
        let auth = c.auth.unwrap();
        assert_eq!(
            (auth.username.as_deref(), auth.password.as_str()),
            (Some("app"), "s3cret")
        );
        assert_eq!(c.sentinel_auth.unwrap().password, "sp");
        assert_eq!(c.protocol, Protocol::Resp3);
        assert_eq!(c.command_timeout, Duration::from_millis(250));
    }

    #[test]
    fn incomplete_is_an_error() {
        let no_service = parse("redis+sentinel://h1:26379").unwrap();
        assert!(matches!(
            no_service.to_config(),
            Err(UrlError::Incomplete { .. })
        ));
    }
}
