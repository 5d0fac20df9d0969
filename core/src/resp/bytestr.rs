//! [`ByteStr`], the string payload of an owned [`Value`](super::Value).
//!
//! Most strings in replies are short (`OK`, field names, numbers sent as bulk strings, small
//! values). Holding those inline costs a copy of a few bytes; holding them as `Bytes` slices of
//! the read buffer costs an atomic reference-count increment when the value is built and a
//! decrement when it is dropped, several times the work of decoding the string. So a string of
//! up to [`ByteStr::INLINE`] bytes is copied into the value, and a longer one stays a zero-copy
//! `Bytes` slice of the frame it came in. Which one a `ByteStr` is never changes what it
//! compares, hashes or prints as.

use bytes::Bytes;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// An owned byte string: inline when short, a shared `Bytes` slice when long (see the module
/// docs). Dereferences to `[u8]`; [`ByteStr::into_bytes`] gives a `Bytes`.
#[derive(Clone)]
pub struct ByteStr(Repr);

#[derive(Clone)]
enum Repr {
    /// `buf[..len]`; `len <= INLINE` always. Bytes past `len` mean nothing (they may be
    /// whatever followed the string in the read buffer) and are never read.
    Inline {
        len: u8,
        buf: [u8; ByteStr::INLINE],
    },
    Shared(Bytes),
}

impl ByteStr {
    /// The longest string held inline. With this length a `ByteStr` is as large as a `Bytes`.
    pub const INLINE: usize = 23;

    /// The empty string.
    pub const fn new() -> ByteStr {
        ByteStr(Repr::Inline {
            len: 0,
            buf: [0; ByteStr::INLINE],
        })
    }

    /// A string of static bytes (never copied, no reference count).
    pub const fn from_static(s: &'static [u8]) -> ByteStr {
        ByteStr(Repr::Shared(Bytes::from_static(s)))
    }

    /// A copy of `s`: inline when it fits, otherwise one new allocation.
    pub fn copy_from_slice(s: &[u8]) -> ByteStr {
        ByteStr::inline(s).unwrap_or_else(|| ByteStr(Repr::Shared(Bytes::copy_from_slice(s))))
    }

    /// `s` inline, if it is short enough.
    #[inline]
    pub(crate) fn inline(s: &[u8]) -> Option<ByteStr> {
        if s.len() > ByteStr::INLINE {
            return None;
        }
        let mut buf = [0; ByteStr::INLINE];
        copy_short(&mut buf, s);
        Some(ByteStr(Repr::Inline {
            len: s.len() as u8,
            buf,
        }))
    }

    /// The first `len` bytes of `window` inline, if `len` is short enough (`len <=
    /// window.len()`). When `window` holds [`ByteStr::INLINE`] bytes or more, that many are
    /// copied with fixed-size moves, and the bytes past `len` (the rest of the read buffer) are
    /// kept but never read: a copy whose length is only known at run time costs a call to
    /// `memcpy` or byte-wise stores, several times the work of decoding a short string.
    #[inline(always)]
    pub(crate) fn inline_window(window: &[u8], len: usize) -> Option<ByteStr> {
        if len > ByteStr::INLINE {
            return None;
        }
        match window.first_chunk::<{ ByteStr::INLINE }>() {
            Some(buf) => Some(ByteStr(Repr::Inline {
                len: len as u8,
                buf: *buf,
            })),
            None => ByteStr::inline(window.get(..len)?),
        }
    }

    /// `s` inline when short, otherwise the slice `range` of `backing` (zero-copy), where
    /// `s == backing[range]`.
    #[inline]
    pub(crate) fn inline_or_slice(
        s: &[u8],
        backing: &Bytes,
        range: std::ops::Range<usize>,
    ) -> ByteStr {
        ByteStr::inline(s).unwrap_or_else(|| ByteStr(Repr::Shared(backing.slice(range))))
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Shared(b) => b,
        }
    }

    /// The string as `Bytes`: free for a shared string, one allocation for an inline one.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline { len, buf } => Bytes::copy_from_slice(&buf[..usize::from(len)]),
            Repr::Shared(b) => b,
        }
    }

    /// True when the string shares a buffer (a slice of the frame it arrived in, or static or
    /// caller-given bytes) rather than being held inline.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Shared(_))
    }
}

