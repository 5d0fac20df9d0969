use super::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use resp_sentinel_core::cmd;
use resp_sentinel_core::sentinel::{Addr, Config, Credentials};
use std::time::Duration;

/// One metric as read back: name, labels, value.
type Row = (String, Vec<(String, String)>, DebugValue);

fn rows(snapshotter: &Snapshotter) -> Vec<Row> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key().clone();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

/// The value of `name` whose labels include every pair of `with`.
fn value<'a>(rows: &'a [Row], name: &str, with: &[(&str, &str)]) -> &'a DebugValue {
    let found: Vec<_> = rows
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && with
                    .iter()
                    .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .collect();
    assert_eq!(found.len(), 1, "{name} {with:?}: {found:?}");
    &found[0].2
}

fn counter(rows: &[Row], name: &str, with: &[(&str, &str)]) -> u64 {
    match value(rows, name, with) {
        DebugValue::Counter(n) => *n,
        other => panic!("{name} is not a counter: {other:?}"),
    }
}

fn samples(rows: &[Row], name: &str, with: &[(&str, &str)]) -> Vec<f64> {
    match value(rows, name, with) {
        DebugValue::Histogram(v) => v.iter().map(|f| f.into_inner()).collect(),
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

fn client(config: Config) -> Driven {
    Driven::Client(Machine::new(config, Instant::now()))
}

fn config() -> Config {
    Config::new(vec![Addr::new("127.0.0.1", 1)], "svc")
}

/// Metrics for `driven`, registered with a recorder of their own.
fn recorded(driven: &Driven) -> (Metrics, Snapshotter) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let m = metrics::with_local_recorder(&recorder, || Metrics::new(driven));
    (m, snapshotter)
}

#[test]
fn commands_are_counted_by_outcome_and_timed() {
    let (mut m, snap) = recorded(&client(config()));
    let now = Instant::now();
    m.submitted(RequestId(1), now);
    m.submitted(RequestId(2), now);
    m.submitted(RequestId(3), now);
    m.submitted(RequestId(4), now);
    std::thread::sleep(Duration::from_millis(5));
    m.replied(RequestId(1), &Ok(Value::Integer(1)));
    let wrongtype = Value::Error("WRONGTYPE no".into());
    m.replied(RequestId(2), &Ok(wrongtype));
    m.replied(RequestId(3), &Err(CommandError::Timeout));
    m.replied(
        RequestId(4),
        &Err(CommandError::ConnectionLost { sent: true }),
    );
    // A reply nothing was timed for is still counted.
    m.replied(RequestId(9), &Err(CommandError::FenceTimeout));
    let rows = rows(&snap);
    let base = [("service", "svc"), ("role", "master")];
    let outcome = |o| [base[0], base[1], ("outcome", o)];
    assert_eq!(counter(&rows, COMMANDS_TOTAL, &outcome("ok")), 1);
    assert_eq!(counter(&rows, COMMANDS_TOTAL, &outcome("server_error")), 1);
    assert_eq!(counter(&rows, COMMANDS_TOTAL, &outcome("timeout")), 1);
    assert_eq!(
        counter(&rows, COMMANDS_TOTAL, &outcome("connection_lost_sent")),
        1
    );
    assert_eq!(counter(&rows, COMMANDS_TOTAL, &outcome("fence_timeout")), 1);
    assert_eq!(counter(&rows, COMMANDS_TOTAL, &outcome("queue_full")), 0);
    let kind = |k| [base[0], base[1], ("kind", k)];
    assert_eq!(counter(&rows, ERRORS_TOTAL, &kind("timeout")), 1);
    assert_eq!(counter(&rows, ERRORS_TOTAL, &kind("fence_timeout")), 1);
    assert_eq!(counter(&rows, ERRORS_TOTAL, &kind("auth")), 0);
    let replied = samples(&rows, COMMAND_DURATION_SECONDS, &outcome("replied"));
    assert_eq!(replied.len(), 2);
    assert!(
        replied.iter().all(|s| *s >= 0.005 && *s < 5.0),
        "{replied:?}"
    );
    assert_eq!(
        samples(&rows, COMMAND_DURATION_SECONDS, &outcome("failed")).len(),
        2
    );
}

#[test]
fn every_failure_kind_is_registered_once() {
    let mut kinds = FAILURE_KINDS.to_vec();
    kinds.extend(OTHER_ERROR_KINDS);
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), FAILURE_KINDS.len() + OTHER_ERROR_KINDS.len());
    let errors = [
        CommandError::Timeout,
        CommandError::ConnectionLost { sent: true },
        CommandError::ConnectionLost { sent: false },
        CommandError::FenceTimeout,
        CommandError::QueueFull,
        CommandError::Auth("WRONGPASS".into()),
        CommandError::Closed,
        CommandError::Rejected("SUBSCRIBE".into()),
        CommandError::Unavailable("loading".into()),
        CommandError::DedicatedEnded("gone".into()),
    ];
    for e in &errors {
        assert!(FAILURE_KINDS.contains(&failure_kind(e)), "{e:?}");
    }
    let (_m, snap) = recorded(&client(config()));
    let rows = rows(&snap);
    let commands = rows.iter().filter(|r| r.0 == COMMANDS_TOTAL).count();
    assert_eq!(commands, FAILURE_KINDS.len() + 2);
    let errors = rows.iter().filter(|r| r.0 == ERRORS_TOTAL).count();
    assert_eq!(errors, kinds.len());
}

