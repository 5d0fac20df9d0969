//! Direct requests to sentinels for what the client library does not do on a user's behalf:
//! `SENTINEL FAILOVER`, listing replicas, and watching every event.
//!
//! Every error names the sentinel (`timed out after 500 ms talking to sentinel 10.0.0.1:26379`)
//! and says what went wrong in words, not as a bare OS error.

use crate::escape::escape_bytes;
use bytes::BytesMut;
use resp_sentinel_core::sentinel::{Addr, Config, Credentials, TlsConfig, TlsSide};
use resp_sentinel_core::{cmd, Cmd, Decoder, ErrorReply, Value};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How to reach the sentinels: their credentials and TLS settings.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// Sentinel credentials.
    pub auth: Option<Credentials>,
    /// TLS to sentinels, when they speak it.
    pub tls: Option<TlsConfig>,
}

impl Access {
    /// What `config` says about the sentinels.
    pub fn of(config: &Config) -> Access {
        Access {
            auth: config.sentinel_auth.clone(),
            tls: config.sentinel_tls.clone(),
        }
    }
}

/// A sentinel connection's bytes: plain TCP or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<resp_sentinel::tls::BlockingTlsStream>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.tcp(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

/// One blocking connection to a sentinel.
pub struct SentinelConn {
    addr: Addr,
    stream: Stream,
    /// The read timeout in force, for messages.
    timeout: Duration,
    buf: BytesMut,
    decoder: Decoder,
}

impl SentinelConn {
    /// Connects to `addr` (over TLS when `access` says so) and authenticates if `access` has
    /// credentials; `timeout` bounds the connect, the handshake and every reply.
    pub fn open(addr: &Addr, access: &Access, timeout: Duration) -> Result<Self, String> {
        let sa = (addr.host.as_str(), addr.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve sentinel {addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("cannot resolve sentinel {addr}: no address"))?;
        tracing::debug!(sentinel = %addr, "connecting");
        let stream = TcpStream::connect_timeout(&sa, timeout)
            .map_err(|e| io_text(&e, timeout, "connecting to", addr))?;
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| format!("sentinel {addr}: {e}"))?;
        let stream = match &access.tls {
            None => Stream::Plain(stream),
            Some(tls) => Stream::Tls(Box::new(
                resp_sentinel::tls::BlockingTlsStream::connect(
                    stream,
                    &addr.host,
                    TlsSide::Sentinel,
                    tls,
                )
                .map_err(|e| format!("sentinel {addr}: {e}"))?,
            )),
        };
        let mut conn = SentinelConn {
            addr: addr.clone(),
            stream,
            timeout,
            buf: BytesMut::new(),
            // Sentinel replies are kilobytes: a sentinel sending more is cut off well short of
            // the data-node limit.
            decoder: Decoder::with_limits(resp_sentinel_core::Limits {
                max_frame_len: 64 << 20,
                ..resp_sentinel_core::Limits::default()
            }),
        };
        if let Some(c) = &access.auth {
            let auth = match &c.username {
                Some(u) => cmd("AUTH").arg(u.as_str()).arg(c.password.as_str()),
                None => cmd("AUTH").arg(c.password.as_str()),
            };
            conn.call(&auth)
                .map_err(|e| format!("authentication failed: {e}"))?;
        }
        Ok(conn)
    }

    /// Sends `c` and waits for its reply; an error reply is an `Err` (as the core's
    /// [`ErrorReply`] prints it: escaped, length-capped).
    pub fn call(&mut self, c: &Cmd) -> Result<Value, String> {
        self.stream
            .write_all(&c.to_bytes())
            .map_err(|e| io_text(&e, self.timeout, "sending to", &self.addr))?;
        let v = self.next_value(None)?;
        match ErrorReply::from_value(&v) {
            Some(e) => Err(format!("sentinel {} replied with an error: {e}", self.addr)),
            None => Ok(v),
        }
    }

    /// The next value the sentinel sends (for subscriptions), waiting up to `timeout` if given.
    pub fn next_value(&mut self, timeout: Option<Duration>) -> Result<Value, String> {
        if let Some(t) = timeout {
            if self.stream.tcp().set_read_timeout(Some(t)).is_ok() {
                self.timeout = t;
            }
        }
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => {
                    return Err(format!(
                        "sentinel {} sent something that is not RESP ({e})",
                        self.addr
                    ))
                }
            }
            let mut chunk = [0u8; 8192];
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| io_text(&e, self.timeout, "talking to", &self.addr))?;
            if n == 0 {
                return Err(format!("sentinel {} closed the connection", self.addr));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// An I/O error in words, naming the sentinel: `timed out after 500 ms talking to sentinel
/// h:p`, `error connecting to sentinel h:p: connection refused`... `doing` is `connecting to`,
/// `sending to` or `talking to`.
fn io_text(e: &io::Error, timeout: Duration, doing: &str, addr: &Addr) -> String {
    use io::ErrorKind::*;
    let what = match e.kind() {
        WouldBlock | TimedOut => {
            return format!(
                "timed out after {} ms {doing} sentinel {addr}",
                timeout.as_millis()
            )
        }
        ConnectionRefused => "connection refused (is a sentinel listening there?)".into(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
            "the connection was lost".into()
        }
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        AddrNotAvailable => "address not available".into(),
        PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    };
    format!("error {doing} sentinel {addr}: {what}")
}

/// A short, escaped description of a reply, for messages about unexpected ones.
pub fn describe(v: &Value) -> String {
    fn cut(b: &[u8]) -> String {
        escape_bytes(&b[..b.len().min(60)])
    }
    match v {
        Value::SimpleString(b) | Value::Bulk(b) => format!("the string `{}`", cut(b)),
        Value::Error(b) | Value::BlobError(b) => format!("the error `{}`", cut(b)),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Null => "null".into(),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Map(m) => format!("a map of {}", m.len()),
        _ => "an unexpected reply type".into(),
    }
}

/// Asks the sentinels to fail `service` over, from the last to the first, so the failover is
/// led by a sentinel the client did not ask first; returns the one that accepted. With
/// `coordinated`, asks for `SENTINEL FAILOVER <service> COORDINATED` (Valkey 9.1 and later:
/// the old master hands over with `FAILOVER TO`, pausing writes until the replica caught up).
pub fn trigger_failover(
    sentinels: &[Addr],
    access: &Access,
    service: &str,
    coordinated: bool,
) -> Result<Addr, String> {
    let mut why = Vec::new();
    for s in sentinels.iter().rev() {
        let mut c = cmd("SENTINEL").arg("FAILOVER").arg(service);
        if coordinated {
            c = c.arg("COORDINATED");
        }
        match SentinelConn::open(s, access, Duration::from_secs(2))
            .and_then(|mut conn| conn.call(&c))
        {
            Ok(_) => return Ok(s.clone()),
            Err(e) => why.push(e),
        }
    }
    Err(format!(
        "no sentinel accepted SENTINEL FAILOVER: {}",
        why.join("; ")
    ))
}
