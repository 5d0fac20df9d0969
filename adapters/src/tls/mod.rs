//! TLS for connections whose side (sentinels or data nodes) has a [`TlsConfig`]: the clients'
//! rustls configurations, built once per [`crate::Sentinel`], and the session each TLS
//! connection carries between its reader and its writer.
//!
//! Behind the `tls` cargo feature (on by default); without it, a configuration asking for
//! TLS is refused with [`Error::TlsUnavailable`].

use crate::error::Error;
use bytes::Bytes;
use resp_sentinel_core::sentinel::{Config, PeerKind, TlsConfig, TlsFailure, TlsSide};
use std::sync::Arc;

#[cfg(feature = "tls")]
mod failure;
#[cfg(feature = "tls")]
mod session;
#[cfg(feature = "tls")]
mod settings;
#[cfg(feature = "tls")]
mod stream;
#[cfg(feature = "tls")]
pub use stream::BlockingTlsStream;

#[cfg(not(feature = "tls"))]
mod disabled;

#[cfg(not(feature = "tls"))]
pub(crate) use disabled::{Session, Step};
#[cfg(feature = "tls")]
pub(crate) use session::{Session, Step};

/// One side's ready-to-use TLS client.
#[derive(Clone)]
pub(crate) struct Connector {
    /// Whose settings these are.
    pub(crate) side: TlsSide,
    /// `None` when the settings could not be used: every handshake then fails with
    /// [`resp_sentinel_core::sentinel::TlsProblem::Setup`].
    #[cfg(feature = "tls")]
    pub(crate) client: Option<Arc<rustls::ClientConfig>>,
    /// The name verified instead of the dialled host, when configured.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) server_name: Option<String>,
}

/// The TLS clients of both sides, shared by every connection of every client made from one
/// `Sentinel`; `None` for a side that speaks plain TCP.
#[derive(Clone, Default)]
pub(crate) struct Tls {
    sentinel: Option<Connector>,
    data: Option<Connector>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("sentinel", &self.sentinel.is_some())
            .field("data", &self.data.is_some())
            .finish()
    }
}

impl Tls {
    /// Builds the TLS clients `config` asks for; files are read now, and a bad one is an error
    /// naming it.
    pub(crate) fn build(config: &Config) -> Result<Arc<Tls>, Error> {
        Ok(Arc::new(Tls {
            sentinel: connector(config.sentinel_tls.as_ref(), TlsSide::Sentinel)?,
            data: connector(config.tls.as_ref(), TlsSide::DataNode)?,
        }))
    }

    /// For a configuration [`Tls::build`] refused: the sides that asked for TLS fail every
    /// handshake (never falling back to plain TCP).
    pub(crate) fn unusable(config: &Config) -> Arc<Tls> {
        let broken = |c: Option<&TlsConfig>, side| {
            c.map(|c| Connector {
                side,
                #[cfg(feature = "tls")]
                client: None,
                server_name: c.server_name.clone(),
            })
        };
        Arc::new(Tls {
            sentinel: broken(config.sentinel_tls.as_ref(), TlsSide::Sentinel),
            data: broken(config.tls.as_ref(), TlsSide::DataNode),
        })
    }

    /// The TLS client for a connection of this kind; `None` means plain TCP.
    pub(crate) fn for_kind(&self, kind: PeerKind) -> Option<&Connector> {
        match TlsSide::of(kind) {
            TlsSide::Sentinel => self.sentinel.as_ref(),
            TlsSide::DataNode => self.data.as_ref(),
        }
    }
}

#[cfg(feature = "tls")]
fn connector(config: Option<&TlsConfig>, side: TlsSide) -> Result<Option<Connector>, Error> {
    let Some(c) = config else { return Ok(None) };
    let client = settings::client_config(c).map_err(|why| Error::TlsSetup { side, why })?;
    Ok(Some(Connector {
        side,
        client: Some(client),
        server_name: c.server_name.clone(),
    }))
}

#[cfg(not(feature = "tls"))]
fn connector(config: Option<&TlsConfig>, _side: TlsSide) -> Result<Option<Connector>, Error> {
    match config {
        None => Ok(None),
        Some(_) => Err(Error::TlsUnavailable),
    }
}

/// What bytes that arrived on a connection amount to.
pub(crate) enum Inbound {
    /// Data for the machine (possibly empty: TLS records that carried none).
    Data(Bytes),
    /// Data, then the peer closed the TLS session.
    DataThenClosed(Bytes),
    /// The TLS session failed (an alert from the server, a corrupt record).
    Failed(TlsFailure),
}

/// Bytes read from the socket, decrypted when the connection speaks TLS; when TLS has
/// bytes of its own to send, `nudge` gets an empty write so the writer flushes them.
pub(crate) fn inbound(
    session: Option<&Session>,
    raw: Bytes,
    nudge: &flume::WeakSender<Bytes>,
) -> Inbound {
    let Some(s) = session else {
        return Inbound::Data(raw);
    };
    match s.decrypt(&raw) {
        Ok(d) => {
            if d.wants_write {
                if let Some(w) = nudge.upgrade() {
                    let _ = w.send(Bytes::new());
                }
            }
            let plain = Bytes::from(d.plain);
            if d.closed {
                Inbound::DataThenClosed(plain)
            } else {
                Inbound::Data(plain)
            }
        }
        Err(f) => Inbound::Failed(f),
    }
}

/// What to write for `plain` (encrypted when the connection speaks TLS; an empty `plain`
/// flushes what TLS itself has pending).
pub(crate) fn outbound(session: Option<&Session>, plain: Bytes) -> std::io::Result<Bytes> {
    match session {
        None => Ok(plain),
        Some(s) => s.encrypt(&plain).map(Bytes::from),
    }
}

/// The last bytes to write before shutting the socket down (TLS's `close_notify`).
pub(crate) fn closing(session: Option<&Session>) -> Bytes {
    session.map_or_else(Bytes::new, |s| Bytes::from(s.close()))
}

#[cfg(all(test, feature = "tls"))]
mod tests;
