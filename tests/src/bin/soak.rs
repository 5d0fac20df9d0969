//! `soak [--forced N] [--killed M] ...`: one long-lived local Sentinel topology, then N rounds of
//! `resp-sentinel drill --failover-at` (a forced `SENTINEL FAILOVER` each) and M rounds of
//! `resp-sentinel drill --no-trigger` during which the master is SIGKILLed, restarted and left to
//! rejoin as a replica. Prints one line per round and the totals: acknowledged writes lost and the
//! distribution of failure windows and of trigger-to-first-new-master-write times. Exits non-zero
//! when a forced round lost an acknowledged write or any round failed to run. `scripts/soak` wraps it.

use resp_sentinel_tests::{Addr, HarnessError, Topology, TopologyOptions};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: soak [options]

Starts one local topology (1 master, 2 replicas, 3 sentinels) and runs the failover drill through
it again and again: first the forced rounds, then the killed-master rounds.

options:
  --forced N            rounds with a forced SENTINEL FAILOVER (default 100)
  --killed M            rounds in which the master is SIGKILLed, then restarted (default 20)
  --duration S          seconds each forced drill writes (default 10)
  --killed-duration S   seconds each killed-master drill writes (default 14)
  --trigger-at S        seconds into a round when the failover is forced / the master killed (default 3)
  --runtime R           blocking|tokio|async-std|smol|rotate (default rotate: one after another)
  --drill PATH          the resp-sentinel binary (default: next to this binary)
  --log FILE            append one JSON line per round to FILE
";

const RUNTIMES: [&str; 4] = ["blocking", "tokio", "async-std", "smol"];
/// Longest wait for the topology to settle between rounds.
const SETTLE: Duration = Duration::from_secs(60);
/// Time a drill may take beyond its duration before it is killed.
const DRILL_GRACE: Duration = Duration::from_secs(45);
/// The counter every round increments (the drill deletes it first).
const KEY: &str = "soak:counter";

struct Args {
    forced: usize,
    killed: usize,
    duration: f64,
    killed_duration: f64,
    trigger_at: f64,
    runtime: Option<String>,
    drill: PathBuf,
    log: Option<PathBuf>,
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let default_drill = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("resp-sentinel")))
        .unwrap_or_else(|| PathBuf::from("resp-sentinel"));
    let mut a = Args {
        forced: 100,
        killed: 20,
        duration: 10.0,
        killed_duration: 14.0,
        trigger_at: 3.0,
        runtime: None,
        drill: default_drill,
        log: None,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let secs = |v: &String| match v.trim_end_matches('s').parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 => Ok(s),
            _ => Err(format!("{flag}: `{v}` is not a positive number of seconds")),
        };
        let count = |v: &String| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: `{v}` is not a count"))
        };
        match flag.as_str() {
            "--forced" => a.forced = count(value()?)?,
            "--killed" => a.killed = count(value()?)?,
            "--duration" => a.duration = secs(value()?)?,
            "--killed-duration" => a.killed_duration = secs(value()?)?,
            "--trigger-at" => a.trigger_at = secs(value()?)?,
            "--runtime" => {
                let v = value()?;
                match v.as_str() {
                    "rotate" => a.runtime = None,
                    r if RUNTIMES.contains(&r) => a.runtime = Some(r.to_string()),
                    _ => return Err(format!("--runtime: unknown runtime `{v}`")),
                }
            }
            "--drill" => a.drill = PathBuf::from(value()?),
            "--log" => a.log = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown option `{flag}`")),
        }
    }
    if a.trigger_at >= a.duration || a.trigger_at >= a.killed_duration {
        return Err("--trigger-at must come before the end of every drill".into());
    }
    Ok(a)
}

/// The kind of failover a round causes.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Forced,
    Killed,
}

/// What one round measured: the drill's JSON figures plus the soak's own audit.
#[derive(Debug, Default, Clone)]
struct Round {
    ok: u64,
    errors: u64,
    window_ms: u64,
    trigger_to_new_ms: Option<u64>,
    old_acks: u64,
    acked_lost: u64,
    /// `ok` minus the counter read on the master once the old master is a replica again.
    audit_lost: i64,
    ops_per_sec: f64,
    exit_code: Option<i32>,
}

