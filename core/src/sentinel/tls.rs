//! TLS settings and TLS failures, as plain data: the core never touches a certificate; the
//! adapter builds its TLS client from these and reports what went wrong in these terms.

use super::interface::PeerKind;
use std::fmt;
use std::path::PathBuf;

/// PEM text, from a file or given in memory. `Debug` shows a file's path but never PEM bytes.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file holding PEM text (read once, when the client is built).
    File(PathBuf),
    /// PEM text itself.
    Bytes(Vec<u8>),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(p) => f.debug_tuple("File").field(p).finish(),
            Pem::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
        }
    }
}

/// Which certificate authorities a server's certificate must chain to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum TlsRoots {
    /// The system's roots, found as `rustls-native-certs` finds them (so `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` are honoured).
    #[default]
    System,
    /// Only the certificates in this PEM (a CA bundle), instead of the system's.
    Pem(Pem),
}

/// A client certificate chain and its private key, for servers that require one
/// (`tls-auth-clients yes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub cert: Pem,
    /// The private key (PKCS#8, PKCS#1 or SEC1 PEM).
    pub key: Pem,
}

/// How to speak TLS to one side (sentinels, or data nodes).
///
/// The server's certificate is always verified against `roots`, and by default its name
/// against the host the client dials (an IP address against the certificate's IP SANs).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// Certificate authorities to trust.
    pub roots: TlsRoots,
    /// A client certificate for mutual TLS.
    pub identity: Option<ClientIdentity>,
    /// The name to verify the server's certificate against, instead of the dialled host (e.g.
    /// one DNS name on every node's certificate while Sentinel announces IP addresses).
    pub server_name: Option<String>,
    /// **Dangerous**: accept a certificate issued for any name. The chain, the validity
    /// period and the signatures are still checked against `roots`; only the name check is
    /// skipped. Anyone holding a certificate from one of those authorities can then pose as
    /// the server. Meant for deployments whose certificates name neither the addresses
    /// Sentinel announces nor one common name.
    pub danger_accept_any_hostname: bool,
}

impl TlsConfig {
    /// Trust only the CA certificates in the PEM file at `path`.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> TlsConfig {
        TlsConfig {
            roots: TlsRoots::Pem(Pem::File(path.into())),
            ..TlsConfig::default()
        }
    }
}

/// Which side a TLS setting or failure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsSide {
    /// Connections to sentinels ([`super::Config::sentinel_tls`]).
    Sentinel,
    /// Connections to masters and replicas ([`super::Config::tls`]).
    DataNode,
}

impl TlsSide {
    /// The side a connection of this kind is on.
    pub fn of(kind: PeerKind) -> TlsSide {
        match kind {
            PeerKind::Sentinel | PeerKind::SentinelSubscriber => TlsSide::Sentinel,
            _ => TlsSide::DataNode,
        }
    }
}

impl fmt::Display for TlsSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsSide::Sentinel => "sentinel",
            TlsSide::DataNode => "data node",
        })
    }
}

/// What went wrong in a TLS handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate does not chain to a trusted authority (wrong CA?).
    UnknownIssuer,
    /// The server's certificate is not valid for the name (or IP address) verified.
    NameMismatch,
    /// The server's certificate has expired.
    Expired,
    /// The server's certificate is not valid yet.
    NotYetValid,
    /// The server's certificate was revoked.
    Revoked,
    /// The server's certificate is unusable for another reason (bad signature, wrong usage...).
    BadCertificate,
    /// The server requires a client certificate and none was configured.
    ClientCertRequired,
    /// The server refused the client certificate offered.
    ClientCertRejected,
    /// The server did not answer in TLS (a plain-text port?).
    NotTls,
    /// The handshake failed otherwise (no common protocol version or cipher, an alert...).
    Handshake,
    /// The client could not set TLS up (its settings were refused when the client was built,
    /// or the adapter was built without its `tls` feature).
    Setup,
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsProblem::UnknownIssuer => {
                "certificate signed by an unknown issuer (not one of the trusted CAs)"
            }
            TlsProblem::NameMismatch => "certificate not valid for the name verified",
            TlsProblem::Expired => "certificate expired",
            TlsProblem::NotYetValid => "certificate not yet valid",
            TlsProblem::Revoked => "certificate revoked",
            TlsProblem::BadCertificate => "certificate unusable",
            TlsProblem::ClientCertRequired => {
                "the server requires a client certificate and none is configured"
            }
            TlsProblem::ClientCertRejected => "the server refused our client certificate",
            TlsProblem::NotTls => "the server does not speak TLS there",
            TlsProblem::Handshake => "handshake failed",
            TlsProblem::Setup => "TLS could not be set up (see the client's build error)",
        })
    }
}

/// A TLS handshake that failed: on which side, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TlsFailure {
    /// Sentinel or data node.
    pub side: TlsSide,
    /// What went wrong.
    pub problem: TlsProblem,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS to {} failed: {}", self.side, self.problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::Role;

    #[test]
    fn debug_never_shows_pem_bytes() {
        let id = ClientIdentity {
            cert: Pem::File("/etc/client.pem".into()),
            key: Pem::Bytes(b"-----BEGIN PRIVATE KEY-----secret".to_vec()),
        };
        let d = format!("{id:?}");
        assert!(d.contains("/etc/client.pem"), "{d}");
        assert!(!d.contains("secret") && !d.contains("BEGIN"), "{d}");
    }

    #[test]
    fn failures_name_side_and_problem() {
        let f = TlsFailure {
            side: TlsSide::of(PeerKind::SentinelSubscriber),
            problem: TlsProblem::UnknownIssuer,
        };
        assert_eq!(
            f.to_string(),
            "TLS to sentinel failed: certificate signed by an unknown issuer (not one of the trusted CAs)"
        );
        assert_eq!(
            TlsSide::of(PeerKind::DataBlocking(Role::Replica)),
            TlsSide::DataNode
        );
    }
}
