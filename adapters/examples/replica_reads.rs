//! Reading from replicas (blocking client; the async one is the same, awaited).
//!
//! - A replica client (`Sentinel::replica_for`) sends everything to a replica (spread over the
//!   usable ones, the master when none is) and refuses writes.
//! - A master client with `Config::read_from = ReadFrom::ReplicaPreferred` sends the commands
//!   the server flags read-only to replicas and everything else to the master; a read that must
//!   see the caller's own write asks for the master with `SubmitOptions::master_only()`.
//!
//! Replicas lag the master a little: a read there may not see a write just acknowledged.
//!
//! `./scripts/topology -- cargo run -p resp-sentinel --example replica_reads`, or
//! `cargo run -p resp-sentinel --example replica_reads -- redis+sentinel://127.0.0.1:26379/mymaster`

use resp_sentinel::blocking::Sentinel;
use resp_sentinel::core::sentinel::ReadFrom;
use resp_sentinel::core::url;
use resp_sentinel::{cmd, Error, SubmitOptions, Value};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RESP_SENTINEL_URL").ok())
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".to_string());
    // The URL's options, then one more in code (the URL form of it is `read_from=replica_preferred`).
    let mut config = url::parse(&target)?.to_config()?;
    config.read_from = ReadFrom::ReplicaPreferred;
    let sentinel = Sentinel::try_new(config)?;
    let service = sentinel.service().to_string();
    let client = sentinel.master_for(&service);

    let key = "example:replica:stamp";
    let stamp = format!("{:?}", Instant::now());
    client.set(key, &stamp)?; // a write: always the master
                              // Read-your-writes: this read goes to the master although reads go to replicas.
    let own: Option<String> =
        client.query_with(cmd("GET").arg(key), SubmitOptions::master_only())?;
    if own.as_deref() != Some(stamp.as_str()) {
        return Err(format!("the master answered {own:?}").into());
    }

    // A replica client: its reads land on a replica once replication has caught up.
    let replica = sentinel.replica_for(&service);
    let started = Instant::now();
    loop {
        let seen: Option<String> = replica.get(key)?;
        if seen.as_deref() == Some(stamp.as_str()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(5) {
            return Err("the replica did not catch up within 5 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let lag = started.elapsed();
    // ROLE tells which kind of node answered.
    let role: Vec<Value> = replica.query(cmd("ROLE"))?;
    let role = role
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();

    // A write through a replica client is refused before it is sent.
    let refused = matches!(replica.set(key, "x"), Err(Error::Rejected(_)));
    println!(
        "replica_reads: own write read back from the master; replica ({role}) caught up within \
         {} ms; write through the replica client refused: {refused}",
        lag.as_millis()
    );
    Ok(())
}
