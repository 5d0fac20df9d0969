//! Borrowed frames: views over a validated buffer, no heap allocation.

use super::from_frame::{build_aggregate, sub_str};
use super::scan::{is_pairs, read_item, short_len, skip, Item};
use super::Value;
use bytes::Bytes;

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

impl<'a> Frame<'a> {
    /// Converts to an owned [`Value`]; short strings are copied inline, long ones become
    /// slices of `backing` when the frame borrows from it (no copy), and copies otherwise. Attributes inside aggregates are kept
    /// as [`Value::Attributed`].
    pub fn to_value(&self, backing: &Bytes) -> Value {
        let b = |s: &[u8]| sub_str(backing, s);
        match *self {
            Frame::SimpleString(s) => Value::SimpleString(b(s)),
            Frame::Error(s) => Value::Error(b(s)),
            Frame::Integer(n) => Value::Integer(n),
            Frame::Bulk(s) => Value::Bulk(b(s)),
            Frame::Null => Value::Null,
            Frame::Boolean(v) => Value::Boolean(v),
            Frame::Double(v) => Value::Double(v),
            Frame::BigNumber(s) => Value::BigNumber(b(s)),
            Frame::BlobError(s) => Value::BlobError(b(s)),
            Frame::Verbatim { format, text } => Value::Verbatim {
                format,
                text: b(text),
            },
            Frame::Array(a) => Value::Array(build_aggregate(a, backing)),
            Frame::Set(a) => Value::Set(build_aggregate(a, backing)),
            Frame::Push(a) => Value::Push(build_aggregate(a, backing)),
            Frame::Map(a) => Value::Map(super::from_frame::into_pairs(build_aggregate(a, backing))),
        }
    }

    /// The aggregate behind an array, map, set or push.
    pub fn as_aggregate(&self) -> Option<Aggregate<'a>> {
        match *self {
            Frame::Array(a) | Frame::Map(a) | Frame::Set(a) | Frame::Push(a) => Some(a),
            _ => None,
        }
    }

    /// The bytes of a simple string, bulk string or verbatim text.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Frame::SimpleString(s) | Frame::Bulk(s) => Some(s),
            Frame::Verbatim { text, .. } => Some(text),
            _ => None,
        }
    }
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

    /// Number of frames [`Aggregate::iter`] yields: pairs count twice.
    fn elements(&self) -> usize {
        if self.pairs {
            self.len.saturating_mul(2)
        } else {
            self.len
        }
    }

    /// The elements in wire order (keys and values alternate for a map), skipping any attribute
    /// that annotates an element. Re-reads the validated bytes: no allocation, no recursion.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            buf: self.body,
            pos: 0,
            remaining: self.elements(),
        }
    }

    /// Like [`Aggregate::iter`], but each element comes with the attribute map that preceded
    /// it, if any.
    pub fn iter_attributed(&self) -> AttributedIter<'a> {
        AttributedIter { inner: self.iter() }
    }

    /// The elements two by two: the pairs of a map or attribute, or of a RESP2 flat array of
    /// key, value, key, value (as `HGETALL` or `SENTINEL replicas` send). A trailing odd element
    /// of an array is not returned.
    pub fn pairs(&self) -> Pairs<'a> {
        Pairs { inner: self.iter() }
    }
}

impl<'a> IntoIterator for Aggregate<'a> {
    type Item = Frame<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// An element of an aggregate together with the attribute map that annotates it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Element<'a> {
    /// The `|` attribute pairs sent just before the element, if any.
    pub attributes: Option<Aggregate<'a>>,
    /// The element.
    pub frame: Frame<'a>,
}

/// Iterator over the elements of an [`Aggregate`], attributes skipped.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
    remaining: usize,
}

