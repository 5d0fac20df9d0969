//! Runs a subcommand's client on the runtime the user picked.

use crate::admin::{trigger_failover, SentinelConn};
use crate::drill::{self, DrillClient, DrillPlan};
use crate::{parse_args, target, Failure};
use resp_sentinel::core::sentinel::{Addr, Config, Event, Instance};
use resp_sentinel::{blocking, cmd, Error};
use resp_sentinel_core::Value;
use std::process::ExitCode;
use std::time::Duration;

/// `resolve`: the verified master of the service.
pub fn resolve(argv: &[String]) -> Result<ExitCode, Failure> {
    let config = target::config_from(&parse_args(argv, &[], &[])?)?;
    let service = config.service.clone();
    let client = blocking::Sentinel::new(config).master_for(&service);
    client.ping().map_err(|e| format!("{service}: {e}"))?;
    let addr = client
        .master_addr()
        .ok_or_else(|| format!("{service}: no verified master"))?;
    println!("{addr}");
    Ok(ExitCode::SUCCESS)
}

/// `replicas`: what the first answering sentinel knows of the service's replicas.
pub fn replicas(argv: &[String]) -> Result<ExitCode, Failure> {
    let config = target::config_from(&parse_args(argv, &[], &[])?)?;
    let mut why = Vec::new();
    for s in &config.sentinels {
        let reply = SentinelConn::open(s, config.sentinel_auth.as_ref(), config.sentinel_timeout)
            .and_then(|mut c| {
                c.call(&cmd("SENTINEL").arg("REPLICAS").arg(config.service.as_str()))
            });
        match reply {
            Ok(v) => match print_replicas(&v) {
                Ok(()) => return Ok(ExitCode::SUCCESS),
                Err(e) => why.push(format!("{s}: {e}")),
            },
            Err(e) => why.push(format!("{s}: {e}")),
        }
    }
    Err(Failure::Run(format!(
        "no sentinel answered: {}",
        why.join("; ")
    )))
}

/// Prints every replica a sentinel listed and whether clients may read from it, by core's
/// rule ([`Instance::usable`]). A reply that is not a list of replicas is an error.
fn print_replicas(v: &Value) -> Result<(), String> {
    let list = Instance::parse_list(v)?;
    if list.is_empty() {
        println!("(no replicas)");
    }
    for r in list {
        println!(
            "{}  flags={}  master-link-status={}  {}",
            r.addr,
            r.flags,
            if r.link_ok { "ok" } else { "not ok" },
            if r.usable() { "usable" } else { "not usable" }
        );
    }
    Ok(())
}

/// `drill`: the failover drill on the chosen runtime.
pub fn drill(argv: &[String]) -> Result<ExitCode, Failure> {
    let args = parse_args(
        argv,
        &["duration", "failover-at", "runtime", "key"],
        &["no-trigger", "json"],
    )?;
    let config = target::config_from(&args)?;
    let duration = args
        .duration("duration")?
        .unwrap_or(Duration::from_secs(20));
    let failover_at = if args.switch("no-trigger") {
        if args.value("failover-at").is_some() {
            return Err(crate::UsageError(
                "--failover-at and --no-trigger exclude each other".into(),
            )
            .into());
        }
        None
    } else {
        Some(
            args.duration("failover-at")?
                .unwrap_or(Duration::from_secs(5)),
        )
    };
    let runtime = match args.value("runtime").unwrap_or("tokio") {
        "blocking" => "blocking",
        "tokio" => "tokio",
        "async-std" => "async-std",
        "smol" => "smol",
        other => {
            return Err(crate::UsageError(format!(
                "--runtime {other}: expected blocking, tokio, async-std or smol"
            ))
            .into())
        }
    };
    let json = args.switch("json");
    let plan = DrillPlan {
        duration,
        failover_at,
        key: args.value("key").unwrap_or("drill:counter").to_string(),
        progress: !json,
        runtime,
    };
    let (sentinels, auth, service) = (
        config.sentinels.clone(),
        config.sentinel_auth.clone(),
        config.service.clone(),
    );
    let trigger = move || trigger_failover(&sentinels, auth.as_ref(), &service).map(drop);
    let report = run_on(runtime, config, &plan, trigger)?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.acked_lost == 0 && report.ok > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_on(
    runtime: &str,
    config: Config,
    plan: &DrillPlan,
    trigger: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<crate::report::Report, String> {
    let service = config.service.clone();
    match runtime {
        "blocking" => {
            let client = blocking::Sentinel::new(config).master_for(&service);
            let events = client.events();
            let mut c = BlockingDrill { client, events };
            futures_lite::future::block_on(drill::run(&mut c, plan, trigger))
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let client = resp_sentinel::tokio::Sentinel::new(config).master_for(&service);
                drill::run(&mut AsyncDrill::new(client), plan, trigger).await
            })
        }
        "async-std" => async_std::task::block_on(async {
            let client = resp_sentinel::async_std::Sentinel::new(config).master_for(&service);
            drill::run(&mut AsyncDrill::new(client), plan, trigger).await
        }),
        _ => smol::block_on(async {
            let client = resp_sentinel::smol::Sentinel::new(config).master_for(&service);
            drill::run(&mut AsyncDrill::new(client), plan, trigger).await
        }),
    }
}

struct BlockingDrill {
    client: blocking::Client,
    events: blocking::Events,
}

impl DrillClient for BlockingDrill {
    async fn incr(&self, key: &str) -> Result<i64, Error> {
        self.client.incr(key)
    }
    async fn read(&self, key: &str) -> Result<i64, Error> {
        Ok(self.client.get::<i64>(key)?.unwrap_or(0))
    }
    async fn reset(&self, key: &str) -> Result<(), Error> {
        self.client.del(&[key]).map(drop)
    }
    async fn master(&self) -> Option<Addr> {
        self.client.master_addr()
    }
    fn drain_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.try_next()).collect()
    }
}

struct AsyncDrill {
    client: resp_sentinel::Client,
    events: resp_sentinel::Events,
}

impl AsyncDrill {
    fn new(client: resp_sentinel::Client) -> AsyncDrill {
        let events = client.events();
        AsyncDrill { client, events }
    }
}

impl DrillClient for AsyncDrill {
    async fn incr(&self, key: &str) -> Result<i64, Error> {
        self.client.incr(key).await
    }
    async fn read(&self, key: &str) -> Result<i64, Error> {
        Ok(self.client.get::<i64>(key).await?.unwrap_or(0))
    }
    async fn reset(&self, key: &str) -> Result<(), Error> {
        self.client.del(&[key]).await.map(drop)
    }
    async fn master(&self) -> Option<Addr> {
        self.client.master_addr().await
    }
    fn drain_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.events.try_next()).collect()
    }
}
