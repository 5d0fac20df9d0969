//! A small command-line parser: `--flag value`, `--flag=value`, repeatable flags, positionals.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Parsed arguments of one subcommand.
#[derive(Debug, Default)]
pub struct Args {
    values: BTreeMap<String, Vec<String>>,
    switches: Vec<String>,
    /// Arguments that are not flags, in order.
    pub positional: Vec<String>,
    /// How many `-v` (`-vv` counts two).
    pub verbose: u8,
    /// Whether `-q` was given.
    pub quiet: bool,
}

/// A usage mistake, said in one line.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Args {
    /// Parses `argv`; `with_value` lists the flags that take a value, `switches` those that don't.
    pub fn parse(
        argv: &[String],
        with_value: &[&str],
        switches: &[&str],
    ) -> Result<Args, UsageError> {
        let mut args = Args::default();
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-q" | "--quiet" => {
                    args.quiet = true;
                    continue;
                }
                "--verbose" => {
                    args.verbose = args.verbose.saturating_add(1);
                    continue;
                }
                v if v.len() > 1 && v.starts_with('-') && v[1..].bytes().all(|b| b == b'v') => {
                    let n = u8::try_from(v.len() - 1).unwrap_or(u8::MAX);
                    args.verbose = args.verbose.saturating_add(n);
                    continue;
                }
                _ => {}
            }
            let Some(flag) = a.strip_prefix("--") else {
                args.positional.push(a.clone());
                continue;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            if switches.contains(&name) {
                if inline.is_some() {
                    return Err(UsageError(format!("--{name} takes no value")));
                }
                args.switches.push(name.to_string());
            } else if with_value.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| UsageError(format!("--{name} needs a value")))?,
                };
                args.values.entry(name.to_string()).or_default().push(v);
            } else {
                return Err(UsageError(format!("unknown flag --{name}")));
            }
        }
        Ok(args)
    }

    /// The last value of `--name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(|s| s.as_str())
    }

    /// Every value of a repeatable `--name`.
    pub fn values(&self, name: &str) -> &[String] {
        self.values.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Whether the switch `--name` was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// `--name` as a duration (`20s`, `500ms`, `2m`, or plain seconds).
    pub fn duration(&self, name: &str) -> Result<Option<Duration>, UsageError> {
        self.value(name)
            .map(|v| {
                parse_duration(v).ok_or_else(|| {
                    UsageError(format!(
                        "--{name} {v}: expected a duration like 20s or 500ms"
                    ))
                })
            })
            .transpose()
    }
}

/// Reads `20s`, `500ms`, `2m` or a plain number of seconds (fractions allowed).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.parse().ok()?;
    // Negative, NaN, infinite and too-large values are refused rather than panicking.
    Duration::try_from_secs_f64(v * scale).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_values_and_positionals() {
        let a = Args::parse(
            &argv("url --sentinel a:1 --sentinel=b:2 --json --duration 5s"),
            &["sentinel", "duration"],
            &["json"],
        )
        .unwrap();
        assert_eq!(a.positional, ["url"]);
        assert_eq!(a.values("sentinel"), ["a:1", "b:2"]);
        assert!(a.switch("json"));
        assert_eq!(
            a.duration("duration").unwrap(),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn verbosity_flags_anywhere_but_as_a_value() {
        let a = Args::parse(&argv("-v url -vv --password -v"), &["password"], &[]).unwrap();
        assert_eq!((a.verbose, a.quiet), (3, false));
        assert_eq!(a.value("password"), Some("-v"));
        assert_eq!(a.positional, ["url"]);
        let a = Args::parse(&argv("-q --verbose"), &[], &[]).unwrap();
        assert_eq!((a.verbose, a.quiet), (1, true));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            Args::parse(&argv("--nope"), &[], &[]).unwrap_err().0,
            "unknown flag --nope"
        );
        assert_eq!(
            Args::parse(&argv("--db"), &["db"], &[]).unwrap_err().0,
            "--db needs a value"
        );
        let a = Args::parse(&argv("--duration 5x"), &["duration"], &[]).unwrap();
        assert!(a.duration("duration").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(
            parse_duration("1e300m"),
            None,
            "too large: refused, no panic"
        );
        assert_eq!(parse_duration("inf"), None);
        assert_eq!(parse_duration("NaN"), None);
    }
}
