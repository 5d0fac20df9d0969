//! Tests of the topology harness itself, against real redis-server and redis-sentinel.
//! They fail (never skip) when Redis is not installed.

use resp_sentinel_tests::server::VALKEY_VERSION;
use resp_sentinel_tests::{
    Addr, AdminConn, AdminError, HarnessError, NodeState, Reply, Server, Topology, TopologyOptions,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn start(opts: TopologyOptions) -> Topology {
    let t0 = Instant::now();
    let t = Topology::start(opts).unwrap_or_else(|e| panic!("topology did not start: {e}"));
    eprintln!("topology started in {:?}: {t:?}", t0.elapsed());
    t
}

fn socket(a: &Addr) -> SocketAddr {
    format!("{}:{}", a.host, a.port).parse().unwrap()
}

fn raw_conn(a: &Addr) -> AdminConn {
    AdminConn::connect(socket(a), Duration::from_secs(5)).unwrap()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn starts_and_agrees_on_roles() {
    let t = start(TopologyOptions::default());
    let m = t.master_addr().unwrap();
    assert_eq!(m, t.data_addrs()[0]);
    assert_eq!(t.role(&m).unwrap(), "master");
    for r in t.data_addrs().iter().filter(|a| **a != m) {
        assert_eq!(t.role(r).unwrap(), "slave");
        let info = t.info_replication(r).unwrap();
        assert_eq!(info["master_link_status"], "up", "{info:?}");
        assert_eq!(info["master_port"], m.port.to_string());
    }
    for (i, s) in t.sentinel_addrs().iter().enumerate() {
        assert_eq!(t.role(s).unwrap(), "sentinel");
        let replicas = t.admin(s, &["SENTINEL", "replicas", "mymaster"]).unwrap();
        assert_eq!(replicas.as_array().unwrap().len(), 2, "sentinel {i}");
        for r in replicas.as_array().unwrap() {
            assert_eq!(r.field("master-link-status"), Some("ok"), "{r:?}");
        }
        let peers = t.admin(s, &["SENTINEL", "sentinels", "mymaster"]).unwrap();
        assert_eq!(peers.as_array().unwrap().len(), 2, "sentinel {i}");
    }
    let ports: Vec<u16> = t.sentinel_addrs().iter().map(|a| a.port).collect();
    assert_eq!(
        t.url(),
        format!(
            "redis+sentinel://127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}/mymaster",
            ports[0], ports[1], ports[2]
        )
    );
    let all: Vec<u16> = t
        .data_addrs()
        .iter()
        .chain(&t.sentinel_addrs())
        .map(|a| a.port)
        .collect();
    for p in &all {
        assert!(*p >= 1024 && *p != 6379 && *p != 26379, "{p}");
    }
    // Writes on the master reach the replicas; get_counter reads the master.
    assert_eq!(t.get_counter("harness:c").unwrap(), 0);
    t.admin(&m, &["INCRBY", "harness:c", "41"]).unwrap();
    t.admin(&m, &["INCR", "harness:c"]).unwrap();
    assert_eq!(t.get_counter("harness:c").unwrap(), 42);
    let acked = t.admin(&m, &["WAIT", "2", "5000"]).unwrap();
    assert_eq!(acked, Reply::Int(2));
    // redis-cli works as an admin path too.
    let out = t
        .redis_cli(&t.data_addrs()[1], &["GET", "harness:c"])
        .unwrap();
    assert_eq!(out.trim(), "42");
    let err = t.redis_cli(&m, &["NOSUCHCOMMAND"]).unwrap();
    assert!(err.starts_with("ERR unknown command"), "{err}");
    assert!(matches!(
        t.admin(&m, &["NOSUCHCOMMAND"]),
        Err(HarnessError::Command { .. })
    ));
}

#[test]
fn forced_failover_promotes_another_node() {
    let t = start(TopologyOptions::default());
    let t0 = Instant::now();
    let old = t.failover().unwrap();
    let new = t
        .wait_for_new_master(&old, Duration::from_secs(60))
        .unwrap();
    let took = t0.elapsed();
    eprintln!("failover {old} -> {new} in {took:?}");
    assert_ne!(new, old);
    assert!(t.data_addrs().contains(&new));
    assert_eq!(t.role(&new).unwrap(), "master");
    assert_eq!(t.master_addr().unwrap(), new);
    assert!(took < Duration::from_secs(30));
    // Sentinel demotes the old master once it notices it still claims the role.
    t.wait_until_replica(&old, Duration::from_secs(40)).unwrap();
    assert_eq!(t.role(&old).unwrap(), "slave");
    assert_eq!(t.wait_healthy(Duration::from_secs(30)).unwrap(), new);
}

#[test]
fn killed_master_fails_over_and_rejoins_as_replica() {
    let t = start(TopologyOptions::default());
    let old = t.master_addr().unwrap();
    t.admin(&old, &["SET", "harness:k", "7"]).unwrap();
    assert_eq!(
        t.admin(&old, &["WAIT", "2", "5000"]).unwrap(),
        Reply::Int(2)
    );
    let pid = t.pid(&old).unwrap().unwrap();
    t.kill(&old).unwrap();
    assert!(!pid_alive(pid), "killed process must be gone");
    assert_eq!(t.state(&old).unwrap(), NodeState::Stopped);
    assert!(matches!(t.kill(&old), Err(HarnessError::InvalidState(_))));
    assert!(
        t.redis_cli(&old, &["PING"]).is_err(),
        "nothing listens there"
    );
    let new = t
        .wait_for_new_master(&old, Duration::from_secs(40))
        .unwrap();
    assert_ne!(new, old);
    assert_eq!(t.get_counter("harness:k").unwrap(), 7);
    t.restart(&old).unwrap();
    assert!(matches!(
        t.restart(&old),
        Err(HarnessError::InvalidState(_))
    ));
    t.wait_until_replica(&old, Duration::from_secs(40)).unwrap();
    let info = t.info_replication(&old).unwrap();
    assert_eq!(info["role"], "slave");
    assert_eq!(info["master_port"], new.port.to_string());
    assert_eq!(t.wait_healthy(Duration::from_secs(30)).unwrap(), new);
}

#[test]
fn pause_resume_and_sentinel_restart() {
    let t = start(TopologyOptions::default());
    let replica = t.data_addrs()[1].clone();
    t.pause(&replica).unwrap();
    assert_eq!(t.state(&replica).unwrap(), NodeState::Paused);
    let mut c = AdminConn::connect(socket(&replica), Duration::from_millis(500)).unwrap();
    assert!(
        matches!(c.call(&["PING"]), Err(AdminError::Io(_))),
        "a paused node must not answer"
    );
    assert!(t.pause(&replica).is_err(), "pausing twice is a bug");
    t.resume(&replica).unwrap();
    assert_eq!(
        t.admin(&replica, &["PING"]).unwrap(),
        Reply::Status("PONG".into())
    );

    let s0 = t.sentinel_addrs()[0].clone();
    t.kill_sentinel(0).unwrap();
    assert_eq!(t.state(&s0).unwrap(), NodeState::Stopped);
    // The others still answer.
    assert_eq!(t.master_addr().unwrap(), t.data_addrs()[0]);
    t.restart_sentinel(0).unwrap();
    let views = t.master_addr_by_sentinel();
    assert_eq!(views.len(), 3);
    assert_eq!(
        t.wait_healthy(Duration::from_secs(30)).unwrap(),
        t.data_addrs()[0]
    );
    // The restarted sentinel kept its identity: the others list exactly two peers each.
    for s in t.sentinel_addrs() {
        let peers = t.admin(&s, &["SENTINEL", "sentinels", "mymaster"]).unwrap();
        assert_eq!(peers.as_array().unwrap().len(), 2, "{s}: {peers:?}");
    }
}

#[test]
fn passwords_are_required_when_set() {
    let t = start(
        TopologyOptions::default()
            .service_name("svc-pw")
            .password("data-pw")
            .sentinel_password("sent-pw"),
    );
    let m = t.master_addr().unwrap();
    let s = t.sentinel_addrs()[0].clone();
    for (addr, good) in [(&m, "data-pw"), (&s, "sent-pw")] {
        let mut c = raw_conn(addr);
        match c.call(&["PING"]) {
            Err(AdminError::Server(e)) => assert!(e.starts_with("NOAUTH"), "{e}"),
            other => panic!("{addr}: unauthenticated PING gave {other:?}"),
        }
        assert!(matches!(c.auth(None, "wrong"), Err(AdminError::Server(_))));
        c.auth(None, good).unwrap();
        assert_eq!(c.call(&["PING"]).unwrap(), Reply::Status("PONG".into()));
    }
    assert_eq!(t.role(&m).unwrap(), "master");
    assert!(t.url().starts_with("redis+sentinel://:data-pw@127.0.0.1:"));
    assert!(t.url().ends_with("/svc-pw?sentinel_password=sent-pw"));
    let shown = format!("{} {t:?}", t.url_redacted());
    assert!(
        !shown.contains("data-pw") && !shown.contains("sent-pw"),
        "{shown}"
    );
}

#[test]
fn acl_users_for_data_nodes_and_sentinels() {
    let t = start(
        TopologyOptions::default()
            .acl_user("app", "app-pw")
            .sentinel_acl_user("watcher", "watch-pw"),
    );
    let m = t.master_addr().unwrap();
    let s = t.sentinel_addrs()[1].clone();
    for (addr, user, pw) in [(&m, "app", "app-pw"), (&s, "watcher", "watch-pw")] {
        let mut c = raw_conn(addr);
        assert!(matches!(c.call(&["PING"]), Err(AdminError::Server(_))));
        assert!(
            matches!(c.auth(None, pw), Err(AdminError::Server(_))),
            "the default user is off"
        );
        c.auth(Some(user), pw).unwrap();
        let who = c.call(&["ACL", "WHOAMI"]).unwrap();
        assert_eq!(who.as_str(), Some(user));
    }
    let out = t.redis_cli(&m, &["ACL", "WHOAMI"]).unwrap();
    assert_eq!(out.trim(), "app");
    assert!(t
        .url()
        .starts_with("redis+sentinel://app:app-pw@127.0.0.1:"));
    assert!(t
        .url()
        .ends_with("/mymaster?sentinel_password=watch-pw&sentinel_username=watcher"));
    // Authenticated sentinels still fail over (they talk to each other as `watcher`).
    let old = t.failover().unwrap();
    let new = t
        .wait_for_new_master(&old, Duration::from_secs(60))
        .unwrap();
    assert_ne!(new, old);
}

#[test]
fn every_process_is_killed_when_a_test_panics() {
    let seen: Arc<Mutex<(Vec<u32>, PathBuf)>> = Arc::default();
    let s = seen.clone();
    let r = std::thread::spawn(move || {
        let t = Topology::start(TopologyOptions::default()).unwrap();
        let mut g = s.lock().unwrap();
        for a in t.data_addrs().iter().chain(&t.sentinel_addrs()) {
            g.0.push(t.pid(a).unwrap().unwrap());
        }
        g.1 = t.dir().to_path_buf();
        drop(g);
        panic!("test body fails");
    })
    .join();
    assert!(r.is_err());
    let g = seen.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(g.0.len(), 6);
    for pid in &g.0 {
        assert!(!pid_alive(*pid), "pid {pid} survived the drop");
    }
    assert!(!g.1.exists(), "{} was not removed", g.1.display());
}

/// Every node runs the server family `RESP_SENTINEL_SERVER` selects: this is what makes the
/// Valkey pass of `scripts/test` a test of Valkey (and the Redis pass one of Redis).
#[test]
fn every_node_runs_the_selected_server() {
    let server = Server::from_env().unwrap();
    let t = start(TopologyOptions::default());
    assert_eq!(t.options().server, server);
    for a in t.data_addrs().iter().chain(&t.sentinel_addrs()) {
        let info = t.admin(a, &["INFO", "server"]).unwrap();
        let info = info.as_str().unwrap();
        let field = |k: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                .map(str::trim)
        };
        match server {
            Server::Redis => {
                assert_eq!(field("valkey_version"), None, "{a}: {info}");
                let v = field("redis_version").unwrap_or("");
                assert!(v.starts_with("7."), "{a}: redis_version {v}");
            }
            Server::Valkey => {
                assert_eq!(field("server_name"), Some("valkey"), "{a}: {info}");
                assert_eq!(field("valkey_version"), Some(VALKEY_VERSION), "{a}: {info}");
            }
        }
    }
}

#[test]
fn missing_valkey_binary_names_the_install_script() {
    let e = Topology::start(TopologyOptions {
        redis_server: PathBuf::from("/nonexistent/.deps/valkey-server"),
        redis_sentinel: PathBuf::from("/nonexistent/.deps/valkey-server"),
        ..TopologyOptions::for_server(Server::Valkey)
    })
    .unwrap_err();
    assert!(matches!(e, HarnessError::MissingBinary { .. }), "{e}");
    assert!(e.to_string().contains("scripts/install-deps"), "{e}");
}

#[test]
fn missing_server_binary_is_a_clear_error() {
    let e = Topology::start(TopologyOptions {
        redis_server: PathBuf::from("redis-server-that-is-not-installed"),
        ..TopologyOptions::default()
    })
    .unwrap_err();
    assert!(matches!(e, HarnessError::MissingBinary { .. }), "{e}");
    assert!(
        e.to_string().contains("redis-server-that-is-not-installed"),
        "{e}"
    );
}

#[test]
fn paused_master_is_replaced_and_demoted_after_resume() {
    let t = start(TopologyOptions::default());
    let old = t.master_addr().unwrap();
    t.pause(&old).unwrap();
    let new = t
        .wait_for_new_master(&old, Duration::from_secs(40))
        .unwrap();
    assert_ne!(new, old);
    t.resume(&old).unwrap();
    t.wait_until_replica(&old, Duration::from_secs(40)).unwrap();
    assert_eq!(t.role(&old).unwrap(), "slave");
    assert_eq!(t.wait_healthy(Duration::from_secs(30)).unwrap(), new);
}
