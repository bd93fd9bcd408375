//! The orchestrator's shell (docs/orchestration.md): each monitor pass,
//! it builds the decision core's view from the daemon's shared state, runs
//! what the core asks (orchestration/core.rs, where the order of the
//! decisions is told) and feeds the outcomes back. The resource restarts
//! (restarts.rs) run between the orders and the placement decisions. The
//! starts of one pass run at once, bounded (takeover.rs); their outcomes
//! come back here, on the monitor thread, in the order they were asked.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::core::{self, Command, Core, Level, StartOutcome};
use super::local::Local;
use super::memory::Memory;
use super::orders;
use super::pass::Pass;
use super::proof;
use crate::action::{Action, Env, Refused, freeze};
use crate::config::node::NodeConfig;
use crate::daemon::hb::{HbConf, HbMedium};
use crate::daemon::state::{PeerData, Shared, Ticks};
use crate::exec::{self, Cmd, ErrLevel};
use crate::log::Logger;
use crate::order::{self, Order, Target};
use crate::paths::Paths;

pub(crate) struct Orchestrator {
    core: Core,
    /// Start failures and cluster-wide orders, kept on disk (memory.rs).
    memory: Memory,
    /// Restarts of failed resources and the monitor action (restarts.rs).
    restarter: super::restarts::Restarter,
    /// `<var>/orders.in/` was read once since the daemon started.
    inbox_read: bool,
    /// `[node] max_parallel`: how many starts of one pass run at once.
    max_parallel: usize,
    log: Logger,
}

impl Orchestrator {
    pub(crate) fn new(paths: &Paths, conf: &NodeConfig) -> Orchestrator {
        let ready_period = conf.node.ready_period;
        let log = Logger::named("node", "orchestrator");
        Orchestrator {
            core: Core::new(ready_period),
            memory: Memory::load(paths, &log),
            restarter: super::restarts::Restarter::default(),
            inbox_read: false,
            max_parallel: conf.node.max_parallel.max(1),
            log,
        }
    }

    pub(crate) fn ready_period(&self) -> Duration {
        self.core.ready_period
    }

    /// When the last pass's waiting decisions may change (core.rs).
    pub(crate) fn wake(&mut self) -> Option<Instant> {
        self.core.take_wake()
    }

    /// One pass over the local services; true when something was started,
    /// stopped, frozen or thawed. `started` is when the monitor's pass
    /// began: the time proofs are judged at and the ready period is
    /// measured in ([`core::View::now`]).
    pub(crate) fn step(&mut self, env: &Env, shared: &Shared, started: Instant) -> bool {
        let hbs = shared.hb_conf.lock().map(|h| h.clone()).unwrap_or_default();
        let settle =
            hbs.iter().map(|h| h.timeout).max().unwrap_or_default() * 2 + Duration::from_secs(1);
        let settled = shared.started.elapsed() >= settle;
        // Deciding nothing yet, it acknowledges the peers' claims
        // (claims.rs) once it knows what runs here: a node whose daemon
        // restarts must not hold every start of its peers back.
        if !settled && !shared.probed.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let (mut view, watches) = build_view(env, shared, Local::read(shared), &hbs, started);
        if settled {
            return self.pass(env, shared, &view, watches);
        }
        view.settled = false;
        let cmds = self.core.decide(&mut self.memory, &view);
        self.run(env, shared, cmds);
        false
    }

    /// A settled pass: the orders, the restarts, then the placement.
    /// `watches`: what the restarts read (local.rs).
    fn pass(
        &mut self,
        env: &Env,
        shared: &Shared,
        view: &core::View,
        watches: BTreeMap<String, super::restart_core::Watch>,
    ) -> bool {
        let inbox = self.inbox(env, shared);
        let files: Vec<std::path::PathBuf> = inbox.iter().map(|(_, _, f)| f.clone()).collect();
        let inbox = inbox.into_iter().map(|(s, o, _)| (s, o)).collect();
        let cmds = self.core.orders(&mut self.memory, view, inbox);
        if !files.is_empty() {
            // In the memory file before the files go.
            self.memory.save(env.paths, &self.log);
            crate::daemon::inbox::done(&files);
        }
        let acted = core::acted(&cmds);
        self.run(env, shared, cmds);
        if let Ok(mut e) = shared.expects.lock() {
            *e = self.memory.orders.clone();
        }
        if let Ok(mut r) = shared.expects_reached.lock() {
            *r = orders::reached_here(&self.memory);
        }
        // The orders, then the restarts, may freeze, thaw, stop or start
        // something: then decide on fresh statuses at the next pass.
        if acted {
            return true;
        }
        let peers: BTreeMap<String, PeerData> = shared
            .peers
            .lock()
            .map(|p| p.iter().map(|(n, p)| (n.clone(), p.pass_data())).collect())
            .unwrap_or_default();
        let pass = Pass {
            env,
            shared,
            peers: &peers,
            log: &self.log,
        };
        if self
            .restarter
            .step(&mut self.memory, &pass, &view.services, watches)
        {
            return true;
        }
        let mut attempted = false;
        // A fence asked for is run, then the decisions are taken again
        // with its outcome; each node is fenced at most once per silence.
        loop {
            let cmds = self.core.decide(&mut self.memory, view);
            let fenced = cmds.iter().any(|c| matches!(c, Command::Fence(_)));
            attempted |= cmds.iter().any(|c| matches!(c, Command::Start(..)));
            self.run(env, shared, cmds);
            if !fenced {
                break;
            }
        }
        attempted
    }

