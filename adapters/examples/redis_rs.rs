//! Code written for redis-rs, run on the failover-safe client: only the line that makes the
//! connection differs from a plain redis-rs program.
//!
//! `./scripts/topology -- cargo run -p resp-sentinel --features redis-rs,tokio --example redis_rs`,
//! or `cargo run -p resp-sentinel --features redis-rs,tokio --example redis_rs -- \
//!     redis+sentinel://127.0.0.1:26379/mymaster`

use redis::AsyncCommands;

/// Unchanged redis-rs code: generic over any redis-rs async connection.
async fn record_visit<C: AsyncCommands>(con: &mut C, page: &str) -> redis::RedisResult<i64> {
    let visits: i64 = con.hincr("visits", page, 1).await?;
    con.zadd::<_, _, _, ()>("pages_by_visits", page, visits)
        .await?;
    con.expire::<_, ()>("visits", 3600).await?;
    // An atomic pipeline: MULTI ... EXEC, never interleaved with other callers.
    let (total, _): (i64, i64) = redis::pipe()
        .atomic()
        .incr("visits_total", 1)
        .incr(format!("visits_by_day:{page}"), 1)
        .query_async(con)
        .await?;
    Ok(total)
}

#[tokio::main]
async fn main() -> redis::RedisResult<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("RESP_SENTINEL_URL").ok())
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".to_string());
    // The only resp-sentinel line: a client that follows the master through failovers.
    let sentinel = resp_sentinel::tokio::Sentinel::from_url(&url)?;
    let service = sentinel.service().to_string();
    let mut con = sentinel.master_for(&service);

    let total = record_visit(&mut con, "/home").await?;
    let top: Vec<(String, f64)> = con.zrevrange_withscores("pages_by_visits", 0, 2).await?;
    println!("{total} visits in all; top pages: {top:?}");

    // A script: EVALSHA, falling back to EVAL when the server does not know it yet.
    let script = redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let n: i64 = script
        .key("script_counter")
        .arg(5)
        .invoke_async(&mut con)
        .await?;
    println!("script counter: {n}");
    Ok(())
}
