//! The async client, the same for tokio, async-std and smol: it only talks to the driver task
//! through channels, so it works from any executor. Its methods come from
//! [`crate::surface::client_surface!`], shared with the blocking client.

use crate::driver::PubSubOp;
use crate::error::Error;
use crate::surface::client_surface;
use resp_sentinel_core::commands::{self, SetOptions};
use resp_sentinel_core::resp::Arg;
use resp_sentinel_core::sentinel::{Addr, Event, Message};
use resp_sentinel_core::{Cmd, FromValue, Value};
use std::time::Duration;

client_surface!("async", "resp_sentinel::Client", ".await", async; recv_async; .await);

impl Scan {
    /// The next item, fetching pages as needed; `None` once the iteration is complete.
    pub async fn next(&mut self) -> Option<Result<bytes::Bytes, Error>> {
        loop {
            if let Some(item) = self.page.pop_front() {
                return Some(Ok(item));
            }
            match self.next_page().await? {
                Ok(items) => self.page.extend(items),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl Events {
    /// The next event, or `None` once the client is closed.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv_async().await.ok()
    }
}

impl Subscription {
    /// The next message, or `None` once the client is closed.
    pub async fn next(&mut self) -> Option<Message> {
        self.rx.recv_async().await.ok()
    }
}
