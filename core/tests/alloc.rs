//! Proves the borrowed path allocates nothing per frame: parsing scalars and bulk strings, and
//! iterating arrays and maps through the view, after the decoder has warmed up.

use resp_sentinel_core::{Decoder, Frame};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations made by the current thread (const-initialised: reading it never allocates).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting allocations per thread so parallel tests do not interfere.
struct Counting;

// SAFETY: every method forwards to `System` with the caller's own arguments unchanged, so the
// `GlobalAlloc` contract (layouts honoured, pointers valid until deallocated, no unwinding) is
// exactly `System`'s. The only extra work is incrementing a `const`-initialised thread-local
// `Cell`, which neither allocates (so it cannot recurse into the allocator) nor panics:
// `try_with` ignores the access if the thread-local has already been destroyed at thread exit.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Parses every frame of `stream` (fed in `chunk`-byte steps), touching every element through
/// the view; returns the number of frames.
fn consume(d: &mut Decoder, stream: &[u8], chunk: usize) -> usize {
    let mut frames = 0;
    let mut start = 0;
    let mut end = 0;
    while start < stream.len() {
        end = (end + chunk).min(stream.len());
        let Some(p) = d.parse(&stream[start..end]).expect("valid input") else {
            continue;
        };
        frames += 1;
        let mut sum = 0usize;
        if let Some(a) = p.frame.as_aggregate() {
            for f in a.iter() {
                if let Some(b) = f.as_bytes() {
                    sum += b.len();
                }
            }
            for (k, v) in a.pairs() {
                sum += k.as_bytes().map_or(0, <[u8]>::len) + usize::from(v != Frame::Null);
            }
            for e in a.iter_attributed() {
                sum += usize::from(e.attributes.is_some());
            }
        }
        std::hint::black_box(sum);
        start += p.len;
        end = start;
    }
    frames
}

#[test]
fn zero_allocations_per_frame() {
    let mut stream = Vec::new();
    for _ in 0..100 {
        stream.extend_from_slice(b"+OK\r\n:12345\r\n-ERR no\r\n_\r\n,3.25\r\n#t\r\n(99\r\n");
        stream
            .extend_from_slice(b"$16\r\n0123456789abcdef\r\n$-1\r\n!3\r\nerr\r\n=7\r\ntxt:abc\r\n");
        stream.extend_from_slice(b"*3\r\n$3\r\nfoo\r\n$3\r\nbar\r\n*1\r\n:1\r\n");
        stream.extend_from_slice(b"%2\r\n+role\r\n+master\r\n+port\r\n:6379\r\n");
        stream.extend_from_slice(b"|1\r\n+ttl\r\n:5\r\n>2\r\n+message\r\n|0\r\n$1\r\nx\r\n");
    }
    let mut d = Decoder::new();
    // Warm-up: the decoder's explicit stack reaches its working capacity.
    assert_eq!(consume(&mut d, &stream, stream.len()), 1400);

    for chunk in [stream.len(), 7, 1] {
        let before = allocations();
        let frames = consume(&mut d, &stream, chunk);
        let after = allocations();
        assert_eq!(frames, 1400);
        assert_eq!(
            after - before,
            0,
            "{} allocations for {frames} frames fed in {chunk}-byte chunks",
            after - before
        );
    }
}

/// Owned values: a scalar frame with a short string costs no allocation at all (the string is
/// inline, and no `Bytes` of the frame is made), and an aggregate of short strings costs exactly
/// its one `Vec`.
#[test]
fn owned_short_strings_allocate_nothing() {
    let mut d = Decoder::new();
    let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
    let scalars: &[u8] = b"+OK\r\n$16\r\n0123456789abcdef\r\n:7\r\n-ERR short\r\n_\r\n(12\r\n";
    let array: &[u8] = b"*3\r\n$3\r\nfoo\r\n+bar\r\n:1\r\n";
    for _ in 0..100 {
        buf.extend_from_slice(scalars);
        buf.extend_from_slice(array);
    }
    // Warm-up: the decoder's reusable stacks reach their working capacity.
    let v = d.decode(&mut buf).unwrap().unwrap();
    assert_eq!(v.as_str(), Some("OK"));
    for round in 0..100 {
        let skip = usize::from(round == 0);
        let before = allocations();
        for _ in skip..6 {
            let v = d.decode(&mut buf).expect("valid").expect("complete");
            std::hint::black_box(&v);
        }
        assert_eq!(allocations() - before, 0, "scalars of round {round}");
        let before = allocations();
        let v = d.decode(&mut buf).expect("valid").expect("complete");
        assert_eq!(allocations() - before, 1, "the array's one Vec");
        assert_eq!(v.as_array().map(<[_]>::len), Some(3));
    }
    assert!(buf.is_empty());
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above against a counter that never counts.
    let before = allocations();
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(16));
    assert!(allocations() > before);
    drop(v);
}
