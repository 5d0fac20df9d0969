//! `watch`: every sentinel's events, with a timestamp and the sentinel that published them.
//!
//! Each sentinel is watched on its own thread: in a failover only the leading sentinel publishes
//! the progress events, so listening to one sentinel can miss them. A dropped connection is
//! retried every half second.

use crate::admin::SentinelConn;
use crate::{parse_args, target, Failure};
use resp_sentinel_core::sentinel::{Addr, Credentials, Message};
use resp_sentinel_core::{cmd, Value};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs until interrupted.
pub fn watch(argv: &[String]) -> Result<ExitCode, Failure> {
    let config = target::config_from(&parse_args(argv, &[], &[])?)?;
    let threads: Vec<_> = config
        .sentinels
        .iter()
        .cloned()
        .map(|s| {
            let auth = config.sentinel_auth.clone();
            let timeout = config.sentinel_timeout;
            std::thread::spawn(move || watch_one(&s, auth.as_ref(), timeout))
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    Ok(ExitCode::SUCCESS)
}

fn watch_one(s: &Addr, auth: Option<&Credentials>, timeout: Duration) {
    loop {
        let conn = SentinelConn::open(s, auth, timeout)
            .and_then(|mut c| c.call(&cmd("PSUBSCRIBE").arg("*")).map(|_| c));
        match conn {
            Ok(mut conn) => {
                eprintln!("{} {s} watching", stamp());
                loop {
                    match conn.next_value(Some(Duration::from_secs(3600))) {
                        Ok(v) => print_event(s, &v),
                        Err(e) => {
                            eprintln!("{} {s} {e}", stamp());
                            break;
                        }
                    }
                }
            }
            Err(e) => eprintln!("{} {s} {e}", stamp()),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Prints a published event; anything else the sentinel sends is skipped.
fn print_event(s: &Addr, v: &Value) {
    if let Some(m) = Message::from_value(v) {
        println!(
            "{} {s} {} {}",
            stamp(),
            String::from_utf8_lossy(&m.channel),
            String::from_utf8_lossy(&m.payload)
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
