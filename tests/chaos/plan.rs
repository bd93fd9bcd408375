//! The fault sequence, drawn from the seed before anything runs: kinds,
//! targets, durations and delays. Targets that only exist at run time
//! (the owner of a service, a live node for an order) are drawn as a
//! preference the injector resolves against what the kernel shows then,
//! and says so when it had to choose another.

use std::fmt;

use crate::rng::Rng;
use crate::topology::{Node, SERVICES, Svc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrderKind {
    Start,
    Stop,
    Freeze,
    Thaw,
    Switch(Node),
}

impl fmt::Display for OrderKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            OrderKind::Start => f.write_str("start"),
            OrderKind::Stop => f.write_str("stop"),
            OrderKind::Freeze => f.write_str("freeze"),
            OrderKind::Thaw => f.write_str("thaw"),
            OrderKind::Switch(n) => write!(f, "switch --to {n}"),
        }
    }
}

/// `svcmgr -s SVC KIND` typed on `node` (or the next live one), `after`
/// seconds after the previous order of its group.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub svc: Svc,
    pub kind: OrderKind,
    pub node: Node,
    pub after: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResourceFault {
    /// SIGKILL of the service's web server.
    KillApp,
    /// `umount -l` of one of its filesystems (`mount` indexes Svc::mounts).
    Unmount { mount: usize },
    /// `ip addr del` of its address.
    DeleteAddr,
}

#[derive(Clone, Debug)]
pub(crate) enum Fault {
    PowerLoss {
        node: Node,
        down: f64,
    },
    /// Power loss of the node running `svc` (`fallback` when it runs nowhere).
    OwnerPowerLoss {
        svc: Svc,
        fallback: Node,
        down: f64,
    },
    /// Two nodes, `gap` seconds apart, each booted `down[i]` after its loss.
    DoublePowerLoss {
        nodes: [Node; 2],
        gap: f64,
        down: [f64; 2],
    },
    CableCut {
        node: Node,
        cut: f64,
    },
    /// Cut, heal, cut, heal...: each state held for the next of `holds`.
    CableFlap {
        node: Node,
        holds: Vec<f64>,
    },
    /// SIGKILL of the agent; node-services.sh restarts it `hold` s later.
    AgentKill {
        node: Node,
        hold: f64,
    },
    /// SIGSTOP of the agent, SIGCONT `stopped` s later.
    AgentStop {
        node: Node,
        stopped: f64,
    },
    /// Behind the agent's back, on the node running `svc`.
    Resource {
        svc: Svc,
        what: ResourceFault,
    },
    Orders(Vec<Order>),
    /// Nothing but what runs `during` it.
    Quiet,
}

/// Typed while the fault is on (a node cut or powered off), `after`
/// seconds after it was injected.
#[derive(Clone, Debug)]
pub(crate) enum During {
    Orders { after: f64, orders: Vec<Order> },
    ConfigChange { after: f64, svc: Svc, node: Node },
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    /// 1-based, as the report numbers it.
    pub n: usize,
    /// Seconds to wait before injecting it.
    pub pause: f64,
    pub fault: Fault,
    pub during: Option<During>,
}

/// The closed set of kinds the weights choose from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    PowerLoss,
    OwnerPowerLoss,
    DoublePowerLoss,
    CableCut,
    CableFlap,
    AgentKill,
    AgentStop,
    KillApp,
    Unmount,
    DeleteAddr,
    Orders,
    ConfigChange,
}

/// Percent of each kind: 30 power losses, 15 cable faults, 20 agent
/// faults, 15 resource failures, 15 orders, 5 config changes.
const WEIGHTS: [(usize, Kind); 12] = [
    (12, Kind::PowerLoss),
    (10, Kind::OwnerPowerLoss),
    (8, Kind::DoublePowerLoss),
    (10, Kind::CableCut),
    (5, Kind::CableFlap),
    (12, Kind::AgentKill),
    (8, Kind::AgentStop),
    (5, Kind::KillApp),
    (5, Kind::Unmount),
    (5, Kind::DeleteAddr),
    (15, Kind::Orders),
    (5, Kind::ConfigChange),
];

