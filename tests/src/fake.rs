//! Small scripted servers for hostile-behaviour tests: a listener on a loopback port that reads
//! RESP commands and answers each with whatever the test's script says, including nonsense.
//! Real Redis and Sentinel stay the subject of every other test; these only play the parts a
//! real server will not (floods, drips, lies).
//!
//! [`FakeSentinel`] names a master of the test's choosing (so a client can be pointed at a
//! [`FakeServer`] playing the data node); [`FakeServer`] runs a script per command.

use resp_sentinel_core::sentinel::Addr;
use resp_sentinel_core::{Decoder, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the script does with one command.
pub enum Answer {
    /// Write these bytes (any bytes: valid RESP or not).
    Bytes(Vec<u8>),
    /// Write nothing.
    Silence,
    /// Write `head`, then `chunk` over and over until the client goes away or `limit` bytes
    /// were sent.
    Flood {
        /// Sent once first (e.g. `*4294967295\r\n`).
        head: Vec<u8>,
        /// Repeated.
        chunk: Vec<u8>,
        /// Most bytes sent in all.
        limit: u64,
    },
    /// Write `bytes` one byte at a time, `gap` apart.
    Drip {
        /// What to send.
        bytes: Vec<u8>,
        /// Pause between bytes.
        gap: Duration,
    },
    /// Close the connection.
    Hangup,
}

/// A script: the command's words in, the answer out.
pub type Script = dyn Fn(&[Vec<u8>]) -> Answer + Send + Sync;

/// A scripted server on a loopback port; stops when dropped.
pub struct FakeServer {
    addr: Addr,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Listens on a free loopback port and answers every command of every connection with
    /// `script`.
    pub fn start(script: impl Fn(&[Vec<u8>]) -> Answer + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let script: Arc<Script> = Arc::new(script);
        let (stop2, sent2, accepted2) = (stop.clone(), sent.clone(), accepted.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted2.fetch_add(1, Ordering::Relaxed);
                        let (script, stop, sent) = (script.clone(), stop2.clone(), sent2.clone());
                        std::thread::spawn(move || serve(stream, &*script, &stop, &sent));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeServer {
            addr: Addr::new("127.0.0.1", port),
            stop,
            sent,
            accepted,
            thread: Some(thread),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> Addr {
        self.addr.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Bytes written to clients so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut stream: TcpStream, script: &Script, stop: &AtomicBool, sent: &AtomicU64) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut dec = Decoder::new();
    let mut buf = bytes::BytesMut::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => return,
        }
        loop {
            let v = match dec.decode(&mut buf) {
                Ok(Some(v)) => v,
                Ok(None) => break,
                Err(_) => return,
            };
            let words = words(&v);
            if !answer(&mut stream, script(&words), stop, sent) {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Performs one answer; false when the connection should end.
fn answer(stream: &mut TcpStream, a: Answer, stop: &AtomicBool, sent: &AtomicU64) -> bool {
    let mut write = |b: &[u8]| {
        let ok = stream.write_all(b).is_ok();
        if ok {
            sent.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        ok
    };
    match a {
        Answer::Bytes(b) => write(&b),
        Answer::Silence => true,
        Answer::Hangup => false,
        Answer::Flood { head, chunk, limit } => {
            if !write(&head) {
                return false;
            }
            let mut total = head.len() as u64;
            let mut big = Vec::with_capacity(64 * 1024);
            while big.len() + chunk.len() <= 64 * 1024 {
                big.extend_from_slice(&chunk);
            }
            while total < limit && !stop.load(Ordering::Relaxed) {
                if !write(&big) {
                    return false;
                }
                total += big.len() as u64;
            }
            true
        }
        Answer::Drip { bytes, gap } => {
            for b in bytes {
                if stop.load(Ordering::Relaxed) || !write(&[b]) {
                    return false;
                }
                std::thread::sleep(gap);
            }
            true
        }
    }
}

/// The words of a command (an array of bulk strings), uppercased name first.
fn words(v: &Value) -> Vec<Vec<u8>> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    let mut out: Vec<Vec<u8>> = items
        .iter()
        .map(|i| match i {
            Value::Bulk(b) | Value::SimpleString(b) => b.to_vec(),
            _ => Vec::new(),
        })
        .collect();
    if let Some(first) = out.first_mut() {
        first.make_ascii_uppercase();
    }
    out
}

/// RESP for an array of bulk strings.
pub fn bulk_array(items: &[&str]) -> Vec<u8> {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s += &format!("${}\r\n{}\r\n", i.len(), i);
    }
    s.into_bytes()
}

/// The answers a data node gives during a client's handshake (`HELLO` refused so the client
/// falls back to RESP2, `AUTH`/`SELECT`/`CLIENT` accepted, `ROLE` master, `PING`), or `None`
/// for any other command.
pub fn handshake(words: &[Vec<u8>]) -> Option<Answer> {
    let name = words.first()?.as_slice();
    Some(Answer::Bytes(match name {
        b"HELLO" => b"-ERR unknown command 'HELLO'\r\n".to_vec(),
        b"AUTH" | b"SELECT" | b"CLIENT" => b"+OK\r\n".to_vec(),
        b"ROLE" => b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n".to_vec(),
        b"PING" => b"+PONG\r\n".to_vec(),
        _ => return None,
    }))
}

/// A fake sentinel that names `master` for every service and knows no other sentinel; its
/// notice subscription confirms and then stays quiet.
pub struct FakeSentinel {
    server: FakeServer,
}

impl FakeSentinel {
    /// Names `master` as the master of any service.
    pub fn naming(master: Addr) -> FakeSentinel {
        let server = FakeServer::start(move |w| {
            let sub = |w: &[Vec<u8>], i: usize| {
                w.get(i)
                    .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
                    .unwrap_or_default()
            };
            match w.first().map(Vec::as_slice) {
                Some(b"SENTINEL") => match sub(w, 1).as_str() {
                    "get-master-addr-by-name" => {
                        Answer::Bytes(bulk_array(&[&master.host, &master.port.to_string()]))
                    }
                    "master" => Answer::Bytes(bulk_array(&[
                        "name",
                        &sub(w, 2),
                        "flags",
                        "master",
                        "config-epoch",
                        "0",
                    ])),
                    _ => Answer::Bytes(b"*0\r\n".to_vec()),
                },
                Some(b"SUBSCRIBE") => {
                    let mut out = Vec::new();
                    for (i, ch) in w[1..].iter().enumerate() {
                        let ch = String::from_utf8_lossy(ch);
                        out.extend(
                            format!(
                                "*3\r\n$9\r\nsubscribe\r\n${}\r\n{ch}\r\n:{}\r\n",
                                ch.len(),
                                i + 1
                            )
                            .into_bytes(),
                        );
                    }
                    Answer::Bytes(out)
                }
                Some(b"AUTH") => Answer::Bytes(b"+OK\r\n".to_vec()),
                Some(b"PING") => Answer::Bytes(b"+PONG\r\n".to_vec()),
                _ => Answer::Bytes(b"-ERR unknown command\r\n".to_vec()),
            }
        });
        FakeSentinel { server }
    }

    /// Where it listens.
    pub fn addr(&self) -> Addr {
        self.server.addr()
    }
}
