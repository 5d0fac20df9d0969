//! The buffers every contender decodes: each is many frames back to back in one allocation.

use bytes::Bytes;

/// A real `SENTINEL replicas mymaster` reply from Redis 7.0 (two replicas), RESP2: an array of
/// two flat arrays of 21 field/value pairs. Captured from a local sentinel.
pub const SENTINEL_REPLICAS_RESP2: &[u8] = include_bytes!("../data/sentinel_replicas.resp2");

/// The same reply after `HELLO 3`: an array of two maps of 21 pairs.
pub const SENTINEL_REPLICAS_RESP3: &[u8] = include_bytes!("../data/sentinel_replicas.resp3");

/// One benchmark input: `frames` top-level frames encoded back to back in `bytes`.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Short name printed in the table.
    pub name: &'static str,
    /// The encoded frames.
    pub bytes: Bytes,
    /// How many top-level frames `bytes` holds; every contender must find exactly this many.
    pub frames: usize,
    /// True when the buffer uses RESP3-only types, so RESP2-only decoders are skipped.
    pub resp3: bool,
}

impl Workload {
    fn repeat(name: &'static str, frame: &[u8], frames: usize, resp3: bool) -> Workload {
        let mut bytes = Vec::with_capacity(frame.len() * frames);
        for _ in 0..frames {
            bytes.extend_from_slice(frame);
        }
        Workload {
            name,
            bytes: Bytes::from(bytes),
            frames,
            resp3,
        }
    }
}

/// Appends a bulk string of `len` bytes of filler (`a`..`z` repeating) to `out`.
pub fn push_bulk(out: &mut Vec<u8>, len: usize) {
    out.push(b'$');
    out.extend_from_slice(len.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend((0..len).map(|i| b'a' + (i % 26) as u8));
    out.extend_from_slice(b"\r\n");
}

/// 100k `+OK\r\n`.
pub fn simple_ok() -> Workload {
    Workload::repeat("100k +OK", b"+OK\r\n", 100_000, false)
}

/// 100k 16-byte bulk strings.
pub fn bulk_16() -> Workload {
    let mut frame = Vec::new();
    push_bulk(&mut frame, 16);
    Workload::repeat("100k bulk 16 B", &frame, 100_000, false)
}

/// 10k 4 KiB bulk strings.
pub fn bulk_4k() -> Workload {
    let mut frame = Vec::new();
    push_bulk(&mut frame, 4096);
    Workload::repeat("10k bulk 4 KiB", &frame, 10_000, false)
}

/// 10k arrays of 10 bulk strings of 8 bytes (an `MGET`-style reply).
pub fn array_10x8() -> Workload {
    let mut frame = b"*10\r\n".to_vec();
    for _ in 0..10 {
        push_bulk(&mut frame, 8);
    }
    Workload::repeat("10k array 10x8 B", &frame, 10_000, false)
}

/// 1k real `SENTINEL replicas` replies, RESP2 (flat arrays).
pub fn sentinel_replicas_resp2() -> Workload {
    Workload::repeat(
        "1k SENTINEL replicas RESP2",
        SENTINEL_REPLICAS_RESP2,
        1_000,
        false,
    )
}

/// 1k real `SENTINEL replicas` replies, RESP3 (maps).
pub fn sentinel_replicas_resp3() -> Workload {
    Workload::repeat(
        "1k SENTINEL replicas RESP3",
        SENTINEL_REPLICAS_RESP3,
        1_000,
        true,
    )
}

/// Every workload of the codec benchmark, in table order.
pub fn all() -> Vec<Workload> {
    vec![
        simple_ok(),
        bulk_16(),
        bulk_4k(),
        array_10x8(),
        sentinel_replicas_resp2(),
        sentinel_replicas_resp3(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_captures_are_one_complete_reply_each() {
        // Each capture is `*2` of two 21-pair replica descriptions and ends with CRLF.
        assert!(SENTINEL_REPLICAS_RESP2.starts_with(b"*2\r\n*42\r\n$4\r\nname\r\n"));
        assert!(SENTINEL_REPLICAS_RESP3.starts_with(b"*2\r\n%21\r\n$4\r\nname\r\n"));
        for capture in [SENTINEL_REPLICAS_RESP2, SENTINEL_REPLICAS_RESP3] {
            assert!(capture.ends_with(b"replica-announced\r\n$1\r\n1\r\n"));
            // 2 + 2 * 42 headers/items, each one line, plus 84 payload lines.
            let lines = capture.windows(2).filter(|w| w == b"\r\n").count();
            assert_eq!(lines, 1 + 2 * (1 + 42 * 2));
        }
    }

    #[test]
    fn workloads_have_the_sizes_the_table_claims() {
        let ok = simple_ok();
        assert_eq!(ok.bytes.len(), 5 * 100_000);
        let b16 = bulk_16();
        assert_eq!(b16.bytes.len(), (5 + 16 + 2) * 100_000);
        assert!(b16.bytes.starts_with(b"$16\r\nabcdefghijklmnop\r\n$16\r\n"));
        let b4k = bulk_4k();
        assert_eq!(b4k.bytes.len(), (7 + 4096 + 2) * 10_000);
        let arr = array_10x8();
        assert_eq!(arr.bytes.len(), (5 + 10 * 14) * 10_000);
        assert_eq!(all().len(), 6);
        assert!(all().iter().filter(|w| w.resp3).count() == 1);
    }
}
