//! Line-level RESP syntax shared by the incremental decoder and the readers of validated bytes.
//!
//! Everything here is a pure function of a slice: no state, no allocation, no panics. The
//! decoder turns the `(kind, offset)` errors into [`ProtocolError`]s with frame offsets; the
//! readers of already-validated bytes treat any error as "stop" (it cannot happen for bytes the
//! decoder accepted).

use super::{Frame, ProtocolErrorKind};

/// What a header line announces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Head<'a> {
    /// A complete scalar held by the line itself (`+ - : _ # , (`, null bulk or null array).
    Done(Frame<'a>),
    /// A `$`, `!` or `=` payload of `len` bytes follows the line, then CRLF.
    Blob { kind: u8, len: usize },
    /// An aggregate (`* % ~ > |`) of `len` elements, or pairs for `%` and `|`.
    Agg { kind: u8, len: usize },
}

/// A syntax error: its kind and the offset inside the line content where it was found.
pub(crate) type LineError = (ProtocolErrorKind, usize);

/// Position of the first CR in `hay`. Header lines are short, so a plain loop over the first
/// bytes beats the setup cost of a vectorised search; long lines go to `memchr`.
#[inline]
pub(crate) fn find_cr(hay: &[u8]) -> Option<usize> {
    const SHORT: usize = 24;
    let head = hay.get(..SHORT).unwrap_or(hay);
    if let Some(i) = head.iter().position(|&b| b == b'\r') {
        return Some(i);
    }
    let rest = hay.get(SHORT..)?;
    memchr::memchr(b'\r', rest).map(|i| i + SHORT)
}

/// Reads a plain length header (1 to 9 digits, then CRLF) whose digits start at `buf[from]`;
/// returns the length and the offset just past the CRLF. `None` for anything else (a sign,
/// more digits, no CRLF yet), which the general path then reads.
#[inline(always)]
pub(crate) fn short_len(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    let mut n = 0usize;
    loop {
        let d = buf.get(i)?.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i - from >= 9 {
            return None;
        }
        n = n * 10 + d as usize;
        i += 1;
    }
    if i == from || buf.get(i..i + 2)? != b"\r\n" {
        return None;
    }
    Some((n, i + 2))
}

/// True for every byte that may start a RESP2/RESP3 frame, streamed parts included.
#[inline]
pub(crate) fn is_prefix(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-'
            | b':'
            | b'$'
            | b'*'
            | b'_'
            | b'#'
            | b','
            | b'('
            | b'!'
            | b'='
            | b'%'
            | b'~'
            | b'>'
            | b'|'
            | b';'
            | b'.'
    )
}

/// True for aggregate markers whose elements come in key/value pairs.
#[inline]
pub(crate) fn is_pairs(kind: u8) -> bool {
    kind == b'%' || kind == b'|'
}

/// Parses the content of a header line (`line` excludes the type byte and the CRLF).
#[inline]
pub(crate) fn head(kind: u8, line: &[u8]) -> Result<Head<'_>, LineError> {
    let frame = match kind {
        b'+' => Frame::SimpleString(line),
        b'-' => Frame::Error(line),
        b':' => Frame::Integer(parse_int(line)?),
        b'$' | b'!' | b'=' => {
            return match parse_len(line)? {
                Some(len) => {
                    if kind == b'=' && len < 4 {
                        Err((ProtocolErrorKind::InvalidVerbatim, 0))
                    } else {
                        Ok(Head::Blob { kind, len })
                    }
                }
                None if kind == b'$' => Ok(Head::Done(Frame::Null)),
                None => Err((ProtocolErrorKind::InvalidLength(-1), 0)),
            }
        }
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            return match parse_len(line)? {
                Some(len) => Ok(Head::Agg { kind, len }),
                None if kind == b'*' => Ok(Head::Done(Frame::Null)),
                None => Err((ProtocolErrorKind::InvalidLength(-1), 0)),
            }
        }
        b'_' => {
            if !line.is_empty() {
                return Err((ProtocolErrorKind::MissingCrlf, 0));
            }
            Frame::Null
        }
        b'#' => match line {
            b"t" => Frame::Boolean(true),
            b"f" => Frame::Boolean(false),
            _ => return Err((ProtocolErrorKind::InvalidBoolean, 0)),
        },
        b',' => Frame::Double(parse_double(line)?),
        b'(' => {
            check_big_number(line)?;
            Frame::BigNumber(line)
        }
        b';' | b'.' => return Err((ProtocolErrorKind::StreamedUnsupported, 0)),
        other => return Err((ProtocolErrorKind::InvalidPrefix(other), 0)),
    };
    Ok(Head::Done(frame))
}

/// Builds the frame for a complete `$`, `!` or `=` payload (without its trailing CRLF).
#[inline]
pub(crate) fn blob(kind: u8, payload: &[u8]) -> Result<Frame<'_>, LineError> {
    match kind {
        b'!' => Ok(Frame::BlobError(payload)),
        b'=' => match payload {
            [a, b, c, b':', text @ ..] => Ok(Frame::Verbatim {
                format: [*a, *b, *c],
                text,
            }),
            _ => Err((ProtocolErrorKind::InvalidVerbatim, 3)),
        },
        _ => Ok(Frame::Bulk(payload)),
    }
}