#[test]
fn a_failover_counts_and_times_the_fence() {
    let (mut m, snap) = recorded(&client(config()));
    let (a, b) = (Addr::new("10.0.0.1", 6379), Addr::new("10.0.0.2", 6379));
    m.event(&Event::Connecting {
        addr: a.clone(),
        dialed: None,
        role: Role::Master,
    });
    m.event(&Event::MasterChanged {
        old: None,
        new: a.clone(),
    });
    m.event(&Event::FenceRaised {
        old: a.clone(),
        reason: "+selected-slave".into(),
    });
    std::thread::sleep(Duration::from_millis(10));
    m.event(&Event::FenceHeld {
        old: a.clone(),
        held: Duration::from_millis(10),
        reason: "still".into(),
    });
    m.event(&Event::MasterChanged {
        old: Some(a.clone()),
        new: b.clone(),
    });
    // A fence that came down without a new master.
    m.event(&Event::FenceRaised {
        old: b.clone(),
        reason: "+odown".into(),
    });
    m.event(&Event::FenceLifted {
        old: b.clone(),
        reason: "-failover-abort-not-elected".into(),
        held: Duration::from_millis(1500),
    });
    m.event(&Event::Reconnecting {
        delay: Duration::from_millis(100),
    });
    m.event(&Event::Error("node answered `LOADING`".into()));
    let rows = rows(&snap);
    let base = [("service", "svc"), ("role", "master")];
    assert_eq!(counter(&rows, CONNECTS_TOTAL, &base), 1);
    assert_eq!(
        counter(&rows, FAILOVERS_TOTAL, &base),
        1,
        "the first master is no failover"
    );
    assert_eq!(counter(&rows, FENCE_RAISED_TOTAL, &base), 2);
    assert_eq!(counter(&rows, FENCE_HELD_TOTAL, &base), 1);
    assert_eq!(counter(&rows, FENCE_LIFTED_TOTAL, &base), 1);
    assert_eq!(counter(&rows, RECONNECTS_TOTAL, &base), 1);
    assert_eq!(
        counter(&rows, ERRORS_TOTAL, &[base[0], base[1], ("kind", "event")]),
        1
    );
    let failover = samples(&rows, FAILOVER_SECONDS, &base);
    assert_eq!(failover.len(), 1);
    assert!(failover[0] >= 0.01 && failover[0] < 5.0, "{failover:?}");
    let hold = |o| {
        samples(
            &rows,
            FENCE_HOLD_SECONDS,
            &[base[0], base[1], ("outcome", o)],
        )
    };
    assert_eq!(hold("new_master"), failover);
    assert_eq!(hold("lifted"), vec![1.5]);
}

