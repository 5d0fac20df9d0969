//! The async driver, written once over [`AsyncIo`]: the driver task, and a reader and a writer
//! task per connection.

use super::AsyncIo;
use crate::driver::{Driven, Driver, Link, Msg, Net};
use bytes::Bytes;
use flume::Sender;
use futures_lite::FutureExt;
use resp_sentinel_core::sentinel::{Addr, ConnId};
use std::io;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// Opens connections as tasks of runtime `R`.
pub(crate) struct AsyncNet<R> {
    connect_timeout: Duration,
    _rt: PhantomData<R>,
}

impl<R> AsyncNet<R> {
    pub(crate) fn new(connect_timeout: Duration) -> Self {
        AsyncNet {
            connect_timeout,
            _rt: PhantomData,
        }
    }
}

impl<R: AsyncIo> Net for AsyncNet<R> {
    fn open(&self, conn: ConnId, addr: Addr, tx: Sender<Msg>) {
        // A timeout no `Instant` can hold (the core clamps its own copy) means no timeout here.
        let deadline = Instant::now().checked_add(self.connect_timeout);
        R::spawn(async move {
            let connect = R::connect(addr.host.clone(), addr.port);
            let timeout = async {
                match deadline {
                    Some(deadline) => R::sleep_until(deadline).await,
                    None => futures_lite::future::pending().await,
                }
                Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
            };
            match connect.or(timeout).await {
                Ok((reader, writer, peer)) => {
                    let (wtx, wrx) = flume::unbounded::<Bytes>();
                    let (cancel, cancelled) = flume::bounded::<()>(0);
                    R::spawn(write_loop::<R>(conn, writer, wrx, tx.clone()));
                    R::spawn(read_loop::<R>(conn, reader, cancelled, tx.clone()));
                    let link = Link {
                        writer: wtx,
                        _cancel: cancel,
                        peer: crate::driver::peer_addr(peer),
                    };
                    let _ = tx.send_async(Msg::Connected(conn, link)).await;
                }
                Err(e) => {
                    let _ = tx.send_async(Msg::ConnectFailed(conn, e)).await;
                }
            }
        });
    }
}

async fn write_loop<R: AsyncIo>(
    conn: ConnId,
    mut writer: R::Writer,
    rx: flume::Receiver<Bytes>,
    tx: Sender<Msg>,
) {
    while let Ok(first) = rx.recv_async().await {
        let bytes = super::coalesce(first, &rx);
        if R::write_all(&mut writer, &bytes).await.is_err() {
            let _ = tx.send_async(Msg::Closed(conn)).await;
            break;
        }
    }
    // Both directions, as on every runtime (see `crate::driver`).
    R::shutdown(&mut writer).await;
}

async fn read_loop<R: AsyncIo>(
    conn: ConnId,
    mut reader: R::Reader,
    cancelled: flume::Receiver<()>,
    tx: Sender<Msg>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = async { Some(R::read(&mut reader, &mut buf).await) };
        let cancel = async {
            let _ = cancelled.recv_async().await;
            None
        };
        match read.or(cancel).await {
            Some(Ok(n)) if n > 0 => {
                let bytes = Bytes::copy_from_slice(&buf[..n]);
                // Waits while the driver is behind: the socket is not read meanwhile.
                if tx.send_async(Msg::Received(conn, bytes)).await.is_err() {
                    return;
                }
            }
            Some(_) => {
                let _ = tx.send_async(Msg::Closed(conn)).await;
                return;
            }
            None => return,
        }
    }
}

/// Starts the driver task for `driven` on runtime `R`; returns the loop's sender.
pub(crate) fn spawn_driver<R: AsyncIo>(driven: Driven, connect_timeout: Duration) -> Sender<Msg> {
    let ((tx, rx), (io_tx, io_rx)) = crate::driver::channels();
    // The loop holds a request sender of its own, so a discovery (which no handle feeds)
    // is not ended by its request channel closing; a client's loop ends on `Shutdown`.
    let keep = tx.clone();
    let net = AsyncNet::<R>::new(connect_timeout);
    let mut driver = Driver::new(driven, net, io_tx);
    R::spawn(async move {
        let _keep = keep;
        loop {
            driver.flush();
            if driver.finished() {
                return;
            }
            let next = async { Some(io_rx.recv_async().or(rx.recv_async()).await) };
            let msg = match driver.deadline() {
                Some(deadline) => {
                    let wake = async {
                        R::sleep_until(deadline).await;
                        None
                    };
                    next.or(wake).await
                }
                None => next.await,
            };
            match msg {
                Some(Ok(msg)) => {
                    if !driver.turn(msg, &rx, &io_rx) {
                        return;
                    }
                }
                Some(Err(_)) => return,
                None => driver.on_timeout(Instant::now()),
            }
        }
    });
    tx
}

#[cfg(all(test, feature = "smol"))]
mod tests {
    use super::*;

    #[test]
    fn a_connect_timeout_no_instant_can_hold_connects_without_a_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let net = AsyncNet::<crate::runtime::smol::Smol> {
            connect_timeout: Duration::MAX,
            _rt: PhantomData,
        };
        let (tx, rx) = flume::unbounded();
        net.open(ConnId(7), Addr::new("127.0.0.1", port), tx);
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Msg::Connected(ConnId(7), _)) => {}
            Ok(_) => panic!("expected Connected"),
            Err(e) => panic!("no answer: {e:?}"),
        }
    }
}
