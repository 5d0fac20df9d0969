//! The async client handle, the same for tokio, async-std and smol: it only talks to the driver
//! task through channels, so it works from any executor.

use crate::commands::typed_helpers;
use crate::convert::FromValue;
use crate::driver::PubSubOp;
use crate::error::Error;
use crate::handle::Shared;
use crate::pubsub::Message;
use resp_sentinel_core::resp::Arg;
use resp_sentinel_core::sentinel::{Addr, Event};
use resp_sentinel_core::{Cmd, Value};

/// A connection to the current master (or a replica) of one service, kept right through
/// failovers. Cheap to clone; the connections close when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    pub(crate) handle: Shared,
}

impl Client {
    /// Sends `cmd` and converts the reply. A command the server never saw is retried on the new
    /// master after a failover; one that was sent and lost is not (see [`Client::query_idempotent`]).
    pub async fn query<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
        let rx = self.handle.submit(cmd, false);
        self.handle.finish(rx.recv_async().await)
    }

    /// Like [`Client::query`], but the command may be sent again if the connection dies before
    /// its reply arrives: only for commands that are safe to run twice.
    pub async fn query_idempotent<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
        let rx = self.handle.submit(cmd, true);
        self.handle.finish(rx.recv_async().await)
    }

    /// Sends every command at once (one round trip) and returns the replies in order; error
    /// replies stay in the vector as [`Value::Error`].
    pub async fn pipeline(&self, cmds: impl IntoIterator<Item = Cmd>) -> Result<Vec<Value>, Error> {
        let pending: Vec<_> = cmds
            .into_iter()
            .map(|c| self.handle.submit(c, false))
            .collect();
        let mut out = Vec::with_capacity(pending.len());
        for rx in pending {
            out.push(self.handle.settle(rx.recv_async().await)?);
        }
        Ok(out)
    }

    /// The master the client writes to now, once one has been verified.
    pub async fn master_addr(&self) -> Option<Addr> {
        self.handle.master_addr().recv_async().await.ok().flatten()
    }

    /// A stream of lifecycle events (ready, failover started, master changed...).
    pub fn events(&self) -> Events {
        Events(self.handle.events())
    }

    /// Subscribes to `channels`; the subscription survives failovers.
    pub async fn subscribe<S: AsRef<[u8]>>(&self, channels: &[S]) -> Result<Subscription, Error> {
        self.subscription(PubSubOp::Subscribe, channels)
    }

    /// Subscribes to channel patterns; the subscription survives failovers.
    pub async fn psubscribe<S: AsRef<[u8]>>(&self, patterns: &[S]) -> Result<Subscription, Error> {
        self.subscription(PubSubOp::PSubscribe, patterns)
    }

    /// Stops delivering messages of these channels to every subscription of this client.
    pub async fn unsubscribe<S: AsRef<[u8]>>(&self, channels: &[S]) {
        self.handle.pubsub(PubSubOp::Unsubscribe, channels, None);
    }

    /// Stops delivering messages of these patterns.
    pub async fn punsubscribe<S: AsRef<[u8]>>(&self, patterns: &[S]) {
        self.handle.pubsub(PubSubOp::PUnsubscribe, patterns, None);
    }

    fn subscription<S: AsRef<[u8]>>(
        &self,
        op: PubSubOp,
        names: &[S],
    ) -> Result<Subscription, Error> {
        let (tx, rx) = flume::unbounded();
        self.handle.pubsub(op, names, Some(tx));
        Ok(Subscription {
            rx,
            _handle: self.handle.clone(),
        })
    }

    typed_helpers!(async; .await);
}

/// Events of one client, in order.
pub struct Events(flume::Receiver<Event>);

impl Events {
    /// The next event, or `None` once the client is closed.
    pub async fn next(&mut self) -> Option<Event> {
        self.0.recv_async().await.ok()
    }

    /// An event already received, without waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.0.try_recv().ok()
    }
}

/// Messages of a subscription, in order, across failovers.
pub struct Subscription {
    rx: flume::Receiver<Message>,
    _handle: Shared,
}

impl Subscription {
    /// The next message, or `None` once the client is closed.
    pub async fn next(&mut self) -> Option<Message> {
        self.rx.recv_async().await.ok()
    }

    /// A message already received, without waiting.
    pub fn try_next(&mut self) -> Option<Message> {
        self.rx.try_recv().ok()
    }
}
