//! One TLS connection split between a reader and a writer, written once for every runtime.
//!
//! The socket stays split in raw halves; the rustls state sits behind a mutex that is held only
//! for in-memory work, never across a read, a write or an await:
//!
//! - the connecting task drives the handshake with [`Session::step`] while it still owns both
//!   halves, before the connection is reported open;
//! - the reader reads ciphertext outside the lock, then [`Session::decrypt`] turns it into
//!   plaintext (and says whether TLS itself has something to send, e.g. a key update answer,
//!   for the writer to flush);
//! - the writer encrypts with [`Session::encrypt`] and writes the ciphertext outside the lock;
//!   [`Session::close`] gives the `close_notify` alert to write before shutting down.

use super::failure::problem;
use super::Connector;
use resp_sentinel_core::sentinel::{TlsFailure, TlsProblem};
use rustls::pki_types::ServerName;
use rustls::ClientConnection;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// The TLS state of one connection, shared by its reader and writer.
#[derive(Clone)]
pub(crate) struct Session {
    inner: Arc<Mutex<Inner>>,
    side: resp_sentinel_core::sentinel::TlsSide,
    /// A client certificate is configured (tells a refused one from a missing one).
    has_identity: bool,
}

/// What the mutex guards.
struct Inner {
    conn: ClientConnection,
    /// Plaintext that arrived with the end of the handshake, for the reader.
    early: Vec<u8>,
}

/// What the handshake needs next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Write these bytes, then call [`Session::step`] again.
    Write(Vec<u8>),
    /// Read from the socket and pass the bytes to [`Session::handshake_input`].
    Read,
    /// The handshake is complete: the connection may be reported open.
    Done,
}

/// Plaintext out of ciphertext that arrived.
#[derive(Debug, Default)]
pub(crate) struct Decrypted {
    /// Application data, in order.
    pub(crate) plain: Vec<u8>,
    /// TLS has bytes of its own to send (the writer should flush them).
    pub(crate) wants_write: bool,
    /// The peer sent `close_notify`: no more data will come.
    pub(crate) closed: bool,
}

impl Connector {
    /// A new client session for a connection to `host` (or to the configured server name).
    pub(crate) fn start(&self, host: &str) -> Result<Session, TlsFailure> {
        let conn = self.connection(host)?;
        Ok(Session {
            inner: Arc::new(Mutex::new(Inner {
                conn,
                early: Vec::new(),
            })),
            side: self.side,
            has_identity: self.has_identity(),
        })
    }

    /// A rustls client connection to `host` (or to the configured server name).
    pub(crate) fn connection(&self, host: &str) -> Result<ClientConnection, TlsFailure> {
        let fail = |problem| TlsFailure {
            side: self.side,
            problem,
        };
        let client = self.client.as_ref().ok_or(fail(TlsProblem::Setup))?;
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = ServerName::try_from(name.to_owned()).map_err(|_| fail(TlsProblem::Setup))?;
        ClientConnection::new(client.clone(), name).map_err(|_| fail(TlsProblem::Setup))
    }

    /// A client certificate is configured (tells a refused one from a missing one).
    pub(crate) fn has_identity(&self) -> bool {
        self.client
            .as_ref()
            .is_some_and(|c| c.client_auth_cert_resolver.has_certs())
    }
}

impl Session {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing under the lock panics on input; were it poisoned, rustls's state is still
        // the best there is.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The failure a rustls error means for this session.
    pub(crate) fn failure(&self, e: &rustls::Error) -> TlsFailure {
        TlsFailure {
            side: self.side,
            problem: problem(e, self.has_identity),
        }
    }

    /// The next handshake step.
    pub(crate) fn step(&self) -> Step {
        let c = &mut self.lock().conn;
        if c.wants_write() {
            return Step::Write(drain(c));
        }
        if c.is_handshaking() {
            Step::Read
        } else {
            Step::Done
        }
    }

    /// Bytes read during the handshake (`data` empty: the peer closed). Plaintext that
    /// arrives with the last handshake bytes is kept for the reader's first [`Session::decrypt`].
    pub(crate) fn handshake_input(&self, data: &[u8]) -> Result<(), TlsFailure> {
        if data.is_empty() {
            return Err(TlsFailure {
                side: self.side,
                problem: TlsProblem::Handshake,
            });
        }
        let mut early = Decrypted::default();
        let mut c = self.lock();
        feed(&mut c.conn, data, &mut early).map_err(|e| self.failure(&e))?;
        c.early.extend_from_slice(&early.plain);
        Ok(())
    }

    /// Ciphertext that arrived, as plaintext.
    pub(crate) fn decrypt(&self, data: &[u8]) -> Result<Decrypted, TlsFailure> {
        let mut c = self.lock();
        let mut out = Decrypted {
            plain: std::mem::take(&mut c.early),
            ..Decrypted::default()
        };
        feed(&mut c.conn, data, &mut out).map_err(|e| self.failure(&e))?;
        out.wants_write = c.conn.wants_write();
        Ok(out)
    }

    /// `plain` encrypted (possibly with TLS's own pending bytes first); `plain` may be empty.
    pub(crate) fn encrypt(&self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let c = &mut self.lock().conn;
        if !plain.is_empty() {
            c.writer().write_all(plain)?;
        }
        Ok(drain(c))
    }

    /// The `close_notify` alert (and anything still pending), to write before shutting down.
    pub(crate) fn close(&self) -> Vec<u8> {
        let c = &mut self.lock().conn;
        c.send_close_notify();
        drain(c)
    }
}

/// Hands `data` to rustls, in as many pieces as its buffers take, collecting the plaintext.
fn feed(
    c: &mut ClientConnection,
    mut data: &[u8],
    out: &mut Decrypted,
) -> Result<(), rustls::Error> {
    loop {
        let took = c.read_tls(&mut data);
        c.process_new_packets()?;
        let drained = take_plain(c, out);
        match took {
            Ok(_) if data.is_empty() => return Ok(()),
            Ok(_) => {}
            // A full buffer that draining did not relieve would loop forever.
            Err(_) if drained == 0 => {
                return Err(rustls::Error::General("TLS receive buffer stuck".into()))
            }
            Err(_) => {}
        }
    }
}

/// Moves the plaintext rustls holds into `out`; returns how many bytes.
fn take_plain(c: &mut ClientConnection, out: &mut Decrypted) -> usize {
    let before = out.plain.len();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match c.reader().read(&mut buf) {
            Ok(0) => {
                out.closed = true;
                break;
            }
            Ok(n) => out.plain.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // The peer closed without `close_notify`: treated as closed.
            Err(_) => {
                out.closed = true;
                break;
            }
        }
    }
    out.plain.len() - before
}

/// Everything rustls wants to send.
fn drain(c: &mut ClientConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while c.wants_write() {
        if c.write_tls(&mut out).is_err() {
            break;
        }
    }
    out
}
