//! `watch`: every sentinel's events, with a timestamp and the sentinel that published them.
//!
//! Each sentinel is watched on its own thread: in a failover only the leading sentinel publishes
//! the progress events, so listening to one sentinel can miss them. A dropped connection is
//! retried every half second. When no sentinel can be subscribed to at the start, `watch` has
//! nothing to do: it says why and exits 1.

use crate::admin::{describe, Access, SentinelConn};
use crate::escape::{escape, escape_bytes};
use crate::{parse_args, target, Failure};
use resp_sentinel_core::sentinel::{Addr, Message};
use resp_sentinel_core::{cmd, Value};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs until interrupted, or fails when no sentinel can be watched.
pub fn watch(argv: &[String]) -> Result<ExitCode, Failure> {
    let config = target::config_from(&parse_args(argv, &[], &[])?)?;
    let (first_tx, first_rx) = mpsc::channel();
    let threads: Vec<_> = config
        .sentinels
        .iter()
        .cloned()
        .map(|s| {
            let access = Access::of(&config);
            let timeout = config.sentinel_timeout;
            let first = first_tx.clone();
            std::thread::spawn(move || watch_one(&s, &access, timeout, first))
        })
        .collect();
    drop(first_tx);
    // The first attempt of every sentinel decides whether there is anything to watch.
    let first: Vec<Result<(), String>> = first_rx.iter().take(threads.len()).collect();
    if first.iter().all(Result::is_err) {
        let why: Vec<String> = first.into_iter().filter_map(Result::err).collect();
        return Err(Failure::Run(format!(
            "could not watch any sentinel: {}",
            why.join("; ")
        )));
    }
    for e in first.into_iter().filter_map(Result::err) {
        eprintln!("{} {} (retrying)", stamp(), escape(&e));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(ExitCode::SUCCESS)
}

/// Subscribes to every channel of `s`.
fn subscribe(s: &Addr, access: &Access, timeout: Duration) -> Result<SentinelConn, String> {
    let mut conn = SentinelConn::open(s, access, timeout)?;
    let reply = conn.call(&cmd("PSUBSCRIBE").arg("*"))?;
    if !is_psubscribe_confirmation(&reply) {
        return Err(format!(
            "sentinel {s} answered PSUBSCRIBE with {}",
            describe(&reply)
        ));
    }
    Ok(conn)
}

/// `["psubscribe", pattern, count]`, as an array (RESP2) or a push (RESP3).
fn is_psubscribe_confirmation(v: &Value) -> bool {
    let (Value::Array(items) | Value::Push(items)) = v else {
        return false;
    };
    matches!(items.first(), Some(Value::Bulk(k) | Value::SimpleString(k))
        if k.eq_ignore_ascii_case(b"psubscribe"))
}

/// Watches `s` forever; the outcome of the first attempt goes to `first`.
fn watch_one(
    s: &Addr,
    access: &Access,
    timeout: Duration,
    first: mpsc::Sender<Result<(), String>>,
) {
    let mut first = Some(first);
    loop {
        match subscribe(s, access, timeout) {
            Ok(mut conn) => {
                if let Some(tx) = first.take() {
                    let _ = tx.send(Ok(()));
                }
                eprintln!("{} {} watching", stamp(), escape(&s.to_string()));
                loop {
                    match conn.next_value(Some(Duration::from_secs(3600))) {
                        Ok(v) => print_event(s, &v),
                        Err(e) => {
                            eprintln!("{} {}", stamp(), escape(&e));
                            break;
                        }
                    }
                }
            }
            Err(e) => match first.take() {
                Some(tx) => {
                    let _ = tx.send(Err(e));
                }
                None => eprintln!("{} {}", stamp(), escape(&e)),
            },
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Prints a published event; anything else the sentinel sends is skipped.
fn print_event(s: &Addr, v: &Value) {
    if let Some(m) = Message::from_value(v) {
        println!(
            "{} {} {} {}",
            stamp(),
            escape(&s.to_string()),
            escape_bytes(&m.channel),
            escape_bytes(&m.payload)
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
