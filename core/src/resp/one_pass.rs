//! Single-pass owned decoding of an aggregate frame that is complete in the buffer.
//!
//! [`Builder::build`] reads the frame once, checking syntax and limits exactly as the
//! incremental decoder does, and builds the [`Value`] as it goes. Short strings are copied
//! inline as they are read. A long string must be a slice of the frame's `Bytes`, which can only
//! exist once the frame's length is known: it gets an empty placeholder and its path from the
//! root is recorded, and [`Builder::patch`] fills the placeholders in from the frozen frame
//! afterwards. Anything unusual (incomplete input, any syntax
//! error, any limit reached, attributes, verbatim strings) makes `build` give up, and the caller
//! takes the general, incremental path, which produces the same result or the same typed error.
//! Nesting uses an explicit stack, never recursion; the stack is reused from frame to frame.

use super::scan::{find_cr, head, parse_len, short_len, Head};
use super::{ByteStr, Frame, Limits, Value};
use bytes::Bytes;

/// An aggregate being filled.
#[derive(Debug)]
struct Open {
    kind: u8,
    /// Elements still expected (pairs count twice).
    remaining: usize,
    items: Vec<Value>,
    pairs: Vec<(Value, Value)>,
    key: Option<Value>,
}

impl Open {
    /// An aggregate of `elems` elements, with `room` bytes of input left after its header.
    fn new(kind: u8, elems: usize, room: usize) -> Open {
        // Each element takes at least 3 bytes of input that has arrived: the capacity is
        // bounded by bytes that exist, never by a claimed length alone.
        let cap = elems.min(room / 3);
        let (items, pairs) = if kind == b'%' {
            (Vec::new(), Vec::with_capacity(cap / 2))
        } else {
            (Vec::with_capacity(cap), Vec::new())
        };
        Open {
            kind,
            remaining: elems,
            items,
            pairs,
            key: None,
        }
    }

    #[inline(always)]
    fn push(&mut self, v: Value) {
        self.remaining -= 1;
        if self.kind == b'%' {
            match self.key.take() {
                Some(k) => self.pairs.push((k, v)),
                None => self.key = Some(v),
            }
        } else {
            self.items.push(v);
        }
    }

    /// Pushes the run of short bulk strings at `pos` (up to what the aggregate still expects);
    /// returns the offset past the last one taken.
    #[inline(always)]
    fn take_short_bulks(
        &mut self,
        buf: &[u8],
        mut pos: usize,
        limits: &Limits,
        examined: &mut u64,
    ) -> usize {
        if self.kind != b'%' {
            while self.remaining > 0 {
                let Some((s, next)) = short_bulk(buf, pos, limits, examined) else {
                    break;
                };
                pos = next;
                self.remaining -= 1;
                self.items.push(Value::Bulk(s));
            }
            return pos;
        }
        if let Some(k) = self.key.take() {
            // A key is waiting for its value.
            let Some((v, next)) = short_bulk(buf, pos, limits, examined) else {
                self.key = Some(k);
                return pos;
            };
            pos = next;
            self.remaining -= 1;
            self.pairs.push((k, Value::Bulk(v)));
        }
        while self.remaining >= 2 {
            let Some((k, next)) = short_bulk(buf, pos, limits, examined) else {
                break;
            };
            pos = next;
            self.remaining -= 1;
            let Some((v, next)) = short_bulk(buf, pos, limits, examined) else {
                self.key = Some(Value::Bulk(k));
                break;
            };
            pos = next;
            self.remaining -= 1;
            self.pairs.push((Value::Bulk(k), Value::Bulk(v)));
        }
        pos
    }

    /// The index the next element pushed will have (see `Builder::paths`).
    fn next_index(&self) -> usize {
        if self.kind == b'%' {
            self.pairs.len() * 2 + usize::from(self.key.is_some())
        } else {
            self.items.len()
        }
    }

    fn finish(self) -> Value {
        match self.kind {
            b'%' => Value::Map(self.pairs),
            b'~' => Value::Set(self.items),
            b'>' => Value::Push(self.items),
            _ => Value::Array(self.items),
        }
    }
}

/// One element read by [`Builder::element`].
enum Elem {
    /// A scalar, or an empty or null aggregate.
    Value(Value),
    /// A string too long to be inline: an empty placeholder, and where the string is.
    Long(Value, usize, usize),
    /// The header of an aggregate with `elems > 0` elements (pairs count twice).
    Open(u8, usize),
}

