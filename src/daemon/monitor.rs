//! The monitor: keeps this node's dataset in memory — every local service's
//! status, the node's load and frozen state — so that svcmon answers at once
//! instead of probing every resource of every service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::{ServiceData, Shared};
use crate::action::{self, Env};
use crate::config;
use crate::status::Status;

/// How often the dataset is rebuilt and the orchestrator looks.
pub const INTERVAL: Duration = Duration::from_secs(1);

pub fn run(env: &Env, shared: Arc<Shared>) {
    let mut orch = super::orchestrator::Orchestrator::new(env.paths);
    while !shared.stopping() {
        let started = Instant::now();
        refresh(env, &shared);
        if orch.step(env, &shared) {
            // Something was started: show it at once.
            refresh(env, &shared);
        }
        let rest = INTERVAL.saturating_sub(started.elapsed());
        // Sleep in short steps so that a stop is noticed quickly.
        let until = Instant::now() + rest;
        while !shared.stopping() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The service monitor state survives a refresh (the orchestrator sets it).
fn smon_of(shared: &Shared, name: &str) -> String {
    shared
        .node
        .lock()
        .ok()
        .and_then(|n| n.services.get(name).map(|s| s.smon.clone()))
        .unwrap_or_else(|| "idle".into())
}

pub fn refresh(env: &Env, shared: &Shared) {
    let mut services = std::collections::BTreeMap::new();
    for name in config::list_services(env.paths) {
        let data = match config::load(env.paths, &name, env.nodename) {
            Ok(cfg) => {
                let svc = crate::service::Service::build(
                    cfg,
                    env.nodename,
                    env.paths,
                    env.svcmgr_bin.clone(),
                );
                let frozen = action::is_frozen(env.paths, &name);
                let st = action::collect(&svc, env.runner, frozen);
                ServiceData {
                    avail: st.avail,
                    overall: st.overall,
                    frozen,
                    cluster_type: "failover".into(),
                    nodes: svc.info.nodes.clone(),
                    drpnodes: svc.info.drpnodes.clone(),
                    error: None,
                    orchestrate: svc.config.orchestrate.clone(),
                    smon: smon_of(shared, &name),
                }
            }
            Err(e) => ServiceData {
                avail: Status::Undef,
                overall: Status::Undef,
                frozen: false,
                cluster_type: "failover".into(),
                nodes: vec![env.nodename.to_string()],
                drpnodes: Vec::new(),
                error: Some(e.to_string()),
                orchestrate: "no".into(),
                smon: "idle".into(),
            },
        };
        services.insert(name, data);
    }
    let load15 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(0.0);
    if let Ok(mut node) = shared.node.lock() {
        node.services = services;
        node.load15 = load15;
        node.frozen = env.paths.frozen_node().exists();
    }
}
