//! What runs during a fault, and orders as faults of their own: the
//! administrator's `svcmgr` commands typed on a live node (orders to the
//! cluster, a config change), each in a thread of its own, timed, and
//! recorded for the model.

use crate::cluster::{sleep, tail};
use crate::inject::{Injected, Injector};
use crate::kernel::Agent;
use crate::model::OrderRun;
use crate::plan::{During, Order, OrderKind};
use crate::topology::{Node, Svc};

/// A `svcmgr set` of DEFAULT.comment, as it was typed.
#[derive(Clone, Debug)]
pub(crate) struct ConfigRun {
    pub svc: Svc,
    pub node: Node,
    pub value: String,
    pub code: i32,
    pub tail: String,
}

impl Injector<'_> {
    /// What runs while the fault is on, `after` s after it began.
    pub(crate) fn during(&self, d: &During, t0: f64, n: usize) -> Injected {
        let mut rec = Injected::default();
        match d {
            During::Orders { after, orders } => {
                sleep(t0 + after - self.cl.clock.now());
                let (runs, notes) = self.orders(orders);
                rec.what = format!("during it: {}", runs_text(&runs));
                rec.notes = notes;
                rec.orders = runs;
            }
            During::ConfigChange { after, svc, node } => {
                sleep(t0 + after - self.cl.clock.now());
                let Some(on) = self.pick_node(*node, false, None, &[]) else {
                    rec.notes
                        .push("no live node to change the config on".into());
                    return rec;
                };
                let value = format!("chaos-{n}");
                let out = self.cl.on(
                    on,
                    &format!("svcmgr -s {svc} set --param DEFAULT.comment --value {value}"),
                    60,
                );
                rec.what = format!("during it: config {svc} comment={value} on {on}");
                if on != *node {
                    rec.notes
                        .push(format!("{node} unavailable: config set on {on}"));
                }
                rec.config = Some(ConfigRun {
                    svc: *svc,
                    node: on,
                    value,
                    code: out.code,
                    tail: tail(&out, 2),
                });
            }
        }
        rec
    }

    /// `prefer`, or the next node after it that is live (and, for an
    /// order, whose agent runs and is not stopped: the order goes to it),
    /// never `not`, and one outside `used` when there is one (orders of a
    /// group go to different nodes).
    fn pick_node(
        &self,
        prefer: Node,
        agent: bool,
        not: Option<Node>,
        used: &[Node],
    ) -> Option<Node> {
        let nodes = self.cl.nodes();
        let i = nodes.iter().position(|n| *n == prefer).unwrap_or(0);
        let ok: Vec<Node> = (0..nodes.len())
            .map(|k| nodes[(i + k) % nodes.len()])
            .filter(|n| Some(*n) != not)
            .filter(|n| {
                let v = self.cl.kernel.view(*n);
                v.live && (!agent || matches!(v.agent, Some(Agent::Running(_))))
            })
            .collect();
        let fresh = ok.iter().find(|n| **n == prefer || !used.contains(n));
        fresh.or(ok.first()).copied()
    }

    /// The orders of a group, each in its own thread (a stop waits up to
    /// 120 s for every node), typed `after` s after the previous one.
    pub(crate) fn orders(&self, orders: &[Order]) -> (Vec<OrderRun>, Vec<String>) {
        let mut notes = Vec::new();
        let mut runs = Vec::new();
        let mut used = Vec::new();
        std::thread::scope(|s| {
            let mut handles = Vec::new();
            for o in orders {
                sleep(o.after);
                let not = match o.kind {
                    OrderKind::Switch(to) => Some(to),
                    _ => None,
                };
                let Some(node) = self.pick_node(o.node, true, not, &used) else {
                    notes.push(format!("{} {}: no node to type it on", o.svc, o.kind));
                    continue;
                };
                if node != o.node {
                    notes.push(format!(
                        "{} {}: typed on {node}, {} unavailable",
                        o.svc, o.kind, o.node
                    ));
                }
                used.push(node);
                handles.push(s.spawn(move || self.order(o, node)));
            }
            for h in handles {
                runs.push(h.join().expect("an order thread panicked"));
            }
        });
        runs.sort_by(|a, b| a.typed.total_cmp(&b.typed));
        (runs, notes)
    }

    fn order(&self, o: &Order, node: Node) -> OrderRun {
        let typed = self.cl.clock.now();
        let boot = self.cl.kernel.init_pid(node);
        let to_eligible = match o.kind {
            OrderKind::Switch(to) => self.cl.kernel.view(to).eligible(),
            _ => true,
        };
        let out = self
            .cl
            .on(node, &format!("svcmgr -s {} {}", o.svc, o.kind), 150);
        OrderRun {
            svc: o.svc,
            kind: o.kind,
            node,
            typed,
            returned: self.cl.clock.now(),
            code: out.code,
            maybe_lost: out.code != 0 && self.cl.kernel.init_pid(node) != boot,
            to_eligible,
            settled: false,
            carried: false,
            tail: tail(&out, 2),
        }
    }
}

pub(crate) fn runs_text(runs: &[OrderRun]) -> String {
    runs.iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