/// A long string waiting for [`Builder::patch`].
#[derive(Clone, Copy, Debug)]
struct Long {
    start: usize,
    end: usize,
    /// `paths[path..path_end]` leads from the root to its placeholder.
    path: usize,
    path_end: usize,
}

/// Reusable state of the single-pass path.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    /// The aggregates enclosing the one being filled.
    parents: Vec<Open>,
    /// Long strings of the last frame built: where they are in the frame (`start..end`), and
    /// where their paths from the root start in `paths`.
    long: Vec<Long>,
    /// The paths of the long strings, one after the other: child indexes, root first (in a
    /// map, the key of pair `i` is child `2i` and its value `2i + 1`).
    paths: Vec<usize>,
    /// Bytes searched or parsed by `build`, whether it succeeded or gave up.
    pub(crate) examined: u64,
}

impl Builder {
    /// Builds the complete aggregate frame at the start of `buf`; returns it and its length,
    /// or `None` when the general path must handle it (see the module docs). When
    /// [`Builder::has_long_strings`], the value holds placeholders for [`Builder::patch`].
    pub(crate) fn build(&mut self, buf: &[u8], limits: &Limits) -> Option<(Value, usize)> {
        let mut examined = 0u64;
        let r = self.build_counted(buf, limits, &mut examined);
        self.examined += examined;
        r
    }

    /// Whether the value [`Builder::build`] returned last holds long-string placeholders.
    pub(crate) fn has_long_strings(&self) -> bool {
        !self.long.is_empty()
    }

    /// Fills the long-string placeholders of `v`, the value [`Builder::build`] returned last,
    /// with slices of `frame`, exactly that value's frame.
    pub(crate) fn patch(&self, v: &mut Value, frame: &Bytes) {
        for l in &self.long {
            let path = self.paths.get(l.path..l.path_end).unwrap_or_default();
            let Some(target) = descend(v, path) else {
                continue;
            };
            if let (
                Value::SimpleString(s)
                | Value::Error(s)
                | Value::Bulk(s)
                | Value::BigNumber(s)
                | Value::BlobError(s),
                Some(_),
            ) = (target, frame.get(l.start..l.end))
            {
                *s = ByteStr::from(frame.slice(l.start..l.end));
            }
        }
    }

    #[inline]
    fn build_counted(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        examined: &mut u64,
    ) -> Option<(Value, usize)> {
        self.parents.clear();
        self.long.clear();
        self.paths.clear();
        let (first, mut pos) = self.element(buf, 0, 0, limits, examined)?;
        let mut cur = match first {
            Elem::Value(v) => return Some((v, pos)),
            // A top-level string: the caller's own path slices it.
            Elem::Long(..) => return None,
            Elem::Open(kind, elems) => Open::new(kind, elems, buf.len() - pos),
        };
        loop {
            // The most common elements, short bulk strings, in a tight loop straight into
            // their aggregate (as pairs for a map).
            pos = cur.take_short_bulks(buf, pos, limits, examined);
            if cur.remaining == 0 {
                if let Some(root) = self.close(&mut cur) {
                    return Some((root, pos));
                }
                continue;
            }
            let depth = self.parents.len() + 1;
            let (elem, next) = self.element(buf, pos, depth, limits, examined)?;
            pos = next;
            match elem {
                Elem::Value(v) => cur.push(v),
                Elem::Long(v, start, end) => {
                    self.record_long(&cur, start, end);
                    cur.push(v);
                }
                Elem::Open(kind, elems) => {
                    let inner = Open::new(kind, elems, buf.len() - pos);
                    self.parents.push(std::mem::replace(&mut cur, inner));
                    continue;
                }
            }
            if let Some(root) = self.close(&mut cur) {
                return Some((root, pos));
            }
        }
    }

    /// Closes `cur` if it is complete, and every enclosing aggregate that completes with it;
    /// returns the whole value when the outermost one closes.
    #[inline(always)]
    fn close(&mut self, cur: &mut Open) -> Option<Value> {
        while cur.remaining == 0 {
            let Some(parent) = self.parents.pop() else {
                return Some(std::mem::replace(cur, Open::new(b'*', 0, 0)).finish());
            };
            let done = std::mem::replace(cur, parent).finish();
            cur.push(done);
        }
        None
    }

