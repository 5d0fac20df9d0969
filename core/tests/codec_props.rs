//! Property tests of the codec: encode -> decode round trips (whole and in arbitrary chunks),
//! no panic on arbitrary bytes, and the borrowed and owned paths agreeing.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use resp_sentinel_core::{ByteStr, Decoder, Limits, ProtocolError, Value};

/// Structural equality where NaN equals NaN (and 0.0 differs from -0.0, as on the wire).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Value::Array(x), Value::Array(y))
        | (Value::Set(x), Value::Set(y))
        | (Value::Push(x), Value::Push(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => same_pairs(x, y),
        (
            Value::Attributed {
                attributes: xa,
                value: xv,
            },
            Value::Attributed {
                attributes: ya,
                value: yv,
            },
        ) => same_pairs(xa, ya) && same(xv, yv),
        _ => a == b,
    }
}

fn same_pairs(x: &[(Value, Value)], y: &[(Value, Value)]) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|((xk, xv), (yk, yv))| same(xk, yk) && same(xv, yv))
}

fn bytes_of(v: Vec<u8>) -> ByteStr {
    ByteStr::from(v)
}

/// Text without CR or LF, as simple strings and errors carry.
fn line() -> impl Strategy<Value = ByteStr> {
    proptest::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..30,
    )
    .prop_map(bytes_of)
}

/// Payloads on both sides of the inline limit of `ByteStr`.
fn blob() -> impl Strategy<Value = ByteStr> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_map(bytes_of)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        line().prop_map(Value::SimpleString),
        line().prop_map(Value::Error),
        any::<i64>().prop_map(Value::Integer),
        blob().prop_map(Value::Bulk),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<f64>().prop_map(Value::Double),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0)
        ]
        .prop_map(Value::Double),
        "-?[0-9]{1,40}".prop_map(|s| Value::BigNumber(ByteStr::from(s))),
        blob().prop_map(Value::BlobError),
        (any::<[u8; 3]>(), blob()).prop_map(|(format, text)| Value::Verbatim { format, text }),
    ]
}

/// Any value; an attributed value never directly wraps another (the wire cannot say that).
fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Push),
            pairs.clone().prop_map(Value::Map),
            (pairs, inner).prop_map(|(attributes, value)| match value {
                Value::Attributed { .. } => value,
                value => Value::Attributed {
                    attributes,
                    value: Box::new(value),
                },
            }),
        ]
    })
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = BytesMut::new();
    v.encode(&mut out);
    out.to_vec()
}

/// Decodes `wire` fed in the given chunk sizes (cycled), through `decode`.
fn decode_chunked(wire: &[u8], chunks: &[usize]) -> Vec<Result<Value, ProtocolError>> {
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    let mut i = 0;
    while fed < wire.len() {
        let n = chunks
            .get(i % chunks.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        i += 1;
        let end = (fed + n).min(wire.len());
        buf.extend_from_slice(&wire[fed..end]);
        fed = end;
        loop {
            match d.decode(&mut buf) {
                Ok(Some(v)) => out.push(Ok(v)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

/// Parses every frame of `wire` as a whole buffer, then through growing prefixes; returns
/// (frame lengths, owned values or the error) for each.
fn parse_all(wire: &[u8], step: usize) -> Vec<Result<(usize, Value), ProtocolError>> {
    let backing = Bytes::copy_from_slice(wire);
    let mut d = Decoder::new();
    let mut out = Vec::new();
    let mut start = 0;
    let mut end = start;
    while start < wire.len() {
        end = (end + step).min(wire.len());
        match d.parse(&backing[start..end]) {
            Ok(Some(p)) => {
                out.push(Ok((p.len, p.to_value(&backing))));
                start += p.len;
                end = start;
            }
            Ok(None) if end == wire.len() => break,
            Ok(None) => {}
            Err(e) => {
                out.push(Err(e));
                break;
            }
        }
    }
    out
}

/// RESP-looking noise: fragments that make headers, lengths and CRLFs likely.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"%".to_vec()),
        Just(b"|".to_vec()),
        Just(b"~".to_vec()),
        Just(b">".to_vec()),
        Just(b"$".to_vec()),
        Just(b"!".to_vec()),
        Just(b"=".to_vec()),
        Just(b"+".to_vec()),
        Just(b"-".to_vec()),
        Just(b":".to_vec()),
        Just(b",".to_vec()),
        Just(b"(".to_vec()),
        Just(b"#".to_vec()),
        Just(b"_".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"?".to_vec()),
        Just(b"txt:".to_vec()),
        (0u8..20).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..4),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_whole(v in value()) {
        let wire = encode(&v);
        let mut buf = BytesMut::from(&wire[..]);
        let back = Decoder::new().decode(&mut buf).unwrap().expect("complete");
        prop_assert!(buf.is_empty());
        prop_assert!(same(&v, &back), "{v:?} != {back:?}");
        // The borrowed view agrees, and says how long the frame is.
        let backing = Bytes::from(wire.clone());
        let p = Decoder::new().parse(&backing).unwrap().expect("complete");
        prop_assert_eq!(p.len, wire.len());
        prop_assert!(same(&v, &p.to_value(&backing)));
        // Encoding what came back gives the same bytes.
        prop_assert_eq!(encode(&back), wire);
    }

    #[test]
    fn round_trip_chunked(vs in proptest::collection::vec(value(), 1..4),
                          chunks in proptest::collection::vec(1usize..9, 1..8)) {
        let wire: Vec<u8> = vs.iter().flat_map(encode).collect();
        let got = decode_chunked(&wire, &chunks);
        prop_assert_eq!(got.len(), vs.len());
        for (v, g) in vs.iter().zip(&got) {
            let g = g.as_ref().unwrap();
            prop_assert!(same(v, g), "{v:?} != {g:?}");
        }
        // The borrowed path fed byte by byte gives the same frames.
        let parsed = parse_all(&wire, 1);
        prop_assert_eq!(parsed.len(), vs.len());
        for (v, p) in vs.iter().zip(&parsed) {
            let (_, pv) = p.as_ref().unwrap();
            prop_assert!(same(v, pv));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_paths_agree(bytes in prop_oneof![noise(), proptest::collection::vec(any::<u8>(), 0..64)],
                                                   step in 1usize..6) {
        let whole = parse_all(&bytes, bytes.len().max(1));
        let stepped = parse_all(&bytes, step);
        prop_assert_eq!(&whole, &stepped);
        let decoded = decode_chunked(&bytes, &[step]);
        prop_assert_eq!(whole.len(), decoded.len());
        for (p, d) in whole.iter().zip(&decoded) {
            match (p, d) {
                (Ok((_, pv)), Ok(dv)) => prop_assert!(same(pv, dv)),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                _ => prop_assert!(false, "parse {p:?} vs decode {d:?}"),
            }
        }
    }

    #[test]
    fn tight_limits_give_typed_errors(bytes in noise()) {
        let limits = Limits { max_bulk_len: 4, max_aggregate_len: 3, max_depth: 2, max_line_len: 5 , max_frame_len: 1 << 20};
        let mut d = Decoder::with_limits(limits);
        let mut buf = BytesMut::from(&bytes[..]);
        loop {
            let before = buf.len();
            match d.decode(&mut buf) {
                Ok(Some(_)) => prop_assert!(buf.len() < before),
                Ok(None) => break,
                Err(e) => {
                    // Offsets are relative to the frame start and inside what was given.
                    prop_assert!(e.offset <= before, "{e} beyond {before} bytes");
                    break;
                }
            }
        }
    }
}
