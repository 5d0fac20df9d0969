//! `<target>`: a URL of any accepted form, completed or overridden by flags.

use crate::args::{Args, UsageError};
use crate::escape::escape;
use resp_sentinel_core::sentinel::{Addr, Config};
use resp_sentinel_core::url::{self, SentinelTarget};

/// Flags that describe a target, shared by every subcommand.
pub const TARGET_FLAGS: &[&str] = &[
    "sentinel",
    "master",
    "db",
    "password",
    "username",
    "sentinel-password",
    "sentinel-username",
    "map",
];

/// Builds the client configuration from the positional URL (if any) and the target flags.
pub fn config_from(args: &Args) -> Result<Config, UsageError> {
    let mut target = match args.positional.first() {
        // The URL itself is not echoed: it may carry passwords.
        Some(u) => url::parse(u).map_err(|e| UsageError(format!("target URL: {e}")))?,
        None => SentinelTarget::new(),
    };
    // The URL parser's host rules (no control characters, at most 253 bytes, default port).
    let sentinels = args
        .values("sentinel")
        .iter()
        .map(|s| {
            url::parse_host_port(s, url::DEFAULT_SENTINEL_PORT)
                .map_err(|e| UsageError(format!("--sentinel: {e}")))
        })
        .collect::<Result<Vec<Addr>, _>>()?;
    target = target.with_sentinels(sentinels);
    let rules = args
        .values("map")
        .iter()
        .map(|r| {
            r.parse()
                .map_err(|e: resp_sentinel_core::sentinel::AddrParseError| {
                    UsageError(format!("--map: {}", escape(&e.0)))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    target = target.with_address_rules(rules);
    if let Some(m) = args.value("master") {
        target = target.with_service(m);
    }
    if let Some(db) = args.value("db") {
        let db = db
            .parse()
            .map_err(|_| UsageError(format!("--db {db}: expected a database number")))?;
        target = target.with_db(db);
    }
    if let Some(p) = args.value("password") {
        target = target.with_password(p);
    }
    if let Some(u) = args.value("username") {
        target = target.with_username(u);
    }
    if let Some(p) = args.value("sentinel-password") {
        target = target.with_sentinel_password(p);
    }
    if let Some(u) = args.value("sentinel-username") {
        target = target.with_sentinel_username(u);
    }
    for key in &target.ignored_keys {
        tracing::warn!("URL key `{}` has no effect here", escape(key));
    }
    let config = target
        .to_config()
        .map_err(|e| UsageError(format!("target: {e}")))?;
    // What the target says, passwords only as present or not.
    tracing::debug!(
        sentinels = %escape(&format!("{:?}", config.sentinels)),
        service = %escape(&config.service),
        db = config.db,
        role = ?config.role,
        data_password = config.auth.is_some(),
        sentinel_password = config.sentinel_auth.is_some(),
        "target"
    );
    Ok(config)
}
