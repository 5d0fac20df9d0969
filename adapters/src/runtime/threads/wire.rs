//! The write side of one blocking connection: whichever thread leaves the driver with bytes
//! queued for the socket sends them itself, without blocking (one system call for everything
//! queued meanwhile); the connection's writer thread takes over only what the socket did not
//! take at once, and the close.
//!
//! One thread writes at a time (`busy`); a thread that finds the turn taken leaves its bytes in
//! the queue for the one writing, which looks at the queue again before it lets go, so commands
//! submitted while a write is in progress leave together in the next one.

use crate::tls::{self, Session};
use bytes::Bytes;
use flume::{Receiver, Sender};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// One connection's socket, as written by every thread that has bytes for it.
pub(super) struct Wire {
    stream: TcpStream,
    session: Option<Session>,
    /// What the driver transmits, in order (the [`crate::driver::Link`]'s writer).
    queue: Receiver<Bytes>,
    turn: Mutex<Turn>,
    /// Signalled when a sending thread lets go while the writer thread waits to close.
    idle: Condvar,
    /// Wakes the writer thread for a rest the socket did not take.
    kick: Sender<()>,
}

/// Who may write now.
#[derive(Default)]
struct Turn {
    /// A thread is sending what the queue holds.
    busy: bool,
    /// The writer thread owns the writing (the socket was full, or the link is closing).
    handed_over: bool,
    /// What the socket did not take of the last buffer, for the writer thread.
    rest: Option<Bytes>,
    /// The writer thread waits for `busy` to clear before it closes.
    closing: bool,
    /// A write failed: nothing more is written, and the socket is shut down.
    failed: bool,
}

/// How a non-blocking send of the queue went.
enum Sent {
    All,
    Rest(Bytes),
    Failed,
}

impl Wire {
    /// The wire of `stream`, its writer thread's two receivers: one that disconnects when the
    /// link is dropped (`closed`, from the link's cancel sender), one for stalls.
    pub(super) fn new(
        stream: TcpStream,
        session: Option<Session>,
        queue: Receiver<Bytes>,
    ) -> (Wire, Receiver<()>) {
        let (kick, kicked) = flume::bounded(1);
        let wire = Wire {
            stream,
            session,
            queue,
            turn: Mutex::new(Turn::default()),
            idle: Condvar::new(),
            kick,
        };
        (wire, kicked)
    }

