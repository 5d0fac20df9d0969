//! A client that connects once to 127.0.0.1:6379 and pipelines everything there: no sentinel,
//! no fence, no retries. A pipeline is its commands back to back; a transaction is `MULTI`, its
//! commands and `EXEC`, answered with `EXEC`'s reply (or the first error when discarded).

use super::*;
use resp_sentinel_core::sentinel::{CommandError, Input, RequestId};
use resp_sentinel_core::sim::Client;
use std::collections::VecDeque;

/// How a submission is answered.
#[derive(Clone, Copy)]
enum Shape {
    One,
    Batch(usize),
    Transaction(usize),
}

impl Shape {
    fn replies(self) -> usize {
        match self {
            Shape::One => 1,
            Shape::Batch(n) => n,
            Shape::Transaction(n) => n + 2,
        }
    }

    fn finish(self, mut got: Vec<Value>) -> Value {
        match self {
            Shape::One => got.pop().unwrap_or(Value::Null),
            Shape::Batch(_) => Value::Array(got),
            Shape::Transaction(_) => {
                let exec = got.pop().unwrap_or(Value::Null);
                if matches!(&exec, Value::Error(e) if e.starts_with(b"EXECABORT")) {
                    if let Some(e) = got.into_iter().find(|v| matches!(v, Value::Error(_))) {
                        return e;
                    }
                }
                exec
            }
        }
    }
}

#[derive(Default)]
pub struct Naive {
    out: VecDeque<Output>,
    conn: Option<ConnId>,
    open: bool,
    next_conn: u64,
    next_req: u64,
    waiting: VecDeque<(RequestId, Shape, Vec<Value>)>,
    unsent: VecDeque<(RequestId, Shape, Bytes)>,
    buf: BytesMut,
}

impl Naive {
    fn ensure_conn(&mut self) {
        if self.conn.is_none() {
            self.next_conn += 1;
            let conn = ConnId(self.next_conn);
            self.conn = Some(conn);
            self.out.push_back(Output::Connect {
                conn,
                addr: Addr::new("127.0.0.1", 6379),
                kind: PeerKind::Data(Role::Master),
            });
        }
    }

    fn queue(&mut self, shape: Shape, cmds: &[Cmd]) -> RequestId {
        self.next_req += 1;
        let id = RequestId(self.next_req);
        let mut bytes = BytesMut::new();
        for c in cmds {
            bytes.extend_from_slice(&c.to_bytes());
        }
        self.unsent.push_back((id, shape, bytes.freeze()));
        self.ensure_conn();
        self.flush();
        id
    }

    fn flush(&mut self) {
        if let (true, Some(conn)) = (self.open, self.conn) {
            while let Some((id, shape, bytes)) = self.unsent.pop_front() {
                self.out.push_back(Output::Transmit { conn, bytes });
                self.waiting.push_back((id, shape, Vec::new()));
            }
        }
    }

    fn fail_all(&mut self) {
        for (id, ..) in self.waiting.drain(..) {
            self.out.push_back(Output::Reply {
                request: id,
                result: Err(CommandError::ConnectionLost { sent: true }),
            });
        }
        self.conn = None;
        self.open = false;
        self.buf.clear();
    }
}

impl Client for Naive {
    fn submit(&mut self, c: Cmd, _now: Instant) -> RequestId {
        self.queue(Shape::One, &[c])
    }
    fn submit_batch(&mut self, cmds: Vec<Cmd>, _now: Instant) -> RequestId {
        self.queue(Shape::Batch(cmds.len()), &cmds)
    }
    fn submit_transaction(&mut self, cmds: Vec<Cmd>, _now: Instant) -> RequestId {
        let mut all = vec![cmd("MULTI")];
        let n = cmds.len();
        all.extend(cmds);
        all.push(cmd("EXEC"));
        self.queue(Shape::Transaction(n), &all)
    }
    fn handle_input(&mut self, input: Input<'_>, _now: Instant) {
        match input {
            Input::Connected(c) if Some(c) == self.conn => {
                self.open = true;
                self.flush();
            }
            Input::ConnectFailed(c) | Input::Closed(c) if Some(c) == self.conn => {
                self.fail_all();
                self.ensure_conn();
            }
            Input::Received(c, b) if Some(c) == self.conn => {
                self.buf.extend_from_slice(b);
                let mut d = Decoder::new();
                while let Ok(Some(v)) = d.decode(&mut self.buf) {
                    let Some((_, shape, got)) = self.waiting.front_mut() else {
                        continue;
                    };
                    got.push(v);
                    if got.len() == shape.replies() {
                        let (id, shape, got) = self.waiting.pop_front().expect("front");
                        self.out.push_back(Output::Reply {
                            request: id,
                            result: Ok(shape.finish(got)),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