    /// The orders typed here come from their files (inbox.rs), which
    /// also hold those a power loss kept from the memory file. The
    /// directory is read at the first pass (what a power loss kept), then
    /// only when the in-memory queue says an order came.
    fn inbox(&mut self, env: &Env, shared: &Shared) -> Vec<(String, Order, std::path::PathBuf)> {
        let queued = shared.inbox.lock().map_or(true, |mut i| {
            let any = !i.is_empty();
            i.clear();
            any
        });
        if queued || !self.inbox_read {
            self.inbox_read = true;
            crate::daemon::inbox::pending(env.paths)
        } else {
            Vec::new()
        }
    }

    /// Runs what the core asked, feeding outcomes back. The starts are
    /// gathered and run together (`start_all`); a command that acts
    /// (a fence, a stop, a freeze...) runs the starts asked before it first,
    /// so that the order of everything with an effect is the core's.
    fn run(&mut self, env: &Env, shared: &Shared, cmds: Vec<Command>) {
        let mut save = false;
        let mut starts: Vec<(String, Instant)> = Vec::new();
        let mut cmds = cmds.into_iter().peekable();
        while let Some(c) = cmds.next() {
            if !matches!(
                c,
                Command::Start(..)
                    | Command::Smon(..)
                    | Command::Claims(..)
                    | Command::Why(..)
                    | Command::Log(..)
                    | Command::Save
            ) && !starts.is_empty()
            {
                self.start_all(env, shared, std::mem::take(&mut starts));
            }
            match c {
                Command::Freeze(svc) => {
                    freeze::freeze(env.paths, &svc, &self.log);
                }
                Command::Thaw(svc) => {
                    freeze::thaw(env.paths, &svc, &self.log);
                }
                Command::Stop(svc, o) => {
                    let ok = stop(env, &svc, &o, &self.log);
                    self.core.stopped(&svc, ok);
                }
                Command::Fence(n) => {
                    let ok = self.fence(env, &n);
                    self.core.fenced(&n, ok);
                }
                Command::Start(svc, ready) => starts.push((svc, ready)),
                Command::Smon(svc, m) => shared.set_smon(&svc, m),
                Command::Claims(svc, c) => shared.set_claims(&svc, c),
                Command::Why(svc, why) => {
                    // A pass notes every local service, one after the
                    // other: the notes that follow one another are set
                    // under one lock of the dataset, not one each.
                    let mut notes = vec![(svc, why)];
                    while let Some(Command::Why(s, w)) =
                        cmds.next_if(|c| matches!(c, Command::Why(..)))
                    {
                        notes.push((s, w));
                    }
                    shared.set_whys(notes);
                }
                Command::Log(Level::Info, m) => self.log.info(m),
                Command::Log(Level::Warn, m) => self.log.warn(m),
                Command::Log(Level::Error, m) => self.log.error(m),
                Command::Save => save = true,
                c @ (Command::RestartResource { .. }
                | Command::MonitorAction { .. }
                | Command::StopHere { .. }) => {
                    super::restarts::run(env, shared, &self.memory, c, &self.log);
                }
                c @ (Command::SplitAction(_) | Command::QuorumDown { .. }) => {
                    super::quorum::carry_out(env, shared, c, &self.log);
                }
            }
        }
        if !starts.is_empty() {
            self.start_all(env, shared, starts);
        }
        if save {
            self.memory.save(env.paths, &self.log);
        }
    }

