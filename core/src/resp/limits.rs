//! Bounds the decoder enforces on untrusted input.

/// Limits applied while decoding; each violation is a typed [`crate::ProtocolError`].
///
/// None of them sizes an allocation: the decoder never reserves memory for a length the peer
/// claims, so generous defaults cost nothing until the bytes actually arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string, blob error or verbatim string accepted (default 512 MiB, as the server).
    pub max_bulk_len: usize,
    /// Most elements in one array, set or push, or pairs in one map or attribute.
    pub max_aggregate_len: usize,
    /// Deepest nesting of aggregates (default 128).
    pub max_depth: usize,
    /// Longest line for simple strings, errors, numbers and lengths.
    pub max_line_len: usize,
    /// Most bytes one frame may span, whatever its shape (default 1 GiB): a peer streaming an
    /// endless aggregate is cut off here instead of growing the read buffer without bound.
    pub max_frame_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // The server's own `proto-max-bulk-len` default: no reply string can be longer.
            max_bulk_len: 512 * 1024 * 1024,
            // 2^32 - 1: above any real reply (a full keyspace `KEYS *` stays far below) and
            // valid on 32-bit targets too; lengths are checked, never pre-allocated.
            max_aggregate_len: u32::MAX as usize,
            // Redis replies nest a handful of levels (e.g. `XREAD`, `COMMAND DOCS`); 128 leaves
            // room while bounding the decoder's explicit stack at 128 small entries.
            max_depth: 128,
            // Simple strings and errors are short status lines; 64 KiB covers long error
            // messages (e.g. Lua script errors) while bounding the search for CRLF.
            max_line_len: 64 * 1024,
            // Above the longest bulk string the server can send (plus its framing), so no
            // reply a real server sends is refused; bounds what one reply can hold in memory.
            max_frame_len: 1024 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_server() {
        let l = Limits::default();
        assert_eq!(l.max_bulk_len, 512 << 20);
        assert_eq!(l.max_depth, 128);
        assert!(l.max_aggregate_len >= 1 << 31);
        assert!(l.max_frame_len > l.max_bulk_len + 64);
    }
}
