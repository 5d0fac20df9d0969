//! A blocking TLS stream with a side's settings, for tools that talk to a sentinel or a data
//! node directly (the CLI's admin commands: `SENTINEL FAILOVER`, watching events), verified
//! exactly as the clients verify.

use super::Connector;
use resp_sentinel_core::sentinel::{TlsConfig, TlsFailure, TlsProblem, TlsSide};
use rustls::{ClientConnection, StreamOwned};
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// A TLS connection over a blocking `TcpStream`, its handshake done.
pub struct BlockingTlsStream(StreamOwned<ClientConnection, TcpStream>);

impl BlockingTlsStream {
    /// Runs the TLS handshake on `tcp` (connected to `host`) with `settings` for `side`;
    /// `tcp`'s read and write timeouts bound it. Errors say the side and the certificate
    /// problem (or the unusable file), as the clients' do; the text shows no key bytes.
    pub fn connect(
        mut tcp: TcpStream,
        host: &str,
        side: TlsSide,
        settings: &TlsConfig,
    ) -> Result<BlockingTlsStream, String> {
        let client = super::settings::client_config(settings)
            .map_err(|why| format!("TLS settings for the {side}: {why}"))?;
        let connector = Connector {
            side,
            client: Some(client),
            server_name: settings.server_name.clone(),
        };
        let mut conn = connector.connection(host).map_err(|f| f.to_string())?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut tcp) {
                let problem = match e.get_ref().and_then(|r| r.downcast_ref::<rustls::Error>()) {
                    Some(t) => super::failure::problem(t, connector.has_identity()),
                    None => TlsProblem::Handshake,
                };
                return Err(TlsFailure { side, problem }.to_string());
            }
        }
        Ok(BlockingTlsStream(StreamOwned::new(conn, tcp)))
    }

    /// The TCP stream underneath (for timeouts and shutdown).
    pub fn tcp(&self) -> &TcpStream {
        &self.0.sock
    }
}

impl Read for BlockingTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for BlockingTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
