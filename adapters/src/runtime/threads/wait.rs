//! How a blocking caller waits for an answer: it watches for it a little while before it
//! sleeps, since the reader thread usually completes it within microseconds of the caller's
//! write, and a sleeping caller costs a wake-up (two `futex` calls and a trip through the
//! scheduler, which on a busy machine is most of a round trip). A caller watches only when no
//! other caller of the process is waiting: with several callers, answers arrive together,
//! and watching would only take a core from the threads that produce them.

use crate::reply::{Answer, Reply};
use flume::{Receiver, RecvError, TryRecvError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many callers are waiting for an answer.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// How long a caller spins (without giving up its core) before it yields.
const SPIN: Duration = Duration::from_micros(5);

/// How long a caller watches (yielding its core to any other thread that wants it) before it
/// sleeps until the answer arrives.
const WATCH: Duration = Duration::from_micros(50);

/// Waiting on the answer channel of a blocking call.
pub(crate) trait Wait<T> {
    /// The answer, or `Err` once nobody can send one.
    fn wait(&self) -> Result<T, RecvError>;
}

/// Where an answer arrives: a channel, or a command's one-shot [`Reply`].
trait Slot<T> {
    /// The answer if it is there (`Some(Err)`: it never will be).
    fn try_take(&self) -> Option<Result<T, RecvError>>;
    /// Sleeps until the answer arrives.
    fn block(&self) -> Result<T, RecvError>;
}

impl<T> Slot<T> for Receiver<T> {
    fn try_take(&self) -> Option<Result<T, RecvError>> {
        match self.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(TryRecvError::Disconnected) => Some(Err(RecvError::Disconnected)),
            Err(TryRecvError::Empty) => None,
        }
    }

    fn block(&self) -> Result<T, RecvError> {
        self.recv()
    }
}

impl Slot<Answer> for Reply {
    fn try_take(&self) -> Option<Result<Answer, RecvError>> {
        Reply::try_take(self)
    }

    fn block(&self) -> Result<Answer, RecvError> {
        Reply::block(self)
    }
}

impl<T> Wait<T> for Receiver<T> {
    fn wait(&self) -> Result<T, RecvError> {
        wait_on(self)
    }
}

impl Wait<Answer> for Reply {
    fn wait(&self) -> Result<Answer, RecvError> {
        if let Some(got) = self.try_take() {
            return got;
        }
        // Read the answer off the socket if nobody else is reading it (see `read`).
        let (engine, side) = super::engine::current();
        let mut _counted = None;
        if let Some(side) = side.as_deref() {
            let (waiting, got) = side.hold(self);
            if let Some(got) = got {
                return got;
            }
            _counted = Some(waiting);
        }
        // Asleep: the loop's parked reader threads read again meanwhile.
        let _asleep = engine.as_deref().map(super::engine::Engine::blocked);
        wait_on(self)
    }
}

fn wait_on<T>(slot: &impl Slot<T>) -> Result<T, RecvError> {
    let alone = WAITING.fetch_add(1, Ordering::Relaxed) == 0;
    let got = match alone.then(|| watch(slot)).flatten() {
        Some(got) => got,
        None => slot.block(),
    };
    WAITING.fetch_sub(1, Ordering::Relaxed);
    got
}

/// The answer if it arrives within [`WATCH`] (or can no longer arrive).
fn watch<T>(slot: &impl Slot<T>) -> Option<Result<T, RecvError>> {
    let start = Instant::now();
    loop {
        if let Some(got) = slot.try_take() {
            return Some(got);
        }
        let waited = start.elapsed();
        if waited < SPIN {
            std::hint::spin_loop();
        } else if waited < WATCH {
            std::thread::yield_now();
        } else {
            return None;
        }
    }
}
