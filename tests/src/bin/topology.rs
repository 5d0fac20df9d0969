//! `topology run [options] -- <cmd> [args..]`: starts a local Sentinel topology of real
//! processes, runs the command with `RESP_SENTINEL_URL` (and friends) set, tears the topology
//! down, and exits with the command's exit code. Used by the demo and soak scripts.

use resp_sentinel_tests::{Addr, HarnessError, Topology, TopologyOptions};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: topology run [options] -- <command> [args..]

Starts 1 master, 2 replicas and 3 sentinels (quorum 2) on free loopback ports, runs <command>
with these variables set, then stops every process and exits with the command's exit code:
  RESP_SENTINEL_URL        redis+sentinel://[user:pass@]127.0.0.1:p1,.../<service>[?sentinel_...]
  RESP_SENTINEL_SERVICE    the service (master) name
  RESP_SENTINEL_SENTINELS  sentinel addresses, comma-separated
  RESP_SENTINEL_DATA_NODES data node addresses, comma-separated (the first is the initial master)

options:
  --service NAME             service name (default mymaster)
  --password P               data nodes require P (requirepass/masterauth)
  --username U               with --password: data nodes accept only ACL user U
  --sentinel-password P      sentinels require P
  --sentinel-username U      with --sentinel-password: sentinels accept only ACL user U
  --down-after-ms N          sentinel down-after-milliseconds (default 1500)
  --failover-timeout-ms N    sentinel failover-timeout (default 5000)
  --tls                      every node listens on TLS only, with certificates made for the run
                             (RESP_SENTINEL_URL is rediss+sentinel://...&tls_ca_file=...)
  --failover-at S            (repeatable) S seconds after <command> starts, ask a sentinel for
                             SENTINEL FAILOVER and wait for the new master and the old one's demotion
  --kill-master-at S         (repeatable) S seconds after <command> starts, SIGKILL the master, wait
                             for the new master, restart the old one and wait until it is a replica
Faults run one after another: one that is due while another is still settling starts after it.
";

/// A fault the runner injects while the command runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    Failover,
    KillMaster,
}

