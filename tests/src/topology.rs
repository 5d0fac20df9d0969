//! A running Sentinel topology of real processes, and the operations tests perform on it.

use crate::admin::{AdminConn, AdminError, Reply};
use crate::config;
use crate::error::HarnessError;
use crate::options::{Credentials, TopologyOptions};
use crate::pki::TlsFiles;
use crate::ports::pick_ports;
use crate::process::{file_tail, find_binary, signal, spawn};
use crate::tempdir::TempDir;
use crate::url::sentinel_url;
use resp_sentinel_core::sentinel::Addr;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Read/write timeout of the harness's own connections while polling.
const POLL_IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Read/write timeout of one-off admin commands.
const ADMIN_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Lines of log quoted in errors.
const TAIL_LINES: usize = 30;

/// Which kind of process a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A `redis-server` holding data (master or replica).
    Data,
    /// A `redis-sentinel`.
    Sentinel,
}

/// What the harness did last to a node's process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Started and not paused.
    Running,
    /// Stopped with SIGSTOP ([`Topology::pause`]).
    Paused,
    /// Killed ([`Topology::kill`]) or exited.
    Stopped,
}

#[derive(Default)]
struct Proc {
    child: Option<Child>,
    paused: bool,
}

struct Node {
    name: String,
    kind: NodeKind,
    addr: Addr,
    conf: PathBuf,
    log: PathBuf,
    out: PathBuf,
    proc: Mutex<Proc>,
}

impl Node {
    fn lock(&self) -> MutexGuard<'_, Proc> {
        self.proc.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn label(&self) -> String {
        format!("{} {}", self.name, self.addr)
    }

    fn socket(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.addr.port))
    }

    /// Redis's own log and whatever the process printed, last lines of each.
    fn tail(&self) -> String {
        let out = file_tail(&self.out, 10);
        let log = file_tail(&self.log, TAIL_LINES);
        match (out.trim().is_empty(), log.trim().is_empty()) {
            (true, _) => log,
            (false, true) => out,
            (false, false) => format!("{out}\n{log}"),
        }
    }

    fn state(&self) -> NodeState {
        let p = self.lock();
        match (&p.child, p.paused) {
            (None, _) => NodeState::Stopped,
            (Some(_), true) => NodeState::Paused,
            (Some(_), false) => NodeState::Running,
        }
    }

    /// Errors when the process died on its own; a port clash is reported as such.
    fn check_alive(&self) -> Result<(), HarnessError> {
        let mut p = self.lock();
        let Some(child) = p.child.as_mut() else {
            return Ok(());
        };
        let status = match child.try_wait() {
            Ok(None) => return Ok(()),
            Ok(Some(s)) => s.to_string(),
            Err(e) => format!("unknown: {e}"),
        };
        p.child = None;
        p.paused = false;
        drop(p);
        let log_tail = self.tail();
        if log_tail.contains("Address already in use") {
            Err(HarnessError::PortInUse {
                node: self.label(),
                log_tail,
            })
        } else {
            Err(HarnessError::ProcessExited {
                node: self.label(),
                status,
                log_tail,
            })
        }
    }
}

/// The outcome of one polling round.
enum Step<T> {
    Done(T),
    Wait { state: String, node: Option<Addr> },
}

fn wait<T>(state: impl Into<String>, node: Option<&Addr>) -> Result<Step<T>, HarnessError> {
    Ok(Step::Wait {
        state: state.into(),
        node: node.cloned(),
    })
}