    /// Reads the element at `pos`, inside `depth` open aggregates; returns it and the offset
    /// just past it.
    #[inline(always)]
    fn element(
        &mut self,
        buf: &[u8],
        pos: usize,
        depth: usize,
        limits: &Limits,
        examined: &mut u64,
    ) -> Option<(Elem, usize)> {
        let kind = *buf.get(pos)?;
        // The common element, a bulk string with a short plain length, read in one go.
        if kind == b'$' {
            if let Some((len, start)) = short_len(buf, pos + 1) {
                if len > limits.max_bulk_len || start - pos - 3 > limits.max_line_len {
                    return None;
                }
                let end = start.checked_add(len)?;
                if buf.get(end..end.checked_add(2)?)? != b"\r\n" {
                    return None;
                }
                *examined += 2 * (start - pos) as u64 - 3;
                return Some((string(buf, start, end, Value::Bulk), end + 2));
            }
        }
        let rest = buf.get(pos + 1..)?;
        let cr = find_cr(rest)?;
        if cr > limits.max_line_len || rest.get(cr + 1) != Some(&b'\n') {
            return None;
        }
        let line = rest.get(..cr)?;
        let start = pos + 1;
        let next = start + cr + 2;
        // As the incremental decoder counts: bytes searched for CR, then parsed.
        *examined += 2 * cr as u64 + 1;
        let elem = match kind {
            b'+' => return Some((string(buf, start, start + cr, Value::SimpleString), next)),
            b'-' => return Some((string(buf, start, start + cr, Value::Error), next)),
            b'$' | b'!' => match parse_len(line).ok()? {
                Some(len) => {
                    if len > limits.max_bulk_len {
                        return None;
                    }
                    let end = next.checked_add(len)?;
                    if buf.get(end..end.checked_add(2)?)? != b"\r\n" {
                        return None;
                    }
                    *examined += 2;
                    let make = if kind == b'$' {
                        Value::Bulk
                    } else {
                        Value::BlobError
                    };
                    return Some((string(buf, next, end, make), end + 2));
                }
                None if kind == b'$' => Value::Null,
                None => return None,
            },
            b'*' | b'%' | b'~' | b'>' => match parse_len(line).ok()? {
                Some(len) => {
                    if len > limits.max_aggregate_len || depth >= limits.max_depth {
                        return None;
                    }
                    let elems = if kind == b'%' {
                        len.checked_mul(2)?
                    } else {
                        len
                    };
                    if elems > 0 {
                        return Some((Elem::Open(kind, elems), next));
                    }
                    Open::new(kind, 0, 0).finish()
                }
                None if kind == b'*' => Value::Null,
                None => return None,
            },
            // Other scalars, validated by the shared line parser; attributes, verbatim
            // strings and invalid input go to the general path.
            _ => match head(kind, line).ok()? {
                Head::Done(Frame::Integer(n)) => Value::Integer(n),
                Head::Done(Frame::Double(d)) => Value::Double(d),
                Head::Done(Frame::Boolean(b)) => Value::Boolean(b),
                Head::Done(Frame::Null) => Value::Null,
                Head::Done(Frame::BigNumber(_)) => {
                    return Some((string(buf, start, start + cr, Value::BigNumber), next));
                }
                _ => return None,
            },
        };
        Some((Elem::Value(elem), next))
    }

    /// Records the path to a long string about to be pushed into `cur`.
    #[cold]
    fn record_long(&mut self, cur: &Open, start: usize, end: usize) {
        let path = self.paths.len();
        let levels = self.parents.iter().chain(std::iter::once(cur));
        self.paths.extend(levels.map(Open::next_index));
        self.long.push(Long {
            start,
            end,
            path,
            path_end: self.paths.len(),
        });
    }
}

/// The bulk string at `pos` when it is short enough to be inline and its length is plain
/// digits; the string and the offset just past it. `None` leaves it to the general path.
#[inline(always)]
fn short_bulk(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
    examined: &mut u64,
) -> Option<(ByteStr, usize)> {
    if buf.get(pos) != Some(&b'$') {
        return None;
    }
    let (len, start) = short_len(buf, pos + 1)?;
    if len > limits.max_bulk_len || start - pos - 3 > limits.max_line_len {
        return None;
    }
    let end = start + len;
    if buf.get(end..end + 2)? != b"\r\n" {
        return None;
    }
    let s = ByteStr::inline_window(buf.get(start..)?, len)?;
    *examined += 2 * (start - pos) as u64 - 3;
    Some((s, end + 2))
}

