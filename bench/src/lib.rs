//! Shared helpers for the benchmarks in `benches/`.
#![deny(missing_docs)]
