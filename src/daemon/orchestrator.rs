//! The orchestrator (docs/orchestration.md): starts `orchestrate = ha`
//! services where they should run, and takes them over when their node is
//! lost, but only when that node is proven down (proof.rs says on what
//! evidence). docs/orchestration.md tells the whole story; here is the
//! order of the decisions for one service, each pass:
//!
//! 1. Frozen (the instance or the node): nothing; a freeze also clears
//!    this node's start failures, so that freeze then thaw retries at once.
//! 2. Up here or on a peer: nothing (`idle`); its failures are history.
//! 3. A start failure here not expired yet (failures.rs): `start failed`,
//!    which passes the placement to the next node.
//! 4. A start refused here for a conflict (a resource active elsewhere):
//!    looked at again after a few seconds, without passing the placement.
//! 5. The leader (placement.rs, or the node a `switch --to` order names)
//!    is another node: nothing.
//! 6. This node is the leader: with its watchdog armed, every disk
//!    heartbeat must be writing (a node whose slot stands still may be
//!    taken for dead); every silent node of the service must be proven
//!    down (proof.rs; stonith is tried last, as it acts); then `ready` for
//!    `[node] ready_period`, then `starting`. Nothing is decided before the
//!    heartbeats had time to hear every node after the daemon started.
//!
//! What blocks a start is said once in the log and always in the
//! service's `why` (svcmon, print status).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::expect::{self, Orders};
use super::failures;
use super::hb::{HbConf, HbMedium};
use super::memory::Memory;
use super::order;
use super::placement;
use super::proof::{self, Verdict};
use super::state::{NodeData, ServiceData, Shared, Ticks};
use crate::action::{Action, Env, Refused};
use crate::config::node::NodeConfig;
use crate::exec::{self, Cmd, ErrLevel};
use crate::log::Logger;
use crate::paths::Paths;

pub use crate::config::node::DEFAULT_READY_PERIOD;

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
    /// Start failures and cluster-wide orders, kept on disk (memory.rs).
    memory: Memory,
    orders: Orders,
    /// Restarts of failed resources and the monitor action (restart.rs).
    restarter: super::restart::Restarter,
    /// `orchestrate = start` services seen running once: no failover.
    seen_running: BTreeSet<String>,
    /// What was last logged of a service not started here: each reason
    /// is logged once, not every pass.
    said: BTreeMap<String, String>,
    /// Starts refused because a resource answered elsewhere: the rid, and
    /// when to look again.
    conflicts: BTreeMap<String, (String, Instant)>,
    /// Nodes fenced by their stonith command (true) or whose fencing
    /// failed (false): each tried once until the node is heard again.
    fenced: BTreeMap<String, bool>,
    log: Logger,
}

/// What a pass decided for one service here.
enum Decision {
    /// Nothing to do; the note, if any, says why it does not run here.
    Wait(Option<String>),
    /// Blocked: the reason, logged once and shown.
    Blocked(String),
    /// Start it now; `ready` is when the ready period began.
    Start { ready: Instant },
}

impl Orchestrator {
    pub fn new(paths: &Paths) -> Orchestrator {
        let ready_period = NodeConfig::load_or_empty(&paths.node_conf())
            .node
            .ready_period;
        let log = Logger::named("node", "orchestrator");
        Orchestrator {
            ready_period,
            ready_since: BTreeMap::new(),
            memory: Memory::load(paths, &log),
            orders: Orders::default(),
            restarter: super::restart::Restarter::default(),
            seen_running: BTreeSet::new(),
            said: BTreeMap::new(),
            conflicts: BTreeMap::new(),
            fenced: BTreeMap::new(),
            log,
        }
    }

    pub fn ready_period(&self) -> Duration {
        self.ready_period
    }

