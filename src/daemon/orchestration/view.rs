//! A node's dataset as the decision core reads it: typed, decoded once
//! when a heartbeat brings it (state.rs), so that no decision indexes a
//! peer's JSON blindly. A dataset that does not decode is refused and
//! counted by the caller, never half-read.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::order::Order;
use crate::placement::Facts;

/// One service instance as its node reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SvcView {
    /// `avail` is up, warn or stdby up.
    pub up: bool,
    pub frozen: bool,
    /// Its service monitor state is `start failed`.
    pub start_failed: bool,
    /// The cluster-wide order the node holds for it. Boxed: nearly every
    /// service has none, and a node holds a view of every service of
    /// every peer (16,000 at 16 nodes of 1000), where an unboxed order
    /// doubled each view's size.
    pub order: Option<Box<Order>>,
    /// The node saw that order reached.
    pub reached: bool,
    /// The node claims it: it is about to start it (core.rs, "Claims"),
    /// under this token.
    pub claim: Option<f64>,
    /// Its service monitor state is `starting`.
    pub starting: bool,
    /// The other nodes' claims this node saw and yields to: node → token.
    pub acks: BTreeMap<String, f64>,
}

/// One node's dataset.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct NodeView {
    pub frozen: bool,
    pub load15: Option<f64>,
    /// Shared: the orchestrator copies every peer's view each pass, and at
    /// sixteen nodes of a thousand services a deep copy was 15,000
    /// services a second.
    pub services: std::sync::Arc<BTreeMap<String, SvcView>>,
    /// Heard, but its services part is not the one its last beat named
    /// (first contact, or a change not fetched yet: hb/dataset.rs):
    /// `services` is not to be read as all it runs.
    pub pending: bool,
}

/// The availabilities that count as running.
pub(crate) fn is_up(avail: &str) -> bool {
    matches!(avail, "up" | "warn" | "stdby up")
}

impl NodeView {
    /// Decodes a dataset; the error says which field is wrong.
    pub(crate) fn from_json(v: &Value) -> Result<NodeView, String> {
        let obj = v.as_object().ok_or("the dataset is not an object")?;
        let frozen = match obj.get("frozen") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("`frozen` is not a boolean".into()),
        };
        let load15 = match obj.get("load15") {
            None | Some(Value::Null) => None,
            Some(l) => Some(l.as_f64().ok_or("`load15` is not a number")?),
        };
        let mut services = BTreeMap::new();
        match obj.get("services") {
            None => {}
            Some(Value::Object(m)) => {
                for (name, s) in m {
                    if !s.is_object() {
                        return Err(format!("services.{name} is not an object"));
                    }
                    services.insert(name.clone(), SvcView::from_json(s));
                }
            }
            Some(_) => return Err("`services` is not an object".into()),
        }
        Ok(NodeView {
            frozen,
            load15,
            services: services.into(),
            pending: false,
        })
    }

    /// What placement weighs of this node for `svc`.
    pub(crate) fn facts(&self, svc: &str) -> Facts {
        let s = self.services.get(svc);
        Facts {
            node_frozen: self.frozen,
            instance_frozen: s.is_some_and(|s| s.frozen),
            start_failed: s.is_some_and(|s| s.start_failed),
            load15: self.load15,
        }
    }

    pub(crate) fn up(&self, svc: &str) -> bool {
        self.services.get(svc).is_some_and(|s| s.up)
    }
}

impl SvcView {
    pub(crate) fn from_json(s: &Value) -> SvcView {
        SvcView {
            up: is_up(s["avail"].as_str().unwrap_or("")),
            frozen: s["frozen"] == true,
            start_failed: s["smon"] == "start failed",
            order: Order::from_json(s).map(Box::new),
            reached: s["global_expect_reached"] == true,
            claim: s["claim"].as_f64().filter(|t| t.is_finite()),
            starting: s["smon"] == "starting",
            // Read leniently, as the rest of an instance: a malformed
            // ack is no ack, which only holds the claimer back.
            acks: s["acks"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(n, t)| Some((n.clone(), t.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dataset_decodes_and_a_malformed_one_is_refused() {
        let v = NodeView::from_json(&json!({"load15": 0.5, "frozen": true, "services": {
            "svc1": {"avail": "warn", "frozen": true, "smon": "start failed"}}}))
        .unwrap();
        assert!(v.frozen && v.load15 == Some(0.5));
        assert_eq!(
            v.services["svc1"],
            SvcView {
                up: true,
                frozen: true,
                start_failed: true,
                order: None,
                reached: false,
                claim: None,
                starting: false,
                acks: BTreeMap::new(),
            }
        );
        let v = NodeView::from_json(&json!({"services": {
            "svc1": {"smon": "starting", "claim": 12.5, "acks": {"node2": 3.25, "node3": "x"}},
            "svc2": {"claim": "soon", "acks": []}}}))
        .unwrap();
        let s = &v.services["svc1"];
        assert!(s.starting && s.claim == Some(12.5), "{s:?}");
        assert_eq!(s.acks, BTreeMap::from([("node2".to_string(), 3.25)]));
        let s = &v.services["svc2"];
        assert!(s.claim.is_none() && s.acks.is_empty(), "{s:?}");
        assert_eq!(NodeView::from_json(&json!({})), Ok(NodeView::default()));
        for (bad, why) in [
            (json!([]), "not an object"),
            (json!({"frozen": "yes"}), "`frozen`"),
            (json!({"load15": "x"}), "`load15`"),
            (json!({"services": []}), "`services`"),
            (json!({"services": {"svc1": 3}}), "services.svc1"),
        ] {
            let e = NodeView::from_json(&bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    /// A peer heard whose services are not fetched yet is not a peer that
    /// runs nothing: the core does not start what it may run.
    #[test]
    fn no_start_while_a_peer_of_the_service_is_pending() {
        use super::super::core::{Command, Core, LocalSvc, Orchestrate, View};
        use super::super::memory::Memory;
        use std::time::{Duration, Instant};
        let svc = LocalSvc {
            orchestrate: Orchestrate::Ha,
            placement: crate::placement::Placement::NodesOrder,
            nodes: vec!["node1".into(), "node2".into()],
            ..LocalSvc::default()
        };
        let pending = NodeView {
            pending: true,
            ..NodeView::default()
        };
        let mut v = View {
            local: "node1".into(),
            node_frozen: false,
            services: BTreeMap::from([("svc1".to_string(), svc)]),
            me: NodeView::default(),
            peers: BTreeMap::from([("node2".to_string(), pending)]),
            silent: BTreeMap::new(),
            disk_stale: None,
            stonith: std::collections::BTreeSet::new(),
            settled: true,
            now: Instant::now(),
            wall: 1e9,
        };
        let mut core = Core::new(Duration::ZERO);
        let mut mem = Memory::default();
        let cmds = core.decide(&mut mem, &v);
        assert!(
            !cmds.iter().any(|c| matches!(c, Command::Start(..))),
            "{cmds:?}"
        );
        assert!(
            cmds.contains(&Command::Why(
                "svc1".into(),
                Some("waiting for node2's dataset".into())
            )),
            "{cmds:?}"
        );
        // Fetched, and running nothing: this node starts it.
        v.peers.get_mut("node2").unwrap().pending = false;
        let cmds = core.decide(&mut mem, &v);
        assert!(
            cmds.iter().any(|c| matches!(c, Command::Start(..))),
            "{cmds:?}"
        );
    }
}
