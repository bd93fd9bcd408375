//! The orchestrator (spec cluster-1.9 §3): starts `orchestrate = ha`
//! services where they should run, and takes them over when their node is
//! lost — but only when that node is proven down.
//!
//! Proof (the split-brain rule): a cluster node no heartbeat hears is
//! counted down only when a disk heartbeat is configured — a node alive
//! but cut from the network still rewrites its disk slot, so it would
//! still be heard — or when its `[stonith#<node>] cmd` fenced it (rc 0),
//! or when this node won a quorum vote and the grace given to the
//! minority to fence itself has passed (quorum.rs).
//! Otherwise a silent node may be running the service behind a cut link:
//! nothing it may run is started here, and the log says why. Nothing is decided before the heartbeats
//! had time to hear every node after the daemon started.
//!
//! Placement: the first node of the service's `nodes` that is up (this
//! node, or a peer heard) and not frozen. The leader waits `ready_period`
//! (`[node] ready_period`, default 1 s) with the service still down
//! everywhere, then starts it; a failed start is not retried until the
//! service is frozen and thawed, even across a daemon restart (memory.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::expect::Orders;
use super::memory::Memory;
use super::placement;
use super::state::{NodeData, Shared};
use crate::action::{Action, Env};
use crate::config::edit;
use crate::exec::{self, Cmd, ErrLevel};
use crate::log::Logger;
use crate::paths::Paths;

pub const DEFAULT_READY_PERIOD: Duration = Duration::from_secs(1);

/// What one pass of the orchestrator sees, as its orders (expect.rs) and
/// restarts (restart.rs) steps read it.
#[derive(Clone, Copy)]
pub struct Pass<'a> {
    pub env: &'a Env<'a>,
    pub shared: &'a Shared,
    /// This node's dataset, as the monitor last built it.
    pub node: &'a NodeData,
    /// The peers heard, by name.
    pub peers: &'a BTreeMap<String, Value>,
    pub log: &'a Logger,
}

pub struct Orchestrator {
    ready_period: Duration,
    ready_since: BTreeMap<String, Instant>,
    /// Failed starts and cluster-wide orders, kept on disk (memory.rs).
    memory: Memory,
    orders: Orders,
    /// Restarts of failed resources and the monitor action (restart.rs).
    restarter: super::restart::Restarter,
    /// `orchestrate = start` services seen running once: no failover.
    seen_running: BTreeSet<String>,
    /// Services whose start is blocked for want of proof: logged once.
    blocked: BTreeSet<String>,
    /// Nodes fenced by their stonith command (true) or whose fencing
    /// failed (false): each tried once until the node is heard again.
    fenced: BTreeMap<String, bool>,
    log: Logger,
}

impl Orchestrator {
    pub fn new(paths: &Paths) -> Orchestrator {
        let ready_period = edit::get(&paths.node_conf(), "node.ready_period")
            .ok()
            .flatten()
            .and_then(|v| super::hb::parse_secs(&v))
            .unwrap_or(DEFAULT_READY_PERIOD);
        let log = Logger::named("node", "orchestrator");
        Orchestrator {
            ready_period,
            ready_since: BTreeMap::new(),
            memory: Memory::load(paths, &log),
            orders: Orders::default(),
            restarter: super::restart::Restarter::default(),
            seen_running: BTreeSet::new(),
            blocked: BTreeSet::new(),
            fenced: BTreeMap::new(),
            log,
        }
    }

    pub fn ready_period(&self) -> Duration {
        self.ready_period
    }

