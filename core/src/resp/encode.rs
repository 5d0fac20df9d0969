//! Commands as RESP arrays of bulk strings, written without intermediate allocations.

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// A value that can be a command argument: bytes, strings and integers.
pub trait Arg {
    /// Calls `f` with the argument's bytes; integers are formatted on the stack.
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R;
}

impl Arg for [u8] {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}
impl<const N: usize> Arg for [u8; N] {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}
impl Arg for Vec<u8> {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}
impl Arg for Bytes {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self)
    }
}
impl Arg for str {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}
impl Arg for String {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.as_bytes())
    }
}
impl<T: Arg + ?Sized> Arg for &T {
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        (**self).with_bytes(f)
    }
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
                let mut buf = [0u8; 40];
                let s = format_int(*self as i128, &mut buf);
                f(s)
            }
        }
    )*};
}
int_arg!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

macro_rules! float_arg {
    ($($t:ty),*) => {$(
        /// The shortest decimal that reads back as the same number, in exponent form when
        /// that is long (`1e300`); `inf` and `-inf` as the server writes them. On the stack.
        impl Arg for $t {
            fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
                use std::fmt::Write;
                let mut w = StackText { buf: [0u8; 64], len: 0 };
                let v = *self;
                let plain = if v.is_infinite() {
                    w.write_str(if v > 0.0 { "inf" } else { "-inf" })
                } else {
                    write!(w, "{v}")
                };
                if plain.is_err() {
                    w.len = 0;
                    let _ = write!(w, "{v:e}");
                }
                f(&w.buf[..w.len])
            }
        }
    )*};
}
float_arg!(f32, f64);

/// A small text buffer on the stack; a write that does not fit fails.
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Formats `n` in decimal into the tail of `buf` and returns the written slice.
pub(crate) fn format_int(n: i128, buf: &mut [u8; 40]) -> &[u8] {
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    if let Ok(small) = u64::try_from(v) {
        // 64-bit division: the 128-bit one is a library call per digit.
        let digits = format_u64(small, buf).len();
        i -= digits;
        if neg {
            i -= 1;
            buf[i] = b'-';
        }
        return &buf[i..];
    }
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// `n` in decimal at the end of `buf`.
fn format_u64(mut n: u64, buf: &mut [u8; 40]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

fn put_header(out: &mut BytesMut, marker: u8, n: usize) {
    if n < 10 {
        out.put_slice(&[marker, b'0' + n as u8, b'\r', b'\n']);
        return;
    }
    let mut buf = [0u8; 40];
    out.put_u8(marker);
    out.put_slice(format_u64(n as u64, &mut buf));
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, arg: &[u8]) {
    put_header(out, b'$', arg.len());
    out.put_slice(arg);
    out.put_slice(b"\r\n");
}

/// Writes `args` as one command (an array of bulk strings) at the end of `out`.
pub fn encode_command<A: Arg>(out: &mut BytesMut, args: &[A]) {
    put_header(out, b'*', args.len());
    for a in args {
        a.with_bytes(|b| put_bulk(out, b));
    }
}

/// A command being built: its arguments are kept already encoded, so writing it is one copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    /// Encoded arguments (`$len\r\nbytes\r\n` each), name first.
    body: BytesMut,
    argc: usize,
}

/// Starts a command named `name`, e.g. `cmd("SET").arg("k").arg(1)`.
pub fn cmd(name: impl Arg) -> Cmd {
    Cmd::new(name)
}

impl Cmd {
    /// Starts a command named `name`.
    pub fn new(name: impl Arg) -> Cmd {
        // Room for a typical short command, so that building it allocates once.
        let mut c = Cmd {
            body: BytesMut::with_capacity(64),
            argc: 0,
        };
        c.push(name);
        c
    }

    /// Appends one argument.
    pub fn arg(mut self, a: impl Arg) -> Cmd {
        self.push(a);
        self
    }

    /// Appends every item as an argument: a slice, a `Vec`, an array, any iterator
    /// (`cmd("DEL").args(["a", "b"])`, `cmd("SADD").arg("s").args(&members)`).
    pub fn args<A: Arg>(mut self, items: impl IntoIterator<Item = A>) -> Cmd {
        for a in items {
            self.push(a);
        }
        self
    }

    /// Appends each pair as two arguments: a map or a list of field/value (or score/member)
    /// pairs (`cmd("HSET").arg("h").pairs([("f1", "v1"), ("f2", "v2")])`).
    pub fn pairs<K: Arg, V: Arg>(mut self, items: impl IntoIterator<Item = (K, V)>) -> Cmd {
        for (k, v) in items {
            self.push(k);
            self.push(v);
        }
        self
    }

    /// Appends one argument in place.
    pub fn push(&mut self, a: impl Arg) {
        a.with_bytes(|b| put_bulk(&mut self.body, b));
        self.argc += 1;
    }

    /// Number of words, the name included.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Always false: a command has at least its name.
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// The words of the command, name first.
    pub fn words(&self) -> Words<'_> {
        Words {
            rest: &self.body,
            left: self.argc,
        }
    }

    /// The command name as given (not case-folded).
    pub fn name(&self) -> &[u8] {
        self.words().next().unwrap_or(&[])
    }

    /// True when the name equals `name`, ignoring ASCII case.
    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }

    /// The first of `names` this command is (ignoring ASCII case), reading its name once.
    pub fn is_one_of<'n>(&self, names: &[&'n str]) -> Option<&'n str> {
        let mine = self.name();
        names
            .iter()
            .find(|n| mine.eq_ignore_ascii_case(n.as_bytes()))
            .copied()
    }

    /// Bytes [`Cmd::encode`] will write.
    pub fn encoded_len(&self) -> usize {
        let mut buf = [0u8; 40];
        1 + format_int(self.argc as i128, &mut buf).len() + 2 + self.body.len()
    }

    /// Writes the command at the end of `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        put_header(out, b'*', self.argc);
        out.put_slice(&self.body);
    }

    /// The command encoded into a fresh buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out.freeze()
    }
}

