//! The async driver, written once over [`AsyncIo`]: the driver task, and a reader and a writer
//! task per connection.

use super::AsyncIo;
use crate::driver::{Driven, Driver, Link, Msg, Net, NetOptions};
use crate::tls::{self, Connector, Inbound, Session, Step};
use bytes::Bytes;
use flume::Sender;
use futures_lite::FutureExt;
use resp_sentinel_core::sentinel::{Addr, ConnId, PeerKind, TlsFailure, TlsProblem};
use std::io;
use std::marker::PhantomData;
use std::time::Instant;

/// Opens connections as tasks of runtime `R`.
pub(crate) struct AsyncNet<R> {
    opts: NetOptions,
    _rt: PhantomData<R>,
}

impl<R> AsyncNet<R> {
    pub(crate) fn new(opts: NetOptions) -> Self {
        AsyncNet {
            opts,
            _rt: PhantomData,
        }
    }
}

/// Why opening failed.
enum OpenError {
    Io(io::Error),
    Tls(TlsFailure),
}

/// Connects to `addr` and, when `tls` is set, completes the TLS handshake.
async fn open<R: AsyncIo>(
    addr: &Addr,
    tls: Option<Connector>,
) -> Result<
    (
        R::Reader,
        R::Writer,
        Option<std::net::SocketAddr>,
        Option<Session>,
    ),
    OpenError,
> {
    let (mut reader, mut writer, peer) = R::connect(addr.host.clone(), addr.port)
        .await
        .map_err(OpenError::Io)?;
    let Some(c) = tls else {
        return Ok((reader, writer, peer, None));
    };
    match handshake::<R>(&c, &addr.host, &mut reader, &mut writer).await {
        Ok(s) => Ok((reader, writer, peer, Some(s))),
        Err(why) => {
            R::shutdown(&mut writer).await;
            Err(OpenError::Tls(why))
        }
    }
}

/// The TLS handshake on a fresh connection (bounded by the caller's connect timeout).
async fn handshake<R: AsyncIo>(
    c: &Connector,
    host: &str,
    reader: &mut R::Reader,
    writer: &mut R::Writer,
) -> Result<Session, TlsFailure> {
    let session = c.start(host)?;
    let fail = |problem| TlsFailure {
        side: c.side,
        problem,
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match session.step() {
            Step::Write(bytes) => R::write_all(writer, &bytes)
                .await
                .map_err(|_| fail(TlsProblem::Handshake))?,
            Step::Read => {
                let n = R::read(reader, &mut buf)
                    .await
                    .map_err(|_| fail(TlsProblem::Handshake))?;
                session.handshake_input(&buf[..n])?;
            }
            Step::Done => return Ok(session),
        }
    }
}

impl<R: AsyncIo> Net for AsyncNet<R> {
    fn open(&self, conn: ConnId, addr: Addr, kind: PeerKind, tx: Sender<Msg>) {
        if crate::hub::hand_over(self.opts.hub.as_ref(), conn, &addr, kind, &tx, || None) {
            return;
        }
        // A timeout no `Instant` can hold (the core clamps its own copy) means no timeout here.
        let deadline = Instant::now().checked_add(self.opts.connect_timeout);
        let tls = self.opts.tls.for_kind(kind).cloned();
        R::spawn(async move {
            let connect = open::<R>(&addr, tls);
            let timeout = async {
                match deadline {
                    Some(deadline) => R::sleep_until(deadline).await,
                    None => futures_lite::future::pending().await,
                }
                Err(OpenError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connect timed out",
                )))
            };
            match connect.or(timeout).await {
                Ok((reader, writer, peer, session)) => {
                    let (wtx, wrx) = flume::unbounded::<Bytes>();
                    let (cancel, cancelled) = flume::bounded::<()>(0);
                    let nudge = wtx.downgrade();
                    R::spawn(write_loop::<R>(
                        conn,
                        writer,
                        session.clone(),
                        wrx,
                        tx.clone(),
                    ));
                    R::spawn(read_loop::<R>(
                        conn,
                        reader,
                        session,
                        nudge,
                        cancelled,
                        tx.clone(),
                    ));
                    let link = Link {
                        writer: crate::driver::Writer::Socket(wtx),
                        _cancel: Some(cancel),
                        peer: crate::driver::peer_addr(peer),
                    };
                    let _ = tx.send_async(Msg::Connected(conn, link)).await;
                }
                Err(OpenError::Io(e)) => {
                    let _ = tx.send_async(Msg::ConnectFailed(conn, e)).await;
                }
                Err(OpenError::Tls(why)) => {
                    let _ = tx.send_async(Msg::TlsFailed(conn, why)).await;
                }
            }
        });
    }
}