    /// One pass over the local services; true when a start was attempted.
    pub fn step(&mut self, env: &Env, shared: &Shared) -> bool {
        let hbs = shared.hb_conf.lock().map(|h| h.clone()).unwrap_or_default();
        let settle =
            hbs.iter().map(|h| h.timeout).max().unwrap_or_default() * 2 + Duration::from_secs(1);
        if shared.started.elapsed() < settle {
            return false;
        }
        let disk_proof = hbs.iter().any(|h| h.hb_type == "disk");
        let quorum_down = shared
            .quorum_down
            .lock()
            .map(|q| q.clone())
            .unwrap_or_default();
        let by_quorum = |n: &str| quorum_down.get(n).is_some_and(|t| *t <= Instant::now());
        let peers: BTreeMap<String, Value> = shared
            .peers
            .lock()
            .map(|p| p.iter().map(|(n, p)| (n.clone(), p.data.clone())).collect())
            .unwrap_or_default();
        let node = shared.node.lock().map(|n| n.clone()).unwrap_or_default();
        let local = shared.nodename.as_str();
        // What placement ranks: the peers' datasets and this node's.
        let local_dataset = shared.local_dataset();
        let dataset = |n: &str| {
            if n == local {
                Some(&local_dataset)
            } else {
                peers.get(n)
            }
        };
        // A node heard again may be fenced again if it falls silent later.
        self.fenced.retain(|n, _| !peers.contains_key(n));
        let pass = Pass {
            env,
            shared,
            node: &node,
            peers: &peers,
            log: &self.log,
        };
        // The orders, then the restarts, may freeze, thaw, stop or start
        // something: then decide on fresh statuses at the next pass.
        if self.orders.step(&mut self.memory, &pass) || self.restarter.step(&mut self.memory, &pass)
        {
            return true;
        }
        let mut attempted = false;
        for (name, svc) in &node.services {
            if !matches!(svc.orchestrate.as_str(), "ha" | "start") || svc.error.is_some() {
                continue;
            }
            if svc.frozen || node.frozen {
                // Freezing is how an operator clears a failed start.
                if self.memory.start_failed.remove(name) {
                    self.memory.save(env.paths, &self.log);
                }
                self.ready_since.remove(name);
                continue;
            }
            if self.memory.start_failed.contains(name) {
                set_smon(shared, name, "start failed");
                continue;
            }
            let up = |s: &str| matches!(s, "up" | "warn" | "stdby up");
            let elsewhere = peers
                .values()
                .any(|p| up(p["services"][name]["avail"].as_str().unwrap_or("")));
            if up(svc.avail.as_str()) || elsewhere {
                self.seen_running.insert(name.clone());
                self.ready_since.remove(name);
                self.blocked.remove(name);
                set_smon(shared, name, "idle");
                continue;
            }
            if svc.orchestrate == "start" && self.seen_running.contains(name) {
                continue;
            }
            // A peer whose start failed is passed over (placement.rs), so
            // that the next node tries instead of the service staying down.
            if placement::leader(name, &svc.nodes, &svc.placement, dataset) != Some(local) {
                self.ready_since.remove(name);
                continue;
            }
            // This node would start it: every silent node must be proven down.
            let silent: Vec<&String> = svc
                .nodes
                .iter()
                .filter(|n| *n != local && !peers.contains_key(*n))
                .collect();
            // A node whose daemon was stopped on purpose still runs its
            // services: neither its silence nor fencing it is a reason to
            // start them here (fencing would turn an agent upgrade into an
            // outage).
            let resting: Vec<String> = silent
                .iter()
                .filter(|n| shared.in_maintenance(n))
                .map(|n| n.to_string())
                .collect();
            if !resting.is_empty() {
                if self.blocked.insert(name.clone()) {
                    self.log.warn(format!(
                        "{name}: not started here: {} announced maintenance (its agent daemon was stopped on purpose) and may still run it",
                        resting.join(", ")
                    ));
                }
                continue;
            }
            let unproven: Vec<String> = silent
                .into_iter()
                .filter(|n| !disk_proof && !by_quorum(n) && !self.fence(env, n))
                .cloned()
                .collect();
            if !unproven.is_empty() {
                if self.blocked.insert(name.clone()) {
                    self.log.warn(format!(
                        "{name}: not started here: {} may still run it (no heartbeat hears it, and neither a disk heartbeat, quorum nor stonith proves it down)",
                        unproven.join(", ")
                    ));
                }
                continue;
            }
            let since = *self
                .ready_since
                .entry(name.clone())
                .or_insert_with(Instant::now);
            if since.elapsed() < self.ready_period {
                set_smon(shared, name, "ready");
                continue;
            }
            attempted = true;
            self.start(env, shared, name, &svc.nodes, since);
        }
        attempted
    }

    /// `[stonith#<node>] cmd` in node.conf, run once: rc 0 proves the node
    /// down (fenced). No command, or a failure, proves nothing.
    fn fence(&mut self, env: &Env, node: &str) -> bool {
        if let Some(done) = self.fenced.get(node) {
            return *done;
        }
        let cmd = edit::get(&env.paths.node_conf(), &format!("stonith#{node}.cmd"))
            .ok()
            .flatten()
            .unwrap_or_default();
        let argv: Vec<&str> = cmd.split_whitespace().collect();
        if argv.is_empty() {
            return false;
        }
        self.log.warn(format!("fencing silent node {node}: {cmd}"));
        let c = Cmd::new(argv.iter().copied()).timeout(Duration::from_secs(120));
        let ok =
            exec::run_logged(env.runner, &self.log, &c, ErrLevel::Default).is_ok_and(|o| o.ok());
        if ok {
            self.log.info(format!("node {node} fenced"));
        } else {
            self.log.error(format!(
                "fencing node {node} failed: it may still run its services"
            ));
        }
        self.fenced.insert(node.to_string(), ok);
        ok
    }

    fn start(&mut self, env: &Env, shared: &Shared, name: &str, nodes: &[String], ready: Instant) {
        set_smon(shared, name, "starting");
        // Detection: from the last heartbeat heard from the lost peer to the
        // moment this node was found to be the one to start the service.
        let detection = shared
            .lost_at
            .lock()
            .ok()
            .and_then(|l| nodes.iter().filter_map(|n| l.get(n)).max().copied())
            .filter(|t| *t <= ready)
            .map(|t| ready.duration_since(t));
        let t0 = Instant::now();
        let started = super::act::run(env, name, Action::Start, Default::default());
        let took = t0.elapsed();
        let phases = format!(
            "detection {}, ready wait {:.2}s, start {:.2}s",
            detection.map_or("n/a".to_string(), |d| format!("{:.2}s", d.as_secs_f64())),
            t0.duration_since(ready).as_secs_f64(),
            took.as_secs_f64()
        );
        self.ready_since.remove(name);
        if started {
            self.log.info(format!("{name}: started here ({phases})"));
            set_smon(shared, name, "idle");
        } else {
            self.log.error(format!("{name}: start failed here ({phases}): not retried until the service is frozen and thawed"));
            self.memory.start_failed.insert(name.to_string());
            self.memory.save(env.paths, &self.log);
            set_smon(shared, name, "start failed");
        }
    }
}

pub(super) fn set_smon(shared: &Shared, name: &str, state: &str) {
    if let Ok(mut n) = shared.node.lock()
        && let Some(s) = n.services.get_mut(name)
    {
        s.smon = state.to_string();
    }
}
