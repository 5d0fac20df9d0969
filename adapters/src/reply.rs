//! The answer to one submitted command: a one-shot slot, awaited by the async clients and
//! waited on by the blocking ones.
//!
//! Slots are reused: when a caller lets go of its [`Reply`] after the driver let go of the
//! [`Responder`], the slot goes back to a small free list of the caller's thread, and that
//! thread's next command takes it instead of allocating. A caller that submits from one thread
//! (or a task that stays on one worker) routes its replies with no allocation at all.
//!
//! A slot is a mutex over its state: one uncontended lock on each side per command. No
//! `unsafe`: the slot's memory is only ever reached through an `Arc` and its mutex, so a
//! reused slot cannot be seen by the command it answered before (that command's `Responder`
//! is gone: a slot is only put back while the `Reply` holds the sole reference).

use crate::error::Error;
use flume::RecvError;
use resp_sentinel_core::Value;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;

/// What the driver completes a command with.
pub(crate) type Answer = Result<Value, Error>;

/// Most free slots a thread keeps (each is a few dozen bytes).
const FREE_MAX: usize = 64;

thread_local! {
    /// Slots this thread's callers let go of, ready for its next commands.
    static FREE: RefCell<Vec<Arc<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// Where one answer lands.
#[derive(Default)]
struct Slot(Mutex<State>);

/// A slot's state.
#[derive(Default)]
struct State {
    fill: Fill,
    /// The task to wake when the answer lands.
    waker: Option<Waker>,
    /// The thread to unpark when the answer lands.
    thread: Option<Thread>,
}

/// What a slot holds.
#[derive(Default)]
enum Fill {
    /// Nothing yet.
    #[default]
    Empty,
    /// The answer, not yet taken.
    Full(Answer),
    /// The answer was taken, or the driver let go without one.
    Done,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lands `fill` (only on an empty slot), lets go of the slot, then wakes whoever waits:
    /// a caller woken at once finds itself the slot's only holder, so the slot is reused.
    fn land(this: Arc<Slot>, fill: Fill) {
        let (waker, thread) = {
            let mut st = this.lock();
            if matches!(st.fill, Fill::Empty) {
                st.fill = fill;
            }
            (st.waker.take(), st.thread.take())
        };
        drop(this);
        if let Some(w) = waker {
            w.wake();
        }
        if let Some(t) = thread {
            t.unpark();
        }
    }
}

impl State {
    /// The answer if it is there (`Some(Err)`: it never will be, or was taken).
    fn take(&mut self) -> Option<Result<Answer, RecvError>> {
        match std::mem::replace(&mut self.fill, Fill::Done) {
            Fill::Full(a) => Some(Ok(a)),
            Fill::Done => Some(Err(RecvError::Disconnected)),
            Fill::Empty => {
                self.fill = Fill::Empty;
                None
            }
        }
    }
}

/// The driver's end: completes the command once; dropped without an answer, the caller reads
/// that none will come.
pub(crate) struct Responder(Option<Arc<Slot>>);

impl Responder {
    /// Gives the caller its answer; `Err` hands it back when the caller is gone.
    pub(crate) fn send(mut self, answer: Answer) -> Result<(), Answer> {
        let Some(slot) = self.0.take() else {
            return Err(answer);
        };
        if Arc::strong_count(&slot) == 1 {
            return Err(answer);
        }
        Slot::land(slot, Fill::Full(answer));
        Ok(())
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            Slot::land(slot, Fill::Done);
        }
    }
}

/// The caller's end of one command's answer.
pub(crate) struct Reply(Arc<Slot>);

/// A slot for one answer: a free one of this thread's, or a new one.
pub(crate) fn reply() -> (Responder, Reply) {
    let slot = FREE
        .try_with(|f| f.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    (Responder(Some(Arc::clone(&slot))), Reply(slot))
}

impl Drop for Reply {
    fn drop(&mut self) {
        // The sole reference: the driver is done with it, and nobody else can reach it.
        if Arc::strong_count(&self.0) != 1 {
            // The caller gave up first (a timeout, a dropped future): what would wake it is
            // not kept alive until the driver answers.
            let mut st = self.0.lock();
            st.waker = None;
            st.thread = None;
            return;
        }
        *self.0.lock() = State::default();
        let slot = Arc::clone(&self.0);
        let _ = FREE.try_with(|f| {
            let mut f = f.borrow_mut();
            if f.len() < FREE_MAX {
                f.push(slot);
            }
        });
    }
}

impl Reply {
    /// A reply that already holds `answer` (a command refused before it reached the driver).
    pub(crate) fn ready(answer: Answer) -> Reply {
        let (tx, rx) = reply();
        // The receiver is alive: this send cannot fail.
        let _ = tx.send(answer);
        rx
    }

    /// Waits for the answer; `Err` once the driver is gone without giving one.
    pub(crate) async fn recv_async(self) -> Result<Answer, RecvError> {
        Wait(&self).await
    }

    /// The answer if it is there (`Some(Err)`: it never will be).
    pub(crate) fn try_take(&self) -> Option<Result<Answer, RecvError>> {
        self.0.lock().take()
    }

    /// Blocks the thread until the answer arrives. One thread at a time: the slot remembers
    /// one thread to wake (a `Reply` has one caller, who owns it).
    pub(crate) fn block(&self) -> Result<Answer, RecvError> {
        let me = std::thread::current();
        let mut st = self.0.lock();
        loop {
            if let Some(got) = st.take() {
                return got;
            }
            st.thread = Some(me.clone());
            drop(st);
            // A stale unpark (from an earlier slot) only makes this look again.
            std::thread::park();
            st = self.0.lock();
        }
    }
}

/// The future of [`Reply::recv_async`].
struct Wait<'a>(&'a Reply);

