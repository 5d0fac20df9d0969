//! The `resp-sentinel` binary against scripted servers (`resp_sentinel_tests::fake`) that play
//! what a real sentinel will not: control characters in every string, silence, garbage; and
//! against a port where nothing listens. Every subcommand must fail with exit code 1 and a
//! message naming the sentinel, print no raw control character, and log as asked.

use resp_sentinel_tests::fake::{bulk_array, handshake, Answer, FakeSentinel, FakeServer};
use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of the binary gave.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs the binary with `args` (and `env`), killing it after `limit`; `code` is `None` then.
fn run_for(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_resp-sentinel"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run resp-sentinel");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

fn run(args: &[&str]) -> Run {
    run_for(args, &[], Duration::from_secs(30))
}

/// Control bytes in `bytes` other than the newlines that end lines.
fn raw_controls(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.char_indices()
        .filter(|(_, c)| c.is_control() && *c != '\n')
        .map(|(i, c)| format!("{:?} at {i}", c))
        .collect()
}

fn assert_clean(what: &str, r: &Run) {
    for (name, bytes) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        let bad = raw_controls(bytes);
        assert!(
            bad.is_empty(),
            "{what}: raw control characters in {name}: {bad:?}\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// A loopback port where nothing listens.
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

const EVIL_HOST: &str = "10.0.0.9\u{1b}]0;owned\u{7}";
const EVIL_FLAGS: &str = "slave\r\u{1b}[2J\nFORGED 6.6.6.6:1 usable\u{9b}31m\u{7f}";

/// A sentinel whose every string carries escape sequences, CR and LF.
fn hostile_sentinel() -> FakeServer {
    FakeServer::start(|w| {
        let sub = w
            .get(1)
            .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase());
        match (w.first().map(Vec::as_slice), sub.as_deref()) {
            (Some(b"SENTINEL"), Some("replicas")) => {
                let mut b = b"*1\r\n".to_vec();
                b.extend(bulk_array(&[
                    "ip",
                    EVIL_HOST,
                    "port",
                    "6380",
                    "flags",
                    EVIL_FLAGS,
                    "master-link-status",
                    "ok",
                ]));
                Answer::Bytes(b)
            }
            (Some(b"SENTINEL"), Some("get-master-addr-by-name")) => {
                Answer::Bytes(bulk_array(&[EVIL_HOST, "6379"]))
            }
            (Some(b"PSUBSCRIBE"), _) => {
                let mut b = b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n".to_vec();
                b.extend(bulk_array(&[
                    "pmessage",
                    "*",
                    "+sdown\u{1b}[2J",
                    "slave x\r\nFORGED +switch-master mymaster 1 2 3 4\u{1b}]0;t\u{7}",
                ]));
                Answer::Bytes(b)
            }
            // A RESP3 blob error may hold CR and LF.
            _ => {
                let text = "ERR \u{1b}[31mred\r\nFORGED line\u{7}";
                Answer::Bytes(format!("!{}\r\n{text}\r\n", text.len()).into_bytes())
            }
        }
    })
}

#[test]
fn replicas_escapes_what_the_sentinel_sends() {
    let s = hostile_sentinel();
    let url = format!("redis+sentinel://{}/mymaster?timeout=500ms", s.addr());
    let r = run(&["replicas", &url]);
    assert_eq!(r.code, Some(0), "{}", r.stderr());
    assert_clean("replicas", &r);
    let out = r.stdout();
    assert_eq!(out.lines().count(), 1, "one replica, no forged line: {out}");
    assert!(out.contains("10.0.0.9\\x1b]0;owned\\x07:6380"), "{out}");
    assert!(out.contains("slave\\r\\x1b[2J\\nFORGED"), "{out}");
}

#[test]
fn error_replies_and_addresses_from_servers_are_escaped() {
    // The master's address carries an escape sequence: the client's error and logs quote it.
    let s = hostile_sentinel();
    let url = format!("redis+sentinel://{}/mymaster?timeout=500ms", s.addr());
    let r = run_for(&["resolve", &url, "-vv"], &[], Duration::from_secs(30));
    assert_eq!(r.code, Some(1), "{}", r.stderr());
    assert_clean("resolve", &r);
    let err = r.stderr();
    assert!(
        err.contains("\\x1b]0;owned"),
        "the hostile host, escaped: {err}"
    );

    // Every INCR gets an error with CR/LF: the drill reports it escaped.
    let data = FakeServer::start(|w| {
        handshake(w).unwrap_or_else(|| match w.first().map(Vec::as_slice) {
            Some(b"DEL") => Answer::Bytes(b":1\r\n".to_vec()),
            Some(b"GET") => Answer::Bytes(b"$-1\r\n".to_vec()),
            _ => {
                let text = "ERR \u{1b}[2J\r\nFORGED acknowledged lost 0\u{9b}";
                Answer::Bytes(format!("!{}\r\n{text}\r\n", text.len()).into_bytes())
            }
        })
    });
    let sentinel = FakeSentinel::naming(data.addr());
    let url = format!(
        "redis+sentinel://{}/mymaster?timeout=500ms",
        sentinel.addr()
    );
    let r = run(&[
        "drill",
        &url,
        "--duration",
        "1s",
        "--no-trigger",
        "--runtime",
        "blocking",
    ]);
    assert_eq!(r.code, Some(1), "no write acknowledged: {}", r.stderr());
    assert_clean("drill", &r);
    let (out, err) = (r.stdout(), r.stderr());
    assert!(
        out.contains("last error") && out.contains("\\r\\nFORGED"),
        "{out}"
    );
    assert!(err.contains("no write was acknowledged"), "{err}");
    let r = run(&[
        "drill",
        &url,
        "--duration",
        "1s",
        "--no-trigger",
        "--runtime",
        "tokio",
        "--json",
    ]);
    assert_clean("drill --json", &r);
    assert_eq!(
        r.code,
        Some(1),
        "no write acknowledged: exit 1; {}",
        r.stderr()
    );
    assert_eq!(r.stdout().lines().count(), 1, "{}", r.stdout());
}

#[test]
fn watch_escapes_events() {
    let s = hostile_sentinel();
    let url = format!("redis+sentinel://{}/mymaster?timeout=500ms", s.addr());
    let r = run_for(&["watch", &url], &[], Duration::from_secs(3));
    assert_eq!(r.code, None, "watch runs until stopped: {}", r.stderr());
    assert_clean("watch", &r);
    let out = r.stdout();
    assert_eq!(out.lines().count(), 1, "one event, no forged line: {out}");
    assert!(out.contains("+sdown\\x1b[2J slave x\\r\\nFORGED"), "{out}");
}

/// The three broken sentinels: nothing listening, never answering, answering garbage.
enum Broken {
    Dead(u16),
    Silent(FakeServer),
    Garbage(FakeServer),
    WrongType(FakeServer),
}

impl Broken {
    fn all() -> Vec<Broken> {
        vec![
            Broken::Dead(dead_port()),
            Broken::Silent(FakeServer::start(|_| Answer::Silence)),
            Broken::Garbage(FakeServer::start(|_| {
                Answer::Bytes(b"\x00\x01HTTP/1.1 400 Bad Request\xff\r\n\r\n".to_vec())
            })),
            Broken::WrongType(FakeServer::start(|_| Answer::Bytes(b"+OK\r\n".to_vec()))),
        ]
    }

    fn port(&self) -> u16 {
        match self {
            Broken::Dead(p) => *p,
            Broken::Silent(f) | Broken::Garbage(f) | Broken::WrongType(f) => f.addr().port,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Broken::Dead(_) => "nothing listening",
            Broken::Silent(_) => "never answers",
            Broken::Garbage(_) => "garbage",
            Broken::WrongType(_) => "+OK to everything",
        }
    }
}

#[test]
fn every_subcommand_fails_clearly_on_a_broken_sentinel() {
    for broken in Broken::all() {
        let addr = format!("127.0.0.1:{}", broken.port());
        let url = format!("redis+sentinel://{addr}/mymaster?timeout=300ms");
        for args in [
            vec!["resolve", &url],
            vec!["replicas", &url],
            vec!["watch", &url],
            vec!["drill", &url, "--duration", "1s", "--failover-at", "200ms"],
        ] {
            let what = format!("{} against a sentinel that {}", args[0], broken.name());
            let r = run_for(&args, &[], Duration::from_secs(20));
            let err = r.stderr();
            assert_eq!(r.code, Some(1), "{what}: exit code; stderr:\n{err}");
            let last = err.lines().last().unwrap_or_default();
            assert!(last.starts_with("resp-sentinel: "), "{what}: {err}");
            assert!(last.contains(&addr), "{what}: names the sentinel: {last}");
            assert!(!err.contains("os error"), "{what}: {err}");
            assert!(!err.contains("temporarily unavailable"), "{what}: {err}");
            if matches!(broken, Broken::Silent(_)) {
                assert!(last.contains("timed out"), "{what}: {last}");
            }
            assert_clean(&what, &r);
        }
    }
}

#[test]
fn replicas_says_how_long_it_waited_and_for_whom() {
    let silent = FakeServer::start(|_| Answer::Silence);
    let url = format!("redis+sentinel://{}/mymaster?timeout=300ms", silent.addr());
    let r = run(&["replicas", &url]);
    let err = r.stderr();
    assert_eq!(r.code, Some(1), "{err}");
    let want = format!(
        "timed out after 300 ms talking to sentinel {}",
        silent.addr()
    );
    assert!(err.contains(&want), "{err}");
    // A list whose entries are not replicas is not "(no replicas)".
    let junk = FakeServer::start(|_| Answer::Bytes(b"*2\r\n:1\r\n$3\r\nfoo\r\n".to_vec()));
    let url = format!("redis+sentinel://{}/mymaster?timeout=300ms", junk.addr());
    let r = run(&["replicas", &url]);
    assert_eq!(r.code, Some(1), "{}", r.stdout());
    assert!(r.stdout().is_empty(), "{}", r.stdout());
    assert!(
        r.stderr().contains("2 of its 2 entries are not replicas"),
        "{}",
        r.stderr()
    );
}

#[test]
fn logs_follow_rust_log_and_flags_on_stderr_without_passwords() {
    let dead = format!(
        "redis+sentinel://127.0.0.1:{}/mymaster?timeout=300ms",
        dead_port()
    );
    let lines = |r: &Run, level: &str| {
        r.stderr()
            .lines()
            .filter(|l| l.contains(&format!(" {level} ")))
            .count()
    };
    let limit = Duration::from_secs(20);
    let quiet = run_for(&["resolve", &dead, "-q"], &[], limit);
    let default = run_for(&["resolve", &dead], &[], limit);
    let verbose = run_for(&["resolve", &dead, "-vv"], &[], limit);
    let env = run_for(&["resolve", &dead], &[("RUST_LOG", "debug")], limit);
    let env_target = run_for(
        &["resolve", &dead],
        &[("RUST_LOG", "nothing_here=trace")],
        limit,
    );
    for r in [&quiet, &default, &verbose, &env, &env_target] {
        assert_eq!(r.code, Some(1), "{}", r.stderr());
        assert!(r.stdout.is_empty(), "logs go to stderr: {}", r.stdout());
    }
    assert_eq!(lines(&quiet, "WARN"), 0, "{}", quiet.stderr());
    assert!(lines(&default, "WARN") > 0, "{}", default.stderr());
    assert_eq!(
        lines(&default, "DEBUG") + lines(&default, "INFO"),
        0,
        "{}",
        default.stderr()
    );
    assert!(lines(&verbose, "DEBUG") > 0, "{}", verbose.stderr());
    assert!(lines(&env, "DEBUG") > 0, "{}", env.stderr());
    assert_eq!(lines(&env_target, "WARN"), 0, "{}", env_target.stderr());
    assert!(
        run_for(&["resolve", &dead, "-q", "-v"], &[], limit).code == Some(2),
        "-q and -v exclude each other"
    );

    // Trace level through a whole successful resolve, with passwords on both sides.
    let data = FakeServer::start(|w| handshake(w).unwrap_or(Answer::Bytes(b"+OK\r\n".to_vec())));
    let sentinel = FakeSentinel::naming(data.addr());
    let url = format!(
        "redis+sentinel://app:Dat4Pa55w0rd@{}/mymaster?sentinel_password=S3ntPa55w0rd",
        sentinel.addr()
    );
    for args in [
        vec!["resolve", &url, "-vvv"],
        vec!["replicas", &url, "-vvv"],
    ] {
        let r = run_for(&args, &[("RUST_LOG", "trace")], limit);
        let err = r.stderr();
        assert_eq!(r.code, Some(0), "{err}");
        assert!(lines(&r, "DEBUG") + lines(&r, "TRACE") > 0, "{err}");
        for secret in ["Dat4Pa55w0rd", "S3ntPa55w0rd"] {
            assert!(
                !err.contains(secret) && !r.stdout().contains(secret),
                "{err}"
            );
        }
    }
}
