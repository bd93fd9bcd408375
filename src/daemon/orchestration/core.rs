//! The decision core (docs/orchestration.md): what this node does about
//! its orchestrated services, as a function of what it sees ([`View`]),
//! what it remembers ([`Memory`], [`Core`]) and the time. No I/O, no clock,
//! no shared state: the monitor thread (shell.rs) builds the view,
//! runs the [`Command`]s and feeds their outcomes back; the simulation
//! (sim/) runs this very code on simulated nodes.
//!
//! The order of the decisions for one service, each pass:
//!
//! 1. Frozen (the instance or the node): nothing; a freeze also clears
//!    this node's start failures, so that freeze then thaw retries at once.
//! 2. Up here or on a peer: nothing (`idle`); its failures are history.
//! 3. A start failure here not expired yet (failures.rs): `start failed`,
//!    which passes the placement to the next node.
//! 4. A start refused here for a conflict (a resource active elsewhere):
//!    looked at again after a few seconds, without passing the placement.
//! 5. The leader (src/placement.rs, or the node a `switch --to` order
//!    names) is another node: nothing. Nor while a peer heard still
//!    holds an older order than this node (it may lead by that one).
//! 6. This node is the leader: with its watchdog armed, every disk
//!    heartbeat must be writing (a node whose slot stands still may be
//!    taken for dead); every silent node of the service must be proven
//!    down (proof.rs; stonith is tried last, as it acts); then `ready` for
//!    `[node] ready_period` when another node of the service is heard (it
//!    could race this one), then `starting`. Nothing is decided before the
//!    heartbeats had time to hear every node after the daemon started.
//!
//! The resource restarts and the monitor action are decided in
//! restart_core.rs, the quorum and split decisions in quorum_core.rs: both
//! pure as this file, both returning these [`Command`]s.
//!
//! Cluster-wide orders (orders.rs) are carried out first, in [`Core::orders`]:
//! when they froze, thawed or stopped something, the pass decides nothing
//! more on the statuses it had.
//!
//! What blocks a start is said once in the log and always in the
//! service's `why` (svcmon, print status).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::claims::{self, Claims};
use super::failures;
use super::memory::Memory;
use super::orders::{self, Instance};
use super::proof::{self, Verdict};
use super::view::{NodeView, SvcView};
use crate::config::node::SplitAction;
use crate::order::{Order, Target};
use crate::placement::{self, Instances, Placement};

/// A failed stop of this instance for an order is tried again this often.
pub(crate) const STOP_RETRY: Duration = Duration::from_secs(30);

/// `DEFAULT.orchestrate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Orchestrate {
    #[default]
    No,
    /// Started once on its first available node, never failed over.
    Start,
    Ha,
}

impl Orchestrate {
    /// As the config spells it; None for anything else.
    pub(crate) fn parse(s: &str) -> Option<Orchestrate> {
        match s {
            "no" => Some(Orchestrate::No),
            "start" => Some(Orchestrate::Start),
            "ha" => Some(Orchestrate::Ha),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Orchestrate::No => "no",
            Orchestrate::Start => "start",
            Orchestrate::Ha => "ha",
        }
    }
}

/// The service monitor state of an instance, as svcmon shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Smon {
    #[default]
    Idle,
    Ready,
    Starting,
    StartFailed,
    Restarting,
}

impl Smon {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Smon::Idle => "idle",
            Smon::Ready => "ready",
            Smon::Starting => "starting",
            Smon::StartFailed => "start failed",
            Smon::Restarting => "restarting",
        }
    }
}

/// One local service, as the core needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct LocalSvc {
    pub orchestrate: Orchestrate,
    pub placement: Placement,
    pub nodes: Vec<String>,
    /// Its config does not load.
    pub error: bool,
    /// The instance's frozen flag, read when the view was built.
    pub frozen: bool,
    pub up: bool,
}

