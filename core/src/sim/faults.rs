//! Fault injection: the [`Fault`]s a schedule can fire (operator actions included), which node
//! a fault hits ([`NodeSel`]), applying a fault to the world when it fires, and undoing the
//! timed ones when their time is up.

use super::network::Target;
use super::node::NodeRole;
use super::sentinel::Behavior;
use super::session::Session;
use super::world::{Ev, World, HOST};
use crate::sentinel::{Addr, ConnId};
use std::time::Duration;

/// Which data node a fault hits, resolved when the fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeSel {
    /// Whatever node is the master at that moment.
    CurrentMaster,
    /// One of the current master's replicas (`pick` modulo their number).
    Replica(usize),
    /// A node by index (0 is the initial master).
    Index(usize),
}

/// A fault or operator action, fired at a scheduled time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `SENTINEL FAILOVER` on sentinel `leader`: a real failover with Redis' event sequence.
    ForcedFailover {
        /// Index of the sentinel that runs it.
        leader: usize,
    },
    /// A forced failover whose leader stalls (as in Sentinel's TILT mode) for `stall` right
    /// after announcing the selected replica and before `REPLICAOF NO ONE`; its
    /// `SENTINEL MASTER` entry keeps saying `failover_in_progress` / `send_slaveof_noone`
    /// meanwhile, then it carries on.
    StalledFailover {
        /// Index of the sentinel that runs it.
        leader: usize,
        /// How long it stalls.
        stall: Duration,
    },
    /// The node closes every client connection (e.g. `CLIENT KILL`, restart of the proxy).
    DropConnections(NodeSel),
    /// Sentinel `index` closes every client connection.
    DropSentinelConnections(usize),
    /// One open client connection, chosen by `pick`, is reset.
    DropOneConnection {
        /// Chooses the connection among open ones.
        pick: u64,
    },
    /// Connection attempts to the node are refused for a while.
    RefuseConnects(NodeSel, Duration),
    /// Nothing passes between client and node for a while (held, then delivered, like TCP).
    Partition(NodeSel, Duration),
    /// Partition between the client and sentinel `index`.
    PartitionSentinel(usize, Duration),
    /// The node stops processing (SIGSTOP); a paused master longer than `down_after` fails
    /// over automatically.
    Pause(NodeSel, Duration),
    /// Replies from the node take `extra` longer for a while.
    Slow(NodeSel, Duration, Duration),
    /// Sentinel `index` answers address queries per `Behavior` for a while.
    Sentinel(usize, Behavior, Duration),
    /// Sentinel `index` is down (connections closed and refused) for a while.
    SentinelDown(usize, Duration),
    /// Every sentinel is down for a while.
    AllSentinelsDown(Duration),
    /// The master becomes a replica of an unreachable host (keeps data, `-READONLY`), then
    /// master again.
    MasterTurnsReplica(Duration),
    /// The node answers `-LOADING` for a while.
    Loading(NodeSel, Duration),
    /// Another client publishes `message` on `channel` through the node.
    Publish(NodeSel, String, String),
}

/// The end of a timed fault, scheduled when it fires.
#[derive(Clone, Debug)]
pub(super) enum Heal {
    /// Connects to the address are accepted again.
    Refuse(Addr),
    /// Traffic to and from the address flows again.
    Partition(Addr),
    /// The address answers at normal speed again.
    Slow(Addr),
    /// The sentinel answers honestly again.
    Sentinel(usize),
    /// The sentinel is back.
    SentinelUp(usize),
    /// Node `.0` is master again, unless failovers (counted `.1` when it fired) replaced it.
    MasterBack(usize, usize),
}

impl World {
    /// The data node `s` designates now.
    fn select_node(&self, s: NodeSel) -> usize {
        match s {
            NodeSel::CurrentMaster => self.master,
            NodeSel::Index(i) => i.min(self.repl.len() - 1),
            NodeSel::Replica(pick) => {
                let reps: Vec<usize> = (0..self.repl.len()).filter(|i| *i != self.master).collect();
                if reps.is_empty() {
                    self.master
                } else {
                    reps[pick % reps.len()]
                }
            }
        }
    }

    /// Address of the data node `s` designates now.
    fn node_addr(&self, s: NodeSel) -> Addr {
        self.repl[self.select_node(s)].addr.clone()
    }

