//! The simulated cluster: N nodes running the real decision core
//! (core.rs) on a simulated clock, their heartbeats (network with delay,
//! loss and cuts; a shared disk with one slot per node), their watchdog,
//! their agent (dead, hung), their power, and resources that start, fail,
//! or refuse because another live node holds them (the address probe).
//!
//! The timings are the shipped defaults: beats every 1 s, lost after 3 s,
//! the watchdog resets 1 s after the last pet, petted only while the disk
//! slot was written within 1.5 s (so the advertised bound is 2.5 s after
//! the last write), a pass every second, a ready period of 1 s.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use super::rng::Rng;
use crate::daemon::orchestration::claims::Claims;
use crate::daemon::orchestration::core::{
    Command, Core, Ended, LocalSvc, Orchestrate, Smon, StartOutcome, View,
};
use crate::daemon::orchestration::failures;
use crate::daemon::orchestration::memory::Memory;
use crate::daemon::orchestration::proof;
use crate::daemon::orchestration::quorum_core::{self, Ballot};
use crate::daemon::orchestration::restart_core::{self, RestartView, Restarts, Watch};
use crate::daemon::orchestration::split::SplitAction;
use crate::daemon::orchestration::view::{NodeView, SvcView};
use crate::daemon::state::Watched;
use crate::order::{Order, Target};
use crate::placement::Placement;
use crate::status::Status;

pub(super) const TICK: f64 = 0.1;
const INTERVAL: f64 = 1.0;
const TIMEOUT: f64 = 3.0;
const WATCHDOG_TIMEOUT: f64 = 1.0;
/// The bound a node advertises: slowest interval × 1.5 + the timeout.
const ADVERTISED: f64 = INTERVAL * 1.5 + WATCHDOG_TIMEOUT;
/// The daemon decides nothing before 2 × the longest timeout + 1 s.
const SETTLE: f64 = 2.0 * TIMEOUT + 1.0;
/// A node reset by its watchdog boots again this long after.
const REBOOT_AFTER: f64 = 8.0;
/// Frames older than this are refused (wire.rs).
const MAX_AGE: f64 = 30.0;
/// The wall clock of simulated time 0.
const EPOCH: f64 = 1_700_000_000.0;
/// An ha service runs somewhere once an eligible node was up and the
/// cluster connected for this long.
pub(super) const LIVENESS_BOUND: f64 = 60.0;

/// Something that happens to the cluster, at a simulated time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    PowerLoss(usize),
    PowerOn(usize),
    /// The agent dies (SIGKILL); systemd starts it again after `down`.
    AgentKill(usize, f64),
    /// The agent stops (SIGSTOP) and resumes after that long.
    AgentHang(usize, f64),
    /// The network between two nodes is cut, or heals.
    Cut(usize, usize),
    Heal(usize, usize),
    /// A node loses its path to the shared disk (read and write), or gets
    /// it back.
    DiskLoss(usize),
    DiskBack(usize),
    /// A node's disk rx cannot read the device; fixed.
    RxBroken(usize),
    RxFixed(usize),
    /// The service's start fails on that node from now on; fixed.
    Break(usize, usize),
    Fix(usize, usize),
    /// The service dies behind the agent's back on that node.
    Crash(usize, usize),
    /// A cluster-wide order typed on a node.
    Order(usize, usize, Target),
    /// The service's watched resource (`app#0`) dies on that node, its
    /// instance left running (warn).
    AppCrash(usize, usize),
    /// Its restarts fail on that node from now on (and it dies there);
    /// fixed.
    AppBreak(usize, usize),
    AppFix(usize, usize),
    /// A node cannot reach the arbitrator; reaches it again.
    ArbCut(usize),
    ArbHeal(usize),
    /// An operator freezes the node (`nodemgr freeze`); thaws it.
    NodeFreeze(usize),
    NodeThaw(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Timed {
    pub at: f64,
    pub ev: Event,
}

impl fmt::Display for Timed {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:7.1}s {}", self.at, self.ev)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let n = |i: &usize| format!("node{}", i + 1);
        let s = |i: &usize| format!("svc{}", i + 1);
        match self {
            Event::PowerLoss(a) => write!(f, "power loss {}", n(a)),
            Event::PowerOn(a) => write!(f, "power on {}", n(a)),
            Event::AgentKill(a, d) => {
                write!(f, "agent of {} killed, restarted after {d:.1}s", n(a))
            }
            Event::AgentHang(a, d) => write!(f, "agent of {} hung for {d:.1}s", n(a)),
            Event::Cut(a, b) => write!(f, "network cut {}-{}", n(a), n(b)),
            Event::Heal(a, b) => write!(f, "network healed {}-{}", n(a), n(b)),
            Event::DiskLoss(a) => write!(f, "{} loses the shared disk", n(a)),
            Event::DiskBack(a) => write!(f, "{} gets the shared disk back", n(a)),
            Event::RxBroken(a) => write!(f, "{}'s disk rx cannot read", n(a)),
            Event::RxFixed(a) => write!(f, "{}'s disk rx reads again", n(a)),
            Event::Break(v, a) => write!(f, "{} fails to start on {}", s(v), n(a)),
            Event::Fix(v, a) => write!(f, "{} starts again on {}", s(v), n(a)),
            Event::Crash(v, a) => write!(f, "{} crashes on {}", s(v), n(a)),
            Event::Order(a, v, t) => write!(f, "on {}: order {} {}", n(a), s(v), t.as_string()),
            Event::AppCrash(v, a) => write!(f, "app#0 of {} dies on {}", s(v), n(a)),
            Event::AppBreak(v, a) => write!(f, "app#0 of {} broken on {}", s(v), n(a)),
            Event::AppFix(v, a) => write!(f, "app#0 of {} fixed on {}", s(v), n(a)),
            Event::ArbCut(a) => write!(f, "{} cannot reach the arbitrator", n(a)),
            Event::ArbHeal(a) => write!(f, "{} reaches the arbitrator again", n(a)),
            Event::NodeFreeze(a) => write!(f, "{} frozen by an operator", n(a)),
            Event::NodeThaw(a) => write!(f, "{} thawed by an operator", n(a)),
        }
    }
}

