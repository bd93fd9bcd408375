//! What the orchestrator must not forget when its daemon dies: which
//! services failed to start here and when to try again (failures.rs), the
//! cluster-wide orders it has taken in, and how many times each failed
//! resource was restarted (restarts.rs: a daemon restart must not give a
//! crashing resource a fresh set of restarts). Kept in `<var>/osvcd.state.json`,
//! rewritten atomically on every change, read once at start: a daemon
//! killed with SIGKILL and started again carries on where it was instead of
//! retrying a start that failed or forgetting an order half carried out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::failures::Failure;
use crate::log::Logger;
use crate::order::Order;
use crate::paths::Paths;

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Memory {
    /// Start failures here, by service (failures.rs).
    pub start_failed: BTreeMap<String, Failure>,
    /// The newest cluster-wide order known per service (orders.rs): kept
    /// and advertised for good, so that every node, even one down when it
    /// was given, ends up holding and carrying out the same one.
    pub orders: BTreeMap<String, Order>,
    /// Per service, the time of the order whose local part (freeze, thaw)
    /// was carried out here: done once per order.
    pub applied: BTreeMap<String, f64>,
    /// Per service, the time of the order seen reached from here.
    pub reached: BTreeMap<String, f64>,
    /// Restarts done per service and rid since the resource was last seen up.
    pub restarts: BTreeMap<String, BTreeMap<String, u32>>,
    /// The node's boot the restart counts belong to ([`boot`]).
    pub boot: String,
}

/// This boot of the node: the kernel's boot id and PID 1's start time (in
/// a container or a lab node, its own PID 1: a new one is a new boot).
/// Restart counts are a daemon's memory, not a machine's: a node that
/// rebooted starts them from zero (a reset left resources of the last boot
/// to restart, with the counts of that boot spent).
pub(crate) fn boot() -> String {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let init = std::fs::read_to_string("/proc/1/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            rest.split_whitespace().nth(19).map(String::from)
        })
        .unwrap_or_default();
    format!("{}:{init}", id.trim())
}

fn file(paths: &Paths) -> PathBuf {
    paths.var.join("osvcd.state.json")
}

impl Memory {
    /// What the last daemon left; nothing when there is no file or it is
    /// unreadable (logged: the daemon then starts from a blank memory).
    pub(crate) fn load(paths: &Paths, log: &Logger) -> Memory {
        let mut m = Memory::read(paths, log);
        let now = boot();
        if m.boot != now {
            if !m.restarts.is_empty() {
                log.info("the node booted since the last daemon: restart counts start from 0");
            }
            m.restarts.clear();
            m.boot = now;
        }
        m
    }

