//! Direct requests to sentinels for what the client library does not do on a user's behalf:
//! `SENTINEL FAILOVER`, listing replicas, and watching every event.

use bytes::BytesMut;
use resp_sentinel_core::sentinel::{Addr, Credentials};
use resp_sentinel_core::{cmd, Cmd, Decoder, ErrorReply, Value};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// One blocking connection to a sentinel.
pub struct SentinelConn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
}

impl SentinelConn {
    /// Connects to `addr` and authenticates with `auth` if given.
    pub fn open(
        addr: &Addr,
        auth: Option<&Credentials>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let sa = (addr.host.as_str(), addr.port)
            .to_socket_addrs()
            .map_err(|e| format!("{addr}: {e}"))?
            .next()
            .ok_or_else(|| format!("{addr}: no address"))?;
        let stream =
            TcpStream::connect_timeout(&sa, timeout).map_err(|e| format!("{addr}: {e}"))?;
        stream
            .set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        let mut conn = SentinelConn {
            stream,
            buf: BytesMut::new(),
            decoder: Decoder::new(),
        };
        if let Some(c) = auth {
            let auth = match &c.username {
                Some(u) => cmd("AUTH").arg(u.as_str()).arg(c.password.as_str()),
                None => cmd("AUTH").arg(c.password.as_str()),
            };
            conn.call(&auth)
                .map_err(|e| format!("{addr}: sentinel authentication failed: {e}"))?;
        }
        Ok(conn)
    }

    /// Sends `c` and waits for its reply; an error reply is an `Err` (as the core's
    /// [`ErrorReply`] prints it: escaped, length-capped).
    pub fn call(&mut self, c: &Cmd) -> Result<Value, String> {
        self.stream
            .write_all(&c.to_bytes())
            .map_err(|e| e.to_string())?;
        let v = self.next_value(None)?;
        match ErrorReply::from_value(&v) {
            Some(e) => Err(e.to_string()),
            None => Ok(v),
        }
    }

    /// The next value the sentinel sends (for subscriptions), waiting up to `timeout` if given.
    pub fn next_value(&mut self, timeout: Option<Duration>) -> Result<Value, String> {
        if timeout.is_some() {
            let _ = self.stream.set_read_timeout(timeout);
        }
        loop {
            if let Some(v) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(|e| e.to_string())?
            {
                return Ok(v);
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed by sentinel".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Asks the sentinels to fail `service` over, from the last to the first, so the failover is
/// led by a sentinel the client did not ask first; returns the one that accepted.
pub fn trigger_failover(
    sentinels: &[Addr],
    auth: Option<&Credentials>,
    service: &str,
) -> Result<Addr, String> {
    let mut why = Vec::new();
    for s in sentinels.iter().rev() {
        match SentinelConn::open(s, auth, Duration::from_secs(2))
            .and_then(|mut c| c.call(&cmd("SENTINEL").arg("FAILOVER").arg(service)))
        {
            Ok(_) => return Ok(s.clone()),
            Err(e) => why.push(format!("{s}: {e}")),
        }
    }
    Err(format!(
        "no sentinel accepted SENTINEL FAILOVER: {}",
        why.join("; ")
    ))
}
