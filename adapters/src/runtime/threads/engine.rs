//! The blocking driver without a thread of its own: the [`Driver`] sits behind a mutex, and
//! whichever thread has just handed it something (a caller that submitted, a reader thread
//! with bytes, a connect thread) takes the loop's turn itself when nobody else has it, then
//! sends what the turn transmitted ([`Wire::flush`]). A caller's command so goes to the
//! socket from the caller's own thread; a caller alone reads its reply off the socket itself
//! too (see [`super::read`]), so a round trip crosses no thread at all, and with several
//! callers the connection's reader thread reads and completes their replies.
//!
//! A thread that finds the turn taken leaves its message in the channel: the thread holding
//! the turn looks at the channels again after it lets go, so no message is stranded, and
//! messages arriving during a turn are handled (and their commands written) together. A timer
//! thread takes the turn at the machine's deadline; every turn also fires deadlines that have
//! passed, so a flood of bytes cannot starve them.

use super::read::ReadSide;
use super::wire::Wire;
use super::ThreadNet;
use crate::driver::{Driver, Msg, TURN};
use flume::{Receiver, Sender};
use std::cell::RefCell;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::time::Instant;

thread_local! {
    /// The loop this thread last handed something to, and the read side of the connection its
    /// last command most likely went to: the one connection its own turn wrote to, or, when
    /// another thread had the turn, the one that loop last wrote to (a guess: a caller that
    /// guessed wrong wakes the loop's parked readers, see [`Engine::blocked`]).
    static CURRENT: RefCell<(Weak<Engine>, Weak<ReadSide>)> =
        const { RefCell::new((Weak::new(), Weak::new())) };
}

/// The loop this thread last handed something to, and the read side its last command most
/// likely awaits an answer on.
pub(crate) fn current() -> (Option<Arc<Engine>>, Option<Arc<ReadSide>>) {
    CURRENT
        .try_with(|c| {
            let c = c.borrow();
            (c.0.upgrade(), c.1.upgrade())
        })
        .unwrap_or((None, None))
}

/// One blocking client's (or discovery's) driver and the threads' ways into it.
pub(crate) struct Engine {
    /// `None` once the loop ended: its channels' receivers are dropped with it.
    state: Mutex<Option<Live>>,
    /// Senders of both channels, only to see whether messages are waiting.
    requests: Sender<Msg>,
    io: Sender<Msg>,
    /// The open connections' write sides, and their read sides.
    wires: Mutex<Vec<(Arc<Wire>, Weak<ReadSide>)>>,
    /// The read side of the connection last written to.
    last: Mutex<Weak<ReadSide>>,
    /// Callers asleep until their answer arrives, with no connection read on their behalf.
    asleep: AtomicUsize,
    clock: Clock,
}

/// The connections a turn wrote to: the first held apart, so that the common turn (one
/// connection) allocates nothing.
#[derive(Default)]
struct Dirty {
    first: Option<(Arc<Wire>, Weak<ReadSide>)>,
    rest: Vec<(Arc<Wire>, Weak<ReadSide>)>,
}

impl FromIterator<(Arc<Wire>, Weak<ReadSide>)> for Dirty {
    fn from_iter<I: IntoIterator<Item = (Arc<Wire>, Weak<ReadSide>)>>(iter: I) -> Dirty {
        let mut d = Dirty::default();
        for w in iter {
            if d.first.is_none() {
                d.first = Some(w);
            } else {
                d.rest.push(w);
            }
        }
        d
    }
}

/// What a thread's turns wrote to.
enum Wrote {
    Nothing,
    One(Weak<ReadSide>),
    Several,
}

impl Wrote {
    /// This, then `next`.
    fn and(self, next: Wrote) -> Wrote {
        match (self, next) {
            (w, Wrote::Nothing) => w,
            (Wrote::Nothing, w) => w,
            (Wrote::One(a), Wrote::One(b)) if a.ptr_eq(&b) => Wrote::One(a),
            _ => Wrote::Several,
        }
    }
}

/// A caller counted as asleep by [`Engine::blocked`], until dropped.
pub(super) struct Asleep<'a>(&'a Engine);