/// More starts and thaws than stops and freezes: a run that stops most
/// services would exercise no failover.
const ORDER_WEIGHTS: [(usize, OrderChoice); 5] = [
    (30, OrderChoice::Start),
    (20, OrderChoice::Stop),
    (12, OrderChoice::Freeze),
    (18, OrderChoice::Thaw),
    (20, OrderChoice::Switch),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrderChoice {
    Start,
    Stop,
    Freeze,
    Thaw,
    Switch,
}

/// Step `n` (1-based) of the run seeded `seed` on `nodes` nodes: drawn
/// from its own stream, so the first N steps do not depend on how many
/// follow.
pub(crate) fn step(seed: u64, n: usize, nodes: &[Node]) -> Step {
    let mut r = Rng::stream(seed, n as u64);
    let pause = r.secs(0.5, 3.0);
    let mut kind = r.weighted(&WEIGHTS);
    if kind == Kind::DoublePowerLoss && nodes.len() < 3 {
        kind = Kind::PowerLoss; // never every node
    }
    let node = r.pick(nodes);
    let (fault, during) = match kind {
        Kind::PowerLoss => (
            Fault::PowerLoss {
                node,
                down: r.secs(2.0, 10.0),
            },
            orders_during(&mut r, nodes),
        ),
        Kind::OwnerPowerLoss => (
            Fault::OwnerPowerLoss {
                svc: r.pick(&SERVICES),
                fallback: node,
                down: r.secs(2.0, 10.0),
            },
            orders_during(&mut r, nodes),
        ),
        Kind::DoublePowerLoss => {
            let other = other_node(&mut r, nodes, node);
            (
                Fault::DoublePowerLoss {
                    nodes: [node, other],
                    gap: r.secs(0.0, 3.0),
                    down: [r.secs(2.0, 10.0), r.secs(2.0, 10.0)],
                },
                orders_during(&mut r, nodes),
            )
        }
        Kind::CableCut => (
            Fault::CableCut {
                node,
                cut: r.secs(2.0, 10.0),
            },
            orders_during(&mut r, nodes),
        ),
        Kind::CableFlap => {
            let toggles = r.int(3, 6);
            let holds = (0..2 * toggles).map(|_| r.secs(0.3, 1.5)).collect();
            (Fault::CableFlap { node, holds }, None)
        }
        Kind::AgentKill => (
            Fault::AgentKill {
                node,
                hold: r.secs(0.0, 15.0),
            },
            orders_during(&mut r, nodes),
        ),
        Kind::AgentStop => (
            Fault::AgentStop {
                node,
                stopped: r.secs(1.0, 15.0),
            },
            orders_during(&mut r, nodes),
        ),
        Kind::KillApp => (
            Fault::Resource {
                svc: r.pick(&[Svc::P26, Svc::App]),
                what: ResourceFault::KillApp,
            },
            None,
        ),
        Kind::Unmount => {
            let svc = r.pick(&[Svc::P26, Svc::Fs]);
            let mount = r.below(svc.mounts().len());
            (
                Fault::Resource {
                    svc,
                    what: ResourceFault::Unmount { mount },
                },
                None,
            )
        }
        // Not appsvc's: its ip#0 has no `restart` (chaos-cluster.sh), so
        // nothing would put it back, by design.
        Kind::DeleteAddr => (
            Fault::Resource {
                svc: r.pick(&[Svc::P26, Svc::Ip]),
                what: ResourceFault::DeleteAddr,
            },
            None,
        ),
        Kind::Orders => (Fault::Orders(orders(&mut r, nodes)), None),
        Kind::ConfigChange => {
            // Replicated while a node cannot hear it, or with all present.
            let carrier = match r.below(4) {
                0 => Fault::PowerLoss {
                    node,
                    down: r.secs(4.0, 10.0),
                },
                1 => Fault::CableCut {
                    node,
                    cut: r.secs(4.0, 10.0),
                },
                2 => Fault::AgentKill {
                    node,
                    hold: r.secs(4.0, 15.0),
                },
                _ => Fault::Quiet,
            };
            let during = During::ConfigChange {
                after: r.secs(0.5, 2.0),
                svc: r.pick(&SERVICES),
                node: r.pick(nodes),
            };
            (carrier, Some(during))
        }
    };
    Step {
        n,
        pause,
        fault,
        during,
    }
}

/// Orders typed while a fault is on, one time in four.
fn orders_during(r: &mut Rng, nodes: &[Node]) -> Option<During> {
    r.chance(25).then(|| During::Orders {
        after: r.secs(0.5, 2.0),
        orders: orders(r, nodes),
    })
}

/// One order (most often), or 2-3 in quick succession on different nodes,
/// on one service (the newest must win) or on several.
fn orders(r: &mut Rng, nodes: &[Node]) -> Vec<Order> {
    let count = r.weighted(&[(60, 1), (25, 2), (15, 3)]);
    let same_svc = r.chance(60);
    let first_svc = r.pick(&SERVICES);
    let mut typed_on: Vec<Node> = Vec::new();
    (0..count)
        .map(|i| {
            let svc = if same_svc {
                first_svc
            } else {
                r.pick(&SERVICES)
            };
            let mut node = r.pick(nodes);
            if typed_on.len() < nodes.len() {
                while typed_on.contains(&node) {
                    node = r.pick(nodes);
                }
            }
            typed_on.push(node);
            let kind = match r.weighted(&ORDER_WEIGHTS) {
                OrderChoice::Start => OrderKind::Start,
                OrderChoice::Stop => OrderKind::Stop,
                OrderChoice::Freeze => OrderKind::Freeze,
                OrderChoice::Thaw => OrderKind::Thaw,
                OrderChoice::Switch => OrderKind::Switch(r.pick(nodes)),
            };
            let after = if i == 0 { 0.0 } else { r.secs(0.0, 1.5) };
            Order {
                svc,
                kind,
                node,
                after,
            }
        })
        .collect()
}

fn other_node(r: &mut Rng, nodes: &[Node], not: Node) -> Node {
    let others: Vec<Node> = nodes.iter().copied().filter(|n| *n != not).collect();
    r.pick(&others)
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.after > 0.0 {
            write!(f, "+{:.1}s ", self.after)?;
        }
        write!(f, "{} {} on {}", self.svc, self.kind, self.node)
    }
}

