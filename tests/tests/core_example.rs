//! Runs the core's std-only example driver (`core/examples/std_driver.rs`) against a real
//! Sentinel topology and checks what it printed and how it exited. Fails (never skips) when
//! Redis is not installed or the example cannot be built.

use resp_sentinel_tests::{Addr, Reply, Topology, TopologyOptions};
mod support;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const EXAMPLE: &str = "std_driver";
/// The example gives up after 20 s on its own; this only catches one that hangs.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The example binary. `cargo test --workspace` (what `scripts/test` runs) builds the examples
/// of every package next to the test binaries: `<target>/<profile>/deps/core_example-<hash>`
/// runs `<target>/<profile>/examples/std_driver`. When it is missing or older than the
/// example's source (only this package was built, or `cargo test` was given a name filter,
/// which skips examples), it is built here with the same cargo and profile. (A change in
/// `core/src` alone is not noticed: run the workspace's tests, as CI does.)
fn example_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("path of the test binary");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("{} is not in <target>/<profile>/deps", exe.display()));
        let bin = profile_dir
            .join("examples")
            .join(format!("{EXAMPLE}{}", std::env::consts::EXE_SUFFIX));
        let source = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../core/examples"))
            .join(format!("{EXAMPLE}.rs"));
        let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
        let fresh = match (modified(&bin), modified(&source)) {
            (Some(built), Some(edited)) => built >= edited,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if fresh {
            return bin;
        }
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_string(),
            Some(other) => other.to_string(),
            None => panic!("cannot tell the build profile from {}", exe.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!(
            "{} is missing or stale: building it (cargo build -p resp-sentinel-core --example {EXAMPLE} --profile {profile})",
            bin.display()
        );
        let status = Command::new(&cargo)
            .args(["build", "-p", "resp-sentinel-core", "--example", EXAMPLE])
            .args(["--profile", &profile, "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
            .status()
            .unwrap_or_else(|e| panic!("running {cargo:?} to build the example: {e}"));
        assert!(
            status.success(),
            "building the {EXAMPLE} example failed ({status})"
        );
        assert!(
            bin.is_file(),
            "cargo built the {EXAMPLE} example, but {} does not exist (another target dir?)",
            bin.display()
        );
        bin
    })
}

/// How one run of the example ended.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Everything it printed, for assertion messages.
    fn dump(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn has_line(&self, line: &str) -> bool {
        self.stdout.lines().any(|l| l == line)
    }

    /// The address printed on the `master: ` line.
    fn master(&self) -> Option<Addr> {
        let line = self.stdout.lines().find(|l| l.starts_with("master: "))?;
        line["master: ".len()..].parse().ok()
    }
}

/// Runs the example with `args` and extra environment, killing it if it outlives
/// [`RUN_TIMEOUT`].
fn run_example(args: &[String], env: &[(&str, &str)]) -> Run {
    let bin = example_binary();
    let mut command = Command::new(bin);
    command
        .args(args)
        .env_remove("REDIS_PASSWORD")
        .env_remove("SENTINEL_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let what = format!("{EXAMPLE} {args:?}");
    let (status, stdout, stderr) = support::child::finish(child, RUN_TIMEOUT, &what);
    Run {
        status,
        stdout,
        stderr,
    }
}

fn start(opts: TopologyOptions) -> Topology {
    let t = Topology::start(opts).unwrap_or_else(|e| panic!("topology did not start: {e}"));
    eprintln!("topology: {t:?}");
    t
}

/// The example's arguments for a topology: every sentinel, then the service.
fn args_for(t: &Topology, service: &str) -> Vec<String> {
    let mut args: Vec<String> = t.sentinel_addrs().iter().map(Addr::to_string).collect();
    args.push(service.to_string());
    args
}

#[test]
fn example_finds_the_master_and_round_trips_commands() {
    let t = start(TopologyOptions::default());
    let master = t.master_addr().expect("master per the sentinels");
    assert_eq!(master, t.data_addrs()[0]);
    // Known state before the run, so the output proves the example's own SET and INCR ran.
    t.admin(&master, &["SET", "std_driver:greeting", "stale"])
        .unwrap();
    t.admin(&master, &["SET", "std_driver:counter", "41"])
        .unwrap();

    let run = run_example(&args_for(&t, t.service_name()), &[]);
    let dump = run.dump();
    eprintln!("{dump}");
    assert!(run.status.success(), "the example failed:\n{dump}");
    for line in [
        "PING -> PONG",
        "SET std_driver:greeting -> OK",
        "GET std_driver:greeting -> hello from the Sans-IO core",
        "INCR std_driver:counter -> 42",
    ] {
        assert!(run.has_line(line), "no line `{line}`:\n{dump}");
    }
    assert_eq!(run.master(), Some(master.clone()), "{dump}");
    // The write reached the real master, not just the example's own view of it.
    assert_eq!(
        t.admin(&master, &["GET", "std_driver:greeting"]).unwrap(),
        Reply::Bulk(b"hello from the Sans-IO core".to_vec())
    );
    assert_eq!(t.get_counter("std_driver:counter").unwrap(), 42);

    // The same sentinels asked about a service they do not monitor: a clear error, exit 1.
    let run = run_example(&args_for(&t, "no-such-service"), &[]);
    let dump = run.dump();
    assert_eq!(run.status.code(), Some(1), "{dump}");
    assert!(
        run.stderr
            .contains("no sentinel knows service `no-such-service`"),
        "{dump}"
    );
    assert!(!run.stdout.contains("PING -> "), "{dump}");
}

#[test]
fn example_authenticates_with_passwords_from_the_environment() {
    let t = start(
        TopologyOptions::default()
            .password("data-secret")
            .sentinel_password("sentinel-secret"),
    );
    let master = t.master_addr().expect("master per the sentinels");
    let args = args_for(&t, t.service_name());

    let run = run_example(
        &args,
        &[
            ("REDIS_PASSWORD", "data-secret"),
            ("SENTINEL_PASSWORD", "sentinel-secret"),
        ],
    );
    let dump = run.dump();
    assert!(run.status.success(), "the example failed:\n{dump}");
    assert!(
        run.has_line("GET std_driver:greeting -> hello from the Sans-IO core"),
        "{dump}"
    );
    assert_eq!(run.master(), Some(master), "{dump}");

    // Without the data password the sentinels answer but the master refuses: exit 1.
    let run = run_example(&args, &[("SENTINEL_PASSWORD", "sentinel-secret")]);
    let dump = run.dump();
    assert_eq!(run.status.code(), Some(1), "{dump}");
    assert!(run.stderr.contains("authentication failed"), "{dump}");
}

#[test]
fn example_fails_clearly_without_a_sentinel() {
    // A loopback port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let run = run_example(&[format!("127.0.0.1:{port}"), "mymaster".into()], &[]);
    let dump = run.dump();
    assert_eq!(run.status.code(), Some(1), "{dump}");
    assert!(run.stderr.contains("no sentinel reachable"), "{dump}");

    // Bad arguments: usage, exit 2.
    let run = run_example(&["mymaster".into()], &[]);
    let dump = run.dump();
    assert_eq!(run.status.code(), Some(2), "{dump}");
    assert!(run.stderr.contains("usage: std_driver"), "{dump}");
}
