//! The address map against real nodes that announce addresses they do not listen on: replicas
//! with `replica-announce-port`, sentinels with `announce-port`, each announced port a
//! forwarder that the topology uses and whose door is then shut. A client without the map
//! cannot reach what sentinels name; with it, it writes to the master (a replica promoted under
//! its announced address), reads from replicas, and uses the sentinels it learnt.

mod support;

use resp_sentinel::core::sentinel::{AddressMap, AddressRule, Event, Role};
use resp_sentinel::Error;
use resp_sentinel_tests::forward::Forwarder;
use resp_sentinel_tests::{Addr, Reply, Topology, TopologyOptions};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::{config_for, eventually, topology, Rt, TestClient};

const LONG: Duration = Duration::from_secs(40);

fn socket(a: &Addr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], a.port))
}

fn ok(r: Reply, what: &str) {
    assert!(!matches!(r, Reply::Error(_)), "{what}: {r:?}");
}

/// Ports of the replicas a sentinel lists for the service, if every one of them is healthy.
fn healthy_replica_ports(topo: &Topology, sentinel: &Addr) -> Result<BTreeSet<u16>, String> {
    let r = topo
        .admin(sentinel, &["SENTINEL", "REPLICAS", topo.service_name()])
        .map_err(|e| e.to_string())?;
    let list = r.as_array().ok_or(format!("not a list: {r:?}"))?;
    let mut ports = BTreeSet::new();
    for item in list {
        let port = item.field("port").ok_or("no port")?;
        let flags = item.field("flags").unwrap_or("");
        let link = item.field("master-link-status").unwrap_or("");
        if flags != "slave" || link != "ok" {
            return Err(format!("replica {port}: flags {flags}, link {link}"));
        }
        ports.insert(port.parse::<u16>().map_err(|e| e.to_string())?);
    }
    Ok(ports)
}

/// A topology whose replicas and sentinels announce forwarder ports; returns the forwarders
/// of the replicas and of the sentinels, with the rules that undo them.
struct Announced {
    topo: Topology,
    doors: Vec<Forwarder>,
    rules: Vec<AddressRule>,
}

fn announced_topology() -> Announced {
    let topo = topology(TopologyOptions::default());
    let data = topo.data_addrs();
    let (master, replicas) = (data[0].clone(), data[1..].to_vec());
    let mut doors = Vec::new();
    let mut rules = Vec::new();
    let mut announced = BTreeSet::new();
    for r in &replicas {
        let f = Forwarder::start(socket(r)).expect("forwarder");
        let port = f.port().to_string();
        ok(
            topo.admin(r, &["CONFIG", "SET", "replica-announce-port", &port])
                .unwrap(),
            "replica-announce-port",
        );
        // The replica announces its port in the replication handshake: make it shake again.
        ok(
            topo.admin(r, &["CLIENT", "KILL", "TYPE", "master"])
                .unwrap(),
            "client kill type master",
        );
        rules.push(AddressRule::addr(
            Addr::new("127.0.0.1", f.port()),
            r.clone(),
        ));
        announced.insert(f.port());
        doors.push(f);
    }
    // The master's own list, then every sentinel's (after forgetting the old entries).
    eventually(LONG, || {
        let info = topo.info_replication(&master).map_err(|e| e.to_string())?;
        let ports: BTreeSet<u16> = (0..replicas.len())
            .filter_map(|i| info.get(&format!("slave{i}")))
            .filter_map(|v| v.split(',').find_map(|kv| kv.strip_prefix("port=")))
            .filter_map(|p| p.parse().ok())
            .collect();
        (ports == announced)
            .then_some(())
            .ok_or(format!("master lists {ports:?}"))
    });
    for s in topo.sentinel_addrs() {
        let f = Forwarder::start(socket(&s)).expect("forwarder");
        let port = f.port().to_string();
        ok(
            topo.admin(&s, &["SENTINEL", "CONFIG", "SET", "announce-port", &port])
                .unwrap(),
            "sentinel announce-port",
        );
        rules.push(AddressRule::addr(
            Addr::new("127.0.0.1", f.port()),
            s.clone(),
        ));
        doors.push(f);
    }
    for s in topo.sentinel_addrs() {
        ok(
            topo.admin(&s, &["SENTINEL", "RESET", topo.service_name()])
                .unwrap(),
            "sentinel reset",
        );
    }
    for s in topo.sentinel_addrs() {
        eventually(LONG, || {
            let ports = healthy_replica_ports(&topo, &s)?;
            (ports == announced)
                .then_some(())
                .ok_or(format!("{s} lists replicas {ports:?}"))
        });
    }
    Announced { topo, doors, rules }
}

/// Closes the connections of clients named `name` on the node at `a`; how many.
fn kill_clients_named(topo: &Topology, a: &Addr, name: &str) -> Result<usize, String> {
    let list = topo
        .admin(a, &["CLIENT", "LIST"])
        .map_err(|e| e.to_string())?;
    let text = list.as_str().unwrap_or_default().to_owned();
    let mut killed = 0;
    for line in text.lines() {
        let field = |k: &str| {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
        };
        if field("name") == Some(name) {
            if let Some(id) = field("id") {
                topo.admin(a, &["CLIENT", "KILL", "ID", id])
                    .map_err(|e| e.to_string())?;
                killed += 1;
            }
        }
    }
    Ok(killed)
}

