//! Incremental decoding cost: a large bulk string and many small frames fed in 1-byte and 4 KiB
//! chunks. Prints `Decoder::bytes_examined()` per input byte, which stays flat as the input grows
//! when the decoder resumes where it stopped (and would grow with the size if it rescanned).
//!
//! Run with `cargo bench -p resp-sentinel-bench --bench chunked`.

use bytes::BytesMut;
use resp_sentinel_bench::workload::{self, push_bulk};
use resp_sentinel_core::Decoder;
use std::hint::black_box;
use std::time::Instant;

const MIB: usize = 1 << 20;

struct Row {
    input: String,
    api: &'static str,
    chunk: usize,
    bytes: usize,
    frames: usize,
    calls: u64,
    examined: u64,
    secs: f64,
}

/// Feeds `buf` to `parse` as a window growing by `chunk` bytes; returns (frames, calls, examined).
fn parse_in_chunks(buf: &[u8], chunk: usize) -> (usize, u64, u64) {
    let mut dec = Decoder::new();
    let (mut start, mut end) = (0, 0);
    let (mut frames, mut calls) = (0, 0u64);
    while end < buf.len() {
        end = (end + chunk).min(buf.len());
        loop {
            calls += 1;
            match dec.parse(&buf[start..end]).expect("valid input") {
                Some(p) => {
                    black_box(&p.frame);
                    start += p.len;
                    frames += 1;
                }
                None => break,
            }
        }
    }
    assert_eq!(start, buf.len(), "input left undecoded");
    (frames, calls, dec.bytes_examined())
}

/// Appends `buf` to a `BytesMut` `chunk` bytes at a time, calling `decode` after each append.
fn decode_in_chunks(buf: &[u8], chunk: usize) -> (usize, u64, u64) {
    let mut dec = Decoder::new();
    let mut pending = BytesMut::new();
    let (mut fed, mut frames, mut calls) = (0, 0, 0u64);
    while fed < buf.len() {
        let n = chunk.min(buf.len() - fed);
        pending.extend_from_slice(&buf[fed..fed + n]);
        fed += n;
        loop {
            calls += 1;
            match dec.decode(&mut pending).expect("valid input") {
                Some(v) => {
                    black_box(v);
                    frames += 1;
                }
                None => break,
            }
        }
    }
    assert!(pending.is_empty(), "input left undecoded");
    (frames, calls, dec.bytes_examined())
}

fn run(
    rows: &mut Vec<Row>,
    input: &str,
    buf: &[u8],
    expect: usize,
    api: &'static str,
    chunk: usize,
) {
    let start = Instant::now();
    let (frames, calls, examined) = match api {
        "parse" => parse_in_chunks(buf, chunk),
        _ => decode_in_chunks(buf, chunk),
    };
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(frames, expect, "{input}: frame count");
    rows.push(Row {
        input: input.to_string(),
        api,
        chunk,
        bytes: buf.len(),
        frames,
        calls,
        examined,
        secs,
    });
}

fn main() {
    let mut rows = Vec::new();
    for size in [MIB, 4 * MIB, 16 * MIB, 64 * MIB] {
        let mut buf = Vec::with_capacity(size + 16);
        push_bulk(&mut buf, size);
        let name = format!("bulk {} MiB", size / MIB);
        for chunk in [1, 4096] {
            run(&mut rows, &name, &buf, 1, "parse", chunk);
            run(&mut rows, &name, &buf, 1, "decode", chunk);
        }
    }
    for w in [workload::array_10x8(), workload::sentinel_replicas_resp3()] {
        for chunk in [1, 7, 4096] {
            run(&mut rows, w.name, &w.bytes, w.frames, "parse", chunk);
            run(&mut rows, w.name, &w.bytes, w.frames, "decode", chunk);
        }
    }
    println!("## Incremental decoding: bytes examined per input byte\n");
    println!("| input | api | chunk | input bytes | frames | calls | bytes examined | examined / input | ns / input byte |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.6} | {:.2} |",
            r.input,
            r.api,
            r.chunk,
            r.bytes,
            r.frames,
            r.calls,
            r.examined,
            r.examined as f64 / r.bytes as f64,
            r.secs * 1e9 / r.bytes as f64
        );
    }
    // Linearity: 64x the input may cost at most 64x the bytes examined (here it is O(1): the
    // payload is skipped) and about the same time per input byte.
    let row = |input: &str, api: &str, chunk: usize| {
        rows.iter()
            .find(|r| r.input == input && r.api == api && r.chunk == chunk)
            .expect("row")
    };
    println!();
    for api in ["parse", "decode"] {
        for chunk in [1, 4096] {
            let (small, large) = (
                row("bulk 1 MiB", api, chunk),
                row("bulk 64 MiB", api, chunk),
            );
            let growth = large.examined as f64 / small.examined as f64;
            let verdict = if growth <= 64.0 * 1.1 {
                "linear or better"
            } else {
                "SUPERLINEAR"
            };
            println!(
                "{api}, {chunk}-byte chunks: bytes examined {} at 1 MiB, {} at 64 MiB (x{growth:.2} for x64 input), {:.2} vs {:.2} ns per input byte: {verdict}",
                small.examined,
                large.examined,
                small.secs * 1e9 / small.bytes as f64,
                large.secs * 1e9 / large.bytes as f64,
            );
        }
    }
}