    /// One pass over the local services; true when a start was attempted.
    /// `started` is when the monitor's pass began: the time proofs are
    /// judged at and the ready period is measured in ([`View::now`]).
    pub fn step(&mut self, env: &Env, shared: &Shared, started: Instant) -> bool {
        let hbs = shared.hb_conf.lock().map(|h| h.clone()).unwrap_or_default();
        let settle =
            hbs.iter().map(|h| h.timeout).max().unwrap_or_default() * 2 + Duration::from_secs(1);
        if shared.started.elapsed() < settle {
            return false;
        }
        let peers: BTreeMap<String, Value> = shared
            .peers
            .lock()
            .map(|p| p.iter().map(|(n, p)| (n.clone(), p.data.clone())).collect())
            .unwrap_or_default();
        // Read with the peers: a peer heard again in the middle of the
        // pass must not look lost but never heard.
        let lost = shared.lost.lock().map(|l| l.clone()).unwrap_or_default();
        let slots = shared.slots.lock().map(|s| s.clone()).unwrap_or_default();
        let node = shared.node.lock().map(|n| n.clone()).unwrap_or_default();
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
        let view = View {
            shared,
            hbs: &hbs,
            node: &node,
            peers: &peers,
            local: shared.local_dataset(),
            ticks: shared.ticks(),
            lost,
            slots,
            now: started,
            wall: order::now(),
        };
        let mut attempted = false;
        for (name, svc) in &node.services {
            let why = match self.decide(env, &view, name, svc) {
                Decision::Wait(note) => {
                    self.said.remove(name);
                    note
                }
                Decision::Blocked(why) => {
                    if self.said.get(name) != Some(&why) {
                        self.log.warn(format!("{name}: not started here: {why}"));
                        self.said.insert(name.clone(), why.clone());
                    }
                    Some(why)
                }
                // The pass's view is as old as the starts made before this
                // one in it (a second each): a peer may have started this
                // service meanwhile. Look again just before.
                Decision::Start { .. } if up_on_a_peer(shared, name) => None,
                Decision::Start { ready } => {
                    self.said.remove(name);
                    attempted = true;
                    self.start(env, shared, name, &svc.nodes, ready)
                }
            };
            set_why(shared, name, why);
        }
        attempted
    }

    fn decide(&mut self, env: &Env, v: &View, name: &str, svc: &ServiceData) -> Decision {
        use Decision::*;
        if !matches!(svc.orchestrate.as_str(), "ha" | "start") || svc.error.is_some() {
            return Wait(None);
        }
        let shared = v.shared;
        if svc.frozen || v.node.frozen {
            // Freezing is how an operator clears a failed start.
            if self.memory.start_failed.remove(name).is_some() {
                self.memory.save(env.paths, &self.log);
            }
            self.ready_since.remove(name);
            self.conflicts.remove(name);
            set_smon(shared, name, "idle");
            return Wait(self.frozen_note(name, v.node.frozen));
        }
        let up_on: Vec<&String> = v
            .peers
            .iter()
            .filter(|(_, p)| is_up(p["services"][name]["avail"].as_str().unwrap_or("")))
            .map(|(n, _)| n)
            .collect();
        let up_here = is_up(svc.avail.as_str());
        if up_here || !up_on.is_empty() {
            self.seen_running.insert(name.to_string());
            self.ready_since.remove(name);
            self.conflicts.remove(name);
            // Running somewhere: a failure here is history, and must not
            // hold this node back when that node is lost later.
            if self.memory.start_failed.remove(name).is_some() {
                self.memory.save(env.paths, &self.log);
            }
            set_smon(shared, name, "idle");
            let also: Vec<&str> = up_on.iter().map(|n| n.as_str()).collect();
            return Wait(
                (up_here && !also.is_empty())
                    .then(|| format!("also up on {}: active on two nodes", also.join(", "))),
            );
        }
        if svc.orchestrate == "start" && self.seen_running.contains(name) {
            return Wait(None);
        }
        if let Some(f) = self.memory.start_failed.get(name)
            && f.active(v.wall)
        {
            self.ready_since.remove(name);
            set_smon(shared, name, "start failed");
            return Wait(Some(format!(
                "start failed here ({}), retry in {}s",
                f.reason,
                f.retry_in(v.wall)
            )));
        }
        set_smon(shared, name, "idle");
        if let Some((rid, at)) = self.conflicts.get(name)
            && v.now < *at
        {
            return Wait(Some(format!(
                "{rid} conflict: active on a host this node cannot see; looked at again in {}s",
                at.duration_since(v.now).as_secs() + 1
            )));
        }
        let local = shared.nodename.as_str();
        // Under an order that thaws every instance, as every node will
        // see them once it took the order in (expect::thawing).
        let instances = if expect::thawing(&self.memory, name) {
            placement::Instances::Thawing
        } else {
            placement::Instances::AsTheyAre
        };
        let dataset = |n: &str| {
            if n == local {
                Some(&v.local)
            } else {
                v.peers.get(n)
            }
        };
        // A switch --to steers the placement while its node can take it.
        let placed = expect::placed_on(&self.memory, name, v.wall).filter(|n| {
            let only = [n.to_string()];
            placement::leader(name, &only, &svc.placement, instances, dataset).is_some()
        });
        let leader = match placed {
            Some(n) => svc.nodes.iter().find(|m| *m == n).map(String::as_str),
            None => placement::leader(name, &svc.nodes, &svc.placement, instances, dataset),
        };
        match leader {
            Some(l) if l == local => {}
            Some(_) => {
                self.ready_since.remove(name);
                return Wait(None);
            }
            None => {
                self.ready_since.remove(name);
                return Wait(Some(self.no_candidate_note(name, v.wall)));
            }
        }
        if let Some(why) = disk_not_written(v) {
            self.ready_since.remove(name);
            return Blocked(why);
        }
        // This node would start it: every silent node must be proven down.
        let silent: Vec<&String> = svc
            .nodes
            .iter()
            .filter(|n| *n != local && !v.peers.contains_key(*n))
            .collect();
        for n in silent {
            match proof::judge(&evidence(v, n), v.now) {
                Verdict::Down(_) => {}
                Verdict::Resting => {
                    self.ready_since.remove(name);
                    return Blocked(format!(
                        "{n} announced maintenance (its agent daemon was stopped on purpose) and may still run it"
                    ));
                }
                Verdict::At(at, by) => {
                    // The ready period runs meanwhile: it need only have
                    // passed too when the proof holds.
                    self.ready_since.entry(name.to_string()).or_insert(v.now);
                    set_smon(shared, name, "ready");
                    return Wait(Some(format!(
                        "{n} silent: proven down in {:.1}s ({by})",
                        at.duration_since(v.now).as_secs_f64()
                    )));
                }
                Verdict::Unproven(why) => {
                    if !self.fence(env, n) {
                        self.ready_since.remove(name);
                        return Blocked(format!(
                            "{n} may still run it (no heartbeat hears it, and nothing proves it down: {why}; no stonith command fenced it)"
                        ));
                    }
                }
            }
        }
        let since = *self.ready_since.entry(name.to_string()).or_insert(v.now);
        if v.now.duration_since(since) < self.ready_period {
            set_smon(shared, name, "ready");
            return Wait(None);
        }
        Start { ready: since }
    }

