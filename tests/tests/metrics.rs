//! The `metrics` feature against real servers: what a client records through commands and a
//! forced failover, and that no label carries a credential. Each test reads its own client's
//! metrics: the client is made inside `metrics::with_local_recorder`, and its handles stay
//! bound to that recorder (the driver registers them when the client is made).

#[macro_use]
mod support;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use resp_sentinel::core::sentinel::{Config, Credentials, Role};
use resp_sentinel::metrics as m;
use resp_sentinel::{cmd, Error, Value};
use resp_sentinel_tests::{Reply, Topology, TopologyOptions};
use std::time::Duration;
use support::*;

/// One metric as read back: name, labels, value.
struct Row {
    name: String,
    labels: Vec<(String, String)>,
    value: DebugValue,
}

impl Row {
    fn has(&self, with: &[(&str, &str)]) -> bool {
        with.iter()
            .all(|(k, v)| self.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    }
}

fn rows(snapshotter: &Snapshotter) -> Vec<Row> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            Row {
                name: key.name().to_owned(),
                labels: key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect(),
                value,
            }
        })
        .collect()
}

/// The sum of the counters named `name` whose labels include `with`.
fn count(rows: &[Row], name: &str, with: &[(&str, &str)]) -> u64 {
    rows.iter()
        .filter(|r| r.name == name && r.has(with))
        .map(|r| match r.value {
            DebugValue::Counter(n) => n,
            ref other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}

/// The samples of the histograms named `name` whose labels include `with`.
fn samples(rows: &[Row], name: &str, with: &[(&str, &str)]) -> Vec<f64> {
    rows.iter()
        .filter(|r| r.name == name && r.has(with))
        .flat_map(|r| match &r.value {
            DebugValue::Histogram(v) => v.iter().map(|f| f.into_inner()).collect::<Vec<_>>(),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .collect()
}

/// A client of `rt` whose metrics go to a recorder of its own.
fn recorded_client(rt: Rt, config: Config, role: Role) -> (TestClient, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let client = metrics::with_local_recorder(&recorder, || TestClient::new(rt, config, role));
    (client, snapshotter)
}

/// Waits until every sentinel has a client subscribed to channels (ours: the topology is
/// this test's alone), so the failover's first notices reach the client and raise the fence.
fn wait_for_notice_subscriptions(topo: &Topology) {
    for addr in topo.sentinel_addrs() {
        eventually(Duration::from_secs(15), || {
            match topo.admin(&addr, &["CLIENT", "LIST"]) {
                Ok(Reply::Bulk(list)) => {
                    let list = String::from_utf8_lossy(&list).into_owned();
                    let subscribed = list.lines().any(|l| {
                        l.split(' ')
                            .any(|f| f.strip_prefix("sub=").is_some_and(|n| n != "0"))
                    });
                    if subscribed {
                        Ok(())
                    } else {
                        Err(format!("{addr}: no subscriber yet"))
                    }
                }
                other => Err(format!("{addr}: CLIENT LIST answered {other:?}")),
            }
        });
    }
}

/// Commands, a server error reply and a forced failover show in the counters and histograms,
/// labelled with the service and role.
fn commands_and_a_failover_are_recorded(rt: Rt) {
    let topo = topology(TopologyOptions::default().down_after(Duration::from_millis(1500)));
    let service = topo.service_name().to_owned();
    let (client, snap) = recorded_client(rt, config_for(&topo), Role::Master);
    for _ in 0..20 {
        client.incr("metrics:n").unwrap();
    }
    client
        .query::<()>(cmd("SET").arg("metrics:text").arg("abc"))
        .unwrap();
    let err = client
        .query::<Value>(cmd("INCR").arg("metrics:text"))
        .unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    wait_for_notice_subscriptions(&topo);

    let old = topo.failover().unwrap();
    let new = topo
        .wait_for_new_master(&old, Duration::from_secs(60))
        .unwrap();
    eventually(Duration::from_secs(30), || {
        client.incr("metrics:n").map_err(|e| e.to_string())?;
        match client.master_addr() {
            Some(a) if a == new => Ok(()),
            other => Err(format!("still on {other:?}")),
        }
    });

    let rows = rows(&snap);
    let base = [("service", service.as_str()), ("role", "master")];
    let with = |k, v| [base[0], base[1], (k, v)];
    assert!(count(&rows, m::COMMANDS_TOTAL, &with("outcome", "ok")) >= 22);
    assert_eq!(
        count(&rows, m::COMMANDS_TOTAL, &with("outcome", "server_error")),
        1
    );
    assert!(
        count(&rows, m::CONNECTS_TOTAL, &base) >= 2,
        "old and new master"
    );
    assert!(count(&rows, m::FAILOVERS_TOTAL, &base) >= 1);
    assert!(count(&rows, m::FENCE_RAISED_TOTAL, &base) >= 1);
    let replied = samples(
        &rows,
        m::COMMAND_DURATION_SECONDS,
        &with("outcome", "replied"),
    );
    assert!(replied.len() >= 22, "{} samples", replied.len());
    assert!(
        replied.iter().all(|s| (0.0..30.0).contains(s)),
        "{replied:?}"
    );
    let hold = samples(&rows, m::FENCE_HOLD_SECONDS, &with("outcome", "new_master"));
    let failover = samples(&rows, m::FAILOVER_SECONDS, &base);
    assert!(!failover.is_empty(), "no failover timed");
    assert_eq!(hold.len(), failover.len());
    assert!(
        failover.iter().all(|s| *s > 0.0 && *s < 30.0),
        "{failover:?}"
    );
    // Every series is this client's.
    for r in &rows {
        assert!(r.has(&base), "{} {:?}", r.name, r.labels);
    }
}

/// With passwords on the data nodes and the sentinels, and a client that sends a wrong one,
/// no label value carries either; the refused client's failures are counted as `auth`.
fn no_label_carries_a_password(rt: Rt) {
    let topo = topology(
        TopologyOptions::default()
            .password("data-s3cret-pw")
            .sentinel_password("sentinel-s3cret-pw"),
    );
    let service = topo.service_name().to_owned();
    let (good, good_snap) = recorded_client(rt, config_for(&topo), Role::Master);
    for _ in 0..5 {
        good.incr("metrics:n").unwrap();
    }
    let mut config = config_for(&topo);
    config.auth = Some(Credentials::password("wrong-s3cret-pw"));
    config.fence_max_hold = Duration::from_secs(3);
    let (bad, bad_snap) = recorded_client(rt, config, Role::Master);
    let err = bad.incr("metrics:n").unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");

    let (good_rows, bad_rows) = (rows(&good_snap), rows(&bad_snap));
    for r in good_rows.iter().chain(&bad_rows) {
        for (k, v) in &r.labels {
            assert!(!v.contains("s3cret"), "{} {k}={v}", r.name);
            assert!(["service", "role", "outcome", "kind"].contains(&k.as_str()));
        }
    }
    let base = [("service", service.as_str()), ("role", "master")];
    assert!(count(&good_rows, m::COMMANDS_TOTAL, &[base[0], ("outcome", "ok")]) >= 5);
    assert_eq!(count(&good_rows, m::ERRORS_TOTAL, &[("kind", "auth")]), 0);
    assert_eq!(
        count(
            &bad_rows,
            m::COMMANDS_TOTAL,
            &[base[0], ("outcome", "auth")]
        ),
        1
    );
    assert_eq!(count(&bad_rows, m::ERRORS_TOTAL, &[("kind", "auth")]), 1);
}

on_every_runtime!(
    commands_and_a_failover_are_recorded,
    no_label_carries_a_password
);
