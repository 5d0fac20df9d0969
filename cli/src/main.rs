//! `resp-sentinel`: resolve a service's master, list its replicas, watch sentinel events, and run
//! the failover drill through the resp-sentinel client.

mod admin;
mod args;
mod drill;
mod escape;
mod logging;
mod report;
mod runtimes;
mod target;
mod watch;

use args::{Args, UsageError};
use std::process::ExitCode;

const USAGE: &str = "\
usage: resp-sentinel <command> [<target>] [flags]

commands:
  resolve  <target>   print the current master host:port (verified with ROLE)
  replicas <target>   print the replicas sentinels know, with their flags
  watch    <target>   print every sentinel's events as they happen, with timestamps
  drill    <target>   INCR in a loop through a forced failover and audit the result
             --duration 20s  --failover-at 5s | --no-trigger  --key drill:counter
             --runtime blocking|tokio|async-std|smol  --json
             --coordinated  (SENTINEL FAILOVER <service> COORDINATED, Valkey 9.1+)

<target> is a URL (redis+sentinel://[user:pass@]h1:p1,h2:p2/service[/db]?sentinel_password=..,
valkey+sentinel://, rediss+sentinel://, sentinel://..;sentinel://.., redis://service/db?is_master=1,
redis-sentinel://h:p#service, redis://h:p?master_name=service...) and/or these flags:
  --sentinel h:p (repeatable)  --master NAME  --db N  --password P  --username U
  --sentinel-password P  --sentinel-username U
  --map ANNOUNCED=>DIAL (repeatable: dial an address sentinels announce elsewhere,
        `10.0.0.5:6379=>127.0.0.1:7001`, or a whole host `10.0.0.5=>127.0.0.1`)
TLS (rediss+sentinel:// or --tls: data nodes, and sentinels unless --sentinel-tls no):
  --tls  --sentinel-tls yes|no  --tls-ca-file PEM  --tls-cert-file PEM --tls-key-file PEM
  --tls-server-name NAME  --tls-danger-accept-any-hostname (skips the name check only)

logging (standard error): warnings by default; -q errors only, -v info, -vv debug, -vvv trace;
without -v/-q, RUST_LOG (e.g. RUST_LOG=resp_sentinel=debug) chooses
";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "resolve" => runtimes::resolve(rest),
        "replicas" => runtimes::replicas(rest),
        "watch" => watch::watch(rest),
        "drill" => runtimes::drill(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(UsageError(format!("unknown command `{other}`")).into()),
    };
    match result {
        Ok(code) => code,
        // Messages carry server and user text: escaped, like everything the CLI prints.
        Err(Failure::Usage(e)) => {
            eprintln!("resp-sentinel: {}\n", escape::escape(&e.0));
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("resp-sentinel: {}", escape::escape(&e));
            ExitCode::from(1)
        }
    }
}

/// Why a command did not run to completion.
pub enum Failure {
    /// The command line is wrong.
    Usage(UsageError),
    /// Something failed while running.
    Run(String),
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Failure {
        Failure::Usage(e)
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure::Run(e)
    }
}

/// Parses a subcommand's arguments (target flags plus `extra` valued flags and `switches`,
/// and `-v`/`-q`) and installs the log subscriber they ask for.
pub fn parse_args(argv: &[String], extra: &[&str], switches: &[&str]) -> Result<Args, UsageError> {
    let mut with_value = target::TARGET_FLAGS.to_vec();
    with_value.extend_from_slice(extra);
    let mut all_switches = target::TARGET_SWITCHES.to_vec();
    all_switches.extend_from_slice(switches);
    let args = Args::parse(argv, &with_value, &all_switches)?;
    logging::init(args.verbose, args.quiet)?;
    Ok(args)
}