    /// Applies `f`, which fires now, scheduling its end if it is timed.
    pub(super) fn apply_fault(&mut self, f: Fault) {
        let now = self.now;
        match f {
            Fault::ForcedFailover { leader } => self.forced_failover(leader, Duration::ZERO),
            Fault::StalledFailover { leader, stall } => self.forced_failover(leader, stall),
            Fault::DropConnections(sel) => {
                let i = self.select_node(sel);
                self.close_all_to(Target::Node(i));
            }
            Fault::DropSentinelConnections(i) => {
                if !self.sentinels.is_empty() {
                    self.close_all_to(Target::Sentinel(i % self.sentinels.len()));
                }
            }
            Fault::DropOneConnection { pick } => {
                let open = self.net.open();
                if !open.is_empty() {
                    let id = open[(pick % open.len() as u64) as usize];
                    self.server_close(id);
                }
            }
            Fault::RefuseConnects(sel, d) => {
                let addr = self.node_addr(sel);
                self.net.refuse(addr.clone(), now + d);
                self.agenda.push(now + d, Ev::Heal(Heal::Refuse(addr)));
            }
            Fault::Partition(sel, d) => {
                let addr = self.node_addr(sel);
                self.partition(addr, d);
            }
            Fault::PartitionSentinel(i, d) => {
                if !self.sentinels.is_empty() {
                    let addr = self.sentinels[i % self.sentinels.len()].addr.clone();
                    self.partition(addr, d);
                }
            }
            Fault::Pause(sel, d) => {
                let i = self.select_node(sel);
                let until = now + d;
                let node = &mut self.repl[i];
                node.paused_until = Some(node.paused_until.map_or(until, |t| t.max(until)));
                self.master_paused(i, d);
            }
            Fault::Slow(sel, extra, d) => {
                let addr = self.node_addr(sel);
                self.net.slow_down(addr.clone(), extra, now + d);
                self.agenda.push(now + d, Ev::Heal(Heal::Slow(addr)));
            }
            Fault::Sentinel(i, b, d) => {
                if !self.sentinels.is_empty() {
                    let i = i % self.sentinels.len();
                    self.sentinels[i].behavior = b;
                    self.agenda.push(now + d, Ev::Heal(Heal::Sentinel(i)));
                }
            }
            Fault::SentinelDown(i, d) => {
                if !self.sentinels.is_empty() {
                    let i = i % self.sentinels.len();
                    self.sentinel_down(i, d);
                }
            }
            Fault::AllSentinelsDown(d) => {
                for i in 0..self.sentinels.len() {
                    self.sentinel_down(i, d);
                }
            }
            Fault::MasterTurnsReplica(d) => {
                if !self.failover.in_progress() {
                    let m = self.master;
                    self.repl[m].role = NodeRole::Replica {
                        of: Addr::new(HOST, 1),
                        link_up: false,
                    };
                    let count = self.failover.records().len();
                    self.agenda
                        .push(now + d, Ev::Heal(Heal::MasterBack(m, count)));
                }
            }
            Fault::Loading(sel, d) => {
                let i = self.select_node(sel);
                self.repl[i].loading_until = Some(now + d);
            }
            Fault::Publish(sel, channel, message) => {
                let i = self.select_node(sel);
                let nobody = Session::default();
                self.publish_node(
                    i,
                    ConnId(u64::MAX),
                    &nobody,
                    channel.as_bytes(),
                    message.as_bytes(),
                );
            }
        }
    }

    fn partition(&mut self, addr: Addr, d: Duration) {
        let heals = self.net.partition(addr.clone(), self.now + d);
        self.agenda.push(heals, Ev::Heal(Heal::Partition(addr)));
    }

    fn sentinel_down(&mut self, i: usize, d: Duration) {
        self.sentinels[i].down = true;
        self.close_all_to(Target::Sentinel(i));
        self.agenda
            .push(self.now + d, Ev::Heal(Heal::SentinelUp(i)));
    }

    /// Ends a timed fault. Overlapping faults of one kind end with the last of them.
    pub(super) fn heal(&mut self, h: Heal) {
        let now = self.now;
        match h {
            Heal::Refuse(a) => self.net.heal_refusal(&a, now),
            Heal::Partition(a) => self.net.heal_partition(&a, now),
            Heal::Slow(a) => self.net.heal_slowness(&a, now),
            Heal::Sentinel(i) => self.sentinels[i].behavior = Behavior::Honest,
            Heal::SentinelUp(i) => {
                let leads = self.failover.leader() == Some(i);
                if self.sentinels[i].down && leads {
                    // The failover it leads goes on in the simulation, so it comes back as a
                    // sentinel that was only unreachable: its view, failover state included,
                    // is kept (a real restart would abandon the failover instead).
                    self.sentinels[i].down = false;
                } else if self.sentinels[i].down {
                    // A restarted sentinel reloads the current configuration.
                    let s = &mut self.sentinels[i];
                    s.down = false;
                    s.master = self.repl[self.master].addr.clone();
                    s.epoch = self.failover.config_epoch();
                    s.switching_from = None;
                    s.failover_state = None;
                }
            }
            Heal::MasterBack(m, failovers_then) => {
                // Sentinel restores its master's role, unless a failover replaced it meanwhile.
                if !self.repl[m].is_master()
                    && m == self.master
                    && self.failover.records().len() == failovers_then
                {
                    self.repl[m].promote();
                }
            }
        }
    }
}