/// Parses a RESP integer: optional sign, then 1 to 19 digits, within `i64`.
#[inline]
pub(crate) fn parse_int(line: &[u8]) -> Result<i64, LineError> {
    let (neg, digits) = match line {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, line),
    };
    if digits.is_empty() {
        return Err((ProtocolErrorKind::InvalidInteger, 0));
    }
    let off = line.len() - digits.len();
    // Accumulate as a negative number so that i64::MIN parses.
    let mut n: i64 = 0;
    for (i, &d) in digits.iter().enumerate() {
        let v = d.wrapping_sub(b'0');
        if v > 9 {
            return Err((ProtocolErrorKind::InvalidInteger, off + i));
        }
        n = match n.checked_mul(10).and_then(|n| n.checked_sub(v as i64)) {
            Some(n) => n,
            None => return Err((ProtocolErrorKind::InvalidInteger, off + i)),
        };
    }
    if neg {
        Ok(n)
    } else {
        n.checked_neg()
            .ok_or((ProtocolErrorKind::InvalidInteger, 0))
    }
}

/// Parses a length field: `Some(n)` for `n >= 0`, `None` for `-1`; `?` means a streamed type.
#[inline]
pub(crate) fn parse_len(line: &[u8]) -> Result<Option<usize>, LineError> {
    // Fast path: plain digits, the common case.
    if let [first, rest @ ..] = line {
        if first.is_ascii_digit() && rest.len() < 18 {
            let mut n = (first - b'0') as u64;
            let mut ok = true;
            for &d in rest {
                let v = d.wrapping_sub(b'0');
                ok &= v <= 9;
                n = n * 10 + v as u64;
            }
            if ok {
                return usize::try_from(n)
                    .map(Some)
                    .map_err(|_| (ProtocolErrorKind::InvalidInteger, 0));
            }
        }
    }
    if line == b"?" {
        return Err((ProtocolErrorKind::StreamedUnsupported, 0));
    }
    match parse_int(line)? {
        -1 => Ok(None),
        n if n < 0 => Err((ProtocolErrorKind::InvalidLength(n), 0)),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| (ProtocolErrorKind::InvalidInteger, 0)),
    }
}

/// Parses a RESP3 double: decimal with optional exponent, or `inf`, `-inf`, `nan`.
pub(crate) fn parse_double(line: &[u8]) -> Result<f64, LineError> {
    // Only ASCII letters, digits, signs and dots may appear; this also rules out the
    // whitespace and non-ASCII forms `str::parse` would otherwise have to consider.
    let ok = !line.is_empty()
        && line
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if ok {
        if let Ok(s) = std::str::from_utf8(line) {
            if let Ok(v) = s.parse::<f64>() {
                return Ok(v);
            }
        }
    }
    Err((ProtocolErrorKind::InvalidDouble, 0))
}

/// Checks a big number: optional sign, then at least one digit.
pub(crate) fn check_big_number(line: &[u8]) -> Result<(), LineError> {
    let digits = match line {
        [b'-' | b'+', rest @ ..] => rest,
        _ => line,
    };
    if digits.is_empty() {
        return Err((ProtocolErrorKind::InvalidBigNumber, 0));
    }
    match digits.iter().position(|d| !d.is_ascii_digit()) {
        Some(i) => Err((
            ProtocolErrorKind::InvalidBigNumber,
            line.len() - digits.len() + i,
        )),
        None => Ok(()),
    }
}

/// One element read from validated bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Item<'a> {
    /// A scalar or blob, complete.
    Frame(Frame<'a>),
    /// An aggregate header; its elements start at the position returned with it.
    Agg { kind: u8, len: usize },
}

/// Reads the element starting at `pos` of bytes the decoder has validated; returns it and the
/// position after it (after the header only, for aggregates). `None` if the bytes are not
/// valid RESP, which cannot happen for validated input.
#[inline]
pub(crate) fn read_item(buf: &[u8], pos: usize) -> Option<(Item<'_>, usize)> {
    let kind = *buf.get(pos)?;
    // The common element, a bulk string with a short plain length: its CRLF was checked.
    if kind == b'$' {
        if let Some((len, start)) = short_len(buf, pos + 1) {
            let end = start.checked_add(len)?;
            let payload = buf.get(start..end)?;
            return Some((Item::Frame(Frame::Bulk(payload)), end.checked_add(2)?));
        }
    }
    let rest = buf.get(pos + 1..)?;
    let cr = find_cr(rest)?;
    let line = &rest[..cr];
    let next = pos + 1 + cr + 2;
    match head(kind, line).ok()? {
        Head::Done(f) => Some((Item::Frame(f), next)),
        Head::Agg { kind, len } => Some((Item::Agg { kind, len }, next)),
        Head::Blob { kind, len } => {
            let end = next.checked_add(len)?;
            let payload = buf.get(next..end)?;
            let f = blob(kind, payload).ok()?;
            Some((Item::Frame(f), end.checked_add(2)?))
        }
    }
}

