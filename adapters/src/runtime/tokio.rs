//! tokio: `Sentinel` and `Client` running on the current tokio runtime.

use super::Runtime;
use std::future::Future;
use std::io;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The tokio runtime (call from inside one: the driver is spawned with `tokio::spawn`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// A [`crate::Sentinel`] whose clients run on tokio.
pub type Sentinel = crate::sentinel::Sentinel<Tokio>;

impl Runtime for Tokio {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(fut);
    }

    async fn connect(host: String, port: u16) -> io::Result<(OwnedReadHalf, OwnedWriteHalf)> {
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream.into_split())
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
        let _ = w.shutdown().await;
    }

    async fn sleep_until(deadline: Instant) {
        tokio::time::sleep_until(deadline.into()).await
    }
}
