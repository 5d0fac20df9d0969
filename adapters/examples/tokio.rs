//! The async client on tokio (cargo feature `tokio`); async-std and smol are the same with
//! their module names (`resp_sentinel::async_std`, `resp_sentinel::smol`).
//!
//! A hundred tasks share one client: commands submitted while the driver is busy leave together
//! in one write (auto-pipelining). A pipeline and the client's lifecycle events follow.
//!
//! `./scripts/topology -- cargo run -p resp-sentinel --features tokio --example tokio`, or
//! `cargo run -p resp-sentinel --features tokio --example tokio -- redis+sentinel://127.0.0.1:26379/mymaster`

use resp_sentinel::core::sentinel::Event;
use resp_sentinel::{cmd, FromValue};

#[tokio::main]
async fn main() -> Result<(), resp_sentinel::Error> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RESP_SENTINEL_URL").ok())
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".to_string());
    let sentinel = resp_sentinel::tokio::Sentinel::from_url(&url)?;
    let client = sentinel.master_for(sentinel.service());

    // The event stream starts with the client's current state: wait until it is ready.
    let mut events = client.events();
    while let Some(event) = events.next().await {
        if let Event::Ready { .. } = event {
            break;
        }
    }

    client.del(&["example:tokio:hits"]).await?;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.incr("example:tokio:hits").await })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task panicked")?;
    }

    // Written back to back, answered once, replies in order.
    let replies = client
        .pipeline([
            cmd("INCRBY").arg("example:tokio:hits").arg(5),
            cmd("GET").arg("example:tokio:hits"),
        ])
        .await?;
    // Each reply converts like a query's (an error reply stays in the vector until then).
    let total = match replies.into_iter().nth(1) {
        Some(reply) => i64::from_value(reply)?,
        None => unreachable!("a pipeline answers every command"),
    };
    println!("tokio: 100 tasks and a pipeline counted {total} hits");
    Ok(())
}
