//! The blocking client: plain threads, no async runtime, no cargo feature needed.
//!
//! One client, cloned into four threads that share its connections; reads and writes go to
//! the master, which the client follows through failovers.
//!
//! Run it against a throwaway local topology (which sets `RESP_SENTINEL_URL`):
//! `./scripts/topology -- cargo run -p resp-sentinel --example blocking`, or name the
//! sentinels yourself:
//! `cargo run -p resp-sentinel --example blocking -- redis+sentinel://127.0.0.1:26379/mymaster`

use resp_sentinel::blocking::Sentinel;
use resp_sentinel::cmd;

fn main() -> Result<(), resp_sentinel::Error> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RESP_SENTINEL_URL").ok())
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".to_string());
    let sentinel = Sentinel::from_url(&url)?;
    let client = sentinel.master_for(sentinel.service());

    client.set("example:blocking:greeting", "hello")?;
    let greeting: Option<String> = client.get("example:blocking:greeting")?;

    // Send + Sync and cheap to clone: every clone shares one driver and its connections.
    client.del(&["example:blocking:visits"])?;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || client.incr("example:blocking:visits"))
        })
        .collect();
    for thread in threads {
        thread.join().expect("a thread panicked")?;
    }
    // Any command, by name and arguments, with its reply converted to the type asked for.
    let visits: i64 = client.query(cmd("GET").arg("example:blocking:visits"))?;

    let master = client.master_addr().map(|a| a.to_string());
    println!(
        "blocking: greeting={} visits={visits} master={}",
        greeting.unwrap_or_default(),
        master.unwrap_or_default()
    );
    Ok(())
}