/// One master, replicas and sentinels, each a real process on its own loopback port, with
/// configs and logs in a temp dir. Dropping it SIGKILLs every process it started (also when a
/// test panics) and removes the temp dir.
///
/// Data nodes are named by address (`kill(&addr)`), sentinels by address or index. Every method
/// takes `&self`, so a topology can be shared between threads (for instance a writer thread and a
/// thread that kills the master).
pub struct Topology {
    opts: TopologyOptions,
    redis_server: PathBuf,
    redis_sentinel: PathBuf,
    data: Vec<Node>,
    sentinels: Vec<Node>,
    /// The certificates and the harness's TLS client, for TLS topologies.
    tls: Option<(TlsFiles, Arc<rustls::ClientConfig>)>,
    // Dropped after `Drop::drop` has killed the processes.
    dir: TempDir,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology")
            .field("service", &self.opts.service_name)
            .field("data", &self.data_addrs())
            .field("sentinels", &self.sentinel_addrs())
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Topology {
    /// Starts the topology and waits until it is ready: every replica linked to the master and
    /// every sentinel agreeing on the master and knowing all replicas and the other sentinels.
    /// Retries on fresh ports when a port turns out to be taken. Fails with
    /// [`HarnessError::MissingBinary`] when Redis is not installed.
    pub fn start(opts: TopologyOptions) -> Result<Topology, HarnessError> {
        opts.validate()?;
        let redis_server = find_binary(&opts.redis_server)?;
        let redis_sentinel = find_binary(&opts.redis_sentinel)?;
        let mut last = None;
        for _ in 0..opts.start_attempts {
            match Topology::start_once(&opts, &redis_server, &redis_sentinel) {
                Ok(t) => return Ok(t),
                Err(e) if e.is_port_collision() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| HarnessError::InvalidState("no start attempt ran".into())))
    }

    fn start_once(
        opts: &TopologyOptions,
        redis_server: &Path,
        redis_sentinel: &Path,
    ) -> Result<Topology, HarnessError> {
        let keep =
            opts.keep_dir || std::env::var_os("RESP_SENTINEL_KEEP_TMP").is_some_and(|v| v == "1");
        let ports = pick_ports(1 + opts.replicas + opts.sentinels)?;
        let dir = TempDir::new(keep)?;
        let tls = match opts.tls {
            Some(_) => {
                let files = TlsFiles::generate(&dir.path().join("tls"))?;
                let client = files.admin_client()?;
                Some((files, client))
            }
            None => None,
        };
        let make = |name: String, kind: NodeKind, port: u16| -> Result<Node, HarnessError> {
            let d = dir.path().join(&name);
            std::fs::create_dir(&d)
                .map_err(|e| HarnessError::io(format!("creating {}", d.display()), e))?;
            let file = if kind == NodeKind::Data {
                "redis"
            } else {
                "sentinel"
            };
            Ok(Node {
                conf: d.join(format!("{file}.conf")),
                log: d.join(format!("{file}.log")),
                out: d.join("stdout.log"),
                name,
                kind,
                addr: Addr::new("127.0.0.1", port),
                proc: Mutex::new(Proc::default()),
            })
        };
        let master_port = ports[0];
        let mut data = Vec::with_capacity(1 + opts.replicas);
        for (i, &port) in ports[..=opts.replicas].iter().enumerate() {
            let node = make(format!("data-{i}"), NodeKind::Data, port)?;
            let of = (i > 0).then_some(master_port);
            let text = config::data_node(opts, port, of, &dir.path().join(&node.name), &node.log);
            write_file(&node.conf, &text)?;
            data.push(node);
        }
        let mut sentinels = Vec::with_capacity(opts.sentinels);
        for (i, &port) in ports[1 + opts.replicas..].iter().enumerate() {
            let node = make(format!("sentinel-{i}"), NodeKind::Sentinel, port)?;
            let text = config::sentinel(
                opts,
                port,
                master_port,
                &dir.path().join(&node.name),
                &node.log,
            );
            write_file(&node.conf, &text)?;
            sentinels.push(node);
        }
        // From here on, `Drop` cleans up whatever was started if a step fails.
        let topo = Topology {
            opts: opts.clone(),
            redis_server: redis_server.to_path_buf(),
            redis_sentinel: redis_sentinel.to_path_buf(),
            data,
            sentinels,
            tls,
            dir,
        };
        for n in &topo.data {
            topo.spawn(n)?;
        }
        topo.wait_answering(&topo.data)?;
        for n in &topo.sentinels {
            topo.spawn(n)?;
        }
        topo.wait_answering(&topo.sentinels)?;
        let master = topo.data[0].addr.clone();
        topo.wait_healthy_for(Some(&master), opts.ready_timeout, "topology ready")?;
        Ok(topo)
    }

    fn spawn(&self, node: &Node) -> Result<(), HarnessError> {
        let bin = match node.kind {
            NodeKind::Data => &self.redis_server,
            NodeKind::Sentinel => &self.redis_sentinel,
        };
        // `--sentinel` is what makes `valkey-server` a sentinel; `redis-sentinel` accepts it too.
        let args: &[&OsStr] = match node.kind {
            NodeKind::Data => &[node.conf.as_os_str()],
            NodeKind::Sentinel => &[node.conf.as_os_str(), OsStr::new("--sentinel")],
        };
        let child = spawn(bin, args, &node.out)?;
        let mut p = node.lock();
        p.child = Some(child);
        p.paused = false;
        Ok(())
    }

    // ----- addresses and configuration -------------------------------------------------

    /// The options the topology was started with.
    pub fn options(&self) -> &TopologyOptions {
        &self.opts
    }

    /// The monitored service (master) name.
    pub fn service_name(&self) -> &str {
        &self.opts.service_name
    }

    /// Addresses of all sentinels, in index order (killed ones included).
    pub fn sentinel_addrs(&self) -> Vec<Addr> {
        self.sentinels.iter().map(|n| n.addr.clone()).collect()
    }

    /// Addresses of all data nodes; the first was the master at start.
    pub fn data_addrs(&self) -> Vec<Addr> {
        self.data.iter().map(|n| n.addr.clone()).collect()
    }

    /// The temp dir holding every node's config and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `redis+sentinel://[user:pass@]127.0.0.1:p1,...,127.0.0.1:pN/<service>` plus
    /// `?sentinel_password=..&sentinel_username=..` when sentinels require auth.
    pub fn url(&self) -> String {
        self.url_with(false)
    }

    /// [`Topology::url`] with passwords replaced by `***`, for printing.
    pub fn url_redacted(&self) -> String {
        self.url_with(true)
    }

    fn url_with(&self, redact: bool) -> String {
        let url = sentinel_url(
            &self.sentinel_addrs(),
            &self.opts.service_name,
            self.opts.data_auth.as_ref(),
            self.opts.sentinel_auth.as_ref(),
            redact,
        );
        let (Some(t), Some(f)) = (self.opts.tls, self.tls_files()) else {
            return url;
        };
        // TLS: the scheme says the data nodes, `sentinel_tls` the sentinels when they differ.
        let mut url = match t.data {
            true => url.replacen("redis+sentinel://", "rediss+sentinel://", 1),
            false => url,
        };
        let path = |p: &Path| crate::url::percent_encode(&p.display().to_string());
        let mut keys = vec![format!("tls_ca_file={}", path(&f.ca))];
        if t.sentinels != t.data {
            keys.push(format!("sentinel_tls={}", t.sentinels));
        }
        if t.auth_clients {
            keys.push(format!("tls_cert_file={}", path(&f.client_cert)));
            keys.push(format!("tls_key_file={}", path(&f.client_key)));
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&keys.join("&"));
        url
    }

    fn node(&self, addr: &Addr) -> Result<&Node, HarnessError> {
        self.data
            .iter()
            .chain(&self.sentinels)
            .find(|n| n.addr.port == addr.port && is_loopback(&n.addr.host, &addr.host))
            .ok_or_else(|| HarnessError::UnknownNode(addr.clone()))
    }

    fn sentinel(&self, i: usize) -> Result<&Node, HarnessError> {
        self.sentinels.get(i).ok_or_else(|| {
            HarnessError::InvalidState(format!(
                "no sentinel {i}: the topology has {}",
                self.sentinels.len()
            ))
        })
    }

    /// Whether `addr` is a data node or a sentinel of this topology.
    pub fn kind(&self, addr: &Addr) -> Result<NodeKind, HarnessError> {
        Ok(self.node(addr)?.kind)
    }

    /// What the harness did last to the node's process.
    pub fn state(&self, addr: &Addr) -> Result<NodeState, HarnessError> {
        Ok(self.node(addr)?.state())
    }

    /// The node's process id while it runs.
    pub fn pid(&self, addr: &Addr) -> Result<Option<u32>, HarnessError> {
        Ok(self.node(addr)?.lock().child.as_ref().map(Child::id))
    }

    /// The node's Redis log file.
    pub fn log_path(&self, addr: &Addr) -> Result<PathBuf, HarnessError> {
        Ok(self.node(addr)?.log.clone())
    }

    /// The last lines of the node's log (and of anything it printed before opening its log).
    pub fn log_tail(&self, addr: &Addr) -> Result<String, HarnessError> {
        Ok(self.node(addr)?.tail())
    }

    // ----- admin commands ---------------------------------------------------------------

    fn credentials(&self, kind: NodeKind) -> Option<&Credentials> {
        match kind {
            NodeKind::Data => self.opts.data_auth.as_ref(),
            NodeKind::Sentinel => self.opts.sentinel_auth.as_ref(),
        }
    }

    /// Whether this kind of node listens on TLS.
    fn speaks_tls(&self, kind: NodeKind) -> bool {
        self.opts.tls.is_some_and(|t| match kind {
            NodeKind::Data => t.data,
            NodeKind::Sentinel => t.sentinels,
        })
    }

    /// The certificate files of a TLS topology.
    pub fn tls_files(&self) -> Option<&TlsFiles> {
        self.tls.as_ref().map(|(f, _)| f)
    }

    fn connect(&self, node: &Node, timeout: Duration) -> Result<AdminConn, AdminError> {
        let mut c = match &self.tls {
            Some((_, client)) if self.speaks_tls(node.kind) => {
                AdminConn::connect_tls(node.socket(), timeout, client.clone())?
            }
            _ => AdminConn::connect(node.socket(), timeout)?,
        };
        if let Some(cr) = self.credentials(node.kind) {
            c.auth(cr.username.as_deref(), &cr.password)?;
        }
        Ok(c)
    }

    fn call_with(
        &self,
        node: &Node,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Reply, AdminError> {
        self.connect(node, timeout)?.call(args)
    }

    /// Opens an admin connection to a node, authenticated with the topology's credentials for
    /// that kind of node.
    pub fn admin_conn(&self, addr: &Addr) -> Result<AdminConn, HarnessError> {
        let node = self.node(addr)?;
        self.connect(node, ADMIN_IO_TIMEOUT)
            .map_err(|e| command_error(addr, "AUTH", e))
    }

    /// Runs one command on a node over RESP (authenticated as needed); an error reply is an
    /// `Err`. The error names only the command, never its arguments.
    pub fn admin(&self, addr: &Addr, args: &[&str]) -> Result<Reply, HarnessError> {
        let node = self.node(addr)?;
        self.call_with(node, args, ADMIN_IO_TIMEOUT)
            .map_err(|e| command_error(addr, args.first().copied().unwrap_or(""), e))
    }

    /// Runs `redis-cli -h 127.0.0.1 -p <port> <args..>` with the node's credentials (the
    /// password goes through `REDISCLI_AUTH`, not the command line) and returns its stdout.
    /// It fails when redis-cli exits non-zero (e.g. cannot connect); an error *reply* is part
    /// of the output, as redis-cli prints it (`ERR ...`): use [`Topology::admin`] for typed
    /// replies.
    pub fn redis_cli(&self, addr: &Addr, args: &[&str]) -> Result<String, HarnessError> {
        let node = self.node(addr)?;
        let bin = find_binary(&self.opts.redis_cli)?;
        let mut c = Command::new(bin);
        c.arg("-h")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(node.addr.port.to_string())
            .arg("--no-auth-warning")
            .stdin(Stdio::null())
            .env_remove("REDISCLI_AUTH");
        if let Some((f, _)) = self.tls.as_ref().filter(|_| self.speaks_tls(node.kind)) {
            c.arg("--tls")
                .arg("--cacert")
                .arg(&f.ca)
                .arg("--cert")
                .arg(&f.client_cert)
                .arg("--key")
                .arg(&f.client_key);
        }
        if let Some(cr) = self.credentials(node.kind) {
            if let Some(u) = &cr.username {
                c.arg("--user").arg(u);
            }
            c.env("REDISCLI_AUTH", &cr.password);
        }
        let out = c
            .args(args)
            .output()
            .map_err(|e| HarnessError::io("running redis-cli", e))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(HarnessError::Command {
                addr: addr.clone(),
                command: args.first().copied().unwrap_or("").to_string(),
                message: format!(
                    "redis-cli {}: {}{}",
                    out.status,
                    stdout.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        Ok(stdout)
    }

    /// The first element of `ROLE` on a node: `master`, `slave` or `sentinel`.
    pub fn role(&self, addr: &Addr) -> Result<String, HarnessError> {
        let r = self.admin(addr, &["ROLE"])?;
        r.as_array()
            .and_then(|a| a.first())
            .and_then(Reply::as_str)
            .map(str::to_string)
            .ok_or_else(|| HarnessError::Command {
                addr: addr.clone(),
                command: "ROLE".into(),
                message: format!("unexpected reply {r:?}"),
            })
    }

    /// `INFO replication` of a data node as key/value pairs (`role`, `master_link_status`...).
    pub fn info_replication(&self, addr: &Addr) -> Result<HashMap<String, String>, HarnessError> {
        let node = self.node(addr)?;
        info_replication(self, node, ADMIN_IO_TIMEOUT).map_err(|e| command_error(addr, "INFO", e))
    }

    /// Reads an integer key on the current master (per the sentinels); a missing key is 0.
    pub fn get_counter(&self, key: &str) -> Result<i64, HarnessError> {
        let m = self.master_addr()?;
        let r = self.admin(&m, &["GET", key])?;
        match r {
            Reply::Nil => Ok(0),
            _ => r.as_int().ok_or_else(|| HarnessError::Command {
                addr: m,
                command: "GET".into(),
                message: "value is not an integer".into(),
            }),
        }
    }

    // ----- sentinel views ---------------------------------------------------------------

    fn ask_master(&self, s: &Node, timeout: Duration) -> Result<Option<Addr>, AdminError> {
        let r = self.call_with(
            s,
            &[
                "SENTINEL",
                "get-master-addr-by-name",
                &self.opts.service_name,
            ],
            timeout,
        )?;
        match &r {
            Reply::Nil => Ok(None),
            Reply::Array(a) if a.len() == 2 => {
                let host = a[0].as_str();
                let port = a[1].as_str().and_then(|p| p.parse::<u16>().ok());
                match (host, port) {
                    (Some(h), Some(p)) => Ok(Some(Addr::new(h, p))),
                    _ => Err(AdminError::Protocol(format!("bad master address {r:?}"))),
                }
            }
            _ => Err(AdminError::Protocol(format!("bad master address {r:?}"))),
        }
    }

    fn live(nodes: &[Node]) -> impl Iterator<Item = &Node> {
        nodes.iter().filter(|n| n.state() == NodeState::Running)
    }

    /// The master address the first answering sentinel reports (killed and paused sentinels
    /// are skipped).
    pub fn master_addr(&self) -> Result<Addr, HarnessError> {
        let mut errors = Vec::new();
        for s in Topology::live(&self.sentinels) {
            match self.ask_master(s, ADMIN_IO_TIMEOUT) {
                Ok(Some(m)) => return Ok(m),
                Ok(None) => errors.push(format!("{}: master unknown", s.label())),
                Err(e) => errors.push(format!("{}: {e}", s.label())),
            }
        }
        Err(HarnessError::InvalidState(format!(
            "no sentinel reported the master of {}: [{}]",
            self.opts.service_name,
            errors.join("; ")
        )))
    }

    /// Every running sentinel's answer to `SENTINEL get-master-addr-by-name`, by sentinel index.
    pub fn master_addr_by_sentinel(&self) -> Vec<(usize, Result<Option<Addr>, HarnessError>)> {
        self.sentinels
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state() == NodeState::Running)
            .map(|(i, s)| {
                let r = self
                    .ask_master(s, ADMIN_IO_TIMEOUT)
                    .map_err(|e| command_error(&s.addr, "SENTINEL", e));
                (i, r)
            })
            .collect()
    }

    // ----- waiting ----------------------------------------------------------------------

    /// Polls `f` until it is done or `timeout` passes; fails at once when a process the harness
    /// believes running has exited.
    fn poll<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut() -> Result<Step<T>, HarnessError>,
    ) -> Result<T, HarnessError> {
        let start = Instant::now();
        let mut interval = Duration::from_millis(20);
        loop {
            for n in self.data.iter().chain(&self.sentinels) {
                n.check_alive()?;
            }
            let (state, node) = match f()? {
                Step::Done(v) => return Ok(v),
                Step::Wait { state, node } => (state, node),
            };
            let waited = start.elapsed();
            if waited >= timeout {
                let log_tail = node
                    .and_then(|a| self.node(&a).ok())
                    .map(|n| format!("({})\n{}", n.label(), n.tail()));
                return Err(HarnessError::Timeout {
                    what: what.to_string(),
                    waited,
                    last: state,
                    log_tail,
                });
            }
            std::thread::sleep(interval.min(timeout - waited));
            interval = (interval * 2).min(Duration::from_millis(200));
        }
    }

    fn wait_answering(&self, nodes: &[Node]) -> Result<(), HarnessError> {
        self.poll("processes to answer PING", self.opts.ready_timeout, || {
            for n in nodes {
                if let Err(e) = self.call_with(n, &["PING"], POLL_IO_TIMEOUT) {
                    return wait(format!("{} does not answer: {e}", n.label()), Some(&n.addr));
                }
            }
            Ok(Step::Done(()))
        })
    }

    /// Waits until the topology is stable and returns the master: all running sentinels agree
    /// on it, it answers `ROLE master`, every other running data node is its replica with the
    /// link up, and every running sentinel lists those replicas as healthy and knows the other
    /// running sentinels.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<Addr, HarnessError> {
        self.wait_healthy_for(None, timeout, "a healthy topology")
    }

    fn wait_healthy_for(
        &self,
        expected: Option<&Addr>,
        timeout: Duration,
        what: &str,
    ) -> Result<Addr, HarnessError> {
        self.poll(what, timeout, || self.check_healthy(expected))
    }

    fn agreed_master(&self) -> Result<Step<Addr>, HarnessError> {
        let mut agreed: Option<(Addr, String)> = None;
        for s in Topology::live(&self.sentinels) {
            let m = match self.ask_master(s, POLL_IO_TIMEOUT) {
                Ok(Some(m)) => m,
                Ok(None) => return wait(format!("{} knows no master", s.label()), Some(&s.addr)),
                Err(e) => return wait(format!("{}: {e}", s.label()), Some(&s.addr)),
            };
            match &agreed {
                Some((a, who)) if *a != m => {
                    return wait(
                        format!("sentinels disagree: {who} says {a}, {} says {m}", s.name),
                        Some(&s.addr),
                    )
                }
                Some(_) => {}
                None => agreed = Some((m, s.name.clone())),
            }
        }
        match agreed {
            Some((m, _)) => Ok(Step::Done(m)),
            None => Err(HarnessError::InvalidState(
                "no sentinel is running".to_string(),
            )),
        }
    }

    fn check_healthy(&self, expected: Option<&Addr>) -> Result<Step<Addr>, HarnessError> {
        let m = match self.agreed_master()? {
            Step::Done(m) => m,
            Step::Wait { state, node } => return Ok(Step::Wait { state, node }),
        };
        if let Some(e) = expected {
            if *e != m {
                return wait(format!("sentinels report master {m}, expected {e}"), None);
            }
        }
        let Some(master) = self.data.iter().find(|n| n.addr == m) else {
            return wait(format!("sentinels report {m}, not a data node here"), None);
        };
        if master.state() != NodeState::Running {
            return wait(format!("master {m} is {:?}", master.state()), Some(&m));
        }
        match self.call_with(master, &["ROLE"], POLL_IO_TIMEOUT) {
            Ok(r) if first_word(&r) == Some("master") => {}
            Ok(r) => return wait(format!("{m} answers ROLE {:?}", first_word(&r)), Some(&m)),
            Err(e) => return wait(format!("ROLE on master {m}: {e}"), Some(&m)),
        }
        let replicas: Vec<&Node> = Topology::live(&self.data).filter(|n| n.addr != m).collect();
        for r in &replicas {
            if let Some(problem) = self.replica_problem(r, &m) {
                return wait(problem, Some(&r.addr));
            }
        }
        let live_sentinels: Vec<&Node> = Topology::live(&self.sentinels).collect();
        for s in &live_sentinels {
            let listed = |sub: &str| {
                self.call_with(
                    s,
                    &["SENTINEL", sub, &self.opts.service_name],
                    POLL_IO_TIMEOUT,
                )
            };
            let known = match listed("replicas") {
                Ok(Reply::Array(v)) => v,
                Ok(r) => return wait(format!("{}: SENTINEL replicas gave {r:?}", s.label()), None),
                Err(e) => return wait(format!("{}: SENTINEL replicas: {e}", s.label()), None),
            };
            for r in &replicas {
                let entry = known.iter().find(|e| port_of(e) == Some(r.addr.port));
                let Some(entry) = entry else {
                    return wait(
                        format!("{} does not list replica {}", s.label(), r.addr),
                        Some(&s.addr),
                    );
                };
                let flags = entry.field("flags").unwrap_or("");
                let link = entry.field("master-link-status").unwrap_or("");
                let of = entry
                    .field("master-port")
                    .and_then(|p| p.parse::<u16>().ok());
                if bad_flags(flags) || link != "ok" || of != Some(m.port) {
                    return wait(
                        format!(
                            "{} sees replica {} with flags {flags}, link {link}, master port {of:?}",
                            s.label(),
                            r.addr
                        ),
                        Some(&s.addr),
                    );
                }
            }
            let peers = match listed("sentinels") {
                Ok(Reply::Array(v)) => v,
                Ok(r) => {
                    return wait(
                        format!("{}: SENTINEL sentinels gave {r:?}", s.label()),
                        None,
                    )
                }
                Err(e) => return wait(format!("{}: SENTINEL sentinels: {e}", s.label()), None),
            };
            for other in live_sentinels.iter().filter(|o| o.addr != s.addr) {
                let entry = peers.iter().find(|e| port_of(e) == Some(other.addr.port));
                let ok = entry.is_some_and(|e| !bad_flags(e.field("flags").unwrap_or("")));
                if !ok {
                    return wait(
                        format!(
                            "{} does not (yet) see sentinel {} as healthy",
                            s.label(),
                            other.addr
                        ),
                        Some(&s.addr),
                    );
                }
            }
        }
        Ok(Step::Done(m))
    }

    /// Why `node` is not yet a linked replica of `master`, or `None` when it is.
    fn replica_problem(&self, node: &Node, master: &Addr) -> Option<String> {
        let info = match info_replication(self, node, POLL_IO_TIMEOUT) {
            Ok(i) => i,
            Err(e) => return Some(format!("INFO on {}: {e}", node.addr)),
        };
        let get = |k: &str| info.get(k).map(String::as_str).unwrap_or("?");
        let of_master = get("master_port").parse::<u16>().ok() == Some(master.port);
        if get("role") != "slave" || get("master_link_status") != "up" || !of_master {
            return Some(format!(
                "{} has role {}, master port {}, link {} (want replica of {master}, link up)",
                node.addr,
                get("role"),
                get("master_port"),
                get("master_link_status")
            ));
        }
        None
    }

    /// Waits until every running sentinel reports a master other than `old` and that node
    /// answers `ROLE master`; returns the new master.
    pub fn wait_for_new_master(&self, old: &Addr, timeout: Duration) -> Result<Addr, HarnessError> {
        let what = format!("a master other than {old}");
        self.poll(&what, timeout, || {
            let m = match self.agreed_master()? {
                Step::Done(m) => m,
                Step::Wait { state, node } => return Ok(Step::Wait { state, node }),
            };
            if m == *old {
                return wait(format!("sentinels still report {m}"), None);
            }
            let Ok(node) = self.node(&m) else {
                return wait(format!("sentinels report {m}, not a node here"), None);
            };
            match self.call_with(node, &["ROLE"], POLL_IO_TIMEOUT) {
                Ok(r) if first_word(&r) == Some("master") => Ok(Step::Done(m)),
                Ok(r) => wait(format!("{m} answers ROLE {:?}", first_word(&r)), Some(&m)),
                Err(e) => wait(format!("ROLE on {m}: {e}"), Some(&m)),
            }
        })
    }

    /// Waits until the data node at `addr` is a replica of the current master (per the
    /// sentinels) with its replication link up.
    pub fn wait_until_replica(&self, addr: &Addr, timeout: Duration) -> Result<(), HarnessError> {
        let node = self.node(addr)?;
        if node.kind != NodeKind::Data {
            return Err(HarnessError::InvalidState(format!("{addr} is a sentinel")));
        }
        let what = format!("{addr} to be a linked replica");
        self.poll(&what, timeout, || {
            if node.state() != NodeState::Running {
                return Err(HarnessError::InvalidState(format!(
                    "{addr} is {:?}; it cannot become a replica",
                    node.state()
                )));
            }
            let m = match self.agreed_master()? {
                Step::Done(m) => m,
                Step::Wait { state, node } => return Ok(Step::Wait { state, node }),
            };
            if m == *addr {
                return wait(format!("sentinels report {addr} as the master"), Some(addr));
            }
            match self.replica_problem(node, &m) {
                Some(p) => wait(p, Some(addr)),
                None => Ok(Step::Done(())),
            }
        })
    }

    // ----- faults -----------------------------------------------------------------------

    /// Asks a running sentinel for `SENTINEL FAILOVER <service>` and returns the master it had
    /// before. While a previous failover is still in progress (`INPROG`) or no replica is yet
    /// eligible (`NOGOODSLAVE`), retries for up to 30 s.
    pub fn failover(&self) -> Result<Addr, HarnessError> {
        self.failover_led_by(None)
    }

    /// Like [`Topology::failover`], but asks sentinel `index`, which then leads the failover and
    /// is the only one to publish its progress events until the others learn the new
    /// configuration (clients listening to a single other sentinel hear of it late).
    pub fn failover_via(&self, index: usize) -> Result<Addr, HarnessError> {
        self.failover_led_by(Some(index))
    }

    /// Like [`Topology::failover`] with `SENTINEL FAILOVER <service> COORDINATED` (Valkey 9.1
    /// and later): the sentinel has the old master hand over with the data-node `FAILOVER TO`
    /// command (writes paused until the replica has caught up) instead of promoting the
    /// replica with `REPLICAOF NO ONE`. Redis answers it with an error.
    pub fn coordinated_failover(&self) -> Result<Addr, HarnessError> {
        self.failover_with(None, &["COORDINATED"])
    }

    fn failover_led_by(&self, index: Option<usize>) -> Result<Addr, HarnessError> {
        self.failover_with(index, &[])
    }

    fn failover_with(&self, index: Option<usize>, extra: &[&str]) -> Result<Addr, HarnessError> {
        let old = self.master_addr()?;
        let name = self.opts.service_name.clone();
        let mut args = vec!["SENTINEL", "FAILOVER", name.as_str()];
        args.extend_from_slice(extra);
        self.poll(
            "a sentinel to accept SENTINEL FAILOVER",
            Duration::from_secs(30),
            || {
                let chosen = match index {
                    Some(i) => self
                        .sentinels
                        .get(i)
                        .filter(|n| n.state() == NodeState::Running),
                    None => Topology::live(&self.sentinels).next(),
                };
                let Some(s) = chosen else {
                    return Err(HarnessError::InvalidState(
                        "the sentinel asked for the failover is not running".into(),
                    ));
                };
                match self.call_with(s, &args, ADMIN_IO_TIMEOUT) {
                    Ok(_) => Ok(Step::Done(())),
                    Err(AdminError::Server(m))
                        if m.starts_with("INPROG") || m.starts_with("NOGOODSLAVE") =>
                    {
                        wait(format!("{} answered {m}", s.label()), Some(&s.addr))
                    }
                    Err(e) => Err(command_error(&s.addr, "SENTINEL FAILOVER", e)),
                }
            },
        )?;
        Ok(old)
    }

    /// SIGKILLs the node's process (data node or sentinel) and reaps it.
    pub fn kill(&self, addr: &Addr) -> Result<(), HarnessError> {
        let node = self.node(addr)?;
        let mut p = node.lock();
        let Some(mut child) = p.child.take() else {
            return Err(HarnessError::InvalidState(format!(
                "{} is not running",
                node.label()
            )));
        };
        p.paused = false;
        let _ = child.kill();
        child
            .wait()
            .map_err(|e| HarnessError::io(format!("reaping {}", node.label()), e))?;
        Ok(())
    }

    /// Freezes the node with SIGSTOP: its port still accepts connections but nothing answers.
    /// A paused sentinel enters TILT mode for 30 s after [`Topology::resume`].
    pub fn pause(&self, addr: &Addr) -> Result<(), HarnessError> {
        self.signal_node(addr, "STOP", true)
    }

    /// Continues a paused node with SIGCONT.
    pub fn resume(&self, addr: &Addr) -> Result<(), HarnessError> {
        self.signal_node(addr, "CONT", false)
    }

    fn signal_node(&self, addr: &Addr, sig: &str, pause: bool) -> Result<(), HarnessError> {
        let node = self.node(addr)?;
        let mut p = node.lock();
        if p.paused == pause {
            return Err(HarnessError::InvalidState(format!(
                "{} is already {}",
                node.label(),
                if pause { "paused" } else { "not paused" }
            )));
        }
        let Some(child) = p.child.as_ref() else {
            return Err(HarnessError::InvalidState(format!(
                "{} is not running",
                node.label()
            )));
        };
        signal(child.id(), sig)?;
        p.paused = pause;
        Ok(())
    }

    /// Starts a killed data node again on its port with its config file (as Sentinel may have
    /// rewritten it) and waits until it answers; Sentinel then reconfigures it as a replica
    /// ([`Topology::wait_until_replica`]).
    pub fn restart(&self, addr: &Addr) -> Result<(), HarnessError> {
        let node = self.node(addr)?;
        self.restart_node(node)
    }

    fn restart_node(&self, node: &Node) -> Result<(), HarnessError> {
        if node.state() != NodeState::Stopped {
            return Err(HarnessError::InvalidState(format!(
                "{} is still running; kill it first",
                node.label()
            )));
        }
        self.spawn(node)?;
        self.wait_answering(std::slice::from_ref(node))
    }

    /// SIGKILLs sentinel `i`.
    pub fn kill_sentinel(&self, i: usize) -> Result<(), HarnessError> {
        let addr = self.sentinel(i)?.addr.clone();
        self.kill(&addr)
    }

    /// Restarts killed sentinel `i` with the config it rewrote (same id, same knowledge, as a
    /// real restart) and waits until it answers and knows a master.
    pub fn restart_sentinel(&self, i: usize) -> Result<(), HarnessError> {
        let node = self.sentinel(i)?;
        self.restart_node(node)?;
        self.poll(
            "the restarted sentinel to know the master",
            self.opts.ready_timeout,
            || match self.ask_master(node, POLL_IO_TIMEOUT) {
                Ok(Some(m)) => Ok(Step::Done(m)),
                Ok(None) => wait(
                    format!("{} knows no master", node.label()),
                    Some(&node.addr),
                ),
                Err(e) => wait(format!("{}: {e}", node.label()), Some(&node.addr)),
            },
        )?;
        Ok(())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for n in self.data.iter().chain(&self.sentinels) {
            let mut p = n.lock();
            if let Some(mut child) = p.child.take() {
                // SIGKILL also ends a SIGSTOPped process.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), HarnessError> {
    std::fs::write(path, text)
        .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))
}

fn is_loopback(a: &str, b: &str) -> bool {
    let lo = |h: &str| matches!(h, "127.0.0.1" | "localhost");
    a == b || (lo(a) && lo(b))
}

fn command_error(addr: &Addr, command: &str, e: AdminError) -> HarnessError {
    HarnessError::Command {
        addr: addr.clone(),
        command: command.to_string(),
        message: e.to_string(),
    }
}

fn first_word(r: &Reply) -> Option<&str> {
    r.as_array()?.first()?.as_str()
}

fn port_of(entry: &Reply) -> Option<u16> {
    entry.field("port")?.parse().ok()
}

/// Flags that make a replica or sentinel unusable in Sentinel's own listing.
fn bad_flags(flags: &str) -> bool {
    flags
        .split(',')
        .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
}

fn info_replication(
    t: &Topology,
    node: &Node,
    timeout: Duration,
) -> Result<HashMap<String, String>, AdminError> {
    let r = t.call_with(node, &["INFO", "replication"], timeout)?;
    let text = r
        .as_str()
        .ok_or_else(|| AdminError::Protocol(format!("INFO gave {r:?}")))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Topology>();
    }

    #[test]
    fn flags_that_disqualify() {
        assert!(!bad_flags("slave"));
        assert!(!bad_flags("sentinel"));
        assert!(bad_flags("slave,s_down"));
        assert!(bad_flags("sentinel,disconnected"));
        assert!(bad_flags("master,s_down,o_down"));
    }

    #[test]
    fn loopback_names_match() {
        assert!(is_loopback("127.0.0.1", "localhost"));
        assert!(is_loopback("::1", "::1"));
        assert!(!is_loopback("127.0.0.1", "10.0.0.1"));
    }

    #[test]
    fn a_taken_port_is_reported_as_a_port_collision() {
        let holder = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = holder.local_addr().unwrap().port();
        let dir = TempDir::new(false).unwrap();
        let node = Node {
            name: "data-0".into(),
            kind: NodeKind::Data,
            addr: Addr::new("127.0.0.1", port),
            conf: dir.path().join("redis.conf"),
            log: dir.path().join("redis.log"),
            out: dir.path().join("stdout.log"),
            proc: Mutex::new(Proc::default()),
        };
        let opts = TopologyOptions::default();
        write_file(
            &node.conf,
            &config::data_node(&opts, port, None, dir.path(), &node.log),
        )
        .unwrap();
        let bin = find_binary(&opts.redis_server).unwrap_or_else(|e| panic!("{e}"));
        let child = spawn(&bin, &[node.conf.as_os_str()], &node.out).unwrap();
        node.lock().child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let err = loop {
            if let Err(e) = node.check_alive() {
                break e;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server kept running on a taken port"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(err.is_port_collision(), "{err}");
        assert!(err.to_string().contains("Address already in use"), "{err}");
        assert_eq!(node.state(), NodeState::Stopped);
    }

    #[test]
    fn missing_binaries_fail_start_with_their_name() {
        let o = TopologyOptions {
            redis_sentinel: PathBuf::from("/nonexistent/redis-sentinel"),
            ..TopologyOptions::default()
        };
        let e = Topology::start(o).unwrap_err();
        assert!(matches!(e, HarnessError::MissingBinary { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/redis-sentinel"), "{e}");
    }
}
