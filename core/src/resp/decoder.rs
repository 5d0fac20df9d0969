//! The incremental decoder: explicit stack, resumable scanning, typed errors.
//!
//! # Contract
//!
//! Call [`Decoder::parse`] (or [`Decoder::decode`]) with a buffer whose first byte is the first
//! byte of a frame. On `Ok(None)` keep the bytes, append what the socket delivers, and call
//! again with the whole (longer) buffer: the decoder resumes where it stopped, so each byte is
//! examined a bounded number of times whatever the chunking, and a call that brings too few
//! bytes for a pending bulk payload costs O(1). On `Ok(Some(parsed))` the state is reset; the
//! caller removes `parsed.len` bytes from the front before the next call. On `Err` the state is
//! reset too; the stream is unusable (close the connection). Passing a buffer that is not the
//! previous one extended requires [`Decoder::reset`] first.

use super::from_frame::build_seq;
use super::one_pass::Builder;
use super::scan::{blob, find_cr, head, is_pairs, is_prefix, short_len, Head};
use super::{Aggregate, ByteStr, Frame, Limits, ProtocolError, ProtocolErrorKind, Value};
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

impl Parsed<'_> {
    /// The owned value, wrapped in [`Value::Attributed`] when attributes preceded the frame;
    /// strings are slices of `backing` when the frame borrows from it, copies otherwise.
    pub fn to_value(&self, backing: &bytes::Bytes) -> Value {
        let value = self.frame.to_value(backing);
        match self.attributes {
            Some(a) => Value::Attributed {
                attributes: super::from_frame::into_pairs(super::from_frame::build_aggregate(
                    a, backing,
                )),
                value: Box::new(value),
            },
            None => value,
        }
    }
}

/// How [`Decoder::decode`] builds a scalar: directly, or as a constructor applied to the
/// range `start..end` of the frame's bytes.
enum OwnedScalar {
    Direct(Value),
    Slice(fn(ByteStr) -> Value, usize, usize),
}

/// The [`OwnedScalar`] for a frame read from `backing`; `None` for verbatim strings and
/// aggregates, which take the general path.
fn owned_scalar(f: Frame<'_>, backing: &[u8]) -> Option<OwnedScalar> {
    let (make, s): (fn(ByteStr) -> Value, &[u8]) = match f {
        Frame::SimpleString(s) => (Value::SimpleString, s),
        Frame::Error(s) => (Value::Error, s),
        Frame::Bulk(s) => (Value::Bulk, s),
        Frame::BigNumber(s) => (Value::BigNumber, s),
        Frame::BlobError(s) => (Value::BlobError, s),
        Frame::Integer(n) => return Some(OwnedScalar::Direct(Value::Integer(n))),
        Frame::Null => return Some(OwnedScalar::Direct(Value::Null)),
        Frame::Boolean(b) => return Some(OwnedScalar::Direct(Value::Boolean(b))),
        Frame::Double(d) => return Some(OwnedScalar::Direct(Value::Double(d))),
        _ => return None,
    };
    let start = (s.as_ptr() as usize).checked_sub(backing.as_ptr() as usize)?;
    let end = start.checked_add(s.len()).filter(|&e| e <= backing.len())?;
    Some(OwnedScalar::Slice(make, start, end))
}

/// Index of the first CR byte in `word` (bytes in little-endian order), if any.
#[inline(always)]
fn first_cr_in_word(word: u64) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte of `x` is zero where `word` holds CR; the classic zero-byte test flags exactly the
    // lowest such byte correctly (borrows only propagate upwards), which is the one we want.
    let x = word ^ (ONES * u64::from(b'\r'));
    let found = x.wrapping_sub(ONES) & !x & HIGHS;
    if found == 0 {
        None
    } else {
        Some(found.trailing_zeros() as usize / 8)
    }
}

/// An aggregate whose elements are still arriving.
#[derive(Clone, Copy, Debug)]
struct Level {
    /// Elements still expected (pairs count twice).
    remaining: usize,
    /// True for a `|` attribute, which does not count as an element of its parent.
    attr: bool,
}

/// A `$`, `!` or `=` whose header is read and whose payload is awaited.
#[derive(Clone, Copy, Debug)]
struct PendingBlob {
    kind: u8,
    start: usize,
    /// Offset just past the payload's CRLF: fewer buffered bytes means "need more", in O(1).
    end: usize,
}

/// Incremental RESP2/RESP3 decoder.
///
/// Feed it the same buffer, growing, until a frame completes; it remembers how far it scanned,
/// so total work is linear in the input whatever the chunking.
///
/// Contract: the first byte of the buffer is the first byte of a frame. On `Ok(None)` keep the
/// bytes, append what arrives and call again with the whole, longer buffer (a call that brings
/// too few bytes for a pending bulk payload costs O(1)). On `Ok(Some(parsed))` the state is
/// reset and the caller removes `parsed.len` bytes from the front ([`Decoder::decode`] does it
/// itself). On `Err` the state is reset and the stream is unusable: close the connection. To
/// feed a buffer that does not extend the previous one, call [`Decoder::reset`] first.
///
/// Attributes (`|`) come with the frame they annotate ([`Parsed::attributes`],
/// [`Value::Attributed`], [`Aggregate::iter_attributed`]); two attribute maps in a row are
/// rejected with [`ProtocolErrorKind::ConsecutiveAttributes`]. Streamed RESP3 types, which
/// Redis never sends, are rejected with [`ProtocolErrorKind::StreamedUnsupported`].
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    /// Start of the next header to read (bytes before it are validated).
    pos: usize,
    /// How far the header line at `pos` has been searched for CR without finding one.
    line_scan: usize,
    /// Open aggregates, innermost last: the explicit stack that replaces recursion.
    stack: Vec<Level>,
    /// Payload being awaited.
    blob: Option<PendingBlob>,
    /// The top-level aggregate: (marker, declared length, body start).
    top: Option<(u8, usize, usize)>,
    /// A top-level attribute being read: (pairs, body start).
    attr_head: Option<(usize, usize)>,
    /// The complete top-level attribute: (pairs, body start, body end).
    top_attr: Option<(usize, usize, usize)>,
    /// True right after an attribute, when the element it annotates must follow.
    after_attr: bool,
    /// Bytes searched or parsed since creation, for linearity checks.
    examined: u64,
    /// Tokens and stacks of the single-pass owned path, reused from frame to frame.
    builder: Builder,
}

