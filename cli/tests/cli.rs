//! The `resp-sentinel` binary against a real topology: what `resolve` and `replicas` print, the
//! events `watch` prints through a failover, and the drill's JSON line and exit code through a
//! forced failover.

use resp_sentinel_tests::{Topology, TopologyOptions};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn topology() -> Topology {
    Topology::start(TopologyOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the Redis topology: {e}"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_resp-sentinel"))
        .args(args)
        .output()
        .expect("run resp-sentinel");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The number after `"key":` in a one-line JSON object.
fn field(json: &str, key: &str) -> String {
    let start = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
        + key.len()
        + 3;
    json[start..]
        .split([',', '}'])
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

#[test]
fn resolve_and_replicas_print_what_the_sentinels_know() {
    let topo = topology();
    let url = topo.url();
    let (code, out, err) = run(&["resolve", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), topo.master_addr().unwrap().to_string());
    let (code, out, err) = run(&["replicas", &url]);
    assert_eq!(code, 0, "{err}");
    let master = topo.master_addr().unwrap();
    let replicas: Vec<_> = topo
        .data_addrs()
        .into_iter()
        .filter(|a| *a != master)
        .collect();
    assert!(!replicas.is_empty(), "the topology has replicas to list");
    for replica in replicas {
        let line = out
            .lines()
            .find(|l| l.starts_with(&replica.to_string()))
            .unwrap_or_else(|| panic!("{replica} not listed: {out}"));
        assert!(
            line.ends_with(" usable") && !line.ends_with("not usable"),
            "{line}"
        );
    }
}

#[test]
fn drill_json_through_a_forced_failover_loses_nothing() {
    let topo = topology();
    let old = topo.master_addr().unwrap();
    let (code, out, err) = run(&[
        "drill",
        &topo.url(),
        "--duration",
        "6s",
        "--failover-at",
        "2s",
        "--runtime",
        "blocking",
        "--json",
    ]);
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    let line = out.trim();
    assert_eq!(line.lines().count(), 1, "exactly one JSON line: {out}");
    assert_eq!(field(line, "acked_lost"), "0");
    assert_eq!(field(line, "errors"), "0");
    assert_eq!(field(line, "old_master"), old.to_string());
    let new = field(line, "new_master");
    assert_ne!(
        new,
        old.to_string(),
        "the drill followed the failover: {line}"
    );
    assert_eq!(new, topo.master_addr().unwrap().to_string());
    let ok: u64 = field(line, "ok").parse().unwrap();
    assert!(ok > 100, "{line}");
    assert_ne!(field(line, "trigger_to_first_new_master_write_ms"), "null");
}

#[test]
fn drill_over_tls_triggers_the_failover_and_resolve_and_watch_speak_tls() {
    let topo = Topology::start(TopologyOptions::default().tls())
        .unwrap_or_else(|e| panic!("cannot start the TLS topology: {e}"));
    let url = topo.url();
    assert!(url.starts_with("rediss+sentinel://"), "{url}");
    let (code, out, err) = run(&["resolve", &url]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), topo.master_addr().unwrap().to_string());
    let old = topo.master_addr().unwrap();
    let (code, out, err) = run(&[
        "drill",
        &url,
        "--duration",
        "8s",
        "--failover-at",
        "2s",
        "--json",
    ]);
    assert_eq!(code, 0, "stdout {out}\nstderr {err}");
    let line = out.trim();
    assert!(
        !line.contains("trigger_error"),
        "the trigger reached a TLS sentinel: {line}"
    );
    assert_eq!(field(line, "acked_lost"), "0");
    assert_ne!(field(line, "new_master"), old.to_string(), "{line}");
}

#[test]
fn a_drill_whose_failover_cannot_be_triggered_fails() {
    // No replica: every write is acknowledged, but Sentinel refuses the failover (NOGOODSLAVE),
    // so the drill did not test what it was asked to and must not report success.
    let topo = Topology::start(TopologyOptions {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        ..TopologyOptions::default()
    })
    .unwrap_or_else(|e| panic!("cannot start the Redis topology: {e}"));
    let (code, out, err) = run(&[
        "drill",
        &topo.url(),
        "--duration",
        "2s",
        "--failover-at",
        "1s",
        "--json",
    ]);
    assert_ne!(code, 0, "stdout {out}\nstderr {err}");
    assert_eq!(field(out.trim(), "acked_lost"), "0");
    assert!(out.contains("trigger_error"), "{out}");
    assert!(err.contains("not triggered"), "{err}");
}

#[test]
fn a_bad_target_is_a_usage_error() {
    let (code, _, err) = run(&["resolve", "redis+sentinel://:s3cret@127.0.0.1:70000/svc"]);
    assert_eq!(code, 2);
    assert!(err.contains("70000"), "{err}");
    assert!(!err.contains("s3cret"), "the password is not echoed: {err}");
    let (code, _, err) = run(&["drill", "--sentinel", "127.0.0.1:1"]);
    assert_eq!(code, 2);
    assert!(err.contains("service"), "{err}");
}

#[test]
fn watch_prints_the_switch_master_of_a_failover() {
    let topo = topology();
    let mut child = Command::new(env!("CARGO_BIN_EXE_resp-sentinel"))
        .args(["watch", &topo.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run resp-sentinel watch");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // Give every watcher time to subscribe before the failover starts.
    std::thread::sleep(Duration::from_secs(1));
    let old = topo.failover().unwrap();
    let new = topo
        .wait_for_new_master(&old, Duration::from_secs(30))
        .unwrap();
    let want = format!(
        "+switch-master {} {} {} {} {}",
        topo.service_name(),
        old.host,
        old.port,
        new.host,
        new.port
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.ends_with(&want) => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "no `{want}` line; got:\n{}", seen.join("\n"));
}
