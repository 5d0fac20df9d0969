//! The TLS query keys of our form and the Lettuce/fred form, and what they make of the
//! client's TLS settings.

use super::query::Query;
use super::{values, SentinelTarget, UrlError};
use crate::sentinel::{ClientIdentity, Config, Pem, TlsConfig, TlsRoots};
use std::path::PathBuf;

/// TLS details a URL (or flags) may give beside the scheme's TLS switch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tls_ca_file`: trust only the CAs in this PEM file (default: the system's roots).
    pub ca_file: Option<String>,
    /// `tls_cert_file`: client certificate (PEM) for servers that require one.
    pub cert_file: Option<String>,
    /// `tls_key_file`: the client certificate's private key (PEM).
    pub key_file: Option<String>,
    /// `sentinel_tls=true|false`: whether sentinels speak TLS too (default: as the scheme says).
    pub sentinel_tls: Option<bool>,
    /// `tls_server_name`: the name verified on every server's certificate, instead of the
    /// address dialled.
    pub server_name: Option<String>,
    /// `tls_danger_accept_any_hostname=true`: skip the certificate name check only (the chain
    /// is still verified). See [`TlsConfig::danger_accept_any_hostname`].
    pub danger_accept_any_hostname: bool,
}

impl TlsSettings {
    /// Takes the TLS keys out of `q`.
    pub(crate) fn take(q: &mut Query) -> Result<TlsSettings, UrlError> {
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let mut s = TlsSettings {
            ca_file: non_empty(q.take("tls_ca_file")?),
            cert_file: non_empty(q.take("tls_cert_file")?),
            key_file: non_empty(q.take("tls_key_file")?),
            server_name: non_empty(q.take("tls_server_name")?),
            ..TlsSettings::default()
        };
        if let Some(v) = q.take("sentinel_tls")? {
            s.sentinel_tls = Some(values::boolean("sentinel_tls", &v)?);
        }
        if let Some(v) = q.take("tls_danger_accept_any_hostname")? {
            s.danger_accept_any_hostname = values::boolean("tls_danger_accept_any_hostname", &v)?;
        }
        Ok(s)
    }

    /// The first key set, if any (for "TLS keys without TLS" errors).
    fn first_key(&self) -> Option<&'static str> {
        [
            (self.ca_file.is_some(), "tls_ca_file"),
            (self.cert_file.is_some(), "tls_cert_file"),
            (self.key_file.is_some(), "tls_key_file"),
            (self.server_name.is_some(), "tls_server_name"),
            (
                self.danger_accept_any_hostname,
                "tls_danger_accept_any_hostname",
            ),
        ]
        .into_iter()
        .find_map(|(set, k)| set.then_some(k))
    }

    /// The keys as `(key, value)` pairs for [`SentinelTarget::to_url`].
    pub(crate) fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut put = |k, v: &Option<String>| {
            if let Some(v) = v {
                out.push((k, v.clone()));
            }
        };
        put("tls_ca_file", &self.ca_file);
        put("tls_cert_file", &self.cert_file);
        put("tls_key_file", &self.key_file);
        put("tls_server_name", &self.server_name);
        if let Some(b) = self.sentinel_tls {
            out.push(("sentinel_tls", b.to_string()));
        }
        if self.danger_accept_any_hostname {
            out.push(("tls_danger_accept_any_hostname", "true".into()));
        }
        out
    }

    fn config(&self) -> Result<TlsConfig, UrlError> {
        let identity = match (&self.cert_file, &self.key_file) {
            (None, None) => None,
            (Some(c), Some(k)) => Some(ClientIdentity {
                cert: Pem::File(PathBuf::from(c)),
                key: Pem::File(PathBuf::from(k)),
            }),
            (Some(_), None) => {
                return Err(UrlError::TlsIncomplete {
                    missing: "tls_key_file",
                })
            }
            (None, Some(_)) => {
                return Err(UrlError::TlsIncomplete {
                    missing: "tls_cert_file",
                })
            }
        };
        Ok(TlsConfig {
            roots: match &self.ca_file {
                Some(f) => TlsRoots::Pem(Pem::File(PathBuf::from(f))),
                None => TlsRoots::System,
            },
            identity,
            server_name: self.server_name.clone(),
            danger_accept_any_hostname: self.danger_accept_any_hostname,
        })
    }
}

