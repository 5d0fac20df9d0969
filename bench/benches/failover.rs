//! Failover drill, ours beside redis-rs's: for each client a fresh local topology (1 master,
//! 2 replicas, 3 sentinels), sequential `INCR`s on one key, a forced `SENTINEL FAILOVER` at 3 s,
//! then, once the old master has been demoted, an audit of the counter.
//!
//! Our client runs as the built `resp-sentinel drill --json` (once per runtime); redis-rs runs the
//! same loop in-process with `redis::sentinel::SentinelClient`. Beside each client's own figures,
//! the bench watches from outside, the same way for both: sentinel events by pub/sub and each data
//! node's executed client writes by `MONITOR`, stamped with the one wall clock of the machine.
//!
//! `cargo bench -p resp-sentinel-bench --bench failover`. Environment: `FAILOVER_BENCH_SECS`
//! (drill length, default 25), `FAILOVER_BENCH_AT` (trigger, default 3), `FAILOVER_BENCH_CLIENTS`
//! (comma-separated subset of `blocking,tokio,async-std,smol,redis-rs`), `FAILOVER_BENCH_FAULT`
//! (`forced`, the default, or `pause`: the bench `SIGSTOP`s the master at the trigger time for
//! `FAILOVER_BENCH_PAUSE_SECS`, default 10, then resumes it).

#[path = "failover/observe.rs"]
mod observe;
#[path = "failover/redis_rs.rs"]
mod redis_rs;

use observe::{Observed, Observer};
use resp_sentinel_tests::{Addr, Topology, TopologyOptions};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "bench:failover";

/// What the bench does to the master at the trigger time.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// `SENTINEL FAILOVER` (ours: the drill's own `--failover-at`).
    Forced,
    /// `SIGSTOP` of the master for this long, then `SIGCONT`: a hung master, which Sentinel
    /// detects after `down-after-milliseconds` and replaces.
    Pause(Duration),
}

/// Pauses the master at `at` for `pause` (on the caller's scope); returns the pause's wall time.
fn pause_master(topo: &Topology, at: Duration, pause: Duration) -> Result<f64, String> {
    let master = topo.master_addr().map_err(|e| format!("master: {e}"))?;
    std::thread::sleep(at);
    let wall = observe::wall();
    topo.pause(&master).map_err(|e| format!("pause: {e}"))?;
    std::thread::sleep(pause);
    topo.resume(&master).map_err(|e| format!("resume: {e}"))?;
    Ok(wall)
}
const SETTLE: Duration = Duration::from_secs(60);

/// One client's figures for one run.
#[derive(Debug, Default)]
pub struct Figures {
    /// Client (and runtime) name.
    pub client: String,
    /// Writes attempted.
    pub attempted: u64,
    /// Writes acknowledged.
    pub ok: u64,
    /// Writes that failed.
    pub errors: u64,
    /// Longest gap between two acknowledged writes.
    pub longest_window_ms: u64,
    /// From the trigger to the first acknowledged write on the new master (client's view).
    pub trigger_to_new_ms: Option<u64>,
    /// Writes the old master acknowledged after the trigger (client's view).
    pub old_master_acks_after_trigger: u64,
    /// The drill's own acked_lost (ours only: read right after the write loop).
    pub drill_acked_lost: Option<u64>,
    /// Acknowledged writes minus the counter read once the old master is a replica again.
    pub acked_lost: i64,
    /// Duration of the write loop.
    pub elapsed: Duration,
    /// Master before the failover.
    pub old_master: String,
    /// Master after it.
    pub new_master: String,
    /// What the outside observers computed.
    pub seen: Seen,
}

