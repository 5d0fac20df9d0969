//! Fuzz target bodies, shared by the libFuzzer binaries in `fuzz/` and by the corpus replay test
//! (`core/tests/fuzz_corpus.rs`), so a checked-in input exercises exactly what the fuzzer ran.
//!
//! Each target takes arbitrary bytes and panics (via `assert!`) only when the decoder breaks one of
//! its promises: it must never panic, `parse` and `decode` must agree, chunking must not change the
//! result, and encoding then decoding a value must give it back. The `machine` target drives the
//! Sentinel state machine with arbitrary inputs (see [`machine`]); the `mux` target, the
//! sentinel connection mux (see [`mux`]).

use crate::resp::{Aggregate, Decoder, Frame, Limits, Parsed, ProtocolError, Value};
use bytes::BytesMut;

mod machine_target;
mod mux_target;
pub use machine_target::machine;
pub use mux_target::mux;

/// A fuzz target body: takes arbitrary bytes, panics only on a broken promise.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("decode", decode),
    ("decode_split", decode_split),
    ("roundtrip", roundtrip),
    ("machine", machine),
    ("mux", mux),
];

/// Tight limits, so short fuzz inputs reach every over-limit error path.
fn tight_limits() -> Limits {
    Limits {
        max_bulk_len: 64,
        max_aggregate_len: 16,
        max_depth: 6,
        max_line_len: 32,
        max_frame_len: 1 << 20,
    }
}

/// What decoding a buffer from the start produced: the frames in order, then how it stopped.
#[derive(Debug)]
struct Outcome {
    /// Each complete frame as an owned value, with the bytes it occupied.
    frames: Vec<(Value, usize)>,
    /// `Some` when decoding stopped on an error; `None` when the rest was empty or incomplete.
    error: Option<ProtocolError>,
    /// Bytes left over after the last complete frame (an incomplete frame, or where the error is).
    rest: usize,
}

/// Decodes `data` with [`Decoder::parse`] and [`Decoder::decode`] and checks they agree on
/// every frame, on the bytes each occupies, and on the error that stops them.
pub fn decode(data: &[u8]) {
    let default = decode_whole(data, Limits::default());
    let tight = decode_whole(data, tight_limits());
    // A frame within the tight limits is within the defaults and must decode the same.
    for (i, (t, d)) in tight.frames.iter().zip(&default.frames).enumerate() {
        assert!(
            same(&t.0, &d.0) && t.1 == d.1,
            "frame {i}: tight limits {t:?} but default limits {d:?}"
        );
    }
    if tight.error.is_none() {
        assert_eq!(tight.frames.len(), default.frames.len());
        assert_eq!(tight.rest, default.rest);
    }
}

/// Feeds the payload of `data` in chunks whose sizes come from its first bytes and checks the
/// frames and the final error equal those of decoding the payload whole.
///
/// Layout: `data[0] % 17` = how many chunk sizes follow; each next byte is a chunk size (0 means
/// "call again with nothing new, then feed one byte"); the sizes repeat; the rest is the payload.
pub fn decode_split(data: &[u8]) {
    let (sizes, payload) = match data.split_first() {
        Some((&n, rest)) => rest.split_at((n as usize % 17).min(rest.len())),
        None => (&[][..], data),
    };
    for limits in [Limits::default(), tight_limits()] {
        let whole = decode_whole(payload, limits);
        let parsed = parse_chunked(payload, sizes, limits);
        let decoded = decode_chunked(payload, sizes, limits);
        for (name, got) in [("parse", &parsed), ("decode", &decoded)] {
            assert_eq!(
                got.frames.len(),
                whole.frames.len(),
                "{name} in chunks found other frames than whole: {got:?} vs {whole:?}"
            );
            for (a, b) in got.frames.iter().zip(&whole.frames) {
                assert!(same(&a.0, &b.0) && a.1 == b.1, "{name}: {a:?} vs {b:?}");
            }
            assert_eq!(
                got.error, whole.error,
                "{name} in chunks stopped differently"
            );
            assert_eq!(got.rest, whole.rest, "{name} in chunks left other bytes");
        }
    }
}

