//! Runs the client's examples (`adapters/examples/`) against real Sentinel topologies and checks
//! how each exited, what it printed and what it left on the master. Fails (never skips) when
//! Redis is missing or an example cannot be built.
//!
//! The binaries are built here, once per run, by `cargo build --workspace --all-features
//! --example ...` with the cargo and profile running this test: under `cargo test --workspace
//! --all-features` (what `scripts/test` and CI run) that selects the very units the test build
//! just made, so it is a no-op of a fraction of a second; run alone (`cargo test -p
//! resp-sentinel-tests --test examples`) it builds what is missing. Either way the examples are
//! never stale, whatever changed in `adapters/src` or `core/src`.

use resp_sentinel_tests::{Reply, Topology, TopologyOptions};
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Every example of `adapters/examples/`, built together.
const EXAMPLES: [&str; 7] = [
    "blocking",
    "tokio",
    "web_axum",
    "pubsub",
    "transaction",
    "replica_reads",
    "redis_rs",
];

/// Variables cargo sets for the crate it runs (besides every `CARGO_PKG_*`), not set in a shell.
const SET_BY_CARGO_FOR_TESTS: [&str; 9] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// An example that outlives this is killed and the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// `<target>/<profile>/examples`, with every example built in it.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("path of the test binary");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("{} is not in <target>/<profile>/deps", exe.display()));
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev".to_string(),
            Some(other) => other.to_string(),
            None => panic!("cannot tell the build profile from {}", exe.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(&cargo);
        // Cargo runs this test with the test package's own variables set (CARGO_PKG_NAME,
        // CARGO_MANIFEST_DIR...). Build scripts such as ring's rerun when those change, so the
        // nested build would rebuild ring, rustls and everything above them, and the next
        // build from a shell would rebuild them back: build with the environment of a shell.
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("CARGO_PKG_") || SET_BY_CARGO_FOR_TESTS.contains(&&*key_text) {
                build.env_remove(&key);
            }
        }
        build
            .args([
                "build",
                "--workspace",
                "--all-features",
                "--profile",
                &profile,
            ])
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"));
        for name in EXAMPLES {
            build.args(["--example", name]);
        }
        let started = Instant::now();
        let status = build
            .status()
            .unwrap_or_else(|e| panic!("running {cargo:?} to build the examples: {e}"));
        assert!(status.success(), "building the examples failed ({status})");
        eprintln!("examples built (or found fresh) in {:?}", started.elapsed());
        profile_dir.join("examples")
    })
}

fn example_path(name: &str) -> PathBuf {
    let bin = examples_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "cargo built the examples, but {} does not exist (another target dir?)",
        bin.display()
    );
    bin
}