/// Copies `s` (at most [`ByteStr::INLINE`] bytes) to the front of `dst` with two fixed-size,
/// possibly overlapping moves instead of a call to `memcpy` for a length known only at run
/// time, which costs more than the copy itself for strings this short.
#[inline(always)]
fn copy_short(dst: &mut [u8; ByteStr::INLINE], s: &[u8]) {
    #[inline(always)]
    fn pair<const N: usize>(dst: &mut [u8], s: &[u8]) {
        let n = s.len();
        if let (Some(head), Some(tail)) = (s.first_chunk::<N>(), s.last_chunk::<N>()) {
            if let Some(d) = dst.first_chunk_mut::<N>() {
                *d = *head;
            }
            if let Some(d) = dst.get_mut(n - N..n).and_then(|d| d.first_chunk_mut::<N>()) {
                *d = *tail;
            }
        }
    }
    match s.len() {
        16.. => pair::<16>(dst, s),
        8..=15 => pair::<8>(dst, s),
        4..=7 => pair::<4>(dst, s),
        1..=3 => {
            let n = s.len();
            dst[0] = s[0];
            dst[n / 2] = s[n / 2];
            dst[n - 1] = s[n - 1];
        }
        0 => {}
    }
}

impl Default for ByteStr {
    fn default() -> ByteStr {
        ByteStr::new()
    }
}

