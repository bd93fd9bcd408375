//! The simulated cluster: N nodes running the real decision core
//! (core.rs) on a simulated clock, their heartbeats (network with delay,
//! loss and cuts; a shared disk with one slot per node), their watchdog,
//! their agent (dead, hung), their power, and resources that start, fail,
//! or refuse because another live node holds them (the address probe).
//!
//! The timings are the shipped defaults: beats every 1 s, lost after 3 s,
//! the watchdog resets 2 s after the last pet, petted only while the disk
//! slot was written within 1.5 s (so the advertised bound is 3.5 s after
//! the last write), a pass every second, a ready period of 1 s.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use super::rng::Rng;
use crate::daemon::orchestration::core::{
    Command, Core, Ended, LocalSvc, Orchestrate, Smon, StartOutcome, View,
};
use crate::daemon::orchestration::failures;
use crate::daemon::orchestration::memory::Memory;
use crate::daemon::orchestration::proof;
use crate::daemon::orchestration::view::{NodeView, SvcView};
use crate::order::{Order, Target};
use crate::placement::Placement;

pub(super) const TICK: f64 = 0.1;
const INTERVAL: f64 = 1.0;
const TIMEOUT: f64 = 3.0;
const WATCHDOG_TIMEOUT: f64 = 2.0;
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
}

struct Slot {
    seq: u64,
    view: NodeView,
    written: f64,
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
    frozen: BTreeSet<usize>,
    smon: BTreeMap<String, Smon>,
    heard: BTreeMap<usize, Heard>,
    lost: BTreeMap<usize, f64>,
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
    /// Automatic transitions (a watchdog's reboot), as events.
    pending: Vec<Timed>,
    /// The last time anything happened (an event or a transition).
    disturbed: f64,
    live_since: BTreeMap<usize, f64>,
    pub log: Vec<String>,
    pub stats: Stats,
    trace: bool,
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
                frozen: BTreeSet::new(),
                smon: BTreeMap::new(),
                heard: BTreeMap::new(),
                lost: BTreeMap::new(),
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
            pending: Vec::new(),
            disturbed: 0.0,
            live_since: BTreeMap::new(),
            log: Vec::new(),
            stats: Stats::default(),
            trace,
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
            }
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
        n.heard.clear();
        n.lost.clear();
        n.slots.clear();
        n.last_scan = None;
        n.smon.clear();
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
        let services = (0..self.sc.services.len())
            .map(|s| {
                let nm = svc_name(s);
                let v = SvcView {
                    up: n.running.contains(&s),
                    frozen: n.frozen.contains(&s),
                    start_failed: n.smon.get(&nm) == Some(&Smon::StartFailed),
                    order: n.mem.orders.get(&nm).cloned(),
                    reached: n
                        .mem
                        .orders
                        .get(&nm)
                        .is_some_and(|o| n.mem.reached.get(&nm) == Some(&o.at)),
                };
                (nm, v)
            })
            .collect();
        NodeView {
            frozen: false,
            load15: Some(0.0),
            services,
        }
    }

    fn cut(&self, a: usize, b: usize) -> bool {
        self.cuts.contains(&(a.min(b), a.max(b)))
    }

    fn beat(&mut self, i: usize) {
        let view = self.dataset(i);
        let t = self.t;
        for j in 0..self.nodes.len() {
            if j == i || self.cut(i, j) || self.rng.chance(self.sc.loss) {
                continue;
            }
            let delay = self.rng.range(0.0, self.sc.delay);
            self.msgs.push(Msg {
                at: t + delay,
                from: i,
                to: j,
                view: view.clone(),
                sent: t,
            });
        }
        if self.nodes[i].disk_ok {
            let seq = self.disk.get(&i).map_or(1, |s| s.seq + 1);
            self.disk.insert(
                i,
                Slot {
                    seq,
                    view,
                    written: t,
                },
            );
            self.nodes[i].last_write = Some(t);
        }
    }

    fn hear(&mut self, to: usize, from: usize, view: NodeView, sent: f64) {
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
                self.hear(m.to, m.from, m.view, m.sent);
            }
        }
    }

    /// The disk rx reads every slot.
    fn scan(&mut self, i: usize) {
        if !self.nodes[i].disk_ok || !self.nodes[i].rx_ok {
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
                heard.push((*j, slot.view.clone(), slot.written));
            }
        }
        for (j, v, sent) in heard {
            self.hear(i, j, v, sent);
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
        for j in gone {
            let h = n.heard.remove(&j).expect("listed");
            n.lost.insert(j, h.last);
        }
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
                        fences_itself: false,
                    }),
                    disks: vec![disk],
                    quorum_down_at: None,
                };
                (name(j), ev)
            })
            .collect();
        View {
            local: name(i),
            node_frozen: false,
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
        let cmds = self.nodes[i].core.step(&mut mem, &view, inbox);
        self.nodes[i].mem = mem;
        self.exec(i, cmds);
    }

    fn exec(&mut self, i: usize, cmds: Vec<Command>) {
        for c in cmds {
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
                    self.nodes[i].smon.insert(s, m);
                }
                Command::Why(..) | Command::Save => {}
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
            && self
                .nodes
                .iter()
                .all(|n| !n.power || (n.agent == Agent::Running && n.disk_ok && n.rx_ok))
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
            && self.sc.services[s].0.contains(&i)
            // Every node of the service that is off went off while every
            // live agent heard it. A node never heard since its agent
            // started proves nothing (start-up fencing needs stonith, not
            // modelled), and a leader that cannot prove it blocks the
            // others too: a known gap (docs/orchestration.md).
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