/// Figures computed from sentinel events and `MONITOR`, identically for every client.
#[derive(Debug, Default)]
pub struct Seen {
    /// First client write executed by the new master minus the first `+switch-master` receipt.
    pub switch_to_first_new_ms: Option<f64>,
    /// First client write on the new master minus `+failover-state-wait-promotion`, which the
    /// leader publishes right after it sends the promotion (`MULTI`, `REPLICAOF NO ONE`, `CONFIG
    /// REWRITE`, `CLIENT KILL`s, `EXEC`): the new master is writable a few ms later, once that
    /// block has run. (`+failover-state-send-slaveof-noone` comes one sentinel timer tick, up to
    /// 100 ms, before the command is sent, so it is not the promotion.)
    pub promotion_to_first_new_ms: Option<f64>,
    /// First client write on the new master minus the fault: the bench's `SIGSTOP` of the
    /// master (pause runs), or `+try-failover` (forced runs).
    pub fault_to_first_new_ms: Option<f64>,
    /// `+odown` minus the pause: Sentinel's own detection (pause runs).
    pub fault_to_odown_ms: Option<f64>,
    /// First client write on the new master minus `+try-failover` (the sentinel's trigger).
    pub try_failover_to_first_new_ms: Option<f64>,
    /// Client writes the old master executed after the promotion (lost by design).
    pub old_writes_after_promotion: Option<usize>,
    /// The promotion minus the last client write the old master executed before it: the
    /// time that write had to reach the replica (the fence's safety margin).
    pub last_old_write_to_promotion_ms: Option<f64>,
    /// `+switch-master` minus `+try-failover`: the sentinels' own share of the recovery.
    pub sentinel_failover_ms: Option<f64>,
    /// How long the new master's `MONITOR` was reconnecting (Sentinel kills it when it promotes
    /// the node) just before the first write seen there: a write in that gap is not seen, so the
    /// `first new write` figures are then upper bounds by at most this much.
    pub new_monitor_gap_ms: Option<f64>,
}

impl Figures {
    fn new(client: &str) -> Figures {
        Figures {
            client: client.into(),
            ..Figures::default()
        }
    }

    fn ops_per_sec(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")))
}

/// Builds (when needed) and locates the `resp-sentinel` binary.
fn drill_binary() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "-p", "resp-sentinel-cli"])
        .args(["--bin", "resp-sentinel", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("building resp-sentinel failed".into());
    }
    Ok(target_dir().join("release/resp-sentinel"))
}

/// Raw text of a top-level field of a flat JSON object.
fn json_field<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!("\"{name}\":");
    let rest = &json[json.find(&pat)? + pat.len()..];
    let end = if let Some(s) = rest.strip_prefix('"') {
        s.find('"')? + 2
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim().trim_matches('"'))
}

fn json_u64(json: &str, name: &str) -> Result<u64, String> {
    json_field(json, name)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("drill output lacks `{name}`: {json}"))
}

fn start_topology() -> Result<Topology, String> {
    let t = Topology::start(TopologyOptions::default()).map_err(|e| format!("topology: {e}"))?;
    t.wait_healthy(SETTLE)
        .map_err(|e| format!("topology not healthy: {e}"))?;
    Ok(t)
}

/// Our client on `runtime`, through the CLI's drill.
fn run_ours(
    bin: &PathBuf,
    runtime: &str,
    secs: f64,
    at: f64,
    fault: Fault,
) -> Result<Figures, String> {
    let topo = start_topology()?;
    let obs = Observer::start(&topo, KEY)?;
    let mut cmd = Command::new(bin);
    cmd.arg("drill")
        .arg(topo.url())
        .args(["--json", "--key", KEY, "--runtime", runtime])
        .args(["--duration", &format!("{secs}s")]);
    match fault {
        Fault::Forced => cmd.args(["--failover-at", &format!("{at}s")]),
        Fault::Pause(_) => cmd.arg("--no-trigger"),
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let deadline = Instant::now() + Duration::from_secs_f64(secs) + SETTLE;
    let waited = std::thread::scope(|scope| {
        let pauser = match fault {
            Fault::Pause(p) => {
                let (at, topo) = (Duration::from_secs_f64(at), &topo);
                Some(scope.spawn(move || pause_master(topo, at, p)))
            }
            Fault::Forced => None,
        };
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{runtime}: the drill overran its deadline"));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => return Err(format!("waiting for the drill: {e}")),
            }
        }
        match pauser.map(|p| p.join()) {
            None => Ok(None),
            Some(Ok(Ok(wall))) => Ok(Some(wall)),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err("the pausing thread panicked".into()),
        }
    });
    let paused_at = match waited {
        Ok(p) => p,
        Err(e) => {
            obs.stop();
            return Err(e);
        }
    };
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let Some(line) = out.lines().find(|l| l.starts_with('{')) else {
        obs.stop();
        return Err(format!(
            "{runtime}: no JSON from the drill; stderr: {}",
            err.trim()
        ));
    };
    println!("  drill {runtime}: {line}");
    let mut f = Figures::new(&format!("ours ({runtime})"));
    f.attempted = json_u64(line, "attempted")?;
    f.ok = json_u64(line, "ok")?;
    f.errors = json_u64(line, "errors")?;
    f.longest_window_ms = json_u64(line, "longest_failure_window_ms")?;
    f.trigger_to_new_ms =
        json_field(line, "trigger_to_first_new_master_write_ms").and_then(|v| v.parse().ok());
    f.old_master_acks_after_trigger = json_u64(line, "old_master_acks_after_trigger")?;
    f.drill_acked_lost = Some(json_u64(line, "acked_lost")?);
    let ops: f64 = json_field(line, "ops_per_sec")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    f.elapsed = Duration::from_secs_f64(if ops > 0.0 { f.ok as f64 / ops } else { secs });
    f.old_master = json_field(line, "old_master").unwrap_or("?").to_string();
    finish(&topo, obs, f, paused_at)
}

