//! tokio: `Sentinel` and `Client` running on the current tokio runtime.

use super::AsyncIo;
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The tokio runtime (call from inside one: the driver is spawned with `tokio::spawn`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// A [`crate::Sentinel`] whose clients run on tokio.
pub type Sentinel = crate::sentinel::Sentinel<Tokio>;

impl AsyncIo for Tokio {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(fut);
    }

    async fn connect(
        host: String,
        port: u16,
    ) -> io::Result<(OwnedReadHalf, OwnedWriteHalf, Option<SocketAddr>)> {
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr().ok();
        let (r, w) = stream.into_split();
        Ok((r, w, peer))
    }

    fn read<'a>(
        r: &'a mut OwnedReadHalf,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        r.read(buf)
    }

    fn write_all<'a>(
        w: &'a mut OwnedWriteHalf,
        bytes: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        w.write_all(bytes)
    }

    async fn shutdown(w: &mut OwnedWriteHalf) {
        // Both directions, like the other runtimes: tokio's own `shutdown` only sends FIN.
        let _ = socket2::SockRef::from(w.as_ref()).shutdown(Shutdown::Both);
    }

    async fn sleep_until(deadline: Instant) {
        tokio::time::sleep_until(deadline.into()).await
    }
}
