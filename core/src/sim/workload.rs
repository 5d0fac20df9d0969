//! The workload the driver submits, and what every reply to it must be.
//!
//! Mostly single commands: `INCRBY` of a fresh key (a write whose reply proves it ran once),
//! `GET`s of earlier keys and `ECHO`s. A seeded share of the submissions are units of work:
//! pipelines of 2-5 commands (`INCRBY`s of fresh keys, now and then an `ECHO` among them) and
//! transactions, which add the same number to two fresh keys and increment the shared pair
//! `tx:a` / `tx:b` that only transactions touch, so both must always move together. One
//! transaction in eight is poisoned: its second command has the wrong number of arguments, so
//! every node refuses it at queue time and it must never run.
//!
//! [`judge`] reads a reply against its [`Unit`]: whether it is the unit's own, and what it says
//! of each write the unit holds ([`Fate`]), which the checker holds against what the data
//! nodes ran (see [`invariants`](super::invariants)).

use super::rng::Rng;
use crate::sentinel::CommandError;
use crate::{cmd, Cmd, Value};

/// The pair of counters only transactions touch, each incremented by every transaction.
pub(super) const SHARED: [&str; 2] = ["tx:a", "tx:b"];

/// One command of a unit and what its reply must be.
#[derive(Clone, Debug)]
pub(super) enum Expect {
    /// `INCRBY <key> <by>` on a fresh key: the integer `by`.
    Write {
        /// The key, never written by another command.
        key: String,
        /// The increment, hence the value once it ran once.
        by: u64,
    },
    /// `ECHO <text>`: the same text.
    Echo(String),
    /// `GET w:<j>`: `j` once that write happened, else null.
    Get(u64),
}

/// A submission of the workload and what its reply must be.
#[derive(Clone, Debug)]
pub(super) enum Unit {
    /// One command.
    One(Expect),
    /// A pipeline: an array of its commands' replies, in order.
    Batch(Vec<Expect>),
    /// `MULTI`, `INCRBY x:<i>:a <i>`, `INCRBY x:<i>:b <i>`, `INCR tx:a`, `INCR tx:b`, `EXEC`.
    Transaction(u64),
    /// `MULTI`, `INCRBY x:<i>:a <i>`, `INCRBY x:<i>:b` (one argument short), `EXEC`: discarded.
    Poisoned(u64),
    /// A subscription change a test made on the client itself: any answer, exactly once.
    Subscription,
}

/// What the driver hands the client.
#[derive(Debug)]
pub(super) enum Submission {
    /// `submit`.
    One(Cmd),
    /// `submit_batch`.
    Batch(Vec<Cmd>),
    /// `submit_transaction`.
    Transaction(Vec<Cmd>),
}

/// What a reply (or the error the client gave instead) says of one write of a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Its reply proves it ran.
    Acked,
    /// The answer says it never ran (an error reply, or a client error for work never written).
    NotRun(String),
    /// It may or may not have run (lost with its connection, timed out).
    Unknown,
}

/// How a reply settles its unit.
#[derive(Debug, Default)]
pub(super) struct Verdict {
    /// One per write of the unit (see [`Unit::writes`]), in order.
    pub fates: Vec<Fate>,
    /// Why the reply is not the unit's own, or shows a broken invariant.
    pub wrong: Option<String>,
}

impl Unit {
    /// The fresh keys the unit writes and the value each holds once that write ran once, in
    /// the order the unit sends them.
    pub(super) fn writes(&self) -> Vec<(String, u64)> {
        let one = |e: &Expect| match e {
            Expect::Write { key, by } => Some((key.clone(), *by)),
            _ => None,
        };
        match self {
            Unit::One(e) => one(e).into_iter().collect(),
            Unit::Batch(es) => es.iter().filter_map(one).collect(),
            Unit::Transaction(i) => {
                let [a, b] = tx_keys(*i);
                vec![(a, *i), (b, *i)]
            }
            Unit::Poisoned(i) => vec![(tx_keys(*i)[0].clone(), *i)],
            Unit::Subscription => Vec::new(),
        }
    }

    /// True for a pipeline or a transaction.
    pub(super) fn is_unit_of_work(&self) -> bool {
        !matches!(self, Unit::One(_) | Unit::Subscription)
    }
}

/// The two fresh keys of transaction `i`.
pub(super) fn tx_keys(i: u64) -> [String; 2] {
    [format!("x:{i}:a"), format!("x:{i}:b")]
}

fn incrby(key: String, by: u64) -> (Cmd, Expect) {
    (cmd("INCRBY").arg(&key).arg(by), Expect::Write { key, by })
}

