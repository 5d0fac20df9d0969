//! How a blocking caller waits for an answer: it watches for it a little while before it
//! sleeps, since the reader thread usually completes it within microseconds of the caller's
//! write, and a sleeping caller costs a wake-up (two `futex` calls and a trip through the
//! scheduler, which on a busy machine is most of a round trip). A caller watches only when no
//! other caller of the process is waiting: with several callers, answers arrive together,
//! and watching would only take a core from the threads that produce them.

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

impl<T> Wait<T> for Receiver<T> {
    fn wait(&self) -> Result<T, RecvError> {
        let alone = WAITING.fetch_add(1, Ordering::Relaxed) == 0;
        let got = match alone.then(|| watch(self)).flatten() {
            Some(got) => got,
            None => self.recv(),
        };
        WAITING.fetch_sub(1, Ordering::Relaxed);
        got
    }
}

/// The answer if it arrives within [`WATCH`] (or the channel closes).
fn watch<T>(rx: &Receiver<T>) -> Option<Result<T, RecvError>> {
    let start = Instant::now();
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(Ok(v)),
            Err(TryRecvError::Disconnected) => return Some(Err(RecvError::Disconnected)),
            Err(TryRecvError::Empty) => {}
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
