//! Bounds the decoder enforces on untrusted input.

/// Limits applied while decoding; each violation is a typed [`crate::ProtocolError`].
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_aggregate_len: 1 << 32,
            max_depth: 128,
            max_line_len: 64 * 1024,
        }
    }
}
