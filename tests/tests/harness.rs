//! Tests of the topology harness itself, against real redis-server and redis-sentinel.
//! They fail (never skip) when Redis is not installed.

use resp_sentinel_tests::{
    AdminConn, AdminError, HarnessError, NodeState, Reply, Topology, TopologyOptions,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn start(opts: TopologyOptions) -> Topology {
    let t0 = Instant::now();
    let t = Topology::start(opts).unwrap_or_else(|e| panic!("topology did not start: {e}"));
    eprintln!("topology started in {:?}: {t:?}", t0.elapsed());
    t
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
    for s in t.sentinel_addrs() {
        assert_eq!(t.role(&s).unwrap(), "sentinel");
    }
}