/// Builds a [`Value`] from `data`, encodes it, and checks that `decode` and `parse` both give it
/// back and consume exactly the encoded bytes.
pub fn roundtrip(data: &[u8]) {
    let mut builder = Builder {
        data,
        pos: 0,
        budget: 200,
    };
    let value = builder.top();
    let mut wire = BytesMut::new();
    value.encode(&mut wire);
    let encoded = wire.clone().freeze();

    let mut dec = Decoder::new();
    let parsed = dec
        .parse(&encoded)
        .unwrap_or_else(|e| panic!("parse rejected encoded {value:?} ({encoded:?}): {e}"))
        .unwrap_or_else(|| panic!("parse wants more after encoded {value:?} ({encoded:?})"));
    assert_eq!(parsed.len, encoded.len(), "parse length of {encoded:?}");
    let seen = parsed_to_value(&parsed);
    assert!(same(&seen, &value), "parse: {seen:?} != {value:?}");

    let mut dec = Decoder::new();
    let decoded = dec
        .decode(&mut wire)
        .unwrap_or_else(|e| panic!("decode rejected encoded {value:?} ({encoded:?}): {e}"))
        .unwrap_or_else(|| panic!("decode wants more after encoded {value:?} ({encoded:?})"));
    assert!(wire.is_empty(), "decode left {wire:?} of {encoded:?}");
    assert!(same(&decoded, &value), "decode: {decoded:?} != {value:?}");
}

/// Decodes `data` from the start with both APIs of one decoder configuration and checks they
/// agree; returns what they found.
fn decode_whole(data: &[u8], limits: Limits) -> Outcome {
    let mut parser = Decoder::with_limits(limits);
    let mut decoder = Decoder::with_limits(limits);
    let mut owned = BytesMut::from(data);
    let mut rest = data;
    let mut frames = Vec::new();
    loop {
        let before = owned.len();
        let p = parser.parse(rest);
        let d = decoder.decode(&mut owned);
        match (p, d) {
            (Ok(Some(p)), Ok(Some(v))) => {
                assert!(
                    p.len > 0 && p.len <= rest.len(),
                    "parse length {} of {}",
                    p.len,
                    rest.len()
                );
                assert_eq!(
                    before - owned.len(),
                    p.len,
                    "decode consumed other bytes than parse"
                );
                let seen = parsed_to_value(&p);
                assert!(same(&seen, &v), "parse {seen:?} but decode {v:?}");
                frames.push((v, p.len));
                rest = &rest[p.len..];
            }
            (Ok(None), Ok(None)) => {
                assert_eq!(owned.len(), before, "decode consumed bytes without a frame");
                return Outcome {
                    frames,
                    error: None,
                    rest: rest.len(),
                };
            }
            (Err(pe), Err(de)) => {
                assert_eq!(pe, de, "parse and decode report different errors");
                assert!(
                    pe.offset <= rest.len(),
                    "error offset {} past {} bytes",
                    pe.offset,
                    rest.len()
                );
                return Outcome {
                    frames,
                    error: Some(pe),
                    rest: rest.len(),
                };
            }
            (p, d) => panic!("parse gave {p:?} but decode gave {d:?} on {rest:?}"),
        }
    }
}

/// The chunk sizes of [`decode_split`], repeating, each at least one byte of progress.
struct Chunks<'s> {
    sizes: &'s [u8],
    next: usize,
}

impl Chunks<'_> {
    /// Size of the next extension; 0 asks for a call with no new bytes.
    fn next_size(&mut self) -> usize {
        if self.sizes.is_empty() {
            return 1;
        }
        let s = self.sizes[self.next % self.sizes.len()] as usize;
        self.next += 1;
        s
    }
}

