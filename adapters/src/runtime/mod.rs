//! The one choice of runtime: the [`Runtime`] trait, implemented by
//! [`crate::blocking::Blocking`] and, behind their features, `Tokio`, `AsyncStd` and `Smol`.
//!
//! How each runtime drives the core: `threads` (blocking), `async_loop` (the async driver,
//! written once over [`AsyncIo`]), `futures_io` (the async-std and smol glue, written once over
//! futures-io streams) and `tokio`.

pub(crate) mod async_loop;
#[cfg(feature = "async-std")]
pub mod async_std;
#[cfg(any(feature = "async-std", feature = "smol"))]
mod futures_io;
mod read_buf;
#[cfg(feature = "smol")]
pub mod smol;
pub(crate) mod threads;
#[cfg(feature = "tokio")]
pub mod tokio;

use crate::driver::{Driven, NetOptions};
use crate::handle::{Loop, Shared};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

mod sealed {
    /// Only this crate's runtimes implement [`super::Runtime`].
    pub trait Sealed {}
}

/// Which runtime a [`crate::Sentinel`] runs its clients on: [`crate::blocking::Blocking`]
/// (threads), or `Tokio`, `AsyncStd`, `Smol` behind the features of the same names. Sealed:
/// the runtimes this crate supports are the only ones.
pub trait Runtime: sealed::Sealed + Sized + Send + Sync + 'static {
    /// The client handle this runtime hands out: [`crate::blocking::Client`] for blocking,
    /// [`crate::Client`] for the async runtimes.
    type Client;

    /// Starts a driver loop for `driven`; returns the handles' way into it.
    #[doc(hidden)]
    fn spawn_driver(driven: Driven, opts: NetOptions) -> Loop;

    /// Wraps a handle to a running client driver.
    #[doc(hidden)]
    fn client(handle: Shared) -> Self::Client;
}

impl sealed::Sealed for crate::blocking::Blocking {}

impl Runtime for crate::blocking::Blocking {
    type Client = crate::blocking::Client;

    fn spawn_driver(driven: Driven, opts: NetOptions) -> Loop {
        threads::spawn_driver(driven, opts)
    }

    fn client(handle: Shared) -> crate::blocking::Client {
        crate::blocking::Client { handle }
    }
}

impl<R: AsyncIo> sealed::Sealed for R {}

impl<R: AsyncIo> Runtime for R {
    type Client = crate::Client;

    fn spawn_driver(driven: Driven, opts: NetOptions) -> Loop {
        Loop::new(async_loop::spawn_driver::<R>(driven, opts))
    }

    fn client(handle: Shared) -> crate::Client {
        crate::Client { handle }
    }
}

/// What the async driver needs from a runtime: spawning, TCP and a timer.
pub trait AsyncIo: Send + Sync + 'static {
    /// Read half of a TCP connection.
    type Reader: Send + 'static;
    /// Write half of a TCP connection.
    type Writer: Send + 'static;
    /// Runs `fut` in the background.
    fn spawn(fut: impl Future<Output = ()> + Send + 'static);
    /// Opens a TCP connection (no delay) and splits it; also says where it arrived.
    fn connect(
        host: String,
        port: u16,
    ) -> impl Future<Output = io::Result<(Self::Reader, Self::Writer, Option<SocketAddr>)>> + Send;
    /// Reads some bytes; 0 means the peer closed.
    fn read<'a>(
        r: &'a mut Self::Reader,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Writes all of `bytes`.
    fn write_all<'a>(
        w: &'a mut Self::Writer,
        bytes: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    /// Shuts the connection down in both directions (as the blocking driver does), which also
    /// wakes a read in progress.
    fn shutdown(w: &mut Self::Writer) -> impl Future<Output = ()> + Send + '_;
    /// Completes at `deadline`.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;
}

#[cfg(test)]
mod tests {
    use crate::driver::{Msg, Net, NetOptions};
    use bytes::Bytes;
    use resp_sentinel_core::sentinel::{Addr, ConnId, PeerKind};
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    /// Every runtime closes a connection the same way: what was queued is written, then the
    /// peer sees the end of the stream.
    fn closes_after_writing_what_was_queued(net: impl Net) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = flume::unbounded();
        net.open(
            ConnId(1),
            Addr::new("127.0.0.1", port),
            PeerKind::Sentinel,
            tx,
        );
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let link = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Msg::Connected(ConnId(1), link)) => link,
            Ok(_) => panic!("expected Connected"),
            Err(e) => panic!("no answer: {e:?}"),
        };
        link.writer
            .send(Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"));
        drop(link);
        let mut got = Vec::new();
        peer.read_to_end(&mut got)
            .expect("end of stream, not a timeout");
        assert_eq!(got, b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn blocking_closes_like_the_others() {
        closes_after_writing_what_was_queued(super::threads::ThreadNet {
            opts: NetOptions::plain(Duration::from_secs(5)),
            engine: std::sync::Weak::new(),
        });
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn tokio_closes_like_the_others() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        closes_after_writing_what_was_queued(
            super::async_loop::AsyncNet::<super::tokio::Tokio>::new(NetOptions::plain(
                Duration::from_secs(5),
            )),
        );
    }

    #[cfg(feature = "async-std")]
    #[test]
    fn async_std_closes_like_the_others() {
        closes_after_writing_what_was_queued(super::async_loop::AsyncNet::<
            super::async_std::AsyncStd,
        >::new(NetOptions::plain(
            Duration::from_secs(5),
        )));
    }

    #[cfg(feature = "smol")]
    #[test]
    fn smol_closes_like_the_others() {
        closes_after_writing_what_was_queued(
            super::async_loop::AsyncNet::<super::smol::Smol>::new(NetOptions::plain(
                Duration::from_secs(5),
            )),
        );
    }
}

/// Most bytes a writer gathers into one write.
const MAX_WRITE: usize = 1 << 20;

/// `first` and whatever else is already waiting for the same socket, as one buffer (up to
/// [`MAX_WRITE`]): one system call where the driver produced several transmits.
pub(crate) fn coalesce(first: bytes::Bytes, rx: &flume::Receiver<bytes::Bytes>) -> bytes::Bytes {
    if rx.is_empty() {
        return first;
    }
    let mut buf = bytes::BytesMut::from(&first[..]);
    while buf.len() < MAX_WRITE {
        let Ok(more) = rx.try_recv() else { break };
        buf.extend_from_slice(&more);
    }
    buf.freeze()
}

#[cfg(test)]
mod coalesce_tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn waiting_transmits_leave_in_one_buffer_in_order() {
        let (tx, rx) = flume::unbounded();
        assert_eq!(coalesce(Bytes::from_static(b"a"), &rx), "a");
        tx.send(Bytes::from_static(b"b")).unwrap();
        tx.send(Bytes::from_static(b"c")).unwrap();
        assert_eq!(coalesce(Bytes::from_static(b"a"), &rx), "abc");
        assert!(rx.is_empty());
        let big = Bytes::from(vec![b'x'; MAX_WRITE]);
        tx.send(big.clone()).unwrap();
        tx.send(Bytes::from_static(b"y")).unwrap();
        assert_eq!(coalesce(Bytes::from_static(b"a"), &rx).len(), MAX_WRITE + 1);
        assert_eq!(rx.len(), 1, "the rest waits for the next write");
    }
}
