//! Borrowed frames: views over a validated buffer, no heap allocation.

/// One decoded RESP2/RESP3 frame borrowing its bytes from the input buffer.
///
/// RESP2 null bulk strings and null arrays, and the RESP3 null, all read as [`Frame::Null`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Frame<'a> {
    /// `+` simple string.
    SimpleString(&'a [u8]),
    /// `-` simple error, the whole line (e.g. `ERR unknown command`).
    Error(&'a [u8]),
    /// `:` integer.
    Integer(i64),
    /// `$` bulk string.
    Bulk(&'a [u8]),
    /// `$-1`, `*-1` or `_`.
    Null,
    /// `#` boolean.
    Boolean(bool),
    /// `,` double, including `inf`, `-inf` and `nan`.
    Double(f64),
    /// `(` big number, the digits as sent.
    BigNumber(&'a [u8]),
    /// `!` blob error.
    BlobError(&'a [u8]),
    /// `=` verbatim string: three-byte format (e.g. `txt`) and text.
    Verbatim {
        /// Format, e.g. `txt` or `mkd`.
        format: [u8; 3],
        /// The text after `fmt:`.
        text: &'a [u8],
    },
    /// `*` array.
    Array(Aggregate<'a>),
    /// `%` map: elements alternate key, value.
    Map(Aggregate<'a>),
    /// `~` set.
    Set(Aggregate<'a>),
    /// `>` push (out-of-band data such as pub/sub messages).
    Push(Aggregate<'a>),
}

/// The elements of an array, map, set, push or attribute, decoded lazily from validated bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate<'a> {
    /// Number of top-level elements (for maps and attributes: number of pairs).
    pub(crate) len: usize,
    /// True for maps and attributes, whose elements come in pairs.
    pub(crate) pairs: bool,
    /// The encoded elements, already validated by the decoder.
    pub(crate) body: &'a [u8],
}

impl<'a> Aggregate<'a> {
    /// Number of elements, or of pairs for a map.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoded bytes of the elements.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.body
    }
}