    /// Why a frozen instance does not run: said only when an order or the
    /// node froze it (a service created frozen shows `*`, which says it).
    fn frozen_note(&self, name: &str, node_frozen: bool) -> Option<String> {
        if node_frozen {
            return Some("this node is frozen (nodemgr thaw)".into());
        }
        let o = self.memory.orders.get(name)?;
        o.target
            .freezes()
            .then(|| format!("frozen by order '{}' {}", o.target.as_string(), o.given()))
    }

    /// No node can take the service: say why from here.
    fn no_candidate_note(&self, name: &str, wall: f64) -> String {
        match self.memory.start_failed.get(name) {
            Some(f) => format!(
                "start failed on every node that can run it; retry here in {}s",
                f.retry_in(wall)
            ),
            None => "no node can run it now (frozen, failed, or not heard)".into(),
        }
    }

    /// `[stonith#<node>] cmd` in node.conf, run once: rc 0 proves the node
    /// down (fenced). No command, or a failure, proves nothing.
    fn fence(&mut self, env: &Env, node: &str) -> bool {
        if let Some(done) = self.fenced.get(node) {
            return *done;
        }
        let cmd = match crate::node::stonith_cmd(env.paths, node) {
            Ok(cmd) => cmd.unwrap_or_default(),
            // node.conf is being edited into something invalid (run.rs
            // logs why, once): no command runs from it, and nothing is
            // remembered in `fenced`, so the next step tries again.
            Err(_) => return false,
        };
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

    /// Starts the service here; returns the note to show.
    fn start(
        &mut self,
        env: &Env,
        shared: &Shared,
        name: &str,
        nodes: &[String],
        ready: Instant,
    ) -> Option<String> {
        set_smon(shared, name, "starting");
        // Detection: from the last heartbeat heard from the lost peer to the
        // moment this node was found to be the one to start the service.
        let detection = shared
            .lost
            .lock()
            .ok()
            .and_then(|l| nodes.iter().filter_map(|n| l.get(n).map(|l| l.at)).max())
            .filter(|t| *t <= ready)
            .map(|t| ready.duration_since(t));
        let t0 = Instant::now();
        let outcome = super::act::outcome(env, name, Action::Start, Default::default());
        let took = t0.elapsed();
        let phases = format!(
            "detection {}, ready wait {:.2}s, start {:.2}s",
            detection.map_or("n/a".to_string(), |d| format!("{:.2}s", d.as_secs_f64())),
            t0.duration_since(ready).as_secs_f64(),
            took.as_secs_f64()
        );
        self.ready_since.remove(name);
        set_smon(shared, name, "idle");
        if outcome.code == crate::action::OK {
            self.log.info(format!("{name}: started here ({phases})"));
            if self.memory.start_failed.remove(name).is_some() {
                self.memory.save(env.paths, &self.log);
            }
            return None;
        }
        if let Some(Refused::Conflict(rid)) = outcome.refused {
            // Not a failure of this node: the service, or what holds its
            // address, runs somewhere this node cannot see.
            let again = failures::CONFLICT_RETRY;
            self.log.warn(format!(
                "{name}: start refused here ({phases}): {rid} is active on another host; looked at again in {}s",
                again.as_secs()
            ));
            self.conflicts
                .insert(name.to_string(), (rid, Instant::now() + again));
            return None;
        }
        let reason = match outcome.refused {
            Some(Refused::Failed(rid)) => format!("{rid} failed"),
            _ => "the start failed".to_string(),
        };
        let wall = order::now();
        let f = failures::record(self.memory.start_failed.get(name), wall, &reason);
        self.log.error(format!(
            "{name}: start failed here ({phases}): {reason}: the next node may take it over; retried here in {}s (see {})",
            f.retry_in(wall),
            env.paths.svc_log(name).display()
        ));
        let note = format!(
            "start failed here ({reason}), retry in {}s",
            f.retry_in(wall)
        );
        self.memory.start_failed.insert(name.to_string(), f);
        self.memory.save(env.paths, &self.log);
        set_smon(shared, name, "start failed");
        Some(note)
    }
}

/// What the per-service decisions of one pass read.
struct View<'a> {
    shared: &'a Shared,
    hbs: &'a [HbConf],
    node: &'a NodeData,
    peers: &'a BTreeMap<String, Value>,
    /// This node's dataset, as the peers see it.
    local: Value,
    ticks: BTreeMap<String, Ticks>,
    /// Read with `peers`.
    lost: BTreeMap<String, proof::Lost>,
    slots: BTreeMap<String, BTreeMap<String, proof::SlotSeen>>,
    /// When the monitor's pass began, not when this view was built: the
    /// passes begin a tick apart, while the probes before the view take
    /// varying time, and a ready period measured between two views fell
    /// a few milliseconds short of the tick and cost a whole extra tick
    /// (a 2 s ready wait in 4 of 10 failovers). Judging a proof at the
    /// pass's start is, if anything, later than needed: never early.
    now: Instant,
    /// Wall-clock seconds, for failure records.
    wall: f64,
}

