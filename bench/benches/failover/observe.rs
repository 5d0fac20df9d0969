//! Watching a drill from outside the client: every sentinel's failover events (pub/sub) and every
//! data node's executed commands (`MONITOR`), both stamped with the machine's wall clock, so the
//! same figures can be computed for any client, in-process or not.

use resp_sentinel_tests::admin::{read_reply, Reply};
use resp_sentinel_tests::{Addr, Topology};
use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Sentinel channels whose first publication is recorded.
const CHANNELS: [&str; 6] = [
    "+try-failover",
    "+odown",
    "+failover-state-send-slaveof-noone",
    "+failover-state-wait-promotion",
    "+switch-master",
    "+convert-to-slave",
];

/// Seconds since the Unix epoch, as the server's `MONITOR` lines print them.
pub fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What the observers saw.
#[derive(Default, Debug)]
pub struct Observed {
    /// First receipt (wall clock) of each sentinel channel, over all sentinels.
    pub events: HashMap<String, f64>,
    /// Per data node, the server timestamps of `INCR <key>` sent by clients (not replicated).
    pub client_incrs: HashMap<Addr, Vec<f64>>,
    /// Per data node, (lost, back) wall times of each `MONITOR` reconnection. Sentinel kills
    /// normal clients (MONITOR included) of a node it reconfigures; writes executed between
    /// `lost` and `back` are not seen.
    pub monitor_gaps: HashMap<Addr, Vec<(f64, f64)>>,
}

impl Observed {
    /// Server time of the first client `INCR` on `node`.
    pub fn first_write(&self, node: &Addr) -> Option<f64> {
        self.client_incrs.get(node).and_then(|v| v.first().copied())
    }

    /// Client `INCR`s `node` executed at or after wall time `t`.
    pub fn writes_after(&self, node: &Addr, t: f64) -> usize {
        self.client_incrs
            .get(node)
            .map_or(0, |v| v.iter().filter(|&&x| x >= t).count())
    }

    /// The last client `INCR` `node` executed before wall time `t`.
    pub fn last_write_before(&self, node: &Addr, t: f64) -> Option<f64> {
        self.client_incrs
            .get(node)?
            .iter()
            .copied()
            .filter(|&x| x < t)
            .reduce(f64::max)
    }

    /// The `MONITOR` gap of `node` around wall time `t` (ms), if its monitor was down then or
    /// came back within 50 ms before `t`.
    pub fn gap_near(&self, node: &Addr, t: f64) -> Option<f64> {
        self.monitor_gaps
            .get(node)?
            .iter()
            .find(|(lost, back)| *lost <= t && t <= back + 0.05)
            .map(|(lost, back)| (back - lost) * 1000.0)
    }

    /// First receipt of `channel`.
    pub fn event(&self, channel: &str) -> Option<f64> {
        self.events.get(channel).copied()
    }
}

