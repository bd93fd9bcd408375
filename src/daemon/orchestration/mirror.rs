//! This node's services as the orchestrator's pass reads them: the
//! decision core's `LocalSvc`s, this node's own dataset as a peer would
//! read it (`me`), and what the resource restarts watch. Kept from one
//! pass to the next and updated in place from the monitor's dataset,
//! under one lock; built anew only when a service comes or goes.
//!
//! Why kept: built afresh, each pass copied the whole dataset and then
//! allocated every service's name three times and its nodes once. At
//! sixteen nodes of a thousand services, that was a quarter of an idle
//! daemon's CPU, every second, for data that had not changed. Updated in
//! place, a steady pass allocates nothing here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::core::LocalSvc;
use super::restart_core::{Watch, expected_here};
use super::view::{NodeView, is_up};
use crate::daemon::state::{NodeData, ServiceData, Shared, Watched, node_view_fields, svc_view};

/// The three maps always hold the same services, in the same (name)
/// order: `sync` builds them together, and the restarts walk `watches`
/// beside `services`.
#[derive(Default)]
pub(crate) struct Mirror {
    /// `FROZEN` of the node, when the monitor last stamped it.
    pub node_frozen: bool,
    /// Lent to each pass's [`super::core::View`] and given back after it.
    pub services: BTreeMap<String, LocalSvc>,
    /// Lent the same way.
    pub me: NodeView,
    /// What the restarts read. `other_candidate` and `held` depend on the
    /// peers and the action locks: restarts.rs sets them at its turn.
    pub watches: BTreeMap<String, Watch>,
    /// Every node some local service names, this one included.
    pub nodes: BTreeSet<String>,
}

impl Mirror {
    /// Brings every map to the monitor's last dataset and the orders and
    /// claims held now.
    pub(crate) fn sync(&mut self, shared: &Shared) {
        let (expects, reached) = shared.orders_held();
        let claims = shared.claims.lock().map(|c| c.clone()).unwrap_or_default();
        let empty = NodeData::default();
        let guard = shared.node.lock();
        let node = guard.as_deref().unwrap_or(&empty);
        self.node_frozen = node.frozen;
        let services = &node.services;
        let kept = self.services.len() == services.len()
            && self.me.services.len() == services.len()
            && self.watches.len() == services.len()
            && self.services.keys().eq(services.keys());
        // The node-level fields are copied whole; the services' Arc is
        // kept, to be updated in place below.
        self.me = NodeView {
            services: std::mem::take(&mut self.me.services),
            ..node_view_fields(node)
        };
        if !kept {
            self.services = services
                .iter()
                .map(|(n, s)| (n.clone(), local_svc(s, Vec::new())))
                .collect();
            self.me.services = Arc::new(
                services
                    .iter()
                    .map(|(n, s)| (n.clone(), svc_view(n, s, &expects, &reached, &claims)))
                    .collect(),
            );
            self.watches = services
                .iter()
                .map(|(n, s)| (n.clone(), watch(s, node.frozen, None)))
                .collect();
            self.nodes = all_nodes(&self.services);
            return;
        }
        let mut nodes_changed = false;
        let me = Arc::make_mut(&mut self.me.services);
        let each = services
            .iter()
            .zip(self.services.values_mut())
            .zip(me.values_mut())
            .zip(self.watches.values_mut());
        for ((((name, s), l), v), w) in each {
            nodes_changed |= l.nodes != s.nodes;
            *l = local_svc(s, std::mem::take(&mut l.nodes));
            *v = svc_view(name, s, &expects, &reached, &claims);
            *w = watch(s, node.frozen, Some(std::mem::take(&mut w.watched)));
        }
        if nodes_changed {
            self.nodes = all_nodes(&self.services);
        }
    }

    /// Takes back what a pass's view borrowed.
    pub(crate) fn put_back(&mut self, view: super::core::View) {
        self.services = view.services;
        self.me = view.me;
    }
}

