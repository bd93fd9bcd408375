//! Cluster-wide orders (spec cluster-1.9 §3.5, "global expect"): an
//! administrator's `svcmgr -s svc stop|start|freeze|thaw` of an orchestrated
//! service reaches every node, not only the one it was typed on.
//!
//! The CLI does the local part itself and hands the order to its daemon
//! (`set_service_monitor` on the local socket). Every daemon advertises the
//! orders it holds in its heartbeat dataset with the time they were given;
//! a peer takes in an order newer than the last one it took in for that
//! service, so the newest order wins wherever two were given. Each node
//! then carries it out on its own instance:
//!
//! | target    | here                                  | reached when every instance heard is |
//! |-----------|---------------------------------------|--------------------------------------|
//! | `stopped` | freeze, then stop if up               | frozen and not up                    |
//! | `started` | thaw (the placement starts it)        | thawed, and up somewhere             |
//! | `frozen`  | freeze                                | frozen                               |
//! | `thawed`  | thaw                                  | thawed                               |
//!
//! Freezing before stopping is what keeps another daemon from starting the
//! service while it goes down. An order is dropped once reached, or after
//! [`ORDER_LIFETIME`] (logged): a node that never comes back must not keep
//! an order alive for ever.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::memory::{Expect, Memory};
use super::orchestrator::Pass;

use crate::action::{Env, freeze};
use crate::log::Logger;

pub const TARGETS: [&str; 4] = ["started", "stopped", "frozen", "thawed"];

/// An order not reached in this long is dropped.
pub const ORDER_LIFETIME_SECS: f64 = 600.0;

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Takes in the orders given here (`inbox`) and those peers advertise that
/// are newer than the last one taken in for the same local service.
/// Returns the services whose order changed.
pub fn take_in(
    memory: &mut Memory,
    inbox: Vec<(String, Expect)>,
    peers: &BTreeMap<String, Value>,
    local: &BTreeSet<String>,
) -> Vec<String> {
    let mut offers: Vec<(String, Expect)> = inbox;
    for data in peers.values() {
        let Some(services) = data["services"].as_object() else {
            continue;
        };
        for (svc, s) in services {
            let (Some(target), Some(at)) =
                (s["global_expect"].as_str(), s["global_expect_at"].as_f64())
            else {
                continue;
            };
            if TARGETS.contains(&target) {
                offers.push((
                    svc.clone(),
                    Expect {
                        target: target.to_string(),
                        at,
                    },
                ));
            }
        }
    }
    let mut changed = Vec::new();
    for (svc, e) in offers {
        if !local.contains(&svc) {
            continue;
        }
        let newer = memory.handled.get(&svc).is_none_or(|h| e.at > *h);
        if newer {
            memory.handled.insert(svc.clone(), e.at);
            memory.expects.insert(svc.clone(), e);
            changed.push(svc);
        }
    }
    changed
}

/// One instance as its node reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub frozen: bool,
    pub up: bool,
}

/// Whether `target` holds over the instances heard (this node's included).
pub fn reached(target: &str, instances: &[Instance]) -> bool {
    match target {
        "stopped" => instances.iter().all(|i| i.frozen && !i.up),
        "frozen" => instances.iter().all(|i| i.frozen),
        "thawed" => instances.iter().all(|i| !i.frozen),
        "started" => instances.iter().all(|i| !i.frozen) && instances.iter().any(|i| i.up),
        _ => true,
    }
}

fn is_up(avail: &str) -> bool {
    matches!(avail, "up" | "warn" | "stdby up")
}

/// Carries out this node's part of the orders it holds, and drops the
/// orders reached.
#[derive(Default)]
pub struct Orders {
    /// Orders whose local stop was already tried: a failed stop is not
    /// looped on (it is logged, and the order ages out).
    stop_tried: BTreeSet<(String, u64)>,
}

