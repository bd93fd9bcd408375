//! This node's services as one pass of the orchestrator reads them: the
//! decision core's `LocalSvc`s, this node's own dataset as a peer would
//! read it (`me`), and what the resource restarts watch, all read from the
//! monitor's dataset under one lock.
//!
//! Built for each pass and dropped after it. Kept from one pass to the
//! next and updated in place, they saved a third of the pass's CPU at
//! sixteen nodes of a thousand services, but held 0.9 MB more on a node
//! of a thousand services (scattered among what the probes free), past
//! the 10 MB such a node is to stay within (BENCHMARKS.md). What is
//! saved instead is the copy of the whole dataset each pass made first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::core::LocalSvc;
use super::restart_core::{Watch, expected_here};
use super::view::{NodeView, is_up};
use crate::daemon::state::{NodeData, ServiceData, Shared, node_view_fields, svc_view};

/// The three maps hold the same services.
#[derive(Default)]
pub(crate) struct Local {
    /// `FROZEN` of the node, when the monitor last stamped it.
    pub node_frozen: bool,
    /// What the core reads ([`super::core::View::services`]).
    pub services: BTreeMap<String, LocalSvc>,
    /// This node's dataset as the core reads a peer's.
    pub me: NodeView,
    /// What the restarts read. `other_candidate` and `held` depend on the
    /// peers and the action locks: restarts.rs sets them at its turn.
    pub watches: BTreeMap<String, Watch>,
    /// Every node some local service names, this one included.
    pub nodes: BTreeSet<String>,
}

impl Local {
    /// Reads the monitor's last dataset and the orders and claims held
    /// now.
    pub(crate) fn read(shared: &Shared) -> Local {
        let (expects, reached) = shared.orders_held();
        let claims = shared.claims.lock().map(|c| c.clone()).unwrap_or_default();
        let empty = NodeData::default();
        let guard = shared.node.lock();
        let node = guard.as_deref().unwrap_or(&empty);
        let services = &node.services;
        let mut nodes: BTreeSet<String> = BTreeSet::new();
        for n in services.values().flat_map(|s| &s.nodes) {
            if !nodes.contains(n) {
                nodes.insert(n.clone());
            }
        }
        Local {
            node_frozen: node.frozen,
            services: services
                .iter()
                .map(|(n, s)| (n.clone(), local_svc(s)))
                .collect(),
            me: NodeView {
                services: Arc::new(
                    services
                        .iter()
                        .map(|(n, s)| (n.clone(), svc_view(n, s, &expects, &reached, &claims)))
                        .collect(),
                ),
                ..node_view_fields(node)
            },
            watches: services
                .iter()
                .map(|(n, s)| (n.clone(), watch(s, node.frozen)))
                .collect(),
            nodes,
        }
    }
}

/// The core's reading of a service.
fn local_svc(s: &ServiceData) -> LocalSvc {
    LocalSvc {
        orchestrate: s.orchestrate,
        placement: s.placement,
        nodes: s.nodes.clone(),
        error: s.error.is_some(),
        // The service's own flag, as the monitor stamped it at the start
        // of this very pass (a changed flag changes the stamp and is
        // probed again), so an order's freeze is seen at once without two
        // stats per service per pass here. The node's flag is
        // `node_frozen`, apart: an order sets or clears this one whatever
        // the node's.
        frozen: s.instance_frozen,
        up: is_up(s.avail.as_str()),
    }
}

/// What the restarts read of a service, before restarts.rs adds what the
/// peers and the locks say.
fn watch(s: &ServiceData, node_frozen: bool) -> Watch {
    Watch {
        runs_here: expected_here(s, node_frozen, false),
        other_candidate: false,
        monitor_action: s.monitor_action,
        watched: s.watched.clone(),
        held: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::orchestration::core::Orchestrate;
    use crate::status::Status;

    /// On a frozen node, the core reads each service's own flag (what an
    /// order sets), `me` the advertised one (the service's or the
    /// node's), and the restarts see nothing to run here. That `me` is
    /// the local dataset as a peer decodes it is state.rs's test.
    #[test]
    fn a_pass_reads_each_flag_where_its_reader_expects_it() {
        let sh = Shared::new("node1");
        {
            let mut n = sh.node.lock().unwrap();
            n.frozen = true;
            let mut a = ServiceData::sample(&["node1", "node2"]);
            a.frozen = true;
            n.services.put("a".into(), a);
            let mut b = ServiceData::sample(&["node3", "node1"]);
            b.frozen = true;
            b.instance_frozen = true;
            b.avail = Status::Down;
            b.orchestrate = Orchestrate::No;
            n.services.put("b".into(), b);
        }
        let l = Local::read(&sh);
        assert!(l.node_frozen);
        assert!(!l.services["a"].frozen, "a's own flag is not set");
        assert!(l.services["b"].frozen);
        assert!(l.me.services["a"].frozen, "advertised: the node's flag");
        assert!(l.services["a"].up && !l.services["b"].up);
        assert_eq!(l.services["b"].orchestrate, Orchestrate::No);
        assert!(!l.watches["a"].runs_here, "the node is frozen");
        assert_eq!(
            l.nodes,
            BTreeSet::from(["node1".into(), "node2".into(), "node3".into()])
        );
        {
            // Thawed: the monitor's next pass stamps the service again.
            let mut n = sh.node.lock().unwrap();
            n.frozen = false;
            n.services.modify("a", |s| {
                s.frozen = false;
                true
            });
        }
        assert!(Local::read(&sh).watches["a"].runs_here);
    }
}
