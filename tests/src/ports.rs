//! Picking free loopback ports for a topology.
//!
//! Ports come from below the kernel's ephemeral range (`ip_local_port_range`), so no outgoing
//! connection can take a node's port while the node is down between `kill` and `restart`. Each
//! candidate is checked by binding `127.0.0.1:<port>`; the listeners are held until the whole set
//! is picked, so one set never holds a port twice. Ports handed out earlier in this process are
//! not reused. A race with another process remains possible; `Topology::start` retries on fresh
//! ports when a node reports its port taken.

use crate::error::HarnessError;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::net::TcpListener;
use std::sync::Mutex;

/// Ports never used: Redis's and Sentinel's defaults (a local server may own them).
const RESERVED: [u16; 2] = [6379, 26379];
/// Lowest port ever picked.
const LOW: u16 = 15000;

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The first port of the kernel's ephemeral range, 32768 when it cannot be read.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

/// Picks `n` distinct free ports on 127.0.0.1.
pub(crate) fn pick_ports(n: usize) -> Result<Vec<u16>, HarnessError> {
    let high = ephemeral_start();
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
    let used = guard.get_or_insert_with(HashSet::new);
    let mut held = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    if high > LOW + 1000 {
        let span = u64::from(high - LOW);
        let mut next = random_u64() % span;
        for _ in 0..span {
            if ports.len() == n {
                break;
            }
            next = (next + 1) % span;
            // `next < span <= u16::MAX - LOW`, so the sum fits.
            let port = LOW + next as u16;
            if RESERVED.contains(&port) || used.contains(&port) {
                continue;
            }
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                held.push(l);
                ports.push(port);
            }
        }
    }
    // Unusual range settings: let the kernel choose.
    while ports.len() < n {
        let l = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| HarnessError::io("binding 127.0.0.1:0 to pick a port", e))?;
        let port = l
            .local_addr()
            .map_err(|e| HarnessError::io("reading a picked port", e))?
            .port();
        if port >= 1024 && !RESERVED.contains(&port) && !used.contains(&port) {
            ports.push(port);
        }
        held.push(l);
    }
    used.extend(ports.iter().copied());
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_unreserved_bindable_ports() {
        let a = pick_ports(6).unwrap();
        let b = pick_ports(6).unwrap();
        let all: HashSet<u16> = a.iter().chain(&b).copied().collect();
        assert_eq!(all.len(), 12, "{a:?} {b:?}");
        let high = ephemeral_start();
        for p in all {
            assert!(p >= 1024 && !RESERVED.contains(&p), "{p}");
            if high > LOW + 1000 {
                // Below the ephemeral range: no outgoing connection can take it. (Whether it is
                // still free now is not asserted: any process may bind it in between, which is
                // what `Topology::start` retries on.)
                assert!((LOW..high).contains(&p), "{p} outside {LOW}..{high}");
            }
        }
    }
}