fn is_up(avail: &str) -> bool {
    matches!(avail, "up" | "warn" | "stdby up")
}

/// A peer heard now reports `name` up.
fn up_on_a_peer(shared: &Shared, name: &str) -> bool {
    shared.peers.lock().is_ok_and(|p| {
        p.values()
            .any(|p| is_up(p.data["services"][name]["avail"].as_str().unwrap_or("")))
    })
}

/// With the watchdog armed, a disk heartbeat that does not write would
/// make this node look dead to its peers while it runs the service (and
/// its watchdog would reset it at once): say so instead of starting.
fn disk_not_written(v: &View) -> Option<String> {
    v.shared.watchdog.lock().ok()?.as_ref()?;
    let stale: Vec<&str> = v
        .hbs
        .iter()
        .filter(|h| h.medium == HbMedium::Disk)
        .filter(|h| {
            let limit = h.interval + super::watchdog::slack(h.interval);
            v.ticks
                .get(&h.id)
                .and_then(|t| t.written)
                .is_none_or(|w| v.now.saturating_duration_since(w) > limit)
        })
        .map(|h| h.id.as_str())
        .collect();
    (!stale.is_empty()).then(|| {
        format!(
            "{} cannot write its disk slot: this node would look dead to its peers",
            stale.join(", ")
        )
    })
}

/// Everything this node knows of silent node `n` (proof.rs judges it).
fn evidence(v: &View, n: &str) -> proof::Evidence {
    let disks = v
        .hbs
        .iter()
        .filter(|h| h.medium == HbMedium::Disk)
        .map(|h| {
            let limit = h.interval + super::watchdog::slack(h.interval);
            proof::Disk {
                id: h.id.clone(),
                rx_fresh: v
                    .ticks
                    .get(&h.id)
                    .and_then(|t| t.scanned)
                    .is_some_and(|s| v.now.saturating_duration_since(s) <= limit),
                timeout: h.timeout,
                slot: v.slots.get(&h.id).and_then(|s| s.get(n)).copied(),
            }
        })
        .collect();
    proof::Evidence {
        maintenance: v.shared.in_maintenance(n),
        lost: v.lost.get(n).cloned(),
        disks,
        quorum_down_at: v
            .shared
            .quorum_down
            .lock()
            .ok()
            .and_then(|q| q.get(n).copied()),
    }
}

/// The note svcmon and print status show for a service here.
fn set_why(shared: &Shared, name: &str, why: Option<String>) {
    if let Ok(mut n) = shared.node.lock()
        && let Some(s) = n.services.get_mut(name)
    {
        s.why = why;
    }
}

pub(super) fn set_smon(shared: &Shared, name: &str, state: &str) {
    if let Ok(mut n) = shared.node.lock()
        && let Some(s) = n.services.get_mut(name)
    {
        s.smon = state.to_string();
    }
}
