//! Certificates for TLS topologies, generated per topology: a CA, one certificate for every
//! node (DNS `localhost`, IP 127.0.0.1; also used by nodes as their client certificate), a
//! client certificate, and an unrelated CA for "wrong CA" tests.

use crate::error::HarnessError;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a topology's certificate files are (all PEM).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA every node's and the client's certificate chain to.
    pub ca: PathBuf,
    /// The nodes' certificate (`localhost`, 127.0.0.1).
    pub node_cert: PathBuf,
    /// Its key.
    pub node_key: PathBuf,
    /// A client certificate from the same CA (for `tls-auth-clients yes`).
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// A CA that signed none of these (a client trusting it must fail).
    pub other_ca: PathBuf,
}

fn err(what: &str, e: impl std::fmt::Display) -> HarnessError {
    HarnessError::InvalidState(format!("generating TLS certificates: {what}: {e}"))
}

fn ca(name: &str) -> Result<(rcgen::Certificate, KeyPair), HarnessError> {
    let key = KeyPair::generate().map_err(|e| err("CA key", e))?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| err("CA", e))?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = p.self_signed(&key).map_err(|e| err("CA", e))?;
    Ok((cert, key))
}

impl TlsFiles {
    /// Generates everything into `dir`.
    pub(crate) fn generate(dir: &Path) -> Result<TlsFiles, HarnessError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| HarnessError::io(format!("creating {}", dir.display()), e))?;
        let (ca_cert, ca_key) = ca("resp-sentinel test CA")?;
        let (other, _) = ca("resp-sentinel unrelated CA")?;
        let leaf = |names: Vec<String>, cn: &str| -> Result<(String, String), HarnessError> {
            let key = KeyPair::generate().map_err(|e| err("key", e))?;
            let mut p = CertificateParams::new(names).map_err(|e| err(cn, e))?;
            p.distinguished_name.push(DnType::CommonName, cn);
            let cert = p
                .signed_by(&key, &ca_cert, &ca_key)
                .map_err(|e| err(cn, e))?;
            Ok((cert.pem(), key.serialize_pem()))
        };
        let (node_cert, node_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "node")?;
        let (client_cert, client_key) = leaf(vec!["client".into()], "client")?;
        let files = TlsFiles {
            ca: dir.join("ca.pem"),
            node_cert: dir.join("node.pem"),
            node_key: dir.join("node.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
            other_ca: dir.join("other-ca.pem"),
        };
        for (path, text) in [
            (&files.ca, ca_cert.pem()),
            (&files.node_cert, node_cert),
            (&files.node_key, node_key),
            (&files.client_cert, client_cert),
            (&files.client_key, client_key),
            (&files.other_ca, other.pem()),
        ] {
            std::fs::write(path, text)
                .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
        }
        Ok(files)
    }

    /// The harness's own TLS client: trusts the CA, presents the client certificate.
    pub(crate) fn admin_client(&self) -> Result<Arc<rustls::ClientConfig>, HarnessError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| HarnessError::io(format!("reading {}", p.display()), e))
        };
        let mut roots = rustls::RootCertStore::empty();
        let ca = CertificateDer::from_pem_slice(&read(&self.ca)?).map_err(|e| err("CA", e))?;
        roots.add(ca).map_err(|e| err("CA", e))?;
        let chain = vec![CertificateDer::from_pem_slice(&read(&self.client_cert)?)
            .map_err(|e| err("client certificate", e))?];
        let key = PrivateKeyDer::from_pem_slice(&read(&self.client_key)?)
            .map_err(|e| err("client key", e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err("TLS versions", e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| err("client certificate", e))?;
        Ok(Arc::new(config))
    }
}
