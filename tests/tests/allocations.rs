//! Heap allocations per command, counted by a counting allocator over the whole process (the
//! caller, the driver, its reader, writer and timer threads), against a real server: plain
//! `INCR`s one after another, and pipelines of 100, on every runtime.

#[macro_use]
mod support;

use resp_sentinel::cmd;
use resp_sentinel::core::sentinel::Role;
use resp_sentinel_tests::TopologyOptions;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use support::{config_for, topology, Rt, TestClient};

/// Counts allocations (and reallocations) and hands every call to the system allocator.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter is a relaxed atomic increment, which neither allocates
// nor touches the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `alloc` are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` (every allocation above does), with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most allocations a plain command may cost on `rt`, all threads together. Blocking: the
/// command's own buffer (1.0 measured; its answer comes back in a reused slot, the reply, a
/// short integer or string, is held inline, and reads land in a reused block). The async
/// runtimes add what their wake-ups cost when the driver, the reader and the writer each park
/// once per round trip: a channel registration per park (tokio 6.0 measured), and a timer
/// registration per turn on async-std and smol (10-14 measured).
fn per_command(rt: Rt) -> f64 {
    match rt {
        Rt::Blocking => 1.5,
        Rt::Tokio => 8.0,
        Rt::AsyncStd | Rt::Smol => 15.0,
    }
}

/// The most a command of a pipeline of 100 may cost (besides its own buffer, made by the caller).
const PER_PIPELINED: f64 = 0.5;

/// The counter is the process's: the scenarios of this file run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Allocations per unit of `run(units)`, the least of three runs (another thread of the
/// process, e.g. one of the previous scenario ending, may allocate during one of them).
fn counted(units: usize, mut run: impl FnMut(usize)) -> f64 {
    (0..3)
        .map(|_| {
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            run(units);
            (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / units as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn allocations_per_command(rt: Rt) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let topo = topology(TopologyOptions {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        ..TopologyOptions::default()
    });
    let client = TestClient::new(rt, config_for(&topo), Role::Master);
    // Warm up: connections made, buffers and maps at their working size.
    client.incr_times("warm", 500).unwrap();
    let plain = counted(2_000, |n| client.incr_times("counted", n).unwrap());
    let batch: Vec<_> = (0..100).map(|_| cmd("INCR").arg("piped")).collect();
    client.pipeline_times(&batch, 1).unwrap();
    // Each round copies the 100 commands (one allocation each): the caller's, not the client's.
    let piped = counted(20, |n| client.pipeline_times(&batch, n).unwrap()) / 100.0 - 1.0;
    println!("{rt:?}: {plain:.2} allocations per command, {piped:.2} per pipelined command");
    let most = per_command(rt);
    assert!(
        plain <= most,
        "{rt:?}: {plain:.2} allocations per command (at most {most})"
    );
    assert!(
        piped <= PER_PIPELINED,
        "{rt:?}: {piped:.2} allocations per pipelined command (at most {PER_PIPELINED})"
    );
}

on_every_runtime!(allocations_per_command);
