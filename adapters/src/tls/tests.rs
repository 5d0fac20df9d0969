//! The TLS split layer against an in-process rustls server, on the blocking and async drivers.

use crate::driver::{Link, Msg, Net, NetOptions};
use crate::tls::Tls;
use bytes::Bytes;
use resp_sentinel_core::sentinel::{
    Addr, ClientIdentity, Config, ConnId, PeerKind, Pem, Role, TlsConfig, TlsFailure, TlsProblem,
    TlsRoots, TlsSide,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// A CA and a certificate it signed for `localhost` and 127.0.0.1 (PEM), plus a client one.
struct Pki {
    ca: String,
    cert: String,
    key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    // Each CA its own name, as real ones have (same-named CAs would fail on the signature).
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, format!("test CA {n}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (cert, key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
    let (client_cert, client_key) = leaf(vec!["client".into()]);
    Pki {
        ca: ca.pem(),
        cert,
        key,
        client_cert,
        client_key,
    }
}

/// Serves one TLS connection on a thread: echoes what arrives; after the first message it asks
/// the client for a key update (which the client's writer must answer). With `client_ca`, the
/// server requires a client certificate from that CA.
fn echo_server(p: &Pki, client_ca: bool) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let chain = vec![CertificateDer::from_pem_slice(p.cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(p.key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client_ca {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(p.ca.as_bytes()).unwrap())
            .unwrap();
        let v = rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(v)
    } else {
        builder.with_no_client_auth()
    };
    let config = Arc::new(builder.with_single_cert(chain, key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut s = rustls::StreamOwned::new(conn, sock);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let mut first = true;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return got,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if s.write_all(&buf[..n]).is_err() {
                        return got;
                    }
                    if first {
                        first = false;
                        s.conn.refresh_traffic_keys().unwrap();
                        let _ = s.flush();
                    }
                }
            }
        }
    });
    (port, t)
}

fn tls_config(p: &Pki) -> TlsConfig {
    TlsConfig {
        roots: TlsRoots::Pem(Pem::Bytes(p.ca.clone().into_bytes())),
        ..TlsConfig::default()
    }
}

fn net_opts(data: TlsConfig) -> NetOptions {
    let mut c = Config::new(vec![], "svc");
    c.tls = Some(data);
    NetOptions {
        connect_timeout: Duration::from_secs(5),
        tls: Tls::build(&c).unwrap(),
        hub: None,
    }
}

const DATA: PeerKind = PeerKind::Data(Role::Master);

fn connect(
    net: &impl Net,
    port: u16,
    host: &str,
) -> (Result<Link, TlsFailure>, flume::Receiver<Msg>) {
    let (tx, rx) = flume::unbounded();
    net.open(ConnId(1), Addr::new(host, port), DATA, tx);
    let got = match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Msg::Connected(_, link)) => Ok(link),
        Ok(Msg::TlsFailed(_, why)) => Err(why),
        Ok(_) => panic!("expected Connected or TlsFailed"),
        Err(e) => panic!("no answer: {e:?}"),
    };
    (got, rx)
}

fn received(rx: &flume::Receiver<Msg>, want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < want {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Msg::Received(_, b)) => got.extend_from_slice(&b),
            Ok(Msg::Closed(_)) => panic!("closed after {got:?}"),
            Ok(Msg::TlsFailed(_, why)) => panic!("{why}"),
            Ok(_) => {}
            Err(e) => panic!("no data ({got:?}): {e:?}"),
        }
    }
    got
}

/// Echo through TLS, a server-requested key update in between, then close_notify.
fn echoes_through_a_key_update<N: Net>(net: impl Fn(TlsConfig) -> N) {
    let p = pki();
    let (port, server) = echo_server(&p, false);
    let net = net(tls_config(&p));
    let (link, rx) = connect(&net, port, "127.0.0.1");
    let link = link.expect("handshake");
    link.writer.send(Bytes::from_static(b"one"));
    assert_eq!(received(&rx, 3), b"one");
    link.writer.send(Bytes::from_static(b"two"));
    assert_eq!(received(&rx, 3), b"two");
    drop(link);
    // The server saw both messages (the second under the updated keys) and a clean end.
    assert_eq!(server.join().unwrap(), b"onetwo");
}

#[test]
fn blocking_echoes_through_a_key_update() {
    echoes_through_a_key_update(blocking);
}

fn blocking(config: TlsConfig) -> crate::runtime::threads::ThreadNet {
    crate::runtime::threads::ThreadNet {
        opts: net_opts(config),
        engine: std::sync::Weak::new(),
    }
}