async fn write_loop<R: AsyncIo>(
    conn: ConnId,
    mut writer: R::Writer,
    session: Option<Session>,
    rx: flume::Receiver<Bytes>,
    tx: Sender<Msg>,
) {
    let mut failed = false;
    while let Ok(first) = rx.recv_async().await {
        let bytes = super::coalesce(first, &rx);
        let written = match tls::outbound(session.as_ref(), bytes) {
            Ok(b) => R::write_all(&mut writer, &b).await,
            Err(e) => Err(e),
        };
        if written.is_err() {
            let _ = tx.send_async(Msg::Closed(conn)).await;
            failed = true;
            break;
        }
    }
    if !failed {
        let _ = R::write_all(&mut writer, &tls::closing(session.as_ref())).await;
    }
    // Both directions, as on every runtime (see `crate::driver`).
    R::shutdown(&mut writer).await;
}

async fn read_loop<R: AsyncIo>(
    conn: ConnId,
    mut reader: R::Reader,
    session: Option<Session>,
    nudge: flume::WeakSender<Bytes>,
    cancelled: flume::Receiver<()>,
    tx: Sender<Msg>,
) {
    let mut buf = super::read_buf::ReadBuf::new();
    // One cancellation future for the connection's life: it registers with the channel once,
    // instead of once (and one allocation) per read.
    let mut cancel = std::pin::pin!(async {
        let _ = cancelled.recv_async().await;
        None
    });
    loop {
        let read = async { Some(R::read(&mut reader, buf.room()).await) };
        match read.or(cancel.as_mut()).await {
            Some(Ok(n)) if n > 0 => {
                let (bytes, end) = match tls::inbound(session.as_ref(), buf.take(n), &nudge) {
                    Inbound::Data(b) => (b, None),
                    Inbound::DataThenClosed(b) => (b, Some(Msg::Closed(conn))),
                    Inbound::Failed(why) => (Bytes::new(), Some(Msg::TlsFailed(conn, why))),
                };
                // Waits while the driver is behind: the socket is not read meanwhile.
                if !bytes.is_empty() && tx.send_async(Msg::Received(conn, bytes)).await.is_err() {
                    return;
                }
                if let Some(end) = end {
                    let _ = tx.send_async(end).await;
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
pub(crate) fn spawn_driver<R: AsyncIo>(driven: Driven, opts: NetOptions) -> Sender<Msg> {
    let ((tx, rx), (io_tx, io_rx)) = crate::driver::channels();
    // The loop holds a request sender of its own, so a discovery (which no handle feeds)
    // is not ended by its request channel closing; a client's loop ends on `Shutdown`.
    let keep = tx.clone();
    let net = AsyncNet::<R>::new(opts);
    let mut driver = Driver::new(driven, net, io_tx);
    R::spawn(async move {
        let _keep = keep;
        // One timer, kept while the machine's deadline does not move earlier: arming a timer
        // costs a registration (an allocation on async-std and smol) and most turns only push
        // the deadline later. A timer that fires before the current deadline only arms the
        // next one; the machine's timeout runs once its deadline has passed.
        let mut armed: Option<Instant> = None;
        let mut timer = std::pin::pin!(None);
        loop {
            driver.flush();
            if driver.finished() {
                return;
            }
            if let Some(deadline) = driver.deadline() {
                if armed.is_none_or(|at| deadline < at) {
                    timer.set(Some(R::sleep_until(deadline)));
                    armed = Some(deadline);
                }
            }
            let next = async { Some(io_rx.recv_async().or(rx.recv_async()).await) };
            let wake = futures_lite::future::poll_fn(|cx| match timer.as_mut().as_pin_mut() {
                Some(t) => std::future::Future::poll(t, cx).map(|()| None),
                None => std::task::Poll::Pending,
            });
            match next.or(wake).await {
                Some(Ok(msg)) => {
                    if !driver.turn(msg, &rx, &io_rx) {
                        return;
                    }
                }
                Some(Err(_)) => return,
                None => {
                    timer.set(None);
                    armed = None;
                    let now = Instant::now();
                    if driver.deadline().is_some_and(|d| d <= now) {
                        driver.on_timeout(now);
                    }
                }
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
            opts: NetOptions::plain(std::time::Duration::MAX),
            _rt: PhantomData,
        };
        let (tx, rx) = flume::unbounded();
        net.open(
            ConnId(7),
            Addr::new("127.0.0.1", port),
            PeerKind::Sentinel,
            tx,
        );
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Msg::Connected(ConnId(7), _)) => {}
            Ok(_) => panic!("expected Connected"),
            Err(e) => panic!("no answer: {e:?}"),
        }
    }
}