/// Feeds `payload` to [`Decoder::parse`] as a growing window, the way a read loop would.
fn parse_chunked(payload: &[u8], sizes: &[u8], limits: Limits) -> Outcome {
    let mut dec = Decoder::with_limits(limits);
    let mut chunks = Chunks { sizes, next: 0 };
    let (mut start, mut end) = (0, 0);
    let mut frames = Vec::new();
    loop {
        // Drain every frame complete in the window, then extend it.
        loop {
            match dec.parse(&payload[start..end]) {
                Ok(Some(p)) => {
                    frames.push((parsed_to_value(&p), p.len));
                    start += p.len;
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        frames,
                        error: Some(e),
                        rest: payload.len() - start,
                    }
                }
            }
        }
        if end == payload.len() {
            return Outcome {
                frames,
                error: None,
                rest: payload.len() - start,
            };
        }
        let step = chunks.next_size();
        if step == 0 {
            // A wake-up with nothing new: the unchanged window is still incomplete.
            let again = dec.parse(&payload[start..end]);
            assert!(
                matches!(again, Ok(None)),
                "repeat call on the same window: {again:?}"
            );
        }
        end = (end + step.max(1)).min(payload.len());
    }
}

/// Feeds `payload` to [`Decoder::decode`] by appending chunks to a `BytesMut`.
fn decode_chunked(payload: &[u8], sizes: &[u8], limits: Limits) -> Outcome {
    let mut dec = Decoder::with_limits(limits);
    let mut chunks = Chunks { sizes, next: 0 };
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut frames = Vec::new();
    loop {
        loop {
            let before = buf.len();
            match dec.decode(&mut buf) {
                Ok(Some(v)) => frames.push((v, before - buf.len())),
                Ok(None) => break,
                Err(e) => {
                    let rest = buf.len() + payload.len() - fed;
                    return Outcome {
                        frames,
                        error: Some(e),
                        rest,
                    };
                }
            }
        }
        if fed == payload.len() {
            return Outcome {
                frames,
                error: None,
                rest: buf.len(),
            };
        }
        let step = chunks.next_size();
        if step == 0 {
            // A wake-up with nothing new: still incomplete, nothing consumed.
            let before = buf.len();
            let again = dec.decode(&mut buf);
            assert!(
                matches!(again, Ok(None)),
                "repeat call on the same buffer: {again:?}"
            );
            assert_eq!(buf.len(), before);
        }
        let step = step.max(1).min(payload.len() - fed);
        buf.extend_from_slice(&payload[fed..fed + step]);
        fed += step;
    }
}

/// The owned value a borrowed frame (with its attributes) stands for, built independently of
/// [`Decoder::decode`] so the two paths check each other.
fn parsed_to_value(p: &Parsed<'_>) -> Value {
    let value = frame_to_value(&p.frame);
    match &p.attributes {
        Some(attrs) => Value::Attributed {
            attributes: pairs(attrs),
            value: Box::new(value),
        },
        None => value,
    }
}

fn frame_to_value(f: &Frame<'_>) -> Value {
    let b = crate::ByteStr::copy_from_slice;
    match *f {
        Frame::SimpleString(s) => Value::SimpleString(b(s)),
        Frame::Error(s) => Value::Error(b(s)),
        Frame::Integer(n) => Value::Integer(n),
        Frame::Bulk(s) => Value::Bulk(b(s)),
        Frame::Null => Value::Null,
        Frame::Boolean(v) => Value::Boolean(v),
        Frame::Double(d) => Value::Double(d),
        Frame::BigNumber(s) => Value::BigNumber(b(s)),
        Frame::BlobError(s) => Value::BlobError(b(s)),
        Frame::Verbatim { format, text } => Value::Verbatim {
            format,
            text: b(text),
        },
        Frame::Array(a) => Value::Array(elements(&a)),
        Frame::Map(a) => Value::Map(pairs(&a)),
        Frame::Set(a) => Value::Set(elements(&a)),
        Frame::Push(a) => Value::Push(elements(&a)),
    }
}

