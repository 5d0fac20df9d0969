//! A scripted client: raw outputs in, decoded replies out. Verifies the world before trusting
//! it.

use super::*;

pub struct Scripted {
    pub world: World,
    pub now: Instant,
    pub next: u64,
    pub bufs: BTreeMap<ConnId, BytesMut>,
    pub replies: BTreeMap<ConnId, Vec<Value>>,
    pub closed: Vec<ConnId>,
    pub failed: Vec<ConnId>,
    pub reveals: Vec<Addr>,
    /// Messages received, all connections.
    pub received: usize,
}

impl Scripted {
    pub fn new(spec: WorldSpec, seed: u64) -> Scripted {
        let now = Instant::now();
        Scripted {
            world: World::new(spec, seed, now),
            now,
            next: 0,
            bufs: BTreeMap::new(),
            replies: BTreeMap::new(),
            closed: Vec::new(),
            failed: Vec::new(),
            reveals: Vec::new(),
            received: 0,
        }
    }

    pub fn connect(&mut self, port: u16) -> ConnId {
        self.next += 1;
        let conn = ConnId(self.next);
        let kind = if port >= 26379 {
            PeerKind::Sentinel
        } else {
            PeerKind::Data(Role::Master)
        };
        self.world
            .on_output(&Output::Connect {
                conn,
                addr: Addr::new("127.0.0.1", port),
                kind,
            })
            .unwrap();
        self.run(Duration::from_millis(20));
        conn
    }

    pub fn send(&mut self, conn: ConnId, c: Cmd) {
        self.world
            .on_output(&Output::Transmit {
                conn,
                bytes: c.to_bytes(),
            })
            .unwrap();
    }

    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = self.world.next_event_at().filter(|t| *t <= end);
            let t = next.unwrap_or(end);
            self.now = t;
            for del in self.world.advance(t) {
                match del {
                    Delivery::Connected(_) => {}
                    Delivery::ConnectFailed(c) => self.failed.push(c),
                    Delivery::Closed(c) => self.closed.push(c),
                    Delivery::Received {
                        conn,
                        bytes,
                        reveals_not_master,
                    } => {
                        self.reveals.extend(reveals_not_master);
                        self.received += 1;
                        let buf = self.bufs.entry(conn).or_default();
                        buf.extend_from_slice(&bytes);
                        let mut dec = Decoder::new();
                        while let Some(v) = dec.decode(buf).expect("world sends valid RESP") {
                            self.replies.entry(conn).or_default().push(v);
                        }
                    }
                }
            }
            if next.is_none() {
                break;
            }
        }
    }

    /// Sends `c`, runs 20 ms, returns the last reply on `conn`.
    pub fn call(&mut self, conn: ConnId, c: Cmd) -> Value {
        self.send(conn, c);
        self.run(Duration::from_millis(20));
        self.replies
            .get_mut(&conn)
            .and_then(|r| r.pop())
            .expect("a reply")
    }
}
