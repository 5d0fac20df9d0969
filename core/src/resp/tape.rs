//! Single-pass owned decoding of a frame that is complete in the buffer.
//!
//! [`Tape::scan`] reads the frame once, checking syntax and limits exactly as the incremental
//! decoder does, and records each element as a small token holding offsets (no `Bytes` yet:
//! the frame's `Bytes` exists only once its length is known). [`Tape::build`] then turns the
//! tokens into a [`Value`] without looking at the input again: strings become slices of the
//! frozen frame. Anything unusual (incomplete input, any syntax error, any limit reached,
//! attributes, verbatim strings) makes `scan` give up, and the caller takes the general,
//! incremental path, which produces the same result or the same typed error. Nesting uses
//! explicit stacks, never recursion; the tokens and stacks are reused from frame to frame.

use super::scan::{find_cr, head, parse_len, short_len, Head};
use super::{ByteStr, Frame, Limits, Value};
use bytes::Bytes;

/// One element of a scanned frame; offsets are from the start of the frame.
#[derive(Clone, Copy, Debug)]
enum Tok {
    /// A string of the given type byte (`+ - $ ! (`) at `start..end`.
    Str(u8, usize, usize),
    /// An integer.
    Int(i64),
    /// A double.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// `_`, `$-1` or `*-1`.
    Null,
    /// An aggregate header (`* % ~ >`) announcing `elems` elements (pairs count twice).
    Agg(u8, usize),
}

/// An aggregate being filled by [`Tape::build`].
#[derive(Debug)]
struct Open {
    kind: u8,
    /// Elements still expected.
    remaining: usize,
    items: Vec<Value>,
    pairs: Vec<(Value, Value)>,
    key: Option<Value>,
}

impl Open {
    #[inline]
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

    fn finish(self) -> Value {
        match self.kind {
            b'%' => Value::Map(self.pairs),
            b'~' => Value::Set(self.items),
            b'>' => Value::Push(self.items),
            _ => Value::Array(self.items),
        }
    }
}

/// Reusable buffers for the single-pass path.
#[derive(Debug, Default)]
pub(crate) struct Tape {
    toks: Vec<Tok>,
    /// Elements still expected by each enclosing aggregate while scanning.
    counts: Vec<usize>,
    open: Vec<Open>,
    /// Bytes searched or parsed by `scan`, whether it succeeded or gave up.
    pub(crate) examined: u64,
    /// The scanned frame holds a string longer than [`ByteStr::INLINE`].
    long: bool,
}

impl Tape {
    /// Scans the complete frame at the start of `buf`; returns its length, or `None` when the
    /// general path must handle it (see the module docs).
    pub(crate) fn scan(&mut self, buf: &[u8], limits: &Limits) -> Option<usize> {
        let mut examined = 0u64;
        let r = self.scan_counted(buf, limits, &mut examined);
        self.examined += examined;
        r
    }