/// The core's reading of a service; `nodes`: the vector the last one
/// held, reused (no allocation when the nodes did not change).
fn local_svc(s: &ServiceData, mut nodes: Vec<String>) -> LocalSvc {
    if nodes != s.nodes {
        nodes.clone_from(&s.nodes);
    }
    LocalSvc {
        orchestrate: s.orchestrate,
        placement: s.placement,
        nodes,
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
/// peers and the locks say; `watched`: the list the last one held, kept
/// when it did not change.
fn watch(s: &ServiceData, node_frozen: bool, watched: Option<Vec<Watched>>) -> Watch {
    let watched = match watched {
        Some(w) if w == s.watched => w,
        _ => s.watched.clone(),
    };
    Watch {
        runs_here: expected_here(s, node_frozen, false),
        other_candidate: false,
        monitor_action: s.monitor_action,
        watched,
        held: false,
    }
}

fn all_nodes(services: &BTreeMap<String, LocalSvc>) -> BTreeSet<String> {
    let mut all: BTreeSet<String> = BTreeSet::new();
    for n in services.values().flat_map(|s| &s.nodes) {
        if !all.contains(n) {
            all.insert(n.clone());
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::orchestration::claims::Claims;
    use crate::daemon::orchestration::core::{Orchestrate, Smon};
    use crate::status::Status;

    fn data(nodes: &[&str]) -> ServiceData {
        ServiceData::sample(nodes)
    }

    /// What a pass would read if everything were built from scratch.
    fn fresh(sh: &Shared) -> Mirror {
        let mut m = Mirror::default();
        m.sync(sh);
        m
    }

    fn assert_same(kept: &Mirror, sh: &Shared, step: &str) {
        let f = fresh(sh);
        assert_eq!(kept.node_frozen, f.node_frozen, "{step}: node_frozen");
        assert_eq!(
            format!("{:?}", kept.services),
            format!("{:?}", f.services),
            "{step}: services"
        );
        assert_eq!(kept.me, f.me, "{step}: me");
        assert_eq!(kept.me, sh.local_view(), "{step}: me against local_view");
        assert_eq!(
            format!("{:?}", kept.watches),
            format!("{:?}", f.watches),
            "{step}: watches"
        );
        assert_eq!(kept.nodes, f.nodes, "{step}: nodes");
    }

    type Change = fn(&mut NodeData);

    /// Every change a service can go through between two passes shows in
    /// the kept maps exactly as in maps built anew: a field the in-place
    /// update forgot would make the core decide on a stale service.
    #[test]
    fn the_kept_maps_follow_every_change_as_maps_built_anew() {
        let sh = Shared::new("node1");
        let set = |f: &dyn Fn(&mut NodeData)| f(&mut sh.node.lock().unwrap());
        set(&|n| {
            n.services.insert("a".into(), data(&["node1", "node2"]));
            n.services.insert("b".into(), data(&["node1"]));
        });
        let mut m = Mirror::default();
        m.sync(&sh);
        assert_same(&m, &sh, "first");
        assert_eq!(m.nodes, BTreeSet::from(["node1".into(), "node2".into()]));
        let steps: Vec<(&str, Change)> = vec![
            (
                "down",
                (|n| n.services.get_mut("a").unwrap().avail = Status::Down),
            ),
            (
                "instance frozen",
                (|n| {
                    let s = n.services.get_mut("a").unwrap();
                    s.instance_frozen = true;
                    s.frozen = true;
                }),
            ),
            ("node frozen", (|n| n.frozen = true)),
            (
                "thawed",
                (|n| {
                    n.frozen = false;
                    let s = n.services.get_mut("a").unwrap();
                    s.instance_frozen = false;
                    s.frozen = false;
                }),
            ),
            (
                "nodes",
                (|n| {
                    n.services.get_mut("b").unwrap().nodes = vec!["node3".into(), "node1".into()];
                }),
            ),
            (
                "error",
                (|n| n.services.get_mut("b").unwrap().error = Some("bad".into())),
            ),
            (
                "not orchestrated",
                (|n| n.services.get_mut("a").unwrap().orchestrate = Orchestrate::No),
            ),
            (
                "smon",
                (|n| n.services.get_mut("b").unwrap().smon = Smon::StartFailed),
            ),
            (
                "watched",
                (|n| {
                    n.services.get_mut("a").unwrap().watched = vec![Watched {
                        rid: "app#1".into(),
                        status: Status::Down,
                        restart: 2,
                        monitor: false,
                        followers: vec![],
                    }];
                }),
            ),
            (
                "watched up",
                (|n| n.services.get_mut("a").unwrap().watched[0].status = Status::Up),
            ),
            (
                "added",
                (|n| {
                    n.services.insert("c".into(), data(&["node4"]));
                }),
            ),
            (
                "removed",
                (|n| {
                    n.services.remove("a");
                }),
            ),
            (
                "renamed",
                (|n| {
                    let s = n.services.remove("b").unwrap();
                    n.services.insert("bb".into(), s);
                }),
            ),
            ("load", (|n| n.load15 = f64::NAN)),
        ];
        for (step, change) in steps {
            set(&change);
            m.sync(&sh);
            assert_same(&m, &sh, step);
        }
        // Orders and claims held by the orchestrator show in `me`.
        sh.expects.lock().unwrap().insert(
            "c".into(),
            crate::order::Order {
                target: crate::order::Target::Stopped,
                at: 1.0,
                by: "node2".into(),
            },
        );
        sh.expects_reached.lock().unwrap().insert("c".into());
        sh.set_claims(
            "bb",
            Claims {
                token: Some(2.0),
                acks: BTreeMap::from([("node2".into(), 1.0)]),
            },
        );
        m.sync(&sh);
        assert_same(&m, &sh, "orders and claims");
        sh.expects.lock().unwrap().clear();
        sh.set_claims("bb", Claims::default());
        m.sync(&sh);
        assert_same(&m, &sh, "orders and claims gone");
    }

    /// A pass lends `services` and `me` to its view: given back, they are
    /// kept; lost (a pass that did not give them back), they are built
    /// anew rather than read half.
    #[test]
    fn maps_lent_and_not_given_back_are_built_anew() {
        let sh = Shared::new("node1");
        sh.node
            .lock()
            .unwrap()
            .services
            .insert("a".into(), data(&["node1", "node2"]));
        let mut m = Mirror::default();
        m.sync(&sh);
        let _lost = std::mem::take(&mut m.services);
        m.sync(&sh);
        assert_same(&m, &sh, "services lost");
        let _lost = std::mem::take(&mut m.me);
        m.sync(&sh);
        assert_same(&m, &sh, "me lost");
    }
}
