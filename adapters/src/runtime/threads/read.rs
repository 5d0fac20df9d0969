//! The read side of one blocking connection, and who reads it.
//!
//! Reading is a role, held by one thread at a time (the [`Core`]'s mutex): the connection's
//! reader thread by default, or a caller waiting for its own answer. A caller that reads its
//! reply itself is woken by the kernel straight from its socket read, as with a plain
//! connection, instead of by the reader thread after the reader thread was woken: one thread
//! hand-off less per round trip. The bytes it reads go to the driver as the reader thread's
//! would, so every other caller's answers in them are completed as usual.
//!
//! - A caller takes the role only if nobody holds it ([`ReadSide::hold`]), reads with a short
//!   socket timeout ([`HOLD`]) until its own answer is there, then lets go. If other callers
//!   are waiting, it hands the role back to the reader thread, so their answers are read.
//! - The reader thread holds the role while it blocks in a read, so a caller that arrives then
//!   waits as before and marks that it wanted the role. After that read, if at most one caller
//!   is waiting, the reader thread steps aside: it parks, and the next caller reads.
//! - A parked reader thread takes the role back when a caller hands it over, when a caller is
//!   waiting and nobody reads, or once no caller has read for [`QUIET`]. An idle connection is
//!   so read by its thread, which sees a close or a stray reply within [`QUIET`].

use super::engine::Engine;
use super::wire::Wire;
use crate::driver::Msg;
use crate::reply::{Answer, Reply};
use crate::tls::{self, Inbound, Session};
use bytes::Bytes;
use flume::{RecvError, Sender, WeakSender};
use resp_sentinel_core::sentinel::ConnId;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

/// How long a caller's read waits for bytes before the caller gives the role back and sleeps
/// until the reader thread completes its answer (a slow command, or a blocking one).
const HOLD: Duration = Duration::from_millis(2);

/// How long after a caller last read the parked reader thread takes the role back.
const QUIET: Duration = Duration::from_millis(5);

/// How soon after stepping aside the reader thread looks once whether a caller is left
/// waiting with nobody reading (one that arrived while it was still reading).
const FIRST_LOOK: Duration = Duration::from_micros(50);

/// One connection's read side, shared by its reader thread and the callers.
pub(super) struct ReadSide {
    core: Mutex<Core>,
    /// Callers waiting for an answer with this connection as their last written one.
    waiters: AtomicUsize,
    /// A caller found the role taken by the reader thread.
    wanted: AtomicBool,
    /// When a caller last let go of the role (nanoseconds since `born`).
    last_hold: AtomicU64,
    born: Instant,
    /// The reader thread's parking place.
    aside: Mutex<Aside>,
    /// The reader thread is parked (read without the `aside` lock).
    parked: AtomicBool,
    ring: Condvar,
    engine: Weak<Engine>,
}

/// Whether the reader thread is parked, and whether the role was handed back to it.
#[derive(Default)]
struct Aside {
    parked: bool,
    handed: bool,
}

/// What the role gives: the socket and what reading it needs.
pub(super) struct Core {
    conn: ConnId,
    stream: TcpStream,
    session: Option<Session>,
    buf: super::super::read_buf::ReadBuf,
    nudge: WeakSender<Bytes>,
    tx: Sender<Msg>,
    wire: Arc<Wire>,
    /// The socket has the [`HOLD`] read timeout (set by the first caller that reads).
    timed: bool,
    /// The connection ended and the loop was told: nobody reads any more.
    ended: bool,
}