impl Drop for Asleep<'_> {
    fn drop(&mut self) {
        self.0.asleep.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running loop.
struct Live {
    driver: Driver<ThreadNet>,
    rx: Receiver<Msg>,
    io_rx: Receiver<Msg>,
}

/// When the timer thread next takes the turn.
struct Clock {
    alarm: Mutex<Alarm>,
    ring: Condvar,
}

#[derive(Default)]
struct Alarm {
    deadline: Option<Instant>,
    stopped: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    /// An engine for `driver`, fed by the two channels whose receivers these are.
    pub(super) fn new(
        driver: Driver<ThreadNet>,
        (requests, rx): (Sender<Msg>, Receiver<Msg>),
        (io, io_rx): (Sender<Msg>, Receiver<Msg>),
    ) -> Engine {
        Engine {
            state: Mutex::new(Some(Live { driver, rx, io_rx })),
            requests,
            io,
            wires: Mutex::new(Vec::new()),
            last: Mutex::new(Weak::new()),
            asleep: AtomicUsize::new(0),
            clock: Clock {
                alarm: Mutex::new(Alarm::default()),
                ring: Condvar::new(),
            },
        }
    }

    /// Takes the loop's turn if no other thread has it (which then handles what this thread
    /// sent); returns once the channels are empty or another thread has the turn.
    pub(crate) fn pump(self: &Arc<Self>) {
        let side = match self.run(false) {
            Wrote::One(side) => side,
            Wrote::Several => Weak::new(),
            Wrote::Nothing => lock(&self.last).clone(),
        };
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = (Arc::downgrade(self), side));
    }

    /// Counts a caller that sleeps until its answer arrives without any connection read on
    /// its behalf, until the guard is dropped, and wakes every parked reader thread: the
    /// answer may come on any connection. A reader thread that parks after this sees the count
    /// (see [`ReadSide`]).
    pub(super) fn blocked(&self) -> Asleep<'_> {
        self.asleep.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        for (_, side) in lock(&self.wires).iter() {
            if let Some(side) = side.upgrade() {
                side.wake_if_parked();
            }
        }
        Asleep(self)
    }

    /// How many callers sleep with nobody reading for them.
    pub(super) fn asleep(&self) -> usize {
        self.asleep.load(Ordering::SeqCst)
    }

    /// Takes the loop's turn, waiting for it if another thread has it: once this returns,
    /// what this thread sent before has been handled.
    pub(super) fn settle(&self) {
        self.run(true);
    }

    /// Turns while messages wait; returns what these turns wrote to.
    fn run(&self, wait: bool) -> Wrote {
        let mut wait = wait;
        let mut wrote = Wrote::Nothing;
        loop {
            let mut state = if wait {
                lock(&self.state)
            } else {
                match self.state.try_lock() {
                    Ok(s) => s,
                    Err(TryLockError::WouldBlock) => return wrote,
                    Err(TryLockError::Poisoned(p)) => p.into_inner(),
                }
            };
            wait = false;
            let Some(live) = state.as_mut() else {
                return wrote;
            };
            let next = if live.turn() {
                Some(live.driver.deadline())
            } else {
                // The loop ended: dropping the driver closes its links; dropping the receivers
                // tells the handles the client is closed.
                *state = None;
                None
            };
            drop(state);
            wrote = wrote.and(self.flush_wires());
            self.arm(next);
            if next.is_none() || (self.requests.is_empty() && self.io.is_empty()) {
                return wrote;
            }
        }
    }

    /// Sends what the turn queued on any connection (most turns write to one: it is sent
    /// without gathering the list).
    fn flush_wires(&self) -> Wrote {
        let mut dirty = lock(&self.wires)
            .iter()
            .filter(|(w, _)| w.has_queued())
            .cloned()
            .collect::<Dirty>();
        let Some((w, side)) = dirty.first.take() else {
            return Wrote::Nothing;
        };
        w.flush();
        *lock(&self.last) = side.clone();
        for (w, _) in dirty.rest.iter() {
            w.flush();
        }
        if dirty.rest.is_empty() {
            Wrote::One(side)
        } else {
            Wrote::Several
        }
    }

    /// A connection's write side, flushed after every turn from now on, and its read side.
    pub(super) fn add_wire(&self, wire: Arc<Wire>, side: Weak<ReadSide>) {
        lock(&self.wires).push((wire, side));
    }

    /// Forgets a closed connection's write side.
    pub(super) fn remove_wire(&self, wire: &Arc<Wire>) {
        lock(&self.wires).retain(|(w, _)| !Arc::ptr_eq(w, wire));
    }

    /// Tells the timer thread the machine's next deadline (`None`: the loop ended). It is woken
    /// only when that deadline is earlier than the one it waits for; a deadline that moved
    /// later is not passed on (the thread wakes at the earlier one, finds nothing due, and
    /// waits again), so a command whose deadline comes and goes costs the timer nothing.
    fn arm(&self, next: Option<Option<Instant>>) {
        let mut a = lock(&self.clock.alarm);
        match next {
            None => {
                a.stopped = true;
                self.clock.ring.notify_all();
            }
            Some(Some(d)) if a.deadline.is_none_or(|old| d < old) => {
                a.deadline = Some(d);
                self.clock.ring.notify_all();
            }
            Some(_) => {}
        }
    }

    /// The timer thread: takes the turn at every deadline until the loop ends.
    pub(super) fn tick_loop(&self) {
        let mut a = lock(&self.clock.alarm);
        loop {
            if a.stopped {
                return;
            }
            let now = Instant::now();
            a = match a.deadline {
                Some(d) if d <= now => {
                    // The turn arms the machine's next deadline afresh.
                    a.deadline = None;
                    drop(a);
                    self.run(true);
                    lock(&self.clock.alarm)
                }
                Some(d) => {
                    let (a, _) = self
                        .clock
                        .ring
                        .wait_timeout(a, d - now)
                        .unwrap_or_else(PoisonError::into_inner);
                    a
                }
                None => self
                    .clock
                    .ring
                    .wait(a)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

impl Live {
    /// One turn: every message waiting (up to [`TURN`]), the deadlines that passed, then what
    /// the machine asked for; false when the loop should end.
    fn turn(&mut self) -> bool {
        for _ in 0..TURN {
            let Ok(msg) = self.io_rx.try_recv().or_else(|_| self.rx.try_recv()) else {
                break;
            };
            if !self.driver.handle(msg, Instant::now()) {
                return false;
            }
        }
        let now = Instant::now();
        if self.driver.deadline().is_some_and(|d| d <= now) {
            self.driver.on_timeout(now);
        }
        self.driver.flush();
        !self.driver.finished()
    }
}
