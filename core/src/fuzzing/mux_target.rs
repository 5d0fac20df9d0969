//! The `mux` target: a [`SentinelMux`] driven by arbitrary steps (members joining, writing and
//! leaving; connections opening, receiving arbitrary bytes and closing). It must never panic,
//! never output for a connection it did not open or a member it does not hold, never close a
//! connection twice, and keep its counts true.

use crate::resp::Limits;
use crate::sentinel::{Addr, ConnId, Input, MemberId, MuxOutput, Output, PeerKind, SentinelMux};
use std::collections::BTreeSet;

/// Byte snippets the steps write or deliver (by index), so short inputs reach deep states.
const SNIPPETS: &[&[u8]] = &[
    b"*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$3\r\nsvc\r\n",
    b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n",
    b"*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\n+switch-master\r\n",
    b"*2\r\n$4\r\nAUTH\r\n$5\r\nother\r\n",
    b"*2\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n",
    b"+OK\r\n",
    b"-WRONGPASS invalid\r\n",
    b"*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n",
    b"*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$31\r\nsvc 10.0.0.1 6379 10.0.0.2 6379\r\n",
    b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n",
    b"*4294967295\r\n",
    b"\x00\xffnot resp",
];

/// Drives a mux with the steps `data` encodes: each step is three bytes, an opcode (`% 10`:
/// 0 a member opens a query connection, 1 a notice connection, 2 writes a snippet, 3 leaves,
/// 4 a connection opens, 5 receives a snippet, 6 half a snippet, 7 closes, 8 receives the
/// step's own bytes, 9 a member writes half a snippet), the member or connection (`a`), and
/// the snippet or sentinel (`b`).
pub fn mux(data: &[u8]) {
    let mut x = SentinelMux::new(Limits {
        max_frame_len: 256,
        ..Limits::default()
    });
    let mut opened = BTreeSet::new();
    let mut live_conns = BTreeSet::new();
    let mut members = BTreeSet::new();
    for step in data.chunks(3) {
        let op = step[0];
        let a = step.get(1).copied().unwrap_or(0);
        let b = step.get(2).copied().unwrap_or(0);
        let member = MemberId(u64::from(a % 6));
        let conn = ConnId(u64::from(a % 8) + 1);
        let snippet = SNIPPETS[usize::from(b) % SNIPPETS.len()];
        match op % 10 {
            0 | 1 => {
                let kind = if op % 10 == 0 {
                    PeerKind::Sentinel
                } else {
                    PeerKind::SentinelSubscriber
                };
                let port = 26379 + u16::from(b % 2);
                x.open(member, Addr::new("127.0.0.1", port), kind);
                members.insert(member);
            }
            2 => x.transmit(member, snippet),
            3 => {
                x.close(member);
                members.remove(&member);
            }
            4 => x.handle_input(Input::Connected(conn)),
            5 => x.handle_input(Input::Received(conn, snippet)),
            6 => x.handle_input(Input::Received(conn, &snippet[..snippet.len() / 2])),
            7 => {
                x.handle_input(Input::Closed(conn));
                live_conns.remove(&conn);
            }
            8 => x.handle_input(Input::Received(conn, step)),
            _ => x.transmit(member, &snippet[..snippet.len() / 2]),
        }
        while let Some(out) = x.poll_output() {
            match out {
                MuxOutput::Conn(Output::Connect { conn, .. }) => {
                    assert!(opened.insert(conn), "connection id reused");
                    live_conns.insert(conn);
                }
                MuxOutput::Conn(Output::Transmit { conn, .. }) => {
                    assert!(live_conns.contains(&conn), "write to a closed connection");
                }
                MuxOutput::Conn(Output::Close { conn }) => {
                    assert!(live_conns.remove(&conn), "closed twice or never opened");
                }
                MuxOutput::Connected { member, .. } | MuxOutput::Received { member, .. } => {
                    assert!(members.contains(&member), "output for a member that left");
                }
                MuxOutput::ConnectFailed { member, .. } | MuxOutput::Closed { member, .. } => {
                    assert!(members.remove(&member), "a member ended twice");
                }
                other => panic!("not a mux output: {other:?}"),
            }
        }
        assert_eq!(x.members(), members.len());
        assert_eq!(x.connections(), live_conns.len());
    }
}