/// A cluster and what happens to it.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub nodes: usize,
    /// Per service: its `nodes`, in order, and whether a second start is
    /// refused while a live node holds it (an address probe).
    pub services: Vec<(Vec<usize>, bool)>,
    /// Chance that a network beat is lost.
    pub loss: f64,
    /// Longest network delay (s).
    pub delay: f64,
    pub duration: f64,
    pub events: Vec<Timed>,
    pub seed: u64,
    /// Every node has a stonith command (it powers the node off).
    pub stonith: bool,
    /// Per service, its `app#0`'s `restart` and `monitor` (none: nothing
    /// watched).
    pub apps: Vec<(u32, bool)>,
    pub monitor_action: SplitAction,
    /// `[cluster] quorum = true`: the split action, and whether there is
    /// one arbitrator.
    pub quorum: Option<(SplitAction, bool)>,
    /// A disk heartbeat (else the network only, as with quorum).
    pub disk: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Agent {
    Running,
    Dead { until: f64 },
    Hung { until: f64 },
    Off,
}

#[derive(Debug, Clone)]
struct Heard {
    view: NodeView,
    last: f64,
    sent: f64,
    /// It said it ends itself on losing quorum.
    fences: bool,
}

struct Slot {
    seq: u64,
    view: NodeView,
    written: f64,
    fences: bool,
}

struct SlotRead {
    seq: u64,
    since: f64,
    heard: bool,
}

struct Node {
    power: bool,
    off_since: f64,
    agent: Agent,
    agent_started: f64,
    core: Core,
    mem: Memory,
    inbox: Vec<(String, Order)>,
    running: BTreeSet<usize>,
    /// Services whose `app#0` is down while the instance runs.
    app_down: BTreeSet<usize>,
    /// Since when `app#0` has been up, for the restart check.
    restarts_in_row: BTreeMap<usize, (u32, f64)>,
    restarts: Restarts,
    frozen_all: bool,
    arb_ok: bool,
    /// Lost peers this node's quorum proves down from then.
    quorum_down: BTreeMap<usize, Instant>,
    /// Lost its last vote, and heard no majority since.
    no_quorum: bool,
    frozen: BTreeSet<usize>,
    smon: BTreeMap<String, Smon>,
    /// The last `why` of each service, traced when it changes.
    why: BTreeMap<String, Option<String>>,
    /// What the node advertises of each service's claims.
    claims: BTreeMap<String, Claims>,
    heard: BTreeMap<usize, Heard>,
    lost: BTreeMap<usize, f64>,
    /// What each lost peer last said of itself (`fences_itself`).
    lost_fences: BTreeMap<usize, bool>,
    slots: BTreeMap<usize, SlotRead>,
    last_scan: Option<f64>,
    last_pet: f64,
    last_write: Option<f64>,
    next_beat: f64,
    next_pass: f64,
    disk_ok: bool,
    rx_ok: bool,
}

struct Msg {
    at: f64,
    from: usize,
    to: usize,
    view: NodeView,
    sent: f64,
    fences: bool,
}

/// A broken property: what, when.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Violation {
    pub at: f64,
    pub what: String,
}

/// What one run covered, and how it ended.
#[derive(Debug, Default, Clone)]
pub(super) struct Stats {
    pub simulated: f64,
    pub starts: u64,
    pub takeovers_checked: u64,
    /// Resource restarts, monitor actions and split actions carried out.
    pub restarts: u64,
    pub monitor_actions: u64,
    pub split_actions: u64,
    /// Per service, the powered nodes running it at the end.
    pub runs_on: Vec<Vec<usize>>,
}

pub(super) struct World<'a> {
    sc: &'a Scenario,
    t: f64,
    base: Instant,
    rng: Rng,
    nodes: Vec<Node>,
    disk: BTreeMap<usize, Slot>,
    cuts: BTreeSet<(usize, usize)>,
    msgs: Vec<Msg>,
    broken: BTreeSet<(usize, usize)>,
    app_broken: BTreeSet<(usize, usize)>,
    /// Automatic transitions (a watchdog's reboot), as events.
    pending: Vec<Timed>,
    /// The last time anything happened (an event or a transition).
    disturbed: f64,
    live_since: BTreeMap<usize, f64>,
    pub log: Vec<String>,
    pub stats: Stats,
    trace: bool,
    /// A property broken inside a command (checked with the others).
    violation: Option<String>,
}

fn name(i: usize) -> String {
    format!("node{}", i + 1)
}

fn svc_name(s: usize) -> String {
    format!("svc{}", s + 1)
}

