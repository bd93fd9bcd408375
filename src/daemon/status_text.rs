//! The `daemon_status` answer written as text (svcmon and `svcmon --format
//! json` read it): the services parts go in as text, never as a tree.
//!
//! Why: at a thousand services, building the answer as a JSON tree and
//! printing it was most of svcmon's wait (about 6 ms of 16 on one node),
//! nearly all of it allocations. This node's services part is already held
//! as text for the peers (state.rs, `local_part`), each peer's entries are
//! kept as the text they came in (peer_services.rs), and svcmon's cut of
//! this node's services is written straight from the typed data.

use std::collections::BTreeSet;

use serde_json::json;

use super::json_text::{push_list, push_str, with_raw};
use super::state::{ServiceData, Shared, StatusView};

/// One local service's entry as svcmon's table reads it: its whole entry
/// (state.rs, `PartOf::entry`) cut to `render::svcmon::FIELDS`, which a
/// test in state.rs checks.
fn push_svcmon_entry(out: &mut String, s: &ServiceData) {
    out.push_str("{\"avail\":");
    push_str(out, s.avail.as_str());
    out.push_str(",\"overall\":");
    push_str(out, s.overall.as_str());
    out.push_str(if s.frozen {
        ",\"frozen\":true"
    } else {
        ",\"frozen\":false"
    });
    out.push_str(",\"cluster_type\":");
    push_str(out, &s.cluster_type);
    out.push_str(",\"nodes\":");
    push_list(out, &s.nodes);
    out.push_str(",\"drpnodes\":");
    push_list(out, &s.drpnodes);
    out.push_str(",\"error\":");
    match &s.error {
        Some(e) => push_str(out, e),
        None => out.push_str("null"),
    }
    out.push_str(",\"orchestrate\":");
    push_str(out, s.orchestrate.as_str());
    out.push_str(",\"placement\":");
    push_str(out, s.placement.as_str());
    out.push_str(",\"smon\":");
    push_str(out, s.smon.as_str());
    if let Some(why) = &s.why {
        out.push_str(",\"why\":");
        push_str(out, why);
    }
    out.push('}');
}

impl Shared {
    /// This node's node-level fields, svcmon's cut of its services as
    /// text, and their names: svcmon's rows.
    fn local_svcmon_part(&self) -> (serde_json::Value, String, BTreeSet<String>) {
        let hears = self.hears();
        // Written under the lock rather than from a copy of a thousand
        // services.
        let Ok(node) = self.node.lock() else {
            return (json!({}), "{}".to_string(), BTreeSet::new());
        };
        let fields = self.node_fields(&node, hears);
        let mut text = String::with_capacity(200 * node.services.len() + 2);
        text.push('{');
        for (i, (name, s)) in node.services.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            push_str(&mut text, name);
            text.push(':');
            push_svcmon_entry(&mut text, s);
        }
        text.push('}');
        (fields, text, node.services.keys().cloned().collect())
    }

    /// The `daemon_status` answer, whole or cut to svcmon's rows
    /// ([`StatusView`]), as JSON text.
    pub(crate) fn status_text(&self, view: StatusView) -> String {
        let mut nodes = String::from("{");
        let rows: BTreeSet<String> = match view {
            StatusView::Full => {
                let (fields, services) = self.local_part();
                push_str(&mut nodes, &self.nodename);
                nodes.push(':');
                nodes.push_str(&with_raw(&fields, "services", &services));
                BTreeSet::new()
            }
            StatusView::Svcmon => {
                let (fields, services, rows) = self.local_svcmon_part();
                push_str(&mut nodes, &self.nodename);
                nodes.push(':');
                nodes.push_str(&with_raw(&fields, "services", &services));
                rows
            }
        };
        if let Ok(peers) = self.peers.lock() {
            for (n, p) in peers.iter() {
                let mut services = String::new();
                match view {
                    StatusView::Full => p.services.write_all(&mut services),
                    // A peer's entries for svcmon's rows go as they came:
                    // cutting them to the table's fields meant decoding
                    // each, 15,000 of them on 16 nodes sharing every service.
                    StatusView::Svcmon => p.services.write_some(&mut services, &rows),
                }
                nodes.push(',');
                push_str(&mut nodes, n);
                nodes.push(':');
                nodes.push_str(&with_raw(&p.data, "services", &services));
            }
        }
        nodes.push('}');
        let cluster_nodes = self
            .cluster_nodes
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        let mut out = json!({
            "node": self.nodename,
            "cluster_nodes": cluster_nodes,
            "threads": self.threads_json(),
        });
        if let Some(a) = self.arbitrators_json() {
            out["arbitrators"] = a;
        }
        with_raw(&out, "nodes", &nodes)
    }
}
