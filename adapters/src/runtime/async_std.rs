//! async-std: `Sentinel` and `Client` running on async-std tasks.
//!
//! async-std is discontinued upstream (its authors point to smol); it stays supported here for
//! programs that still run on it.

use super::futures_io::FuturesIo;
use async_std::net::TcpStream;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::time::Instant;

/// The async-std runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

/// A [`crate::Sentinel`] whose clients run on async-std.
pub type Sentinel = crate::sentinel::Sentinel<AsyncStd>;

impl FuturesIo for AsyncStd {
    type Stream = TcpStream;

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        async_std::task::spawn(fut);
    }

    async fn connect(host: String, port: u16) -> io::Result<TcpStream> {
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn peer(stream: &TcpStream) -> Option<std::net::SocketAddr> {
        stream.peer_addr().ok()
    }

    fn shutdown(stream: &TcpStream) {
        let _ = stream.shutdown(Shutdown::Both);
    }

    async fn sleep_until(deadline: Instant) {
        async_std::task::sleep(deadline.saturating_duration_since(Instant::now())).await
    }
}
