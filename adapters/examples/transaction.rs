//! Transactions, two ways (blocking client; the async one has the same methods, awaited).
//!
//! 1. `Client::transaction`: `MULTI`, the commands and `EXEC` sent as one unit on the shared
//!    connection, the replies converted into a tuple.
//! 2. Optimistic locking: `WATCH` needs a connection of one's own (`Client::dedicated`), since
//!    it changes the connection's state. The transfer is retried when a watched key changes
//!    before `EXEC` (the transaction then answers `None` and nothing ran).
//!
//! `./scripts/topology -- cargo run -p resp-sentinel --example transaction`, or
//! `cargo run -p resp-sentinel --example transaction -- redis+sentinel://127.0.0.1:26379/mymaster`

use resp_sentinel::blocking::{Client, Sentinel};
use resp_sentinel::{cmd, Error};

/// Moves `amount` from `from` to `to` unless `from` would go below zero; `Ok(false)` when it
/// would. Retries while other clients change either balance under it.
fn transfer(client: &Client, from: &str, to: &str, amount: i64) -> Result<bool, Error> {
    let conn = client.dedicated()?;
    loop {
        conn.query::<()>(cmd("WATCH").arg(from).arg(to))?;
        let balance: Option<i64> = conn.query(cmd("GET").arg(from))?;
        if balance.unwrap_or(0) < amount {
            conn.query::<()>(cmd("UNWATCH"))?;
            return Ok(false);
        }
        let done: Option<(i64, i64)> = conn.transaction([
            cmd("DECRBY").arg(from).arg(amount),
            cmd("INCRBY").arg(to).arg(amount),
        ])?;
        if done.is_some() {
            return Ok(true);
        }
        // A watched key changed between WATCH and EXEC: read again and retry.
    }
}

fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RESP_SENTINEL_URL").ok())
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".to_string());
    let sentinel = Sentinel::from_url(&url)?;
    let client = sentinel.master_for(sentinel.service());

    let (alice, bob) = ("example:tx:alice", "example:tx:bob");
    // Both balances set atomically: no reader sees one without the other.
    let ((), ()): ((), ()) =
        client.transaction([cmd("SET").arg(alice).arg(100), cmd("SET").arg(bob).arg(0)])?;

    let moved = transfer(&client, alice, bob, 30)?;
    let refused = !transfer(&client, alice, bob, 500)?;
    let (a, b): (i64, i64) = client.transaction([cmd("GET").arg(alice), cmd("GET").arg(bob)])?;
    println!("transaction: moved 30: {moved}; refused 500: {refused}; alice={a} bob={b}");
    Ok(())
}