/// What one pass sees.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub local: String,
    pub node_frozen: bool,
    pub services: BTreeMap<String, LocalSvc>,
    /// This node's dataset as the peers see it, at the pass's start.
    pub me: NodeView,
    /// The peers heard, by name.
    pub peers: BTreeMap<String, NodeView>,
    /// What is known of each node of the services that no heartbeat hears
    /// (proof.rs judges it).
    pub silent: BTreeMap<String, proof::Evidence>,
    /// A disk heartbeat this node does not write while its watchdog is
    /// armed: why it must not start anything.
    pub disk_stale: Option<String>,
    /// Nodes with a `[stonith#<node>] cmd`.
    pub stonith: BTreeSet<String>,
    /// The heartbeats had time to hear every node since the daemon started.
    pub settled: bool,
    /// When the pass began (proofs and the ready period are measured in it).
    pub now: Instant,
    /// Wall-clock seconds (orders and failure records).
    pub wall: f64,
}

impl View {
    fn dataset(&self, n: &str) -> Option<&NodeView> {
        if n == self.local {
            Some(&self.me)
        } else {
            self.peers.get(n)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

/// What the core asks the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    Freeze(String),
    Thaw(String),
    /// Stop this instance for that order (frozen first for `stopped`).
    Stop(String, Order),
    /// Run the node's stonith command; answer with [`Core::fenced`].
    Fence(String),
    /// Start it here; answer with [`Core::started`]. `ready` is when the
    /// ready period began.
    Start(String, Instant),
    Smon(String, Smon),
    /// What this node now advertises of the service's claims (claims.rs).
    Claims(String, Claims),
    Why(String, Option<String>),
    Log(Level, String),
    /// Write the memory file.
    Save,
    /// Start this resource again, alone (restart_core.rs); when it does
    /// not start alone, with `followers` stopped first.
    RestartResource {
        svc: String,
        rid: String,
        followers: Vec<String>,
    },
    /// A monitored resource's restarts are spent: `crash` and `reboot`
    /// end the node here (what follows runs when that was refused).
    MonitorAction {
        svc: String,
        rid: String,
        action: SplitAction,
    },
    /// Stop this instance, not for an order (the monitor action).
    StopHere {
        svc: String,
        why: String,
    },
    /// This node lost quorum: `[node] split_action` (quorum_core.rs).
    SplitAction(SplitAction),
    /// This node holds quorum: the lost `node` counts as down from `at`
    /// (proof.rs, with its watchdog).
    QuorumDown {
        node: String,
        at: Instant,
    },
}

/// A start that ended, as the shell reports it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ended {
    pub outcome: StartOutcome,
    /// How long each step took, for the log line.
    pub phases: String,
    /// Where the service's log is.
    pub see: String,
}

/// How a start ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StartOutcome {
    Up,
    /// Refused: this resource is active on another host.
    Conflict(String),
    /// Failed here: what failed.
    Failed(String),
}

/// How often `say_ahead` looks through every peer's services, changed
/// or not.
const AHEAD_RECHECK: Duration = Duration::from_secs(10);

/// What the core remembers between passes (what must survive a daemon
/// restart is in [`Memory`]).
#[derive(Debug, Default)]
pub(crate) struct Core {
    pub ready_period: Duration,
    /// The services this node claims (claims.rs): since when, and the
    /// token.
    ready_since: BTreeMap<String, Ready>,
    /// What was last advertised of each service's claims.
    published: BTreeMap<String, Claims>,
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
    /// When this instance's stop last failed, per service and order: a
    /// failed stop is logged and tried again every STOP_RETRY.
    stop_tried: BTreeMap<String, (u64, Instant)>,
    /// Orders dated ahead of this node's clock already said, by service.
    ahead_said: BTreeMap<String, (String, u64)>,
    /// Each peer's services as `say_ahead` last looked through them, and
    /// when it last looked through all of them.
    ahead_seen: BTreeMap<String, Arc<BTreeMap<String, SvcView>>>,
    ahead_all_at: Option<Instant>,
    /// See [`Core::take_wake`].
    wake: Option<Instant>,
}