impl Future for Wait<'_> {
    type Output = Result<Answer, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.0 .0.lock();
        if let Some(got) = st.take() {
            return Poll::Ready(got);
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_arrive_once_and_a_dropped_sender_reads_as_closed() {
        let (tx, rx) = reply();
        assert!(rx.try_take().is_none());
        tx.send(Ok(Value::Integer(7))).unwrap();
        assert!(matches!(rx.try_take(), Some(Ok(Ok(Value::Integer(7))))));
        let (tx, rx) = reply();
        drop(tx);
        assert!(matches!(rx.block(), Err(RecvError::Disconnected)));
        let rx = Reply::ready(Err(Error::Closed));
        let got = futures_lite::future::block_on(rx.recv_async());
        assert!(matches!(got, Ok(Err(Error::Closed))));
        let (tx, rx) = reply();
        let t = std::thread::spawn(move || tx.send(Ok(Value::Null)));
        assert!(matches!(rx.block(), Ok(Ok(Value::Null))));
        t.join().unwrap().unwrap();
        let (tx, rx) = reply();
        drop(rx);
        assert!(tx.send(Ok(Value::Null)).is_err(), "nobody waits");
    }

    /// The address of the slot a new reply gets.
    fn next_slot() -> (Responder, Reply, *const Slot) {
        let (tx, rx) = reply();
        let p = Arc::as_ptr(&rx.0);
        (tx, rx, p)
    }

    #[test]
    fn a_slot_is_reused_only_once_both_ends_let_go() {
        let (tx, rx, first) = next_slot();
        tx.send(Ok(Value::Integer(1))).unwrap();
        assert!(matches!(rx.block(), Ok(Ok(Value::Integer(1)))));
        drop(rx);
        let (tx, rx, second) = next_slot();
        assert_eq!(first, second, "the freed slot is taken again");
        assert!(rx.try_take().is_none(), "a reused slot starts empty");
        // The caller gives up first (a timeout): the driver still holds the slot, so it is
        // not reused; its late answer goes nowhere.
        drop(rx);
        let (tx2, rx2, third) = next_slot();
        assert_ne!(third, second);
        assert!(tx.send(Ok(Value::Integer(2))).is_err());
        tx2.send(Ok(Value::Integer(3))).unwrap();
        assert!(matches!(rx2.try_take(), Some(Ok(Ok(Value::Integer(3))))));
    }

    #[test]
    fn a_stale_unpark_does_not_end_a_wait_early() {
        std::thread::current().unpark();
        let (tx, rx) = reply();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.send(Ok(Value::Integer(5)))
        });
        assert!(matches!(rx.block(), Ok(Ok(Value::Integer(5)))));
        t.join().unwrap().unwrap();
    }

    #[test]
    fn the_latest_waker_is_woken_and_a_cancelled_wait_lets_go_of_it() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let (a, b) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let pending = |f: &mut Pin<Box<dyn Future<Output = _>>>, w: &Waker| {
            f.as_mut().poll(&mut Context::from_waker(w)).is_pending()
        };
        let (tx, rx) = reply();
        let mut fut: Pin<Box<dyn Future<Output = _>>> = Box::pin(rx.recv_async());
        assert!(pending(&mut fut, &wa));
        assert!(pending(&mut fut, &wb));
        tx.send(Ok(Value::Null)).unwrap();
        assert_eq!(
            (a.0.load(Ordering::SeqCst), b.0.load(Ordering::SeqCst)),
            (0, 1)
        );
        assert!(matches!(
            fut.as_mut().poll(&mut Context::from_waker(&wb)),
            Poll::Ready(Ok(Ok(Value::Null)))
        ));
        // Given up while the driver still holds the slot: the waker is let go at once.
        let (tx, rx) = reply();
        let mut fut: Pin<Box<dyn Future<Output = _>>> = Box::pin(rx.recv_async());
        assert!(pending(&mut fut, &wa));
        let held = Arc::strong_count(&a);
        drop(fut);
        assert_eq!(
            Arc::strong_count(&a),
            held - 1,
            "the slot dropped its waker"
        );
        drop(tx);
    }

    #[test]
    fn an_async_caller_is_woken_by_an_answer_from_another_thread() {
        for i in 0..200 {
            let (tx, rx) = reply();
            let t = std::thread::spawn(move || tx.send(Ok(Value::Integer(i))));
            let got = futures_lite::future::block_on(rx.recv_async());
            assert!(matches!(got, Ok(Ok(Value::Integer(n))) if n == i));
            t.join().unwrap().unwrap();
            let (tx, rx) = reply();
            let t = std::thread::spawn(move || drop(tx));
            assert!(matches!(rx.block(), Err(RecvError::Disconnected)));
            t.join().unwrap();
        }
    }
}