    /// Starts these services here, at most `max_parallel` at a time
    /// (takeover.rs), each through the same pipeline and service lock as
    /// `svcmgr -s <svc> start --cluster`; each outcome goes to the core
    /// on this thread, in the order the core asked for the starts.
    fn start_all(&mut self, env: &Env, shared: &Shared, starts: Vec<(String, Instant)>) {
        let n = starts.len();
        let bound = self.max_parallel.min(n);
        if n > 1 {
            self.log.info(format!(
                "starting {n} services here, {bound} at a time ([node] max_parallel = {})",
                self.max_parallel
            ));
        }
        let began = Instant::now();
        let log = self.log.clone();
        super::takeover::bounded(
            &starts,
            bound,
            |i, (svc, _)| {
                // The pass's view is as old as the starts made before this
                // one in it: a peer may have started this service
                // meanwhile. Look again just before.
                if up_on_a_peer(shared, svc) {
                    return None;
                }
                if n > 1 {
                    log.info(format!("{svc}: start begins ({} of {n})", i + 1));
                }
                let t0 = Instant::now();
                let outcome = super::actions::outcome(
                    env,
                    svc,
                    Action::Start,
                    super::actions::How::default(),
                );
                let took = t0.elapsed();
                if n > 1 {
                    log.info(format!("{svc}: start ends ({:.2}s)", took.as_secs_f64()));
                }
                Some(Ran { outcome, t0, took })
            },
            |i, ran| {
                let (svc, ready) = &starts[i];
                let Some(ran) = ran else {
                    shared.set_smon(svc, core::Smon::Idle);
                    shared.set_why(svc, None);
                    return;
                };
                let queued = (n > 1).then(|| ran.t0.saturating_duration_since(began));
                let then = self.started(env, shared, svc, *ready, began, queued, ran);
                self.run(env, shared, then);
            },
        );
    }

    /// `[stonith#<node>] cmd` in node.conf, run once: rc 0 proves the node
    /// down (fenced). No command, or a failure, proves nothing.
    fn fence(&mut self, env: &Env, node: &str) -> bool {
        let Ok(Some(cmd)) = crate::node::stonith_cmd(env.paths, node) else {
            return false;
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
        ok
    }

    /// A start of `name` ended (`ran`); returns what the core makes of it.
    /// `began`: when the pass's starts began; `queued`, in a batch of
    /// several, how long this one waited for its turn.
    #[allow(clippy::too_many_arguments)]
    fn started(
        &mut self,
        env: &Env,
        shared: &Shared,
        name: &str,
        ready: Instant,
        began: Instant,
        queued: Option<Duration>,
        ran: Ran,
    ) -> Vec<Command> {
        let nodes = shared
            .node
            .lock()
            .ok()
            .and_then(|n| n.services.get(name).map(|s| s.nodes.clone()))
            .unwrap_or_default();
        // Detection: from the last heartbeat heard from the lost peer to the
        // moment this node was found to be the one to start the service.
        let detection = shared
            .lost
            .lock()
            .ok()
            .and_then(|l| nodes.iter().filter_map(|n| l.get(n).map(|l| l.at)).max())
            .filter(|t| *t <= ready)
            .map(|t| ready.duration_since(t));
        let queued = queued.map_or(String::new(), |q| {
            format!(", queued {:.2}s", q.as_secs_f64())
        });
        let phases = format!(
            "detection {}, ready wait {:.2}s{queued}, start {:.2}s",
            detection.map_or("n/a".to_string(), |d| format!("{:.2}s", d.as_secs_f64())),
            began.saturating_duration_since(ready).as_secs_f64(),
            ran.took.as_secs_f64()
        );
        let outcome = if ran.outcome.code == crate::action::OK {
            StartOutcome::Up
        } else {
            match ran.outcome.refused {
                Some(Refused::Conflict(rid)) => StartOutcome::Conflict(rid),
                Some(Refused::Failed(rid)) => StartOutcome::Failed(format!("{rid} failed")),
                _ => StartOutcome::Failed("the start failed".to_string()),
            }
        };
        let see = env.paths.svc_log(name).display().to_string();
        let ended = core::Ended {
            outcome,
            phases,
            see,
        };
        self.core
            .started(&mut self.memory, name, ended, Instant::now(), order::now())
    }
}

/// A start run by `start_all`: its outcome, when it began, how long it took.
struct Ran {
    outcome: crate::action::Outcome,
    t0: Instant,
    took: Duration,
}

/// This node's instance stopped by the daemon for an order; true when the
/// stop worked.
fn stop(env: &Env, svc: &str, order: &Order, log: &Logger) -> bool {
    match &order.target {
        Target::Placed(n) => {
            let ok = super::actions::run(env, svc, Action::Stop, super::actions::How::default());
            if ok {
                log.info(format!("{svc}: switch to {n}: stopped here"));
            } else {
                log.error(format!(
                    "{svc}: switch to {n}: the stop failed here: see {}",
                    env.paths.svc_log(svc).display()
                ));
            }
            ok
        }
        _ => super::actions::stop_frozen(env, svc, &format!("{svc}: cluster-wide stop"), log),
    }
}

/// The core's view of this pass, from the shared state, and what the
/// restarts read. `local`: this node's services as the monitor left them
/// at the start of this pass (local.rs).
fn build_view(
    env: &Env,
    shared: &Shared,
    local: Local,
    hbs: &[HbConf],
    started: Instant,
) -> (core::View, BTreeMap<String, super::restart_core::Watch>) {
    let peers: BTreeMap<String, super::view::NodeView> = shared
        .peers
        .lock()
        .map(|p| p.iter().map(|(n, p)| (n.clone(), p.view.clone())).collect())
        .unwrap_or_default();
    // Read with the peers: a peer heard again in the middle of the
    // pass must not look lost but never heard.
    let lost = shared.lost.lock().map(|l| l.clone()).unwrap_or_default();
    let slots = shared.slots.lock().map(|s| s.clone()).unwrap_or_default();
    let ticks = shared.ticks();
    let d = Disks {
        hbs,
        ticks: &ticks,
        now: started,
    };
    let silent: BTreeMap<String, proof::Evidence> = local
        .nodes
        .iter()
        .filter(|n| **n != shared.nodename && !peers.contains_key(*n))
        .map(|n| {
            let ev = evidence(shared, &d, &lost, &slots, n);
            (n.clone(), ev)
        })
        .collect();
    // Read only for silent nodes: node.conf is read once per node here.
    let stonith = silent
        .keys()
        .filter(|n| crate::node::stonith_cmd(env.paths, n).is_ok_and(|c| c.is_some()))
        .cloned()
        .collect();
    let view = core::View {
        local: shared.nodename.clone(),
        node_frozen: local.node_frozen,
        services: local.services,
        me: local.me,
        peers,
        silent,
        disk_stale: disk_not_written(shared, &d),
        stonith,
        settled: true,
        now: started,
        wall: order::now(),
    };
    (view, local.watches)
}

/// The disk heartbeats and what their threads last achieved.
struct Disks<'a> {
    hbs: &'a [HbConf],
    ticks: &'a BTreeMap<String, Ticks>,
    now: Instant,
}

