//! `watch`: every sentinel event, with a timestamp, from the first sentinel that answers;
//! moves to the next sentinel when the connection drops.

use crate::admin::SentinelConn;
use crate::{parse_args, target, Failure};
use resp_sentinel_core::{cmd, Value};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs until interrupted.
pub fn watch(argv: &[String]) -> Result<ExitCode, Failure> {
    let config = target::config_from(&parse_args(argv, &[], &[])?)?;
    let mut failures = 0usize;
    loop {
        for s in &config.sentinels {
            let conn =
                SentinelConn::open(s, config.sentinel_auth.as_ref(), config.sentinel_timeout)
                    .and_then(|mut c| c.call(&cmd("PSUBSCRIBE").arg("*")).map(|_| c));
            let mut conn = match conn {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{} {s}: {e}", stamp());
                    failures += 1;
                    continue;
                }
            };
            eprintln!("{} watching {s} for events of all services", stamp());
            loop {
                match conn.next_value(Some(Duration::from_secs(3600))) {
                    Ok(v) => print_event(&v),
                    Err(e) => {
                        eprintln!("{} {s}: {e}", stamp());
                        break;
                    }
                }
            }
        }
        if failures > 0 && failures % config.sentinels.len().max(1) == 0 {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn print_event(v: &Value) {
    let Some(items) = v.as_array() else { return };
    // pmessage <pattern> <channel> <payload>
    if items.len() == 4 && items[0].as_str() == Some("pmessage") {
        println!(
            "{} {} {}",
            stamp(),
            items[2].as_str().unwrap_or("?"),
            items[3].as_str().unwrap_or("?")
        );
    }
}

/// Wall-clock time as `seconds.millis` since the epoch, for lining up with server logs.
fn stamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}