/// A claim of this node: it began `since`, at the wall time `token`.
#[derive(Debug, Clone, Copy)]
struct Ready {
    since: Instant,
    token: f64,
}

/// What a pass decided for one service here.
enum Decision {
    Wait(Option<String>),
    Blocked(String),
    Fence(String),
    Start { ready: Instant },
}

impl Core {
    pub(crate) fn new(ready_period: Duration) -> Core {
        Core {
            ready_period,
            ..Core::default()
        }
    }

    /// This node's part of the cluster-wide orders (orders.rs): takes in
    /// the orders typed here (`inbox`) and the newer ones peers advertise,
    /// then freezes, thaws or stops what each asks of this instance.
    pub(crate) fn orders(
        &mut self,
        mem: &mut Memory,
        v: &View,
        inbox: Vec<(String, Order)>,
    ) -> Vec<Command> {
        let mut out = Vec::new();
        if !v.settled {
            return out;
        }
        // Every service here, without copying a thousand names a pass.
        let local = |svc: &str| v.services.contains_key(svc);
        self.say_ahead(v, &mut out);
        let changed = orders::take_in(mem, inbox, &v.peers, local, v.wall);
        let mut dirty = !changed.is_empty();
        for svc in changed {
            if let Some(o) = mem.orders.get(&svc) {
                let line = order_line(&svc, o, &format!("{} taken in", o.given()));
                out.push(Command::Log(Level::Info, line));
            }
        }
        for svc in orders::take_in_reached(mem, &v.peers) {
            dirty = true;
            if let Some(o) = mem.orders.get(&svc) {
                let line = order_line(&svc, o, "reached (as a peer saw it)");
                out.push(Command::Log(Level::Info, line));
            }
        }
        mem.orders.retain(|svc, _| local(svc));
        mem.applied.retain(|svc, _| local(svc));
        mem.reached.retain(|svc, _| local(svc));
        self.stop_tried.retain(|svc, _| local(svc));
        for (svc, order) in mem.orders.clone() {
            let Some(s) = v.services.get(&svc) else {
                continue;
            };
            let mut frozen = s.frozen;
            if mem.applied.get(&svc) != Some(&order.at) {
                let want = order.target.freezes();
                if want == s.frozen {
                    mem.applied.insert(svc.clone(), order.at);
                    dirty = true;
                } else {
                    out.push(if want {
                        Command::Freeze(svc.clone())
                    } else {
                        Command::Thaw(svc.clone())
                    });
                    frozen = want;
                    // Applied once a later pass sees the flag as wanted,
                    // not now: the memory file may be written before the
                    // freeze runs (an order typed here), and a node ended
                    // in between came back with the order applied and the
                    // instance thawed, which it then started and stopped
                    // for ever (the simulation, seed 555002649).
                }
            }
            let stop_here = match &order.target {
                Target::Stopped => s.up,
                Target::Placed(n) => {
                    *n != v.local
                        && s.up
                        && orders::placed_on(mem, &svc, v.wall) == Some(n.as_str())
                        && can_run(v, n, &svc, s.placement)
                }
                _ => false,
            };
            if stop_here {
                if self.may_try_stop(&svc, order.at, v.now) {
                    out.push(Command::Stop(svc.clone(), order.clone()));
                }
                // Reached or not is judged on the next pass's statuses.
                continue;
            }
            let mut instances = vec![Instance {
                node: v.local.clone(),
                frozen,
                up: s.up,
                holds: true,
            }];
            for (n, p) in &v.peers {
                if let Some(ps) = p.services.get(&svc) {
                    instances.push(Instance {
                        node: n.clone(),
                        frozen: ps.frozen,
                        up: ps.up,
                        holds: ps.order.as_deref() == Some(&order),
                    });
                }
            }
            if mem.reached.get(&svc) != Some(&order.at)
                && orders::reached(&order.target, &instances)
            {
                out.push(Command::Log(
                    Level::Info,
                    format!(
                        "{svc}: cluster-wide order '{}' reached",
                        order.target.as_string()
                    ),
                ));
                mem.reached.insert(svc.clone(), order.at);
                dirty = true;
            }
        }
        if dirty {
            out.push(Command::Save);
        }
        out
    }

