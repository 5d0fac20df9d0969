//! The incremental decoder: explicit stack, resumable scanning, typed errors.

use super::{Aggregate, Frame, Limits, ProtocolError, Value};
use bytes::BytesMut;

/// A complete frame found at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parsed<'a> {
    /// The frame.
    pub frame: Frame<'a>,
    /// A `|` attribute map that preceded the frame, if any.
    pub attributes: Option<Aggregate<'a>>,
    /// Bytes the frame (with its attributes) occupies; the caller consumes them.
    pub len: usize,
}

/// Incremental RESP2/RESP3 decoder.
///
/// Feed it the same buffer, growing, until a frame completes; it remembers how far it scanned,
/// so total work is linear in the input whatever the chunking.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
}

impl Decoder {
    /// A decoder with default [`Limits`].
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Decoder {
        Decoder { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Looks for one complete frame at the start of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed: call again with the same buffer extended. After a
    /// complete frame the caller drops `len` bytes from the front before the next call.
    pub fn parse<'b>(&mut self, buf: &'b [u8]) -> Result<Option<Parsed<'b>>, ProtocolError> {
        let _ = buf;
        todo!("issue #2: incremental decoder")
    }

    /// Splits one complete frame off the front of `buf` and returns it as an owned [`Value`].
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, ProtocolError> {
        let _ = buf;
        todo!("issue #2: owned decode")
    }
}