/// How one read went.
enum Got {
    /// Bytes went to the loop.
    Data,
    /// The read timed out (only with [`Core::timed`]).
    Idle,
    /// The connection ended.
    Ended,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Core {
    /// The read state of a fresh connection.
    pub(super) fn new(
        conn: ConnId,
        stream: TcpStream,
        session: Option<Session>,
        nudge: WeakSender<Bytes>,
        tx: Sender<Msg>,
        wire: Arc<Wire>,
    ) -> Core {
        Core {
            conn,
            stream,
            session,
            buf: super::super::read_buf::ReadBuf::new(),
            nudge,
            tx,
            wire,
            timed: false,
            ended: false,
        }
    }

    /// One read, handed to the loop (the caller of this then takes a turn).
    fn read_once(&mut self, engine: &Weak<Engine>) -> Got {
        if self.ended {
            return Got::Ended;
        }
        let conn = self.conn;
        let n = match self.stream.read(self.buf.room()) {
            Ok(n) if n > 0 => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Got::Data,
            Err(e)
                if self.timed
                    && matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
            {
                return Got::Idle
            }
            _ => return self.end(Msg::Closed(conn)),
        };
        let inbound = tls::inbound(self.session.as_ref(), self.buf.take(n), &self.nudge);
        if self.session.is_some() && engine.strong_count() > 0 {
            // What TLS itself has to send (queued by the nudge above).
            self.wire.flush();
        }
        let (bytes, end) = match inbound {
            Inbound::Data(b) => (b, None),
            Inbound::DataThenClosed(b) => (b, Some(Msg::Closed(conn))),
            Inbound::Failed(why) => (Bytes::new(), Some(Msg::TlsFailed(conn, why))),
        };
        // A full channel blocks here: the socket is not read meanwhile.
        if !bytes.is_empty() && self.tx.send(Msg::Received(conn, bytes)).is_err() {
            self.ended = true;
            return Got::Ended;
        }
        match end {
            Some(end) => self.end(end),
            None => Got::Data,
        }
    }

    fn end(&mut self, msg: Msg) -> Got {
        self.ended = true;
        let _ = self.tx.send(msg);
        Got::Ended
    }

    fn set_timed(&mut self, on: bool) {
        if self.timed != on {
            self.timed = on;
            let _ = self.stream.set_read_timeout(on.then_some(HOLD));
        }
    }
}

impl ReadSide {
    /// The read side of a connection read through `core`, feeding `engine`.
    pub(super) fn new(core: Core, engine: Weak<Engine>) -> ReadSide {
        ReadSide {
            core: Mutex::new(core),
            waiters: AtomicUsize::new(0),
            wanted: AtomicBool::new(false),
            last_hold: AtomicU64::new(0),
            born: Instant::now(),
            aside: Mutex::new(Aside::default()),
            parked: AtomicBool::new(false),
            ring: Condvar::new(),
            engine,
        }
    }

    /// Takes the loop's turn after handing it bytes.
    fn pump(&self) {
        if let Some(e) = self.engine.upgrade() {
            e.pump();
        }
    }

    /// The reader thread: reads while it holds the role, steps aside when a caller can read,
    /// returns once the connection ended.
    pub(super) fn run(&self) {
        loop {
            let read = {
                let mut core = lock(&self.core);
                let read = core.read_once(&self.engine);
                if matches!(read, Got::Idle) && self.quiet() {
                    // No caller reads any more: block in reads again, without waking.
                    core.set_timed(false);
                }
                read
            };
            match read {
                Got::Data => self.pump(),
                Got::Idle => {}
                Got::Ended => {
                    self.pump();
                    return;
                }
            }
            if self.wanted.swap(false, Ordering::Relaxed)
                && self.waiters.load(Ordering::SeqCst) <= 1
            {
                self.park();
            }
        }
    }

    /// True when no caller has read for [`QUIET`].
    fn quiet(&self) -> bool {
        let last = Duration::from_nanos(self.last_hold.load(Ordering::Relaxed));
        self.born.elapsed().saturating_sub(last) >= QUIET
    }

    /// True when a caller waits and nobody holds the role: the reader thread must read. The
    /// caller may be one that counts on this connection, or one asleep with nobody reading for
    /// it (its answer may come on any of the loop's connections).
    fn stranded(&self) -> bool {
        let asleep = || self.engine.upgrade().is_some_and(|e| e.asleep() > 0);
        (self.waiters.load(Ordering::SeqCst) > 0 || asleep()) && self.core.try_lock().is_ok()
    }

