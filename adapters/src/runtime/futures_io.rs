//! The async-std and smol glue, written once: both hand out a cloneable TCP stream that speaks
//! futures-io, so only spawning, connecting, shutting down and the timer differ.

use super::AsyncIo;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

/// A runtime whose TCP stream speaks futures-io and is cheap to clone (one clone reads, the
/// other writes).
pub trait FuturesIo: Send + Sync + 'static {
    /// The runtime's TCP stream.
    type Stream: AsyncRead + AsyncWrite + Clone + Unpin + Send + Sync + 'static;
    /// Runs `fut` in the background.
    fn spawn(fut: impl Future<Output = ()> + Send + 'static);
    /// Opens a TCP connection (no delay).
    fn connect(host: String, port: u16) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// Shuts the stream down in both directions.
    fn shutdown(stream: &Self::Stream);
    /// Where the stream arrived.
    fn peer(stream: &Self::Stream) -> Option<SocketAddr>;
    /// Completes at `deadline`.
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;
}

impl<R: FuturesIo> AsyncIo for R {
    type Reader = R::Stream;
    type Writer = R::Stream;

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        <R as FuturesIo>::spawn(fut)
    }

    async fn connect(
        host: String,
        port: u16,
    ) -> io::Result<(R::Stream, R::Stream, Option<SocketAddr>)> {
        let stream = <R as FuturesIo>::connect(host, port).await?;
        let peer = R::peer(&stream);
        Ok((stream.clone(), stream, peer))
    }

    fn read<'a>(
        r: &'a mut R::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        r.read(buf)
    }

    fn write_all<'a>(
        w: &'a mut R::Stream,
        bytes: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        w.write_all(bytes)
    }

    async fn shutdown(w: &mut R::Stream) {
        <R as FuturesIo>::shutdown(w)
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        <R as FuturesIo>::sleep_until(deadline)
    }
}
