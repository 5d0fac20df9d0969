//! A single-pass driver for instruction counting: `valgrind --tool=callgrind
//! --toggle-collect=callgrind::run target/release/examples/callgrind <workload> <contender>`.
//!
//! Contenders: `parse`, `walk`, `decode`, `rp2` (redis-protocol resp2), `rp3`, `floor`.
//! Workloads: `ok`, `bulk16`, `bulk4k`, `array`, `sent2`, `sent3`. Prints the frame count.

use bytes::BytesMut;
use resp_sentinel_bench::workload::{self, Workload};
use resp_sentinel_core::{Decoder, Frame};
use std::hint::black_box;

fn walk(frame: &Frame<'_>) -> usize {
    match frame {
        Frame::Array(agg) | Frame::Map(agg) | Frame::Set(agg) | Frame::Push(agg) => {
            agg.iter().map(|f| walk(&f)).sum::<usize>() + 1
        }
        other => {
            black_box(other);
            1
        }
    }
}

/// The measured region: everything callgrind counts happens below this call.
#[inline(never)]
fn run(w: &Workload, contender: &str, mut owned: BytesMut) -> usize {
    let mut frames = 0;
    match contender {
        "parse" | "walk" => {
            let mut dec = Decoder::new();
            let mut buf: &[u8] = &w.bytes;
            while !buf.is_empty() {
                let p = dec.parse(buf).expect("valid").expect("complete");
                if contender == "walk" {
                    black_box(walk(&p.frame));
                } else {
                    black_box(&p.frame);
                }
                buf = &buf[p.len..];
                frames += 1;
            }
        }
        "decode" => {
            let mut dec = Decoder::new();
            while !owned.is_empty() {
                black_box(dec.decode(&mut owned).expect("valid").expect("complete"));
                frames += 1;
            }
        }
        "rp2" => {
            while !owned.is_empty() {
                let d = redis_protocol::resp2::decode::decode_bytes_mut(&mut owned);
                black_box(d.expect("valid").expect("complete"));
                frames += 1;
            }
        }
        "rp3" => {
            while !owned.is_empty() {
                let d = redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut owned);
                black_box(d.expect("valid").expect("complete"));
                frames += 1;
            }
        }
        "floor" => {
            let mut acc = 0usize;
            for pos in memchr::memchr_iter(b'\r', black_box(&w.bytes[..])) {
                acc = acc.wrapping_add(pos);
            }
            black_box(acc);
            frames = w.frames;
        }
        other => panic!("unknown contender {other}"),
    }
    frames
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let w = match args.get(1).map(String::as_str) {
        Some("ok") => workload::simple_ok(),
        Some("bulk16") => workload::bulk_16(),
        Some("bulk4k") => workload::bulk_4k(),
        Some("array") => workload::array_10x8(),
        Some("sent2") => workload::sentinel_replicas_resp2(),
        Some("sent3") => workload::sentinel_replicas_resp3(),
        _ => panic!("usage: callgrind <ok|bulk16|bulk4k|array|sent2|sent3> <contender>"),
    };
    let contender = args.get(2).map_or("parse", String::as_str);
    let owned = BytesMut::from(&w.bytes[..]);
    let frames = run(&w, contender, owned);
    assert_eq!(frames, w.frames);
    println!("{frames}");
}
