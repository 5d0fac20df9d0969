//! smol: `Sentinel` and `Client` running on smol's global executor.

use super::futures_io::FuturesIo;
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

impl FuturesIo for Smol {
    type Stream = TcpStream;

    fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
        smol::spawn(fut).detach();
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
        smol::Timer::at(deadline).await;
    }
}
