//! Runs a subcommand's client on the runtime the user picked.

use crate::admin::{trigger_failover, Access, SentinelConn};
use crate::drill::{self, DrillClient, DrillPlan};
use crate::escape::escape;
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
    let (sentinels, timeout) = (config.sentinels.clone(), config.command_timeout);
    let client = blocking::Sentinel::new(config).master_for(&service);
    let failed = |why: String| {
        format!(
            "cannot resolve the master of `{service}`: {}",
            name_sentinels(why, &sentinels)
        )
    };
    client
        .ping()
        .map_err(|e| failed(client_error(&e, timeout)))?;
    let addr = client
        .master_addr()
        .ok_or_else(|| failed("no verified master".into()))?;
    println!("{}", escape(&addr.to_string()));
    Ok(ExitCode::SUCCESS)
}

/// A client error in words: a timeout says how long it waited.
fn client_error(e: &Error, timeout: Duration) -> String {
    match e {
        Error::Timeout => format!("timed out after {} ms", timeout.as_millis()),
        e => e.to_string(),
    }
}

/// `text`, followed by the sentinels asked unless it names one of them already.
fn name_sentinels(text: String, sentinels: &[Addr]) -> String {
    if sentinels.iter().any(|s| text.contains(&s.to_string())) {
        return text;
    }
    let list: Vec<String> = sentinels.iter().map(Addr::to_string).collect();
    format!("{text} (sentinels asked: {})", list.join(", "))
}

/// `replicas`: what the first answering sentinel knows of the service's replicas.
pub fn replicas(argv: &[String]) -> Result<ExitCode, Failure> {
    let config = target::config_from(&parse_args(argv, &[], &[])?)?;
    let mut why = Vec::new();
    for s in &config.sentinels {
        let reply = SentinelConn::open(s, &Access::of(&config), config.sentinel_timeout)
            .and_then(|mut c| c.call(&cmd("SENTINEL").arg("REPLICAS").arg(config.service.as_str())))
            .and_then(|v| {
                replica_list(&v).map_err(|e| format!("sentinel {s} sent a bad replica list: {e}"))
            });
        match reply {
            Ok(list) => {
                print_replicas(&list);
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => {
                tracing::info!("{e}");
                why.push(e);
            }
        }
    }
    Err(Failure::Run(format!(
        "no sentinel listed the replicas of `{}`: {}",
        config.service,
        why.join("; ")
    )))
}

/// The replicas of a `SENTINEL REPLICAS` reply. A reply that is not a list, or has an entry
/// that is not a replica (no ip and port), is an error.
fn replica_list(v: &Value) -> Result<Vec<Instance>, String> {
    let list = Instance::parse_list(v)?;
    let entries = match v {
        Value::Array(a) | Value::Set(a) | Value::Push(a) => a.len(),
        _ => list.len(),
    };
    if list.len() != entries {
        return Err(format!(
            "{} of its {entries} entries are not replicas",
            entries - list.len()
        ));
    }
    Ok(list)
}

/// Prints every replica and whether clients may read from it, by core's rule
/// ([`Instance::usable`]); server text is escaped.
fn print_replicas(list: &[Instance]) {
    if list.is_empty() {
        println!("(no replicas)");
    }
    for r in list {
        println!(
            "{}  flags={}  master-link-status={}  {}",
            escape(&r.addr.to_string()),
            escape(&r.flags),
            if r.link_ok { "ok" } else { "not ok" },
            if r.usable() { "usable" } else { "not usable" }
        );
    }
}

/// `drill`: the failover drill on the chosen runtime.
pub fn drill(argv: &[String]) -> Result<ExitCode, Failure> {
    let args = parse_args(
        argv,
        &["duration", "failover-at", "runtime", "key"],
        &["no-trigger", "coordinated", "json"],
    )?;
    let config = target::config_from(&args)?;
    let coordinated = args.switch("coordinated");
    if coordinated && args.switch("no-trigger") {
        return Err(
            crate::UsageError("--coordinated and --no-trigger exclude each other".into()).into(),
        );
    }
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
    let (sentinels, access, service) = (
        config.sentinels.clone(),
        Access::of(&config),
        config.service.clone(),
    );
    let asked = sentinels.clone();
    let trigger = move || trigger_failover(&sentinels, &access, &service, coordinated).map(drop);
    let report = run_on(runtime, config, &plan, trigger)
        .map_err(|e| format!("drill: {}", name_sentinels(e, &asked)))?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.ok == 0 {
        let why = report
            .last_error
            .as_deref()
            .unwrap_or("no write was attempted");
        eprintln!(
            "resp-sentinel: drill: no write was acknowledged; last error: {}",
            escape(why)
        );
    } else if report.acked_lost > 0 {
        eprintln!(
            "resp-sentinel: drill: {} acknowledged writes lost",
            report.acked_lost
        );
    }
    // A drill whose failover never happened did not test what it was asked to.
    if let Some(e) = &report.trigger_error {
        eprintln!(
            "resp-sentinel: drill: the failover was not triggered: {}",
            escape(e)
        );
    }
    Ok(
        if report.acked_lost == 0 && report.ok > 0 && report.trigger_error.is_none() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
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