/// Running observer threads; [`Observer::stop`] closes their sockets and collects the results.
pub struct Observer {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// What the observer threads share: results, open sockets (to unblock readers), the stop flag.
#[derive(Default)]
struct Shared {
    seen: Mutex<Observed>,
    sockets: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

impl Shared {
    /// Opens a connection, sends `args`, registers the socket; `None` once stopping.
    fn connect(&self, addr: &Addr, args: &[&str]) -> Result<Option<BufReader<TcpStream>>, String> {
        let target = format!("{}:{}", addr.host, addr.port);
        let mut s = TcpStream::connect(&target).map_err(|e| format!("connect {target}: {e}"))?;
        s.set_nodelay(true).ok();
        s.write_all(&command(args))
            .map_err(|e| format!("{target}: {e}"))?;
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if self.stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        sockets.push(s.try_clone().map_err(|e| format!("{target}: {e}"))?);
        Ok(Some(BufReader::with_capacity(1 << 16, s)))
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

impl Observer {
    /// Subscribes to every sentinel and runs `MONITOR` on every data node of `topo`, recording
    /// client `INCR`s of `key`.
    pub fn start(topo: &Topology, key: &str) -> Result<Observer, String> {
        let mut obs = Observer {
            shared: Arc::new(Shared::default()),
            threads: Vec::new(),
        };
        let data = topo.data_addrs();
        for s in topo.sentinel_addrs() {
            let mut args = vec!["SUBSCRIBE"];
            args.extend(CHANNELS);
            let Some(reader) = obs.shared.connect(&s, &args)? else {
                break;
            };
            let shared = obs.shared.clone();
            obs.threads.push(std::thread::spawn(move || {
                sentinel_loop(reader, &shared.seen)
            }));
        }
        for d in &data {
            let Some(reader) = obs.shared.connect(d, &["MONITOR"])? else {
                break;
            };
            let (shared, node, data, key) =
                (obs.shared.clone(), d.clone(), data.clone(), key.to_string());
            obs.threads.push(std::thread::spawn(move || {
                monitor_loop(reader, &shared, &node, &data, &key)
            }));
        }
        // Let the subscriptions and MONITOR take effect before the drill starts.
        std::thread::sleep(Duration::from_millis(200));
        Ok(obs)
    }

    /// Stops every observer thread and returns what they saw.
    pub fn stop(self) -> Observed {
        {
            let sockets = self
                .shared
                .sockets
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.stop.store(true, Ordering::SeqCst);
            for s in sockets.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        for t in self.threads {
            let _ = t.join();
        }
        std::mem::take(&mut *self.shared.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn sentinel_loop(mut r: BufReader<TcpStream>, seen: &Mutex<Observed>) {
    while let Ok(reply) = read_reply(&mut r) {
        let at = wall();
        let Some([kind, channel, _payload]) = reply.as_array() else {
            continue;
        };
        if kind.as_str() != Some("message") {
            continue;
        }
        if let Some(ch) = channel.as_str() {
            let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
            s.events.entry(ch.to_string()).or_insert(at);
        }
    }
}

/// One `MONITOR` line: `1700000000.123456 [0 127.0.0.1:5555] "INCR" "key"` -> (time, source, rest).
fn parse_monitor(line: &str) -> Option<(f64, &str, &str)> {
    let (ts, rest) = line.split_once(' ')?;
    let rest = rest.strip_prefix('[')?;
    let (client, args) = rest.split_once(']')?;
    let source = client.split_whitespace().nth(1)?;
    Some((ts.parse().ok()?, source, args.trim()))
}

fn monitor_loop(
    mut r: BufReader<TcpStream>,
    shared: &Shared,
    node: &Addr,
    data: &[Addr],
    key: &str,
) {
    let data_sources: Vec<String> = data
        .iter()
        .map(|a| format!("{}:{}", a.host, a.port))
        .collect();
    let wanted = format!("\"{key}\"");
    let mut times = Vec::new();
    let mut gaps = Vec::new();
    let mut lost_since: Option<f64> = None;
    loop {
        let reply = match read_reply(&mut r) {
            Ok(reply) => reply,
            Err(_) if shared.stopping() => break,
            Err(_) => {
                // Killed by a sentinel reconfiguring the node: reconnect at once.
                let lost = *lost_since.get_or_insert_with(wall);
                match shared.connect(node, &["MONITOR"]) {
                    Ok(Some(next)) => {
                        r = next;
                        // The reply to MONITOR (+OK) marks the moment it is active again.
                        let _ = read_reply(&mut r);
                        gaps.push((lost, wall()));
                        lost_since = None;
                        continue;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                }
            }
        };
        let Reply::Status(line) = reply else { continue };
        let Some((ts, source, args)) = parse_monitor(&line) else {
            continue;
        };
        let mut words = args.split(' ');
        let is_incr = words
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case("\"INCR\""));
        // Commands replicated from the master arrive on the master link, whose peer is a data node.
        if is_incr
            && words.next() == Some(wanted.as_str())
            && !data_sources.iter().any(|d| d == source)
        {
            times.push(ts);
        }
    }
    let mut seen = shared.seen.lock().unwrap_or_else(|e| e.into_inner());
    seen.client_incrs.insert(node.clone(), times);
    seen.monitor_gaps.insert(node.clone(), gaps);
}