/// Elements with their attributes, as [`Decoder::decode`] keeps them.
fn attributed(a: &Aggregate<'_>) -> Vec<Value> {
    a.iter_attributed()
        .map(|e| {
            let value = frame_to_value(&e.frame);
            match &e.attributes {
                Some(attrs) => Value::Attributed {
                    attributes: pairs(attrs),
                    value: Box::new(value),
                },
                None => value,
            }
        })
        .collect()
}

fn elements(a: &Aggregate<'_>) -> Vec<Value> {
    let items = attributed(a);
    assert_eq!(items.len(), a.len(), "aggregate iterator length");
    items
}

fn pairs(a: &Aggregate<'_>) -> Vec<(Value, Value)> {
    let items = attributed(a);
    assert_eq!(
        items.len(),
        a.len() * 2,
        "map iterator yields keys and values"
    );
    let mut out = Vec::with_capacity(a.len());
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// Structural equality where a NaN double equals a NaN double (RESP3 `nan` has no payload).
fn same(a: &Value, b: &Value) -> bool {
    let all =
        |x: &[Value], y: &[Value]| x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y));
    let all_pairs = |x: &[(Value, Value)], y: &[(Value, Value)]| {
        x.len() == y.len()
            && x.iter()
                .zip(y)
                .all(|(x, y)| same(&x.0, &y.0) && same(&x.1, &y.1))
    };
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Value::Array(x), Value::Array(y))
        | (Value::Set(x), Value::Set(y))
        | (Value::Push(x), Value::Push(y)) => all(x, y),
        (Value::Map(x), Value::Map(y)) => all_pairs(x, y),
        (
            Value::Attributed {
                attributes: xa,
                value: xv,
            },
            Value::Attributed {
                attributes: ya,
                value: yv,
            },
        ) => all_pairs(xa, ya) && same(xv, yv),
        _ => a == b,
    }
}

/// Builds a valid [`Value`] from fuzz bytes: each byte picks a type or a size; running out of
/// bytes yields zeros, so every input builds something. Nesting and total size are bounded.
struct Builder<'d> {
    data: &'d [u8],
    pos: usize,
    /// Values still allowed, so one input cannot build a huge tree.
    budget: usize,
}