    /// A stop asked by [`Command::Stop`] ended.
    pub(crate) fn stopped(&mut self, svc: &str, ok: bool) {
        if ok {
            // Only failures wait STOP_RETRY. A switch whose target died
            // before it started the service sees it started here again;
            // once the target is back, this instance is stopped again at
            // once, not 30 s later.
            self.stop_tried.remove(svc);
        }
    }

    fn may_try_stop(&mut self, svc: &str, at: f64, now: Instant) -> bool {
        let key = at.to_bits();
        match self.stop_tried.get(svc) {
            Some((k, t)) if *k == key && now.saturating_duration_since(*t) < STOP_RETRY => false,
            _ => {
                self.stop_tried.insert(svc.to_string(), (key, now));
                true
            }
        }
    }

    /// Logs, once each, the peers' orders left out for being dated ahead
    /// of this node's clock.
    fn say_ahead(&mut self, v: &View, out: &mut Vec<Command>) {
        // A peer's services not replaced since the last look were looked
        // through then: at sixteen nodes of a thousand services, going
        // through 15,000 services every pass for an order that is nearly
        // never there was a few percent of the pass. All of them are
        // looked through again every AHEAD_RECHECK, for what changes
        // without them (this node's services, its clock).
        let all = self
            .ahead_all_at
            .is_none_or(|t| v.now.saturating_duration_since(t) >= AHEAD_RECHECK);
        if all {
            self.ahead_all_at = Some(v.now);
        }
        self.ahead_seen.retain(|n, _| v.peers.contains_key(n));
        for (peer, p) in &v.peers {
            let seen = self.ahead_seen.get(peer);
            if !all && seen.is_some_and(|s| Arc::ptr_eq(s, &p.services)) {
                continue;
            }
            self.ahead_seen.insert(peer.clone(), p.services.clone());
            for (svc, s) in p.services.iter() {
                // The order first, rare: looking every peer's every
                // service up among this node's is 15,000 lookups a pass
                // at sixteen nodes of a thousand services.
                let Some(o) = &s.order else {
                    continue;
                };
                if !v.services.contains_key(svc) {
                    continue;
                }
                let Some(d) = o.ahead(v.wall) else {
                    continue;
                };
                let key = (o.by.clone(), o.at.to_bits());
                if self.ahead_said.get(svc) == Some(&key) {
                    continue;
                }
                out.push(Command::Log(Level::Warn, format!(
                    "{svc}: cluster-wide order '{}' {} ignored: dated {d:.0} s ahead of this node's clock (more than {} s): check the clocks (NTP)",
                    o.target.as_string(),
                    o.given(),
                    crate::order::MAX_SKEW
                )));
                self.ahead_said.insert(svc.clone(), key);
            }
        }
    }