    fn lock(&self) -> MutexGuard<'_, Turn> {
        self.turn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True when the driver queued bytes nobody has taken yet.
    pub(super) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Sends what is queued from this thread, unless another one is writing (it takes these
    /// bytes too); what the socket does not take at once goes to the writer thread.
    pub(super) fn flush(&self) {
        loop {
            {
                let mut t = self.lock();
                if t.busy || t.handed_over || t.failed || t.closing {
                    return;
                }
                t.busy = true;
            }
            let sent = self.send_queued();
            {
                let mut t = self.lock();
                t.busy = false;
                match sent {
                    Sent::All => {}
                    Sent::Rest(rest) => {
                        t.rest = Some(rest);
                        t.handed_over = true;
                        let _ = self.kick.try_send(());
                    }
                    Sent::Failed => t.failed = true,
                }
                if t.closing {
                    self.idle.notify_all();
                }
                if t.failed {
                    drop(t);
                    // The reader wakes on this and reports the connection closed.
                    let _ = self.stream.shutdown(Shutdown::Both);
                    return;
                }
                if t.handed_over {
                    return;
                }
            }
            // Bytes queued while this thread was sending were left for it.
            if self.queue.is_empty() {
                return;
            }
        }
    }

    /// Everything queued, gathered and sent without blocking.
    fn send_queued(&self) -> Sent {
        while let Ok(first) = self.queue.try_recv() {
            let plain = super::super::coalesce(first, &self.queue);
            let Ok(bytes) = tls::outbound(self.session.as_ref(), plain) else {
                return Sent::Failed;
            };
            match send_now(&self.stream, &bytes) {
                Ok(n) if n == bytes.len() => {}
                Ok(n) => return Sent::Rest(bytes.slice(n..)),
                Err(_) => return Sent::Failed,
            }
        }
        Sent::All
    }

    /// The writer thread's part: the rest the socket did not take, then everything queued
    /// meanwhile, blocking; false when a write failed.
    fn write_handed_over(&self) -> bool {
        let mut w = &self.stream;
        loop {
            let rest = self.lock().rest.take();
            let mut ok = rest.is_none_or(|rest| w.write_all(&rest).is_ok());
            while ok {
                let Ok(first) = self.queue.try_recv() else {
                    break;
                };
                let plain = super::super::coalesce(first, &self.queue);
                ok = tls::outbound(self.session.as_ref(), plain)
                    .and_then(|b| w.write_all(&b))
                    .is_ok();
            }
            let mut t = self.lock();
            if !ok {
                t.failed = true;
                return false;
            }
            if self.queue.is_empty() {
                t.handed_over = false;
                return true;
            }
        }
    }

    /// The close: waits for a sending thread to finish, writes what is still queued (and
    /// TLS's `close_notify`) unless a write failed, then shuts the socket down both ways.
    fn close(&self) {
        let failed = {
            let mut t = self.lock();
            t.closing = true;
            while t.busy {
                t = self.idle.wait(t).unwrap_or_else(PoisonError::into_inner);
            }
            t.handed_over = true;
            t.failed
        };
        if !failed && self.write_handed_over() {
            let _ = (&self.stream).write_all(&tls::closing(self.session.as_ref()));
        }
        // Both directions, as on every runtime; this also wakes the reader thread, which exits.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// The writer thread of a connection: writes what the socket did not take at once, and
/// closes the connection once its link is dropped (`closed` disconnects). A connection no
/// engine flushes (`alone`: opened by a test on its own) has every write done here.
pub(super) fn write_loop(wire: &Wire, closed: Receiver<()>, kicked: Receiver<()>, alone: bool) {
    if alone {
        write_alone(wire, &closed);
    } else {
        loop {
            let closing = flume::Selector::new()
                .recv(&closed, |_| true)
                .recv(&kicked, |_| false)
                .wait();
            if closing || !wire.write_handed_over() {
                break;
            }
        }
    }
    wire.close();
}

/// Every write of a connection no engine flushes, in order, until its link is dropped.
fn write_alone(wire: &Wire, closed: &Receiver<()>) {
    let mut w = &wire.stream;
    loop {
        let got = flume::Selector::new()
            .recv(closed, |_| None)
            .recv(&wire.queue, |m| m.ok())
            .wait();
        let Some(first) = got else { return };
        let plain = super::super::coalesce(first, &wire.queue);
        let written = tls::outbound(wire.session.as_ref(), plain).and_then(|b| w.write_all(&b));
        if written.is_err() {
            wire.lock().failed = true;
            return;
        }
    }
}

/// Sends as much of `bytes` as the socket takes without blocking (the socket itself stays
/// blocking for the reader thread).
#[cfg(unix)]
fn send_now(stream: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const FLAGS: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const FLAGS: libc::c_int = libc::MSG_DONTWAIT;
    let mut sent = 0;
    while sent < bytes.len() {
        let rest = &bytes[sent..];
        // SAFETY: `rest` is an initialised buffer of `rest.len()` bytes that outlives the
        // call, and the descriptor belongs to `stream`, which is open for its duration.
        let n = unsafe { libc::send(stream.as_raw_fd(), rest.as_ptr().cast(), rest.len(), FLAGS) };
        match n {
            n if n > 0 => sent += n as usize,
            0 => break,
            _ => {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => {}
                    io::ErrorKind::WouldBlock => break,
                    _ => return Err(e),
                }
            }
        }
    }
    Ok(sent)
}

/// Elsewhere no write is attempted without blocking: the writer thread writes everything.
#[cfg(not(unix))]
fn send_now(_stream: &TcpStream, _bytes: &[u8]) -> io::Result<usize> {
    Ok(0)
}

#[cfg(all(test, unix))]
mod tests {
    use super::send_now;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    /// The one `unsafe` call: a peer that does not read makes `send_now` stop short at once
    /// (never block), every byte it reports sent arrives in order, and the socket stays
    /// blocking for the reader.
    #[test]
    fn send_now_never_blocks_and_loses_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let data: Vec<u8> = (0..64u32 << 20).map(|i| (i % 251) as u8).collect();
        let started = Instant::now();
        let sent = send_now(&ours, &data).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "it did not block"
        );
        assert!(
            sent > 0 && sent < data.len(),
            "a full socket stops it short: {sent}"
        );
        drop(ours);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), sent);
        assert_eq!(&got[..], &data[..sent]);
        // Still a blocking socket: a read with a timeout waits rather than failing at once.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_peer, _) = listener.accept().unwrap();
        assert_eq!(send_now(&ours, b"x").unwrap(), 1);
        ours.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let t = Instant::now();
        let mut b = [0u8; 1];
        assert!(ours.read(&mut b).is_err());
        assert!(t.elapsed() >= Duration::from_millis(90));
    }
}