/// The announced addresses the sentinels give for the master, once all agree.
fn agreed_master(topo: &Topology) -> Addr {
    eventually(LONG, || {
        let named: BTreeSet<Option<Addr>> = topo
            .master_addr_by_sentinel()
            .into_iter()
            .map(|(_, r)| r.ok().flatten())
            .collect();
        match named.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(a)] => Ok(a.clone()),
            other => Err(format!("sentinels say {other:?}")),
        }
    })
}

#[test]
fn nodes_behind_announced_addresses_are_reached_through_the_map_on_every_runtime() {
    let Announced { topo, doors, rules } = announced_topology();
    let old = topo.data_addrs()[0].clone();
    // Promote a replica: sentinels now name the master by its announced (forwarder) address.
    ok(
        topo.admin(
            &topo.sentinel_addrs()[0],
            &["SENTINEL", "FAILOVER", topo.service_name()],
        )
        .unwrap(),
        "sentinel failover",
    );
    let deadline = Instant::now() + LONG;
    let master = loop {
        let m = agreed_master(&topo);
        if m != old {
            break m;
        }
        assert!(Instant::now() < deadline, "no failover");
        std::thread::sleep(Duration::from_millis(100));
    };
    let real_master = rules
        .iter()
        .find_map(|r| AddressMap::new([r.clone()]).dial(&master))
        .expect("the new master is a replica named by its announced port");
    eventually(LONG, || match topo.role(&real_master) {
        Ok(r) if r == "master" => Ok(()),
        other => Err(format!("{real_master}: {other:?}")),
    });
    // Both other nodes replicate from it (the old master converted), as every sentinel sees.
    for s in topo.sentinel_addrs() {
        eventually(LONG, || {
            let ports = healthy_replica_ports(&topo, &s)?;
            (ports.len() == 2 && ports.contains(&old.port))
                .then_some(())
                .ok_or(format!("{s} lists healthy replicas {ports:?}"))
        });
    }
    // The sentinels see one another at their announced ports before the doors shut.
    for s in topo.sentinel_addrs() {
        eventually(LONG, || {
            let r = topo
                .admin(&s, &["SENTINEL", "SENTINELS", topo.service_name()])
                .map_err(|e| e.to_string())?;
            let n = r.as_array().map_or(0, |l| l.len());
            (n == 2)
                .then_some(())
                .ok_or(format!("{s} knows {n} sentinels"))
        });
    }
    for d in &doors {
        d.shut_door();
    }
    std::thread::sleep(Duration::from_millis(200));

    // Without the map the master sentinels name is out of reach, and the error says where.
    let mut plain = config_for(&topo);
    plain.command_timeout = Duration::from_secs(2);
    let blind = TestClient::new(Rt::Blocking, plain, Role::Master);
    match blind.incr("map:counter") {
        Err(e @ Error::Unavailable(_)) => {
            let s = e.to_string();
            assert!(s.contains(&master.to_string()), "{s}");
        }
        other => panic!("reached the master without the map: {other:?}"),
    }
    drop(blind);

    let map = AddressMap::new(rules.clone());
    for rt in [Rt::Blocking, Rt::Tokio, Rt::AsyncStd, Rt::Smol] {
        let mut c = config_for(&topo);
        // One configured sentinel: the others are learnt under their announced ports.
        c.sentinels.truncate(1);
        c.address_map = map.clone();
        c.client_name = Some("map-test".into());
        let client = TestClient::new(rt, c.clone(), Role::Master);
        let n = client.incr("map:counter").expect("write through the map");
        assert!(n >= 1);
        match client.first_event(Duration::from_secs(2)) {
            Some(Event::Ready { addr, dialed, role }) => {
                assert_eq!((addr, role), (master.clone(), Role::Master), "{rt:?}");
                assert_eq!(dialed, Some(real_master.clone()), "{rt:?}");
            }
            other => panic!("{rt:?}: expected Ready first, got {other:?}"),
        }
        // Reads go to a replica that sentinels name by its announced port (or to the old
        // master, which announces its real one).
        let reader = TestClient::new(rt, c.clone(), Role::Replica);
        assert_eq!(reader.role().expect("replica read"), "slave", "{rt:?}");

        // With the one configured sentinel paused, the sentinels learnt under their announced
        // ports answer the rediscovery that a lost connection starts, through the map.
        let seed = topo.sentinel_addrs()[0].clone();
        topo.pause(&seed).unwrap();
        // Only this client's connections (the sentinels' own links go through the shut doors).
        let killed = kill_clients_named(&topo, &real_master, "map-test");
        let got = eventually(Duration::from_secs(10), || client.incr("map:counter"));
        topo.resume(&seed).unwrap();
        assert!(
            matches!(killed, Ok(k) if k > 0) && got > n,
            "{rt:?}: {killed:?} {got}"
        );
    }
    for d in &doors {
        assert!(
            d.accepted() > 0,
            "every forwarder carried the topology's traffic"
        );
    }
}
