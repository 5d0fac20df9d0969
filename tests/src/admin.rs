//! A minimal blocking RESP2 client for administering nodes (ROLE, INFO, SENTINEL ...).
//!
//! Commands are encoded with the core's [`resp_sentinel_core::cmd`]; replies are read by a small
//! bounded reader kept here on purpose: the harness checks the client under test, so it must not
//! depend on the decoder under test. Every read is bounded (line length, bulk length, element
//! count, nesting depth) and memory grows only with bytes that actually arrive.

use resp_sentinel_core::cmd;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const MAX_LINE: u64 = 64 * 1024;
const MAX_BULK: usize = 64 * 1024 * 1024;
const MAX_ELEMENTS: usize = 1 << 20;
const MAX_DEPTH: usize = 16;
/// Elements reserved up front at most, whatever count the peer announces.
const PREALLOC: usize = 64;

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK` style status.
    Status(String),
    /// `-ERR ...` error reply (the whole line after `-`).
    Error(String),
    /// `:123` integer.
    Int(i64),
    /// `$n` bulk string.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`.
    Nil,
    /// `*n` array.
    Array(Vec<Reply>),
}

impl Reply {
    /// Text of a status or bulk reply (bulk must be UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reply::Status(s) => Some(s),
            Reply::Bulk(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// An integer reply, or a status/bulk reply holding a decimal integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            _ => self.as_str()?.parse().ok(),
        }
    }

    /// Elements of an array reply.
    pub fn as_array(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(v) => Some(v),
            _ => None,
        }
    }

    /// A flat `[k1, v1, k2, v2 ...]` array (as `SENTINEL replicas` entries) as pairs.
    pub fn as_pairs(&self) -> Option<Vec<(&str, &str)>> {
        let a = self.as_array()?;
        if a.len() % 2 != 0 {
            return None;
        }
        a.chunks(2)
            .map(|kv| Some((kv[0].as_str()?, kv[1].as_str()?)))
            .collect()
    }

    /// The value under `key` in a flat key/value array.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.as_pairs()?
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// Why an admin call failed.
#[derive(Debug)]
pub enum AdminError {
    /// Connecting, reading or writing failed (including timeouts).
    Io(io::Error),
    /// The peer sent something that is not RESP2 within our limits.
    Protocol(String),
    /// The server answered with an error reply.
    Server(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Io(e) => write!(f, "i/o error: {e}"),
            AdminError::Protocol(m) => write!(f, "protocol error: {m}"),
            AdminError::Server(m) => write!(f, "error reply: {m}"),
        }
    }
}

impl From<io::Error> for AdminError {
    fn from(e: io::Error) -> AdminError {
        AdminError::Io(e)
    }
}

/// A plain or TLS byte stream.
trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One connection to a node.
pub struct AdminConn {
    reader: BufReader<Box<dyn Stream>>,
}

impl AdminConn {
    /// Connects with `timeout` for the connect and for each read/write.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<AdminConn, AdminError> {
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        Ok(AdminConn {
            reader: BufReader::new(Box::new(s)),
        })
    }

    /// [`AdminConn::connect`] over TLS with the harness's client (the handshake happens
    /// with the first command).
    pub fn connect_tls(
        addr: SocketAddr,
        timeout: Duration,
        client: std::sync::Arc<rustls::ClientConfig>,
    ) -> Result<AdminConn, AdminError> {
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let conn = rustls::ClientConnection::new(client, name)
            .map_err(|e| AdminError::Io(io::Error::other(e)))?;
        Ok(AdminConn {
            reader: BufReader::new(Box::new(rustls::StreamOwned::new(conn, s))),
        })
    }

    /// Sends `AUTH [user] password`; an error reply becomes [`AdminError::Server`].
    pub fn auth(&mut self, user: Option<&str>, password: &str) -> Result<(), AdminError> {
        let c = match user {
            Some(u) => cmd("AUTH").arg(u).arg(password),
            None => cmd("AUTH").arg(password),
        };
        self.reader.get_mut().write_all(&c.to_bytes())?;
        match read_reply(&mut self.reader)? {
            Reply::Error(e) => Err(AdminError::Server(e)),
            _ => Ok(()),
        }
    }

    /// Sends one command and reads its reply; error replies are returned as [`Reply::Error`].
    pub fn call_raw<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Reply, AdminError> {
        let Some((first, rest)) = args.split_first() else {
            return Err(AdminError::Protocol("empty command".into()));
        };
        let mut c = cmd(first.as_ref());
        for a in rest {
            c.push(a.as_ref());
        }
        self.reader.get_mut().write_all(&c.to_bytes())?;
        read_reply(&mut self.reader)
    }

    /// Like [`AdminConn::call_raw`], with an error reply turned into [`AdminError::Server`].
    pub fn call<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Reply, AdminError> {
        match self.call_raw(args)? {
            Reply::Error(e) => Err(AdminError::Server(e)),
            r => Ok(r),
        }
    }
}

