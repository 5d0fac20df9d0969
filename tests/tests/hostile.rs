//! Hostile and broken servers, played by scripted fakes, on every runtime: each misbehaviour
//! ends in a clear, typed error, and none makes the client hammer the server.

#[macro_use]
mod support;

use resp_sentinel::core::sentinel::{Config, Role};
use resp_sentinel::{cmd, Error, Value};
use resp_sentinel_tests::fake::{handshake, Answer, FakeSentinel, FakeServer};
use std::time::{Duration, Instant};
use support::{Rt, TestClient};

fn client_for(node: &FakeServer, sentinel: &FakeSentinel, timeout: Duration, rt: Rt) -> TestClient {
    let _ = node;
    let mut config = Config::new(vec![sentinel.addr()], "svc");
    config.command_timeout = timeout;
    TestClient::new(rt, config, Role::Master)
}

/// A node that sends one extra reply after each command: the desync is detected every time,
/// and the client reconnects after a growing delay instead of thousands of times a second.
fn extra_replies_are_backed_off(rt: Rt) {
    let node = FakeServer::start(|w| {
        if let Some(a) = handshake(w) {
            return a;
        }
        Answer::Bytes(b"+OK\r\n+EXTRA\r\n".to_vec())
    });
    let sentinel = FakeSentinel::naming(node.addr());
    let client = client_for(&node, &sentinel, Duration::from_millis(500), rt);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        let _ = client.query::<Value>(cmd("SET").arg("k").arg("v"));
    }
    let n = node.connections();
    assert!(n >= 2, "the desync was never detected ({n} connections)");
    assert!(
        n < 60,
        "{n} connections in 4 s: reconnects are not backed off"
    );
}

/// A node that says it is a replica forever: the command fails saying so, with the address.
fn a_node_stuck_as_replica_is_named(rt: Rt) {
    let node = FakeServer::start(|w| match w.first().map(Vec::as_slice) {
        Some(b"ROLE") => Answer::Bytes(
            b"*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:1\r\n$9\r\nconnected\r\n:0\r\n".to_vec(),
        ),
        _ => handshake(w).unwrap_or(Answer::Bytes(b"+OK\r\n".to_vec())),
    });
    let sentinel = FakeSentinel::naming(node.addr());
    let client = client_for(&node, &sentinel, Duration::from_secs(1), rt);
    let err = client.query::<Value>(cmd("GET").arg("k")).unwrap_err();
    match &err {
        Error::Unavailable(why) => {
            assert!(why.contains(&node.addr().to_string()), "{why}");
            assert!(why.contains("reports role slave"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

/// A node that is loading forever: the command fails saying the node is loading.
fn a_loading_node_is_named(rt: Rt) {
    let node = FakeServer::start(|w| match w.first().map(Vec::as_slice) {
        Some(b"HELLO") | Some(b"CLIENT") => handshake(w).unwrap(),
        _ => Answer::Bytes(b"-LOADING Redis is loading the dataset in memory\r\n".to_vec()),
    });
    let sentinel = FakeSentinel::naming(node.addr());
    let client = client_for(&node, &sentinel, Duration::from_secs(1), rt);
    let err = client.query::<Value>(cmd("GET").arg("k")).unwrap_err();
    match &err {
        Error::Unavailable(why) => {
            assert!(
                why.contains(&node.addr().to_string()) && why.contains("LOADING"),
                "{why}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A sentinel address where nothing listens: the error says the connection was refused, and
/// where.
fn a_refused_sentinel_is_named(rt: Rt) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = Config::new(vec![format!("127.0.0.1:{port}").parse().unwrap()], "svc");
    config.command_timeout = Duration::from_secs(2);
    let client = TestClient::new(rt, config, Role::Master);
    let err = client.query::<Value>(cmd("GET").arg("k")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::MasterNotFound(_)), "{err:?}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}")) && text.contains("connection refused"),
        "{text}"
    );
}

on_every_runtime!(
    extra_replies_are_backed_off,
    a_node_stuck_as_replica_is_named,
    a_loading_node_is_named,
    a_refused_sentinel_is_named,
);
