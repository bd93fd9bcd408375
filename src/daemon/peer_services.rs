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
use std::sync::Arc;

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

/// A peer's services part: its text as it came, each entry found by name
/// through an index, and the config offers this node may take.
#[derive(Debug, Default)]
pub(crate) struct PeerServices {
    /// The services part, as fetched: shared with the disk rx that read
    /// it (hb/disk.rs), which keeps its last one.
    text: Arc<str>,
    /// The entries' names, end to end (unescaped).
    names: Box<str>,
    /// Each entry: its name in `names`, its value in `text`; by name.
    index: Vec<Entry>,
    /// The services that advertise a config stamp and name this node in
    /// their `nodes` or `drpnodes`: replication takes no other
    /// (replicate.rs, "Scope"), and on sixteen nodes of a thousand
    /// services the others were 15,000 offers held for nothing.
    configs: BTreeMap<String, ConfigOffer>,
}

/// Where one entry lies: its name in `names`, its value in `text`. A map
/// of names to boxed texts cost an allocation and a name string per entry
/// on top of the text.
#[derive(Debug, Clone, Copy)]
struct Entry {
    name: (u32, u32),
    value: (u32, u32),
}

/// A services part decoded: the entries, and the decisions' view of each.
pub(crate) struct Decoded {
    pub services: PeerServices,
    pub views: BTreeMap<String, SvcView>,
}

impl PeerServices {
    /// Reads a services part (`{"<svc>": {...}, ...}`); the error says
    /// what is wrong, for the caller to refuse and count it. Config
    /// offers are kept only when they name `me` (None: all of them, for
    /// tests and the fuzzer).
    #[cfg(test)]
    pub(crate) fn decode(text: &str, me: Option<&str>) -> Result<Decoded, String> {
        PeerServices::decode_shared(text.into(), me)
    }

    /// As `decode`, keeping `text` itself rather than a copy.
    pub(crate) fn decode_shared(text: Arc<str>, me: Option<&str>) -> Result<Decoded, String> {
        // Borrowed: each value is a slice of `text`, located below.
        let entries: BTreeMap<String, &RawValue> = serde_json::from_str(&text)
            .map_err(|_| "the services part is not a JSON object".to_string())?;
        if text.len() > u32::MAX as usize {
            return Err("the services part is over 4 GiB".into());
        }
        let mut views = BTreeMap::new();
        let mut configs = BTreeMap::new();
        let mut names = String::new();
        let mut index = Vec::with_capacity(entries.len());
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
                let named = |me: &str| {
                    let mut all = offer.nodes.iter().chain(&offer.drpnodes);
                    all.any(|n| n.eq_ignore_ascii_case(me))
                };
                if me.is_none_or(named) {
                    configs.insert(name.clone(), offer);
                }
            }
            let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
            let value = (start as u32, (start + raw.get().len()) as u32);
            let n0 = names.len() as u32;
            names.push_str(name);
            index.push(Entry {
                name: (n0, names.len() as u32),
                value,
            });
        }
        drop(entries);
        let services = PeerServices {
            text,
            names: names.into(),
            index,
            configs,
        };
        Ok(Decoded { services, views })
    }

    fn name(&self, e: &Entry) -> &str {
        &self.names[e.name.0 as usize..e.name.1 as usize]
    }

    fn value(&self, e: &Entry) -> &str {
        &self.text[e.value.0 as usize..e.value.1 as usize]
    }

    fn find(&self, name: &str) -> Option<&Entry> {
        let i = self
            .index
            .binary_search_by(|e| self.name(e).cmp(name))
            .ok()?;
        self.index.get(i)
    }

    /// One service's entry, decoded; None when the peer has no such service.
    pub(crate) fn get(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.value(self.find(name)?)).ok()
    }

    /// Every entry, decoded: the status answer's `services` of the peer.
    pub(crate) fn to_value(&self) -> Value {
        Value::Object(
            self.index
                .iter()
                .filter_map(|e| {
                    let v = serde_json::from_str(self.value(e)).ok()?;
                    Some((self.name(e).to_string(), v))
                })
                .collect(),
        )
    }

    /// Every entry as it came, as one JSON object's text: the status
    /// answer's `services` of the peer, with nothing decoded.
    pub(crate) fn write_all(&self, out: &mut String) {
        self.write(out, self.index.iter());
    }

    /// The entries of the services named in `rows` the peer has, as one
    /// JSON object's text (svcmon's rows).
    pub(crate) fn write_some(&self, out: &mut String, rows: &BTreeSet<String>) {
        self.write(out, rows.iter().filter_map(|n| self.find(n)));
    }

    fn write<'a>(&'a self, out: &mut String, entries: impl Iterator<Item = &'a Entry>) {
        out.push('{');
        for (i, e) in entries.enumerate() {
            if i > 0 {
                out.push(',');
            }
            super::json_text::push_str(out, self.name(e));
            out.push(':');
            out.push_str(self.value(e));
        }
        out.push('}');
    }

    /// The config stamps advertised, by service: those that name this node.
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
        let d = PeerServices::decode(&part.to_string(), None).unwrap();
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
    fn only_the_offers_that_name_this_node_are_kept() {
        let part = json!({
            "mine": {"nodes": ["n1", "N2"], "config": {"mtime": 1.0, "cksum": "a"}},
            "drp": {"nodes": ["n1"], "drpnodes": ["n2"], "config": {"mtime": 1.0, "cksum": "b"}},
            "theirs": {"nodes": ["n1", "n3"], "config": {"mtime": 1.0, "cksum": "c"}},
        })
        .to_string();
        let kept = |me| {
            let d = PeerServices::decode(&part, me).unwrap();
            d.services.configs().keys().cloned().collect::<Vec<_>>()
        };
        assert_eq!(kept(Some("n2")), ["drp", "mine"]);
        assert_eq!(kept(None), ["drp", "mine", "theirs"]);
        // The entries themselves are all kept, for the status.
        let d = PeerServices::decode(&part, Some("n2")).unwrap();
        assert!(d.services.get("theirs").is_some());
        assert_eq!(d.views.len(), 3);
    }

    #[test]
    fn names_that_need_escaping_read_back_and_write_back() {
        let part = json!({"a\"b": {"avail": "up"}, "é\\": {"avail": "down"}, "z": {}});
        let d = PeerServices::decode(&part.to_string(), None).unwrap();
        assert_eq!(d.services.get("a\"b"), Some(part["a\"b"].clone()));
        assert_eq!(d.services.get("é\\"), Some(part["é\\"].clone()));
        let mut all = String::new();
        d.services.write_all(&mut all);
        assert_eq!(serde_json::from_str::<Value>(&all).unwrap(), part);
        let mut some = String::new();
        let rows = BTreeSet::from(["z".to_string(), "missing".to_string(), "a\"b".to_string()]);
        d.services.write_some(&mut some, &rows);
        assert_eq!(
            serde_json::from_str::<Value>(&some).unwrap(),
            json!({"a\"b": {"avail": "up"}, "z": {}})
        );
    }

    #[test]
    fn a_part_that_is_not_an_object_of_objects_is_refused() {
        for (bad, why) in [
            ("[]", "not a JSON object"),
            ("{\"a\": 3}", "services.a is not an object"),
            ("{\"a\": {}", "not a JSON object"),
            ("nope", "not a JSON object"),
        ] {
            let err = PeerServices::decode(bad, None).err().unwrap();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(PeerServices::decode("{}", None).is_ok());
    }
}
