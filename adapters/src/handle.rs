//! The part of a client shared by the blocking and async APIs: it only sends messages to the
//! driver loop and hands back the receiving end of the answer, so the same handle works under
//! any runtime; each API only decides how to wait on that end.

use crate::breaker::SharedBreaker;
use crate::driver::{Ack, Msg, PubSubOp, Work};
use crate::error::Error;
use crate::pubsub::{Interest, Kind};
use crate::reply::{self, Reply};
use bytes::Bytes;
use flume::{Receiver, RecvError, Sender};
use resp_sentinel_core::sentinel::{Addr, DedicatedId, Event, Message, SubmitOptions};
use resp_sentinel_core::{Cmd, FromValue, Value};
use std::sync::Arc;

/// A running driver loop as its handles reach it: its request channel and, for a loop with no
/// thread of its own (the blocking runtime's), the turn a thread takes after sending to it.
#[derive(Clone)]
pub struct Loop {
    tx: Sender<Msg>,
    pump: Option<Pump>,
}

/// Takes the loop's turn on the calling thread if no other thread has it.
pub(crate) type Pump = Arc<dyn Fn() + Send + Sync>;

impl Loop {
    /// A loop that runs on a thread or task of its own.
    pub(crate) fn new(tx: Sender<Msg>) -> Loop {
        Loop { tx, pump: None }
    }

    /// A loop whose turns the sending threads take (`pump`, after each send).
    pub(crate) fn with_pump(tx: Sender<Msg>, pump: Pump) -> Loop {
        Loop {
            tx,
            pump: Some(pump),
        }
    }

    /// Sends `msg` to the loop and, when the loop has no thread of its own, takes its turn.
    pub(crate) fn send(&self, msg: Msg) -> Result<(), flume::SendError<Msg>> {
        self.tx.send(msg)?;
        if let Some(pump) = &self.pump {
            pump();
        }
        Ok(())
    }
}

/// Sends to the driver loop; the loop ends when the last handle is dropped.
pub struct Handle {
    to: Loop,
    breaker: Option<SharedBreaker>,
    /// The database the client's connections select (`Config::db`).
    db: u32,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.send(Msg::Shutdown);
    }
}

/// A shareable reference to one driver loop.
pub type Shared = Arc<Handle>;

impl Handle {
    #[cfg(test)]
    pub(crate) fn new(tx: Sender<Msg>, breaker: Option<SharedBreaker>) -> Shared {
        Handle::for_db(Loop::new(tx), breaker, 0)
    }

    /// A handle for a client whose connections select database `db`.
    pub(crate) fn for_db(to: Loop, breaker: Option<SharedBreaker>, db: u32) -> Shared {
        Arc::new(Handle { to, breaker, db })
    }

    /// Sends `msg` to the loop and, when the loop has no thread of its own, takes its turn.
    fn send(&self, msg: Msg) -> Result<(), flume::SendError<Msg>> {
        self.to.send(msg)
    }

    /// The database the client's connections select.
    #[cfg_attr(not(feature = "redis-rs"), allow(dead_code))]
    pub(crate) fn db(&self) -> u32 {
        self.db
    }

    /// True once the driver loop is gone: nothing more can be sent.
    pub(crate) fn is_closed(&self) -> bool {
        self.to.tx.is_disconnected()
    }

    /// Queues a unit of work; the reply arrives in the returned slot.
    pub(crate) fn submit(&self, work: Work, opts: SubmitOptions) -> Reply {
        if let Some(b) = &self.breaker {
            if !b.allow() {
                return Reply::ready(Err(Error::CircuitOpen));
            }
        }
        let (reply, rx) = reply::reply();
        if self.send(Msg::Submit { work, opts, reply }).is_err() {
            return Reply::ready(Err(Error::Closed));
        }
        rx
    }

    /// Opens a dedicated connection; its id arrives on the receiver (closed when the client
    /// is).
    pub(crate) fn open_dedicated(&self) -> Receiver<DedicatedId> {
        let (tx, rx) = flume::bounded(1);
        let _ = self.send(Msg::OpenDedicated(tx));
        rx
    }

