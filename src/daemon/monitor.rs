//! The monitor: keeps this node's dataset in memory — every local service's
//! status, the node's load and frozen state — so that svcmon answers at once
//! instead of probing every resource of every service.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::orchestration::core::{Orchestrate, Smon};
use super::orchestration::restarts;
use super::state::{ServiceData, Shared};
use super::status_memory::Stamp;
use crate::action::{self, Env};
use crate::config;
use crate::placement::Placement;
use crate::status::Status;

/// How often the dataset is rebuilt and the orchestrator looks, unless the
/// cluster is set for a faster failover (`tick`).
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

/// How quickly a sleeping monitor notices `Shared::wake_monitor`.
const WAKE_STEP: Duration = Duration::from_millis(20);

/// The fastest pass: each one stats every service's files, so faster would
/// cost CPU on a node with many services for no gain a client can see.
pub(crate) const MIN_TICK: Duration = Duration::from_millis(100);

/// The pass period: a second, or the ready period or the fastest heartbeat
/// interval when they are shorter. A fixed second would round a 0.2 s ready
/// period up to 1 s and add up to a second to every takeover.
fn tick(orch: &super::orchestration::shell::Orchestrator, shared: &Shared) -> Duration {
    let beat = shared
        .hb_conf
        .lock()
        .ok()
        .and_then(|h| h.iter().map(|c| c.interval).min());
    [Some(INTERVAL), Some(orch.ready_period()), beat]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(INTERVAL)
        .max(MIN_TICK)
}

/// Probes a service whose files did not change at most this often.
pub(crate) const STATUS_INTERVAL: Duration = Duration::from_secs(10);

/// Probes a service last seen in `warn` at most this often: warn is most
/// often a service caught half-way (an application not serving yet just
/// after a start), and peers decide on what this node shows.
pub(crate) const UNSETTLED_INTERVAL: Duration = Duration::from_secs(2);

/// ... except a service with a resource the daemon restarts or monitors
/// (restarts.rs): a crashed application changes no file, so only a probe
/// sees it, and a failover that waits 10 s for it is 10 s of outage. The
/// cost is one full status of such a service every 2 s (for the tutorial's
/// service, a few launcher and mount checks: a few ms of CPU each time),
/// paid only by the services that asked for it.
pub(crate) const WATCHED_STATUS_INTERVAL: Duration = Duration::from_secs(2);

fn probe_every(prev: Option<&ServiceData>) -> Duration {
    match prev {
        Some(p) if !p.watched.is_empty() => WATCHED_STATUS_INTERVAL,
        Some(p) if p.avail == Status::Warn => UNSETTLED_INTERVAL,
        _ => STATUS_INTERVAL,
    }
}

/// `node_conf`: the node.conf in force (node_conf.rs), read by run.rs
/// alone; the ready period is taken from it at start, the replication's
/// peers and key at each pass.
pub(crate) fn run(env: &Env, shared: Arc<Shared>, node_conf: &super::node_conf::InForce) {
    let mut orch = super::orchestration::shell::Orchestrator::new(env.paths, &node_conf.get());
    let mut seen = Seen::default();
    let mut replicator = super::replicate::Replicator::default();
    while !shared.stopping() {
        let started = Instant::now();
        refresh(env, &shared, &mut seen);
        replicator.step(env, &shared, &node_conf.get());
        // Once a stop is asked for, nothing new is started here.
        if !shared.stop_requested() && orch.step(env, &shared, started) {
            // Something was started: show it at once.
            seen.clear();
            refresh(env, &shared, &mut seen);
        }
        let rest = tick(&orch, &shared).saturating_sub(started.elapsed());
        // Sleep in short steps so that a stop is noticed quickly; and no
        // later than a waiting takeover may go ahead (a proof maturing, a
        // ready period ending), which a whole tick would add to the outage.
        let mut until = Instant::now() + rest;
        if let Some(w) = orch.wake() {
            until = until.min(w.max(started + MIN_TICK));
        }
        // Short steps: a stop, or a lost peer (a takeover to decide), is
        // acted on within WAKE_STEP instead of at the end of the tick.
        while !shared.stopping() && !shared.monitor_woken() && Instant::now() < until {
            std::thread::sleep((until - Instant::now()).min(WAKE_STEP));
        }
    }
}

