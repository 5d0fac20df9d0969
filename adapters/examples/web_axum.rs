//! A web service: axum handlers on tokio share one client (cargo feature `tokio`).
//!
//! The client goes in the router's state; cloning it per request is cheap (every clone shares
//! one driver and its connections), and requests in flight at once are pipelined together.
//! `GET /visits/{page}` counts a visit and answers `{page}: {n} visits`; a client error is a
//! `503 Service Unavailable` naming it (e.g. while a failover outlasts the fence's hold).
//!
//! `./scripts/topology -- cargo run -p resp-sentinel --features tokio --example web_axum`, then
//! `curl http://127.0.0.1:3000/visits/home`. Arguments: the URL (else `RESP_SENTINEL_URL`), and
//! the address to listen on (default `127.0.0.1:3000`; port 0 picks a free one). It prints the
//! address it listens on once it accepts connections.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use resp_sentinel::Client;

async fn visit(
    State(client): State<Client>,
    Path(page): Path<String>,
) -> Result<String, (StatusCode, String)> {
    match client.incr(format!("example:web:visits:{page}")).await {
        Ok(n) => Ok(format!("{page}: {n} visits\n")),
        Err(e) => Err((StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n"))),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("RESP_SENTINEL_URL").ok())
        .unwrap_or_else(|| "redis+sentinel://127.0.0.1:26379/mymaster".to_string());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3000".to_string());

    let sentinel = resp_sentinel::tokio::Sentinel::from_url(&url)?;
    let client = sentinel.master_for(sentinel.service());
    let app = Router::new()
        .route("/visits/{page}", get(visit))
        .with_state(client);

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("web_axum: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