/// redis-rs's sync Sentinel client, in-process.
fn run_redis_rs(secs: f64, at: f64, fault: Fault) -> Result<Figures, String> {
    let topo = start_topology()?;
    let obs = Observer::start(&topo, KEY)?;
    let result = redis_rs::drill(
        &topo,
        KEY,
        Duration::from_secs_f64(secs),
        Duration::from_secs_f64(at),
        fault,
    );
    match result {
        Ok((f, trigger_wall)) => {
            let paused_at = matches!(fault, Fault::Pause(_)).then_some(trigger_wall);
            finish(&topo, obs, f, paused_at)
        }
        Err(e) => {
            obs.stop();
            Err(e)
        }
    }
}

/// Waits until the old master is a replica, audits the counter, stops the observers;
/// `paused_at` is the wall time of the bench's `SIGSTOP` in a pause run.
fn finish(
    topo: &Topology,
    obs: Observer,
    mut f: Figures,
    paused_at: Option<f64>,
) -> Result<Figures, String> {
    let old: Addr = f
        .old_master
        .parse()
        .map_err(|e| format!("old master `{}`: {e:?}", f.old_master))?;
    let demoted = topo.wait_until_replica(&old, SETTLE);
    let seen = obs.stop();
    demoted.map_err(|e| format!("{}: old master not demoted: {e}", f.client))?;
    let value = topo
        .get_counter(KEY)
        .map_err(|e| format!("reading the counter: {e}"))?;
    f.acked_lost = f.ok as i64 - value;
    let new = topo.master_addr().map_err(|e| format!("new master: {e}"))?;
    f.new_master = new.to_string();
    f.seen = analyse(&seen, &old, &new, paused_at);
    if let Some(p) = paused_at {
        // The drill (run without a trigger) does not know when the bench paused the master:
        // the observers do.
        f.trigger_to_new_ms = f.seen.fault_to_first_new_ms.map(|ms| ms.max(0.0) as u64);
        f.old_master_acks_after_trigger = seen.writes_after(&old, p) as u64;
    }
    Ok(f)
}

fn analyse(o: &Observed, old: &Addr, new: &Addr, paused_at: Option<f64>) -> Seen {
    let first_new = o.first_write(new);
    let diff = |a: Option<f64>, b: Option<f64>| Some((a? - b?) * 1000.0);
    let promotion = o.event("+failover-state-wait-promotion");
    let fault = paused_at.or(o.event("+try-failover"));
    Seen {
        switch_to_first_new_ms: diff(first_new, o.event("+switch-master")),
        promotion_to_first_new_ms: diff(first_new, promotion),
        fault_to_first_new_ms: diff(first_new, fault),
        fault_to_odown_ms: paused_at.and_then(|p| diff(o.event("+odown"), Some(p))),
        try_failover_to_first_new_ms: diff(first_new, o.event("+try-failover")),
        old_writes_after_promotion: promotion.map(|p| o.writes_after(old, p)),
        last_old_write_to_promotion_ms: diff(
            promotion,
            promotion.and_then(|p| o.last_write_before(old, p)),
        ),
        sentinel_failover_ms: diff(o.event("+switch-master"), o.event("+try-failover")),
        new_monitor_gap_ms: first_new.and_then(|t| o.gap_near(new, t)),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("n/a".into(), |v| v.to_string())
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.1}"))
}

/// How one row of the table reads its cell from a client's figures.
type Cell = Box<dyn Fn(&Figures) -> String>;