#[cfg(feature = "smol")]
#[test]
fn smol_echoes_through_a_key_update() {
    // The CA differs per `pki()` call: build the client from the server's own PKI.
    let p = pki();
    let (port, server) = echo_server(&p, false);
    let net = crate::runtime::async_loop::AsyncNet::<crate::runtime::smol::Smol>::new(net_opts(
        tls_config(&p),
    ));
    let (link, rx) = connect(&net, port, "localhost");
    let link = link.expect("handshake");
    link.writer.send(Bytes::from_static(b"one"));
    assert_eq!(received(&rx, 3), b"one");
    link.writer.send(Bytes::from_static(b"two"));
    assert_eq!(received(&rx, 3), b"two");
    drop(link);
    assert_eq!(server.join().unwrap(), b"onetwo");
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_echoes_through_a_key_update() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let p = pki();
    let (port, server) = echo_server(&p, false);
    let net = crate::runtime::async_loop::AsyncNet::<crate::runtime::tokio::Tokio>::new(net_opts(
        tls_config(&p),
    ));
    let (link, rx) = connect(&net, port, "127.0.0.1");
    let link = link.expect("handshake");
    link.writer.send(Bytes::from_static(b"one"));
    assert_eq!(received(&rx, 3), b"one");
    link.writer.send(Bytes::from_static(b"two"));
    assert_eq!(received(&rx, 3), b"two");
    drop(link);
    assert_eq!(server.join().unwrap(), b"onetwo");
}

fn failure(problem: TlsProblem) -> TlsFailure {
    TlsFailure {
        side: TlsSide::DataNode,
        problem,
    }
}

#[test]
fn a_certificate_from_another_ca_is_an_unknown_issuer() {
    let (port, _server) = echo_server(&pki(), false);
    let (got, _rx) = connect(&blocking(tls_config(&pki())), port, "127.0.0.1");
    assert_eq!(got.err(), Some(failure(TlsProblem::UnknownIssuer)));
}

#[test]
fn a_name_the_certificate_lacks_is_a_mismatch_unless_hostnames_are_not_checked() {
    let p = pki();
    let (port, _server) = echo_server(&p, false);
    let mut c = tls_config(&p);
    c.server_name = Some("other.invalid".into());
    let (got, _rx) = connect(&blocking(c.clone()), port, "127.0.0.1");
    assert_eq!(got.err(), Some(failure(TlsProblem::NameMismatch)));
    // The dangerous switch skips the name check only: the same CA-signed certificate passes...
    let (port, _server) = echo_server(&p, false);
    c.danger_accept_any_hostname = true;
    let (got, _rx) = connect(&blocking(c.clone()), port, "127.0.0.1");
    assert!(got.is_ok());
    // ...but a certificate from another CA still fails.
    let (port, _server) = echo_server(&pki(), false);
    let (got, _rx) = connect(&blocking(c), port, "127.0.0.1");
    assert_eq!(got.err(), Some(failure(TlsProblem::UnknownIssuer)));
}

#[test]
fn a_server_requiring_a_client_certificate_says_so_and_accepts_ours() {
    let p = pki();
    let (port, _server) = echo_server(&p, true);
    // TLS 1.3: the client's handshake completes; the server's alert comes with the first read.
    let (got, rx) = connect(&blocking(tls_config(&p)), port, "127.0.0.1");
    let why = match got {
        Err(why) => why,
        Ok(link) => {
            link.writer.send(Bytes::from_static(b"x"));
            loop {
                match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                    Msg::TlsFailed(_, why) => break why,
                    Msg::Received(..) => panic!("data without a client certificate"),
                    Msg::Closed(_) => panic!("closed without saying why"),
                    _ => {}
                }
            }
        }
    };
    assert_eq!(why, failure(TlsProblem::ClientCertRequired));
    let (port, server) = echo_server(&p, true);
    let mut c = tls_config(&p);
    c.identity = Some(ClientIdentity {
        cert: Pem::Bytes(p.client_cert.clone().into_bytes()),
        key: Pem::Bytes(p.client_key.clone().into_bytes()),
    });
    let (link, rx) = connect(&blocking(c), port, "127.0.0.1");
    let link = link.expect("mutual TLS handshake");
    link.writer.send(Bytes::from_static(b"hi"));
    assert_eq!(received(&rx, 2), b"hi");
    drop(link);
    assert_eq!(server.join().unwrap(), b"hi");
}

#[test]
fn unusable_files_are_errors_naming_the_file_and_side() {
    let mut c = Config::new(vec![], "svc");
    c.sentinel_tls = Some(TlsConfig::with_ca_file("/nonexistent/ca.pem"));
    let err = Tls::build(&c).unwrap_err();
    let s = err.to_string();
    assert!(
        s.contains("/nonexistent/ca.pem") && s.contains("sentinel"),
        "{s}"
    );
    let p = pki();
    let mut t = tls_config(&p);
    t.identity = Some(ClientIdentity {
        cert: Pem::Bytes(p.client_cert.into_bytes()),
        key: Pem::Bytes(
            b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n".to_vec(),
        ),
    });
    let mut c = Config::new(vec![], "svc");
    c.tls = Some(t);
    let s = Tls::build(&c).unwrap_err().to_string();
    assert!(s.contains("client key") && s.contains("data node"), "{s}");
    assert!(!s.contains("c2VjcmV0"), "{s}");
}