/// The string at `start..end` of `buf` made a value by `make`: inline when short, otherwise
/// an empty placeholder (see [`Builder::patch`]).
#[inline(always)]
fn string(buf: &[u8], start: usize, end: usize, make: fn(ByteStr) -> Value) -> Elem {
    let inline = buf
        .get(start..)
        .and_then(|w| ByteStr::inline_window(w, end.saturating_sub(start)));
    match inline {
        Some(s) => Elem::Value(make(s)),
        None => Elem::Long(make(ByteStr::new()), start, end),
    }
}

/// The value at `path` below `v` (child indexes as in `Builder::paths`).
fn descend<'v>(mut v: &'v mut Value, path: &[usize]) -> Option<&'v mut Value> {
    for &i in path {
        v = match v {
            Value::Array(items) | Value::Set(items) | Value::Push(items) => items.get_mut(i)?,
            Value::Map(pairs) => {
                let (k, val) = pairs.get_mut(i / 2)?;
                if i % 2 == 0 {
                    k
                } else {
                    val
                }
            }
            _ => return None,
        };
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(input: &[u8]) -> Option<(Value, usize)> {
        let mut b = Builder::default();
        let (mut v, len) = b.build(input, &Limits::default())?;
        let frame = Bytes::copy_from_slice(&input[..len]);
        b.patch(&mut v, &frame);
        Some((v, len))
    }

    #[test]
    fn builds_nested_values_in_one_pass() {
        let input = b"*4\r\n$3\r\nfoo\r\n%2\r\n+a\r\n:1\r\n+b\r\n*0\r\n~1\r\n_\r\n#t\r\nextra";
        let (v, len) = build(input).unwrap();
        assert_eq!(len, input.len() - 5);
        let b = ByteStr::from_static;
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Bulk(b(b"foo")),
                Value::Map(vec![
                    (Value::SimpleString(b(b"a")), Value::Integer(1)),
                    (Value::SimpleString(b(b"b")), Value::Array(vec![])),
                ]),
                Value::Set(vec![Value::Null]),
                Value::Boolean(true),
            ])
        );
    }

    #[test]
    fn long_strings_are_patched_in_wire_order_from_the_frame() {
        let long = |c: u8| vec![c; ByteStr::INLINE + 5];
        let mut input = b"*2\r\n%2\r\n+k\r\n$28\r\n".to_vec();
        input.extend(long(b'a'));
        input.extend(b"\r\n+");
        input.extend(long(b'b'));
        input.extend(b"\r\n*2\r\n+short\r\n(");
        input.extend(vec![b'7'; 30]);
        input.extend(b"\r\n-");
        input.extend(long(b'c'));
        input.extend(b"\r\n");
        let mut b = Builder::default();
        let (mut v, len) = b.build(&input, &Limits::default()).unwrap();
        assert_eq!(len, input.len());
        assert!(b.has_long_strings());
        let frame = Bytes::from(input.clone());
        b.patch(&mut v, &frame);
        let big = |s: Vec<u8>| ByteStr::from(Bytes::from(s));
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Map(vec![
                    (
                        Value::SimpleString("k".into()),
                        Value::Bulk(big(long(b'a')))
                    ),
                    (
                        Value::SimpleString(big(long(b'b'))),
                        Value::Array(vec![
                            Value::SimpleString("short".into()),
                            Value::BigNumber(big(vec![b'7'; 30])),
                        ]),
                    ),
                ]),
                Value::Error(big(long(b'c'))),
            ])
        );
        // Every long string is a slice of the frame.
        let Value::Array(items) = &v else { panic!() };
        let Value::Error(c) = &items[1] else { panic!() };
        assert!(c.is_shared());
        assert_eq!(c.as_ptr(), frame[frame.len() - 30..].as_ptr());
    }

    #[test]
    fn gives_up_on_what_the_general_path_handles() {
        for input in [
            &b"*2\r\n:1\r\n"[..],     // incomplete
            b"*1\r\n|0\r\n:1\r\n",    // attribute
            b"*1\r\n=5\r\ntxt:x\r\n", // verbatim
            b"*1\r\n$3\r\nfooX\r\n",  // missing CRLF
            b"*1\r\n:x\r\n",          // bad integer
            b"%-1\r\n",               // invalid length
            b"*1\r\n!-1\r\n",         // null blob error
            b"*1\r\n?\r\n",           // bad prefix
        ] {
            assert!(build(input).is_none(), "{input:?}");
        }
        let mut b = Builder::default();
        let tight = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        assert!(b.build(b"*1\r\n*1\r\n:1\r\n", &tight).is_none());
        assert!(b.build(b"*1\r\n:1\r\n", &tight).is_some());
    }
}
