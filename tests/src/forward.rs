//! A TCP forwarder on a loopback port, for nodes that announce an address other than the one
//! they listen on: the sentinels and replicas reach a node through it, and once its door is
//! shut ([`Forwarder::shut_door`]) new connections are refused while those already forwarded
//! keep running, so a client can reach the node only where an address map sends it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Forwards connections from its own loopback port to `target`.
pub struct Forwarder {
    port: u16,
    door_open: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Forwarder {
    /// Listens on a free port of 127.0.0.1 and forwards every connection to `target`.
    pub fn start(target: SocketAddr) -> io::Result<Forwarder> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let door_open = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicUsize::new(0));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (door, count, held) = (door_open.clone(), accepted.clone(), streams.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                if !door.load(Ordering::SeqCst) {
                    // Shut: the listener is dropped, so later connects are refused.
                    let _ = conn.shutdown(Shutdown::Both);
                    return;
                }
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(up) = TcpStream::connect_timeout(&target, Duration::from_secs(2)) else {
                    continue;
                };
                let _ = (conn.set_nodelay(true), up.set_nodelay(true));
                if let (Ok(a), Ok(b)) = (conn.try_clone(), up.try_clone()) {
                    let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
                    held.push(a);
                    held.push(b);
                }
                pipe(conn, up);
            }
        });
        Ok(Forwarder {
            port,
            door_open,
            accepted,
            streams,
        })
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections it has forwarded.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Refuses every new connection from now on; those already forwarded keep running.
    pub fn shut_door(&self) {
        self.door_open.store(false, Ordering::SeqCst);
        // Wake the accept loop so it sees the door shut and drops the listener.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shut_door();
        for s in self
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Copies bytes both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    thread::spawn(move || copy(a, b2));
    thread::spawn(move || copy(b, a2));
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_then_refuses_new_connections_but_keeps_old_ones() {
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = echo.local_addr().unwrap();
        thread::spawn(move || {
            for c in echo.incoming().flatten() {
                thread::spawn(move || {
                    let mut c = c;
                    let mut buf = [0u8; 64];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || c.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let f = Forwarder::start(target).unwrap();
        let at = SocketAddr::from(([127, 0, 0, 1], f.port()));
        let mut old = TcpStream::connect(at).unwrap();
        old.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4];
        old.write_all(b"ping").unwrap();
        old.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        assert_eq!(f.accepted(), 1);
        f.shut_door();
        thread::sleep(Duration::from_millis(100));
        assert!(
            TcpStream::connect_timeout(&at, Duration::from_secs(1)).is_err(),
            "the door is shut"
        );
        old.write_all(b"pong").unwrap();
        old.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong", "a forwarded connection outlives the door");
    }
}