impl Deref for ByteStr {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for ByteStr {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for ByteStr {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<Bytes> for ByteStr {
    /// Keeps `b` as it is (no copy, even when short).
    fn from(b: Bytes) -> ByteStr {
        ByteStr(Repr::Shared(b))
    }
}

impl From<ByteStr> for Bytes {
    fn from(s: ByteStr) -> Bytes {
        s.into_bytes()
    }
}

impl From<&'static [u8]> for ByteStr {
    fn from(s: &'static [u8]) -> ByteStr {
        ByteStr::from_static(s)
    }
}

impl From<&'static str> for ByteStr {
    fn from(s: &'static str) -> ByteStr {
        ByteStr::from_static(s.as_bytes())
    }
}

impl From<Vec<u8>> for ByteStr {
    fn from(v: Vec<u8>) -> ByteStr {
        ByteStr::inline(&v).unwrap_or_else(|| ByteStr(Repr::Shared(Bytes::from(v))))
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> ByteStr {
        ByteStr::from(s.into_bytes())
    }
}

impl PartialEq for ByteStr {
    fn eq(&self, other: &ByteStr) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ByteStr {}

impl PartialEq<[u8]> for ByteStr {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for ByteStr {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for ByteStr {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == other.as_slice()
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Bytes> for ByteStr {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_bytes() == other.as_ref()
    }
}

impl PartialEq<ByteStr> for Bytes {
    fn eq(&self, other: &ByteStr) -> bool {
        self.as_ref() == other.as_bytes()
    }
}

impl PartialEq<ByteStr> for [u8] {
    fn eq(&self, other: &ByteStr) -> bool {
        self == other.as_bytes()
    }
}

impl PartialEq<ByteStr> for str {
    fn eq(&self, other: &ByteStr) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialOrd for ByteStr {
    fn partial_cmp(&self, other: &ByteStr) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByteStr {
    fn cmp(&self, other: &ByteStr) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for ByteStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for ByteStr {
    /// As a byte string literal, `b"OK"`, whichever way it is held.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.as_bytes().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash(s: &ByteStr) -> u64 {
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    }

    #[test]
    fn as_large_as_bytes() {
        assert_eq!(std::mem::size_of::<ByteStr>(), std::mem::size_of::<Bytes>());
    }

    #[test]
    fn short_strings_inline_long_ones_shared() {
        let short = [b'a'; ByteStr::INLINE];
        let long = [b'b'; ByteStr::INLINE + 1];
        let s = ByteStr::copy_from_slice(&short);
        assert!(!s.is_shared());
        assert_eq!(s.as_bytes(), &short[..]);
        let l = ByteStr::copy_from_slice(&long);
        assert!(l.is_shared());
        assert_eq!(&l[..], &long[..]);
        assert!(!ByteStr::from(vec![1, 2]).is_shared());
        assert!(ByteStr::from(String::from_utf8(long.to_vec()).unwrap()).is_shared());
        assert!(ByteStr::new().is_empty());
        assert_eq!(ByteStr::default(), ByteStr::new());

        // A long string is a slice of the backing buffer, a short one is not.
        let backing = Bytes::from(vec![b'x'; 64]);
        let s = ByteStr::inline_or_slice(&backing[2..40], &backing, 2..40);
        assert!(s.is_shared());
        assert_eq!(s.as_ptr(), backing[2..].as_ptr());
        let s = ByteStr::inline_or_slice(&backing[2..4], &backing, 2..4);
        assert!(!s.is_shared());
        assert_eq!(&s[..], b"xx");
    }

    #[test]
    fn every_inline_length_copies_exactly() {
        let src: Vec<u8> = (1..=ByteStr::INLINE as u8).collect();
        for n in 0..=ByteStr::INLINE {
            let s = ByteStr::copy_from_slice(&src[..n]);
            assert!(!s.is_shared());
            assert_eq!(s.as_bytes(), &src[..n], "length {n}");
        }
    }

    #[test]
    fn inline_window_is_exactly_len_bytes_to_every_observer() {
        let src: Vec<u8> = (1..=40).collect();
        for start in [0, 10, 16, 17, 30, 40] {
            for len in 0..=(40 - start).min(ByteStr::INLINE) {
                let s = ByteStr::inline_window(&src[start..], len).unwrap();
                assert_eq!(s.as_bytes(), &src[start..start + len], "{start} {len}");
                let copy = ByteStr::copy_from_slice(&src[start..start + len]);
                // Bytes past `len` differ between the two; nothing observable does.
                assert_eq!(s, copy);
                assert_eq!(hash(&s), hash(&copy));
                assert_eq!(format!("{s:?}"), format!("{copy:?}"));
                assert_eq!(s.clone().into_bytes(), copy.into_bytes());
            }
        }
        assert!(ByteStr::inline_window(&src, ByteStr::INLINE + 1).is_none());
        assert!(ByteStr::inline_window(&src[..3], 4).is_none());
    }

    #[test]
    fn equal_hashed_and_ordered_by_content_whichever_the_form() {
        let inline = ByteStr::copy_from_slice(b"OK");
        let shared = ByteStr::from(Bytes::from_static(b"OK"));
        assert!(shared.is_shared() && !inline.is_shared());
        assert_eq!(inline, shared);
        assert_eq!(hash(&inline), hash(&shared));
        assert_eq!(inline.cmp(&shared), Ordering::Equal);
        assert!(ByteStr::from_static(b"a")
            .cmp(&ByteStr::copy_from_slice(b"b"))
            .is_lt());
        assert_eq!(inline, *"OK");
        assert_eq!(inline, "OK");
        assert_eq!(inline, &b"OK"[..]);
        assert_eq!(inline, b"OK");
        assert_eq!(inline, Bytes::from_static(b"OK"));
        assert_eq!(Bytes::from_static(b"OK"), inline);
        assert_eq!(*"OK", inline);
        assert_eq!(b"OK"[..], inline);
        assert_eq!(inline.clone().into_bytes(), Bytes::from_static(b"OK"));
        assert_eq!(Bytes::from(shared), Bytes::from_static(b"OK"));
    }

    #[test]
    fn debug_is_an_escaped_byte_string() {
        assert_eq!(
            format!("{:?}", ByteStr::copy_from_slice(b"a\r\n\xff")),
            r#"b"a\r\n\xff""#
        );
    }
}