    /// The placement decisions of one pass: which services start here.
    pub(crate) fn decide(&mut self, mem: &mut Memory, v: &View) -> Vec<Command> {
        let mut out = Vec::new();
        if !v.settled {
            // Deciding nothing, it still acknowledges the peers' claims.
            self.publish_claims(v, &mut out);
            return out;
        }
        // A node heard again may be fenced again if it falls silent later.
        self.fenced.retain(|n, _| !v.peers.contains_key(n));
        for (name, svc) in &v.services {
            let why = match self.decide_one(mem, v, name, svc, &mut out) {
                Decision::Wait(note) => {
                    self.said.remove(name);
                    note
                }
                Decision::Blocked(why) => {
                    if self.said.get(name) != Some(&why) {
                        out.push(Command::Log(
                            Level::Warn,
                            format!("{name}: not started here: {why}"),
                        ));
                        self.said.insert(name.clone(), why.clone());
                    }
                    Some(why)
                }
                Decision::Fence(n) => {
                    out.push(Command::Fence(n.clone()));
                    Some(format!("{n} silent: fencing it"))
                }
                Decision::Start { ready } => {
                    self.said.remove(name);
                    out.push(Command::Smon(name.clone(), Smon::Starting));
                    out.push(Command::Start(name.clone(), ready));
                    // The note follows the start's outcome (started).
                    continue;
                }
            };
            out.push(Command::Why(name.clone(), why));
        }
        self.publish_claims(v, &mut out);
        out
    }

    /// Advertises, where it changed, this node's claim on each service and
    /// the peers' claims it acknowledges (claims.rs).
    fn publish_claims(&mut self, v: &View, out: &mut Vec<Command>) {
        self.published.retain(|n, _| v.services.contains_key(n));
        for (name, svc) in &v.services {
            let peers = service_peers(v, name, svc);
            let token = self.ready_since.get(name).map(|r| r.token);
            let now = Claims {
                token,
                acks: claims::acks(&peers, token.is_some(), svc.up),
            };
            let before = self.published.get(name);
            if before == Some(&now) || (before.is_none() && now.is_empty()) {
                continue;
            }
            out.push(Command::Claims(name.clone(), now.clone()));
            if now.is_empty() {
                self.published.remove(name);
            } else {
                self.published.insert(name.clone(), now);
            }
        }
    }

    /// This node claims `name` from now, unless it already does.
    fn claim(&mut self, name: &str, v: &View) -> Ready {
        *self.ready_since.entry(name.to_string()).or_insert(Ready {
            since: v.now,
            token: v.wall,
        })
    }

