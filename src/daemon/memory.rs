//! What the orchestrator must not forget when its daemon dies: which
//! services failed to start here (not retried until thawed), the
//! cluster-wide orders it has taken in, and how many times each failed
//! resource was restarted (restart.rs: a daemon restart must not give a
//! crashing resource a fresh set of restarts). Kept in `<var>/osvcd.state.json`,
//! rewritten atomically on every change, read once at start: a daemon
//! killed with SIGKILL and started again carries on where it was instead of
//! retrying a start that failed or forgetting an order half carried out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::log::Logger;
use crate::paths::Paths;

/// A cluster-wide order for one service (spec cluster-1.9 §3.5): its
/// target (`started`, `stopped`, `frozen`, `thawed`) and when it was given,
/// in seconds since the epoch, which orders two orders given on two nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    pub target: String,
    pub at: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Memory {
    pub start_failed: BTreeSet<String>,
    /// Orders not reached yet, by service.
    pub expects: BTreeMap<String, Expect>,
    /// The newest order taken in per service, reached or not: an order a
    /// peer still advertises is not taken in twice.
    pub handled: BTreeMap<String, f64>,
    /// Restarts done per service and rid since the resource was last seen up.
    pub restarts: BTreeMap<String, BTreeMap<String, u32>>,
}

fn file(paths: &Paths) -> PathBuf {
    paths.var.join("osvcd.state.json")
}

impl Memory {
    /// What the last daemon left; nothing when there is no file or it is
    /// unreadable (logged: the daemon then starts from a blank memory).
    pub fn load(paths: &Paths, log: &Logger) -> Memory {
        let path = file(paths);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) => return Memory::default(),
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
        let names = |v: &Value| -> BTreeSet<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let expects = v["expects"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(svc, e)| {
                        Some((
                            svc.clone(),
                            Expect {
                                target: e["target"].as_str()?.to_string(),
                                at: e["at"].as_f64()?,
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let handled = v["handled"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(svc, at)| Some((svc.clone(), at.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
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
            start_failed: names(&v["start_failed"]),
            expects,
            handled,
            restarts,
        }
    }

    fn to_json(&self) -> Value {
        let expects: serde_json::Map<String, Value> = self
            .expects
            .iter()
            .map(|(s, e)| (s.clone(), json!({"target": e.target, "at": e.at})))
            .collect();
        json!({
            "start_failed": self.start_failed,
            "expects": expects,
            "handled": self.handled,
            "restarts": self.restarts,
        })
    }

    /// Written at once: the next daemon must find what this one decided.
    pub fn save(&self, paths: &Paths, log: &Logger) {
        let path = file(paths);
        let res = std::fs::create_dir_all(&paths.var).and_then(|_| {
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
        assert_eq!(Memory::load(&paths, &log), Memory::default());
        let mut m = Memory::default();
        m.start_failed.insert("svc1".into());
        m.expects.insert(
            "svc2".into(),
            Expect {
                target: "stopped".into(),
                at: 1_700_000_000.25,
            },
        );
        m.handled.insert("svc2".into(), 1_700_000_000.25);
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
            r#"{"start_failed": ["svc1"], "expects": {}, "handled": {},
                "restarts": {"svc2": {"app": -1, "ip#0": "x"}}}"#,
        )
        .unwrap();
        let log = Logger::named("node", "test");
        let m = Memory::load(&paths, &log);
        assert!(m.start_failed.contains("svc1"));
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
        assert_eq!(Memory::load(&paths, &log), Memory::default());
    }
}