impl Builder<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(std::array::from_fn(|_| self.byte()))
    }

    /// A top-level value, possibly preceded by attributes.
    fn top(&mut self) -> Value {
        if self.byte() % 8 == 7 {
            let n = self.byte() as usize % 4;
            let attributes = (0..n)
                .map(|_| (self.value(1, false), self.value(1, false)))
                .collect();
            let value = Box::new(self.value(0, false));
            return Value::Attributed { attributes, value };
        }
        self.value(0, false)
    }

    /// A value at `depth`; `attr_ok` allows an attributed element (inside aggregates only).
    fn value(&mut self, depth: usize, attr_ok: bool) -> Value {
        self.budget = self.budget.saturating_sub(1);
        let leaf_only = depth >= 6 || self.budget == 0;
        let tag = self.byte() % if leaf_only { 10 } else { 15 };
        let len = self.byte() as usize;
        let bytes = |s: &mut Self, n: usize| crate::ByteStr::from(s.take(n));
        match tag {
            0 => Value::SimpleString(self.line(len % 24).into()),
            1 => Value::Error(self.line(len % 24).into()),
            2 => Value::Integer(self.u64() as i64),
            3 => Value::Bulk(bytes(self, len % 40)),
            4 => Value::Null,
            5 => Value::Boolean(len % 2 == 1),
            6 => Value::Double(f64::from_bits(self.u64())),
            7 => {
                let mut digits = if len % 3 == 0 {
                    b"-".to_vec()
                } else {
                    Vec::new()
                };
                digits.extend(self.take(len % 30 + 1).iter().map(|b| b'0' + b % 10));
                Value::BigNumber(digits.into())
            }
            8 => Value::BlobError(bytes(self, len % 40)),
            9 => {
                let f = self.take(3);
                let format = [b'a' + f[0] % 26, b'a' + f[1] % 26, b'a' + f[2] % 26];
                Value::Verbatim {
                    format,
                    text: bytes(self, len % 40),
                }
            }
            10 => Value::Array((0..len % 6).map(|_| self.value(depth + 1, true)).collect()),
            11 => Value::Set((0..len % 6).map(|_| self.value(depth + 1, true)).collect()),
            12 => Value::Push((0..len % 6).map(|_| self.value(depth + 1, true)).collect()),
            14 if attr_ok => Value::Attributed {
                attributes: (0..len % 3)
                    .map(|_| (self.value(depth + 1, false), self.value(depth + 1, false)))
                    .collect(),
                value: Box::new(self.value(depth + 1, false)),
            },
            _ => Value::Map(
                (0..len % 4)
                    .map(|_| (self.value(depth + 1, true), self.value(depth + 1, true)))
                    .collect(),
            ),
        }
    }

    /// Bytes for a simple string or error line: no CR or LF.
    fn line(&mut self, n: usize) -> Vec<u8> {
        self.take(n)
            .into_iter()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_is_deterministic_and_bounded() {
        let data: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let a = Builder {
            data: &data,
            pos: 0,
            budget: 200,
        }
        .top();
        let b = Builder {
            data: &data,
            pos: 0,
            budget: 200,
        }
        .top();
        assert!(same(&a, &b));
        fn count(v: &Value) -> usize {
            match v {
                Value::Array(x) | Value::Set(x) | Value::Push(x) => {
                    1 + x.iter().map(count).sum::<usize>()
                }
                Value::Map(p) => 1 + p.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
                Value::Attributed { attributes, value } => {
                    count(value)
                        + attributes
                            .iter()
                            .map(|(k, v)| count(k) + count(v))
                            .sum::<usize>()
                }
                _ => 1,
            }
        }
        // Past the budget only leaves are built, and only to finish the open aggregates.
        assert!(count(&a) <= 200 + 64);
        // Empty input still builds a value (a zero-length simple string).
        let empty = Builder {
            data: &[],
            pos: 0,
            budget: 200,
        }
        .top();
        assert_eq!(empty, Value::SimpleString(crate::ByteStr::new()));
    }

    #[test]
    fn builder_nests_attributes_inside_aggregates_only() {
        // Array of 2: bulk "ok" annotated by {key: 0}, then a boolean.
        let data = [
            0, 10, 2, 14, 1, 0, 3, b'k', b'e', b'y', 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, b'o',
            b'k', 5, 1,
        ];
        let v = Builder {
            data: &data,
            pos: 0,
            budget: 200,
        }
        .top();
        let Value::Array(items) = &v else {
            panic!("{v:?}")
        };
        let Value::Attributed { attributes, value } = &items[0] else {
            panic!("{v:?}")
        };
        assert_eq!(attributes.len(), 1);
        assert_eq!(**value, Value::Bulk("ok".into()));
        assert_eq!(items[1], Value::Boolean(true));
        roundtrip(&data);
        // At the top level tag 14 is a map: top-level attributes come from the first byte.
        let top = Builder {
            data: &[0, 14, 0],
            pos: 0,
            budget: 200,
        }
        .top();
        assert_eq!(top, Value::Map(vec![]));
    }

    #[test]
    fn nan_equals_nan_but_not_other_doubles() {
        assert!(same(&Value::Double(f64::NAN), &Value::Double(-f64::NAN)));
        assert!(!same(&Value::Double(0.0), &Value::Double(-0.0)));
        assert!(!same(
            &Value::Array(vec![Value::Null]),
            &Value::Array(vec![])
        ));
    }

    #[test]
    fn chunk_sizes_repeat_and_default_to_one() {
        let mut c = Chunks {
            sizes: &[3, 0],
            next: 0,
        };
        assert_eq!([c.next_size(), c.next_size(), c.next_size()], [3, 0, 3]);
        let mut none = Chunks {
            sizes: &[],
            next: 0,
        };
        assert_eq!(none.next_size(), 1);
    }
}
