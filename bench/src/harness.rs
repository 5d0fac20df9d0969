//! A dependency-free timing harness: warm up, time several runs, keep the median.
//!
//! Each run decodes a whole workload; the closure returns how many frames it found so a
//! contender that silently stops early is caught instead of looking fast.

use std::time::{Duration, Instant};

/// How long and how often to measure one contender on one workload.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Untimed runs before measuring (caches, branch predictors, allocator pools).
    pub warmup: usize,
    /// Fewest timed runs.
    pub min_runs: usize,
    /// Most timed runs.
    pub max_runs: usize,
    /// Keep timing (up to `max_runs`) until this much time was spent in timed runs.
    pub budget: Duration,
}

impl Plan {
    /// The default plan; `BENCH_QUICK=1` in the environment shrinks it for smoke runs.
    pub fn from_env() -> Plan {
        if std::env::var_os("BENCH_QUICK").is_some() {
            Plan {
                warmup: 1,
                min_runs: 3,
                max_runs: 3,
                budget: Duration::ZERO,
            }
        } else {
            Plan {
                warmup: 3,
                min_runs: 11,
                max_runs: 101,
                budget: Duration::from_millis(600),
            }
        }
    }
}

/// The timings of one contender on one workload.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Median duration of one full run.
    pub median: Duration,
    /// Fastest run.
    pub min: Duration,
    /// Number of timed runs.
    pub runs: usize,
}

/// Times `run` on fresh inputs from `setup` (setup is not timed) and checks every run found
/// `expect_frames` frames.
///
/// # Panics
/// If a run reports a different frame count: the comparison would be meaningless.
pub fn measure<S>(
    plan: Plan,
    expect_frames: usize,
    mut setup: impl FnMut() -> S,
    mut run: impl FnMut(S) -> usize,
) -> Sample {
    for _ in 0..plan.warmup {
        let input = setup();
        let found = run(input);
        assert_eq!(
            found, expect_frames,
            "contender found a different frame count"
        );
    }
    let mut times = Vec::with_capacity(plan.max_runs);
    let mut spent = Duration::ZERO;
    while times.len() < plan.min_runs || (spent < plan.budget && times.len() < plan.max_runs) {
        let input = setup();
        let start = Instant::now();
        let found = run(input);
        let took = start.elapsed();
        assert_eq!(
            found, expect_frames,
            "contender found a different frame count"
        );
        times.push(took);
        spent += took;
    }
    times.sort_unstable();
    Sample {
        median: times[times.len() / 2],
        min: times[0],
        runs: times.len(),
    }
}

/// Megabytes (10^6 bytes) per second.
pub fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// Millions of frames per second.
pub fn mframes_per_s(frames: usize, d: Duration) -> f64 {
    frames as f64 / d.as_secs_f64() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_all_runs_and_setup_not_timed() {
        let plan = Plan {
            warmup: 1,
            min_runs: 5,
            max_runs: 5,
            budget: Duration::ZERO,
        };
        let mut setups = 0;
        let s = measure(
            plan,
            7,
            || {
                setups += 1;
                std::thread::sleep(Duration::from_millis(20));
            },
            |()| 7,
        );
        assert_eq!(setups, 6);
        assert_eq!(s.runs, 5);
        assert!(
            s.median < Duration::from_millis(20),
            "setup leaked into timing"
        );
        assert!(s.min <= s.median);
    }

    #[test]
    #[should_panic(expected = "different frame count")]
    fn wrong_frame_count_is_caught() {
        let plan = Plan::from_env();
        measure(plan, 3, || (), |()| 2);
    }

    #[test]
    fn rates() {
        assert_eq!(mb_per_s(2_000_000, Duration::from_secs(2)), 1.0);
        assert_eq!(mframes_per_s(3_000_000, Duration::from_millis(500)), 6.0);
    }
}
