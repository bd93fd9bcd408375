//! What the cluster should look like once it has settled, from what the
//! runner did (never from what the daemons say): the orders typed, the
//! config values set, the agents the runner killed.
//!
//! The newest order of a service decides where it runs and where it is
//! frozen. Which order is the newest is the daemon's business (the time
//! the CLI handed it over, unknown out here), so every order that may be
//! the newest is a candidate, and the cluster may settle on any of them:
//! an order is surely older only when a later one was typed after it
//! returned, and surely reached its daemon (its node did not die while it
//! ran). A command that failed otherwise still states the operator's
//! intent: `switch --to X` that fails leaves a service that must be on X.

use std::collections::BTreeMap;
use std::fmt;

use crate::plan::OrderKind;
use crate::topology::{Node, Svc};

/// An order as it was typed.
#[derive(Clone, Debug)]
pub(crate) struct OrderRun {
    pub svc: Svc,
    pub kind: OrderKind,
    pub node: Node,
    /// Run times (seconds since the run started) around the command.
    pub typed: f64,
    pub returned: f64,
    pub code: i32,
    /// Its node died while it ran: the order may never have reached the
    /// daemon. Any other failure is the product's: the operator's intent
    /// stands.
    pub maybe_lost: bool,
    /// For `switch --to X`: X could run it when it was typed (live,
    /// cabled, agent running). A switch to a node that is down asks for
    /// nothing the cluster can do.
    pub to_eligible: bool,
    /// A settle came after it: a switch has then been carried out, and a
    /// later failover away from its node is no failure (no fail-back).
    pub settled: bool,
    /// The auditor saw the service up on the switch's target alone after
    /// it was typed: carried out as well, even with no settle between
    /// (the target may die a second later, and the failover away from it
    /// is no failure either).
    pub carried: bool,
    /// Its last output lines, for the report.
    pub tail: String,
}

impl OrderRun {
    /// What was typed where and when.
    pub(crate) fn short(&self) -> String {
        format!(
            "{} {} on {} at {:.1}s",
            self.svc, self.kind, self.node, self.typed
        )
    }
}

impl fmt::Display for OrderRun {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.short())?;
        if !self.to_eligible {
            write!(f, " (its target could not run it then)")?;
        }
        if self.maybe_lost {
            write!(f, " (its node died meanwhile)")?;
        } else if self.code != 0 {
            write!(f, " (rc {}: {})", self.code, self.tail)?;
        }
        Ok(())
    }
}

/// Where a service must run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Up on exactly one live node, whenever an eligible node can run it.
    ExactlyOne,
    Nowhere,
    /// Frozen by an operator: no requirement.
    Anywhere,
    /// After `switch --to X` with X eligible, until the first settle
    /// after it: then it has moved, and may fail over like any service.
    On(Node),
}

#[derive(Clone, Debug)]
pub(crate) struct Want {
    pub placement: Placement,
    /// Frozen on every live node (stop, freeze) or on none.
    pub frozen: bool,
    /// The order it comes from, for the report.
    pub why: String,
}

#[derive(Default)]
pub(crate) struct Model {
    pub orders: Vec<OrderRun>,
    /// The `DEFAULT.comment` each service's config must end with.
    pub comments: BTreeMap<Svc, String>,
    /// SIGKILLs of the agent by the runner, per node: the only
    /// `the agent exited with 137` lines that are explained.
    pub agent_kills: BTreeMap<Node, usize>,
}

impl Model {
    pub(crate) fn record(&mut self, run: OrderRun) {
        self.orders.push(run);
    }

    /// The cluster settled: the orders typed so far have been carried out.
    pub(crate) fn settled(&mut self) {
        for o in &mut self.orders {
            o.settled = true;
        }
    }

    /// Marks the switches the auditor saw carried out (see
    /// [`OrderRun::carried`]).
    pub(crate) fn carry(&mut self, ran_alone_on: impl Fn(Svc, Node, f64) -> bool) {
        for o in self.orders.iter_mut().filter(|o| !o.carried) {
            if let OrderKind::Switch(to) = o.kind {
                o.carried = ran_alone_on(o.svc, to, o.typed);
            }
        }
    }

    /// Every state the service may settle in (newest candidate last).
    pub(crate) fn wants(&self, svc: Svc) -> Vec<Want> {
        let runs: Vec<&OrderRun> = self.orders.iter().filter(|o| o.svc == svc).collect();
        let surely_older = |o: &OrderRun| {
            runs.iter()
                .any(|later| !later.maybe_lost && later.typed > o.returned)
        };
        let mut wants = Vec::new();
        // Before any order: started, thawed.
        if runs.iter().all(|o| o.maybe_lost) {
            wants.push(Want {
                placement: Placement::ExactlyOne,
                frozen: false,
                why: "no order".into(),
            });
        }
        for o in runs.iter().filter(|o| !surely_older(o)) {
            let (placement, frozen) = match o.kind {
                OrderKind::Start | OrderKind::Thaw => (Placement::ExactlyOne, false),
                OrderKind::Stop => (Placement::Nowhere, true),
                OrderKind::Freeze => (Placement::Anywhere, true),
                OrderKind::Switch(to) if o.to_eligible && !o.settled && !o.carried => {
                    (Placement::On(to), false)
                }
                OrderKind::Switch(_) => (Placement::ExactlyOne, false),
            };
            wants.push(Want {
                placement,
                frozen,
                why: o.short(),
            });
        }
        wants
    }
}