pub(crate) fn orders_text(orders: &[Order]) -> String {
    orders
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Fault::PowerLoss { node, down } => {
                write!(f, "power loss {node}, booted after {down:.1}s")
            }
            Fault::OwnerPowerLoss {
                svc,
                fallback,
                down,
            } => write!(
                f,
                "power loss of {svc}'s owner (else {fallback}), booted after {down:.1}s"
            ),
            Fault::DoublePowerLoss { nodes, gap, down } => write!(
                f,
                "power loss {} then {} {gap:.1}s later, booted after {:.1}s / {:.1}s",
                nodes[0], nodes[1], down[0], down[1]
            ),
            Fault::CableCut { node, cut } => write!(f, "cable cut {node}, healed after {cut:.1}s"),
            Fault::CableFlap { node, holds } => write!(
                f,
                "flapping cable {node}: {} cut/heal, held {}",
                holds.len() / 2,
                holds
                    .iter()
                    .map(|h| format!("{h:.1}"))
                    .collect::<Vec<_>>()
                    .join("/")
            ),
            Fault::AgentKill { node, hold } => {
                write!(f, "agent SIGKILL {node}, restart held {hold:.1}s")
            }
            Fault::AgentStop { node, stopped } => {
                write!(f, "agent SIGSTOP {node}, SIGCONT after {stopped:.1}s")
            }
            Fault::Resource { svc, what } => match what {
                ResourceFault::KillApp => write!(f, "SIGKILL of {svc}'s web server"),
                ResourceFault::Unmount { mount } => {
                    write!(f, "umount -l {} of {svc}", svc.mounts()[*mount].0)
                }
                ResourceFault::DeleteAddr => {
                    write!(f, "ip addr del {} of {svc}", svc.addr().unwrap_or("?"))
                }
            },
            Fault::Orders(orders) => write!(f, "orders: {}", orders_text(orders)),
            Fault::Quiet => f.write_str("no fault"),
        }
    }
}

impl fmt::Display for During {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            During::Orders { after, orders } => {
                write!(f, "at +{after:.1}s orders: {}", orders_text(orders))
            }
            During::ConfigChange { after, svc, node } => {
                write!(f, "at +{after:.1}s config change of {svc} on {node}")
            }
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.fault)?;
        if let Some(d) = &self.during {
            write!(f, "; {d}")?;
        }
        Ok(())
    }
}
