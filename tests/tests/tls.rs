//! TLS end to end: real TLS-only redis-server and redis-sentinel processes (certificates made
//! by the harness), on every runtime.

#[macro_use]
mod support;

use resp_sentinel::core::sentinel::{ClientIdentity, Config, Pem, Role, TlsConfig, TlsRoots};
use resp_sentinel::Error;
use resp_sentinel_tests::{TlsTopology, Topology, TopologyOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{audit_counter, config_for, discover, eventually, topology, Rt, TestClient};

on_every_runtime!(
    tls_discovery_failover_and_pubsub,
    tls_certificate_problems_are_named,
    tls_client_certificates,
    tls_data_nodes_with_plain_sentinels,
);

/// One sentinel, one master: enough for the error cases, quick to start.
fn small(tls: TlsTopology) -> TopologyOptions {
    let mut o = TopologyOptions::default().tls_with(tls);
    o.replicas = 0;
    o.sentinels = 1;
    o.quorum = 1;
    o
}

const ALL_TLS: TlsTopology = TlsTopology {
    data: true,
    sentinels: true,
    auth_clients: false,
};

/// TLS settings trusting the topology's CA (with its client certificate when `identity`).
fn tls_for(topo: &Topology, identity: bool) -> TlsConfig {
    let f = topo.tls_files().expect("a TLS topology");
    TlsConfig {
        roots: TlsRoots::Pem(Pem::File(f.ca.clone())),
        identity: identity.then(|| ClientIdentity {
            cert: Pem::File(f.client_cert.clone()),
            key: Pem::File(f.client_key.clone()),
        }),
        ..TlsConfig::default()
    }
}

/// [`config_for`] with TLS to both sides.
fn tls_config(topo: &Topology) -> Config {
    let mut c = config_for(topo);
    c.tls = Some(tls_for(topo, false));
    c.sentinel_tls = c.tls.clone();
    c
}

/// Discovery over TLS sentinels, then writes and a subscription across a forced failover:
/// no acknowledged write lost, the subscription keeps delivering.
fn tls_discovery_failover_and_pubsub(rt: Rt) {
    let mut o = TopologyOptions::default()
        .tls()
        .down_after(Duration::from_millis(1000));
    o.replicas = 1;
    let topo = topology(o);
    let (master, replicas) = discover(rt, tls_config(&topo));
    assert_eq!(master.unwrap(), topo.master_addr().unwrap());
    assert_eq!(replicas.unwrap().len(), 1);

    let client = Arc::new(TestClient::new(rt, tls_config(&topo), Role::Master));
    let mut sub = client.subscribe("news");
    let received = |sub: &mut support::TestSub, text: &str| {
        eventually(Duration::from_secs(20), || {
            let master = topo.master_addr().map_err(|e| e.to_string())?;
            topo.admin(&master, &["PUBLISH", "news", text])
                .map_err(|e| e.to_string())?;
            match sub.next(Duration::from_millis(300)) {
                Some(m) if &m.payload[..] == text.as_bytes() => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
    };
    received(&mut sub, "before");

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writer = {
        let (client, stop, acked) = (client.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || {
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match client.incr("drill") {
                    Ok(v) => acked.lock().unwrap().push(v),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            errors
        })
    };
    let count = || acked.lock().unwrap().len();
    let wait_for = |n: usize| {
        let target = count() + n;
        let deadline = Instant::now() + Duration::from_secs(20);
        while count() < target {
            assert!(Instant::now() < deadline, "writes stalled at {}", count());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(100);
    let old = topo.failover().unwrap();
    let new = topo
        .wait_for_new_master(&old, Duration::from_secs(60))
        .unwrap();
    wait_for(100);
    stop.store(true, Ordering::Relaxed);
    let errors = writer.join().unwrap();
    assert_eq!(client.master_addr(), Some(new));
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    audit_counter(&acked, topo.get_counter("drill").unwrap());
    assert!(errors.is_empty(), "writes failed over TLS: {errors:?}");
    received(&mut sub, "after");
}

/// A wrong CA for sentinels, and a name the data node's certificate does not hold: each error
/// says which side, which address and what is wrong with the certificate. Skipping the name
/// check (only) then works.
fn tls_certificate_problems_are_named(rt: Rt) {
    let topo = topology(small(ALL_TLS));
    let sentinel = topo.sentinel_addrs()[0].clone();
    let master = topo.master_addr().unwrap();

    let mut c = tls_config(&topo);
    c.sentinel_tls = Some(TlsConfig::with_ca_file(&topo.tls_files().unwrap().other_ca));
    let (found, _) = discover(rt, c);
    let err = found.unwrap_err();
    assert!(matches!(err, Error::MasterNotFound(_)), "{err:?}");
    let text = err.to_string();
    for want in [
        sentinel.to_string().as_str(),
        "TLS to sentinel failed",
        "unknown issuer",
    ] {
        assert!(text.contains(want), "{want:?} missing in: {text}");
    }

    let mut c = tls_config(&topo);
    c.command_timeout = Duration::from_secs(2);
    let mut data = tls_for(&topo, false);
    data.server_name = Some("redis.wrong.invalid".into());
    c.tls = Some(data.clone());
    let client = TestClient::new(rt, c.clone(), Role::Master);
    let text = client.incr("n").unwrap_err().to_string();
    for want in [
        master.to_string().as_str(),
        "TLS to data node failed",
        "not valid for the name",
    ] {
        assert!(text.contains(want), "{want:?} missing in: {text}");
    }

    data.danger_accept_any_hostname = true;
    c.tls = Some(data);
    let client = TestClient::new(rt, c, Role::Master);
    assert_eq!(client.incr("n").unwrap(), 1);
}

/// Nodes that require client certificates: refused clearly without one, served with one.
fn tls_client_certificates(rt: Rt) {
    let topo = topology(small(TlsTopology {
        auth_clients: true,
        ..ALL_TLS
    }));
    let mut c = tls_config(&topo);
    c.command_timeout = Duration::from_secs(2);
    let (found, _) = discover(rt, c);
    let text = found.unwrap_err().to_string();
    assert!(
        text.contains("TLS to sentinel failed") && text.contains("requires a client certificate"),
        "{text}"
    );

    let mut c = config_for(&topo);
    c.tls = Some(tls_for(&topo, true));
    c.sentinel_tls = c.tls.clone();
    let client = TestClient::new(rt, c, Role::Master);
    assert_eq!(client.incr("n").unwrap(), 1);
}

/// TLS data nodes behind plain sentinels, configured from the topology's URL
/// (`rediss+sentinel://...?sentinel_tls=false&tls_ca_file=...`).
fn tls_data_nodes_with_plain_sentinels(rt: Rt) {
    let mut o = small(TlsTopology {
        sentinels: false,
        ..ALL_TLS
    });
    o.replicas = 1;
    let topo = topology(o);
    let url = topo.url();
    assert!(url.starts_with("rediss+sentinel://") && url.contains("sentinel_tls=false"));
    let from_url = resp_sentinel::core::url::parse(&url)
        .unwrap()
        .to_config()
        .unwrap();
    assert!(from_url.sentinel_tls.is_none() && from_url.tls.is_some());
    let mut c = config_for(&topo);
    c.tls = from_url.tls;
    let master = TestClient::new(rt, c.clone(), Role::Master);
    assert_eq!(master.incr("n").unwrap(), 1);
    let replica = TestClient::new(rt, c, Role::Replica);
    assert_eq!(
        eventually(Duration::from_secs(10), || replica.role()),
        "slave"
    );
}
