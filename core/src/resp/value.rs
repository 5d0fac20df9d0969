//! Owned values for callers who keep replies; strings are `Bytes` slices of the read buffer.

use bytes::Bytes;

/// An owned RESP2/RESP3 value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `+` simple string.
    SimpleString(Bytes),
    /// `-` simple error, the whole line.
    Error(Bytes),
    /// `:` integer.
    Integer(i64),
    /// `$` bulk string.
    Bulk(Bytes),
    /// `$-1`, `*-1` or `_`.
    Null,
    /// `#` boolean.
    Boolean(bool),
    /// `,` double.
    Double(f64),
    /// `(` big number, digits as sent.
    BigNumber(Bytes),
    /// `!` blob error.
    BlobError(Bytes),
    /// `=` verbatim string.
    Verbatim {
        /// Format, e.g. `txt`.
        format: [u8; 3],
        /// The text.
        text: Bytes,
    },
    /// `*` array.
    Array(Vec<Value>),
    /// `%` map, pairs in wire order.
    Map(Vec<(Value, Value)>),
    /// `~` set.
    Set(Vec<Value>),
    /// `>` push.
    Push(Vec<Value>),
    /// A value preceded by a `|` attribute map, delivered together.
    Attributed {
        /// The attribute pairs.
        attributes: Vec<(Value, Value)>,
        /// The value they annotate.
        value: Box<Value>,
    },
}