/// Reads one reply.
pub fn read_reply(r: &mut impl BufRead) -> Result<Reply, AdminError> {
    read_at(r, 0)
}

fn read_line(r: &mut impl BufRead) -> Result<Vec<u8>, AdminError> {
    let mut line = Vec::new();
    r.take(MAX_LINE).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(AdminError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        )));
    }
    if !line.ends_with(b"\r\n") {
        return Err(AdminError::Protocol(
            "line not terminated by CRLF within 64 KiB".into(),
        ));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_len(text: &[u8], max: usize) -> Result<Option<usize>, AdminError> {
    let s = std::str::from_utf8(text).map_err(|_| AdminError::Protocol("bad length".into()))?;
    if s == "-1" {
        return Ok(None);
    }
    let n: usize = s
        .parse()
        .map_err(|_| AdminError::Protocol(format!("bad length {s:?}")))?;
    if n > max {
        return Err(AdminError::Protocol(format!("length {n} over limit {max}")));
    }
    Ok(Some(n))
}

fn read_at(r: &mut impl BufRead, depth: usize) -> Result<Reply, AdminError> {
    if depth > MAX_DEPTH {
        return Err(AdminError::Protocol("nesting too deep".into()));
    }
    let line = read_line(r)?;
    let Some((&kind, rest)) = line.split_first() else {
        return Err(AdminError::Protocol("empty line".into()));
    };
    let text = || String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Reply::Status(text())),
        b'-' => Ok(Reply::Error(text())),
        b':' => text()
            .parse()
            .map(Reply::Int)
            .map_err(|_| AdminError::Protocol(format!("bad integer {:?}", text()))),
        b'$' => {
            let Some(n) = parse_len(rest, MAX_BULK)? else {
                return Ok(Reply::Nil);
            };
            let mut data = Vec::new();
            // Grows with the bytes received, not with the announced length.
            r.take(n as u64 + 2).read_to_end(&mut data)?;
            if data.len() != n + 2 || !data.ends_with(b"\r\n") {
                return Err(AdminError::Protocol("truncated bulk string".into()));
            }
            data.truncate(n);
            Ok(Reply::Bulk(data))
        }
        b'*' => {
            let Some(n) = parse_len(rest, MAX_ELEMENTS)? else {
                return Ok(Reply::Nil);
            };
            let mut items = Vec::with_capacity(n.min(PREALLOC));
            for _ in 0..n {
                items.push(read_at(r, depth + 1)?);
            }
            Ok(Reply::Array(items))
        }
        other => Err(AdminError::Protocol(format!(
            "unexpected reply type byte 0x{other:02x}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Reply, AdminError> {
        read_reply(&mut &b[..])
    }

    #[test]
    fn reads_every_resp2_type() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Status("OK".into()));
        assert_eq!(
            parse(b"-ERR no\r\n").unwrap(),
            Reply::Error("ERR no".into())
        );
        assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Int(-42));
        assert_eq!(
            parse(b"$3\r\na\r\n\r\n").unwrap(),
            Reply::Bulk(b"a\r\n".to_vec())
        );
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Nil);
        assert_eq!(parse(b"*-1\r\n").unwrap(), Reply::Nil);
        let r = parse(b"*4\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$1\r\n7\r\n").unwrap();
        assert_eq!(r.field("ip"), Some("127.0.0.1"));
        assert_eq!(r.field("port").and_then(|p| p.parse().ok()), Some(7u16));
        assert_eq!(r.field("flags"), None);
        let r = parse(b"*2\r\n$4\r\nport\r\n:7\r\n").unwrap();
        assert_eq!(r.as_pairs(), None, "an integer value is not text");
    }

    #[test]
    fn rejects_bad_input_without_panicking_or_preallocating() {
        for bad in [
            &b"$999999999999\r\n"[..],
            b"$5\r\nab\r\n",
            b"*3\r\n:1\r\n",
            b"?x\r\n",
            b"+no crlf",
            b"",
            b":12a\r\n",
            b"$-2\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // A huge announced count with no elements fails on the missing bytes, cheaply.
        assert!(parse(b"*1000000\r\n").is_err());
        let deep = "*1\r\n".repeat(100);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(AdminError::Protocol(_))
        ));
    }
}
