//! Publish/subscribe on tokio (cargo feature `tokio`).
//!
//! `subscribe` returns once the server has confirmed the subscription, so nothing published
//! after it is missed; the subscription is renewed on every new master after a failover, and
//! dropping it unsubscribes. A pattern subscription (`psubscribe`) works alike.
//!
//! `./scripts/topology -- cargo run -p resp-sentinel --features tokio --example pubsub`, or
//! `cargo run -p resp-sentinel --features tokio --example pubsub -- redis+sentinel://127.0.0.1:26379/mymaster`

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RESP_SENTINEL_URL").ok())
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".to_string());
    let sentinel = resp_sentinel::tokio::Sentinel::from_url(&url)?;
    let client = sentinel.master_for(sentinel.service());

    let mut news = client.subscribe(&["example:news"]).await?;
    let mut all = client.psubscribe(&["example:*"]).await?;

    for headline in ["first", "second", "third"] {
        client.publish("example:news", headline).await?;
    }

    let mut received = Vec::new();
    while received.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(5), news.next())
            .await
            .map_err(|_| "no message within 5 s")?
            .ok_or("the client closed")?;
        received.push(String::from_utf8_lossy(&message.payload).into_owned());
    }
    // The pattern subscription saw the same messages, with the pattern that matched.
    let first = tokio::time::timeout(Duration::from_secs(5), all.next())
        .await
        .map_err(|_| "no message within 5 s")?
        .ok_or("the client closed")?;
    let pattern = first
        .pattern
        .map(|p| String::from_utf8_lossy(&p).into_owned());

    println!(
        "pubsub: received {} on example:news; pattern {} matched",
        received.join(", "),
        pattern.unwrap_or_default()
    );
    Ok(())
}