#[test]
fn queued_commands_are_a_gauge() {
    let mut driven = client(config());
    let (mut m, snap) = recorded(&driven);
    let Driven::Client(machine) = &mut driven else {
        unreachable!()
    };
    // No sentinel answers yet: both commands wait.
    machine.submit(cmd("PING"), Instant::now());
    machine.submit(cmd("PING"), Instant::now());
    assert!(!machine.is_fenced());
    m.queues(machine);
    let rows = rows(&snap);
    let base = [("service", "svc"), ("role", "master")];
    assert_eq!(
        value(&rows, QUEUED_COMMANDS, &base),
        &DebugValue::Gauge(2.0.into())
    );
    assert_eq!(
        value(&rows, FENCED_COMMANDS, &base),
        &DebugValue::Gauge(0.0.into())
    );
}

#[test]
fn labels_are_the_service_and_role_and_fixed_words_only() {
    let mut c = config();
    c.service = "orders".into();
    c.role = Role::Replica;
    c.auth = Some(Credentials::user("app", "s3cret-pw"));
    c.sentinel_auth = Some(Credentials::password("s3cret-sentinel"));
    let (mut m, snap) = recorded(&client(c));
    m.connect_failed(false);
    m.connect_failed(true);
    m.replied(
        RequestId(1),
        &Err(CommandError::Auth("WRONGPASS s3cret-pw".into())),
    );
    let rows = rows(&snap);
    assert!(!rows.is_empty());
    for (name, labels, _) in &rows {
        assert!(name.starts_with("resp_sentinel_"), "{name}");
        for (k, v) in labels {
            assert!(
                !v.contains("s3cret") && !v.contains("app"),
                "{name} {k}={v}"
            );
            match k.as_str() {
                "service" => assert_eq!(v, "orders"),
                "role" => assert_eq!(v, "replica"),
                "outcome" | "kind" => {
                    assert!(v.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                }
                other => panic!("{name} has an unexpected label {other}"),
            }
        }
    }
    let base = [("service", "orders"), ("role", "replica")];
    let kind = |k| [base[0], base[1], ("kind", k)];
    assert_eq!(counter(&rows, ERRORS_TOTAL, &kind("connect")), 1);
    assert_eq!(counter(&rows, ERRORS_TOTAL, &kind("tls")), 1);
    assert_eq!(counter(&rows, ERRORS_TOTAL, &kind("auth")), 1);
}

#[test]
fn a_discovery_records_nothing() {
    let discovery = resp_sentinel_core::sentinel::Discovery::master(config(), Instant::now());
    let (tx, _rx) = flume::bounded(1);
    let (mut m, snap) = recorded(&Driven::Discovery(discovery, tx));
    m.event(&Event::Reconnecting {
        delay: Duration::from_millis(1),
    });
    m.connect_failed(false);
    assert!(rows(&snap).is_empty());
}

#[test]
fn describe_names_every_metric() {
    let recorder = DebuggingRecorder::new();
    let snap = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        describe();
        Metrics::new(&client(config()))
    });
    let all = snap.snapshot().into_vec();
    let names: std::collections::BTreeSet<_> = all
        .iter()
        .map(|(k, ..)| k.key().name().to_owned())
        .collect();
    assert_eq!(names.len(), 13, "{names:?}");
    for (key, unit, description, _) in &all {
        let name = key.key().name();
        assert!(description.is_some(), "{name} has no description");
        let seconds = name.ends_with("_seconds");
        assert_eq!(*unit == Some(Unit::Seconds), seconds, "{name}: {unit:?}");
    }
}
