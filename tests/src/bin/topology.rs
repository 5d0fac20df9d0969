//! `topology run [options] -- <cmd> [args..]`: starts a local Sentinel topology of real
//! processes, runs the command with `RESP_SENTINEL_URL` (and friends) set, tears the topology
//! down, and exits with the command's exit code. Used by the demo and soak scripts.

use resp_sentinel_tests::{Topology, TopologyOptions};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};
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
";

struct Args {
    opts: TopologyOptions,
    command: Vec<String>,
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
    Ok(Args { opts, command })
}

fn join(addrs: &[resp_sentinel_tests::Addr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
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

    let status = Command::new(&args.command[0])
        .args(&args.command[1..])
        .env("RESP_SENTINEL_URL", topo.url())
        .env("RESP_SENTINEL_SERVICE", topo.service_name())
        .env("RESP_SENTINEL_SENTINELS", join(&topo.sentinel_addrs()))
        .env("RESP_SENTINEL_DATA_NODES", join(&topo.data_addrs()))
        .status();
    let code = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => c,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 1,
        },
        Err(e) => {
            eprintln!("topology: could not run `{}`: {e}", args.command[0]);
            127
        }
    };
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