fn print_table(rows: &[Figures]) {
    let lines: Vec<(&str, Cell)> = vec![
        ("attempted", Box::new(|f| f.attempted.to_string())),
        ("ok", Box::new(|f| f.ok.to_string())),
        ("errors", Box::new(|f| f.errors.to_string())),
        ("ops/s", Box::new(|f| format!("{:.0}", f.ops_per_sec()))),
        (
            "longest failure window ms",
            Box::new(|f| f.longest_window_ms.to_string()),
        ),
        (
            "trigger -> 1st new-master write ms",
            Box::new(|f| opt(f.trigger_to_new_ms)),
        ),
        (
            "old-master acks after trigger",
            Box::new(|f| f.old_master_acks_after_trigger.to_string()),
        ),
        (
            "acked_lost (drill's own)",
            Box::new(|f| opt(f.drill_acked_lost)),
        ),
        (
            "acked_lost (after demotion)",
            Box::new(|f| f.acked_lost.to_string()),
        ),
        (
            "[mon] +switch-master -> 1st new write ms",
            Box::new(|f| opt_ms(f.seen.switch_to_first_new_ms)),
        ),
        (
            "[mon] promotion -> 1st new write ms",
            Box::new(|f| opt_ms(f.seen.promotion_to_first_new_ms)),
        ),
        (
            "[mon] fault -> 1st new write ms",
            Box::new(|f| opt_ms(f.seen.fault_to_first_new_ms)),
        ),
        (
            "[mon] pause -> +odown ms",
            Box::new(|f| opt_ms(f.seen.fault_to_odown_ms)),
        ),
        (
            "[mon] +try-failover -> 1st new write ms",
            Box::new(|f| opt_ms(f.seen.try_failover_to_first_new_ms)),
        ),
        (
            "[mon] old-master writes after promotion",
            Box::new(|f| opt(f.seen.old_writes_after_promotion)),
        ),
        (
            "[mon] last old-master write -> promotion ms",
            Box::new(|f| opt_ms(f.seen.last_old_write_to_promotion_ms)),
        ),
        (
            "[mon] sentinels +try-failover -> +switch-master ms",
            Box::new(|f| opt_ms(f.seen.sentinel_failover_ms)),
        ),
        (
            "[mon] new-master MONITOR blind gap before it ms",
            Box::new(|f| opt_ms(f.seen.new_monitor_gap_ms)),
        ),
        (
            "old -> new master",
            Box::new(|f| format!("{}->{}", port(&f.old_master), port(&f.new_master))),
        ),
    ];
    let width = 50;
    let col = rows
        .iter()
        .map(|f| f.client.len().max(12))
        .max()
        .unwrap_or(12)
        + 2;
    print!("| {:<width$}|", "figure");
    for f in rows {
        print!(" {:>col$} |", f.client);
    }
    println!();
    print!("|{}|", "-".repeat(width + 1));
    for _ in rows {
        print!("{}:|", "-".repeat(col + 1));
    }
    println!();
    for (name, get) in &lines {
        print!("| {name:<width$}|");
        for f in rows {
            print!(" {:>col$} |", get(f));
        }
        println!();
    }
}

fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or(addr)
}

fn main() {
    let secs = env_f64("FAILOVER_BENCH_SECS", 25.0);
    let at = env_f64("FAILOVER_BENCH_AT", 3.0);
    let clients = std::env::var("FAILOVER_BENCH_CLIENTS")
        .unwrap_or_else(|_| "blocking,tokio,async-std,smol,redis-rs".into());
    let fault = match std::env::var("FAILOVER_BENCH_FAULT").as_deref() {
        Ok("pause") => Fault::Pause(Duration::from_secs_f64(env_f64(
            "FAILOVER_BENCH_PAUSE_SECS",
            10.0,
        ))),
        Ok("forced") | Err(_) => Fault::Forced,
        Ok(other) => {
            eprintln!("failover bench: FAILOVER_BENCH_FAULT={other}: expected forced or pause");
            std::process::exit(2);
        }
    };
    let bin = match drill_binary() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("failover bench: {e}");
            std::process::exit(1);
        }
    };
    let what = match fault {
        Fault::Forced => "SENTINEL FAILOVER".to_string(),
        Fault::Pause(p) => format!("master SIGSTOPped for {} s", p.as_secs_f64()),
    };
    println!(
        "failover drill: sequential INCR, {what} at {at} s, {secs} s per client, \
         fresh topology per client (down-after 1500 ms, failover-timeout 5000 ms)"
    );
    let mut rows = Vec::new();
    let mut failed = false;
    for c in clients.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let r = match c {
            "redis-rs" => run_redis_rs(secs, at, fault),
            rt => run_ours(&bin, rt, secs, at, fault),
        };
        match r {
            Ok(f) => {
                println!("  {} done: {:?}", f.client, f.seen);
                rows.push(f);
            }
            Err(e) => {
                eprintln!("failover bench: {c}: {e}");
                failed = true;
            }
        }
    }
    println!();
    print_table(&rows);
    println!(
        "\n[mon] = measured outside the client: sentinel pub/sub receipt times and MONITOR's \
         server timestamps of executed client INCRs (wall clock, same machine)."
    );
    if failed {
        std::process::exit(1);
    }
}