    /// The reader thread, stepped aside: back when handed the role, when a caller is stranded,
    /// or when callers stopped reading.
    fn park(&self) {
        let mut aside = lock(&self.aside);
        let mut wait = FIRST_LOOK;
        loop {
            if std::mem::take(&mut aside.handed) || self.stranded() || self.quiet() {
                break;
            }
            aside.parked = true;
            self.parked.store(true, Ordering::SeqCst);
            // Pairs with the fence in `Engine::blocked`: a caller that falls asleep either sees
            // this thread parked (and wakes it) or is seen by `stranded` after the wait.
            fence(Ordering::SeqCst);
            if self.stranded() {
                break;
            }
            aside = self
                .ring
                .wait_timeout(aside, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            wait = QUIET;
        }
        aside.parked = false;
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Hands the role back to the reader thread if it is parked (a caller fell asleep and its
    /// answer may come on this connection).
    pub(super) fn wake_if_parked(&self) {
        if self.parked.load(Ordering::SeqCst) {
            self.hand_back();
        }
    }

    /// Hands the role back to the reader thread (waking it only if it is parked).
    fn hand_back(&self) {
        let mut aside = lock(&self.aside);
        aside.handed = true;
        if aside.parked {
            self.ring.notify_one();
        }
    }

    /// A caller's wait for `reply`, reading the connection itself if nobody else does. `None`
    /// when it could not (the role was taken, its answer did not come within [`HOLD`], or the
    /// connection ended): the caller then waits for the answer as usual, while still counted
    /// as waiting here until the returned guard is dropped.
    pub(super) fn hold<'a>(
        &'a self,
        reply: &Reply,
    ) -> (Waiting<'a>, Option<Result<Answer, RecvError>>) {
        let waiting = Waiting::new(self);
        if self.waiters.load(Ordering::SeqCst) > 1 {
            // Several callers wait: the reader thread reads for all of them at once.
            self.hand_back();
            return (waiting, None);
        }
        let mut core = match self.core.try_lock() {
            Ok(core) => core,
            Err(std::sync::TryLockError::Poisoned(_)) => return (waiting, None),
            Err(std::sync::TryLockError::WouldBlock) => {
                self.wanted.store(true, Ordering::Relaxed);
                return (waiting, None);
            }
        };
        core.set_timed(true);
        let got = loop {
            // Also answered when it came another way (a timeout, another connection).
            if let Some(got) = reply.try_take() {
                break Some(got);
            }
            match core.read_once(&self.engine) {
                Got::Data => {
                    // Every byte read is handled before looking at the answer: a turn another
                    // thread holds is waited for.
                    if let Some(e) = self.engine.upgrade() {
                        e.settle();
                    }
                }
                Got::Idle => break None,
                Got::Ended => {
                    drop(core);
                    self.pump();
                    self.release(true);
                    return (waiting, None);
                }
            }
        };
        drop(core);
        self.release(got.is_none());
        (waiting, got)
    }

    /// A caller lets go of the role: the reader thread takes it back if the caller gives up,
    /// or if other callers wait (their answers may still be on the way).
    fn release(&self, gave_up: bool) {
        let since = self.born.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.last_hold.store(since, Ordering::Relaxed);
        // Pairs with the fence in `Waiting::new`: a caller that arrived while the role was held
        // is either counted here or finds the role free.
        fence(Ordering::SeqCst);
        if gave_up || self.waiters.load(Ordering::SeqCst) > 1 {
            self.hand_back();
        }
    }
}

/// A caller counted as waiting on a read side, until dropped.
pub(super) struct Waiting<'a>(&'a ReadSide);

impl<'a> Waiting<'a> {
    fn new(side: &'a ReadSide) -> Waiting<'a> {
        side.waiters.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        Waiting(side)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}
