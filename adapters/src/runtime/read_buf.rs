//! The read buffer of one connection: the socket reads into a block, and each read's bytes go
//! to the driver as a slice of it, without a copy or an allocation of their own (a new block is
//! allocated once the old one is used up).
//!
//! The first block is small ([`FIRST`]) and each next one twice the size, up to [`BLOCK`]: a
//! connection that reads little (a sentinel subscription, an idle node) holds a few KiB, a busy
//! one reaches large blocks after a few refills.

use bytes::{Bytes, BytesMut};

/// The first block's size.
const FIRST: usize = 4 * 1024;

/// The largest block.
const BLOCK: usize = 64 * 1024;

/// Where a connection's reads land.
pub(crate) struct ReadBuf {
    /// Initialized, unread room: reads fill it from the front.
    room: BytesMut,
    /// The size of the next block.
    next: usize,
}

impl ReadBuf {
    /// An empty buffer (the first read allocates the first block).
    pub(crate) fn new() -> ReadBuf {
        ReadBuf {
            room: BytesMut::new(),
            next: FIRST,
        }
    }

    /// Room for the next read: at least a quarter of the current block size.
    pub(crate) fn room(&mut self) -> &mut [u8] {
        if self.room.len() < self.next / 4 {
            self.room = BytesMut::zeroed(self.next);
            self.next = (self.next * 2).min(BLOCK);
        }
        &mut self.room[..]
    }

    /// The first `n` bytes of the room, just read, as bytes of their own.
    pub(crate) fn take(&mut self, n: usize) -> Bytes {
        self.room.split_to(n.min(self.room.len())).freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_come_out_in_order_and_blocks_are_reused_until_used_up() {
        let mut b = ReadBuf::new();
        let mut seen = Vec::new();
        let mut last_block = std::ptr::null();
        let mut blocks = 0;
        for i in 0..20_000u32 {
            let room = b.room();
            assert!(room.len() >= FIRST / 4);
            if room.as_ptr() != last_block {
                // A new block starts where the room starts; within one, the room moves on.
                blocks += 1;
            }
            let n = (i % 7 + 1) as usize;
            room[..n].fill((i % 251) as u8);
            let got = b.take(n);
            assert_eq!(got.len(), n);
            assert!(got.iter().all(|&x| x == (i % 251) as u8));
            seen.push(got);
            last_block = b.room.as_ptr();
        }
        // The chunks handed out stay intact while later reads land beside them.
        for (i, got) in seen.iter().enumerate() {
            assert!(
                got.iter().all(|&x| x == (i as u32 % 251) as u8),
                "chunk {i}"
            );
        }
        let total: usize = seen.iter().map(Bytes::len).sum();
        assert!(
            blocks <= total / (BLOCK * 3 / 4) + 6,
            "{blocks} blocks for {total} bytes"
        );
        let rest = b.room.len();
        assert_eq!(b.take(usize::MAX).len(), rest);
    }

    #[test]
    fn the_first_block_is_small_and_blocks_grow_to_the_largest() {
        let mut b = ReadBuf::new();
        assert_eq!(
            b.room().len(),
            FIRST,
            "a quiet connection holds one small block"
        );
        let mut sizes = Vec::new();
        for _ in 0..64 {
            let n = b.room().len();
            sizes.push(n);
            b.take(n);
        }
        assert_eq!(
            &sizes[..5],
            &[FIRST, 2 * FIRST, 4 * FIRST, 8 * FIRST, BLOCK]
        );
        assert!(sizes[5..].iter().all(|&n| n == BLOCK), "{sizes:?}");
    }
}