/// A peer heard now reports `name` up.
fn up_on_a_peer(shared: &Shared, name: &str) -> bool {
    shared
        .peers
        .lock()
        .is_ok_and(|p| p.values().any(|p| p.view.up(name)))
}

/// With the watchdog armed, a disk heartbeat that does not write would
/// make this node look dead to its peers while it runs the service (and
/// its watchdog would reset it at once): say so instead of starting.
fn disk_not_written(shared: &Shared, d: &Disks) -> Option<String> {
    shared.watchdog.lock().ok()?.as_ref()?;
    let stale: Vec<&str> = d
        .hbs
        .iter()
        .filter(|h| h.medium == HbMedium::Disk)
        .filter(|h| {
            let limit = h.interval + crate::daemon::watchdog::slack(h.interval);
            d.ticks
                .get(&h.id)
                .and_then(|t| t.written)
                .is_none_or(|w| d.now.saturating_duration_since(w) > limit)
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
fn evidence(
    shared: &Shared,
    d: &Disks,
    lost: &BTreeMap<String, proof::Lost>,
    slots: &BTreeMap<String, BTreeMap<String, proof::SlotSeen>>,
    n: &str,
) -> proof::Evidence {
    let disks = d
        .hbs
        .iter()
        .filter(|h| h.medium == HbMedium::Disk)
        .map(|h| {
            let limit = h.interval + crate::daemon::watchdog::slack(h.interval);
            proof::Disk {
                id: h.id.clone(),
                rx_fresh: d
                    .ticks
                    .get(&h.id)
                    .and_then(|t| t.scanned)
                    .is_some_and(|s| d.now.saturating_duration_since(s) <= limit),
                timeout: h.timeout,
                slot: slots.get(&h.id).and_then(|s| s.get(n)).copied(),
            }
        })
        .collect();
    proof::Evidence {
        maintenance: shared.in_maintenance(n),
        lost: lost.get(n).cloned(),
        disks,
        quorum_down_at: shared
            .quorum_down
            .lock()
            .ok()
            .and_then(|q| q.get(n).copied()),
    }
}
