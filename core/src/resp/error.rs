//! Typed errors for malformed or over-limit RESP input.

use std::fmt;

/// Why input could not be decoded, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    /// Byte offset from the start of the frame being decoded where the problem was found.
    pub offset: usize,
    /// What was wrong.
    pub kind: ProtocolErrorKind,
}

/// The reason a [`ProtocolError`] was raised.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolErrorKind {
    /// The first byte of a frame is not a RESP type marker.
    InvalidPrefix(u8),
    /// An integer or length field is not a valid decimal number, or overflows.
    InvalidInteger,
    /// A double is not a valid RESP3 double.
    InvalidDouble,
    /// A boolean is neither `t` nor `f`.
    InvalidBoolean,
    /// A big number has characters other than an optional sign and digits.
    InvalidBigNumber,
    /// A verbatim string lacks its three-byte format and colon.
    InvalidVerbatim,
    /// A line or payload is not followed by CRLF.
    MissingCrlf,
    /// A negative length other than -1 (null), or -1 where null is not allowed.
    InvalidLength(i64),
    /// A bulk payload longer than [`crate::Limits::max_bulk_len`].
    BulkTooLong {
        /// Length the peer claimed.
        len: u64,
        /// Configured limit.
        max: usize,
    },
    /// An aggregate longer than [`crate::Limits::max_aggregate_len`].
    AggregateTooLong {
        /// Length the peer claimed.
        len: u64,
        /// Configured limit.
        max: usize,
    },
    /// Aggregates nested deeper than [`crate::Limits::max_depth`].
    TooDeep {
        /// Configured limit.
        max: usize,
    },
    /// A line longer than [`crate::Limits::max_line_len`] without CRLF.
    LineTooLong {
        /// Configured limit.
        max: usize,
    },
    /// A frame still incomplete after [`crate::Limits::max_frame_len`] bytes.
    FrameTooLong {
        /// Configured limit.
        max: usize,
    },
    /// An attribute map followed by another attribute map instead of the value it annotates.
    ConsecutiveAttributes,
    /// A RESP3 streamed string or aggregate (`$?`, `*?`...), which Redis never sends.
    StreamedUnsupported,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RESP protocol error at byte {}: ", self.offset)?;
        match &self.kind {
            ProtocolErrorKind::InvalidPrefix(b) => write!(f, "invalid type byte 0x{b:02x}"),
            ProtocolErrorKind::InvalidInteger => f.write_str("invalid integer"),
            ProtocolErrorKind::InvalidDouble => f.write_str("invalid double"),
            ProtocolErrorKind::InvalidBoolean => f.write_str("invalid boolean"),
            ProtocolErrorKind::InvalidBigNumber => f.write_str("invalid big number"),
            ProtocolErrorKind::InvalidVerbatim => f.write_str("invalid verbatim string header"),
            ProtocolErrorKind::MissingCrlf => f.write_str("expected CRLF"),
            ProtocolErrorKind::InvalidLength(n) => write!(f, "invalid length {n}"),
            ProtocolErrorKind::BulkTooLong { len, max } => {
                write!(f, "bulk length {len} exceeds limit {max}")
            }
            ProtocolErrorKind::AggregateTooLong { len, max } => {
                write!(f, "aggregate length {len} exceeds limit {max}")
            }
            ProtocolErrorKind::TooDeep { max } => write!(f, "nesting deeper than {max}"),
            ProtocolErrorKind::LineTooLong { max } => write!(f, "line longer than {max} bytes"),
            ProtocolErrorKind::FrameTooLong { max } => {
                write!(f, "reply larger than the {max}-byte limit")
            }
            ProtocolErrorKind::ConsecutiveAttributes => {
                f.write_str("attribute map not followed by the value it annotates")
            }
            ProtocolErrorKind::StreamedUnsupported => {
                f.write_str("streamed RESP3 types are not supported")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}
