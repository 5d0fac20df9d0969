//! Decoder throughput beside redis-rs and redis-protocol, with a memchr scan as the floor.
//!
//! Every contender decodes the same contiguous buffer frame by frame until it is exhausted;
//! contenders run in interleaved rounds (see `resp_sentinel_bench::harness`). Run with
//! `cargo bench -p resp-sentinel-bench --bench codec [workload-substring...]`
//! (`BENCH_QUICK=1` for a smoke run). Prints one Markdown table per workload and a summary
//! against the targets of issue #2.

use bytes::BytesMut;
use resp_sentinel_bench::harness::{mb_per_s, measure, mframes_per_s, timed, Plan, Runner, Sample};
use resp_sentinel_bench::workload::{self, Workload};
use resp_sentinel_core::{Decoder, Frame};
use std::hint::black_box;
use std::time::Duration;

/// Visits every element of a borrowed frame so the view is actually read, as a caller would.
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

fn ours_parse_walk(w: &Workload) -> (Duration, usize) {
    timed(
        || (),
        |()| {
            let mut dec = Decoder::new();
            let mut buf: &[u8] = &w.bytes;
            let mut frames = 0;
            while !buf.is_empty() {
                let parsed = dec
                    .parse(buf)
                    .expect("valid input")
                    .expect("complete frame");
                black_box(walk(&parsed.frame));
                buf = &buf[parsed.len..];
                frames += 1;
            }
            (frames, ())
        },
    )
}

fn ours_parse_view(w: &Workload) -> (Duration, usize) {
    timed(
        || (),
        |()| {
            let mut dec = Decoder::new();
            let mut buf: &[u8] = &w.bytes;
            let mut frames = 0;
            while !buf.is_empty() {
                let parsed = dec
                    .parse(buf)
                    .expect("valid input")
                    .expect("complete frame");
                black_box(&parsed.frame);
                buf = &buf[parsed.len..];
                frames += 1;
            }
            (frames, ())
        },
    )
}

fn ours_decode(w: &Workload) -> (Duration, usize) {
    timed(
        || BytesMut::from(&w.bytes[..]),
        |mut buf| {
            let mut dec = Decoder::new();
            let mut frames = 0;
            while !buf.is_empty() {
                let value = dec.decode(&mut buf).expect("valid input");
                black_box(value.expect("complete frame"));
                frames += 1;
            }
            // The emptied buffer still owns the input's allocation: freed after timing.
            (frames, buf)
        },
    )
}

fn redis_rs(w: &Workload) -> (Duration, usize) {
    timed(
        || (),
        |()| {
            let mut parser = redis::Parser::new();
            let mut reader: &[u8] = &w.bytes;
            for _ in 0..w.frames {
                black_box(parser.parse_value(&mut reader).expect("valid input"));
            }
            // The parser reads ahead into its own buffer; all input must have been consumed.
            assert!(reader.is_empty());
            (w.frames, ())
        },
    )
}

fn redis_protocol_resp2(w: &Workload) -> (Duration, usize) {
    timed(
        || BytesMut::from(&w.bytes[..]),
        |mut buf| {
            let mut frames = 0;
            while !buf.is_empty() {
                let decoded = redis_protocol::resp2::decode::decode_bytes_mut(&mut buf);
                black_box(decoded.expect("valid input").expect("complete frame"));
                frames += 1;
            }
            // The emptied buffer still owns the input's allocation: freed after timing.
            (frames, buf)
        },
    )
}

fn redis_protocol_resp3(w: &Workload) -> (Duration, usize) {
    timed(
        || BytesMut::from(&w.bytes[..]),
        |mut buf| {
            let mut frames = 0;
            while !buf.is_empty() {
                let decoded = redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut buf);
                black_box(decoded.expect("valid input").expect("complete frame"));
                frames += 1;
            }
            // The emptied buffer still owns the input's allocation: freed after timing.
            (frames, buf)
        },
    )
}

