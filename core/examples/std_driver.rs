//! Drives the Sans-IO [`Machine`] with nothing but `std`: blocking sockets, one thread per
//! connection and an `mpsc` channel. It finds the master of a service through Sentinel, runs
//! `PING`, `SET`, `GET` and `INCR` on it, prints the replies and the master, and exits.
//!
//! ```text
//! cargo run -p resp-sentinel-core --example std_driver -- 127.0.0.1:26379 mymaster
//! cargo run -p resp-sentinel-core --example std_driver -- h1:26379,h2:26379 h3:26379 mymaster
//! ```
//!
//! Set `REDIS_PASSWORD` if the data nodes require a password and `SENTINEL_PASSWORD` if the
//! sentinels do.
//!
//! The machine never touches a socket or a clock. Its driver (this program) does, and follows
//! one rule: **after every input (`handle_input`, `handle_timeout`, `submit`), drain
//! `poll_output()` until it returns `None`, performing each output, then re-read
//! `poll_timeout()`**: any input may change what the machine wants done and when it next wants
//! to be woken. The loop is:
//!
//! 1. perform every output: `Connect`, `Transmit`, `Close` act on sockets; `Reply`, `Event`,
//!    `Message`, `Push` are for the user;
//! 2. wait for the first of (something happened on a connection, the `poll_timeout()` deadline);
//! 3. feed it back: `handle_input(Input::Connected | ConnectFailed | Received | Closed, now)`,
//!    or `handle_timeout(now)`; go to 1.
//!
//! The real adapters in the `resp-sentinel` crate do exactly this (`adapters/src/driver.rs`
//! performs the outputs; `adapters/src/blocking.rs` and `adapters/src/runtime/` wait on threads
//! or on an async runtime), plus routing replies back to the callers that asked.
//!
//! Design: each connection gets one thread, which connects, then reads forever and sends what
//! it sees (connected, bytes, closed) into a single channel. The main thread owns the machine
//! and the writing half of every socket, so it is the only place that decides anything; it
//! waits on the channel with `recv_timeout` up to the machine's next deadline. (`std` cannot wait
//! on many non-blocking sockets at once without an OS-specific poll API; threads keep this
//! portable and obvious. An event loop such as mio or a runtime replaces steps 2 and 3.)