/// Iterator over the words of a [`Cmd`].
pub struct Words<'a> {
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        // Layout is ours: `$<len>\r\n<bytes>\r\n`, the length in plain decimal digits.
        let mut len = 0usize;
        let mut cr = 1;
        while let Some(&d) = self.rest.get(cr).filter(|d| d.is_ascii_digit()) {
            len = len.checked_mul(10)?.checked_add(usize::from(d - b'0'))?;
            cr += 1;
        }
        if self.rest.get(cr) != Some(&b'\r') {
            return None;
        }
        let start = cr + 2;
        let word = self.rest.get(start..start + len)?;
        self.rest = &self.rest[start + len + 2..];
        self.left -= 1;
        Some(word)
    }
}

impl fmt::Debug for Cmd {
    /// Shows the name and the number of arguments only: arguments may hold passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cmd({} +{} args)",
            String::from_utf8_lossy(self.name()),
            self.argc.saturating_sub(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(c: &Cmd) -> Vec<String> {
        c.words()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    #[test]
    fn floats_read_back_and_lists_expand() {
        for v in [1.5f64, -0.25, 3.0, 1e300, 5e-324, f64::MAX, 0.1 + 0.2] {
            let c = cmd("X").arg(v);
            let w = words(&c);
            assert_eq!(w[1].parse::<f64>().unwrap(), v, "{}", w[1]);
            assert!(w[1].len() <= 64);
        }
        assert_eq!(
            words(&cmd("X").arg(f64::INFINITY).arg(f64::NEG_INFINITY)),
            ["X", "inf", "-inf"]
        );
        assert_eq!(words(&cmd("X").arg(2.5f32)), ["X", "2.5"]);
        let c = cmd("DEL")
            .args(["a", "b"])
            .args(vec![String::from("c")])
            .args([1, 2].iter());
        assert_eq!(words(&c), ["DEL", "a", "b", "c", "1", "2"]);
        let mut m = std::collections::BTreeMap::new();
        m.insert("f1", 1);
        m.insert("f2", 2);
        let c = cmd("HSET").arg("h").pairs(m).pairs([(1.5, "m")]);
        assert_eq!(words(&c), ["HSET", "h", "f1", "1", "f2", "2", "1.5", "m"]);
        assert_eq!(c.encoded_len(), c.to_bytes().len());
    }

    #[test]
    fn encodes_set_with_integer() {
        let c = cmd("SET").arg("k").arg(-42i64);
        assert_eq!(
            &c.to_bytes()[..],
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n-42\r\n"
        );
        assert_eq!(c.encoded_len(), c.to_bytes().len());
        assert!(c.is("set"));
        let words: Vec<&[u8]> = c.words().collect();
        assert_eq!(words, vec![&b"SET"[..], b"k", b"-42"]);
    }

    #[test]
    fn words_of_every_length_read_back_and_names_match_once() {
        let long = vec![b'x'; 70_000];
        let empty: &[u8] = b"";
        let c = cmd("xRead")
            .arg(empty)
            .arg(&long[..])
            .arg("BLOCK")
            .arg(1234567890);
        let got: Vec<&[u8]> = c.words().collect();
        assert_eq!(
            got,
            vec![&b"xRead"[..], b"", &long[..], b"BLOCK", b"1234567890"]
        );
        assert_eq!(c.is_one_of(&["XADD", "XREAD", "XREADGROUP"]), Some("XREAD"));
        assert_eq!(c.is_one_of(&["XREADGROUP", "READ"]), None);
        assert_eq!(cmd("").is_one_of(&[""]), Some(""));
    }

    #[test]
    fn encode_command_matches_builder() {
        let mut out = BytesMut::new();
        encode_command(&mut out, &["GET", "key"]);
        assert_eq!(out.freeze(), cmd("GET").arg("key").to_bytes());
    }

    #[test]
    fn debug_hides_arguments() {
        let c = cmd("AUTH").arg("user").arg("s3cret");
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn formats_extreme_integers() {
        let mut buf = [0u8; 40];
        assert_eq!(
            format_int(i64::MIN as i128, &mut buf),
            b"-9223372036854775808"
        );
        assert_eq!(
            format_int(u64::MAX as i128, &mut buf),
            b"18446744073709551615"
        );
        assert_eq!(format_int(0, &mut buf), b"0");
        assert_eq!(format_int(-7, &mut buf), b"-7");
        assert_eq!(
            format_int(i128::MIN, &mut buf),
            b"-170141183460469231731687303715884105728"
        );
        assert_eq!(
            format_int(-(u64::MAX as i128) - 1, &mut buf),
            b"-18446744073709551616"
        );
        for n in [0usize, 9, 10, 99, 100, 12345, usize::MAX] {
            let mut out = BytesMut::new();
            put_header(&mut out, b'$', n);
            assert_eq!(&out[..], format!("${n}\r\n").as_bytes());
        }
    }
}