impl SentinelTarget {
    /// Sets `c.tls` (data nodes: the scheme's TLS) and `c.sentinel_tls` (`sentinel_tls`, by
    /// default the scheme's TLS), both with the same CA, client certificate and name settings.
    pub(crate) fn apply_tls(&self, c: &mut Config) -> Result<(), UrlError> {
        let sentinel = self.tls_settings.sentinel_tls.unwrap_or(self.tls);
        if !self.tls && !sentinel {
            if let Some(key) = self.tls_settings.first_key() {
                return Err(UrlError::TlsKeysWithoutTls { key });
            }
            return Ok(());
        }
        let tls = self.tls_settings.config()?;
        c.tls = self.tls.then(|| tls.clone());
        c.sentinel_tls = sentinel.then_some(tls);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::sentinel::{Pem, TlsRoots};
    use crate::url::{parse, UrlError};

    #[test]
    fn a_tls_scheme_means_tls_on_both_sides_with_system_roots() {
        for url in [
            "rediss+sentinel://h1/svc",
            "valkeys+sentinel://h1/svc",
            "rediss-sentinel://h1#svc",
            "valkeys-sentinel://h1#svc",
        ] {
            let c = parse(url).unwrap().to_config().unwrap();
            let tls = c.tls.expect(url);
            assert_eq!(tls.roots, TlsRoots::System, "{url}");
            assert_eq!(c.sentinel_tls, Some(tls), "{url}");
        }
        let plain = parse("redis+sentinel://h1/svc")
            .unwrap()
            .to_config()
            .unwrap();
        assert_eq!((plain.tls, plain.sentinel_tls), (None, None));
    }

    #[test]
    fn keys_set_the_ca_the_client_certificate_and_each_side() {
        let c = parse(
            "rediss+sentinel://h1/svc?tls_ca_file=/etc/ca.pem&tls_cert_file=/c.pem\
             &tls_key_file=/k.pem&sentinel_tls=false&tls_server_name=redis.internal\
             &tls_danger_accept_any_hostname=true",
        )
        .unwrap()
        .to_config()
        .unwrap();
        assert_eq!(c.sentinel_tls, None, "plain sentinels");
        let tls = c.tls.unwrap();
        assert_eq!(tls.roots, TlsRoots::Pem(Pem::File("/etc/ca.pem".into())));
        let id = tls.identity.unwrap();
        assert_eq!(
            (id.cert, id.key),
            (Pem::File("/c.pem".into()), Pem::File("/k.pem".into()))
        );
        assert_eq!(tls.server_name.as_deref(), Some("redis.internal"));
        assert!(tls.danger_accept_any_hostname);
        // Lettuce's form matches keys without regard to case; sentinels alone may be TLS.
        let c = parse("redis-sentinel://h1?SENTINEL_TLS=1&tls_ca_file=/ca#svc")
            .unwrap()
            .to_config()
            .unwrap();
        assert!(c.tls.is_none() && c.sentinel_tls.is_some());
    }

    #[test]
    fn tls_keys_need_tls_and_a_certificate_needs_its_key() {
        let err = parse("redis+sentinel://h1/svc?tls_ca_file=/ca")
            .unwrap()
            .to_config()
            .unwrap_err();
        assert_eq!(err, UrlError::TlsKeysWithoutTls { key: "tls_ca_file" });
        assert!(err.to_string().contains("rediss+sentinel"), "{err}");
        let err = parse("rediss+sentinel://h1/svc?tls_cert_file=/c")
            .unwrap()
            .to_config()
            .unwrap_err();
        assert_eq!(
            err,
            UrlError::TlsIncomplete {
                missing: "tls_key_file"
            }
        );
        assert!(matches!(
            parse("rediss+sentinel://h1/svc?sentinel_tls=maybe"),
            Err(UrlError::BadBool { .. })
        ));
    }

    #[test]
    fn the_canonical_url_keeps_the_tls_keys() {
        let t = parse(
            "rediss+sentinel://h1/svc?tls_ca_file=/a%20b.pem&sentinel_tls=false\
             &tls_danger_accept_any_hostname=true",
        )
        .unwrap();
        let back = parse(&t.to_url()).unwrap();
        assert_eq!(back.tls_settings, t.tls_settings);
        assert!(back.tls);
    }
}