use resp_sentinel_core::sentinel::{
    Addr, Config, ConnId, Credentials, Event, Input, Machine, Output, RequestId,
};
use resp_sentinel_core::{cmd, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

/// The whole run (discovery, connection, four commands) must finish within this.
const GIVE_UP_AFTER: Duration = Duration::from_secs(20);

/// The key and value of the `SET` / `GET` round trip.
const KEY: &str = "std_driver:greeting";
const VALUE: &str = "hello from the Sans-IO core";
/// The key `INCR` increments.
const COUNTER: &str = "std_driver:counter";

const USAGE: &str = "usage: std_driver <sentinel host:port>[,<host:port>...]... <service>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (sentinels, service) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(why) => {
            eprintln!("std_driver: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(sentinels, service) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("std_driver: error: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Every argument but the last is a sentinel address (comma-separated lists allowed, as in
/// `RESP_SENTINEL_SENTINELS`); the last one is the service name.
fn parse_args(args: &[String]) -> Result<(Vec<Addr>, String), String> {
    let Some((service, addrs)) = args.split_last() else {
        return Err("missing arguments".into());
    };
    let mut sentinels = Vec::new();
    for addr in addrs
        .iter()
        .flat_map(|a| a.split(','))
        .filter(|a| !a.is_empty())
    {
        sentinels.push(addr.parse::<Addr>().map_err(|e| e.to_string())?);
    }
    if sentinels.is_empty() {
        return Err("give at least one sentinel address and a service name".into());
    }
    Ok((sentinels, service.clone()))
}

/// What a connection thread reports to the main thread.
enum NetEvent {
    /// Connected; this is the writing half of the socket (the thread keeps the reading half).
    Connected(ConnId, TcpStream),
    /// Could not connect.
    ConnectFailed(ConnId, std::io::Error),
    /// Bytes arrived.
    Received(ConnId, Vec<u8>),
    /// End of stream or a read error.
    Closed(ConnId),
}

/// The driver's view of a connection the machine asked for.
enum Link {
    /// Its thread is still connecting.
    Opening,
    /// Connected: the writing half.
    Open(TcpStream),
}

fn run(sentinels: Vec<Addr>, service: String) -> Result<(), String> {
    let start = Instant::now();
    let give_up = start + GIVE_UP_AFTER;

    let mut config = Config::new(sentinels, service);
    if let Ok(pw) = std::env::var("REDIS_PASSWORD") {
        config.auth = Some(Credentials::password(pw));
    }
    if let Ok(pw) = std::env::var("SENTINEL_PASSWORD") {
        config.sentinel_auth = Some(Credentials::password(pw));
    }
    // The machine also enforces this (a connection not open in time is given up through
    // `handle_timeout`); the socket's own timeout only keeps connect threads from lingering.
    let connect_timeout = config.connect_timeout;

    // The machine starts asking sentinels at once: its first outputs are `Connect`s.
    let mut machine = Machine::new(config, start);

    // Commands may be submitted right away: the machine queues them until it has found the
    // master and verified it with `ROLE`, then writes them in order on one connection. Each
    // reply comes back as an `Output::Reply` carrying the `RequestId` returned here.
    let now = Instant::now();
    let mut pending: HashMap<RequestId, String> = HashMap::new();
    for (label, command) in [
        ("PING".to_string(), cmd("PING")),
        (format!("SET {KEY}"), cmd("SET").arg(KEY).arg(VALUE)),
        (format!("GET {KEY}"), cmd("GET").arg(KEY)),
        (format!("INCR {COUNTER}"), cmd("INCR").arg(COUNTER)),
    ] {
        let id = machine.submit(command, now);
        pending.insert(id, label);
    }

    // Every connection thread sends into `tx`; the main thread alone reads `rx`.
    let (tx, rx): (Sender<NetEvent>, Receiver<NetEvent>) = mpsc::channel();
    let mut links: HashMap<ConnId, Link> = HashMap::new();

    loop {
        // 1. Perform everything the machine asked for. Some outputs are inputs in disguise
        // (a failed write is a closed connection), so this may feed the machine too; the
        // `while let` keeps draining until it has nothing left.
        while let Some(output) = machine.poll_output() {
            match output {
                Output::Connect { conn, addr, kind } => {
                    println!("connect {conn:?} to {addr} ({kind:?})");
                    links.insert(conn, Link::Opening);
                    open(conn, addr, connect_timeout, tx.clone());
                }
                Output::Transmit { conn, bytes } => {
                    // The machine writes only to connections it was told are open; bytes for
                    // one that has since failed are dropped (as in adapters/src/driver.rs).
                    let Some(Link::Open(stream)) = links.get_mut(&conn) else {
                        continue;
                    };
                    if stream.write_all(&bytes).is_err() {
                        // A failed write ends the connection: report it as a read error would.
                        let _ = stream.shutdown(Shutdown::Both);
                        links.remove(&conn);
                        machine.handle_input(Input::Closed(conn), Instant::now());
                    }
                }
                Output::Close { conn } => {
                    // No input about `conn` is expected after this. Dropping our half is not
                    // enough (the reader thread holds a clone of the socket): shutting it down
                    // closes the TCP connection and ends the reader's blocking `read`.
                    if let Some(Link::Open(stream)) = links.remove(&conn) {
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                }
                Output::Reply { request, result } => {
                    let label = pending.remove(&request).unwrap_or_else(|| "?".into());
                    match result {
                        // An error reply (`-ERR ...`) is the server's answer, so it comes as
                        // `Ok(Value::Error)`; `Err` means there is no answer at all (no master
                        // found, timeout, connection lost after sending...).
                        Ok(Value::Error(e)) => {
                            return Err(format!("{label}: server replied {}", lossy(&e)));
                        }
                        Ok(value) => println!("{label} -> {}", show(&value)),
                        Err(e) => return Err(format!("{label}: {e}")),
                    }
                }
                Output::Event(event) => {
                    println!("event: {}", describe(&event));
                }
                Output::Message(message) => println!("message: {message:?}"),
                Output::Push(frame) => println!("push: {frame:?}"),
                // `Output` is #[non_exhaustive]: a newer core may add outputs this driver does
                // not know. None of today's needs performing, so ignoring is safe.
                _ => {}
            }
        }

        // All four replies are in: we are done.
        if pending.is_empty() {
            break;
        }

        // 2. Wait for the first of: a connection thread reports something, the machine's next
        // deadline, our own overall deadline.
        let now = Instant::now();
        if now >= give_up {
            return Err(format!(
                "gave up after {GIVE_UP_AFTER:?} with {} replies outstanding",
                pending.len()
            ));
        }
        let wake_at = machine.poll_timeout().map_or(give_up, |t| t.min(give_up));
        let event = match rx.recv_timeout(wake_at.saturating_duration_since(now)) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            // Cannot happen: `tx` lives in this function.
            Err(RecvTimeoutError::Disconnected) => return Err("channel closed".into()),
        };

        // 3. Feed what happened back in, with the time it happened.
        let now = Instant::now();
        if let Some(event) = event {
            feed(&mut machine, &mut links, event, now);
        }
        // The deadline may have passed too, also when bytes woke us: a busy connection must not
        // starve the timers. (`handle_timeout` acts only on what is due at `now`.)
        if machine.poll_timeout().is_some_and(|t| t <= now) {
            machine.handle_timeout(now);
        }
    }

    match machine.current_master() {
        Some(master) => println!("master: {master}"),
        None => return Err("every command was answered, yet no master is known".into()),
    }

    // Shut down: the machine fails anything outstanding and asks to close every connection.
    machine.close();
    while let Some(output) = machine.poll_output() {
        if let Output::Close { conn } = output {
            if let Some(Link::Open(stream)) = links.remove(&conn) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
    println!("done in {:?}", start.elapsed());
    Ok(())
}

/// Turns one report of a connection thread into an input, ignoring reports about connections
/// the machine already closed (it said it expects nothing more about them).
fn feed(machine: &mut Machine, links: &mut HashMap<ConnId, Link>, event: NetEvent, now: Instant) {
    match event {
        NetEvent::Connected(conn, stream) => match links.get_mut(&conn) {
            Some(link @ Link::Opening) => {
                *link = Link::Open(stream);
                machine.handle_input(Input::Connected(conn), now);
            }
            // Closed by the machine while connecting (e.g. its connect timeout): hang up.
            _ => {
                let _ = stream.shutdown(Shutdown::Both);
            }
        },
        NetEvent::ConnectFailed(conn, error) => {
            if links.remove(&conn).is_some() {
                println!("connect {conn:?} failed: {error}");
                machine.handle_input(Input::ConnectFailed(conn), now);
            }
        }
        NetEvent::Received(conn, bytes) => {
            if let Some(Link::Open(_)) = links.get(&conn) {
                machine.handle_input(Input::Received(conn, &bytes), now);
            }
        }
        NetEvent::Closed(conn) => {
            if let Some(Link::Open(_)) = links.remove(&conn) {
                machine.handle_input(Input::Closed(conn), now);
            }
        }
    }
}

/// Starts the thread of one connection: connect, hand the writing half to the main thread, then
/// read until the stream ends. It never touches the machine; it only reports.
fn open(conn: ConnId, addr: Addr, timeout: Duration, tx: Sender<NetEvent>) {
    thread::spawn(move || {
        let stream = match connect(&addr, timeout) {
            Ok(stream) => stream,
            Err(e) => {
                let _ = tx.send(NetEvent::ConnectFailed(conn, e));
                return;
            }
        };
        let writer = match stream.try_clone() {
            Ok(writer) => writer,
            Err(e) => {
                let _ = tx.send(NetEvent::ConnectFailed(conn, e));
                return;
            }
        };
        if tx.send(NetEvent::Connected(conn, writer)).is_err() {
            return;
        }
        read_until_closed(conn, stream, &tx);
    });
}

/// `TcpStream::connect_timeout` needs a resolved address: try each one the host resolves to.
fn connect(addr: &Addr, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address resolved");
    for socket_addr in (addr.host.as_str(), addr.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&socket_addr, timeout) {
            Ok(stream) => {
                // Commands are small and latency matters: no Nagle delay.
                stream.set_nodelay(true)?;
                // Writes happen on the main thread; a peer that stops reading must not block it
                // for ever (a real adapter writes from a task or thread of its own).
                stream.set_write_timeout(Some(Duration::from_secs(5)))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn read_until_closed(conn: ConnId, mut stream: TcpStream, tx: &Sender<NetEvent>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // The machine may be given any chunking of the stream: it buffers and decodes.
                if tx
                    .send(NetEvent::Received(conn, buf[..n].to_vec()))
                    .is_err()
                {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = tx.send(NetEvent::Closed(conn));
}

/// A reply as one line of text.
fn show(value: &Value) -> String {
    match value {
        Value::Null => "(nil)".into(),
        Value::Integer(n) => n.to_string(),
        other => match other.as_str() {
            Some(text) => text.to_string(),
            None => format!("{other:?}"),
        },
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An event as one line; the ones about the master are spelled out, the rest as `Debug`.
fn describe(event: &Event) -> String {
    match event {
        Event::MasterChanged { old: None, new } => format!("master is {new}"),
        Event::MasterChanged {
            old: Some(old),
            new,
        } => format!("master moved {old} -> {new}"),
        Event::Connecting { addr, role, .. } => format!("connecting to {addr}, expecting {role:?}"),
        Event::Ready { addr, role, .. } => format!("{addr} verified as {role:?}, ready"),
        other => format!("{other:?}"),
    }
}