/// The value of a top-level field of a flat JSON object, as raw text (`null`, a number, or a
/// string with its quotes).
fn json_field<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!("\"{name}\":");
    let start = json.find(&pat)? + pat.len();
    let rest = &json[start..];
    let end = if let Some(s) = rest.strip_prefix('"') {
        s.find('"')? + 2
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

fn json_u64(json: &str, name: &str) -> Result<u64, String> {
    json_field(json, name)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("drill output lacks a numeric `{name}`: {json}"))
}

fn parse_report(json: &str) -> Result<Round, String> {
    Ok(Round {
        ok: json_u64(json, "ok")?,
        errors: json_u64(json, "errors")?,
        window_ms: json_u64(json, "longest_failure_window_ms")?,
        trigger_to_new_ms: json_field(json, "trigger_to_first_new_master_write_ms")
            .and_then(|v| v.parse().ok()),
        old_acks: json_u64(json, "old_master_acks_after_trigger")?,
        acked_lost: json_u64(json, "acked_lost")?,
        ops_per_sec: json_field(json, "ops_per_sec")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        ..Round::default()
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `min / median / p95 / max` of the values, or `n/a`.
fn distribution(values: &[u64]) -> String {
    let mut v = values.to_vec();
    v.sort_unstable();
    let f = |p| percentile(&v, p).map_or("n/a".into(), |x| x.to_string());
    format!(
        "min {} / median {} / p95 {} / max {} ms (n={})",
        f(0.0),
        f(50.0),
        f(95.0),
        f(100.0),
        v.len()
    )
}

fn spawn_drill(args: &Args, topo: &Topology, kind: Kind, runtime: &str) -> Result<Child, String> {
    let mut cmd = Command::new(&args.drill);
    cmd.arg("drill")
        .arg(topo.url())
        .args(["--json", "--key", KEY, "--runtime", runtime]);
    match kind {
        Kind::Forced => cmd
            .args(["--duration", &format!("{}s", args.duration)])
            .args(["--failover-at", &format!("{}s", args.trigger_at)]),
        Kind::Killed => cmd
            .args(["--duration", &format!("{}s", args.killed_duration)])
            .arg("--no-trigger"),
    };
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", args.drill.display()))
}

/// Waits for the drill until `deadline`, killing it past that; returns (exit code, stdout, stderr).
fn finish_drill(
    mut child: Child,
    deadline: Instant,
) -> Result<(Option<i32>, String, String), String> {
    // The drill prints one short line; the pipes cannot fill up before it exits.
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the drill overran its deadline and was killed".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for the drill: {e}")),
        }
    };
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    Ok((status.code(), out, err))
}

