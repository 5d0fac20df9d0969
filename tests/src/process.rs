//! Child processes: finding binaries, spawning, signalling, reading log tails.

use crate::error::HarnessError;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Resolves `bin` like a shell would (a path with `/` as is, else through `PATH`) and checks it
/// is an executable file, so a missing Redis is reported before anything starts.
pub(crate) fn find_binary(bin: &Path) -> Result<PathBuf, HarnessError> {
    let missing = |detail: String| HarnessError::MissingBinary {
        binary: bin.to_path_buf(),
        detail,
    };
    let executable = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if bin.as_os_str().is_empty() {
        return Err(missing("empty path".into()));
    }
    if bin.components().count() > 1 || bin.is_absolute() {
        return if executable(bin) {
            Ok(bin.to_path_buf())
        } else {
            Err(missing("no executable file at that path".into()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(bin))
        .find(|p| executable(p))
        .ok_or_else(|| missing("not found in PATH".into()))
}

/// Spawns `bin args..` with stdin closed and stdout/stderr appended to `out_file` (Redis prints
/// config errors there before its own log file is open).
pub(crate) fn spawn(bin: &Path, args: &[&OsStr], out_file: &Path) -> Result<Child, HarnessError> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(out_file)
        .map_err(|e| HarnessError::io(format!("opening {}", out_file.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| HarnessError::io("duplicating an output file handle", e))?;
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                HarnessError::MissingBinary {
                    binary: bin.to_path_buf(),
                    detail: e.to_string(),
                }
            } else {
                HarnessError::io(format!("spawning {}", bin.display()), e)
            }
        })
}

/// Sends `signal` (a name such as `STOP` or `CONT`) to `pid` with the system's `kill` command,
/// which keeps this crate free of `unsafe`.
pub(crate) fn signal(pid: u32, signal: &str) -> Result<(), HarnessError> {
    let out = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::io(format!("running `kill -{signal} {pid}`"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(HarnessError::InvalidState(format!(
            "`kill -{signal} {pid}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// The last `lines` lines of a file (reading at most its last 64 KiB); empty when unreadable.
pub(crate) fn file_tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(64 * 1024);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    if f.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    #[test]
    fn finds_binaries_and_reports_missing_ones_by_name() {
        assert!(find_binary(Path::new("sh")).is_ok());
        let e = find_binary(Path::new("no-such-redis-binary")).unwrap_err();
        assert!(e.to_string().contains("no-such-redis-binary"), "{e}");
        let e = find_binary(Path::new("/nonexistent/redis-server")).unwrap_err();
        assert!(matches!(e, HarnessError::MissingBinary { .. }), "{e}");
    }

    #[test]
    fn tail_returns_last_lines() {
        let d = TempDir::new(false).unwrap();
        let p = d.path().join("log");
        std::fs::write(&p, "a\nb\nc\nd\n").unwrap();
        assert_eq!(file_tail(&p, 2), "c\nd");
        assert_eq!(file_tail(&p, 10), "a\nb\nc\nd");
        assert_eq!(file_tail(&d.path().join("none"), 3), "");
    }

    #[test]
    fn stop_and_continue_a_child() {
        let d = TempDir::new(false).unwrap();
        let mut c = spawn(
            Path::new("sleep"),
            &[OsStr::new("30")],
            &d.path().join("out"),
        )
        .unwrap();
        // Field 3 of /proc/<pid>/stat is the state; `T` means stopped.
        let state = |pid: u32| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let s = stat.rsplit(") ").next().unwrap().chars().next().unwrap();
            (s, stat)
        };
        signal(c.id(), "STOP").unwrap();
        // The signal is delivered asynchronously: give the kernel a moment on a loaded machine.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let (mut s, mut stat) = state(c.id());
        while s != 'T' && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            (s, stat) = state(c.id());
        }
        assert_eq!(s, 'T', "{stat}");
        signal(c.id(), "CONT").unwrap();
        c.kill().unwrap();
        c.wait().unwrap();
        assert!(
            signal(c.id(), "CONT").is_err(),
            "signalling a reaped pid fails"
        );
    }
}
