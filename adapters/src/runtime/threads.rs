//! The blocking driver over std sockets: the state machine has no thread of its own (see
//! [`engine`]); each connection has a reader thread, which steps aside while a lone caller
//! reads its own replies (see [`read`]), and a writer thread for what the socket does not take
//! at once and for the close (see [`wire`]); a timer thread fires deadlines.

mod engine;
mod read;
mod wait;
mod wire;

pub(crate) use wait::Wait;

use crate::driver::{Driven, Driver, Link, Msg, Net, NetOptions};
use crate::handle::Loop;
use crate::tls::{Connector, Session, Step};
use bytes::Bytes;
use engine::Engine;
use flume::Sender;
use resp_sentinel_core::sentinel::{Addr, ConnId, PeerKind, TlsFailure, TlsProblem};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Weak};
use std::time::Duration;
use wire::Wire;

/// Opens connections on short-lived threads.
pub(crate) struct ThreadNet {
    pub(crate) opts: NetOptions,
    /// The engine whose turn the connection's threads take after handing it something (none
    /// in tests that open a connection alone).
    pub(crate) engine: Weak<Engine>,
}

/// Sends `msg` to the loop, then takes the loop's turn if nobody has it.
fn deliver(tx: &Sender<Msg>, engine: &Weak<Engine>, msg: Msg) -> Result<(), ()> {
    tx.send(msg).map_err(|_| ())?;
    if let Some(e) = engine.upgrade() {
        e.pump();
    }
    Ok(())
}

impl Net for ThreadNet {
    fn open(&self, conn: ConnId, addr: Addr, kind: PeerKind, tx: Sender<Msg>) {
        let pump = || {
            let engine = self.engine.clone();
            let pump: crate::handle::Pump = Arc::new(move || {
                if let Some(e) = engine.upgrade() {
                    e.pump();
                }
            });
            Some(pump)
        };
        if crate::hub::hand_over(self.opts.hub.as_ref(), conn, &addr, kind, &tx, pump) {
            return;
        }
        let timeout = self.opts.connect_timeout;
        let tls = self.opts.tls.for_kind(kind).cloned();
        let engine = self.engine.clone();
        spawn("resp-sentinel-connect", move || {
            let stream = match connect(&addr, timeout) {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = deliver(&tx, &engine, Msg::ConnectFailed(conn, e));
                    return;
                }
            };
            let session = match tls.map(|c| handshake(&c, &addr.host, &stream, timeout)) {
                None => None,
                Some(Ok(s)) => Some(s),
                Some(Err(why)) => {
                    let _ = stream.shutdown(Shutdown::Both);
                    let _ = deliver(&tx, &engine, Msg::TlsFailed(conn, why));
                    return;
                }
            };
            start_io(conn, stream, session, tx, engine)
        });
    }
}

/// The TLS handshake on a fresh connection, within `timeout` per read.
fn handshake(
    c: &Connector,
    host: &str,
    mut stream: &TcpStream,
    timeout: Duration,
) -> Result<Session, TlsFailure> {
    let session = c.start(host)?;
    let fail = |problem| TlsFailure {
        side: c.side,
        problem,
    };
    // A zero timeout is refused by the socket; the connect already took its time.
    let _ = stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match session.step() {
            Step::Write(bytes) => stream
                .write_all(&bytes)
                .map_err(|_| fail(TlsProblem::Handshake))?,
            Step::Read => {
                let n = match stream.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Err(fail(TlsProblem::Handshake)),
                };
                session.handshake_input(&buf[..n])?;
            }
            Step::Done => break,
        }
    }
    let _ = stream.set_read_timeout(None);
    Ok(session)
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    // A failed spawn (out of threads) surfaces as a connection that never opens, which the
    // machine's connect timeout handles.
    let _ = std::thread::Builder::new().name(name.into()).spawn(f);
}

fn connect(addr: &Addr, timeout: Duration) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address resolved");
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

fn start_io(
    conn: ConnId,
    stream: TcpStream,
    session: Option<Session>,
    tx: Sender<Msg>,
    engine: Weak<Engine>,
) {
    let (reader, writer) = match (stream.try_clone(), stream.try_clone()) {
        (Ok(r), Ok(w)) => (r, w),
        (Err(e), _) | (_, Err(e)) => {
            let _ = deliver(&tx, &engine, Msg::ConnectFailed(conn, e));
            return;
        }
    };
    let (wtx, wrx) = flume::unbounded::<Bytes>();
    // Disconnects when the driver drops the link: the writer thread then closes the socket.
    let (cancel, closed) = flume::bounded::<()>(0);
    let (wire, kicked) = Wire::new(writer, session.clone(), wrx);
    let wire = Arc::new(wire);
    let nudge = wtx.downgrade();
    let core = read::Core::new(conn, reader, session, nudge, tx.clone(), wire.clone());
    let side = Arc::new(read::ReadSide::new(core, engine.clone()));
    if let Some(e) = engine.upgrade() {
        e.add_wire(wire.clone(), Arc::downgrade(&side));
    }
    spawn("resp-sentinel-read", move || side.run());
    let writer_engine = engine.clone();
    let alone = engine.strong_count() == 0;
    spawn("resp-sentinel-write", move || {
        wire::write_loop(&wire, closed, kicked, alone);
        if let Some(e) = writer_engine.upgrade() {
            e.remove_wire(&wire);
        }
    });
    let link = Link {
        writer: crate::driver::Writer::Socket(wtx),
        _cancel: Some(cancel),
        peer: crate::driver::peer_addr(stream.peer_addr().ok()),
    };
    if deliver(&tx, &engine, Msg::Connected(conn, link)).is_err() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Starts the loop for `driven` (its timer thread; no thread of its own: the threads that feed
/// it take its turns); returns the handles' way in.
pub(crate) fn spawn_driver(driven: Driven, opts: NetOptions) -> Loop {
    let ((tx, rx), (io_tx, io_rx)) = crate::driver::channels();
    let requests = tx.clone();
    let io = io_tx.clone();
    let engine = Arc::new_cyclic(|weak| {
        let net = ThreadNet {
            opts,
            engine: weak.clone(),
        };
        Engine::new(Driver::new(driven, net, io_tx), (requests, rx), (io, io_rx))
    });
    // The first turn performs what the machine asked for at its start (its connects).
    engine.pump();
    let timer = engine.clone();
    spawn("resp-sentinel-timer", move || timer.tick_loop());
    let pump = engine.clone();
    Loop::with_pump(tx, Arc::new(move || pump.pump()))
}
