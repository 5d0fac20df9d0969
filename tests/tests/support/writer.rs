//! A writer thread for failover scenarios: `INCR`s in a loop through one client, keeping every
//! acknowledged value and every error for the audit.

use super::TestClient;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writes in a loop on a second thread; returns every acknowledged value and the error count.
pub struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<i64>>>,
    errors: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    pub fn start(client: Arc<TestClient>, key: &'static str) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (s, a, e) = (stop.clone(), acked.clone(), errors.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match client.incr(key) {
                    Ok(v) => a.lock().unwrap().push(v),
                    Err(err) => e.lock().unwrap().push(err.to_string()),
                }
            }
        });
        Writer {
            stop,
            acked,
            errors,
            thread: Some(thread),
        }
    }

    pub fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    pub fn finish(mut self) -> (Vec<i64>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("writer thread");
        }
        let acked = std::mem::take(&mut *self.acked.lock().unwrap());
        let errors = std::mem::take(&mut *self.errors.lock().unwrap());
        (acked, errors)
    }
}

/// Waits until the writer has acknowledged `n` more writes.
pub fn wait_for_writes(w: &Writer, n: usize, timeout: Duration) {
    let target = w.acked() + n;
    let deadline = Instant::now() + timeout;
    while w.acked() < target {
        assert!(
            Instant::now() < deadline,
            "writes did not resume within {timeout:?}: {} acknowledged, last errors {:?}",
            w.acked(),
            w.errors
                .lock()
                .unwrap()
                .iter()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