/// What each service looked like at its last probe: its files' times and
/// frozen flags. Every svcmgr action writes the service's log, so a changed
/// log means something happened and the status is probed again at once;
/// otherwise every STATUS_INTERVAL. Probing every service every second
/// would cost a node with many services most of a CPU.
#[derive(Default)]
pub(crate) struct Seen {
    probes: BTreeMap<String, (Instant, Stamp)>,
}

impl Seen {
    fn clear(&mut self) {
        self.probes.clear();
    }
}

/// The service monitor state survives a refresh (the orchestrator sets it).
fn smon_of(shared: &Shared, name: &str) -> Smon {
    shared
        .node
        .lock()
        .ok()
        .and_then(|n| n.services.get(name).map(|s| s.smon))
        .unwrap_or_default()
}

/// The orchestrator's note survives a refresh too.
fn why_of(shared: &Shared, name: &str) -> Option<String> {
    shared
        .node
        .lock()
        .ok()
        .and_then(|n| n.services.get(name).and_then(|s| s.why.clone()))
}

pub(crate) fn refresh(env: &Env, shared: &Shared, seen: &mut Seen) {
    let previous = shared
        .node
        .lock()
        .map(|n| n.services.clone())
        .unwrap_or_default();
    let mut services = BTreeMap::new();
    let names = config::list_services(env.paths);
    let cache = crate::exec::ProbeCache::new();
    seen.probes.retain(|n, _| names.contains(n));
    shared.statuses.retain(&names);
    for name in names {
        let stamp = Stamp::now(env.paths, &name);
        let every = probe_every(previous.get(&name));
        let fresh = seen
            .probes
            .get(&name)
            .is_some_and(|(at, st)| *st == stamp && at.elapsed() < every);
        if let (true, Some(prev)) = (fresh, previous.get(&name)) {
            services.insert(name, prev.clone());
            continue;
        }
        let probed_at = Instant::now();
        seen.probes.insert(name.clone(), (probed_at, stamp.clone()));
        let conf_stamp = config::find_file(env.paths, &name)
            .ok()
            .and_then(|f| super::replicate::stamp(&f));
        let data = match config::load(env.paths, &name, env.nodename) {
            Ok(cfg) => {
                let svc = crate::service::Service::build(
                    cfg,
                    env.nodename,
                    env.paths,
                    env.svcmgr_bin.clone(),
                );
                let frozen = action::is_frozen(env.paths, &name);
                let st = action::collect_with(&svc, env.runner, frozen, &cache);
                let data = ServiceData {
                    avail: st.avail,
                    overall: st.overall,
                    frozen,
                    cluster_type: "failover".into(),
                    nodes: svc.info.nodes.clone(),
                    drpnodes: svc.info.drpnodes.clone(),
                    error: None,
                    // The config loader let only these through.
                    orchestrate: Orchestrate::parse(&svc.config.orchestrate).unwrap_or_default(),
                    placement: Placement::parse(&svc.config.placement),
                    smon: smon_of(shared, &name),
                    config: conf_stamp,
                    watched: restarts::watched(&svc, &st),
                    monitor_action: restarts::monitor_action(&svc.config.monitor_action),
                    why: why_of(shared, &name),
                };
                // `print status` answers from this as long as the monitor
                // would not probe again either: the interval is the one
                // this very probe sets (a warn is probed again sooner).
                let every = probe_every(Some(&data));
                shared.statuses.keep(&name, probed_at, stamp, every, st);
                data
            }
            Err(e) => ServiceData {
                avail: Status::Undef,
                overall: Status::Undef,
                frozen: false,
                cluster_type: "failover".into(),
                nodes: vec![env.nodename.to_string()],
                drpnodes: Vec::new(),
                error: Some(e.to_string()),
                orchestrate: Orchestrate::No,
                placement: Placement::NodesOrder,
                smon: Smon::Idle,
                config: conf_stamp,
                watched: Vec::new(),
                monitor_action: restarts::monitor_action(""),
                why: None,
            },
        };
        services.insert(name, data);
    }
    let load15 = crate::node::load15();
    if let Ok(mut node) = shared.node.lock() {
        node.services = services;
        node.load15 = load15;
        node.frozen = env.paths.frozen_node().exists();
    }
    shared
        .probed
        .store(true, std::sync::atomic::Ordering::Relaxed);
}