impl<'a> Iter<'a> {
    /// Next element with the attribute that precedes it.
    fn next_element(&mut self) -> Option<Element<'a>> {
        let mut attributes = None;
        while self.remaining > 0 {
            let Some((item, next)) = read_item(self.buf, self.pos) else {
                break;
            };
            match item {
                Item::Frame(frame) => {
                    self.pos = next;
                    self.remaining -= 1;
                    return Some(Element { attributes, frame });
                }
                Item::Agg { kind, len } => {
                    let pairs = is_pairs(kind);
                    let elems = if pairs { len.saturating_mul(2) } else { len };
                    let Some(end) = skip(self.buf, next, elems) else {
                        break;
                    };
                    let agg = Aggregate {
                        len,
                        pairs,
                        body: self.buf.get(next..end).unwrap_or_default(),
                    };
                    self.pos = end;
                    let frame = match kind {
                        b'|' => {
                            attributes = Some(agg);
                            continue;
                        }
                        b'%' => Frame::Map(agg),
                        b'~' => Frame::Set(agg),
                        b'>' => Frame::Push(agg),
                        _ => Frame::Array(agg),
                    };
                    self.remaining -= 1;
                    return Some(Element { attributes, frame });
                }
            }
        }
        // Only reachable on bytes the decoder did not validate: end the iteration.
        self.remaining = 0;
        None
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Frame<'a>;
    #[inline]
    fn next(&mut self) -> Option<Frame<'a>> {
        // The common element, a bulk string with a short plain length (its CRLF was checked
        // by the decoder), read inline; everything else takes the general reader.
        if self.remaining > 0 && self.buf.get(self.pos) == Some(&b'$') {
            if let Some((len, start)) = short_len(self.buf, self.pos + 1) {
                let end = start.saturating_add(len);
                if let Some(payload) = self.buf.get(start..end) {
                    self.pos = end.saturating_add(2);
                    self.remaining -= 1;
                    return Some(Frame::Bulk(payload));
                }
            }
        }
        self.next_element().map(|e| e.frame)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}
impl std::iter::FusedIterator for Iter<'_> {}

/// Iterator over the elements of an [`Aggregate`] with their attributes.
#[derive(Clone, Debug)]
pub struct AttributedIter<'a> {
    inner: Iter<'a>,
}

impl<'a> Iterator for AttributedIter<'a> {
    type Item = Element<'a>;
    fn next(&mut self) -> Option<Element<'a>> {
        self.inner.next_element()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Iterator over the elements of an [`Aggregate`] two by two.
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    inner: Iter<'a>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (Frame<'a>, Frame<'a>);
    fn next(&mut self) -> Option<(Frame<'a>, Frame<'a>)> {
        let k = self.inner.next()?;
        let v = self.inner.next()?;
        Some((k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.inner.remaining / 2;
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decoder;

    #[test]
    fn pairs_of_a_resp2_flat_array() {
        let input = b"*5\r\n$4\r\nname\r\n$2\r\nr1\r\n$4\r\nport\r\n:6380\r\n+odd\r\n";
        let p = Decoder::new().parse(input).unwrap().unwrap();
        let a = p.frame.as_aggregate().unwrap();
        let pairs: Vec<_> = a.pairs().collect();
        assert_eq!(
            pairs,
            vec![
                (Frame::Bulk(b"name"), Frame::Bulk(b"r1")),
                (Frame::Bulk(b"port"), Frame::Integer(6380)),
            ]
        );
        assert_eq!(a.iter().len(), 5);
        assert_eq!(a.into_iter().last(), Some(Frame::SimpleString(b"odd")));
    }

    #[test]
    fn to_value_slices_or_copies() {
        let backing = Bytes::from_static(
            b"*3\r\n+a\r\n%1\r\n+k\r\n|0\r\n:1\r\n$24\r\nlong enough to be shared\r\n",
        );
        let p = Decoder::new().parse(&backing).unwrap().unwrap();
        let v = p.frame.to_value(&backing);
        let expected = Value::Array(vec![
            Value::SimpleString("a".into()),
            Value::Map(vec![(
                Value::SimpleString("k".into()),
                Value::Attributed {
                    attributes: vec![],
                    value: Box::new(Value::Integer(1)),
                },
            )]),
            Value::Bulk("long enough to be shared".into()),
        ]);
        assert_eq!(v, expected);
        let Value::Array(items) = &v else { panic!() };
        let (Value::SimpleString(short), Value::Bulk(long)) = (&items[0], &items[2]) else {
            panic!()
        };
        assert!(!short.is_shared(), "short strings are copied inline");
        assert_eq!(long.as_ptr(), backing[29..].as_ptr(), "zero-copy slice");
        // A frame not inside `backing` is copied, not a panic.
        let other = Bytes::from_static(b"unrelated");
        assert_eq!(p.frame.to_value(&other), expected);
        assert_eq!(Frame::Bulk(b"xy").as_bytes(), Some(&b"xy"[..]));
        assert_eq!(Frame::Integer(1).as_aggregate(), None);
    }
}