impl Orders {
    /// Returns true when something was frozen, thawed or stopped here: the
    /// caller decides nothing more on the statuses it had.
    pub fn step(&mut self, memory: &mut Memory, pass: &Pass) -> bool {
        let Pass {
            env,
            shared,
            node,
            peers,
            log,
        } = *pass;
        let inbox = shared
            .inbox
            .lock()
            .map(|mut i| std::mem::take(&mut *i))
            .unwrap_or_default();
        let local: BTreeSet<String> = node.services.keys().cloned().collect();
        let changed = take_in(memory, inbox, peers, &local);
        let mut dirty = !changed.is_empty();
        for svc in changed {
            if let Some(e) = memory.expects.get(&svc) {
                log.info(format!("{svc}: cluster-wide order '{}' taken in", e.target));
            }
        }
        let mut acted = false;
        for (svc, order) in memory.expects.clone() {
            let Some(s) = node.services.get(&svc) else {
                memory.expects.remove(&svc);
                dirty = true;
                continue;
            };
            if now() - order.at > ORDER_LIFETIME_SECS {
                log.warn(format!(
                    "{svc}: cluster-wide order '{}' not reached in {ORDER_LIFETIME_SECS} s: dropped (see each node's log)",
                    order.target
                ));
                memory.expects.remove(&svc);
                dirty = true;
                continue;
            }
            let frozen = freeze::is_frozen(env.paths, &svc);
            let want_frozen = matches!(order.target.as_str(), "stopped" | "frozen");
            if want_frozen != frozen {
                acted = true;
                if want_frozen {
                    freeze::freeze(env.paths, &svc, log);
                } else {
                    freeze::thaw(env.paths, &svc, log);
                }
            }
            let mut up_here = is_up(s.avail.as_str());
            let key = (svc.clone(), order.at.to_bits());
            if order.target == "stopped" && up_here && self.stop_tried.insert(key) {
                acted = true;
                up_here = !stop(env, &svc, log);
            }
            let mut instances = vec![Instance {
                frozen: freeze::is_frozen(env.paths, &svc),
                up: up_here,
            }];
            for data in peers.values() {
                let p = &data["services"][&svc];
                if p.is_object() {
                    instances.push(Instance {
                        frozen: p["frozen"] == true,
                        up: is_up(p["avail"].as_str().unwrap_or("")),
                    });
                }
            }
            if reached(&order.target, &instances) {
                log.info(format!(
                    "{svc}: cluster-wide order '{}' reached",
                    order.target
                ));
                memory.expects.remove(&svc);
                dirty = true;
            }
        }
        if dirty {
            memory.save(env.paths, log);
        }
        if let Ok(mut e) = shared.expects.lock() {
            *e = memory.expects.clone();
        }
        acted
    }
}

/// This node's instance stopped by the daemon; true when the stop worked.
fn stop(env: &Env, svc: &str, log: &Logger) -> bool {
    super::act::stop_frozen(env, svc, &format!("{svc}: cluster-wide stop"), log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn e(target: &str, at: f64) -> Expect {
        Expect {
            target: target.into(),
            at,
        }
    }

    fn local() -> BTreeSet<String> {
        ["svc1".to_string()].into()
    }

    #[test]
    fn the_newest_order_wins_and_is_taken_in_once() {
        let mut m = Memory::default();
        let peers: BTreeMap<String, Value> = [(
            "node2".to_string(),
            json!({"services": {"svc1": {"global_expect": "stopped", "global_expect_at": 20.0}}}),
        )]
        .into();
        let changed = take_in(
            &mut m,
            vec![("svc1".into(), e("started", 10.0))],
            &peers,
            &local(),
        );
        assert_eq!(changed, ["svc1", "svc1"]);
        assert_eq!(m.expects["svc1"], e("stopped", 20.0));
        // Reached and dropped here, still advertised by node2: not again.
        m.expects.clear();
        assert!(take_in(&mut m, vec![], &peers, &local()).is_empty());
        // An older order given later elsewhere loses too.
        let old = vec![("svc1".to_string(), e("started", 15.0))];
        assert!(take_in(&mut m, old, &BTreeMap::new(), &local()).is_empty());
    }

    #[test]
    fn orders_for_services_not_here_or_unknown_targets_are_ignored() {
        let mut m = Memory::default();
        let peers: BTreeMap<String, Value> = [(
            "node2".to_string(),
            json!({"services": {
                "other": {"global_expect": "stopped", "global_expect_at": 1.0},
                "svc1": {"global_expect": "purged", "global_expect_at": 1.0},
            }}),
        )]
        .into();
        assert!(take_in(&mut m, vec![], &peers, &local()).is_empty());
        assert!(m.expects.is_empty());
    }

    #[test]
    fn targets_are_reached_over_every_instance_heard() {
        let i = |frozen, up| Instance { frozen, up };
        assert!(!reached("stopped", &[i(true, false), i(true, true)]));
        assert!(!reached("stopped", &[i(true, false), i(false, false)]));
        assert!(reached("stopped", &[i(true, false), i(true, false)]));
        assert!(!reached("started", &[i(false, false), i(false, false)]));
        assert!(!reached("started", &[i(false, true), i(true, false)]));
        assert!(reached("started", &[i(false, true), i(false, false)]));
        assert!(reached("frozen", &[i(true, true), i(true, false)]));
        assert!(!reached("thawed", &[i(false, true), i(true, false)]));
    }
}