fn memchr_floor(w: &Workload) -> (Duration, usize) {
    timed(
        || (),
        |()| {
            // Visit every CR position (what a decoder must at least do); `count()` alone would
            // use memchr's vectorised counting, which never materialises a position.
            let mut acc = 0usize;
            for pos in memchr::memchr_iter(b'\r', black_box(&w.bytes[..])) {
                acc = acc.wrapping_add(pos);
            }
            black_box(acc);
            (w.frames, ())
        },
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Ours, the reference of the ratios (parse walked the tree, decode built owned values).
    Ours,
    /// Ours, informative only (parse without reading the elements).
    OursExtra,
    Peer,
    Floor,
}

struct Contender {
    name: &'static str,
    kind: Kind,
    resp2_only: bool,
    run: fn(&Workload) -> (Duration, usize),
}

const CONTENDERS: &[Contender] = &[
    Contender {
        name: "ours parse (borrowed, walked)",
        kind: Kind::Ours,
        resp2_only: false,
        run: ours_parse_walk,
    },
    Contender {
        name: "ours decode (owned Value)",
        kind: Kind::Ours,
        resp2_only: false,
        run: ours_decode,
    },
    Contender {
        name: "ours parse (view, not walked)",
        kind: Kind::OursExtra,
        resp2_only: false,
        run: ours_parse_view,
    },
    Contender {
        name: "redis-rs 1.8.1 Parser",
        kind: Kind::Peer,
        resp2_only: false,
        run: redis_rs,
    },
    Contender {
        name: "redis-protocol 6.0.0 resp2 bytes_mut",
        kind: Kind::Peer,
        resp2_only: true,
        run: redis_protocol_resp2,
    },
    Contender {
        name: "redis-protocol 6.0.0 resp3 bytes_mut",
        kind: Kind::Peer,
        resp2_only: false,
        run: redis_protocol_resp3,
    },
    Contender {
        name: "memchr CR scan (floor)",
        kind: Kind::Floor,
        resp2_only: false,
        run: memchr_floor,
    },
];

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One workload's standing against the targets: ≥2x every peer, within 2x of the floor.
struct Verdict {
    name: &'static str,
    /// Fastest peer's time / our time (≥ 2 wanted).
    parse_speedup: f64,
    decode_speedup: f64,
    /// Our time / the floor's time (≤ 2 wanted on small frames).
    parse_vs_floor: f64,
    decode_vs_floor: f64,
}

fn bench_workload(w: &Workload, plan: Plan) -> Verdict {
    let chosen: Vec<&Contender> = CONTENDERS
        .iter()
        .filter(|c| !(c.resp2_only && w.resp3))
        .collect();
    let mut runners: Vec<Runner<'_>> = chosen
        .iter()
        .map(|c| {
            let run = c.run;
            Box::new(move || run(w)) as Runner<'_>
        })
        .collect();
    let samples = measure(plan, w.frames, &mut runners);
    let rows: Vec<(&Contender, Sample)> = chosen.into_iter().zip(samples).collect();

    println!(
        "\n### {} ({} bytes, {} frames, {} rounds)\n",
        w.name,
        w.bytes.len(),
        w.frames,
        rows[0].1.runs
    );
    println!(
        "| contender | median ms | min ms | MB/s | Mframes/s | time / ours parse | time / ours decode |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let parse = ms(rows[0].1.median);
    let decode = ms(rows[1].1.median);
    for (c, s) in &rows {
        println!(
            "| {} | {:.3} | {:.3} | {:.0} | {:.2} | {:.2}x | {:.2}x |",
            c.name,
            ms(s.median),
            ms(s.min),
            mb_per_s(w.bytes.len(), s.median),
            mframes_per_s(w.frames, s.median),
            ms(s.median) / parse,
            ms(s.median) / decode,
        );
    }
    let fastest_peer = rows
        .iter()
        .filter(|(c, _)| c.kind == Kind::Peer)
        .map(|(_, s)| ms(s.median))
        .fold(f64::INFINITY, f64::min);
    let floor = rows
        .iter()
        .find(|(c, _)| c.kind == Kind::Floor)
        .map(|(_, s)| ms(s.median))
        .expect("floor always runs");
    Verdict {
        name: w.name,
        parse_speedup: fastest_peer / parse,
        decode_speedup: fastest_peer / decode,
        parse_vs_floor: parse / floor,
        decode_vs_floor: decode / floor,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments pick workloads by substring.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let plan = Plan::from_env();
    println!(
        "## RESP decode throughput (median of >= {} interleaved rounds)",
        plan.min_runs
    );
    let mut verdicts = Vec::new();
    for w in workload::all() {
        if !filter.is_empty() && !filter.iter().any(|f| w.name.contains(f.as_str())) {
            continue;
        }
        verdicts.push(bench_workload(&w, plan));
    }
    println!("\n### Targets: >= 2x the fastest peer; <= 2x the memchr floor on small frames\n");
    println!("| workload | fastest peer / ours parse | fastest peer / ours decode | ours parse / floor | ours decode / floor | verdict |");
    println!("|---|---:|---:|---:|---:|---|");
    for v in &verdicts {
        let mut missed = Vec::new();
        if v.parse_speedup < 2.0 {
            missed.push("parse < 2x a peer");
        }
        if v.decode_speedup < 2.0 {
            missed.push("decode < 2x a peer");
        }
        if v.parse_vs_floor > 2.0 {
            missed.push("parse > 2x floor");
        }
        let verdict = if missed.is_empty() {
            "met".to_string()
        } else {
            format!("MISSED: {}", missed.join(", "))
        };
        println!(
            "| {} | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {} |",
            v.name, v.parse_speedup, v.decode_speedup, v.parse_vs_floor, v.decode_vs_floor, verdict
        );
    }
}