    #[inline]
    fn scan_counted(&mut self, buf: &[u8], limits: &Limits, examined: &mut u64) -> Option<usize> {
        self.toks.clear();
        self.counts.clear();
        let mut long = false;
        let mut pos = 0usize;
        // Elements still expected at the current level (1: the frame itself).
        let mut remaining = 1usize;
        loop {
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
                    long |= len > ByteStr::INLINE;
                    self.toks.push(Tok::Str(b'$', start, end));
                    pos = end + 2;
                    remaining -= 1;
                    while remaining == 0 {
                        match self.counts.pop() {
                            Some(parent) => remaining = parent - 1,
                            None => {
                                self.long = long;
                                return Some(pos);
                            }
                        }
                    }
                    continue;
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
            match kind {
                b'+' | b'-' => {
                    long |= cr > ByteStr::INLINE;
                    self.toks.push(Tok::Str(kind, start, start + cr));
                    pos = next;
                }
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
                        long |= len > ByteStr::INLINE;
                        self.toks.push(Tok::Str(kind, next, end));
                        pos = end + 2;
                    }
                    None if kind == b'$' => {
                        self.toks.push(Tok::Null);
                        pos = next;
                    }
                    None => return None,
                },
                b'*' | b'%' | b'~' | b'>' => match parse_len(line).ok()? {
                    Some(len) => {
                        if len > limits.max_aggregate_len || self.counts.len() >= limits.max_depth {
                            return None;
                        }
                        let elems = if kind == b'%' {
                            len.checked_mul(2)?
                        } else {
                            len
                        };
                        self.toks.push(Tok::Agg(kind, elems));
                        pos = next;
                        if elems > 0 {
                            self.counts.push(remaining);
                            remaining = elems;
                            continue;
                        }
                    }
                    None if kind == b'*' => {
                        self.toks.push(Tok::Null);
                        pos = next;
                    }
                    None => return None,
                },
                // Other scalars, validated by the shared line parser; attributes, verbatim
                // strings and invalid input go to the general path.
                _ => {
                    let tok = match head(kind, line).ok()? {
                        Head::Done(Frame::Integer(n)) => Tok::Int(n),
                        Head::Done(Frame::Double(d)) => Tok::Double(d),
                        Head::Done(Frame::Boolean(b)) => Tok::Bool(b),
                        Head::Done(Frame::Null) => Tok::Null,
                        Head::Done(Frame::BigNumber(_)) => {
                            long |= cr > ByteStr::INLINE;
                            Tok::Str(b'(', start, start + cr)
                        }
                        _ => return None,
                    };
                    self.toks.push(tok);
                    pos = next;
                }
            }
            // One element of the current level is complete; close every level it completes.
            remaining -= 1;
            while remaining == 0 {
                match self.counts.pop() {
                    Some(parent) => remaining = parent - 1,
                    None => {
                        self.long = long;
                        return Some(pos);
                    }
                }
            }
        }
    }

    /// Whether the frame [`Tape::scan`] accepted last holds a string too long to be inline,
    /// so that [`Tape::build`] needs the frame as `Bytes`.
    pub(crate) fn has_long_strings(&self) -> bool {
        self.long
    }

    /// Builds the value [`Tape::scan`] recorded; `bytes` starts with the scanned frame (and
    /// may go on past it), and `frame` is exactly the frame as `Bytes` when
    /// [`Tape::has_long_strings`] (long strings are copied without it).
    pub(crate) fn build(&mut self, bytes: &[u8], frame: Option<&Bytes>) -> Value {
        self.open.clear();
        let slice = |s: usize, e: usize| {
            if let Some(inline) = bytes
                .get(s..)
                .and_then(|w| ByteStr::inline_window(w, e.saturating_sub(s)))
            {
                return inline;
            }
            match (frame, bytes.get(s..e)) {
                (Some(frame), Some(_)) if e <= frame.len() => ByteStr::from(frame.slice(s..e)),
                (_, Some(text)) => ByteStr::copy_from_slice(text),
                (_, None) => ByteStr::new(),
            }
        };
        let scalar = |tok: Tok| match tok {
            Tok::Str(kind, s, e) => {
                let b = slice(s, e);
                match kind {
                    b'$' => Value::Bulk(b),
                    b'+' => Value::SimpleString(b),
                    b'-' => Value::Error(b),
                    b'!' => Value::BlobError(b),
                    _ => Value::BigNumber(b),
                }
            }
            Tok::Int(n) => Value::Integer(n),
            Tok::Double(d) => Value::Double(d),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null | Tok::Agg(..) => Value::Null,
        };
        let toks = &self.toks;
        let mut i = 0;
        while let Some(&tok) = toks.get(i) {
            i += 1;
            let mut v = match tok {
                Tok::Agg(kind, elems) => {
                    // An aggregate of scalars only (most are: arrays of bulk strings, maps of
                    // fields), built in one go: its elements are the next `elems` tokens.
                    let body = i.checked_add(elems).and_then(|end| toks.get(i..end));
                    if let Some(body) =
                        body.filter(|b| !b.iter().any(|t| matches!(t, Tok::Agg(..))))
                    {
                        i += elems;
                        let items = body.iter().map(|&t| scalar(t));
                        match kind {
                            b'%' => Value::Map(
                                body.chunks_exact(2)
                                    .map(|p| (scalar(p[0]), scalar(p[1])))
                                    .collect(),
                            ),
                            b'~' => Value::Set(items.collect()),
                            b'>' => Value::Push(items.collect()),
                            _ => Value::Array(items.collect()),
                        }
                    } else {
                        // The scan saw all `elems` elements in the buffer: the capacity is
                        // bounded by bytes that arrived, never by a claimed length alone.
                        let (items, pairs) = if kind == b'%' {
                            (Vec::new(), Vec::with_capacity(elems / 2))
                        } else {
                            (Vec::with_capacity(elems), Vec::new())
                        };
                        self.open.push(Open {
                            kind,
                            remaining: elems,
                            items,
                            pairs,
                            key: None,
                        });
                        continue;
                    }
                }
                other => scalar(other),
            };
            // Hand the value to its parent, closing every aggregate it completes.
            loop {
                let Some(top) = self.open.last_mut() else {
                    return v;
                };
                top.push(v);
                if top.remaining > 0 {
                    break;
                }
                match self.open.pop() {
                    Some(done) => v = done.finish(),
                    None => return Value::Null,
                }
            }
        }
        // Unreachable for a tape `scan` accepted; a value rather than a panic regardless.
        while let Some(done) = self.open.pop() {
            let v = done.finish();
            match self.open.last_mut() {
                Some(top) => top.push(v),
                None => return v,
            }
        }
        Value::Null
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_build(input: &[u8]) -> Option<(Value, usize)> {
        let mut t = Tape::default();
        let len = t.scan(input, &Limits::default())?;
        let frame = Bytes::copy_from_slice(&input[..len]);
        Some((t.build(&frame, Some(&frame)), len))
    }

    #[test]
    fn builds_nested_values_in_one_pass() {
        let input = b"*4\r\n$3\r\nfoo\r\n%2\r\n+a\r\n:1\r\n+b\r\n*0\r\n~1\r\n_\r\n#t\r\nextra";
        let (v, len) = scan_build(input).unwrap();
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
            assert!(scan_build(input).is_none(), "{input:?}");
        }
        let mut t = Tape::default();
        let tight = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        assert!(t.scan(b"*1\r\n*1\r\n:1\r\n", &tight).is_none());
        assert!(t.scan(b"*1\r\n:1\r\n", &tight).is_some());
    }
}