struct Args {
    opts: TopologyOptions,
    command: Vec<String>,
    /// Faults by seconds after the command starts, in time order.
    schedule: Vec<(f64, Fault)>,
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter();
    match it.next().map(String::as_str) {
        Some("run") => {}
        Some("-h" | "--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown subcommand `{other}`")),
    }
    let mut opts = TopologyOptions::default();
    let (mut user, mut pass, mut suser, mut spass) = (None, None, None, None);
    let mut command = Vec::new();
    let mut schedule = Vec::new();
    while let Some(a) = it.next() {
        if a == "--" {
            command = it.by_ref().cloned().collect();
            break;
        }
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`{a}` needs a value"))
        };
        let secs = |v: String| match v.parse::<f64>() {
            Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
            _ => Err(format!("`{a}` needs a number of seconds, got `{v}`")),
        };
        let millis = |v: String| {
            v.parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("`{a}` needs a number of milliseconds, got `{v}`"))
        };
        match a.as_str() {
            "--service" => opts.service_name = value()?,
            "--password" => pass = Some(value()?),
            "--username" => user = Some(value()?),
            "--sentinel-password" => spass = Some(value()?),
            "--sentinel-username" => suser = Some(value()?),
            "--down-after-ms" => opts.down_after = millis(value()?)?,
            "--failover-timeout-ms" => opts.failover_timeout = millis(value()?)?,
            "--tls" => opts = opts.tls(),
            "--failover-at" => schedule.push((secs(value()?)?, Fault::Failover)),
            "--kill-master-at" => schedule.push((secs(value()?)?, Fault::KillMaster)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    opts = match (user, pass) {
        (Some(u), Some(p)) => opts.acl_user(u, p),
        (None, Some(p)) => opts.password(p),
        (Some(_), None) => return Err("--username needs --password".into()),
        (None, None) => opts,
    };
    opts = match (suser, spass) {
        (Some(u), Some(p)) => opts.sentinel_acl_user(u, p),
        (None, Some(p)) => opts.sentinel_password(p),
        (Some(_), None) => return Err("--sentinel-username needs --sentinel-password".into()),
        (None, None) => opts,
    };
    if command.is_empty() {
        return Err("missing `-- <command> [args..]`".into());
    }
    schedule.sort_by(|a: &(f64, Fault), b| a.0.total_cmp(&b.0));
    Ok(Args {
        opts,
        command,
        schedule,
    })
}

fn join(addrs: &[Addr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the scheduled faults until done or told to stop; false when one of them failed.
fn inject(
    topo: &Topology,
    schedule: &[(f64, Fault)],
    started: Instant,
    stop: &mpsc::Receiver<()>,
) -> bool {
    let mut ok = true;
    for &(at, fault) in schedule {
        let due = started + Duration::from_secs_f64(at);
        let wait = due.saturating_duration_since(Instant::now());
        if !matches!(
            stop.recv_timeout(wait),
            Err(mpsc::RecvTimeoutError::Timeout)
        ) {
            break;
        }
        let t = Instant::now();
        let stamp = format!("+{:.1}s", started.elapsed().as_secs_f64());
        let result = match fault {
            Fault::Failover => forced_failover(topo),
            Fault::KillMaster => kill_master(topo),
        };
        match result {
            Ok((old, new)) => eprintln!(
                "topology: {stamp} {fault:?} {old} -> {new} done in {:.1} s",
                t.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("topology: {stamp} {fault:?} failed: {e}");
                ok = false;
            }
        }
    }
    ok
}

const FAULT_WAIT: Duration = Duration::from_secs(60);

fn forced_failover(topo: &Topology) -> Result<(Addr, Addr), HarnessError> {
    let old = topo.failover()?;
    let new = topo.wait_for_new_master(&old, FAULT_WAIT)?;
    eprintln!("topology: new master {new}, waiting for {old} to be demoted");
    topo.wait_until_replica(&old, FAULT_WAIT)?;
    Ok((old, new))
}

fn kill_master(topo: &Topology) -> Result<(Addr, Addr), HarnessError> {
    let old = topo.master_addr()?;
    topo.kill(&old)?;
    eprintln!("topology: killed master {old}");
    let new = topo.wait_for_new_master(&old, FAULT_WAIT)?;
    eprintln!("topology: new master {new}, restarting {old}");
    topo.restart(&old)?;
    topo.wait_until_replica(&old, FAULT_WAIT)?;
    Ok((old, new))
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
            eprintln!("topology: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    let topo = match Topology::start(args.opts) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("topology: could not start: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "topology: ready in {:.1} s (service {}, files in {})",
        t0.elapsed().as_secs_f64(),
        topo.service_name(),
        topo.dir().display()
    );
    for a in topo.data_addrs() {
        let role = topo.role(&a).unwrap_or_else(|e| format!("unknown ({e})"));
        let role = if role == "slave" {
            "replica".into()
        } else {
            role
        };
        eprintln!("topology:   {role:<8} {a}");
    }
    for a in topo.sentinel_addrs() {
        eprintln!("topology:   sentinel {a}");
    }
    eprintln!("topology: RESP_SENTINEL_URL={}", topo.url_redacted());

    let child = Command::new(&args.command[0])
        .args(&args.command[1..])
        .env("RESP_SENTINEL_URL", topo.url())
        .env("RESP_SENTINEL_SERVICE", topo.service_name())
        .env("RESP_SENTINEL_SENTINELS", join(&topo.sentinel_addrs()))
        .env("RESP_SENTINEL_DATA_NODES", join(&topo.data_addrs()))
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            eprintln!("topology: could not run `{}`: {e}", args.command[0]);
            drop(topo);
            return ExitCode::from(127);
        }
    };
    let started = Instant::now();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (status, faults_ok) = std::thread::scope(|scope| {
        let (topo, schedule) = (&topo, &args.schedule);
        let faults = scope.spawn(move || inject(topo, schedule, started, &stop_rx));
        let status = child.wait();
        let _ = stop_tx.send(());
        (status, faults.join().unwrap_or(false))
    });
    let mut code = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => c,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 1,
        },
        Err(e) => {
            eprintln!("topology: waiting for the command failed: {e}");
            1
        }
    };
    if !faults_ok && code == 0 {
        eprintln!("topology: a scheduled fault failed; exiting non-zero");
        code = 1;
    }
    drop(topo);
    eprintln!("topology: stopped; command exited with {code}");
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_options_and_command() {
        let a = parse(&argv(
            "run --password p --sentinel-password sp --sentinel-username su -- sh -c true",
        ))
        .unwrap();
        assert_eq!(a.command, ["sh", "-c", "true"]);
        let d = a.opts.data_auth.unwrap();
        assert_eq!((d.username, d.password.as_str()), (None, "p"));
        let s = a.opts.sentinel_auth.unwrap();
        assert_eq!(s.username.as_deref(), Some("su"));
        assert!(a.schedule.is_empty());
    }

    #[test]
    fn parses_a_fault_schedule_in_time_order() {
        let a = parse(&argv(
            "run --kill-master-at 9 --failover-at 2.5 --failover-at 20 -- true",
        ))
        .unwrap();
        assert_eq!(
            a.schedule,
            [
                (2.5, Fault::Failover),
                (9.0, Fault::KillMaster),
                (20.0, Fault::Failover)
            ]
        );
        assert!(parse(&argv("run --failover-at -1 -- true")).is_err());
        assert!(parse(&argv("run --failover-at soon -- true")).is_err());
    }

    #[test]
    fn rejects_bad_usage() {
        for bad in [
            "run",
            "run --password",
            "run --bogus -- true",
            "run --username u -- true",
            "run --down-after-ms x -- true",
            "start -- true",
        ] {
            assert!(
                matches!(parse(&argv(bad)), Err(e) if !e.is_empty()),
                "{bad}"
            );
        }
        assert!(matches!(parse(&argv("--help")), Err(e) if e.is_empty()));
    }
}
