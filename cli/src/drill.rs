//! The failover drill: sequential `INCR`s through our client across a failover, then an audit of
//! what was acknowledged against what the new master holds.

use crate::report::Report;
use resp_sentinel::core::sentinel::{Addr, Event};
use resp_sentinel::Error;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// What the drill needs from a client, whatever runtime drives it.
pub trait DrillClient {
    /// `INCR key`.
    async fn incr(&self, key: &str) -> Result<i64, Error>;
    /// The counter's value (0 when absent).
    async fn read(&self, key: &str) -> Result<i64, Error>;
    /// `DEL key`.
    async fn reset(&self, key: &str) -> Result<(), Error>;
    /// The verified master now in use.
    async fn master(&self) -> Option<Addr>;
    /// Events received since the last call.
    fn drain_events(&mut self) -> Vec<Event>;
}

/// How to run the drill.
pub struct DrillPlan {
    /// How long to write.
    pub duration: Duration,
    /// When to ask a sentinel for a failover; `None` waits for someone else's.
    pub failover_at: Option<Duration>,
    /// The counter key.
    pub key: String,
    /// Print a live progress line on stderr.
    pub progress: bool,
    /// Name of the runtime, for the report.
    pub runtime: &'static str,
}

/// Runs the plan; `trigger` is called once, on its own thread, at `failover_at`.
pub async fn run<C: DrillClient>(
    client: &mut C,
    plan: &DrillPlan,
    trigger: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<Report, String> {
    client
        .reset(&plan.key)
        .await
        .map_err(|e| format!("cannot reset {}: {e}", plan.key))?;
    let old_master = client.master().await;
    client.drain_events();

    let mut r = Report::new(plan.runtime);
    r.old_master = old_master;
    let mut trigger = Some(trigger);
    let mut trigger_at: Option<Instant> = None;
    let mut fenced_at: Option<Instant> = None;
    let mut switched_at: Option<Instant> = None;
    let mut trigger_error = None;
    let (trigger_tx, trigger_rx) = std::sync::mpsc::channel();

    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let end = start
        .checked_add(plan.duration)
        .ok_or("the drill duration is too long")?;
    let mut last_ok = start;
    let mut last_print = start;
    let mut last_error = None;
    while Instant::now() < end {
        let due = plan.failover_at.is_some_and(|at| start.elapsed() >= at);
        if due {
            if let Some(t) = trigger.take() {
                trigger_at = Some(Instant::now());
                let tx = trigger_tx.clone();
                std::thread::spawn(move || {
                    let _ = tx.send(t());
                });
            }
        }
        if let Ok(Err(e)) = trigger_rx.try_recv() {
            trigger_error = Some(e);
        }
        r.attempted += 1;
        let result = client.incr(&plan.key).await;
        let now = Instant::now();
        for event in client.drain_events() {
            match event {
                Event::FenceRaised { .. } if fenced_at.is_none() => fenced_at = Some(now),
                Event::MasterChanged { .. } if switched_at.is_none() => switched_at = Some(now),
                _ => {}
            }
        }
        // Without our own trigger, the failover starts when the client first notices it.
        if plan.failover_at.is_none() && trigger_at.is_none() {
            trigger_at = fenced_at.or(switched_at);
        }
        match result {
            Ok(_) => {
                r.ok += 1;
                r.longest_failure_window_ms = r
                    .longest_failure_window_ms
                    .max(now.duration_since(last_ok).as_millis() as u64);
                last_ok = now;
                if let Some(t) = trigger_at {
                    if switched_at.is_some() {
                        if r.trigger_to_first_new_master_write_ms.is_none() {
                            r.trigger_to_first_new_master_write_ms =
                                Some(now.duration_since(t).as_millis() as u64);
                        }
                    } else if fenced_at.is_none() {
                        r.old_master_acks_after_trigger += 1;
                    }
                }
            }
            Err(e) => {
                r.errors += 1;
                last_error = Some(e.to_string());
            }
        }
        // A live line on a terminal; a line a second in logs.
        let every = if tty { 250 } else { 1000 };
        if plan.progress && now.duration_since(last_print) >= Duration::from_millis(every) {
            last_print = now;
            let master = client
                .master()
                .await
                .map(|a| crate::escape::escape(&a.to_string()).into_owned());
            let line = format!(
                "  {:>6.1}s  ok {:>8}  errors {:>5}  master {:<21}",
                start.elapsed().as_secs_f64(),
                r.ok,
                r.errors,
                master.as_deref().unwrap_or("(none)")
            );
            if tty {
                eprint!("\r{line}");
                let _ = std::io::stderr().flush();
            } else {
                eprintln!("{line}");
            }
        }
    }
    if plan.progress && tty {
        eprintln!();
    }
    // A gap that lasts until the loop ends counts too.
    r.longest_failure_window_ms = r
        .longest_failure_window_ms
        .max(Instant::now().duration_since(last_ok).as_millis() as u64);
    r.elapsed = start.elapsed();
    r.last_error = last_error;
    r.trigger_error = trigger_error.or_else(|| trigger_rx.try_recv().ok().and_then(Result::err));
    r.new_master = client.master().await;
    let final_value = client
        .read(&plan.key)
        .await
        .map_err(|e| format!("cannot read {} after the drill: {e}", plan.key))?;
    r.final_value = final_value;
    r.acked_lost = r.ok.saturating_sub(final_value.max(0) as u64);
    Ok(r)
}
