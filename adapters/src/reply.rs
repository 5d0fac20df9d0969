//! The answer to one submitted command: a one-shot slot (one allocation and no lock per
//! command, where a channel took several), awaited by the async clients and waited on by the
//! blocking ones.

use crate::error::Error;
use flume::RecvError;
use resp_sentinel_core::Value;

/// What the driver completes a command with.
pub(crate) type Answer = Result<Value, Error>;

/// The driver's end: completes the command once.
pub(crate) type Responder = oneshot::Sender<Answer>;

/// The caller's end of one command's answer.
pub(crate) struct Reply(oneshot::Receiver<Answer>);

/// A fresh slot for one answer.
pub(crate) fn reply() -> (Responder, Reply) {
    let (tx, rx) = oneshot::channel();
    (tx, Reply(rx))
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
        self.0.await.map_err(|_| RecvError::Disconnected)
    }

    /// The answer if it is there (`Some(Err)`: it never will be).
    pub(crate) fn try_take(&self) -> Option<Result<Answer, RecvError>> {
        match self.0.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(oneshot::TryRecvError::Empty) => None,
            Err(oneshot::TryRecvError::Disconnected) => Some(Err(RecvError::Disconnected)),
        }
    }

    /// Blocks the thread until the answer arrives.
    pub(crate) fn block(&self) -> Result<Answer, RecvError> {
        self.0.recv_ref().map_err(|_| RecvError::Disconnected)
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
    }
}
