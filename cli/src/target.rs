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
    "sentinel-tls",
    "tls-ca-file",
    "tls-cert-file",
    "tls-key-file",
    "tls-server-name",
];

/// Switches that describe a target, shared by every subcommand.
pub const TARGET_SWITCHES: &[&str] = &["tls", "tls-danger-accept-any-hostname"];

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
    tls_flags(args, &mut target)?;
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
        tls = config.tls.is_some(),
        sentinel_tls = config.sentinel_tls.is_some(),
        "target"
    );
    // Unreadable certificate files are a usage error now, not a failure of every connection.
    resp_sentinel::blocking::Sentinel::try_new(config.clone())
        .map_err(|e| UsageError(format!("target: {e}")))?;
    Ok(config)
}

/// `--tls`, `--sentinel-tls yes|no` and the certificate flags; each overrides the URL.
fn tls_flags(args: &Args, target: &mut SentinelTarget) -> Result<(), UsageError> {
    if args.switch("tls") {
        target.tls = true;
    }
    if let Some(v) = args.value("sentinel-tls") {
        target.tls_settings.sentinel_tls = Some(match v {
            "yes" | "true" | "1" => true,
            "no" | "false" | "0" => false,
            _ => {
                return Err(UsageError(format!(
                    "--sentinel-tls {}: expected yes or no",
                    escape(v)
                )))
            }
        });
    }
    let s = &mut target.tls_settings;
    for (flag, field) in [
        ("tls-ca-file", &mut s.ca_file),
        ("tls-cert-file", &mut s.cert_file),
        ("tls-key-file", &mut s.key_file),
        ("tls-server-name", &mut s.server_name),
    ] {
        if let Some(v) = args.value(flag) {
            *field = Some(v.to_owned());
        }
    }
    if args.switch("tls-danger-accept-any-hostname") {
        s.danger_accept_any_hostname = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(argv: &[&str]) -> Result<Config, UsageError> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let args = Args::parse(&argv, TARGET_FLAGS, TARGET_SWITCHES)?;
        config_from(&args)
    }

    #[test]
    fn tls_flags_set_each_side_and_files_are_checked() {
        let ca = std::env::temp_dir().join(format!("resp-sentinel-cli-ca-{}", std::process::id()));
        let c = config(&[
            "--sentinel",
            "127.0.0.1:26379",
            "--master",
            "m",
            "--sentinel-tls",
            "yes",
        ])
        .unwrap();
        assert!(c.tls.is_none() && c.sentinel_tls.is_some());
        let err = config(&[
            "redis+sentinel://127.0.0.1/m",
            "--tls",
            "--tls-ca-file",
            ca.to_str().unwrap(),
        ])
        .unwrap_err();
        assert!(err.0.contains(ca.to_str().unwrap()), "{}", err.0);
        let err = config(&["redis+sentinel://127.0.0.1/m", "--tls-ca-file", "/x"]).unwrap_err();
        assert!(err.0.contains("tls_ca_file"), "{}", err.0);
        let err = config(&["redis+sentinel://127.0.0.1/m", "--sentinel-tls", "maybe"]).unwrap_err();
        assert!(err.0.contains("--sentinel-tls"), "{}", err.0);
    }
}