/// The `i`-th submission of the workload, drawn from `rng`: four in five are single commands.
pub(super) fn next(rng: &mut Rng, i: u64) -> (Submission, Unit) {
    let roll = rng.below(100);
    if roll < 50 {
        let (c, e) = incrby(format!("w:{i}"), i);
        (Submission::One(c), Unit::One(e))
    } else if roll < 72 && i > 1 {
        let j = 1 + rng.below(i - 1);
        let c = cmd("GET").arg(format!("w:{j}"));
        (Submission::One(c), Unit::One(Expect::Get(j)))
    } else if roll < 80 {
        let text = format!("e:{i}");
        let c = cmd("ECHO").arg(&text);
        (Submission::One(c), Unit::One(Expect::Echo(text)))
    } else if roll < 90 {
        let n = 2 + rng.below(4);
        let (cmds, expects) = (0..n)
            .map(|k| {
                if rng.chance(1, 5) {
                    let text = format!("e:{i}:{k}");
                    (cmd("ECHO").arg(&text), Expect::Echo(text))
                } else {
                    incrby(format!("p:{i}:{k}"), i)
                }
            })
            .unzip();
        (Submission::Batch(cmds), Unit::Batch(expects))
    } else {
        let [a, b] = tx_keys(i);
        if rng.chance(1, 8) {
            let cmds = vec![cmd("INCRBY").arg(a).arg(i), cmd("INCRBY").arg(b)];
            return (Submission::Transaction(cmds), Unit::Poisoned(i));
        }
        let cmds = vec![
            cmd("INCRBY").arg(a).arg(i),
            cmd("INCRBY").arg(b).arg(i),
            cmd("INCR").arg(SHARED[0]),
            cmd("INCR").arg(SHARED[1]),
        ];
        (Submission::Transaction(cmds), Unit::Transaction(i))
    }
}

/// Client errors the machine gives only to work it never wrote, or wrote and saw refused
/// (what its queue holds; the workload submits nothing idempotent, so nothing lost after it
/// was written is queued again): such work never ran.
pub(super) fn never_ran(e: &CommandError) -> bool {
    matches!(
        e,
        CommandError::ConnectionLost { sent: false }
            | CommandError::FenceTimeout
            | CommandError::QueueFull
            | CommandError::MasterNotFound(_)
            | CommandError::ReplicaNotFound(_)
            | CommandError::Auth(_)
            | CommandError::Rejected(_)
            | CommandError::Unavailable(_)
            | CommandError::DedicatedEnded(_)
    )
}

/// What the client's answer `result` says of `unit`.
pub(super) fn judge(unit: &Unit, result: &Result<Value, CommandError>) -> Verdict {
    let n = unit.writes().len();
    let v = match result {
        Err(e) if never_ran(e) => {
            let fates = vec![Fate::NotRun(format!("failed with {e:?}")); n];
            return Verdict { fates, wrong: None };
        }
        Err(_) => {
            let fates = vec![Fate::Unknown; n];
            return Verdict { fates, wrong: None };
        }
        Ok(v) => v,
    };
    let mut verdict = Verdict::default();
    let refused = |e: &Value| Fate::NotRun(format!("answered {e:?}"));
    match (unit, v) {
        (Unit::Subscription, _) => {}
        (Unit::One(e), v) => {
            if !one(e, v, &mut verdict.fates) {
                verdict.wrong = Some(String::new());
            }
        }
        (Unit::Batch(es), Value::Array(items)) if items.len() == es.len() => {
            for (k, (e, v)) in es.iter().zip(items).enumerate() {
                if !one(e, v, &mut verdict.fates) {
                    verdict.wrong = Some(format!("element {k}"));
                }
            }
        }
        (Unit::Transaction(_) | Unit::Poisoned(_), Value::Error(_)) => {
            verdict.fates = vec![refused(v); n];
        }
        (Unit::Transaction(i), Value::Array(items)) => {
            let ints: Vec<i64> = items
                .iter()
                .filter_map(|v| match v {
                    Value::Integer(n) => Some(*n),
                    _ => None,
                })
                .collect();
            let own = *i as i64;
            match ints[..] {
                [a, b, ta, tb] if items.len() == 4 && a == own && b == own => {
                    verdict.fates = vec![Fate::Acked; 2];
                    if ta != tb {
                        verdict.wrong = Some(format!(
                            "its EXEC saw {} = {ta} but {} = {tb}: the pair only transactions touch was moved apart",
                            SHARED[0], SHARED[1]
                        ));
                    }
                }
                _ => verdict.wrong = Some(String::new()),
            }
        }
        (Unit::Poisoned(_), Value::Array(_)) => {
            verdict.wrong = Some("a transaction refused at queue time ran".into());
        }
        _ => verdict.wrong = Some(String::new()),
    }
    if verdict.wrong.is_some() || verdict.fates.len() != n {
        verdict.fates = vec![Fate::Unknown; n];
        verdict.wrong.get_or_insert_with(String::new);
    }
    verdict
}

/// Judges the reply `v` to one command `e`, adding the fate of its write if it is one; false
/// when the reply is not its own.
fn one(e: &Expect, v: &Value, fates: &mut Vec<Fate>) -> bool {
    match (e, v) {
        (Expect::Write { .. }, Value::Error(_)) => {
            fates.push(Fate::NotRun(format!("answered {v:?}")));
            true
        }
        (Expect::Write { by, .. }, Value::Integer(n)) if *n as u64 == *by => {
            fates.push(Fate::Acked);
            true
        }
        (Expect::Echo(t), Value::Bulk(b)) => b[..] == *t.as_bytes(),
        (Expect::Get(_), Value::Null) => true,
        (Expect::Get(j), Value::Bulk(b)) => b[..] == *j.to_string().as_bytes(),
        (Expect::Echo(_) | Expect::Get(_), Value::Error(_)) => true,
        _ => false,
    }
}