    fn decide_one(
        &mut self,
        mem: &mut Memory,
        v: &View,
        name: &str,
        svc: &LocalSvc,
        out: &mut Vec<Command>,
    ) -> Decision {
        use Decision::{Blocked, Fence, Start, Wait};
        let smon = |out: &mut Vec<Command>, s: Smon| out.push(Command::Smon(name.to_string(), s));
        if svc.orchestrate == Orchestrate::No || svc.error {
            return Wait(None);
        }
        if svc.frozen || v.node_frozen {
            // Freezing is how an operator clears a failed start.
            if mem.start_failed.remove(name).is_some() {
                out.push(Command::Save);
            }
            self.ready_since.remove(name);
            self.conflicts.remove(name);
            smon(out, Smon::Idle);
            return Wait(self.frozen_note(mem, name, v.node_frozen));
        }
        let up_on: Vec<&str> = v
            .peers
            .iter()
            .filter(|(_, p)| p.up(name))
            .map(|(n, _)| n.as_str())
            .collect();
        if svc.up || !up_on.is_empty() {
            self.seen_running.insert(name.to_string());
            self.ready_since.remove(name);
            self.conflicts.remove(name);
            // Running somewhere: a failure here is history, and must not
            // hold this node back when that node is lost later.
            if mem.start_failed.remove(name).is_some() {
                out.push(Command::Save);
            }
            smon(out, Smon::Idle);
            return Wait(
                (svc.up && !up_on.is_empty())
                    .then(|| format!("also up on {}: active on two nodes", up_on.join(", "))),
            );
        }
        if svc.orchestrate == Orchestrate::Start && self.seen_running.contains(name) {
            return Wait(None);
        }
        if let Some(f) = mem.start_failed.get(name)
            && f.active(v.wall)
        {
            self.ready_since.remove(name);
            smon(out, Smon::StartFailed);
            let note = format!(
                "start failed here ({}), retry in {}s",
                f.reason,
                f.retry_in(v.wall)
            );
            give_up_placement_here(mem, v, name, out);
            return Wait(Some(note));
        }
        smon(out, Smon::Idle);
        if let Some((rid, at)) = self.conflicts.get(name)
            && v.now < *at
        {
            return Wait(Some(format!(
                "{rid} conflict: active on a host this node cannot see; looked at again in {}s",
                at.duration_since(v.now).as_secs() + 1
            )));
        }
        // Under an order that thaws every instance, as every node will
        // see them once it took the order in (orders::thawing).
        let instances = if orders::thawing(mem, name) {
            Instances::Thawing
        } else {
            Instances::AsTheyAre
        };
        let facts = |n: &str| v.dataset(n).map(|d| d.facts(name));
        // A switch --to steers the placement while its node can take it.
        let placed = orders::placed_on(mem, name, v.wall).filter(|n| {
            let only = [n.to_string()];
            placement::leader_by(&only, svc.placement, instances, facts).is_some()
        });
        let leader = match placed {
            Some(n) => svc.nodes.iter().find(|m| *m == n).map(String::as_str),
            None => placement::leader_by(&svc.nodes, svc.placement, instances, facts),
        };
        match leader {
            Some(l) if l == v.local => {}
            Some(_) => {
                self.ready_since.remove(name);
                return Wait(None);
            }
            None => {
                self.ready_since.remove(name);
                return Wait(Some(no_candidate_note(mem, name, v.wall)));
            }
        }
        // A peer still on an older order may lead by it (a switch
        // steering to itself) while this node leads by the newer one:
        // wait the beat it takes to hear the newer order (the simulation
        // found it: `switch --to node5` then `start` typed on node1
        // 1.3 s apart, and node1 and node5 both started the service).
        if let Some(behind) = behind_on_order(mem, v, name) {
            return Wait(Some(behind));
        }
        // Heard, its dataset not fetched yet: it may run it (hb/dataset.rs).
        if let Some(n) = svc
            .nodes
            .iter()
            .find(|n| v.peers.get(*n).is_some_and(|p| p.pending))
        {
            return Wait(Some(format!("waiting for {n}'s dataset")));
        }
        // Another node starts it, or is about to and came first (claims.rs).
        let peers = service_peers(v, name, svc);
        let claiming = self.ready_since.contains_key(name);
        if let Some(why) = claims::yield_to(&peers, &svc.nodes, &v.local, claiming) {
            self.ready_since.remove(name);
            return Wait(Some(why));
        }
        if let Some(why) = &v.disk_stale {
            self.ready_since.remove(name);
            return Blocked(why.clone());
        }
        // This node would start it: every silent node must be proven down.
        let silent = svc
            .nodes
            .iter()
            .filter(|n| **n != v.local && !v.peers.contains_key(*n));
        for n in silent {
            let never = proof::Evidence {
                maintenance: false,
                lost: None,
                disks: Vec::new(),
                quorum_down_at: None,
            };
            let ev = v.silent.get(n).unwrap_or(&never);
            match proof::judge(ev, v.now) {
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
                    self.claim(name, v);
                    self.wake_at(at);
                    smon(out, Smon::Ready);
                    return Wait(Some(format!(
                        "{n} silent: proven down in {:.1}s ({by})",
                        at.duration_since(v.now).as_secs_f64()
                    )));
                }
                Verdict::Unproven(why) => match self.fenced.get(n.as_str()) {
                    Some(true) => {}
                    None if v.stonith.contains(n.as_str()) => {
                        self.ready_since.remove(name);
                        return Fence(n.clone());
                    }
                    _ => {
                        self.ready_since.remove(name);
                        return Blocked(format!(
                            "{n} may still run it (no heartbeat hears it, and nothing proves it down: {why}; no stonith command fenced it)"
                        ));
                    }
                },
            }
        }
        let Ready { since, token } = self.claim(name, v);
        // The ready period lets two candidates whose views differ for a
        // beat (a thaw, a failed start seen late) agree on one leader.
        // With no other node of the service heard, every other one is
        // proven down just above: nobody can race this node, and the wait
        // would only add to the outage.
        if !single_candidate(v, svc) && v.now.duration_since(since) < self.ready_period {
            smon(out, Smon::Ready);
            self.wake_at(since + self.ready_period);
            return Wait(None);
        }
        // Every heard node of the service must have seen this claim and
        // promised to leave the service to it: however long the ready
        // period, lost beats could outlast it.
        if let Some(n) = claims::unacked(&peers, &v.local, token) {
            smon(out, Smon::Ready);
            return Wait(Some(format!(
                "waiting for {n} to acknowledge this node's claim"
            )));
        }
        Start { ready: since }
    }

    /// The earliest instant a waiting decision may change (a ready period
    /// ending, a proof maturing): the monitor's next pass comes then
    /// rather than at the end of its tick. Taken, so each pass sets it anew.
    pub(crate) fn take_wake(&mut self) -> Option<Instant> {
        self.wake.take()
    }

    fn wake_at(&mut self, at: Instant) {
        if self.wake.is_none_or(|w| at < w) {
            self.wake = Some(at);
        }
    }

    /// The stonith command of `node` ran: rc 0 (`ok`) proves it down.
    pub(crate) fn fenced(&mut self, node: &str, ok: bool) {
        self.fenced.insert(node.to_string(), ok);
    }

    /// A [`Command::Start`] ended at `now` (`wall`). Returns what to do:
    /// the note, the smon, the log line, the memory to save.
    pub(crate) fn started(
        &mut self,
        mem: &mut Memory,
        name: &str,
        ended: Ended,
        now: Instant,
        wall: f64,
    ) -> Vec<Command> {
        let Ended {
            outcome,
            phases,
            see,
        } = ended;
        self.ready_since.remove(name);
        let mut out = vec![Command::Smon(name.to_string(), Smon::Idle)];
        let reason = match outcome {
            StartOutcome::Up => {
                out.push(Command::Log(
                    Level::Info,
                    format!("{name}: started here ({phases})"),
                ));
                if mem.start_failed.remove(name).is_some() {
                    out.push(Command::Save);
                }
                out.push(Command::Why(name.to_string(), None));
                return out;
            }
            StartOutcome::Conflict(rid) => {
                // Not a failure of this node: the service, or what holds
                // its address, runs somewhere this node cannot see.
                let again = failures::CONFLICT_RETRY;
                out.push(Command::Log(Level::Warn, format!(
                    "{name}: start refused here ({phases}): {rid} is active on another host; looked at again in {}s",
                    again.as_secs()
                )));
                self.conflicts.insert(name.to_string(), (rid, now + again));
                out.push(Command::Why(name.to_string(), None));
                return out;
            }
            StartOutcome::Failed(reason) => reason,
        };
        let f = failures::record(mem.start_failed.get(name), wall, &reason);
        out.push(Command::Log(Level::Error, format!(
            "{name}: start failed here ({phases}): {reason}: the next node may take it over; retried here in {}s (see {see})",
            f.retry_in(wall),
        )));
        let note = format!(
            "start failed here ({reason}), retry in {}s",
            f.retry_in(wall)
        );
        mem.start_failed.insert(name.to_string(), f);
        out.push(Command::Save);
        out.push(Command::Smon(name.to_string(), Smon::StartFailed));
        out.push(Command::Why(name.to_string(), Some(note)));
        out
    }

    /// Why a frozen instance does not run: said only when an order or the
    /// node froze it (a service created frozen shows `*`, which says it).
    fn frozen_note(&self, mem: &Memory, name: &str, node_frozen: bool) -> Option<String> {
        if node_frozen {
            return Some("this node is frozen (nodemgr thaw)".into());
        }
        let o = mem.orders.get(name)?;
        o.target
            .freezes()
            .then(|| format!("frozen by order '{}' {}", o.target.as_string(), o.given()))
    }
}

