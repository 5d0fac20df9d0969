//! The same drill written with redis-rs's own Sentinel support (`redis::sentinel::SentinelClient`,
//! sync API): sequential `INCR`s on one connection to the master; on any error the connection is
//! dropped and a new one is asked for through the sentinel client, as its docs advise.

use crate::Figures;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{ConnectionAddr, RedisResult};
use resp_sentinel_tests::Topology;
use std::time::{Duration, Instant};

/// Pause after a failed reconnect, so a refused connection does not become a busy loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);
/// Connect, read and write timeout of the data connection.
const IO_TIMEOUT: Duration = Duration::from_secs(1);

fn connect(sc: &mut SentinelClient) -> RedisResult<(redis::Connection, String)> {
    let client = sc.get_client()?;
    let addr = match client.get_connection_info().addr() {
        ConnectionAddr::Tcp(h, p) => format!("{h}:{p}"),
        other => other.to_string(),
    };
    let conn = client.get_connection_with_timeout(IO_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok((conn, addr))
}

/// Runs the drill for `duration`, calling `topo.failover()` on another thread at `failover_at`.
/// Returns the figures and the wall time of the trigger; `acked_lost` is left for the caller,
/// which reads the counter once the old master has been demoted.
pub fn drill(
    topo: &Topology,
    key: &str,
    duration: Duration,
    failover_at: Duration,
    fault: crate::Fault,
) -> Result<(Figures, f64), String> {
    let urls: Vec<String> = topo
        .sentinel_addrs()
        .iter()
        .map(|a| format!("redis://{}:{}/", a.host, a.port))
        .collect();
    let mut sc = SentinelClient::build(
        urls,
        topo.service_name().to_string(),
        None,
        SentinelServerType::Master,
    )
    .map_err(|e| format!("redis-rs SentinelClient::build: {e}"))?;
    let (mut first, old) = connect(&mut sc).map_err(|e| format!("redis-rs connect: {e}"))?;
    redis::cmd("DEL")
        .arg(key)
        .query::<i64>(&mut first)
        .map_err(|e| format!("redis-rs DEL: {e}"))?;
    let mut conn = Some((first, old.clone()));

    let mut f = Figures::new("redis-rs (sync)");
    f.old_master = old.clone();
    let mut trigger_wall = 0.0;
    let mut trigger_at: Option<Instant> = None;
    std::thread::scope(|scope| {
        let mut trigger = None;
        let start = Instant::now();
        let end = start + duration;
        let mut last_ok = start;
        while Instant::now() < end {
            if trigger_at.is_none() && start.elapsed() >= failover_at {
                trigger_at = Some(Instant::now());
                trigger_wall = crate::observe::wall();
                trigger = Some(match fault {
                    crate::Fault::Forced => {
                        scope.spawn(|| topo.failover().map(|_| ()).map_err(|e| e.to_string()))
                    }
                    crate::Fault::Pause(p) => scope
                        .spawn(move || crate::pause_master(topo, Duration::ZERO, p).map(|_| ())),
                });
            }
            f.attempted += 1;
            if conn.is_none() {
                match connect(&mut sc) {
                    Ok(c) => conn = Some(c),
                    Err(_) => {
                        f.errors += 1;
                        std::thread::sleep(RECONNECT_PAUSE);
                        continue;
                    }
                }
            }
            let Some((c, addr)) = conn.as_mut() else {
                continue;
            };
            match redis::cmd("INCR").arg(key).query::<i64>(c) {
                Ok(_) => {
                    let now = Instant::now();
                    f.ok += 1;
                    f.longest_window_ms = f.longest_window_ms.max(ms(now - last_ok));
                    last_ok = now;
                    if let Some(t) = trigger_at {
                        if *addr == old {
                            f.old_master_acks_after_trigger += 1;
                        } else if f.trigger_to_new_ms.is_none() {
                            f.trigger_to_new_ms = Some(ms(now - t));
                        }
                    }
                }
                Err(_) => {
                    f.errors += 1;
                    conn = None;
                }
            }
        }
        f.elapsed = start.elapsed();
        if let Some(Ok(Err(e))) = trigger.map(|t| t.join()) {
            eprintln!("failover bench: redis-rs run: trigger failed: {e}");
        }
    });
    Ok((f, trigger_wall))
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}