    fn read(paths: &Paths, log: &Logger) -> Memory {
        let path = file(paths);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Memory::default();
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Memory::from_json(&v),
            Err(e) => {
                log.warn(format!(
                    "{}: unreadable ({e}): starting from a blank memory",
                    path.display()
                ));
                Memory::default()
            }
        }
    }

    fn from_json(v: &Value) -> Memory {
        let start_failed = match &v["start_failed"] {
            // Older agents kept bare names, retried only after a thaw:
            // they are due for a try now.
            Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str())
                .map(|s| {
                    let f = Failure {
                        count: 1,
                        retry_at: 0.0,
                        reason: "failed under an older agent".into(),
                    };
                    (s.to_string(), f)
                })
                .collect(),
            Value::Object(o) => o
                .iter()
                .filter_map(|(svc, f)| {
                    let f = Failure {
                        count: u32::try_from(f["count"].as_u64()?).ok()?,
                        retry_at: f["retry_at"].as_f64().filter(|t| t.is_finite())?,
                        reason: f["reason"].as_str().unwrap_or("").to_string(),
                    };
                    Some((svc.clone(), f))
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let times = |v: &Value| -> BTreeMap<String, f64> {
            v.as_object()
                .map(|o| {
                    o.iter()
                        .filter_map(|(svc, at)| Some((svc.clone(), at.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut orders: BTreeMap<String, Order> = v["orders"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(svc, e)| Some((svc.clone(), Order::from_json(e)?)))
                    .collect()
            })
            .unwrap_or_default();
        let mut applied = times(&v["applied"]);
        // Files of older agents: orders not reached yet, and the time of the
        // newest one taken in (its local part was done).
        if let Some(o) = v["expects"].as_object() {
            for (svc, e) in o {
                let old = json!({"global_expect": e["target"], "global_expect_at": e["at"]});
                if let Some(order) = Order::from_json(&old) {
                    orders.entry(svc.clone()).or_insert(order);
                }
            }
        }
        for (svc, at) in times(&v["handled"]) {
            applied.entry(svc).or_insert(at);
        }
        // Older files have no `restarts`: no count in progress.
        let restarts = v["restarts"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(svc, rids)| {
                        let counts: BTreeMap<String, u32> = rids
                            .as_object()?
                            .iter()
                            .filter_map(|(rid, n)| {
                                Some((rid.clone(), u32::try_from(n.as_u64()?).ok()?))
                            })
                            .collect();
                        (!counts.is_empty()).then(|| (svc.clone(), counts))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Memory {
            start_failed,
            orders,
            applied,
            reached: times(&v["reached"]),
            restarts,
            boot: v["boot"].as_str().unwrap_or("").to_string(),
        }
    }

    fn to_json(&self) -> Value {
        let orders: serde_json::Map<String, Value> = self
            .orders
            .iter()
            .map(|(s, o)| (s.clone(), o.to_json()))
            .collect();
        let start_failed: serde_json::Map<String, Value> = self
            .start_failed
            .iter()
            .map(|(s, f)| {
                let v = json!({"count": f.count, "retry_at": f.retry_at, "reason": f.reason});
                (s.clone(), v)
            })
            .collect();
        json!({
            "start_failed": start_failed,
            "orders": orders,
            "applied": self.applied,
            "reached": self.reached,
            "restarts": self.restarts,
            "boot": self.boot,
        })
    }

    /// Written at once: the next daemon must find what this one decided.
    pub(crate) fn save(&self, paths: &Paths, log: &Logger) {
        let path = file(paths);
        let res = std::fs::create_dir_all(&paths.var).and_then(|()| {
            crate::fsutil::write_atomic(&path, format!("{:#}\n", self.to_json()).as_bytes())
        });
        if let Err(e) = res {
            log.error(format!(
                "cannot write {}: {e}: a restarted daemon would not know it",
                path.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_saved_is_loaded_back() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        let log = Logger::named("node", "test");
        let blank = Memory {
            boot: boot(),
            ..Memory::default()
        };
        assert_eq!(Memory::load(&paths, &log), blank);
        let mut m = blank.clone();
        m.start_failed.insert(
            "svc1".into(),
            Failure {
                count: 2,
                retry_at: 1_700_000_030.5,
                reason: "fs#0 failed".into(),
            },
        );
        m.orders.insert(
            "svc2".into(),
            Order {
                target: crate::order::Target::Placed("node2".into()),
                at: 1_700_000_000.25,
                by: "node3".into(),
            },
        );
        m.applied.insert("svc2".into(), 1_700_000_000.25);
        m.reached.insert("svc2".into(), 1_699_000_000.0);
        m.restarts.insert(
            "svc1".into(),
            [("app".to_string(), 2), ("fs#1".to_string(), 1)].into(),
        );
        m.save(&paths, &log);
        assert_eq!(Memory::load(&paths, &log), m);
    }

    #[test]
    fn a_file_from_before_restart_counts_loads_without_them() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        std::fs::create_dir_all(&paths.var).unwrap();
        std::fs::write(
            file(&paths),
            r#"{"start_failed": ["svc1"], "expects": {"svc3": {"target": "stopped", "at": 5.5}},
                "handled": {"svc3": 5.5},
                "restarts": {"svc2": {"app": -1, "ip#0": "x"}}}"#,
        )
        .unwrap();
        let log = Logger::named("node", "test");
        let m = Memory::load(&paths, &log);
        // A bare name from an older agent is due for a try at once.
        assert_eq!(m.start_failed["svc1"].retry_at, 0.0);
        // An order not reached under an older agent is still held.
        assert_eq!(m.orders["svc3"].target, crate::order::Target::Stopped);
        assert_eq!(m.applied["svc3"], 5.5);
        // Nonsense counts are dropped, not trusted.
        assert!(m.restarts.is_empty(), "{m:?}");
    }

    #[test]
    fn a_damaged_file_is_a_blank_memory() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        std::fs::create_dir_all(&paths.var).unwrap();
        std::fs::write(file(&paths), "{not json").unwrap();
        let log = Logger::named("node", "test");
        assert_eq!(Memory::load(&paths, &log).start_failed, BTreeMap::new());
    }

    #[test]
    fn restart_counts_of_another_boot_start_from_zero() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        let log = Logger::named("node", "test");
        let mut m = Memory::load(&paths, &log);
        m.restarts
            .insert("svc1".into(), [("app".to_string(), 1)].into());
        m.save(&paths, &log);
        assert_eq!(Memory::load(&paths, &log).restarts, m.restarts, "same boot");
        m.boot = "an-older-boot:12".into();
        m.save(&paths, &log);
        let again = Memory::load(&paths, &log);
        assert!(again.restarts.is_empty(), "{again:?}");
        assert_eq!(again.boot, boot());
    }
}