/// The orders froze, thawed or stopped something: decide on fresh statuses.
pub(crate) fn acted(cmds: &[Command]) -> bool {
    cmds.iter()
        .any(|c| matches!(c, Command::Freeze(_) | Command::Thaw(_) | Command::Stop(..)))
}

/// A `switch --to` this node that failed to start the service here is
/// over: the order is marked reached, which every node takes in, so it
/// stops steering. Otherwise the node it came from, which runs the service
/// again meanwhile, stopped it each time this node's back-off ended (and a
/// service seen running drops the failure record), for ever: the
/// simulation, seed 555002726.
fn give_up_placement_here(mem: &mut Memory, v: &View, name: &str, out: &mut Vec<Command>) {
    if orders::placed_on(mem, name, v.wall) != Some(v.local.as_str()) {
        return;
    }
    let Some(o) = mem.orders.get(name) else {
        return;
    };
    let what = format!("{} given up: the start failed here", o.given());
    out.push(Command::Log(Level::Warn, order_line(name, o, &what)));
    mem.reached.insert(name.to_string(), o.at);
    out.push(Command::Save);
}

/// A log line about `svc`'s cluster-wide order: one wording for all, so
/// that `grep "cluster-wide order"` follows an order through the logs.
fn order_line(svc: &str, o: &Order, what: &str) -> String {
    format!(
        "{svc}: cluster-wide order '{}' {what}",
        o.target.as_string()
    )
}

