//! The blocking driver: one thread owns the state machine; each connection has a reader and a
//! writer thread over std sockets.

use crate::driver::{Driven, Driver, Link, Msg, Net};
use bytes::Bytes;
use flume::{RecvTimeoutError, Sender};
use resp_sentinel_core::sentinel::{Addr, ConnId};
use std::io::{self, Read, Write};
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
                    let _ = tx.send(Msg::ConnectFailed(conn, e));
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

fn start_io(conn: ConnId, stream: TcpStream, tx: Sender<Msg>) {
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
    spawn("resp-sentinel-read", move || {
        read_loop(conn, reader, reader_tx)
    });
    spawn("resp-sentinel-write", move || {
        write_loop(conn, writer, wrx, writer_tx)
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

fn write_loop(conn: ConnId, mut w: TcpStream, rx: flume::Receiver<Bytes>, tx: Sender<Msg>) {
    while let Ok(first) = rx.recv() {
        let bytes = super::coalesce(first, &rx);
        if w.write_all(&bytes).is_err() {
            let _ = tx.send(Msg::Closed(conn));
            break;
        }
    }
    // Both directions, as on every runtime; this also wakes the reader thread, which exits.
    let _ = w.shutdown(Shutdown::Both);
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
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => {
                let _ = tx.send(Msg::Closed(conn));
                return;
            }
        }
    }
}

/// Starts the driver thread for `driven`; returns the loop's sender.
pub(crate) fn spawn_driver(driven: Driven, connect_timeout: Duration) -> Sender<Msg> {
    let ((tx, rx), (io_tx, io_rx)) = crate::driver::channels();
    // The loop holds a request sender of its own, so a discovery (which no handle feeds)
    // is not ended by its request channel closing; a client's loop ends on `Shutdown`.
    let keep = tx.clone();
    let mut driver = Driver::new(driven, ThreadNet { connect_timeout }, io_tx);
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
