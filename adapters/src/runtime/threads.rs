//! The blocking driver: one thread owns the state machine; each connection has a reader and a
//! writer thread over std sockets.

use crate::driver::{Driven, Driver, Link, Msg, Net, NetOptions};
use crate::tls::{self, Connector, Inbound, Session, Step};
use bytes::Bytes;
use flume::{RecvTimeoutError, Sender};
use resp_sentinel_core::sentinel::{Addr, ConnId, PeerKind, TlsFailure, TlsProblem};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Opens connections on short-lived threads.
pub(crate) struct ThreadNet {
    pub(crate) opts: NetOptions,
}

impl Net for ThreadNet {
    fn open(&self, conn: ConnId, addr: Addr, kind: PeerKind, tx: Sender<Msg>) {
        let timeout = self.opts.connect_timeout;
        let tls = self.opts.tls.for_kind(kind).cloned();
        spawn("resp-sentinel-connect", move || {
            let stream = match connect(&addr, timeout) {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = tx.send(Msg::ConnectFailed(conn, e));
                    return;
                }
            };
            let session = match tls.map(|c| handshake(&c, &addr.host, &stream, timeout)) {
                None => None,
                Some(Ok(s)) => Some(s),
                Some(Err(why)) => {
                    let _ = stream.shutdown(Shutdown::Both);
                    let _ = tx.send(Msg::TlsFailed(conn, why));
                    return;
                }
            };
            start_io(conn, stream, session, tx)
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

fn start_io(conn: ConnId, stream: TcpStream, session: Option<Session>, tx: Sender<Msg>) {
    let (reader, writer) = match (stream.try_clone(), stream.try_clone()) {
        (Ok(r), Ok(w)) => (r, w),
        (Err(e), _) | (_, Err(e)) => {
            let _ = tx.send(Msg::ConnectFailed(conn, e));
            return;
        }
    };
    let (wtx, wrx) = flume::unbounded::<Bytes>();
    // A blocking read cannot wait on this beside the socket: the writer's shutdown wakes it.
    let (cancel, _) = flume::bounded::<()>(0);
    let reader_tx = tx.clone();
    let writer_tx = tx.clone();
    let nudge = wtx.downgrade();
    let reader_session = session.clone();
    spawn("resp-sentinel-read", move || {
        read_loop(conn, reader, reader_session, nudge, reader_tx)
    });
    spawn("resp-sentinel-write", move || {
        write_loop(conn, writer, session, wrx, writer_tx)
    });
    let link = Link {
        writer: wtx,
        _cancel: cancel,
        peer: crate::driver::peer_addr(stream.peer_addr().ok()),
    };
    if tx.send(Msg::Connected(conn, link)).is_err() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

fn write_loop(
    conn: ConnId,
    mut w: TcpStream,
    session: Option<Session>,
    rx: flume::Receiver<Bytes>,
    tx: Sender<Msg>,
) {
    let mut failed = false;
    while let Ok(first) = rx.recv() {
        let bytes = super::coalesce(first, &rx);
        let written = tls::outbound(session.as_ref(), bytes).and_then(|b| w.write_all(&b));
        if written.is_err() {
            let _ = tx.send(Msg::Closed(conn));
            failed = true;
            break;
        }
    }
    if !failed {
        let _ = w.write_all(&tls::closing(session.as_ref()));
    }
    // Both directions, as on every runtime; this also wakes the reader thread, which exits.
    let _ = w.shutdown(Shutdown::Both);
}

fn read_loop(
    conn: ConnId,
    mut stream: TcpStream,
    session: Option<Session>,
    nudge: flume::WeakSender<Bytes>,
    tx: Sender<Msg>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => {
                let (bytes, end) = match tls::inbound(session.as_ref(), &buf[..n], &nudge) {
                    Inbound::Data(b) => (b, None),
                    Inbound::DataThenClosed(b) => (b, Some(Msg::Closed(conn))),
                    Inbound::Failed(why) => (Bytes::new(), Some(Msg::TlsFailed(conn, why))),
                };
                if !bytes.is_empty() && tx.send(Msg::Received(conn, bytes)).is_err() {
                    return;
                }
                if let Some(end) = end {
                    let _ = tx.send(end);
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => {
                let _ = tx.send(Msg::Closed(conn));
                return;
            }
        }
    }
}

/// Starts the driver thread for `driven`; returns the loop's sender.
pub(crate) fn spawn_driver(driven: Driven, opts: NetOptions) -> Sender<Msg> {
    let ((tx, rx), (io_tx, io_rx)) = crate::driver::channels();
    // The loop holds a request sender of its own, so a discovery (which no handle feeds)
    // is not ended by its request channel closing; a client's loop ends on `Shutdown`.
    let keep = tx.clone();
    let mut driver = Driver::new(driven, ThreadNet { opts }, io_tx);
    spawn("resp-sentinel-driver", move || loop {
        let _keep = &keep;
        driver.flush();
        if driver.finished() {
            return;
        }
        // A message already waiting needs no selector (the common case under load).
        let msg = match io_rx.try_recv().or_else(|_| rx.try_recv()) {
            Ok(m) => Ok(m),
            Err(_) => {
                let select = flume::Selector::new()
                    .recv(&io_rx, |m| m.map_err(|_| RecvTimeoutError::Disconnected))
                    .recv(&rx, |m| m.map_err(|_| RecvTimeoutError::Disconnected));
                match driver.deadline() {
                    Some(deadline) => select
                        .wait_deadline(deadline)
                        .unwrap_or(Err(RecvTimeoutError::Timeout)),
                    None => select.wait(),
                }
            }
        };
        match msg {
            Ok(msg) => {
                if !driver.turn(msg, &rx, &io_rx) {
                    return;
                }
            }
            Err(RecvTimeoutError::Timeout) => driver.on_timeout(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    });
    tx
}
