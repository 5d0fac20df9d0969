//! Blocking std sockets: `Sentinel` and `Client` for plain threads, no async runtime.
//!
//! The state machine has no thread of its own: the calling thread submits and writes its
//! command itself; a caller waiting alone reads its reply off the socket itself too, and with
//! several callers waiting the connection's reader thread reads and hands their replies back; a
//! writer thread per connection takes what a full socket did not take, and a timer thread fires
//! deadlines.
//! The [`Client`] has the same methods as the async [`crate::Client`] (both come from one
//! definition), blocking the calling thread instead of returning futures; [`Events`] and
//! [`Subscription`] are iterators with `try_next` and `next_timeout`.
//!
//! ```no_run
//! use resp_sentinel::blocking::Sentinel;
//!
//! let sentinel = Sentinel::from_url("redis+sentinel://127.0.0.1:26379/mymaster")?;
//! let client = sentinel.master_for("mymaster");
//! let mut news = client.subscribe(&["news"])?;
//! client.publish("news", "hello")?;
//! for message in news.by_ref().take(1) {
//!     println!("{:?}", message.payload);
//! }
//! # Ok::<(), resp_sentinel::Error>(())
//! ```

use crate::driver::PubSubOp;
use crate::error::Error;
use crate::runtime::threads::Wait; // the methods `client_surface!` emits wait with it
use crate::surface::client_surface;
use resp_sentinel_core::commands::{self, SetOptions};
use resp_sentinel_core::resp::Arg;
use resp_sentinel_core::sentinel::{Addr, Event, Message};
use resp_sentinel_core::{Cmd, FromValue, Value};
use std::time::{Duration, Instant};

/// A [`crate::Sentinel`] whose clients block the calling thread.
pub type Sentinel = crate::sentinel::Sentinel<Blocking>;

/// The blocking runtime: std sockets and threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocking;

client_surface!("blocking", "resp_sentinel::blocking::Client", "", ; wait;);

/// Waits up to `timeout` on `rx`; a timeout too long for an `Instant` means: as long as it takes.
fn recv_timeout<T>(rx: &flume::Receiver<T>, timeout: Duration) -> Option<T> {
    match Instant::now().checked_add(timeout) {
        Some(deadline) => rx.recv_deadline(deadline).ok(),
        None => rx.recv().ok(),
    }
}

impl Iterator for Scan {
    type Item = Result<bytes::Bytes, Error>;

    /// The next item, fetching pages as needed; `None` once the iteration is complete.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.page.pop_front() {
                return Some(Ok(item));
            }
            match self.next_page()? {
                Ok(items) => self.page.extend(items),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl Events {
    /// Waits up to `timeout` for the next event; `None` on timeout or once the client is closed.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Event> {
        recv_timeout(&self.rx, timeout)
    }
}

impl Iterator for Events {
    type Item = Event;

    /// Waits for the next event; `None` once the client is closed.
    fn next(&mut self) -> Option<Event> {
        self.rx.recv().ok()
    }
}

impl Subscription {
    /// Waits up to `timeout` for the next message; `None` on timeout or once the client is
    /// closed.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Message> {
        recv_timeout(&self.rx, timeout)
    }
}

impl Iterator for Subscription {
    type Item = Message;

    /// Waits for the next message; `None` once the client is closed.
    fn next(&mut self) -> Option<Message> {
        self.rx.recv().ok()
    }
}
