//! Where the machine stands: the states of the diagram in the module docs, each holding the
//! data that exists only in it.

use super::discovery::Discovered;
use super::error::DiscoveryError;
use super::fence::Fence;
use super::interface::{Addr, ConnId, Role};

/// The data node in use (connecting, handshaking or ready).
#[derive(Clone, Debug)]
pub(crate) struct NodeRef {
    pub conn: ConnId,
    pub addr: Addr,
    pub expect: Role,
    /// The sentinel whose answer chose this node (moved to the back if it fails verification).
    pub named_by: Option<Addr>,
}

/// The machine's state.
#[derive(Debug)]
pub(crate) enum Phase {
    /// No data node: sentinels are being asked, or will be after a backoff.
    Resolving,
    /// A data connection is opening or running its handshake and `ROLE` check.
    Connecting(NodeRef),
    /// A verified node carries commands.
    Ready(NodeRef),
    /// A failover of our master is under way: nothing is written to it, commands wait. `probe`
    /// is the connection to its successor while `ROLE` is asked there (never ready: the
    /// moment it is verified the fence comes down and the machine is `Ready`).
    Fenced {
        fence: Fence,
        probe: Option<NodeRef>,
    },
    /// A one-shot discovery ended.
    Done(Result<Discovered, DiscoveryError>),
    /// [`super::Machine::close`] was called.
    Closed,
}

impl Phase {
    /// The node in use or being verified.
    pub(crate) fn node(&self) -> Option<&NodeRef> {
        match self {
            Phase::Connecting(n) | Phase::Ready(n) => Some(n),
            Phase::Fenced { probe, .. } => probe.as_ref(),
            _ => None,
        }
    }

    /// The verified node, when one carries commands.
    pub(crate) fn ready(&self) -> Option<&NodeRef> {
        match self {
            Phase::Ready(n) => Some(n),
            _ => None,
        }
    }

    /// The fence, while one is up.
    pub(crate) fn fence(&self) -> Option<&Fence> {
        match self {
            Phase::Fenced { fence, .. } => Some(fence),
            _ => None,
        }
    }

    /// The fence, to change it.
    pub(crate) fn fence_mut(&mut self) -> Option<&mut Fence> {
        match self {
            Phase::Fenced { fence, .. } => Some(fence),
            _ => None,
        }
    }

    /// True once closed.
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self, Phase::Closed)
    }

    /// The outcome of a finished discovery.
    pub(crate) fn outcome(&self) -> Option<&Result<Discovered, DiscoveryError>> {
        match self {
            Phase::Done(r) => Some(r),
            _ => None,
        }
    }

    /// True when the machine has stopped (closed, or its discovery ended).
    pub(crate) fn is_over(&self) -> bool {
        matches!(self, Phase::Closed | Phase::Done(_))
    }

    /// Stops using the node: the machine resolves again (or, fenced, has no probe).
    pub(crate) fn take_node(&mut self) -> Option<NodeRef> {
        match self {
            Phase::Fenced { probe, .. } => probe.take(),
            Phase::Connecting(_) | Phase::Ready(_) => {
                match std::mem::replace(self, Phase::Resolving) {
                    Phase::Connecting(n) | Phase::Ready(n) => Some(n),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Starts verifying `node` (as the fence's probe while fenced).
    pub(crate) fn connect(&mut self, node: NodeRef) {
        match self {
            Phase::Fenced { probe, .. } => *probe = Some(node),
            Phase::Resolving | Phase::Connecting(_) | Phase::Ready(_) => {
                *self = Phase::Connecting(node)
            }
            Phase::Done(_) | Phase::Closed => {}
        }
    }

    /// The node being verified passed: it carries commands now, and a fence comes down.
    pub(crate) fn verified(&mut self) {
        let node = match self {
            Phase::Connecting(_) | Phase::Fenced { probe: Some(_), .. } => {
                std::mem::replace(self, Phase::Resolving)
            }
            _ => return,
        };
        if let Phase::Connecting(n) | Phase::Fenced { probe: Some(n), .. } = node {
            *self = Phase::Ready(n);
        }
    }

    /// Raises `fence`; a node in use stays as the probe until the caller retires it.
    pub(crate) fn raise(&mut self, fence: Fence) {
        let probe = match std::mem::replace(self, Phase::Resolving) {
            Phase::Connecting(n) | Phase::Ready(n) => Some(n),
            Phase::Resolving => None,
            other => {
                *self = other;
                return;
            }
        };
        *self = Phase::Fenced { fence, probe };
    }

    /// Takes the fence down; a probe in flight goes on being verified.
    pub(crate) fn lift(&mut self) -> Option<Fence> {
        match std::mem::replace(self, Phase::Resolving) {
            Phase::Fenced { fence, probe } => {
                if let Some(n) = probe {
                    *self = Phase::Connecting(n);
                }
                Some(fence)
            }
            other => {
                *self = other;
                None
            }
        }
    }
}