impl<'a> World<'a> {
    pub(super) fn new(sc: &'a Scenario, trace: bool) -> World<'a> {
        let nodes = (0..sc.nodes)
            .map(|i| Node {
                power: true,
                off_since: 0.0,
                agent: Agent::Running,
                agent_started: 0.0,
                core: Core::new(Duration::from_secs(1)),
                mem: Memory::default(),
                inbox: Vec::new(),
                running: BTreeSet::new(),
                app_down: BTreeSet::new(),
                restarts_in_row: BTreeMap::new(),
                restarts: Restarts::default(),
                frozen_all: false,
                arb_ok: true,
                quorum_down: BTreeMap::new(),
                no_quorum: false,
                frozen: BTreeSet::new(),
                smon: BTreeMap::new(),
                why: BTreeMap::new(),
                claims: BTreeMap::new(),
                heard: BTreeMap::new(),
                lost: BTreeMap::new(),
                lost_fences: BTreeMap::new(),
                slots: BTreeMap::new(),
                last_scan: None,
                last_pet: 0.0,
                last_write: None,
                next_beat: 0.1 * (i as f64 + 1.0),
                next_pass: 0.5 + 0.13 * i as f64,
                disk_ok: true,
                rx_ok: true,
            })
            .collect();
        World {
            sc,
            t: 0.0,
            base: Instant::now(),
            rng: Rng::new(sc.seed ^ 0x5eed),
            nodes,
            disk: BTreeMap::new(),
            cuts: BTreeSet::new(),
            msgs: Vec::new(),
            broken: BTreeSet::new(),
            app_broken: BTreeSet::new(),
            pending: Vec::new(),
            disturbed: 0.0,
            live_since: BTreeMap::new(),
            log: Vec::new(),
            stats: Stats::default(),
            trace,
            violation: None,
        }
    }

    fn inst(&self, t: f64) -> Instant {
        self.base + Duration::from_secs_f64(t.max(0.0))
    }

    fn say(&mut self, line: String) {
        if self.trace {
            self.log.push(format!("{:7.1}s {line}", self.t));
        }
    }

    /// Runs the whole scenario; the first broken property ends it.
    pub(super) fn run(mut self) -> (Result<Stats, Violation>, Vec<String>) {
        let mut events = self.sc.events.clone();
        events.sort_by(|a, b| a.at.total_cmp(&b.at));
        let mut next = 0;
        let ticks = (self.sc.duration / TICK).round() as u64;
        for k in 0..=ticks {
            self.t = k as f64 * TICK;
            while next < events.len() && events[next].at <= self.t + 1e-9 {
                let e = events[next].clone();
                self.say(format!("EVENT {}", e.ev));
                self.apply(&e.ev);
                next += 1;
            }
            self.pending.sort_by(|a, b| a.at.total_cmp(&b.at));
            while self.pending.first().is_some_and(|e| e.at <= self.t + 1e-9) {
                let e = self.pending.remove(0);
                self.say(format!("auto: {}", e.ev));
                self.apply(&e.ev);
            }
            for i in 0..self.nodes.len() {
                self.agent_clock(i);
                self.watchdog(i);
            }
            self.deliver();
            for i in 0..self.nodes.len() {
                if self.nodes[i].agent != Agent::Running {
                    continue;
                }
                if self.t + 1e-9 >= self.nodes[i].next_beat {
                    self.nodes[i].next_beat += INTERVAL;
                    self.beat(i);
                    self.scan(i);
                }
                self.prune(i);
                if self.t + 1e-9 >= self.nodes[i].next_pass {
                    self.nodes[i].next_pass += 1.0;
                    self.pass(i);
                }
            }
            if let Err(v) = self.check() {
                let log = std::mem::take(&mut self.log);
                return (Err(v), log);
            }
        }
        self.stats.simulated = self.sc.duration;
        self.stats.runs_on = (0..self.sc.services.len())
            .map(|s| {
                (0..self.nodes.len())
                    .filter(|i| self.nodes[*i].power && self.nodes[*i].running.contains(&s))
                    .collect()
            })
            .collect();
        let log = std::mem::take(&mut self.log);
        (Ok(self.stats), log)
    }

    fn apply(&mut self, ev: &Event) {
        self.disturbed = self.t;
        let t = self.t;
        match ev {
            Event::PowerLoss(i) => self.power_off(*i),
            Event::PowerOn(i) => {
                if !self.nodes[*i].power {
                    self.boot(*i);
                }
            }
            Event::AgentKill(i, down) => {
                if self.nodes[*i].agent == Agent::Running {
                    self.nodes[*i].agent = Agent::Dead { until: t + down };
                }
            }
            Event::AgentHang(i, d) => {
                if self.nodes[*i].agent == Agent::Running {
                    self.nodes[*i].agent = Agent::Hung { until: t + d };
                }
            }
            Event::Cut(a, b) => {
                self.cuts.insert((*a.min(b), *a.max(b)));
            }
            Event::Heal(a, b) => {
                self.cuts.remove(&(*a.min(b), *a.max(b)));
            }
            Event::DiskLoss(i) => self.nodes[*i].disk_ok = false,
            Event::DiskBack(i) => self.nodes[*i].disk_ok = true,
            Event::RxBroken(i) => self.nodes[*i].rx_ok = false,
            Event::RxFixed(i) => self.nodes[*i].rx_ok = true,
            Event::Break(s, i) => {
                self.broken.insert((*s, *i));
            }
            Event::Fix(s, i) => {
                self.broken.remove(&(*s, *i));
            }
            Event::Crash(s, i) => {
                self.nodes[*i].running.remove(s);
                self.nodes[*i].app_down.remove(s);
            }
            Event::AppCrash(s, i) => {
                if self.nodes[*i].running.contains(s) {
                    self.nodes[*i].app_down.insert(*s);
                }
            }
            Event::AppBreak(s, i) => {
                self.app_broken.insert((*s, *i));
                if self.nodes[*i].running.contains(s) {
                    self.nodes[*i].app_down.insert(*s);
                }
            }
            Event::AppFix(s, i) => {
                self.app_broken.remove(&(*s, *i));
            }
            Event::ArbCut(i) => self.nodes[*i].arb_ok = false,
            Event::ArbHeal(i) => self.nodes[*i].arb_ok = true,
            Event::NodeFreeze(i) => self.nodes[*i].frozen_all = true,
            Event::NodeThaw(i) => self.nodes[*i].frozen_all = false,
            Event::Order(i, s, target) => {
                // The command hands the order to its daemon, which keeps it
                // on disk before it answers: no daemon, no order.
                if self.nodes[*i].agent == Agent::Running {
                    let o = Order {
                        target: target.clone(),
                        at: EPOCH + t,
                        by: name(*i),
                    };
                    self.nodes[*i].inbox.push((svc_name(*s), o));
                }
            }
        }
    }

    fn power_off(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if !n.power {
            return;
        }
        n.power = false;
        n.off_since = self.t;
        n.agent = Agent::Off;
        n.running.clear();
        n.app_down.clear();
        n.quorum_down.clear();
        n.heard.clear();
        n.lost.clear();
        n.slots.clear();
        self.msgs.retain(|m| m.to != i);
    }

    fn boot(&mut self, i: usize) {
        let t = self.t;
        let n = &mut self.nodes[i];
        n.power = true;
        n.last_write = None;
        n.last_pet = t;
        self.start_agent(i);
    }

    /// A new agent: a blank core, the memory file read back.
    fn start_agent(&mut self, i: usize) {
        let t = self.t;
        let n = &mut self.nodes[i];
        n.agent = Agent::Running;
        n.agent_started = t;
        n.core = Core::new(Duration::from_secs(1));
        n.restarts = Restarts::default();
        n.quorum_down.clear();
        n.heard.clear();
        n.lost.clear();
        n.slots.clear();
        n.last_scan = None;
        n.smon.clear();
        n.claims.clear();
        n.next_beat = t + 0.05;
        n.next_pass = t + 0.5;
    }

    /// Dead agents come back (systemd), hung ones resume.
    fn agent_clock(&mut self, i: usize) {
        let t = self.t;
        match self.nodes[i].agent {
            Agent::Dead { until } if t >= until => {
                self.disturbed = t;
                self.say(format!("{}: agent started again", name(i)));
                self.start_agent(i);
            }
            Agent::Hung { until } if t >= until => {
                self.disturbed = t;
                self.say(format!("{}: agent resumes", name(i)));
                let n = &mut self.nodes[i];
                n.agent = Agent::Running;
                // Its timers fire at once, as after a real SIGCONT.
                n.next_beat = n.next_beat.min(t);
                n.next_pass = n.next_pass.min(t);
            }
            _ => {}
        }
    }

    /// Pets while the agent runs and its disk slot was written within
    /// 1.5 intervals (once written this boot); resets the node otherwise.
    fn watchdog(&mut self, i: usize) {
        let t = self.t;
        let n = &mut self.nodes[i];
        if !n.power {
            return;
        }
        let slot_ok = n.last_write.is_none_or(|w| t - w <= INTERVAL * 1.5 + 1e-9);
        if n.agent == Agent::Running && slot_ok {
            n.last_pet = t;
        } else if t - n.last_pet > WATCHDOG_TIMEOUT {
            self.say(format!("{}: watchdog reset", name(i)));
            self.power_off(i);
            self.disturbed = t;
            self.pending.push(Timed {
                at: t + REBOOT_AFTER,
                ev: Event::PowerOn(i),
            });
        }
    }

    /// This node's dataset, as its heartbeats carry it.
    fn dataset(&self, i: usize) -> NodeView {
        let n = &self.nodes[i];
        let services: BTreeMap<String, SvcView> = (0..self.sc.services.len())
            .map(|s| {
                let nm = svc_name(s);
                let v = SvcView {
                    up: n.running.contains(&s),
                    frozen: n.frozen.contains(&s),
                    start_failed: n.smon.get(&nm) == Some(&Smon::StartFailed),
                    order: n.mem.orders.get(&nm).cloned().map(Box::new),
                    reached: n
                        .mem
                        .orders
                        .get(&nm)
                        .is_some_and(|o| n.mem.reached.get(&nm) == Some(&o.at)),
                    claim: n.claims.get(&nm).and_then(|c| c.token),
                    starting: n.smon.get(&nm) == Some(&Smon::Starting),
                    acks: n
                        .claims
                        .get(&nm)
                        .map(|c| c.acks.clone())
                        .unwrap_or_default(),
                };
                (nm, v)
            })
            .collect();
        NodeView {
            frozen: n.frozen_all,
            load15: Some(0.0),
            services: services.into(),
            pending: false,
        }
    }

    fn cut(&self, a: usize, b: usize) -> bool {
        self.cuts.contains(&(a.min(b), a.max(b)))
    }

    fn beat(&mut self, i: usize) {
        let view = self.dataset(i);
        let fences = self.fences_itself(i);
        let t = self.t;
        for j in 0..self.nodes.len() {
            if j == i || self.cut(i, j) || self.rng.chance(self.sc.loss) {
                continue;
            }
            let delay = self.rng.range(0.0, self.sc.delay);
            // `fences_itself` counts for j only if i hears j (`hears` in
            // the beat): a node that does not hear j never loses it, so it
            // never votes on it (state.rs, `fences_on_losing_me`).
            let fences = fences && self.nodes[i].heard.contains_key(&j);
            self.msgs.push(Msg {
                at: t + delay,
                from: i,
                to: j,
                view: view.clone(),
                sent: t,
                fences,
            });
        }
        if self.sc.disk && self.nodes[i].disk_ok {
            let seq = self.disk.get(&i).map_or(1, |s| s.seq + 1);
            self.disk.insert(
                i,
                Slot {
                    seq,
                    view,
                    written: t,
                    fences,
                },
            );
            self.nodes[i].last_write = Some(t);
        }
    }

    fn hear(&mut self, to: usize, from: usize, view: NodeView, sent: f64, fences: bool) {
        let t = self.t;
        let n = &mut self.nodes[to];
        if n.heard.get(&from).is_some_and(|h| h.sent >= sent) || t - sent > MAX_AGE {
            return;
        }
        n.heard.insert(
            from,
            Heard {
                view,
                last: t,
                sent,
                fences,
            },
        );
        n.lost.remove(&from);
    }

    fn deliver(&mut self) {
        let t = self.t;
        let (due, rest): (Vec<Msg>, Vec<Msg>) = std::mem::take(&mut self.msgs)
            .into_iter()
            .partition(|m| m.at <= t + 1e-9);
        self.msgs = rest;
        for m in due {
            // A hung or dead agent reads nothing; its socket drops it.
            if self.nodes[m.to].agent == Agent::Running && !self.cut(m.from, m.to) {
                self.hear(m.to, m.from, m.view, m.sent, m.fences);
            }
        }
    }

    /// The disk rx reads every slot.
    fn scan(&mut self, i: usize) {
        if !self.sc.disk || !self.nodes[i].disk_ok || !self.nodes[i].rx_ok {
            return;
        }
        let t = self.t;
        self.nodes[i].last_scan = Some(t);
        let first = self.nodes[i].slots.is_empty();
        let mut heard = Vec::new();
        for (j, slot) in &self.disk {
            if *j == i {
                continue;
            }
            let seen = self.nodes[i].slots.get(j).map(|s| s.seq);
            if seen == Some(slot.seq) {
                continue;
            }
            // A frame found on the disk when the rx starts may be stale.
            let fresh = !first || t - slot.written < TIMEOUT;
            self.nodes[i].slots.insert(
                *j,
                SlotRead {
                    seq: slot.seq,
                    since: t,
                    heard: fresh,
                },
            );
            if fresh {
                heard.push((*j, slot.view.clone(), slot.written, slot.fences));
            }
        }
        for (j, v, sent, fences) in heard {
            self.hear(i, j, v, sent, fences);
        }
    }

    fn prune(&mut self, i: usize) {
        let t = self.t;
        let n = &mut self.nodes[i];
        let gone: Vec<usize> = n
            .heard
            .iter()
            .filter(|(_, h)| t - h.last > TIMEOUT)
            .map(|(j, _)| *j)
            .collect();
        let mut said = Vec::new();
        for j in &gone {
            let h = n.heard.remove(j).expect("listed");
            n.lost.insert(*j, h.last);
            n.lost_fences.insert(*j, h.fences);
            said.push((*j, h.fences));
        }
        if !gone.is_empty() {
            self.vote(i, &said);
        }
        if self.nodes[i].no_quorum && self.holds_quorum(i) {
            self.nodes[i].no_quorum = false;
        }
    }

    /// Node i ends itself on losing quorum (what it advertises).
    fn fences_itself(&self, i: usize) -> bool {
        matches!(
            self.sc.quorum,
            Some((SplitAction::Crash | SplitAction::Reboot, _))
        ) && !self.nodes[i].frozen_all
    }

    /// Node i's votes now would make a majority.
    fn holds_quorum(&self, i: usize) -> bool {
        let Some((_, arb)) = self.sc.quorum else {
            return true;
        };
        let n = &self.nodes[i];
        let nodes: Vec<String> = (0..self.nodes.len()).map(name).collect();
        let heard = n.heard.keys().map(|j| name(*j)).collect();
        let arbs = usize::from(arb);
        quorum_core::count(&nodes, &heard, arbs, usize::from(arb && n.arb_ok)).holds()
    }

    /// The quorum thread of node i on losing `gone`: the real decision.
    fn vote(&mut self, i: usize, gone: &[(usize, bool)]) {
        let Some((split_action, arb)) = self.sc.quorum else {
            return;
        };
        let lost: Vec<String> = gone.iter().map(|(j, _)| name(*j)).collect();
        let n = &self.nodes[i];
        let cmds = if let Some(cmds) = quorum_core::no_vote(true, n.frozen_all, &lost) {
            cmds
        } else {
            let ballot = Ballot {
                nodes: (0..self.nodes.len()).map(name).collect(),
                heard: n.heard.keys().map(|j| name(*j)).collect(),
                lost,
                fences_itself: gone.iter().map(|(j, f)| (name(*j), *f)).collect(),
                answers: if arb {
                    let r = if n.arb_ok {
                        Ok(())
                    } else {
                        Err("no answer".into())
                    };
                    vec![("arb".into(), r)]
                } else {
                    Vec::new()
                },
                split_action,
                // 2 × the arbitrator timeout (1 s) + the interval + 1 s.
                grace: Duration::from_secs_f64(if arb { 2.0 } else { 0.0 } + INTERVAL + 1.0),
                now: self.inst(self.t),
            };
            quorum_core::verdict(&ballot)
        };
        self.exec(i, cmds);
    }

    fn view(&self, i: usize) -> View {
        let n = &self.nodes[i];
        let services = self
            .sc
            .services
            .iter()
            .enumerate()
            .map(|(s, (nodes, _))| {
                let svc = LocalSvc {
                    orchestrate: Orchestrate::Ha,
                    placement: Placement::NodesOrder,
                    nodes: nodes.iter().map(|j| name(*j)).collect(),
                    error: false,
                    frozen: n.frozen.contains(&s),
                    up: n.running.contains(&s),
                };
                (svc_name(s), svc)
            })
            .collect();
        let peers = n
            .heard
            .iter()
            .map(|(j, h)| (name(*j), h.view.clone()))
            .collect();
        let limit = INTERVAL * 1.5;
        let silent = (0..self.nodes.len())
            .filter(|j| *j != i && !n.heard.contains_key(j))
            .map(|j| {
                let disk = proof::Disk {
                    id: "hb#2".into(),
                    rx_fresh: n.last_scan.is_some_and(|s| self.t - s <= limit + 1e-9),
                    timeout: Duration::from_secs_f64(TIMEOUT),
                    slot: n.slots.get(&j).map(|r| proof::SlotSeen {
                        since: self.inst(r.since),
                        heard: r.heard,
                        watchdog: Some(Duration::from_secs_f64(ADVERTISED)),
                    }),
                };
                let ev = proof::Evidence {
                    maintenance: false,
                    lost: n.lost.get(&j).map(|at| proof::Lost {
                        at: self.inst(*at),
                        watchdog: Some(Duration::from_secs_f64(ADVERTISED)),
                        fences_itself: n.lost_fences.get(&j).copied().unwrap_or(false),
                    }),
                    disks: if self.sc.disk { vec![disk] } else { Vec::new() },
                    quorum_down_at: n.quorum_down.get(&j).copied(),
                };
                (name(j), ev)
            })
            .collect();
        View {
            local: name(i),
            node_frozen: n.frozen_all,
            services,
            me: self.dataset(i),
            peers,
            silent,
            disk_stale: None,
            stonith: if self.sc.stonith {
                (0..self.nodes.len())
                    .filter(|j| *j != i)
                    .map(name)
                    .collect()
            } else {
                BTreeSet::new()
            },
            settled: self.t - n.agent_started >= SETTLE,
            now: self.inst(self.t),
            wall: EPOCH + self.t,
        }
    }

    /// One monitor pass of node i: the real core, its commands run here.
    fn pass(&mut self, i: usize) {
        let view = self.view(i);
        if !view.settled {
            return;
        }
        let inbox = std::mem::take(&mut self.nodes[i].inbox);
        let mut mem = std::mem::take(&mut self.nodes[i].mem);
        let cmds = self.nodes[i].core.orders(&mut mem, &view, inbox);
        self.nodes[i].mem = mem;
        let acted = crate::daemon::orchestration::core::acted(&cmds);
        self.exec(i, cmds);
        if acted || self.nodes[i].agent != Agent::Running {
            return;
        }
        // The resource restarts, between the orders and the placement,
        // as the daemon runs them (shell.rs).
        let rv = self.restart_view(i);
        let mut mem = std::mem::take(&mut self.nodes[i].mem);
        let cmds = self.nodes[i].restarts.step(&mut mem, &rv);
        self.nodes[i].mem = mem;
        let acted = cmds.iter().any(|c| {
            matches!(
                c,
                Command::RestartResource { .. } | Command::MonitorAction { .. }
            )
        });
        self.exec(i, cmds);
        if acted || self.nodes[i].agent != Agent::Running {
            return;
        }
        let view = self.view(i);
        let mut mem = std::mem::take(&mut self.nodes[i].mem);
        let cmds = self.nodes[i].core.decide(&mut mem, &view);
        self.nodes[i].mem = mem;
        self.exec(i, cmds);
    }

    /// What node i's restarts see: `app#0` of each service that has one.
    fn restart_view(&self, i: usize) -> RestartView {
        let n = &self.nodes[i];
        let services = self
            .sc
            .apps
            .iter()
            .enumerate()
            .filter(|(_, (restart, monitor))| *restart > 0 || *monitor)
            .map(|(s, (restart, monitor))| {
                let nm = svc_name(s);
                let other = self.sc.services[s].0.iter().any(|j| {
                    *j != i
                        && n.heard.get(j).is_some_and(|h| {
                            !h.view.frozen
                                && h.view
                                    .services
                                    .get(&nm)
                                    .is_some_and(|v| !v.frozen && !v.start_failed)
                        })
                });
                let w = Watch {
                    runs_here: n.running.contains(&s)
                        && !n.frozen.contains(&s)
                        && !n.frozen_all
                        && n.smon.get(&nm).is_none_or(|m| *m == Smon::Idle),
                    other_candidate: other,
                    monitor_action: self.sc.monitor_action,
                    watched: vec![Watched {
                        rid: "app#0".into(),
                        status: if n.app_down.contains(&s) {
                            Status::Down
                        } else if n.running.contains(&s) {
                            Status::Up
                        } else {
                            Status::Down
                        },
                        restart: *restart,
                        monitor: *monitor,
                        followers: Vec::new(),
                    }],
                    held: false,
                };
                (nm, w)
            })
            .collect();
        RestartView {
            local: name(i),
            services,
            now: self.inst(self.t),
            wall: EPOCH + self.t,
        }
    }

    /// Node i ends itself (a split or monitor action): off, and its
    /// watchdog-less reboot brings it back later.
    fn end_node(&mut self, i: usize, why: &str) {
        self.say(format!("{}: {why}: the node ends itself", name(i)));
        self.power_off(i);
        self.disturbed = self.t;
        self.pending.push(Timed {
            at: self.t + REBOOT_AFTER,
            ev: Event::PowerOn(i),
        });
    }

    fn exec(&mut self, i: usize, cmds: Vec<Command>) {
        for c in cmds {
            // Ended by a command before this one: nothing more runs.
            if !self.nodes[i].power {
                return;
            }
            match c {
                Command::Freeze(s) => {
                    self.nodes[i].frozen.insert(svc_index(&s));
                }
                Command::Thaw(s) => {
                    self.nodes[i].frozen.remove(&svc_index(&s));
                }
                Command::Stop(s, _) => {
                    self.say(format!("{}: stops {s}", name(i)));
                    self.nodes[i].running.remove(&svc_index(&s));
                    self.nodes[i].core.stopped(&s, true);
                }
                Command::Fence(n) => {
                    let j = node_index(&n);
                    let ok = self.sc.stonith && j < self.nodes.len();
                    if ok && self.nodes[j].power {
                        self.say(format!("{}: fences {n}", name(i)));
                        self.power_off(j);
                        self.disturbed = self.t;
                        self.pending.push(Timed {
                            at: self.t + REBOOT_AFTER,
                            ev: Event::PowerOn(j),
                        });
                    }
                    self.nodes[i].core.fenced(&n, ok);
                }
                Command::Start(s, _) => {
                    let k = svc_index(&s);
                    self.stats.starts += 1;
                    if self.nodes[i].no_quorum {
                        self.violation.get_or_insert(format!(
                            "{} starts {s} without quorum (it lost its last vote)",
                            name(i)
                        ));
                    }
                    let guarded = self.sc.services[k].1;
                    let elsewhere = (0..self.nodes.len()).any(|j| {
                        j != i && self.nodes[j].power && self.nodes[j].running.contains(&k)
                    });
                    let outcome = if self.broken.contains(&(k, i)) {
                        StartOutcome::Failed("app#0 failed".into())
                    } else if guarded && elsewhere {
                        StartOutcome::Conflict("ip#0".into())
                    } else {
                        self.nodes[i].running.insert(k);
                        if self.app_broken.contains(&(k, i)) {
                            // Up, and its app dies at once.
                            self.nodes[i].app_down.insert(k);
                        }
                        StartOutcome::Up
                    };
                    self.say(format!("{}: start {s}: {outcome:?}", name(i)));
                    let now = self.inst(self.t);
                    let mut mem = std::mem::take(&mut self.nodes[i].mem);
                    let ended = Ended {
                        outcome,
                        phases: "sim".into(),
                        see: "the trace".into(),
                    };
                    let then = self.nodes[i]
                        .core
                        .started(&mut mem, &s, ended, now, EPOCH + self.t);
                    self.nodes[i].mem = mem;
                    self.exec(i, then);
                }
                Command::Smon(s, m) => {
                    if self.nodes[i].smon.insert(s.clone(), m) != Some(m) {
                        self.say(format!("{}: {s}: {}", name(i), m.as_str()));
                    }
                }
                Command::Why(s, w) => {
                    if self.nodes[i].why.get(&s) != Some(&w) {
                        let shown = w.as_deref().unwrap_or("-").to_string();
                        self.say(format!("{}: {s}: why {shown}", name(i)));
                        self.nodes[i].why.insert(s, w);
                    }
                }
                Command::Claims(s, c) => {
                    if c.is_empty() {
                        self.nodes[i].claims.remove(&s);
                    } else {
                        self.say(format!("{}: {s}: claims {c:?}", name(i)));
                        self.nodes[i].claims.insert(s, c);
                    }
                }
                Command::Save => {}
                Command::RestartResource { svc, .. } => {
                    self.stats.restarts += 1;
                    let k = svc_index(&svc);
                    let (n, since) = self.nodes[i]
                        .restarts_in_row
                        .get(&k)
                        .copied()
                        .unwrap_or((0, self.t));
                    // A rest (the daemon's back-off, 10 s at least) or a
                    // stable run since the last: a new set.
                    let n = if self.t - since >= restart_core::STABLE_UP.as_secs_f64() {
                        1
                    } else {
                        n + 1
                    };
                    self.nodes[i].restarts_in_row.insert(k, (n, self.t));
                    let of = self.sc.apps[k].0;
                    if n > of {
                        self.violation.get_or_insert(format!(
                            "{}: restart {n} of {svc}'s app#0 in a row, more than restart = {of}",
                            name(i)
                        ));
                    }
                    let ok = !self.app_broken.contains(&(k, i));
                    self.say(format!(
                        "{}: restarts app#0 of {svc}: {}",
                        name(i),
                        if ok { "up" } else { "fails" }
                    ));
                    if ok {
                        self.nodes[i].app_down.remove(&k);
                    }
                }
                Command::MonitorAction { svc, action, .. } => {
                    self.stats.monitor_actions += 1;
                    if matches!(action, SplitAction::Crash | SplitAction::Reboot) {
                        self.end_node(i, &format!("{svc} monitor_action {}", action.as_str()));
                    }
                }
                Command::StopHere { svc, .. } => {
                    self.say(format!("{}: stops {svc} (monitor action)", name(i)));
                    let k = svc_index(&svc);
                    self.nodes[i].running.remove(&k);
                    self.nodes[i].app_down.remove(&k);
                }
                Command::SplitAction(action) => {
                    self.stats.split_actions += 1;
                    self.nodes[i].no_quorum = true;
                    match action {
                        SplitAction::Crash | SplitAction::Reboot => {
                            self.end_node(i, &format!("split action {}", action.as_str()));
                        }
                        SplitAction::FreezeStop => {
                            self.say(format!("{}: split action freezestop", name(i)));
                            let n = &mut self.nodes[i];
                            n.frozen_all = true;
                            n.running.clear();
                            n.app_down.clear();
                        }
                        SplitAction::Disabled => {}
                    }
                }
                Command::QuorumDown { node, at } => {
                    let j = node_index(&node);
                    self.nodes[i].quorum_down.insert(j, at);
                }
                Command::Log(_, m) => self.say(format!("{}: {m}", name(i))),
            }
        }
    }

    /// The newest order any live node holds or has queued for `s`.
    fn newest_order(&self, s: usize) -> Option<Order> {
        let nm = svc_name(s);
        let mut best: Option<Order> = None;
        for n in self.nodes.iter().filter(|n| n.power) {
            let held = n.mem.orders.get(&nm).into_iter();
            let queued = n.inbox.iter().filter(|(v, _)| *v == nm).map(|(_, o)| o);
            for o in held.chain(queued) {
                if best.as_ref().is_none_or(|b| o.newer_than(b)) {
                    best = Some(o.clone());
                }
            }
        }
        best
    }

    /// The cluster is whole: every node powered has a running agent, no
    /// cut, every disk path works.
    fn connected(&self) -> bool {
        self.cuts.is_empty()
            && self.nodes.iter().all(|n| {
                !n.power || (n.agent == Agent::Running && (!self.sc.disk || (n.disk_ok && n.rx_ok)))
            })
    }

    /// Node i could run service s and would be placed there if alone.
    fn eligible(&self, i: usize, s: usize, order: Option<&Order>) -> bool {
        let n = &self.nodes[i];
        let nm = svc_name(s);
        let wall = EPOCH + self.t;
        n.power
            && n.agent == Agent::Running
            && self.t - n.agent_started >= SETTLE
            && !self.broken.contains(&(s, i))
            && n.mem.start_failed.get(&nm).is_none_or(|f| !f.active(wall))
            && n.mem.orders.get(&nm) == order
            && !n.frozen.contains(&s)
            && !n.frozen_all
            && self.sc.services[s].0.contains(&i)
            // Every node of the service that is off went off while every
            // live agent heard it. A node never heard since its agent
            // started proves nothing (start-up fencing needs stonith, not
            // modelled), and a leader that cannot prove it blocks the
            // others too: a known gap (docs/orchestration.md).
            // Without a disk heartbeat (quorum scenarios), only quorum
            // proves a node off down: each live node must hold that proof
            // (it won its vote, and the node said it ends itself).
            && (self.sc.disk || self.sc.stonith || self.sc.services[s].0.iter().all(|m| {
                self.nodes[*m].power
                    || self
                        .nodes
                        .iter()
                        .filter(|l| l.power)
                        .all(|l| l.quorum_down.contains_key(m))
            }))
            && (self.sc.stonith || self.sc.services[s].0.iter().all(|m| {
                let off = &self.nodes[*m];
                off.power
                    || self
                        .nodes
                        .iter()
                        .filter(|l| l.power)
                        .all(|l| off.off_since > l.agent_started + 5.0)
            }))
    }

    fn check(&mut self) -> Result<(), Violation> {
        let t = self.t;
        let fail = |what: String| Err(Violation { at: t, what });
        if let Some(what) = self.violation.take() {
            return fail(what);
        }
        for s in 0..self.sc.services.len() {
            // Safety.
            let on: Vec<String> = (0..self.nodes.len())
                .filter(|j| self.nodes[*j].power && self.nodes[*j].running.contains(&s))
                .map(name)
                .collect();
            if on.len() > 1 {
                return fail(format!(
                    "{} runs on {} at once",
                    svc_name(s),
                    on.join(" and ")
                ));
            }
            // No failure record holds a node out longer than the back-off.
            for (i, n) in self.nodes.iter().enumerate() {
                if let Some(f) = n.mem.start_failed.get(&svc_name(s))
                    && f.retry_at - (EPOCH + t) > failures::MAX_BACKOFF.as_secs_f64() + 1.0
                {
                    return fail(format!(
                        "{} holds a start failure of {} beyond the back-off",
                        name(i),
                        svc_name(s)
                    ));
                }
            }
            // Liveness.
            let order = self.newest_order(s);
            let wanted = order.as_ref().is_none_or(|o| !o.target.freezes());
            let any = (0..self.nodes.len()).any(|i| self.eligible(i, s, order.as_ref()));
            if wanted && any && self.connected() {
                let began = *self.live_since.entry(s).or_insert(t);
                let since = began.max(self.disturbed);
                if t - since >= LIVENESS_BOUND {
                    self.stats.takeovers_checked += 1;
                    if on.is_empty() {
                        return fail(format!(
                            "{} runs nowhere although an eligible node was up and connected for {LIVENESS_BOUND}s",
                            svc_name(s)
                        ));
                    }
                }
            } else {
                self.live_since.remove(&s);
            }
            // Convergence.
            if self.connected() && t - self.disturbed >= LIVENESS_BOUND {
                let nm = svc_name(s);
                for (i, n) in self.nodes.iter().enumerate().filter(|(_, n)| n.power) {
                    if n.mem.orders.get(&nm) != order.as_ref() {
                        return fail(format!(
                            "{} holds order {:?} for {nm}, not the newest {:?}",
                            name(i),
                            n.mem.orders.get(&nm).map(|o| o.target.as_string()),
                            order.as_ref().map(|o| o.target.as_string())
                        ));
                    }
                    let frozen = n.frozen.contains(&s);
                    let want = order.as_ref().is_some_and(|o| o.target.freezes());
                    if frozen != want {
                        return fail(format!(
                            "{nm} is {} on {} while the newest order is {:?}",
                            if frozen { "frozen" } else { "thawed" },
                            name(i),
                            order.as_ref().map(|o| o.target.as_string())
                        ));
                    }
                    if order.as_ref().is_some_and(|o| o.target == Target::Stopped)
                        && n.running.contains(&s)
                    {
                        return fail(format!("{nm} still runs on {} under a stop order", name(i)));
                    }
                }
            }
        }
        Ok(())
    }
}

fn node_index(n: &str) -> usize {
    n.trim_start_matches("node")
        .parse::<usize>()
        .map_or(usize::MAX, |i| i - 1)
}

fn svc_index(s: &str) -> usize {
    s.trim_start_matches("svc").parse::<usize>().unwrap_or(1) - 1
}