fn harness(what: &str) -> impl Fn(HarnessError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Runs one round and leaves the topology healthy again.
fn round(
    args: &Args,
    topo: &Topology,
    kind: Kind,
    runtime: &str,
) -> Result<(Round, String), String> {
    let before = topo
        .wait_healthy(SETTLE)
        .map_err(harness("topology not healthy"))?;
    let started = Instant::now();
    let child = spawn_drill(args, topo, kind, runtime)?;
    let drill_len = match kind {
        Kind::Forced => args.duration,
        Kind::Killed => args.killed_duration,
    };
    let deadline = started + Duration::from_secs_f64(drill_len) + DRILL_GRACE;
    let mut note = String::new();
    if kind == Kind::Killed {
        std::thread::sleep(Duration::from_secs_f64(args.trigger_at));
        let t = Instant::now();
        let killed = topo.kill(&before).map_err(harness("kill"));
        let outcome = killed.and_then(|()| {
            let new = topo
                .wait_for_new_master(&before, SETTLE)
                .map_err(harness("no new master after the kill"))?;
            let _ = write!(
                note,
                " sentinels agreed on {new} {} ms after the kill;",
                t.elapsed().as_millis()
            );
            topo.restart(&before).map_err(harness("restart"))
        });
        if let Err(e) = outcome {
            let _ = finish_drill(child, Instant::now());
            return Err(e);
        }
    }
    let (code, out, err) = finish_drill(child, deadline)?;
    let line = out.lines().find(|l| l.starts_with('{')).ok_or_else(|| {
        format!(
            "the drill printed no JSON (exit {code:?}); stderr: {}",
            err.trim()
        )
    })?;
    let mut r = parse_report(line)?;
    r.exit_code = code;
    // The old master must be a replica again (forced: demoted by the sentinels; killed: restarted
    // and reconfigured) before the audit, so the counter read is the one that survives.
    topo.wait_until_replica(&before, SETTLE)
        .map_err(harness("old master did not rejoin as a replica"))?;
    let value = topo
        .get_counter(KEY)
        .map_err(harness("reading the counter"))?;
    r.audit_lost = r.ok as i64 - value;
    let _ = write!(
        note,
        " {before} -> {}",
        topo.master_addr()
            .map_or("?".into(), |a: Addr| a.to_string())
    );
    Ok((r, format!("{line}{note}")))
}

fn run(args: &Args) -> Result<bool, String> {
    let t0 = Instant::now();
    let topo = Topology::start(TopologyOptions::default()).map_err(harness("topology"))?;
    eprintln!(
        "soak: topology ready in {:.1} s, files in {}",
        t0.elapsed().as_secs_f64(),
        topo.dir().display()
    );
    let mut log = match &args.log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("cannot open {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let plan: Vec<Kind> = std::iter::repeat_n(Kind::Forced, args.forced)
        .chain(std::iter::repeat_n(Kind::Killed, args.killed))
        .collect();
    let mut results: Vec<(Kind, Round)> = Vec::new();
    let mut failures = 0usize;
    for (i, &kind) in plan.iter().enumerate() {
        let runtime = args
            .runtime
            .as_deref()
            .unwrap_or(RUNTIMES[i % RUNTIMES.len()]);
        let t = Instant::now();
        let label = format!("{:?} {}/{} {runtime}", kind, i + 1, plan.len());
        match round(args, &topo, kind, runtime) {
            Ok((r, raw)) => {
                println!(
                    "{label}: ok {} errors {} window {} ms trigger->new-master {} ms old-acks {} \
                     acked_lost {} audit_lost {} ({:.0} ops/s, {:.1} s){}",
                    r.ok,
                    r.errors,
                    r.window_ms,
                    r.trigger_to_new_ms.map_or("n/a".into(), |v| v.to_string()),
                    r.old_acks,
                    r.acked_lost,
                    r.audit_lost,
                    r.ops_per_sec,
                    t.elapsed().as_secs_f64(),
                    raw.split_once('}').map_or("", |(_, n)| n)
                );
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(
                        f,
                        "{{\"round\":{},\"kind\":\"{kind:?}\",\"audit_lost\":{},\"exit\":{},\"drill\":{}}}",
                        i + 1,
                        r.audit_lost,
                        r.exit_code.map_or("null".into(), |c| c.to_string()),
                        raw.split_once('}').map_or(raw.as_str(), |(j, _)| j).to_string() + "}"
                    );
                }
                results.push((kind, r));
            }
            Err(e) => {
                failures += 1;
                println!("{label}: FAILED: {e}");
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(
                        f,
                        "{{\"round\":{},\"kind\":\"{kind:?}\",\"failed\":{:?}}}",
                        i + 1,
                        e
                    );
                }
                // Give the topology a chance to settle; give up when it cannot.
                topo.wait_healthy(SETTLE)
                    .map_err(harness("topology did not recover after a failed round"))?;
            }
        }
        let _ = std::io::stdout().flush();
    }
    let mut clean = failures == 0;
    println!();
    println!(
        "soak summary ({:.0} s, {failures} failed rounds)",
        t0.elapsed().as_secs_f64()
    );
    for kind in [Kind::Forced, Kind::Killed] {
        let rs: Vec<&Round> = results
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, r)| r)
            .collect();
        if rs.is_empty() {
            continue;
        }
        let sum = |f: fn(&Round) -> u64| rs.iter().map(|r| f(r)).sum::<u64>();
        let audit: i64 = rs.iter().map(|r| r.audit_lost.max(0)).sum();
        let windows: Vec<u64> = rs.iter().map(|r| r.window_ms).collect();
        let to_new: Vec<u64> = rs.iter().filter_map(|r| r.trigger_to_new_ms).collect();
        let lossy = rs
            .iter()
            .filter(|r| r.acked_lost > 0 || r.audit_lost > 0)
            .count();
        // A negative audit: the counter holds more than was acknowledged, i.e. a write reported
        // as failed (its reply never came, e.g. the master died) had been applied. Not a loss.
        let applied_unacked = rs.iter().filter(|r| r.audit_lost < 0).count();
        println!("  {kind:?}: {} rounds", rs.len());
        println!(
            "    acked ok {}  errors {}  acked_lost {}  audit_lost {}  rounds with a loss {}  \
             rounds where a failed write was applied {}",
            sum(|r| r.ok),
            sum(|r| r.errors),
            sum(|r| r.acked_lost),
            audit,
            lossy,
            applied_unacked
        );
        println!("    old-master acks after trigger {}", sum(|r| r.old_acks));
        if kind == Kind::Forced {
            // The drill's window only counts gaps closed by a later success: a round whose
            // failover did not finish inside the drill under-reports it.
            let open = rs.iter().filter(|r| r.trigger_to_new_ms.is_none()).count();
            println!("    rounds with no write on a new master inside the drill {open}");
        }
        println!("    longest failure window  {}", distribution(&windows));
        // Killed rounds run the drill with --no-trigger: it counts from the moment the client
        // noticed the failover, not from the kill; the failure window covers the kill.
        let label = match kind {
            Kind::Forced => "trigger -> new master   ",
            Kind::Killed => "noticed -> new master   ",
        };
        println!("    {label}{}", distribution(&to_new));
        if kind == Kind::Forced && lossy > 0 {
            clean = false;
        }
    }
    Ok(clean)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("soak: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("soak: acknowledged writes were lost in a forced round, or a round failed");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("soak: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn reads_the_drill_json_line() {
        let line = r#"{"attempted":10,"ok":9,"errors":1,"longest_failure_window_ms":120,"trigger_to_first_new_master_write_ms":null,"old_master_acks_after_trigger":3,"acked_lost":0,"ops_per_sec":17771.3,"old_master":"127.0.0.1:1","new_master":"127.0.0.1:2","runtime":"tokio","final_value":9}"#;
        let r = parse_report(line).unwrap();
        assert_eq!((r.ok, r.errors, r.window_ms, r.old_acks), (9, 1, 120, 3));
        assert_eq!(r.trigger_to_new_ms, None);
        assert!((r.ops_per_sec - 17771.3).abs() < 1e-9);
        assert_eq!(json_field(line, "runtime"), Some("\"tokio\""));
        assert_eq!(json_field(line, "final_value"), Some("9"));
        assert!(parse_report("{\"ok\":1}").is_err());
        assert!(parse_report("garbage").is_err());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(
            distribution(&[3, 1, 2]),
            "min 1 / median 2 / p95 3 / max 3 ms (n=3)"
        );
    }

    #[test]
    fn parses_counts_and_rejects_bad_usage() {
        let a = parse(&argv("--forced 5 --killed 2 --runtime smol --duration 12s")).unwrap();
        assert_eq!((a.forced, a.killed, a.duration), (5, 2, 12.0));
        assert_eq!(a.runtime.as_deref(), Some("smol"));
        assert!(parse(&argv("--forced")).is_err());
        assert!(parse(&argv("--forced x")).is_err());
        assert!(parse(&argv("--runtime glommio")).is_err());
        assert!(parse(&argv("--trigger-at 20")).is_err());
        assert!(parse(&argv("--bogus 1")).is_err());
        assert!(matches!(parse(&argv("--help")), Err(e) if e.is_empty()));
    }
}
