//! A dependency-free timing harness: warm up, time several runs, keep the median.
//!
//! The machine is shared, so contenders are timed in interleaved rounds (each round runs every
//! contender once): a burst of outside load then slows all of them alike instead of one. Each
//! run decodes a whole workload and returns how many frames it found, so a contender that
//! silently stops early is caught instead of looking fast.

use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Untimed rounds before measuring (caches, branch predictors, allocator pools).
    pub warmup: usize,
    /// Fewest timed rounds.
    pub min_runs: usize,
    /// Most timed rounds.
    pub max_runs: usize,
    /// Keep adding rounds (up to `max_runs`) until the rounds took this long in total.
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
                min_runs: 15,
                max_runs: 201,
                budget: Duration::from_secs(3),
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

/// One timed run: `setup` (not timed) prepares the input, `run` decodes it and returns the
/// number of frames found and what is left of the input, dropped once the clock has stopped:
/// setting up and freeing the benchmark's own input buffer (a 41 MB `munmap` in one workload)
/// is not decoding work, for any contender.
pub fn timed<S, L>(
    setup: impl FnOnce() -> S,
    run: impl FnOnce(S) -> (usize, L),
) -> (Duration, usize) {
    let input = setup();
    let start = Instant::now();
    let (found, leftover) = run(input);
    let took = start.elapsed();
    drop(leftover);
    (took, found)
}

/// A contender as the harness sees it: one call is one timed run (see [`timed`]).
pub type Runner<'a> = Box<dyn FnMut() -> (Duration, usize) + 'a>;

/// Times every runner in interleaved rounds and returns one [`Sample`] per runner, in order.
///
/// # Panics
/// If a run reports a frame count other than `expect_frames`: the comparison would be
/// meaningless.
pub fn measure(plan: Plan, expect_frames: usize, runners: &mut [Runner<'_>]) -> Vec<Sample> {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); runners.len()];
    let mut spent = Duration::ZERO;
    let mut round = 0;
    loop {
        let timed_round = round >= plan.warmup;
        let runs = round.saturating_sub(plan.warmup);
        if timed_round && runs >= plan.min_runs && (spent >= plan.budget || runs >= plan.max_runs) {
            break;
        }
        for (i, runner) in runners.iter_mut().enumerate() {
            let (took, found) = runner();
            assert_eq!(
                found, expect_frames,
                "contender {i} found a different frame count"
            );
            if timed_round {
                times[i].push(took);
                spent += took;
            }
        }
        round += 1;
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_unstable();
            Sample {
                median: t[t.len() / 2],
                min: t[0],
                runs: t.len(),
            }
        })
        .collect()
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

    fn plan(runs: usize) -> Plan {
        Plan {
            warmup: 1,
            min_runs: runs,
            max_runs: runs,
            budget: Duration::ZERO,
        }
    }

    /// Leftovers that take 20 ms to drop.
    struct SlowDrop;

    impl Drop for SlowDrop {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn rounds_interleave_and_neither_setup_nor_teardown_is_timed() {
        let order = std::cell::RefCell::new(Vec::new());
        let mut runners: Vec<Runner<'_>> = vec![
            Box::new(|| {
                order.borrow_mut().push('a');
                timed(
                    || std::thread::sleep(Duration::from_millis(20)),
                    |()| (7, ()),
                )
            }),
            Box::new(|| {
                order.borrow_mut().push('b');
                timed(|| (), |()| (7, SlowDrop))
            }),
        ];
        let samples = measure(plan(4), 7, &mut runners);
        drop(runners);
        assert_eq!(order.into_inner(), "ababababab".chars().collect::<Vec<_>>());
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].runs, 4);
        assert!(
            samples[0].median < Duration::from_millis(20),
            "setup leaked into timing"
        );
        assert!(
            samples[1].median < Duration::from_millis(20),
            "teardown leaked into timing"
        );
        assert!(samples[1].min <= samples[1].median);
    }

    #[test]
    fn median_is_the_middle_run() {
        let mut n = 0u64;
        let mut runners: Vec<Runner<'_>> = vec![Box::new(|| {
            n += 1;
            // Warm-up run 1 is not kept; timed runs take 5, 1, 3 "units".
            let d = [0, 5, 1, 3][n as usize - 1];
            (Duration::from_millis(d), 1)
        })];
        let s = &measure(plan(3), 1, &mut runners)[0];
        assert_eq!(s.median, Duration::from_millis(3));
        assert_eq!(s.min, Duration::from_millis(1));
    }

    #[test]
    #[should_panic(expected = "different frame count")]
    fn wrong_frame_count_is_caught() {
        let mut runners: Vec<Runner<'_>> = vec![Box::new(|| (Duration::ZERO, 2))];
        measure(plan(1), 3, &mut runners);
    }

    #[test]
    fn rates() {
        assert_eq!(mb_per_s(2_000_000, Duration::from_secs(2)), 1.0);
        assert_eq!(mframes_per_s(3_000_000, Duration::from_millis(500)), 6.0);
    }
}