/// Skips `count` elements (attributes do not count, as on the wire) of validated bytes from
/// `pos`, without recursion: one counter of elements still to pass is enough.
pub(crate) fn skip(buf: &[u8], mut pos: usize, count: usize) -> Option<usize> {
    let mut remaining = count;
    while remaining > 0 {
        let kind = *buf.get(pos)?;
        if kind == b'$' {
            if let Some((len, start)) = short_len(buf, pos + 1) {
                pos = start.checked_add(len)?.checked_add(2)?;
                remaining -= 1;
                continue;
            }
        }
        let rest = buf.get(pos + 1..)?;
        let cr = find_cr(rest)?;
        let line = &rest[..cr];
        pos += 1 + cr + 2;
        match kind {
            b'$' | b'!' | b'=' => {
                if let Some(len) = parse_len(line).ok()? {
                    pos = pos.checked_add(len)?.checked_add(2)?;
                }
                remaining -= 1;
            }
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                let n = parse_len(line).ok()?.unwrap_or(0);
                let elems = if is_pairs(kind) { n.checked_mul(2)? } else { n };
                remaining = remaining.checked_add(elems)?;
                if kind != b'|' {
                    remaining -= 1;
                }
            }
            _ => remaining -= 1,
        }
    }
    Some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int(b"0"), Ok(0));
        assert_eq!(parse_int(b"-42"), Ok(-42));
        assert_eq!(parse_int(b"+7"), Ok(7));
        assert_eq!(parse_int(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Ok(i64::MIN));
        assert!(parse_int(b"9223372036854775808").is_err());
        assert!(parse_int(b"-9223372036854775809").is_err());
        assert_eq!(
            parse_int(b"12x"),
            Err((ProtocolErrorKind::InvalidInteger, 2))
        );
        assert!(parse_int(b"").is_err());
        assert!(parse_int(b"-").is_err());
        assert!(parse_int(b"+inf").is_err());
        assert!(parse_int(b"1.0").is_err());
        assert!(parse_int(b" 1").is_err());
    }

    #[test]
    fn short_lengths() {
        assert_eq!(short_len(b"$16\r\nx", 1), Some((16, 5)));
        assert_eq!(short_len(b"$0\r\n", 1), Some((0, 4)));
        assert_eq!(short_len(b"$999999999\r\n", 1), Some((999_999_999, 12)));
        for bad in [
            &b"$1234567890\r\n"[..],
            b"$-1\r\n",
            b"$\r\n",
            b"$12",
            b"$1\r",
            b"$1\rx",
        ] {
            assert_eq!(short_len(bad, 1), None, "{bad:?}");
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(parse_len(b"0"), Ok(Some(0)));
        assert_eq!(parse_len(b"123"), Ok(Some(123)));
        assert_eq!(parse_len(b"-1"), Ok(None));
        assert_eq!(
            parse_len(b"-2"),
            Err((ProtocolErrorKind::InvalidLength(-2), 0))
        );
        assert_eq!(
            parse_len(b"?"),
            Err((ProtocolErrorKind::StreamedUnsupported, 0))
        );
        assert!(parse_len(b"").is_err());
        assert!(parse_len(b"1a").is_err());
        assert!(parse_len(b"99999999999999999999").is_err());
    }

    #[test]
    fn doubles() {
        assert_eq!(parse_double(b"1.5"), Ok(1.5));
        assert_eq!(parse_double(b"-2"), Ok(-2.0));
        assert_eq!(parse_double(b"1.5e3"), Ok(1500.0));
        assert_eq!(parse_double(b"1E-2"), Ok(0.01));
        assert_eq!(parse_double(b"inf"), Ok(f64::INFINITY));
        assert_eq!(parse_double(b"-inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_double(b"nan").is_ok_and(f64::is_nan));
        assert!(parse_double(b"").is_err());
        assert!(parse_double(b"1,5").is_err());
        assert!(parse_double(b" 1").is_err());
        assert!(parse_double(b"abc").is_err());
    }

    #[test]
    fn big_numbers() {
        assert!(check_big_number(b"3492890328409238509324850943850943825024385").is_ok());
        assert!(check_big_number(b"-1").is_ok());
        assert!(check_big_number(b"-").is_err());
        assert_eq!(
            check_big_number(b"12a"),
            Err((ProtocolErrorKind::InvalidBigNumber, 2))
        );
    }

    #[test]
    fn skip_counts_nested_and_attributes() {
        let buf = b"*2\r\n|1\r\n+a\r\n+b\r\n$3\r\nfoo\r\n*1\r\n:1\r\n+next\r\n";
        // Skip the first element (the array); we land on "+next".
        let end = skip(buf, 0, 1).unwrap();
        assert_eq!(&buf[end..], b"+next\r\n");
    }
}
