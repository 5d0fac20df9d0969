//! Stand-ins for a build without the `tls` feature: no [`Session`] can exist, because a
//! configuration asking for TLS is refused when the client is built.

use super::Connector;
use resp_sentinel_core::sentinel::{TlsFailure, TlsProblem};

/// No TLS session can be made in this build.
#[derive(Clone)]
pub(crate) enum Session {}

/// The handshake's next step (never asked for in this build).
#[allow(dead_code)]
pub(crate) enum Step {
    /// Write these bytes.
    Write(Vec<u8>),
    /// Read more.
    Read,
    /// Done.
    Done,
}

/// Decrypted bytes (never produced in this build).
pub(crate) struct Decrypted {
    pub(crate) plain: Vec<u8>,
    pub(crate) wants_write: bool,
    pub(crate) closed: bool,
}

impl Connector {
    /// Always fails: TLS is not built in.
    pub(crate) fn start(&self, _host: &str) -> Result<Session, TlsFailure> {
        Err(TlsFailure {
            side: self.side,
            problem: TlsProblem::Setup,
        })
    }
}

impl Session {
    pub(crate) fn step(&self) -> Step {
        match *self {}
    }
    pub(crate) fn handshake_input(&self, _data: &[u8]) -> Result<(), TlsFailure> {
        match *self {}
    }
    pub(crate) fn decrypt(&self, _data: &[u8]) -> Result<Decrypted, TlsFailure> {
        match *self {}
    }
    pub(crate) fn encrypt(&self, _plain: &[u8]) -> std::io::Result<Vec<u8>> {
        match *self {}
    }
    pub(crate) fn close(&self) -> Vec<u8> {
        match *self {}
    }
}
