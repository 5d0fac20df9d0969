//! What a rustls error means, in the core's terms.

use resp_sentinel_core::sentinel::TlsProblem;
use rustls::{AlertDescription, CertificateError, Error};

/// The problem behind `e`; `has_identity` tells whether we offered a client certificate.
pub(crate) fn problem(e: &Error, has_identity: bool) -> TlsProblem {
    match e {
        Error::InvalidCertificate(c) => certificate(c),
        Error::AlertReceived(a) => alert(*a, has_identity),
        Error::InvalidMessage(_)
        | Error::InappropriateMessage { .. }
        | Error::InappropriateHandshakeMessage { .. } => TlsProblem::NotTls,
        _ => TlsProblem::Handshake,
    }
}

fn certificate(c: &CertificateError) -> TlsProblem {
    match c {
        CertificateError::UnknownIssuer => TlsProblem::UnknownIssuer,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            TlsProblem::NameMismatch
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsProblem::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            TlsProblem::NotYetValid
        }
        CertificateError::Revoked => TlsProblem::Revoked,
        _ => TlsProblem::BadCertificate,
    }
}

/// An alert from the server: about our certificate, or a plain handshake failure.
fn alert(a: AlertDescription, has_identity: bool) -> TlsProblem {
    match a {
        AlertDescription::CertificateRequired => TlsProblem::ClientCertRequired,
        AlertDescription::BadCertificate
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateRevoked
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateUnknown
        | AlertDescription::UnknownCA
        | AlertDescription::AccessDenied => {
            if has_identity {
                TlsProblem::ClientCertRejected
            } else {
                TlsProblem::ClientCertRequired
            }
        }
        _ => TlsProblem::Handshake,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_and_alerts_map_to_problems() {
        let cert = |c| problem(&Error::InvalidCertificate(c), false);
        assert_eq!(
            cert(CertificateError::UnknownIssuer),
            TlsProblem::UnknownIssuer
        );
        assert_eq!(
            cert(CertificateError::NotValidForName),
            TlsProblem::NameMismatch
        );
        assert_eq!(cert(CertificateError::Expired), TlsProblem::Expired);
        assert_eq!(
            cert(CertificateError::BadSignature),
            TlsProblem::BadCertificate
        );
        let alert = |a, id| problem(&Error::AlertReceived(a), id);
        assert_eq!(
            alert(AlertDescription::CertificateRequired, false),
            TlsProblem::ClientCertRequired
        );
        assert_eq!(
            alert(AlertDescription::UnknownCA, true),
            TlsProblem::ClientCertRejected
        );
        assert_eq!(
            problem(
                &Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
                false
            ),
            TlsProblem::NotTls
        );
    }
}
