//! The world's agenda: events due at virtual times, popped earliest first and, at equal times,
//! in the order they were scheduled. Every part of the world (network, faults, failover) puts
//! its events on this one agenda, so the order of a run depends only on the seed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Events of type `E` ordered by due time, then by scheduling order.
pub(super) struct Agenda<E> {
    queue: BinaryHeap<Scheduled<E>>,
    seq: u64,
}

struct Scheduled<E> {
    at: Instant,
    seq: u64,
    ev: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Scheduled<E> {
    /// Reversed: the heap pops the earliest event first, ties in scheduling order.
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

impl<E> Agenda<E> {
    /// An empty agenda.
    pub(super) fn new() -> Agenda<E> {
        Agenda {
            queue: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Schedules `ev` at `at`, after everything already scheduled for that time.
    pub(super) fn push(&mut self, at: Instant, ev: E) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// Re-queues a held event at `at` under its original sequence number, so events of one
    /// connection held by overlapping partitions or pauses keep their order (TCP never
    /// reorders).
    pub(super) fn hold(&mut self, at: Instant, seq: u64, ev: E) {
        self.queue.push(Scheduled { at, seq, ev });
    }

    /// When the next event is due, if any.
    pub(super) fn next_at(&self) -> Option<Instant> {
        self.queue.peek().map(|s| s.at)
    }

    /// The earliest event if it is due at or before `now`: its time, sequence number and
    /// itself.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(Instant, u64, E)> {
        if self.queue.peek()?.at > now {
            return None;
        }
        let Scheduled { at, seq, ev } = self.queue.pop()?;
        Some((at, seq, ev))
    }
}
