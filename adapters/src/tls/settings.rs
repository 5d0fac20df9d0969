//! From the core's [`TlsConfig`] to a rustls client configuration (ring provider).

use resp_sentinel_core::sentinel::{ClientIdentity, Pem, TlsConfig, TlsRoots};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::sync::Arc;

/// The rustls client for `c`; the error names the file or setting at fault, never key bytes.
pub(crate) fn client_config(c: &TlsConfig) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(roots(&c.roots)?);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("no usable TLS versions: {e}"))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| format!("unusable CA certificates: {e}"))?;
    let builder = if c.danger_accept_any_hostname {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyHostname(verifier)))
    } else {
        builder.with_webpki_verifier(verifier)
    };
    let config = match &c.identity {
        None => builder.with_no_client_auth(),
        Some(id) => {
            let (chain, key) = identity(id)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client key unusable, or not the client certificate's: {e}"))?
        }
    };
    Ok(Arc::new(config))
}

/// A PEM source's bytes, and how to name it in errors.
fn read(pem: &Pem, what: &str) -> Result<(Vec<u8>, String), String> {
    match pem {
        Pem::File(path) => {
            let name = format!("{what} file {}", path.display());
            std::fs::read(path)
                .map(|b| (b, name.clone()))
                .map_err(|e| format!("cannot read {name}: {e}"))
        }
        Pem::Bytes(b) => Ok((b.clone(), format!("{what} PEM"))),
    }
}

fn roots(r: &TlsRoots) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match r {
        TlsRoots::System => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // One odd system certificate must not make every other one unusable.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "none found".into());
                return Err(format!(
                    "no system root certificates ({why}); set a CA file"
                ));
            }
        }
        TlsRoots::Pem(pem) => {
            let (bytes, name) = read(pem, "CA")?;
            for cert in CertificateDer::pem_slice_iter(&bytes) {
                let cert = cert.map_err(|e| format!("{name} is not valid PEM: {e}"))?;
                store
                    .add(cert)
                    .map_err(|e| format!("{name} holds an unusable certificate: {e}"))?;
            }
            if store.is_empty() {
                return Err(format!("{name} holds no certificate"));
            }
        }
    }
    Ok(store)
}

type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn identity(id: &ClientIdentity) -> Result<Identity, String> {
    let (bytes, name) = read(&id.cert, "client certificate")?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name} is not valid PEM: {e}"))?;
    if chain.is_empty() {
        return Err(format!("{name} holds no certificate"));
    }
    let (bytes, name) = read(&id.key, "client key")?;
    // The parser's error could quote key material: say only what is wrong.
    let key = PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|_| format!("{name} holds no usable private key (PKCS#8, PKCS#1 or SEC1 PEM)"))?;
    Ok((chain, key))
}

/// Verifies the chain like the default verifier and accepts a name mismatch (only that):
/// `danger_accept_any_hostname`.
#[derive(Debug)]
struct AnyHostname(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The default verifier checks the chain (issuer, validity, usage) before the name, so
        // a name error means everything else passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
