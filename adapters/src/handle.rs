//! The part of a client handle shared by the blocking and async APIs: it only sends messages to
//! the driver loop and hands back the receiving end of the answer.

use crate::breaker::Breaker;
use crate::convert::FromValue;
use crate::driver::{Msg, PubSubOp};
use crate::error::Error;
use crate::pubsub::Interest;
use bytes::Bytes;
use flume::{Receiver, Sender};
use resp_sentinel_core::sentinel::{Addr, Event, Message};
use resp_sentinel_core::{Cmd, Value};
use std::sync::Arc;

/// Sends to the driver loop; the loop ends when the last handle is dropped.
pub(crate) struct Handle {
    tx: Sender<Msg>,
    breaker: Option<Breaker>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
    }
}

/// A shareable reference to one driver loop.
pub(crate) type Shared = Arc<Handle>;

impl Handle {
    pub(crate) fn new(tx: Sender<Msg>, breaker: Option<Breaker>) -> Shared {
        Arc::new(Handle { tx, breaker })
    }

    /// Queues `cmd`; the reply arrives on the returned receiver.
    pub(crate) fn submit(&self, cmd: Cmd, idempotent: bool) -> Receiver<Result<Value, Error>> {
        let (reply, rx) = flume::bounded(1);
        if let Some(b) = &self.breaker {
            if !b.allow() {
                let _ = reply.send(Err(Error::CircuitOpen));
                return rx;
            }
        }
        if self
            .tx
            .send(Msg::Submit {
                cmd,
                idempotent,
                reply: reply.clone(),
            })
            .is_err()
        {
            let _ = reply.send(Err(Error::Closed));
        }
        rx
    }

    /// Turns what the driver sent back into `T`, and tells the breaker how it went.
    pub(crate) fn finish<T: FromValue>(
        &self,
        got: Result<Result<Value, Error>, flume::RecvError>,
    ) -> Result<T, Error> {
        T::from_value(self.settle(got)?)
    }

    /// What the driver sent back, unconverted; the breaker learns how it went (pipelines too,
    /// so their commands count like any other).
    pub(crate) fn settle(
        &self,
        got: Result<Result<Value, Error>, flume::RecvError>,
    ) -> Result<Value, Error> {
        let result = got.unwrap_or(Err(Error::Closed));
        if let Some(b) = &self.breaker {
            b.record(&result);
        }
        result
    }

    pub(crate) fn master_addr(&self) -> Receiver<Option<Addr>> {
        let (tx, rx) = flume::bounded(1);
        let _ = self.tx.send(Msg::MasterAddr(tx));
        rx
    }

    pub(crate) fn events(&self) -> Receiver<Event> {
        let (tx, rx) = flume::unbounded();
        let _ = self.tx.send(Msg::Events(tx));
        rx
    }

    /// Registers a message sink (if any) for the messages of `names`, then changes the
    /// subscriptions.
    pub(crate) fn pubsub<S: AsRef<[u8]>>(
        &self,
        op: PubSubOp,
        names: &[S],
        sink: Option<Sender<Message>>,
    ) {
        if let Some(sink) = sink {
            let interest = Interest::new(names, op == PubSubOp::PSubscribe);
            let _ = self.tx.send(Msg::Messages(interest, sink));
        }
        let names = names
            .iter()
            .map(|n| Bytes::copy_from_slice(n.as_ref()))
            .collect();
        let _ = self.tx.send(Msg::PubSub(op, names));
    }
}
