//! smol: `Sentinel` and `Client` running on smol's global executor.

use super::Runtime;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::time::Instant;

/// The smol runtime (tasks go to smol's global executor).
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

/// A [`crate::Sentinel`] whose clients run on smol.
pub type Sentinel = crate::sentinel::Sentinel<Smol>;

impl Runtime for Smol {
    type Reader = TcpStream;
    type Writer = TcpStream;

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(fut).detach();
    }

    async fn connect(host: String, port: u16) -> io::Result<(TcpStream, TcpStream)> {
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        stream.set_nodelay(true)?;
        Ok((stream.clone(), stream))
    }

    fn read<'a>(
        r: &'a mut TcpStream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        r.read(buf)
    }

    fn write_all<'a>(
        w: &'a mut TcpStream,
        bytes: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        w.write_all(bytes)
    }

    async fn shutdown(w: &mut TcpStream) {
        let _ = w.shutdown(Shutdown::Both);
    }

    async fn sleep_until(deadline: Instant) {
        smol::Timer::at(deadline).await;
    }
}
