//! Sentinel target URLs from every ecosystem, parsed into one [`SentinelTarget`].
//!
//! Pure parsing: no I/O, no DNS. [`parse`] reads a URL; the `with_*` methods of
//! [`SentinelTarget`] merge command-line flags into it (a flag overrides the URL, `--sentinel`
//! adds to the URL's sentinels); [`SentinelTarget::validate`] says what is still missing;
//! [`SentinelTarget::to_url`] writes our canonical form back.
//!
//! # Our convention
//!
//! **Userinfo authenticates the data nodes** (master and replicas). Sentinel credentials go in
//! query keys (`sentinel_username`, `sentinel_password`; `sentinelUsername`, `sentinelPassword`
//! in the Lettuce/fred form) or flags. The one exception is go-redis's form, read as go-redis
//! reads it (below). We never copy data-node credentials to sentinels or back: give both when
//! both need them.
//!
//! Userinfo `user:pass` sets both, `:pass` only the password, and userinfo without a colon is a
//! password (as Lettuce and redis-cli read it). Userinfo, path segments, the fragment and query
//! keys and values are percent-decoded; in query keys and values `+` is a space (as Go, Python and
//! Java decode queries), so write a literal `+` as `%2B`. Write `/`, `?`, `#`, `@` (and `;` in a
//! Celery list) in userinfo percent-encoded: a URL whose userinfo cannot be told apart from the
//! rest (two `@` in the authority; an `@` in the path, the fragment, or a query value other than
//! a credential or a name) is refused with [`UrlError::UnencodedUserinfo`], which quotes nothing
//! of it. Control characters are refused ([`UrlError::ControlCharacter`]): raw anywhere, and
//! percent-encoded everywhere but in passwords; so are host names longer than 253 bytes. A sentinel without a port gets 26379
//! ([`DEFAULT_SENTINEL_PORT`]) in every form, including those whose client would default to 6379.
//! Schemes are matched without regard to case. A query key may appear once, except the
//! address-list keys `node` and `addr`; unknown keys are errors, and keys the source client knows
//! but that mean nothing here are accepted and listed in [`SentinelTarget::ignored_keys`].
//!
//! # Accepted forms, and whom their userinfo authenticates
//!
//! | Form ([`UrlForm`]) | Syntax | Userinfo is for |
//! |---|---|---|
//! | ours, [`UrlForm::RedisSentinel`] | `redis+sentinel://[user:pass@]h1[:p1][,h2[:p2]...][/service[/db]][?...]` | data nodes |
//! | Celery/Kombu, [`UrlForm::Kombu`] | `sentinel://[user:pass@]h1[:p1][/db];sentinel://...` | data nodes |
//! | django-redis, [`UrlForm::Django`] | `redis://[user:pass@]service[/db][?is_master=0\|1]` | data nodes |
//! | Lettuce / fred, [`UrlForm::LettuceFred`] | `redis-sentinel://[[user:]pass@]h1[:p1][,h2[:p2]][/db][?...][#service]` | data nodes |
//! | go-redis, [`UrlForm::GoRedis`] | `redis://[user:pass@]h[:p][/db]?master_name=X[&addr=h2:p2...]` | **sentinels** |
//! | rueidis, [`UrlForm::Rueidis`] | `redis://[user:pass@]h[:p][/db]?master_set=X[&addr=h2:p2...]` | data nodes |
//!
//! **Ours** (`redis+sentinel`, `valkey+sentinel`; `rediss+sentinel`, `valkeys+sentinel` set
//! [`SentinelTarget::tls`]): query keys `sentinel_username`, `sentinel_password`,
//! `role=master|replica`, `protocol=2|3`, `timeout` (see below), `db` (only needed when the
//! path has no service), `read_from=master|master_preferred|replica|replica_preferred|lowest_latency|any` (where a
//! master client sends reads, [`crate::sentinel::ReadFrom`]) and `map=announced=>dial`
//! (repeatable: [`crate::sentinel::AddressRule`], e.g. `map=10.0.0.5:6379=>127.0.0.1:7001`).
//! The service may be left out, for `--master` to supply.
//!
//! **Celery/Kombu** (`sentinel://`, `;`-separated, one sentinel per segment): Kombu builds its
//! sentinel list from every segment, takes the credentials and database from the first URL only
//! and hands them to redis-py's `Sentinel(...)` as connection arguments, which go to the master
//! and replicas; sentinels authenticate only through the `sentinel_kwargs` transport option, and
//! the service is the `master_name` transport option. We read credentials and the database from
//! any segment (they may appear on several if they agree, else [`UrlError::Conflict`]); the
//! service comes from a flag. No query keys.
//!
//! **django-redis** (`redis`, `rediss`, `valkey`, `valkeys` without `master_name`/`master_set`):
//! the host part is the service name (django-redis passes `hostname` as `service_name`; Python
//! lowercases it, so names that work there are lowercase), the sentinels come from its `SENTINELS`
//! option (here: flags), userinfo goes to the data-node pool, sentinel credentials come from
//! `SENTINEL_KWARGS` (here: flags). `is_master=1` is the master, `0` a replica; absent means the
//! default (master). Also `db`, `protocol`, `socket_timeout`.
//!
//! **Lettuce / fred** (`redis-sentinel`, `valkey-sentinel`; TLS: `rediss-sentinel`,
//! `valkeys-sentinel`): the path holds only the database (also `database=` / `db=`); the
//! service is the `#fragment` (Lettuce), `sentinelMasterId=` (Lettuce) or `sentinelServiceName=`
//! (fred); `node=h:p` adds sentinels (fred). Lettuce applies the userinfo password to the data
//! nodes and has no URL syntax for a sentinel password; fred applies userinfo to the data nodes
//! and takes `sentinelUsername=` / `sentinelPassword=` for sentinels (without them fred reuses the
//! data-node credentials for sentinels; we do not). Also `timeout` and `protocol`; these keys
//! match without regard to case.
//!
//! **go-redis** (`ParseFailoverURL`; selected by `master_name=`): the host and every `addr=` are
//! sentinels, and the **userinfo is the sentinel username and password**; the data-node
//! credentials are the `username=` / `password=` query keys. Also `db`, `protocol`,
//! `replica_only=true|false|1|0` (true selects a replica), `dial_timeout` (read as our timeout;
//! a plain number is seconds, as in go-redis).
//!
//! **rueidis** (`ParseURL` with `master_set=`): the host and every `addr=` are sentinels;
//! userinfo goes to the data nodes (rueidis takes sentinel credentials only from code, so use
//! flags). Also `db`, `protocol`, `dial_timeout`.
//!
//! **TLS** (ours and the Lettuce/fred form): a TLS scheme (`rediss+sentinel`, `valkeys+sentinel`,
//! `rediss-sentinel`, `valkeys-sentinel`) speaks TLS to the data nodes and, unless
//! `sentinel_tls=false`, to the sentinels; a plain scheme with `sentinel_tls=true` speaks TLS to
//! the sentinels only. Certificates are verified against the system's roots (found as
//! rustls-native-certs finds them, so `SSL_CERT_FILE` works) and the dialled host (an IP address
//! against the certificate's IP SANs). Keys ([`TlsSettings`]), applied to every TLS side:
//! `tls_ca_file=PATH` (trust only these CAs), `tls_cert_file=PATH` and `tls_key_file=PATH` (a
//! client certificate, for `tls-auth-clients yes`), `tls_server_name=NAME` (verify this name
//! instead of the dialled host), and `tls_danger_accept_any_hostname=true`, which skips the name
//! check only (the chain is still verified: any certificate from a trusted CA then passes, so
//! prefer `tls_server_name`). TLS keys without any TLS side are refused
//! ([`UrlError::TlsKeysWithoutTls`]). Separate settings per side are available on
//! [`crate::sentinel::Config`] (`tls`, `sentinel_tls`).
//!
//! **Timeouts** are a plain number of seconds (`5`, `1.5`) or number-unit groups (`500ms`, `5s`,
//! `1m30s`) with units `ns`, `us`, `ms`, `s`, `m`, `h`, `d`; they must be greater than zero.
//!
//! # Example
//!
//! ```
//! use resp_sentinel_core::url;
//! use resp_sentinel_core::sentinel::Addr;
//!
//! let t = url::parse("sentinel://:s3cret@h1:26379;sentinel://:s3cret@h2:26379/0")?
//!     .with_service("mymaster")
//!     .with_sentinels(["h3:26379".parse::<Addr>().unwrap()]);
//! t.validate()?;
//! assert_eq!(t.sentinels.len(), 3);
//! assert_eq!(t.password.as_ref().map(|p| p.expose()), Some("s3cret"));
//! assert!(!format!("{t:?}").contains("s3cret"));
//! # Ok::<(), url::UrlError>(())
//! ```

mod canonical;
mod config;
mod error;
mod forms;
mod hosts;
mod kinds;
mod parts;
mod percent;
mod query;
mod secret;
mod target;
mod tls;
mod values;

pub use error::UrlError;
pub use hosts::{parse_host_port, DEFAULT_SENTINEL_PORT};
pub use kinds::{Protocol, UrlForm};
pub use secret::Secret;
pub use target::SentinelTarget;
pub use tls::TlsSettings;

/// Parses a target URL in any accepted form (see the module docs for the forms and how each
/// one's userinfo maps). The result may still lack sentinels or a service name that flags must
/// supply: call [`SentinelTarget::validate`] after merging them.
pub fn parse(url: &str) -> Result<SentinelTarget, UrlError> {
    forms::parse(url)
}

impl std::str::FromStr for SentinelTarget {
    type Err = UrlError;
    /// Same as [`parse`].
    fn from_str(s: &str) -> Result<SentinelTarget, UrlError> {
        parse(s)
    }
}

#[cfg(test)]
mod tests;
