//! Blocking std sockets: `Sentinel` and `Client` for plain threads.
//!
//! One driver thread owns the state machine; each connection has a reader and a writer thread.
//! The `Client` is `Send + Sync` and cheap to clone, so any number of threads can share it.

use crate::commands::typed_helpers;
use crate::convert::FromValue;
use crate::driver::PubSubOp;
use crate::driver::{Core, Driver, Link, Msg, Net};
use crate::error::Error;
use crate::handle::Shared;
use crate::pubsub::Message;
use bytes::Bytes;
use flume::{RecvTimeoutError, Sender};
use resp_sentinel_core::resp::Arg;
use resp_sentinel_core::sentinel::{Addr, ConnId, Event};
use resp_sentinel_core::{Cmd, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Opens connections on short-lived threads.
pub(crate) struct ThreadNet {
    pub(crate) connect_timeout: Duration,
}

impl Net for ThreadNet {
    fn open(&self, conn: ConnId, addr: Addr, tx: Sender<Msg>) {
        let timeout = self.connect_timeout;
        spawn("resp-sentinel-connect", move || {
            match connect(&addr, timeout) {
                Ok(stream) => start_io(conn, stream, tx),
                Err(e) => {
                    let _ = tx.send(Msg::ConnectFailed(conn, e.to_string()));
                }
            }
        });
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    // A failed spawn (out of threads) surfaces as a connection that never opens, which the
    // machine's connect timeout handles.
    let _ = std::thread::Builder::new().name(name.into()).spawn(f);
}

fn connect(addr: &Addr, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address resolved");
    for sa in (addr.host.as_str(), addr.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&sa, timeout) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn start_io(conn: ConnId, stream: TcpStream, tx: Sender<Msg>) {
    let (reader, writer) = match (stream.try_clone(), stream.try_clone()) {
        (Ok(r), Ok(w)) => (r, w),
        (Err(e), _) | (_, Err(e)) => {
            let _ = tx.send(Msg::ConnectFailed(conn, e.to_string()));
            return;
        }
    };
    let (wtx, wrx) = flume::unbounded::<Bytes>();
    let (cancel, _) = flume::bounded::<()>(0);
    let reader_tx = tx.clone();
    let writer_tx = tx.clone();
    spawn("resp-sentinel-read", move || {
        read_loop(conn, reader, reader_tx)
    });
    spawn("resp-sentinel-write", move || {
        let mut w = writer;
        while let Ok(bytes) = wrx.recv() {
            if w.write_all(&bytes).is_err() {
                let _ = writer_tx.send(Msg::Closed(conn));
                break;
            }
        }
        // Also wakes the reader thread, which then exits.
        let _ = w.shutdown(Shutdown::Both);
    });
    let link = Link {
        writer: wtx,
        _cancel: cancel,
    };
    if tx.send(Msg::Connected(conn, link)).is_err() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

fn read_loop(conn: ConnId, mut stream: TcpStream, tx: Sender<Msg>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => {
                if tx
                    .send(Msg::Received(conn, Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => {
                let _ = tx.send(Msg::Closed(conn));
                return;
            }
        }
    }
}

/// Starts the driver thread for `core`; returns the loop's sender.
pub(crate) fn spawn_driver(core: Core, connect_timeout: Duration) -> Sender<Msg> {
    let (tx, rx) = flume::unbounded();
    let mut driver = Driver::new(core, ThreadNet { connect_timeout }, tx.clone());
    spawn("resp-sentinel-driver", move || loop {
        driver.flush();
        if driver.finished() {
            return;
        }
        let msg = match driver.deadline() {
            Some(deadline) => rx.recv_deadline(deadline),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = Instant::now();
        match msg {
            Ok(msg) => {
                if !driver.handle(msg, now) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => driver.on_timeout(now),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    });
    tx
}

/// A [`crate::Sentinel`] whose clients block the calling thread.
pub type Sentinel = crate::sentinel::Sentinel<Blocking>;

/// Marker for the blocking driver.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocking;

/// A blocking connection to the current master (or a replica) of one service, kept right
/// through failovers. `Send + Sync`, cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) handle: Shared,
}

impl Client {
    /// Sends `cmd` and converts the reply (see [`crate::Client::query`] for retry rules).
    pub fn query<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
        let rx = self.handle.submit(cmd, false);
        self.handle.finish(rx.recv())
    }

    /// Like [`Client::query`], but the command may be sent twice: only for idempotent commands.
    pub fn query_idempotent<T: FromValue>(&self, cmd: Cmd) -> Result<T, Error> {
        let rx = self.handle.submit(cmd, true);
        self.handle.finish(rx.recv())
    }

    /// Sends every command at once and returns the replies in order.
    pub fn pipeline(&self, cmds: impl IntoIterator<Item = Cmd>) -> Result<Vec<Value>, Error> {
        let pending: Vec<_> = cmds
            .into_iter()
            .map(|c| self.handle.submit(c, false))
            .collect();
        pending
            .into_iter()
            .map(|rx| self.handle.settle(rx.recv()))
            .collect()
    }

    /// The master the client writes to now, once one has been verified.
    pub fn master_addr(&self) -> Option<Addr> {
        self.handle.master_addr().recv().ok().flatten()
    }

    /// Lifecycle events, in order; iterate the receiver.
    pub fn events(&self) -> flume::Receiver<Event> {
        self.handle.events()
    }

    /// Subscribes to `channels`; the subscription survives failovers.
    pub fn subscribe<S: AsRef<[u8]>>(&self, channels: &[S]) -> Subscription {
        self.subscription(PubSubOp::Subscribe, channels)
    }

    /// Subscribes to channel patterns; the subscription survives failovers.
    pub fn psubscribe<S: AsRef<[u8]>>(&self, patterns: &[S]) -> Subscription {
        self.subscription(PubSubOp::PSubscribe, patterns)
    }

    /// Stops delivering messages of these channels to every subscription of this client.
    pub fn unsubscribe<S: AsRef<[u8]>>(&self, channels: &[S]) {
        self.handle.pubsub(PubSubOp::Unsubscribe, channels, None);
    }

    /// Stops delivering messages of these patterns.
    pub fn punsubscribe<S: AsRef<[u8]>>(&self, patterns: &[S]) {
        self.handle.pubsub(PubSubOp::PUnsubscribe, patterns, None);
    }

    fn subscription<S: AsRef<[u8]>>(&self, op: PubSubOp, names: &[S]) -> Subscription {
        let (tx, rx) = flume::unbounded();
        self.handle.pubsub(op, names, Some(tx));
        Subscription {
            rx,
            _handle: self.handle.clone(),
        }
    }

    typed_helpers!(;);
}

/// Messages of a subscription, in order, across failovers.
pub struct Subscription {
    rx: flume::Receiver<Message>,
    _handle: Shared,
}

impl Subscription {
    /// Waits up to `timeout` for the next message.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Message> {
        // A timeout too long for an `Instant` means: wait as long as it takes.
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.rx.recv_deadline(deadline).ok(),
            None => self.rx.recv().ok(),
        }
    }
}
