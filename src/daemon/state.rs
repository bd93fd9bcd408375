//! The daemon's shared memory: its threads and this node's dataset (every
//! local service's status), as `daemon_status` returns it and svcmon shows it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::status::Status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    /// `running` or `stopped`.
    pub state: &'static str,
    /// What svcmon shows after the state (the listener's address).
    pub info: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceData {
    pub avail: Status,
    pub overall: Status,
    pub frozen: bool,
    pub cluster_type: String,
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
    /// Set when the config does not load: the service shows `?`.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeData {
    pub load15: f64,
    pub frozen: bool,
    /// The node monitor state; `idle` is not shown.
    pub monitor: String,
    pub services: BTreeMap<String, ServiceData>,
}

pub struct Shared {
    pub nodename: String,
    pub threads: Mutex<BTreeMap<String, ThreadInfo>>,
    pub node: Mutex<NodeData>,
    stop: AtomicBool,
}

impl Shared {
    pub fn new(nodename: &str) -> Shared {
        Shared {
            nodename: nodename.to_string(),
            threads: Mutex::new(BTreeMap::new()),
            node: Mutex::new(NodeData {
                monitor: "idle".into(),
                ..NodeData::default()
            }),
            stop: AtomicBool::new(false),
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn set_thread(&self, id: &str, state: &'static str, info: &str) {
        if let Ok(mut t) = self.threads.lock() {
            t.insert(
                id.to_string(),
                ThreadInfo {
                    state,
                    info: info.to_string(),
                },
            );
        }
    }

    /// The `daemon_status` answer: plain JSON, rendered by svcmon.
    pub fn status_json(&self) -> Value {
        let threads: serde_json::Map<String, Value> = self
            .threads
            .lock()
            .map(|t| {
                t.iter()
                    .map(|(id, th)| (id.clone(), json!({"state": th.state, "info": th.info})))
                    .collect()
            })
            .unwrap_or_default();
        let node = self.node.lock().map(|n| n.clone()).unwrap_or_default();
        let services: serde_json::Map<String, Value> = node
            .services
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    json!({
                        "avail": s.avail.as_str(),
                        "overall": s.overall.as_str(),
                        "frozen": s.frozen,
                        "cluster_type": s.cluster_type,
                        "nodes": s.nodes,
                        "drpnodes": s.drpnodes,
                        "error": s.error,
                    }),
                )
            })
            .collect();
        json!({
            "node": self.nodename,
            "threads": threads,
            "nodes": {
                self.nodename.clone(): {
                    "load15": node.load15,
                    "frozen": node.frozen,
                    "monitor": node.monitor,
                    "services": services,
                }
            }
        })
    }
}
