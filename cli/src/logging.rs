//! The log subscriber: the client's `tracing` events on standard error.
//!
//! Level: `-q` errors only; default warnings; `-v` info, `-vv` debug, `-vvv` trace. Without
//! `-v`/`-q`, `RUST_LOG` chooses (`debug`, `resp_sentinel=trace,warn`: a level, or
//! `target=level` directives separated by commas). Every line goes through
//! [`EscapingStderr`], so server text in a log line cannot drive the terminal. Nothing logged
//! carries a password: the client logs addresses and events, and `Credentials`, `Secret` and
//! `SentinelTarget` hide them in `Debug`.

use crate::args::UsageError;
use crate::escape::{escape, EscapingStderr};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// The filter `-v`/`-q` (`verbose`, `quiet`) and `rust_log` (the variable's value) ask for;
/// `Err` for contradicting flags. A `RUST_LOG` that does not parse gives the default and a
/// warning to print.
pub fn filter(
    verbose: u8,
    quiet: bool,
    rust_log: Option<&str>,
) -> Result<(Targets, Option<String>), UsageError> {
    let level = |l| Targets::new().with_default(l);
    Ok(match (verbose, quiet) {
        (0, true) => (level(LevelFilter::ERROR), None),
        (_, true) => return Err(UsageError("-q and -v exclude each other".into())),
        (1, false) => (level(LevelFilter::INFO), None),
        (2, false) => (level(LevelFilter::DEBUG), None),
        (3.., false) => (level(LevelFilter::TRACE), None),
        (0, false) => match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
            None => (level(LevelFilter::WARN), None),
            Some(spec) => match spec.parse::<Targets>() {
                Ok(t) => (t, None),
                Err(e) => (
                    level(LevelFilter::WARN),
                    Some(format!(
                        "RUST_LOG `{}` ignored ({e}); logging warnings",
                        escape(spec)
                    )),
                ),
            },
        },
    })
}

/// Installs the subscriber (once; later calls do nothing).
pub fn init(verbose: u8, quiet: bool) -> Result<(), UsageError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, warning) = filter(verbose, quiet, rust_log.as_deref())?;
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| EscapingStderr)
        .with_filter(filter);
    if tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_ok()
    {
        if let Some(w) = warning {
            tracing::warn!("{w}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn allows(t: &Targets, target: &str, level: Level) -> bool {
        t.would_enable(target, &level)
    }

    #[test]
    fn flags_then_rust_log_then_warn() {
        let f = |v, q, env| filter(v, q, env).unwrap().0;
        let t = f(0, false, None);
        assert!(allows(&t, "resp_sentinel", Level::WARN));
        assert!(!allows(&t, "resp_sentinel", Level::INFO));
        assert!(allows(&f(1, false, None), "x", Level::INFO));
        assert!(!allows(&f(1, false, None), "x", Level::DEBUG));
        assert!(allows(&f(2, false, None), "x", Level::DEBUG));
        assert!(allows(&f(3, false, None), "x", Level::TRACE));
        assert!(!allows(&f(0, true, None), "x", Level::WARN));
        assert!(allows(&f(0, true, None), "x", Level::ERROR));
        let t = f(0, false, Some("resp_sentinel=debug,warn"));
        assert!(allows(&t, "resp_sentinel::driver", Level::DEBUG));
        assert!(!allows(&t, "other", Level::INFO));
        // Flags win over RUST_LOG.
        assert!(!allows(&f(0, true, Some("trace")), "x", Level::WARN));
        assert!(filter(1, true, None).is_err());
        let (t, warning) = filter(0, false, Some("=\u{1b}[2J")).unwrap();
        assert!(allows(&t, "x", Level::WARN) && !allows(&t, "x", Level::INFO));
        let warning = warning.unwrap();
        assert!(!warning.contains('\u{1b}'), "{warning}");
    }
}
