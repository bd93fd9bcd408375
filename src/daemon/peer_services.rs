//! A peer's services part as this node holds it (hb/dataset.rs): each
//! service's entry kept as the JSON text it came in, and decoded once, on
//! arrival, into what the daemon itself reads of it (the decisions' view,
//! the config stamps replication compares).
//!
//! Why text: a thousand services held as a tree of JSON values cost
//! 3.7 MB per peer, against 0.3 MB as text; every node holds every peer's
//! services, so at 16 nodes of 1000 services the tree was most of the
//! daemon. Only svcmon and the status answer read the entries whole, and
//! they decode the few they show.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use serde_json::value::RawValue;

use super::conf_stamp::ConfStamp;
use super::orchestration::view::SvcView;

/// What replication reads of a peer's service (replicate.rs): its config
/// file's stamp, and the nodes it names, lowercased.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfigOffer {
    pub stamp: ConfStamp,
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct PeerServices {
    entries: BTreeMap<String, Box<RawValue>>,
    /// The services that advertise a config stamp.
    configs: BTreeMap<String, ConfigOffer>,
}

/// A services part decoded: the entries, and the decisions' view of each.
pub(crate) struct Decoded {
    pub services: PeerServices,
    pub views: BTreeMap<String, SvcView>,
}

impl PeerServices {
    /// Reads a services part (`{"<svc>": {...}, ...}`); the error says
    /// what is wrong, for the caller to refuse and count it.
    pub(crate) fn decode(text: &str) -> Result<Decoded, String> {
        let entries: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text)
            .map_err(|_| "the services part is not a JSON object".to_string())?;
        let mut views = BTreeMap::new();
        let mut configs = BTreeMap::new();
        for (name, raw) in &entries {
            let entry: Value = serde_json::from_str(raw.get())
                .map_err(|_| format!("services.{name} is not JSON"))?;
            if !entry.is_object() {
                return Err(format!("services.{name} is not an object"));
            }
            views.insert(name.clone(), SvcView::from_json(&entry));
            if let Some(stamp) = ConfStamp::from_json(&entry["config"]) {
                let offer = ConfigOffer {
                    stamp,
                    nodes: node_list(&entry["nodes"]),
                    drpnodes: node_list(&entry["drpnodes"]),
                };
                configs.insert(name.clone(), offer);
            }
        }
        Ok(Decoded {
            services: PeerServices { entries, configs },
            views,
        })
    }

    /// One service's entry, decoded; None when the peer has no such service.
    pub(crate) fn get(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.entries.get(name)?.get()).ok()
    }

    /// Every entry, decoded: the status answer's `services` of the peer.
    pub(crate) fn to_value(&self) -> Value {
        Value::Object(
            self.entries
                .iter()
                .filter_map(|(n, raw)| Some((n.clone(), serde_json::from_str(raw.get()).ok()?)))
                .collect(),
        )
    }

    /// Every entry as it came, as one JSON object's text: the status
    /// answer's `services` of the peer, with nothing decoded.
    pub(crate) fn write_all(&self, out: &mut String) {
        self.write(out, self.entries.iter());
    }

    /// The entries of the services named in `rows` the peer has, as one
    /// JSON object's text (svcmon's rows).
    pub(crate) fn write_some(&self, out: &mut String, rows: &BTreeSet<String>) {
        self.write(
            out,
            rows.iter()
                .filter_map(|n| self.entries.get_key_value(n.as_str())),
        );
    }

    fn write<'a>(
        &self,
        out: &mut String,
        entries: impl Iterator<Item = (&'a String, &'a Box<RawValue>)>,
    ) {
        out.push('{');
        for (i, (name, raw)) in entries.enumerate() {
            if i > 0 {
                out.push(',');
            }
            super::json_text::push_str(out, name);
            out.push(':');
            out.push_str(raw.get());
        }
        out.push('}');
    }

    /// The config stamps advertised, by service.
    pub(crate) fn configs(&self) -> &BTreeMap<String, ConfigOffer> {
        &self.configs
    }
}

fn node_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_read_back_as_they_came_and_feed_the_view_and_the_offers() {
        let part = json!({
            "a": {"avail": "up", "smon": "idle", "nodes": ["N1", "n2"], "drpnodes": [],
                  "config": {"mtime": 1_700_000_000.25, "cksum": "ab"}, "why": "x"},
            "b": {"avail": "down", "frozen": true},
        });
        let d = PeerServices::decode(&part.to_string()).unwrap();
        assert_eq!(d.services.to_value(), part);
        assert_eq!(d.services.get("a"), Some(part["a"].clone()));
        assert_eq!(d.services.get("c"), None);
        assert!(d.views["a"].up && !d.views["a"].frozen);
        assert!(!d.views["b"].up && d.views["b"].frozen);
        let offers = d.services.configs();
        assert_eq!(offers.len(), 1, "b advertises no config");
        assert_eq!(offers["a"].nodes, ["n1", "n2"]);
        assert_eq!(offers["a"].stamp.cksum, "ab");
    }

    #[test]
    fn a_part_that_is_not_an_object_of_objects_is_refused() {
        for (bad, why) in [
            ("[]", "not a JSON object"),
            ("{\"a\": 3}", "services.a is not an object"),
            ("{\"a\": {}", "not a JSON object"),
            ("nope", "not a JSON object"),
        ] {
            let err = PeerServices::decode(bad).err().unwrap();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(PeerServices::decode("{}").is_ok());
    }
}