impl Decoder {
    /// A decoder with default [`Limits`].
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: Limits) -> Decoder {
        Decoder {
            limits,
            ..Decoder::default()
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes this decoder has searched or parsed since it was created (payload bytes of bulk
    /// strings are skipped, not examined). Tests use it to show the work is linear.
    pub fn bytes_examined(&self) -> u64 {
        self.examined + self.builder.examined
    }

    /// True when no frame is partly read.
    #[inline]
    fn idle(&self) -> bool {
        // A pending payload or open aggregate implies `pos > 0`; a partly read first line
        // implies `line_scan > 0` (see `step`).
        (self.pos | self.line_scan) == 0
    }

    /// Forgets a partly read frame, e.g. before feeding a buffer that does not extend the
    /// previous one. Keeps the limits, the counter and the stack's capacity.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.line_scan = 0;
        self.stack.clear();
        self.blob = None;
        self.top = None;
        self.attr_head = None;
        self.top_attr = None;
        self.after_attr = false;
    }

    /// Looks for one complete frame at the start of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed: call again with the same buffer extended. After a
    /// complete frame the caller drops `len` bytes from the front before the next call.
    // Always inlined: the quick path then builds its result in the caller's registers instead
    // of an 80-byte `Result` written and copied through memory on every frame.
    #[inline(always)]
    pub fn parse<'b>(&mut self, buf: &'b [u8]) -> Result<Option<Parsed<'b>>, ProtocolError> {
        if self.idle() {
            if let Some((bulk, s, len)) = self.quick(buf) {
                return Ok(Some(Parsed {
                    frame: if bulk {
                        Frame::Bulk(s)
                    } else {
                        Frame::SimpleString(s)
                    },
                    attributes: None,
                    len,
                }));
            }
        }
        self.parse_general(buf)
    }

    /// [`Decoder::parse`] beyond the quick path: resumable, with every check and typed error.
    #[inline(never)]
    fn parse_general<'b>(&mut self, buf: &'b [u8]) -> Result<Option<Parsed<'b>>, ProtocolError> {
        if self.idle() {
            if let Some(p) = self.fast(buf) {
                return Ok(Some(p));
            }
        }
        match self.step(buf) {
            Ok(None) if buf.len() > self.limits.max_frame_len => {
                self.reset();
                let max = self.limits.max_frame_len;
                Err(Self::err(
                    buf.len(),
                    ProtocolErrorKind::FrameTooLong { max },
                ))
            }
            Ok(None) => Ok(None),
            other => {
                self.reset();
                other
            }
        }
    }

    /// Splits one complete frame off the front of `buf` and returns it as an owned [`Value`].
    ///
    /// Strings of up to [`ByteStr::INLINE`] bytes are copied into the value; longer ones are
    /// slices of the frame's bytes, which become one `Bytes` (no copy) only when the frame
    /// holds such a string. Attributes that precede the frame wrap it in
    /// [`Value::Attributed`].
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Value>, ProtocolError> {
        if self.idle() {
            if let Some((bulk, s, len)) = self.quick(&buf[..]) {
                // The string's place in the frame.
                let start = s.as_ptr() as usize - buf.as_ptr() as usize;
                let end = start + s.len();
                let text = match buf
                    .get(start..)
                    .and_then(|w| ByteStr::inline_window(w, s.len()))
                {
                    Some(inline) => {
                        bytes::Buf::advance(buf, len);
                        inline
                    }
                    // Too long to copy: the frame as one `Bytes`, narrowed to the string.
                    None => {
                        let mut b = buf.split_to(len).freeze();
                        b.truncate(end);
                        bytes::Buf::advance(&mut b, start);
                        b.into()
                    }
                };
                return Ok(Some(if bulk {
                    Value::Bulk(text)
                } else {
                    Value::SimpleString(text)
                }));
            }
            // A whole aggregate in the buffer: read once, building as it goes (see `complete`).
            if matches!(buf.first(), Some(b'*' | b'%' | b'~' | b'>')) {
                if let Some((mut v, len)) = self.builder.build(&buf[..], &self.limits) {
                    if self.builder.has_long_strings() {
                        let frame = buf.split_to(len).freeze();
                        self.builder.patch(&mut v, &frame);
                    } else {
                        bytes::Buf::advance(buf, len);
                    }
                    return Ok(Some(v));
                }
            }
        }
        let (len, scalar) = match self.parse(&buf[..])? {
            Some(p) if p.attributes.is_none() => (p.len, owned_scalar(p.frame, &buf[..])),
            Some(p) => (p.len, None),
            None => return Ok(None),
        };
        if let Some(OwnedScalar::Direct(v)) = scalar {
            bytes::Buf::advance(buf, len);
            return Ok(Some(v));
        }
        if let Some(OwnedScalar::Slice(make, start, end)) = scalar {
            if let Some(inline) = buf
                .get(start..)
                .and_then(|w| ByteStr::inline_window(w, end - start))
            {
                bytes::Buf::advance(buf, len);
                return Ok(Some(make(inline)));
            }
        }
        let bytes = buf.split_to(len).freeze();
        Ok(match scalar {
            Some(OwnedScalar::Direct(v)) => Some(v),
            // The one long string of a scalar frame: narrow `bytes` to it, no reference-count
            // churn.
            Some(OwnedScalar::Slice(make, start, end)) => {
                let mut b = bytes;
                b.truncate(end);
                bytes::Buf::advance(&mut b, start);
                Some(make(b.into()))
            }
            // The bytes are validated: building one element cannot fail.
            None => build_seq(&bytes, 0, 1, &bytes).pop(),
        })
    }

    /// The most common frames, from a fresh state: a whole `+` line of up to 32 bytes or a `$`
    /// bulk string with a plain short length, complete and within the limits. Returns whether
    /// it is a bulk string, the string and the frame's length; `None` leaves everything to the
    /// general path (nothing changes).
    #[inline(always)]
    fn quick<'b>(&mut self, buf: &'b [u8]) -> Option<(bool, &'b [u8], usize)> {
        let (&kind, rest) = buf.split_first()?;
        if kind == b'$' {
            let (len, start) = short_len(buf, 1)?;
            if len > self.limits.max_bulk_len || start - 3 > self.limits.max_line_len {
                return None;
            }
            let end = start.checked_add(len)?;
            let after = end.checked_add(2)?;
            if buf.get(end..after)? != b"\r\n" {
                return None;
            }
            // As `step` counts: the digits and CR searched, the digits parsed, the payload's CRLF.
            self.examined += 2 * start as u64 - 3;
            Some((true, buf.get(start..end)?, after))
        } else if kind == b'+' {
            let cr = match rest.first_chunk::<8>() {
                // Eight bytes at once: the first CR of a short status line such as `OK`.
                Some(word) => {
                    let word = u64::from_le_bytes(*word);
                    // `+OK\r\n`, the most frequent reply, by its bytes: a length known without
                    // computing it, which shortens the dependency chain from frame to frame.
                    if word as u32 == u32::from_le_bytes(*b"OK\r\n") {
                        self.examined += 5;
                        return Some((false, rest.get(..2)?, 5));
                    }
                    first_cr_in_word(word)?
                }
                None => rest.iter().position(|&b| b == b'\r')?,
            };
            if rest.get(cr + 1) != Some(&b'\n') || cr > self.limits.max_line_len {
                return None;
            }
            self.examined += 2 * cr as u64 + 1;
            Some((false, rest.get(..cr)?, cr + 3))
        } else {
            None
        }
    }

    /// The common case, from a fresh state: a whole scalar or bulk string with a short header
    /// line at the front of `buf`. `None` sends everything else (aggregates, attributes,
    /// partial or invalid input) to the general path, which redoes this little work.
    #[inline]
    fn fast<'b>(&mut self, buf: &'b [u8]) -> Option<Parsed<'b>> {
        let (&kind, rest) = buf.split_first()?;
        let window = rest.get(..32).unwrap_or(rest);
        let cr = window.iter().position(|&b| b == b'\r')?;
        if rest.get(cr + 1) != Some(&b'\n') || cr > self.limits.max_line_len {
            return None;
        }
        let line = &rest[..cr];
        let next = cr + 3;
        let (frame, len) = match head(kind, line).ok()? {
            Head::Done(frame) => (frame, next),
            Head::Blob { kind, len } if len <= self.limits.max_bulk_len => {
                let end = next.checked_add(len)?;
                if buf.get(end..end.checked_add(2)?) != Some(b"\r\n") {
                    return None;
                }
                (blob(kind, &buf[next..end]).ok()?, end + 2)
            }
            _ => return None,
        };
        self.examined += cr as u64 + 2 + line.len() as u64;
        Some(Parsed {
            frame,
            attributes: None,
            len,
        })
    }

    fn err(offset: usize, kind: ProtocolErrorKind) -> ProtocolError {
        ProtocolError { offset, kind }
    }

    /// The state machine; resumes from `self` and leaves it ready to resume on `Ok(None)`.
    fn step<'b>(&mut self, buf: &'b [u8]) -> Result<Option<Parsed<'b>>, ProtocolError> {
        loop {
            if let Some(b) = self.blob {
                if buf.len() < b.end {
                    return Ok(None);
                }
                let crlf = b.end - 2;
                if buf.get(crlf..b.end) != Some(b"\r\n") {
                    return Err(Self::err(crlf, ProtocolErrorKind::MissingCrlf));
                }
                self.examined += 2;
                let payload = buf.get(b.start..crlf).unwrap_or_default();
                let frame = blob(b.kind, payload).map_err(|(k, o)| Self::err(b.start + o, k))?;
                self.blob = None;
                self.pos = b.end;
                if self.complete() {
                    return Ok(Some(self.finish(buf, frame)));
                }
                continue;
            }

            let pos = self.pos;
            let Some(&kind) = buf.get(pos) else {
                return Ok(None);
            };
            // A whole bulk string with a short plain length, within the limit: one loop.
            if kind == b'$' && self.line_scan == 0 {
                if let Some((len, start)) = short_len(buf, pos + 1) {
                    let end = start.saturating_add(len);
                    let after = end.saturating_add(2);
                    if len <= self.limits.max_bulk_len
                        && start - pos - 3 <= self.limits.max_line_len
                        && buf.get(end..after) == Some(b"\r\n")
                    {
                        self.examined += 2 * (start - pos) as u64 - 3;
                        self.after_attr = false;
                        self.pos = after;
                        if self.complete() {
                            let frame = Frame::Bulk(buf.get(start..end).unwrap_or_default());
                            return Ok(Some(self.finish(buf, frame)));
                        }
                        continue;
                    }
                }
            }
            if !is_prefix(kind) {
                return Err(Self::err(pos, ProtocolErrorKind::InvalidPrefix(kind)));
            }
            let from = self.line_scan.max(pos + 1);
            let hay = buf.get(from..).unwrap_or_default();
            let max_line = self.limits.max_line_len;
            let cr = match find_cr(hay) {
                Some(i) => {
                    self.examined += i as u64 + 1;
                    from + i
                }
                None => {
                    self.examined += hay.len() as u64;
                    self.line_scan = buf.len().max(from);
                    if buf.len() - pos - 1 > max_line {
                        return Err(Self::err(
                            pos,
                            ProtocolErrorKind::LineTooLong { max: max_line },
                        ));
                    }
                    return Ok(None);
                }
            };
            if cr - pos - 1 > max_line {
                return Err(Self::err(
                    pos,
                    ProtocolErrorKind::LineTooLong { max: max_line },
                ));
            }
            match buf.get(cr + 1) {
                None => {
                    self.line_scan = cr;
                    return Ok(None);
                }
                Some(b'\n') => {}
                Some(_) => return Err(Self::err(cr + 1, ProtocolErrorKind::MissingCrlf)),
            }
            self.line_scan = 0;
            let line = &buf[pos + 1..cr];
            self.examined += line.len() as u64;
            let next = cr + 2;
            let head = head(kind, line).map_err(|(k, o)| Self::err(pos + 1 + o, k))?;
            if kind == b'|' {
                if self.after_attr {
                    return Err(Self::err(pos, ProtocolErrorKind::ConsecutiveAttributes));
                }
            } else {
                self.after_attr = false;
            }
            match head {
                Head::Done(frame) => {
                    self.pos = next;
                    if self.complete() {
                        return Ok(Some(self.finish(buf, frame)));
                    }
                }
                Head::Blob { kind, len } => {
                    if len > self.limits.max_bulk_len {
                        return Err(Self::err(
                            pos,
                            ProtocolErrorKind::BulkTooLong {
                                len: len as u64,
                                max: self.limits.max_bulk_len,
                            },
                        ));
                    }
                    let end = next
                        .checked_add(len)
                        .and_then(|e| e.checked_add(2))
                        .ok_or_else(|| {
                            Self::err(
                                pos,
                                ProtocolErrorKind::BulkTooLong {
                                    len: len as u64,
                                    max: self.limits.max_bulk_len,
                                },
                            )
                        })?;
                    self.blob = Some(PendingBlob {
                        kind,
                        start: next,
                        end,
                    });
                    self.pos = next;
                }
                Head::Agg { kind, len } => {
                    if len > self.limits.max_aggregate_len {
                        return Err(Self::err(
                            pos,
                            ProtocolErrorKind::AggregateTooLong {
                                len: len as u64,
                                max: self.limits.max_aggregate_len,
                            },
                        ));
                    }
                    if self.stack.len() >= self.limits.max_depth {
                        return Err(Self::err(
                            pos,
                            ProtocolErrorKind::TooDeep {
                                max: self.limits.max_depth,
                            },
                        ));
                    }
                    let elems = if is_pairs(kind) {
                        len.checked_mul(2).ok_or_else(|| {
                            Self::err(
                                pos,
                                ProtocolErrorKind::AggregateTooLong {
                                    len: len as u64,
                                    max: self.limits.max_aggregate_len,
                                },
                            )
                        })?
                    } else {
                        len
                    };
                    self.pos = next;
                    let attr = kind == b'|';
                    if self.stack.is_empty() {
                        if attr {
                            self.attr_head = Some((len, next));
                        } else {
                            self.top = Some((kind, len, next));
                        }
                    }
                    if elems == 0 {
                        if attr {
                            self.attr_done();
                        } else if self.complete() {
                            let empty = Frame::Null; // replaced by `top` in finish
                            return Ok(Some(self.finish(buf, empty)));
                        }
                    } else {
                        self.stack.push(Level {
                            remaining: elems,
                            attr,
                        });
                    }
                }
            }
        }
    }

    /// Records that an element ended; true when it completed the top-level frame.
    #[inline]
    fn complete(&mut self) -> bool {
        loop {
            let Some(top) = self.stack.last_mut() else {
                return true;
            };
            top.remaining -= 1;
            if top.remaining != 0 {
                return false;
            }
            let done = self.stack.pop();
            if done.is_some_and(|l| l.attr) {
                // An attribute is not an element of its parent: the annotated one follows.
                self.attr_done();
                return false;
            }
        }
    }

    /// An attribute map ended at `self.pos`.
    fn attr_done(&mut self) {
        self.after_attr = true;
        if self.stack.is_empty() {
            if let Some((len, start)) = self.attr_head.take() {
                self.top_attr = Some((len, start, self.pos));
            }
        }
    }

    /// The top-level frame ended at `self.pos`; `scalar` is it unless it is an aggregate.
    fn finish<'b>(&self, buf: &'b [u8], scalar: Frame<'b>) -> Parsed<'b> {
        let end = self.pos;
        let frame = match self.top {
            Some((kind, len, start)) => {
                let agg = Aggregate {
                    len,
                    pairs: is_pairs(kind),
                    body: buf.get(start..end).unwrap_or_default(),
                };
                match kind {
                    b'%' => Frame::Map(agg),
                    b'~' => Frame::Set(agg),
                    b'>' => Frame::Push(agg),
                    _ => Frame::Array(agg),
                }
            }
            None => scalar,
        };
        let attributes = self.top_attr.map(|(len, start, end)| Aggregate {
            len,
            pairs: true,
            body: buf.get(start..end).unwrap_or_default(),
        });
        Parsed {
            frame,
            attributes,
            len: end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn one(input: &[u8]) -> Parsed<'_> {
        let mut d = Decoder::new();
        let p = d.parse(input).unwrap().expect("complete frame");
        assert_eq!(p.len, input.len(), "frame length");
        p
    }

    fn fail(input: &[u8]) -> ProtocolError {
        Decoder::new().parse(input).expect_err("must be rejected")
    }

    #[test]
    fn scalars() {
        assert_eq!(one(b"+OK\r\n").frame, Frame::SimpleString(b"OK"));
        assert_eq!(one(b"+\r\n").frame, Frame::SimpleString(b""));
        assert_eq!(one(b"-ERR unknown\r\n").frame, Frame::Error(b"ERR unknown"));
        assert_eq!(one(b":-17\r\n").frame, Frame::Integer(-17));
        assert_eq!(one(b"$3\r\nfoo\r\n").frame, Frame::Bulk(b"foo"));
        assert_eq!(one(b"$0\r\n\r\n").frame, Frame::Bulk(b""));
        assert_eq!(one(b"$4\r\na\r\nb\r\n").frame, Frame::Bulk(b"a\r\nb"));
        assert_eq!(one(b"$-1\r\n").frame, Frame::Null);
        assert_eq!(one(b"*-1\r\n").frame, Frame::Null);
        assert_eq!(one(b"_\r\n").frame, Frame::Null);
        assert_eq!(one(b"#t\r\n").frame, Frame::Boolean(true));
        assert_eq!(one(b"#f\r\n").frame, Frame::Boolean(false));
        assert_eq!(one(b",1.25\r\n").frame, Frame::Double(1.25));
        assert_eq!(one(b",-3e2\r\n").frame, Frame::Double(-300.0));
        assert_eq!(one(b",inf\r\n").frame, Frame::Double(f64::INFINITY));
        assert_eq!(one(b",-inf\r\n").frame, Frame::Double(f64::NEG_INFINITY));
        assert!(matches!(one(b",nan\r\n").frame, Frame::Double(d) if d.is_nan()));
        assert_eq!(
            one(b"(-123456789012345678901234567890\r\n").frame,
            Frame::BigNumber(b"-123456789012345678901234567890")
        );
        assert_eq!(
            one(b"!10\r\nERR broken\r\n").frame,
            Frame::BlobError(b"ERR broken")
        );
        assert_eq!(
            one(b"=9\r\ntxt:hello\r\n").frame,
            Frame::Verbatim {
                format: *b"txt",
                text: b"hello"
            }
        );
    }

    #[test]
    fn first_cr_of_a_word() {
        let at = |b: &[u8; 8]| first_cr_in_word(u64::from_le_bytes(*b));
        assert_eq!(at(b"OK\r\n+OK\r"), Some(2));
        assert_eq!(at(b"\r\r\r\r\r\r\r\r"), Some(0));
        assert_eq!(at(b"abcdefg\r"), Some(7));
        assert_eq!(at(b"abcdefgh"), None);
        // Bytes just above and below CR (0x0e, 0x0c) and 0x8d are not CR.
        assert_eq!(at(&[0x0e, 0x0c, 0x8d, 0x0d, 0, 0, 0, 0]), Some(3));
        assert_eq!(at(&[0x0e, 0x0c, 0x8d, 0xff, 0, 1, 2, 3]), None);
        // A long line (CR after the first eight bytes) is read by the general path.
        assert_eq!(
            one(b"+0123456789abcdef\r\n").frame,
            Frame::SimpleString(b"0123456789abcdef")
        );
        assert_eq!(one(b"+OK\r\n").len, 5);
    }

    #[test]
    fn leaves_following_bytes() {
        let mut d = Decoder::new();
        let buf = b"+OK\r\n:1\r\n";
        let p = d.parse(buf).unwrap().unwrap();
        assert_eq!(p.len, 5);
        let p = d.parse(&buf[5..]).unwrap().unwrap();
        assert_eq!(p.frame, Frame::Integer(1));
    }

    #[test]
    fn aggregates() {
        let p = one(b"*3\r\n:1\r\n$2\r\nab\r\n*1\r\n+x\r\n");
        let Frame::Array(a) = p.frame else {
            panic!("not an array: {p:?}")
        };
        assert_eq!(a.len(), 3);
        let items: Vec<Frame<'_>> = a.iter().collect();
        assert_eq!(items[0], Frame::Integer(1));
        assert_eq!(items[1], Frame::Bulk(b"ab"));
        let Frame::Array(inner) = items[2] else {
            panic!("nested")
        };
        assert_eq!(
            inner.iter().collect::<Vec<_>>(),
            vec![Frame::SimpleString(b"x")]
        );
        assert_eq!(inner.as_bytes(), b"+x\r\n");

        let p = one(b"%2\r\n+a\r\n:1\r\n+b\r\n#t\r\n");
        let Frame::Map(m) = p.frame else { panic!() };
        assert_eq!(m.len(), 2);
        let pairs: Vec<_> = m.pairs().collect();
        assert_eq!(
            pairs,
            vec![
                (Frame::SimpleString(b"a"), Frame::Integer(1)),
                (Frame::SimpleString(b"b"), Frame::Boolean(true))
            ]
        );
        assert!(matches!(one(b"~1\r\n_\r\n").frame, Frame::Set(s) if s.len() == 1));
        assert!(matches!(one(b">2\r\n+a\r\n+b\r\n").frame, Frame::Push(s) if s.len() == 2));
        assert!(matches!(one(b"*0\r\n").frame, Frame::Array(s) if s.is_empty()));
        assert!(matches!(one(b"%0\r\n").frame, Frame::Map(s) if s.is_empty()));
        // An empty aggregate nested in another completes its parent.
        let p = one(b"*2\r\n*0\r\n%0\r\n");
        let Frame::Array(a) = p.frame else { panic!() };
        assert_eq!(a.iter().count(), 2);
    }

    #[test]
    fn top_level_attributes() {
        let input = b"|1\r\n+ttl\r\n:3600\r\n$5\r\nvalue\r\n";
        let p = one(input);
        assert_eq!(p.frame, Frame::Bulk(b"value"));
        let a = p.attributes.expect("attributes");
        assert_eq!(a.len(), 1);
        assert_eq!(
            a.pairs().collect::<Vec<_>>(),
            vec![(Frame::SimpleString(b"ttl"), Frame::Integer(3600))]
        );
        let backing = Bytes::from_static(input);
        let v = Decoder::new()
            .decode(&mut bytes::BytesMut::from(&input[..]))
            .unwrap()
            .unwrap();
        assert_eq!(v, p.to_value(&backing));
        assert!(matches!(v, Value::Attributed { ref attributes, .. } if attributes.len() == 1));
        // An attribute annotating an aggregate at top level.
        let p = one(b"|0\r\n*1\r\n:5\r\n");
        assert!(p.attributes.is_some_and(|a| a.is_empty()));
        assert!(matches!(p.frame, Frame::Array(a) if a.len() == 1));
    }

    #[test]
    fn nested_attributes_skipped_or_yielded() {
        let input = b"*2\r\n|1\r\n+key-popularity\r\n%1\r\n+a\r\n,0.19\r\n:1\r\n:2\r\n";
        let p = one(input);
        let Frame::Array(a) = p.frame else { panic!() };
        assert_eq!(a.len(), 2);
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            vec![Frame::Integer(1), Frame::Integer(2)]
        );
        let elems: Vec<_> = a.iter_attributed().collect();
        assert_eq!(elems.len(), 2);
        let attrs = elems[0].attributes.expect("first element is annotated");
        let (k, v) = attrs.pairs().next().unwrap();
        assert_eq!(k, Frame::SimpleString(b"key-popularity"));
        assert!(matches!(v, Frame::Map(m) if m.len() == 1));
        assert_eq!(elems[1].attributes, None);
    }

    #[test]
    fn rejects_consecutive_attributes() {
        let e = fail(b"|0\r\n|0\r\n+x\r\n");
        assert_eq!(e.kind, ProtocolErrorKind::ConsecutiveAttributes);
        assert_eq!(e.offset, 4);
    }

    #[test]
    fn typed_errors_with_offsets() {
        let cases: &[(&[u8], usize, ProtocolErrorKind)] = &[
            (b"?x\r\n", 0, ProtocolErrorKind::InvalidPrefix(b'?')),
            (b"*1\r\n@\r\n", 4, ProtocolErrorKind::InvalidPrefix(b'@')),
            (b":12a\r\n", 3, ProtocolErrorKind::InvalidInteger),
            (b":+inf\r\n", 2, ProtocolErrorKind::InvalidInteger),
            (
                b":99999999999999999999\r\n",
                19,
                ProtocolErrorKind::InvalidInteger,
            ),
            (b"$-2\r\n", 1, ProtocolErrorKind::InvalidLength(-2)),
            (b"*-5\r\n", 1, ProtocolErrorKind::InvalidLength(-5)),
            (b"%-1\r\n", 1, ProtocolErrorKind::InvalidLength(-1)),
            (b"!-1\r\n", 1, ProtocolErrorKind::InvalidLength(-1)),
            (b"$x\r\n", 1, ProtocolErrorKind::InvalidInteger),
            (b"+OK\rX", 4, ProtocolErrorKind::MissingCrlf),
            (b"$3\r\nfooXY", 7, ProtocolErrorKind::MissingCrlf),
            (b"#x\r\n", 1, ProtocolErrorKind::InvalidBoolean),
            (b",1.2.3\r\n", 1, ProtocolErrorKind::InvalidDouble),
            (b"(12a\r\n", 3, ProtocolErrorKind::InvalidBigNumber),
            (b"=3\r\ntxt\r\n", 1, ProtocolErrorKind::InvalidVerbatim),
            (b"=5\r\ntxt-x\r\n", 7, ProtocolErrorKind::InvalidVerbatim),
            (b"_x\r\n", 1, ProtocolErrorKind::MissingCrlf),
            (b"$?\r\n", 1, ProtocolErrorKind::StreamedUnsupported),
            (b"*?\r\n", 1, ProtocolErrorKind::StreamedUnsupported),
            (b"%?\r\n", 1, ProtocolErrorKind::StreamedUnsupported),
            (b";4\r\n", 1, ProtocolErrorKind::StreamedUnsupported),
            (b".\r\n", 1, ProtocolErrorKind::StreamedUnsupported),
        ];
        for (input, offset, kind) in cases {
            let e = fail(input);
            assert_eq!(
                (e.offset, &e.kind),
                (*offset, kind),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn an_endless_aggregate_is_cut_off_at_the_frame_limit() {
        let limits = Limits {
            max_frame_len: 4096,
            ..Limits::default()
        };
        let mut d = Decoder::with_limits(limits);
        let mut buf = BytesMut::from(&b"*4294967295\r\n"[..]);
        let mut fed = buf.len();
        let err = loop {
            match d.decode(&mut buf) {
                Ok(None) => {
                    buf.extend_from_slice(b"$3\r\nabc\r\n");
                    fed += 9;
                    assert!(fed < 8192, "no error after {fed} bytes");
                }
                Ok(Some(v)) => panic!("an endless array completed: {v:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind, ProtocolErrorKind::FrameTooLong { max: 4096 });
        assert!(err.to_string().contains("4096"), "{err}");
        // A frame just under the limit still decodes.
        let mut d = Decoder::with_limits(limits);
        let mut ok = BytesMut::from(&b"*1\r\n$4000\r\n"[..]);
        ok.extend_from_slice(&[b'x'; 4000]);
        ok.extend_from_slice(b"\r\n");
        assert!(matches!(d.decode(&mut ok), Ok(Some(_))));
    }

    #[test]
    fn limits() {
        let limits = Limits {
            max_bulk_len: 10,
            max_aggregate_len: 3,
            max_depth: 2,
            max_line_len: 8,
            max_frame_len: 1 << 20,
        };
        fn run_with(limits: Limits, input: &[u8]) -> Result<Option<Parsed<'_>>, ProtocolError> {
            Decoder::with_limits(limits).parse(input)
        }
        let run = |input: &'static [u8]| run_with(limits, input);
        assert_eq!(
            run(b"$11\r\n").unwrap_err().kind,
            ProtocolErrorKind::BulkTooLong { len: 11, max: 10 }
        );
        assert!(run(b"$10\r\n0123456789\r\n").unwrap().is_some());
        assert_eq!(
            run(b"*4\r\n").unwrap_err().kind,
            ProtocolErrorKind::AggregateTooLong { len: 4, max: 3 }
        );
        assert_eq!(
            run(b"%4\r\n").unwrap_err().kind,
            ProtocolErrorKind::AggregateTooLong { len: 4, max: 3 }
        );
        let e = run(b"*1\r\n*1\r\n*1\r\n").unwrap_err();
        assert_eq!(
            (e.offset, e.kind),
            (8, ProtocolErrorKind::TooDeep { max: 2 })
        );
        assert!(run(b"*1\r\n*1\r\n:1\r\n").unwrap().is_some());
        // Too long with CRLF present, and too long before any CR arrives.
        let e = run(b"+123456789\r\n").unwrap_err();
        assert_eq!(e.kind, ProtocolErrorKind::LineTooLong { max: 8 });
        let e = run(b"+123456789").unwrap_err();
        assert_eq!(e.kind, ProtocolErrorKind::LineTooLong { max: 8 });
        assert_eq!(run(b"+12345678").unwrap(), None);
        // A huge claimed length is rejected by default, never allocated.
        let e = Decoder::new().parse(b"$99999999999\r\n").unwrap_err();
        assert!(matches!(e.kind, ProtocolErrorKind::BulkTooLong { .. }));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut input = Vec::new();
        for _ in 0..100_000 {
            input.extend_from_slice(b"*1\r\n");
        }
        let e = Decoder::new().parse(&input).unwrap_err();
        assert_eq!(e.kind, ProtocolErrorKind::TooDeep { max: 128 });
        assert_eq!(e.offset, 128 * 4);
        // Within the limit, deep values convert and encode without recursion.
        let mut input = Vec::new();
        for _ in 0..128 {
            input.extend_from_slice(b"*1\r\n");
        }
        input.extend_from_slice(b":7\r\n");
        let mut buf = bytes::BytesMut::from(&input[..]);
        let v = Decoder::new().decode(&mut buf).unwrap().unwrap();
        let mut out = bytes::BytesMut::new();
        v.encode(&mut out);
        assert_eq!(&out[..], &input[..]);
    }

    #[test]
    fn incomplete_then_complete_byte_by_byte() {
        let input = b"|1\r\n+a\r\n+b\r\n*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n=7\r\ntxt:abc\r\n,1e3\r\n";
        let mut d = Decoder::new();
        for n in 0..input.len() {
            assert_eq!(d.parse(&input[..n]).unwrap(), None, "prefix {n}");
        }
        let p = d.parse(input).unwrap().unwrap();
        assert_eq!(p.len, input.len());
        assert_eq!(p, one(input));
    }

    #[test]
    fn reset_forgets_partial_state() {
        let mut d = Decoder::new();
        assert_eq!(d.parse(b"*2\r\n:1\r\n").unwrap(), None);
        d.reset();
        assert_eq!(
            d.parse(b":5\r\n").unwrap().unwrap().frame,
            Frame::Integer(5)
        );
    }

    #[test]
    fn decode_copies_short_strings_and_shares_the_buffer_for_long_ones() {
        let long = [b'x'; ByteStr::INLINE + 1];
        let mut wire = b"*3\r\n$3\r\nfoo\r\n$24\r\n".to_vec();
        wire.extend_from_slice(&long);
        wire.extend_from_slice(b"\r\n+");
        wire.extend_from_slice(&long);
        wire.extend_from_slice(b"\r\n:9\r\n");
        let mut buf = bytes::BytesMut::from(&wire[..]);
        let mut d = Decoder::new();
        let v = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..], b":9\r\n");
        let items = v.as_array().unwrap();
        let (Value::Bulk(foo), Value::Bulk(a), Value::SimpleString(b)) =
            (&items[0], &items[1], &items[2])
        else {
            panic!("{v:?}")
        };
        assert_eq!(foo, "foo");
        assert!(!foo.is_shared(), "short strings are inline");
        assert_eq!((&a[..], &b[..]), (&long[..], &long[..]));
        // Both long strings point into one allocation, 24 + 3 bytes apart.
        assert!(a.is_shared() && b.is_shared());
        assert_eq!(b.as_ptr() as usize - a.as_ptr() as usize, 27);
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Value::Integer(9)));
        assert!(buf.is_empty());

        // Top-level strings, by the quick path and the general one (verbatim, attributes).
        buf.extend_from_slice(b"+OK\r\n$24\r\n");
        buf.extend_from_slice(&long);
        buf.extend_from_slice(b"\r\n=28\r\ntxt:");
        buf.extend_from_slice(&long);
        buf.extend_from_slice(b"\r\n|1\r\n+k\r\n+v\r\n$24\r\n");
        buf.extend_from_slice(&long);
        buf.extend_from_slice(b"\r\n");
        let ok = d.decode(&mut buf).unwrap().unwrap();
        assert!(matches!(&ok, Value::SimpleString(s) if !s.is_shared() && s == "OK"));
        let bulk = d.decode(&mut buf).unwrap().unwrap();
        assert!(matches!(&bulk, Value::Bulk(s) if s.is_shared() && s[..] == long[..]));
        let verbatim = d.decode(&mut buf).unwrap().unwrap();
        assert!(matches!(&verbatim, Value::Verbatim { text, .. } if text[..] == long[..]));
        let attributed = d.decode(&mut buf).unwrap().unwrap();
        let Value::Attributed { attributes, value } = attributed else {
            panic!()
        };
        assert_eq!(attributes[0].0.as_str(), Some("k"));
        assert_eq!(value.as_bytes(), Some(&long[..]));
        assert!(buf.is_empty());
        assert_eq!(d.decode(&mut buf).unwrap(), None);
    }

    /// Feeds `input` to a fresh decoder `chunk` bytes at a time; returns bytes examined.
    fn examined_when_chunked(input: &[u8], chunk: usize) -> u64 {
        let mut d = Decoder::new();
        let mut n = 0;
        loop {
            n = (n + chunk).min(input.len());
            match d.parse(&input[..n]).unwrap() {
                Some(p) => {
                    assert_eq!(p.len, input.len());
                    return d.bytes_examined();
                }
                None => assert!(n < input.len(), "complete input must parse"),
            }
        }
    }

    #[test]
    fn big_bulk_is_linear_whatever_the_chunking() {
        // 4 MiB one byte at a time and 64 MiB in 4 KiB chunks: the payload is never scanned,
        // each call for a pending payload is O(1).
        for (size, chunk) in [(4usize << 20, 1usize), (64 << 20, 4096)] {
            let mut input = format!("${size}\r\n").into_bytes();
            input.resize(input.len() + size, b'x');
            input.extend_from_slice(b"\r\n");
            let examined = examined_when_chunked(&input, chunk);
            assert!(examined <= 64, "examined {examined} bytes for {size}");
        }
    }

    #[test]
    fn nested_arrays_byte_by_byte_are_linear() {
        let mut input = Vec::new();
        // 100 levels of arrays of 50 small elements each, fed one byte at a time.
        for _ in 0..100 {
            input.extend_from_slice(b"*51\r\n");
            for i in 0..25 {
                input.extend_from_slice(format!(":{i}\r\n+simple string {i}\r\n").as_bytes());
            }
        }
        input.extend_from_slice(b"$3\r\nend\r\n");
        let n = input.len() as u64;
        let one_byte = examined_when_chunked(&input, 1);
        let whole = examined_when_chunked(&input, input.len());
        assert!(one_byte <= 2 * n, "examined {one_byte} for {n} bytes");
        assert!(
            whole <= one_byte && whole >= n / 2,
            "whole {whole}, byte by byte {one_byte}"
        );
        // A long simple string (within the line limit) fed byte by byte is scanned once.
        let mut line = b"+".to_vec();
        line.resize(60_000, b'a');
        line.extend_from_slice(b"\r\n");
        let examined = examined_when_chunked(&line, 1);
        assert!(examined <= 2 * line.len() as u64, "examined {examined}");
    }
}