/// The heard nodes of `svc` whose dataset lists `name`: the nodes that
/// take part in its claims (claims.rs).
fn service_peers<'v>(v: &'v View, name: &str, svc: &'v LocalSvc) -> Vec<(&'v str, &'v SvcView)> {
    svc.nodes
        .iter()
        .filter(|n| **n != v.local)
        .filter_map(|n| Some((n.as_str(), v.peers.get(n)?.services.get(name)?)))
        .collect()
}

/// The peers heard that hold an order for `name` older than this node's
/// (or none while this node holds one), as the note to show.
fn behind_on_order(mem: &Memory, v: &View, name: &str) -> Option<String> {
    let mine = mem.orders.get(name)?;
    let behind: Vec<&str> = v
        .peers
        .iter()
        .filter(|(_, p)| {
            p.services
                .get(name)
                .is_some_and(|s| s.order.as_ref().is_none_or(|o| mine.newer_than(o)))
        })
        .map(|(n, _)| n.as_str())
        .collect();
    (!behind.is_empty()).then(|| {
        format!(
            "waiting for {} to take in the order '{}'",
            behind.join(", "),
            mine.target.as_string()
        )
    })
}

/// No node can take the service: say why from here.
fn no_candidate_note(mem: &Memory, name: &str, wall: f64) -> String {
    match mem.start_failed.get(name) {
        Some(f) => format!(
            "start failed on every node that can run it; retry here in {}s",
            f.retry_in(wall)
        ),
        None => "no node can run it now (frozen, failed, or not heard)".into(),
    }
}

/// No other node of the service is heard: this node is the only candidate
/// (the silent ones were proven down before this is asked).
fn single_candidate(v: &View, svc: &LocalSvc) -> bool {
    svc.nodes
        .iter()
        .all(|n| *n == v.local || !v.peers.contains_key(n))
}

/// Node `n` could take the service: it is this pass's candidate for it
/// (heard, not frozen, no failed start), as placement judges.
fn can_run(v: &View, n: &str, svc: &str, how: Placement) -> bool {
    let only = [n.to_string()];
    placement::leader_by(&only, how, Instances::AsTheyAre, |m| {
        v.dataset(m).map(|d| d.facts(svc))
    })
    .is_some()
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
