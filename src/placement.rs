//! Which node should run a service (docs/orchestration.md, "Placement"):
//! one pure function for the daemon's orchestrator, which starts it there,
//! and for svcmon, which marks that node `^`, so the two never disagree.
//! No daemon state here: the callers hand in what each node reports.
//!
//! Candidates: the nodes of the service's `nodes` that have a dataset
//! (this node, or a peer heard), whose node and instance are not frozen
//! and whose start did not fail there. Ranking by `DEFAULT.placement`:
//! `nodes order` (default) takes the first in `nodes`; `load avg` the
//! lowest 15-minute load, `nodes` order breaking ties.

use serde_json::Value;

pub(crate) const NODES_ORDER: &str = "nodes order";
pub(crate) const LOAD_AVG: &str = "load avg";

/// `DEFAULT.placement`: how candidates are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Placement {
    #[default]
    NodesOrder,
    LoadAvg,
}

impl Placement {
    /// As the config and the datasets spell it; anything else ranks by
    /// `nodes` order, as it always did.
    pub(crate) fn parse(s: &str) -> Placement {
        if s == LOAD_AVG {
            Placement::LoadAvg
        } else {
            Placement::NodesOrder
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Placement::NodesOrder => NODES_ORDER,
            Placement::LoadAvg => LOAD_AVG,
        }
    }
}

/// How a frozen instance counts when choosing the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instances {
    /// As they are: a frozen instance is passed over.
    AsTheyAre,
    /// As an order that thaws every instance (`start`, `thaw`) will leave
    /// them once every node took it in: a frozen instance still counts.
    /// Otherwise the first node to thaw its own instance would lead while
    /// the node that comes first thaws too and leads as well.
    Thawing,
}

/// What placement needs to know of one node and its instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Facts {
    pub node_frozen: bool,
    pub instance_frozen: bool,
    pub start_failed: bool,
    /// Its 15-minute load, when it reports one.
    pub load15: Option<f64>,
}

impl Facts {
    /// From a node's dataset as the daemon advertises it (svcmon's input).
    pub(crate) fn from_json(dataset: &Value, svc: &str) -> Option<Facts> {
        let s = &dataset["services"][svc];
        dataset.is_object().then(|| Facts {
            node_frozen: dataset["frozen"] == true,
            instance_frozen: s["frozen"] == true,
            start_failed: s["smon"] == "start failed",
            load15: dataset["load15"].as_f64(),
        })
    }

    fn candidate(&self, instances: Instances) -> bool {
        !self.node_frozen
            && (instances == Instances::Thawing || !self.instance_frozen)
            && !self.start_failed
    }
}

/// The leader among `nodes`, given each node's facts (None for a node with
/// no data).
pub(crate) fn leader_by<'a>(
    nodes: &'a [String],
    placement: Placement,
    instances: Instances,
    facts: impl Fn(&str) -> Option<Facts>,
) -> Option<&'a str> {
    let mut ranked: Vec<(usize, &'a String, f64)> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let f = facts(n).filter(|f| f.candidate(instances))?;
            Some((i, n, f.load15.unwrap_or(f64::MAX)))
        })
        .collect();
    if placement == Placement::LoadAvg {
        ranked.sort_by(|(i, _, a), (j, _, b)| a.total_cmp(b).then(i.cmp(j)));
    }
    ranked.first().map(|(_, n, _)| n.as_str())
}

/// The leader of `svc` among `nodes`, given the service's `placement`
/// and each node's dataset through `dataset` (None for a node with no
/// data): svcmon and the CLI read them where they are, with no copy.
pub(crate) fn leader<'a, 'd>(
    svc: &str,
    nodes: &'a [String],
    placement: &str,
    instances: Instances,
    dataset: impl Fn(&str) -> Option<&'d Value>,
) -> Option<&'a str> {
    leader_by(nodes, Placement::parse(placement), instances, |n| {
        Facts::from_json(dataset(n)?, svc)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    const AS_THEY_ARE: Instances = Instances::AsTheyAre;

    fn node(load: f64, frozen: bool, svc_frozen: bool, smon: &str) -> Value {
        json!({"load15": load, "frozen": frozen,
               "services": {"svc1": {"frozen": svc_frozen, "smon": smon}}})
    }

    fn nodes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nodes_order_takes_the_first_candidate() {
        let n = nodes(&["node1", "node2", "node3"]);
        let mut d: BTreeMap<String, Value> = [
            ("node1".to_string(), node(0.9, false, false, "idle")),
            ("node2".to_string(), node(0.1, false, false, "idle")),
            ("node3".to_string(), node(0.5, false, false, "idle")),
        ]
        .into();
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, AS_THEY_ARE, |k| d.get(k)),
            Some("node1")
        );
        // Frozen node, frozen instance, failed start, no dataset: passed over.
        d.insert("node1".into(), node(0.9, true, false, "idle"));
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, AS_THEY_ARE, |k| d.get(k)),
            Some("node2")
        );
        d.insert("node2".into(), node(0.1, false, true, "idle"));
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, AS_THEY_ARE, |k| d.get(k)),
            Some("node3")
        );
        d.insert("node3".into(), node(0.5, false, false, "start failed"));
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, AS_THEY_ARE, |k| d.get(k)),
            None
        );
        d.clear();
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, AS_THEY_ARE, |k| d.get(k)),
            None
        );
    }

    #[test]
    fn while_every_instance_is_thawed_a_frozen_one_still_leads() {
        let n = nodes(&["node1", "node2"]);
        let d: BTreeMap<String, Value> = [
            ("node1".to_string(), node(0.9, false, true, "idle")),
            ("node2".to_string(), node(0.1, false, false, "idle")),
        ]
        .into();
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, AS_THEY_ARE, |k| d.get(k)),
            Some("node2")
        );
        let thawing = Instances::Thawing;
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, thawing, |k| d.get(k)),
            Some("node1")
        );
        // A frozen node stays out: no order thaws it.
        let d: BTreeMap<String, Value> = [
            ("node1".to_string(), node(0.9, true, true, "idle")),
            ("node2".to_string(), node(0.1, false, false, "idle")),
        ]
        .into();
        assert_eq!(
            leader("svc1", &n, NODES_ORDER, thawing, |k| d.get(k)),
            Some("node2")
        );
    }

    #[test]
    fn load_avg_takes_the_least_loaded_then_nodes_order() {
        let n = nodes(&["node1", "node2", "node3"]);
        let mut d: BTreeMap<String, Value> = [
            ("node1".to_string(), node(0.9, false, false, "idle")),
            ("node2".to_string(), node(0.5, false, false, "idle")),
            ("node3".to_string(), node(0.1, false, false, "idle")),
        ]
        .into();
        assert_eq!(
            leader("svc1", &n, LOAD_AVG, AS_THEY_ARE, |k| d.get(k)),
            Some("node3")
        );
        d.insert("node3".into(), node(0.1, true, false, "idle"));
        assert_eq!(
            leader("svc1", &n, LOAD_AVG, AS_THEY_ARE, |k| d.get(k)),
            Some("node2")
        );
        // A tie goes to the node listed first.
        d.insert("node1".into(), node(0.5, false, false, "idle"));
        assert_eq!(
            leader("svc1", &n, LOAD_AVG, AS_THEY_ARE, |k| d.get(k)),
            Some("node1")
        );
    }
}