    /// Queues a unit of work on dedicated connection `on`.
    pub(crate) fn submit_on(&self, on: DedicatedId, work: Work, opts: SubmitOptions) -> Reply {
        let (reply, rx) = reply::reply();
        let msg = Msg::SubmitOn {
            on,
            work,
            opts,
            reply,
        };
        if self.send(msg).is_err() {
            return Reply::ready(Err(Error::Closed));
        }
        rx
    }

    /// Closes dedicated connection `on`.
    pub(crate) fn close_dedicated(&self, on: DedicatedId) {
        let _ = self.send(Msg::CloseDedicated(on));
    }

    /// Queues one command.
    pub(crate) fn submit_one(&self, cmd: Cmd, opts: SubmitOptions) -> Reply {
        self.submit(Work::One(cmd), opts)
    }

    /// Turns what the driver sent back into `T`, and tells the breaker how it went.
    pub(crate) fn finish<T: FromValue>(
        &self,
        got: Result<Result<Value, Error>, RecvError>,
    ) -> Result<T, Error> {
        Ok(T::from_value(self.settle(got)?)?)
    }

    /// What the driver sent back, unconverted; the breaker learns how it went (pipelines too,
    /// so their commands count like any other).
    pub(crate) fn settle(
        &self,
        got: Result<Result<Value, Error>, RecvError>,
    ) -> Result<Value, Error> {
        let result = got.unwrap_or(Err(Error::Closed));
        if let Some(b) = &self.breaker {
            b.record(&result);
        }
        result
    }

    pub(crate) fn master_addr(&self) -> Receiver<Option<Addr>> {
        let (tx, rx) = flume::bounded(1);
        let _ = self.send(Msg::MasterAddr(tx));
        rx
    }

    pub(crate) fn events(&self) -> Receiver<Event> {
        let (tx, rx) = flume::bounded(crate::driver::EVENT_BACKLOG);
        let _ = self.send(Msg::Events(tx));
        rx
    }

    /// Subscribes to `names` (channels, or patterns for `PSubscribe`): the messages they match
    /// arrive on the first receiver, and the driver's answer on the second.
    pub(crate) fn subscribe<S: AsRef<[u8]>>(
        &self,
        op: PubSubOp,
        names: &[S],
    ) -> (Receiver<Message>, Receiver<Result<(), Error>>, u64) {
        let (sink, messages) = flume::bounded(crate::pubsub::SUBSCRIPTION_BACKLOG);
        let kind = match op {
            PubSubOp::PSubscribe => Kind::Patterns,
            PubSubOp::SSubscribe => Kind::Shards,
            _ => Kind::Channels,
        };
        let interest = Interest::new(names, kind);
        let id = interest.id();
        let ack = self.change(op, names, Some((interest, sink)));
        (messages, ack, id)
    }

    /// Subscription `id` was dropped: the driver unsubscribes what no other one wants.
    pub(crate) fn release(&self, id: u64) {
        let _ = self.send(Msg::Release(id));
    }

    /// Unsubscribes every subscription of this client from `names`.
    pub(crate) fn unsubscribe<S: AsRef<[u8]>>(&self, op: PubSubOp, names: &[S]) {
        let _ = self.change(op, names, None);
    }

    fn change<S: AsRef<[u8]>>(
        &self,
        op: PubSubOp,
        names: &[S],
        sink: Option<(Interest, Sender<Message>)>,
    ) -> Receiver<Result<(), Error>> {
        let (ack, answer): (Ack, _) = flume::bounded(1);
        let names = names
            .iter()
            .map(|n| Bytes::copy_from_slice(n.as_ref()))
            .collect();
        // If the loop is gone the message (and its `ack`) is dropped: the answer reads as closed.
        let _ = self.send(Msg::PubSub {
            op,
            names,
            sink,
            ack,
        });
        answer
    }
}

/// What the driver answered to a subscription; a loop that is gone means the client is closed.
pub(crate) fn acked(got: Result<Result<(), Error>, RecvError>) -> Result<(), Error> {
    got.unwrap_or(Err(Error::Closed))
}