/// An example's process with piped output, started with `args` and `RESP_SENTINEL_URL`.
fn spawn(name: &str, args: &[&str], url: Option<&str>) -> Child {
    let bin = example_path(name);
    let mut command = Command::new(&bin);
    command
        .args(args)
        .env_remove("RESP_SENTINEL_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = url {
        command.env("RESP_SENTINEL_URL", url);
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
}

/// How one run of an example ended.
struct Run {
    name: String,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Everything it printed, for assertion messages.
    fn dump(&self) -> String {
        format!(
            "{}: exit {}\n--- stdout\n{}--- stderr\n{}",
            self.name, self.status, self.stdout, self.stderr
        )
    }

    /// Fails the test unless the example exited 0 and printed exactly one line, `expected`.
    fn assert_printed(&self, expected: &str) {
        let dump = self.dump();
        assert!(self.status.success(), "the example failed:\n{dump}");
        assert_eq!(self.stdout.trim_end(), expected, "{dump}");
    }
}

/// Runs an example to its end (killed after [`RUN_TIMEOUT`]).
fn run(name: &str, args: &[&str], url: Option<&str>) -> Run {
    let child = spawn(name, args, url);
    let (status, stdout, stderr) = support::child::finish(child, RUN_TIMEOUT, name);
    Run {
        name: name.to_string(),
        status,
        stdout,
        stderr,
    }
}

fn topology() -> Topology {
    let t = Topology::start(TopologyOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the Redis topology: {e}"));
    eprintln!("topology: {t:?}");
    t
}

/// `GET key` on the topology's master, asked directly (not through our client).
fn master_get(t: &Topology, key: &str) -> Reply {
    let master = t.master_addr().expect("master per the sentinels");
    t.admin(&master, &["GET", key]).expect("GET on the master")
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(text.as_bytes().to_vec())
}

#[test]
fn blocking_example_shares_one_client_between_threads() {
    let t = topology();
    let master = t.master_addr().expect("master per the sentinels");
    let run = run("blocking", &[], Some(&t.url()));
    run.assert_printed(&format!(
        "blocking: greeting=hello visits=4 master={master}"
    ));
    assert_eq!(master_get(&t, "example:blocking:visits"), bulk("4"));
}

#[test]
fn examples_exit_non_zero_on_a_bad_target() {
    let run = run(
        "blocking",
        &["redis+sentinel://127.0.0.1:70000/mymaster"],
        None,
    );
    let dump = run.dump();
    assert_eq!(run.status.code(), Some(1), "{dump}");
    assert!(
        run.stderr.contains("70000"),
        "the error names the bad port:\n{dump}"
    );
    assert!(run.stdout.is_empty(), "{dump}");
}

#[test]
fn tokio_example_counts_from_many_tasks() {
    let t = topology();
    // The URL as the first argument; the environment's would lose.
    let run = run(
        "tokio",
        &[&t.url()],
        Some("redis+sentinel://127.0.0.1:70000/x"),
    );
    run.assert_printed("tokio: 100 tasks and a pipeline counted 105 hits");
    assert_eq!(master_get(&t, "example:tokio:hits"), bulk("105"));
}

#[test]
fn pubsub_example_receives_what_it_publishes() {
    let t = topology();
    let run = run("pubsub", &[], Some(&t.url()));
    run.assert_printed(
        "pubsub: received first, second, third on example:news; pattern example:* matched",
    );
}

#[test]
fn transaction_example_moves_money_atomically() {
    let t = topology();
    let run = run("transaction", &[], Some(&t.url()));
    run.assert_printed("transaction: moved 30: true; refused 500: true; alice=70 bob=30");
    assert_eq!(master_get(&t, "example:tx:alice"), bulk("70"));
    assert_eq!(master_get(&t, "example:tx:bob"), bulk("30"));
}

#[test]
fn replica_reads_example_reads_its_writes_and_from_a_replica() {
    let t = topology();
    let run = run("replica_reads", &[], Some(&t.url()));
    let dump = run.dump();
    assert!(run.status.success(), "the example failed:\n{dump}");
    let line = run.stdout.trim_end();
    assert!(
        line.starts_with(
            "replica_reads: own write read back from the master; replica (slave) caught up within "
        ),
        "{dump}"
    );
    assert!(
        line.ends_with(" ms; write through the replica client refused: true"),
        "{dump}"
    );
}

#[test]
fn redis_rs_example_runs_unchanged_redis_rs_code() {
    let t = topology();
    let run = run("redis_rs", &[], Some(&t.url()));
    let dump = run.dump();
    assert!(run.status.success(), "the example failed:\n{dump}");
    assert_eq!(
        run.stdout, "1 visits in all; top pages: [(\"/home\", 1.0)]\nscript counter: 5\n",
        "{dump}"
    );
    assert_eq!(master_get(&t, "script_counter"), bulk("5"));
}

/// Kills the example's process when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request with a std socket; the whole response as text.
fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to the web example at {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("writing the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("reading the response to GET {path}: {e} ({response:?})"));
    response
}

#[test]
fn web_example_serves_requests_through_one_shared_client() {
    let t = topology();
    let url = t.url();
    // Port 0: the example binds a free port itself and prints it, so no other process can
    // take it between our choosing it and the example binding it.
    let mut child = spawn("web_axum", &[&url, "127.0.0.1:0"], None);
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let server = Killed(child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let errors = thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let line = match rx.recv_timeout(RUN_TIMEOUT) {
        Ok(line) => line,
        Err(e) => {
            drop(server);
            panic!(
                "the web example printed no address ({e}):\n{}",
                errors.join().unwrap_or_default()
            );
        }
    };
    let addr: SocketAddr = line
        .strip_prefix("web_axum: listening on http://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(addr.ip().is_loopback(), "{addr}");

    for n in 1..=3 {
        let response = http_get(addr, "/visits/home");
        assert!(
            response.starts_with("HTTP/1.1 200 OK\r\n"),
            "request {n}: {response:?}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\nhome: {n} visits\n")),
            "request {n}: {response:?}"
        );
    }
    let missing = http_get(addr, "/nowhere");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing:?}");
    assert_eq!(master_get(&t, "example:web:visits:home"), bulk("3"));

    drop(server);
    let stderr = errors.join().expect("stderr reader");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
