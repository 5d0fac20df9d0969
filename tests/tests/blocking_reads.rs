//! Who reads a blocking client's replies, against a real server: a caller alone reads its
//! own replies off the socket (the connection's reader thread stays parked), and the hand-overs
//! between callers and the reader thread lose nothing under slow commands and concurrency.

mod support;

use resp_sentinel::cmd;
use resp_sentinel::core::sentinel::Role;
use resp_sentinel_tests::TopologyOptions;
use std::time::{Duration, Instant};
use support::{config_for, topology, Rt, TestClient};

/// Voluntary context switches of this process's connection reader threads (named
/// `resp-sentinel-read`, which the kernel cuts to `resp-sentinel-r`).
fn connection_thread_switches() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("a task").path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if name.trim_end() != "resp-sentinel-r" {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// One test, so that no other test's connection threads run (and wake) beside it.
#[test]
fn blocking_reads() {
    let topo = topology(TopologyOptions::default());
    let client = TestClient::new(Rt::Blocking, config_for(&topo), Role::Master);
    a_lone_caller_reads_its_own_replies(&client);
    slow_and_concurrent_callers_lose_nothing(&client);
}

/// A caller alone reads its replies itself: over 3,000 sequential commands the reader
/// threads wake far less than once per reply (a reader thread that read every reply would
/// wake at least 3,000 times), and every reply is the right one.
fn a_lone_caller_reads_its_own_replies(client: &TestClient) {
    for _ in 0..200 {
        client.incr("br:warm").unwrap();
    }
    let before = connection_thread_switches();
    const N: i64 = 3000;
    for i in 1..=N {
        assert_eq!(client.incr("br:n").unwrap(), i);
    }
    let woke = connection_thread_switches() - before;
    assert!(
        woke < N as u64 / 4,
        "reader threads woke {woke} times for {N} sequential replies"
    );
}

/// Commands slower than a caller's read hold (20 ms scripts), a lone caller, and eight
/// concurrent callers on one blocking client: every reply is its own, and counters add up.
fn slow_and_concurrent_callers_lose_nothing(client: &TestClient) {
    let slow = "local t0 = redis.call('TIME') \
                local s0 = t0[1] * 1000000 + t0[2] \
                while true do \
                  local t = redis.call('TIME') \
                  if t[1] * 1000000 + t[2] - s0 > 20000 then break end \
                end \
                return redis.call('INCR', KEYS[1])";
    let run_slow = |key: &str| -> i64 {
        client
            .query(cmd("EVAL").arg(slow).arg(1).arg(key))
            .expect("the slow script")
    };
    // Alone: the caller gives the read back while the script runs, and still gets its reply.
    for i in 1..=5 {
        let started = Instant::now();
        assert_eq!(run_slow("br:slow"), i);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(client.incr("br:after-slow").unwrap(), i);
    }
    // Eight callers, one of them running slow scripts among its INCRs.
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let run_slow = &run_slow;
                s.spawn(move || {
                    let key = format!("br:t{t}");
                    for i in 1..=500i64 {
                        if t == 0 && i % 100 == 0 {
                            run_slow("br:slow-mixed");
                        }
                        assert_eq!(client.incr(&key).unwrap(), i, "caller {t}");
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().expect("a caller panicked");
        }
    });
    let slow_mixed: i64 = client.query(cmd("GET").arg("br:slow-mixed")).unwrap();
    assert_eq!(slow_mixed, 5);
    // Back to one caller: it reads for itself again and its replies are right.
    for i in 501..=700i64 {
        assert_eq!(client.incr("br:t3").unwrap(), i);
    }
}
