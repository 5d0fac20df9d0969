//! Shared helpers for the benchmarks in `benches/`: the workloads (one contiguous buffer of many
//! frames each) and a small timing harness (warm-up, several timed runs, median).
#![deny(missing_docs)]

pub mod harness;
pub mod workload;
