//! The daemon's shared memory: its threads and this node's dataset (every
//! local service's status), as `daemon_status` returns it and svcmon shows it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub(crate) use super::conf_stamp::ConfStamp;
use super::hb::dataset;
use super::local_services::LocalServices;
use super::orchestration::claims::Claims;
use super::orchestration::core::{Orchestrate, Smon};
use super::orchestration::proof::{Lost, SlotSeen};
use super::orchestration::view::{NodeView, SvcView};
use super::peer_services::PeerServices;
use super::wakeup::Wakeup;
use crate::config::node::SplitAction;
use crate::placement::Placement;
use crate::status::Status;

/// The watchdog deadline a peer's dataset advertises, when sane.
pub(crate) fn advertised_watchdog(data: &Value) -> Option<Duration> {
    data["watchdog"]
        .as_f64()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 3600.0)
        .map(Duration::from_secs_f64)
}

/// A daemon thread's state, as svcmon shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    Running,
    Stopped,
}

impl ThreadState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ThreadState::Running => "running",
            ThreadState::Stopped => "stopped",
        }
    }
}

/// The node monitor's state, advertised with every beat: `idle`, or
/// `maintenance` once its daemon is being stopped on purpose (peers then
/// take its silence for a clean stop, not a death).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum NodeMonitor {
    #[default]
    Idle,
    Maintenance,
}

impl NodeMonitor {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NodeMonitor::Idle => "idle",
            NodeMonitor::Maintenance => "maintenance",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ThreadInfo {
    pub state: ThreadState,
    /// What svcmon shows after the state (the listener's address).
    pub info: String,
}

/// A resource the daemon watches, with its status at the last probe.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Watched {
    pub rid: String,
    pub status: Status,
    pub restart: u32,
    pub monitor: bool,
    /// For a storage resource (vg, fs): the enabled resources started
    /// after it, which may hold it (an application whose working directory
    /// is in a lazily unmounted filesystem keeps its device busy). A
    /// restart that fails alone is tried again with them stopped first,
    /// as an administrator would. Empty for the others: nothing started
    /// later can keep an address from being added back.
    pub followers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceData {
    pub avail: Status,
    pub overall: Status,
    /// The service or the node is frozen: what the dataset advertises
    /// and svcmon shows.
    pub frozen: bool,
    /// The service's own flag alone (`FROZEN.<svc>`): what an order
    /// freezes or thaws, and judges carried out here
    /// (orchestration/core.rs). Not advertised. Taken for `frozen`, a
    /// frozen node took a `stopped` order for carried out without setting
    /// the flag, and once thawed started the service, stopped it for the
    /// order, and started it again, every few seconds.
    pub instance_frozen: bool,
    pub cluster_type: String,
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
    /// Set when the config does not load: the service shows `?`.
    pub error: Option<String>,
    pub orchestrate: Orchestrate,
    pub placement: Placement,
    /// The service monitor state, set by the orchestrator.
    pub smon: Smon,
    /// The config file's stamp, advertised for replication.
    pub config: Option<ConfStamp>,
    /// Resources with `restart > 0` or `monitor = true`, with their last
    /// status: what restarts.rs watches. Not advertised.
    pub watched: Vec<Watched>,
    /// `DEFAULT.monitor_action` (unset: freezestop).
    pub monitor_action: SplitAction,
    /// Why the orchestrator does not run it here while it could (a failed
    /// start, a proof missing, an order), for svcmon and print status.
    pub why: Option<String>,
}

#[cfg(test)]
impl ServiceData {
    /// An orchestrated service up here, on `nodes`, nothing else set:
    /// what tests start from.
    pub(crate) fn sample(nodes: &[&str]) -> ServiceData {
        ServiceData {
            avail: Status::Up,
            overall: Status::Up,
            frozen: false,
            instance_frozen: false,
            cluster_type: "failover".into(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            drpnodes: vec![],
            error: None,
            orchestrate: Orchestrate::Ha,
            placement: Placement::NodesOrder,
            smon: Smon::Idle,
            config: None,
            watched: vec![],
            monitor_action: SplitAction::FreezeStop,
            why: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct NodeData {
    pub load15: f64,
    pub frozen: bool,
    /// The node monitor state; `idle` is not shown.
    pub monitor: NodeMonitor,
    pub services: LocalServices<ServiceData>,
}

/// What one heartbeat's threads last achieved: the watchdog's gate
/// (watchdog.rs) and the disk proof (orchestration/proof.rs) read it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Ticks {
    /// The tx loop sealed and sent (or tried to send) a beat.
    pub beat: Option<Instant>,
    /// A disk tx wrote its slot.
    pub written: Option<Instant>,
    /// A disk rx read the device through.
    pub scanned: Option<Instant>,
}

/// What the heartbeats brought from one peer: the node-level fields of
/// its last beat, and the services part last fetched (hb/dataset.rs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer {
    /// The last beat's node-level fields (no `services`), with `pending`
    /// while the services held are not the ones it named.
    pub data: Value,
    /// The services part last fetched (none before the first), kept as
    /// text (peer_services.rs), replaced whole by the next one and never
    /// edited: the monitor's pass shares it every second.
    pub services: Arc<PeerServices>,
    /// The same, decoded once: what the decisions read. `pending` while
    /// the services held are not those the last beat named.
    pub view: NodeView,
    /// Last frame received, per rx thread.
    pub last: BTreeMap<String, Instant>,
    /// The digest of the services part held (hb/dataset.rs), None until
    /// one is fetched.
    pub digest: Option<String>,
    /// What the newest beat named. Beats come by several paths, and a
    /// disk slot is read up to a poll late: the last beat heard is not
    /// always the newest sent, and one older than `named` says nothing
    /// new (it still proves the peer alive).
    pub named: Option<Named>,
}

/// Sets a service's note; whether it changed.
fn note(s: &mut ServiceData, why: Option<String>) -> bool {
    let changed = s.why != why;
    s.why = why;
    changed
}

/// A beat sealed at `sent` is older than the newest heard, sealed at
/// `newest`, and late rather than from a clock set back: a late beat is
/// a slot read up to a poll after it was written, or a beat overtaken on
/// its way; the wire refuses one older than `MAX_AGE`. A disk slot, with
/// no clock bound, may hold the beats of a daemon restarted after its
/// clock was set back: those are taken, not ignored until the clock
/// catches up.
fn late(sent: u64, newest: u64) -> bool {
    let max_age = u64::try_from(crate::daemon::wire::MAX_AGE.as_micros()).unwrap_or(u64::MAX);
    sent < newest && newest - sent <= max_age
}

/// The services part the newest beat of a peer named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub digest: String,
    /// When the peer sealed that beat: its frame's `seq`, the peer's
    /// clock in microseconds, which orders its beats across paths
    /// (wire.rs).
    pub sent: u64,
    /// When a beat first named this digest, on this node's clock: a part
    /// asked for after it is at least as new (`Fresh::AskedAt`).
    pub since: Instant,
}

impl Peer {
    /// The peer's dataset as the status answer shows it: its node-level
    /// fields and its services.
    pub(crate) fn dataset(&self) -> Value {
        let mut d = match &self.data {
            Value::Object(_) => self.data.clone(),
            _ => json!({}),
        };
        d["services"] = self.services.to_value();
        d
    }

    /// What the monitor's pass reads of the peer, sharing its services.
    pub(crate) fn pass_data(&self) -> PeerData {
        PeerData {
            fields: self.data.clone(),
            services: self.services.clone(),
        }
    }
}

/// A peer's dataset as the monitor's pass reads it (restarts, config
/// replication): the node-level fields, and the services part shared
/// with `Peer`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerData {
    pub fields: Value,
    pub services: Arc<PeerServices>,
}

impl PeerData {
    /// From a whole dataset (`{..., "services": {...}}`), its services
    /// left out when they do not decode: tests and the fuzzer build them so.
    pub(crate) fn from_dataset(mut data: Value) -> PeerData {
        let services = data
            .as_object_mut()
            .and_then(|o| o.remove("services"))
            .unwrap_or_else(|| json!({}));
        let services = PeerServices::decode_shared(services.to_string().into(), None)
            .map(|d| d.services)
            .unwrap_or_default();
        PeerData {
            fields: data,
            services: Arc::new(services),
        }
    }
}

/// How much of the status a local-socket client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusView {
    /// Everything (`svcmon --format json`, docs/json.md).
    Full,
    /// svcmon's table: every node's entries for this node's services only
    /// (its rows), with only the fields the table reads. On 16 nodes of a
    /// thousand services each, the whole answer is 16,000 entries of which
    /// the table shows this node's thousand.
    Svcmon,
}

/// Every local service's entry of the dataset is made of the service and
/// of what `inputs` holds of it.
struct PartOf<'a> {
    services: &'a BTreeMap<String, ServiceData>,
    inputs: &'a PartInputs,
}

impl PartOf<'_> {
    /// Every local service's entry, as one object.
    fn json(&self) -> serde_json::Map<String, Value> {
        self.services
            .iter()
            .map(|(name, s)| (name.clone(), self.entry(name, s)))
            .collect()
    }

    /// The same object as text, `Value::Object(self.json()).to_string()`,
    /// written one entry at a time: at 1000 services the whole object as a
    /// `Value` is some 3 MB of small allocations, and the heap kept that
    /// peak after it was freed. `hint` is the length expected (the last
    /// text's), so that the buffer is not grown by doubling.
    fn text(&self, hint: usize) -> String {
        let mut out = Vec::with_capacity(hint + hint / 16 + 64);
        out.push(b'{');
        for (i, (name, s)) in self.services.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing a string and a Value into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, name);
            out.push(b':');
            let _ = serde_json::to_writer(&mut out, &self.entry(name, s));
        }
        out.push(b'}');
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }

    /// One local service's entry.
    fn entry(&self, name: &str, s: &ServiceData) -> Value {
        // What svcmon's table reads (status_text.rs writes svcmon's
        // cut itself); the rest for the peers and `svcmon --format json`.
        let mut entry = json!({
            "avail": s.avail.as_str(),
            "overall": s.overall.as_str(),
            "frozen": s.frozen,
            "cluster_type": s.cluster_type,
            "nodes": s.nodes,
            "drpnodes": s.drpnodes,
            "error": s.error,
            "orchestrate": s.orchestrate.as_str(),
            "placement": s.placement.as_str(),
            "smon": s.smon.as_str(),
        });
        if let Some(why) = &s.why {
            entry["why"] = json!(why);
        }
        entry["config"] = json!(s.config.as_ref().map(ConfStamp::to_json));
        let inputs = self.inputs;
        entry["restart"] = json!(inputs.restarts.get(name).cloned().unwrap_or_default());
        // Only while there is one, so that an idle cluster sends what
        // it always sent.
        if let Some(c) = inputs.claims.get(name) {
            if let Some(t) = c.token {
                entry["claim"] = json!(t);
            }
            if !c.acks.is_empty() {
                entry["acks"] = json!(c.acks);
            }
        }
        if let (Some(o), Some(e)) = (inputs.expects.get(name), entry.as_object_mut())
            && let Value::Object(fields) = o.to_json()
        {
            e.extend(fields);
            if inputs.reached.contains(name) {
                e.insert("global_expect_reached".into(), json!(true));
            }
        }
        entry
    }
}

/// What the services part is made of: the local services (as their change
/// count) and the orders held, those reached, the restart counts and the
/// claims; what the part held in `Shared::part_memo` was made from.
#[derive(PartialEq)]
struct PartInputs {
    /// `LocalServices::changes` of the services.
    services: u64,
    expects: BTreeMap<String, crate::order::Order>,
    reached: BTreeSet<String>,
    restarts: BTreeMap<String, BTreeMap<String, u32>>,
    claims: BTreeMap<String, Claims>,
}

/// The services part of this node's dataset as last serialized
/// (`Shared::local_split`).
#[derive(Default)]
struct PartMemo {
    made_from: Option<PartInputs>,
    /// Shared, not copied: every beat of every heartbeat reads it, and
    /// at 1000 services it is some 300 kB.
    services: Arc<str>,
    digest: String,
}

/// A copy of the services part held in `PartMemo`.
struct PartText {
    services: Arc<str>,
    digest: String,
}

/// How new a services part handed to [`Shared::fetched`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fresh {
    /// Read where the peer left it for a beat (its disk slot, a whole
    /// dataset): current only if the newest beat heard names it.
    AsNamed,
    /// The peer's answer to a request sent at this instant: at least as
    /// new as every beat heard before then.
    AskedAt(Instant),
}

/// What a beat asks of its receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Heard {
    /// The beat did not decode: refused and counted, the peer not heard.
    Refused,
    /// The services part held is the one the beat names.
    Current,
    /// Fetch the services part of this digest (hb/fetch.rs, hb/disk.rs).
    Wants(String),
}

pub(crate) struct Shared {
    pub nodename: String,
    pub threads: Mutex<BTreeMap<String, ThreadInfo>>,
    pub node: Mutex<NodeData>,
    /// `[cluster] nodes`, this node included.
    pub cluster_nodes: Mutex<Vec<String>>,
    pub peers: Mutex<BTreeMap<String, Peer>>,
    /// Per hb thread id and peer: beating (tx: last send worked; rx: a
    /// frame within the timeout).
    pub beating: Mutex<BTreeMap<String, BTreeMap<String, bool>>>,
    /// Frames an rx thread refused (forged, replayed, truncated, oversized...).
    pub rejected: Mutex<BTreeMap<String, u64>>,
    /// Per rx thread, datasets that came in a sound frame but did not
    /// decode (orchestration/view.rs): refused, the peer not heard by them.
    pub refused_datasets: Mutex<BTreeMap<String, u64>>,
    /// The heartbeats node.conf configures (the orchestrator's proofs).
    pub hb_conf: Mutex<Vec<crate::config::node::HbConf>>,
    /// Lost peers: when they were last heard and what they had promised
    /// (their watchdog, fencing themselves on losing quorum): the evidence
    /// orchestration/proof.rs weighs, and the takeover's timing line. Forgotten when the
    /// peer is heard again.
    pub lost: Mutex<BTreeMap<String, Lost>>,
    /// Per heartbeat id, what its threads last achieved.
    pub ticks: Mutex<BTreeMap<String, Ticks>>,
    /// Per disk heartbeat id and peer, what its slot shows (hb/disk.rs).
    pub slots: Mutex<BTreeMap<String, BTreeMap<String, SlotSeen>>>,
    /// The watchdog deadline this node advertises while its watchdog is
    /// armed (watchdog.rs): at most this long after its last disk write
    /// (or beat), a node whose agent died or hangs is reset.
    pub watchdog: Mutex<Option<Duration>>,
    /// Lost peers whose last word was `maintenance`: their daemon was
    /// stopped cleanly and their services may well still run, so silence
    /// proves nothing about them until they are heard again.
    pub maintenance: Mutex<BTreeSet<String>>,
    /// Cluster-wide orders given on this node, for the orchestrator.
    pub inbox: Mutex<Vec<(String, crate::order::Order)>>,
    /// The orders this node holds, advertised to the peers.
    pub expects: Mutex<BTreeMap<String, crate::order::Order>>,
    /// The services whose order this node saw reached, advertised so that
    /// a node that missed it does not go on steering by it.
    pub expects_reached: Mutex<BTreeSet<String>>,
    /// Restarts done per service and rid (restarts.rs), shown per service.
    pub restarts: Mutex<BTreeMap<String, BTreeMap<String, u32>>>,
    /// The orchestrator's claims and acknowledgments, by service
    /// (orchestration/claims.rs), advertised to the peers.
    pub claims: Mutex<BTreeMap<String, Claims>>,
    claims_gen: std::sync::atomic::AtomicU64,
    /// Per thread id, counters shown as the thread's `stats` (the listener's).
    pub stats: Mutex<BTreeMap<String, Value>>,
    /// Sources the listener refused; here so that the local socket can
    /// show and clear it.
    pub blacklist: Mutex<super::blacklist::Blacklist>,
    /// This node would end itself on losing quorum (quorum on, split
    /// action crash or reboot); advertised unless the node is frozen.
    pub fences_itself: AtomicBool,
    /// Lost peers proven down by quorum, from the given instant (the end
    /// of the grace); forgotten when the peer is heard again.
    pub quorum_down: Mutex<BTreeMap<String, Instant>>,
    /// `[arbitrator#N]` names and whether they answered the last ping
    /// (display only).
    pub arbitrators: Mutex<BTreeMap<String, bool>>,
    pub started: Instant,
    /// The monitor has probed every local service once: before, any of
    /// them may be running (the watchdog's gate).
    pub probed: AtomicBool,
    /// Every local service's last full status (status_memory.rs).
    pub statuses: super::status_memory::StatusMemory,
    /// The services part of the dataset last sent (`local_split`).
    part_memo: Mutex<PartMemo>,
    /// A stop was asked for: the node announces maintenance first.
    stop_requested: AtomicBool,
    /// Something the monitor must act on at once (a peer lost): it ends
    /// the monitor's sleep between two passes.
    wake_monitor: AtomicBool,
    /// The monitor's sleep: `wake_monitor` and `stop` change under it.
    monitor_wakeup: Wakeup,
    /// The heartbeat threads' sleeps (`sleep_hb`).
    hb_wakeup: Wakeup,
    /// Every thread ends.
    stop: AtomicBool,
}

/// How long a heartbeat thread's sleep (`Shared::sleep_hb`) lasts at most
/// before it looks again at what would end it, wake-up or not: a change
/// a notifier missed is seen this late at worst.
pub(crate) const HB_RECHECK: Duration = Duration::from_millis(250);

impl Shared {
    pub(crate) fn new(nodename: &str) -> Shared {
        Shared {
            nodename: nodename.to_string(),
            threads: Mutex::new(BTreeMap::new()),
            node: Mutex::new(NodeData {
                monitor: NodeMonitor::Idle,
                ..NodeData::default()
            }),
            cluster_nodes: Mutex::new(vec![nodename.to_string()]),
            peers: Mutex::new(BTreeMap::new()),
            beating: Mutex::new(BTreeMap::new()),
            rejected: Mutex::new(BTreeMap::new()),
            refused_datasets: Mutex::new(BTreeMap::new()),
            hb_conf: Mutex::new(Vec::new()),
            lost: Mutex::new(BTreeMap::new()),
            ticks: Mutex::new(BTreeMap::new()),
            slots: Mutex::new(BTreeMap::new()),
            watchdog: Mutex::new(None),
            maintenance: Mutex::new(BTreeSet::new()),
            inbox: Mutex::new(Vec::new()),
            expects: Mutex::new(BTreeMap::new()),
            expects_reached: Mutex::new(BTreeSet::new()),
            restarts: Mutex::new(BTreeMap::new()),
            claims: Mutex::new(BTreeMap::new()),
            claims_gen: std::sync::atomic::AtomicU64::new(0),
            stats: Mutex::new(BTreeMap::new()),
            blacklist: Mutex::new(super::blacklist::Blacklist::default()),
            fences_itself: AtomicBool::new(false),
            quorum_down: Mutex::new(BTreeMap::new()),
            arbitrators: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            probed: AtomicBool::new(false),
            statuses: super::status_memory::StatusMemory::default(),
            part_memo: Mutex::new(PartMemo::default()),
            stop_requested: AtomicBool::new(false),
            wake_monitor: AtomicBool::new(false),
            monitor_wakeup: Wakeup::default(),
            hb_wakeup: Wakeup::default(),
            stop: AtomicBool::new(false),
        }
    }

    /// A heartbeat section stopped (removed, changed or revived): what
    /// its threads achieved is forgotten with them, so that a new thread
    /// on another device starts with no history (watchdog.rs, orchestration/proof.rs).
    pub(crate) fn forget_heartbeat(&self, hb: &str) {
        if let Ok(mut t) = self.ticks.lock() {
            t.remove(hb);
        }
        if let Ok(mut s) = self.slots.lock() {
            s.remove(hb);
        }
        self.forget_thread(&format!("{hb}.rx"));
        self.forget_thread(&format!("{hb}.tx"));
    }

    pub(crate) fn forget_thread(&self, id: &str) {
        if let Ok(mut t) = self.threads.lock() {
            t.remove(id);
        }
        if let Ok(mut b) = self.beating.lock() {
            b.remove(id);
        }
    }

    /// A tx thread's send to `peer` worked or not.
    pub(crate) fn beat(&self, tid: &str, peer: &str, ok: bool) {
        if let Ok(mut b) = self.beating.lock() {
            // Names copied only the first time: this runs for every beat
            // sent or heard.
            if let Some(seen) = b.get_mut(tid).and_then(|p| p.get_mut(peer)) {
                *seen = ok;
                return;
            }
            b.entry(tid.to_string())
                .or_default()
                .insert(peer.to_string(), ok);
        }
    }

    /// An rx thread got `peer`'s whole dataset (a test, the fuzzer, a
    /// beat of the full form), sealed at `sent` (as [`Shared::heard`]):
    /// its beat and its services part at once. Returns whether it was
    /// taken.
    pub(crate) fn received(&self, tid: &str, peer: &str, mut data: Value, sent: u64) -> bool {
        if NodeView::from_json(&data).is_err() {
            self.refuse_dataset(tid);
            return false;
        }
        let services = data
            .as_object_mut()
            .and_then(|o| o.remove("services"))
            .unwrap_or_else(|| json!({}));
        let text = services.to_string();
        let digest = dataset::digest_of(text.as_bytes());
        self.heard(tid, peer, data, digest.clone(), sent) != Heard::Refused
            && self.fetched(tid, peer, &digest, text.into(), Fresh::AsNamed)
    }

    /// A dataset `tid` got did not decode: counted (`refused_datasets`).
    pub(crate) fn refuse_dataset(&self, tid: &str) {
        if let Ok(mut r) = self.refused_datasets.lock() {
            *r.entry(tid.to_string()).or_default() += 1;
        }
    }

    /// An rx thread got a beat of `peer`, sealed at `sent` (its frame's
    /// `seq`): its node-level `fields`, and the digest of the services
    /// part it `named` (hb/dataset.rs). The peer is heard at once (loss
    /// detection, prune). Unless an older beat than the newest heard (a
    /// slot read late), its node-level fields replace the ones held and
    /// the services stay the ones last fetched: `pending`, and wanted by
    /// every beat until fetched, while they are not the ones named. A
    /// beat that does not decode is refused and counted (the status
    /// answer's `refused_datasets`): the peer is not heard by it.
    pub(crate) fn heard(
        &self,
        tid: &str,
        peer: &str,
        mut fields: Value,
        named: String,
        sent: u64,
    ) -> Heard {
        if let Some(o) = fields.as_object_mut() {
            o.remove("services");
        }
        let Ok(node) = NodeView::from_json(&fields) else {
            self.refuse_dataset(tid);
            return Heard::Refused;
        };
        let mut wants = Heard::Current;
        if let Ok(mut p) = self.peers.lock() {
            let e = p.entry(peer.to_string()).or_insert_with(|| Peer {
                data: Value::Null,
                // Heard, its services not fetched yet: never read as a
                // node that runs nothing (core.rs waits for it).
                view: NodeView {
                    pending: true,
                    ..NodeView::default()
                },
                ..Peer::default()
            });
            e.last.insert(tid.to_string(), Instant::now());
            if e.named.as_ref().is_some_and(|n| late(sent, n.sent)) {
                // Alive, but its fields and digest are older than those
                // held: taken, they would undo a newer beat's.
                drop(p);
                self.heard_alive(tid, peer);
                return Heard::Current;
            }
            let announced = fields["monitor"] == "maintenance";
            e.data = fields;
            e.view.frozen = node.frozen;
            e.view.load15 = node.load15;
            match &mut e.named {
                Some(n) if n.digest == named => n.sent = sent,
                _ => {
                    e.view.pending = e.digest.as_ref() != Some(&named);
                    e.named = Some(Named {
                        digest: named.clone(),
                        sent,
                        since: Instant::now(),
                    });
                }
            }
            if e.view.pending {
                // For svcmon: the services shown are not the current ones.
                e.data["pending"] = json!(true);
                wants = Heard::Wants(named);
            }
            if let Ok(mut m) = self.maintenance.lock() {
                if announced {
                    m.insert(peer.to_string());
                } else {
                    m.remove(peer);
                }
            }
        }
        self.heard_alive(tid, peer);
        wants
    }

    /// `peer` beat on `tid`: a later loss needs a new proof.
    fn heard_alive(&self, tid: &str, peer: &str) {
        if let Ok(mut q) = self.quorum_down.lock() {
            q.remove(peer);
        }
        if let Ok(mut l) = self.lost.lock() {
            l.remove(peer);
        }
        self.beat(tid, peer, true);
    }

    /// `peer`'s services part of digest `digest` arrived (checked against
    /// its digest by hb/dataset.rs). It is current if the newest beat names
    /// it, or if it was asked for after that beat came (`fresh`): then it
    /// is at least as new. It replaces the one held unless that one is
    /// current and this one may be older. Current, the peer is no longer
    /// pending; otherwise (a newer part named while it came) it stays
    /// pending, and its next beat asks again. One that does
    /// not decode is refused and counted under `tid`; one for a peer not
    /// heard (pruned meanwhile) is dropped. Returns whether it was taken
    /// (or was older than the current one held).
    pub(crate) fn fetched(
        &self,
        tid: &str,
        peer: &str,
        digest: &str,
        services: Arc<str>,
        fresh: Fresh,
    ) -> bool {
        let Ok(decoded) = PeerServices::decode_shared(services, Some(&self.nodename)) else {
            self.refuse_dataset(tid);
            return false;
        };
        let Ok(mut p) = self.peers.lock() else {
            return false;
        };
        let Some(e) = p.get_mut(peer) else {
            return false;
        };
        let current = match (&e.named, fresh) {
            (Some(n), _) if n.digest == digest => true,
            (Some(n), Fresh::AskedAt(asked)) => n.since <= asked,
            (None, _) => true,
            (Some(_), Fresh::AsNamed) => false,
        };
        // The part held is current: one read where the peer left it is at
        // most the one named, and the held one may be newer (a fetch); a
        // fetch not current was overtaken by a newer beat. Fetches of a
        // peer run one at a time, so a current one is the newest asked.
        if !e.view.pending && (fresh == Fresh::AsNamed || !current) {
            return true;
        }
        if !e.data.is_object() {
            e.data = json!({});
        }
        e.services = Arc::new(decoded.services);
        if let Some(o) = e.data.as_object_mut() {
            if current {
                o.remove("pending");
            } else {
                o.insert("pending".into(), json!(true));
            }
        }
        // A claim or an acknowledgment that came or went is acted on at
        // once, not at the end of the monitor's tick: each costs a round
        // trip before a start (orchestration/claims.rs).
        let claims = |v: &BTreeMap<String, SvcView>| {
            v.values()
                .any(|s| s.claim.is_some() || s.starting || !s.acks.is_empty())
        };
        let wake = claims(&decoded.views) || claims(&e.view.services);
        e.view.services = Arc::new(decoded.views);
        e.view.pending = !current;
        e.digest = Some(digest.to_string());
        drop(p);
        if wake {
            self.wake_monitor();
        }
        true
    }

    /// The digest of the services part held for `peer`.
    pub(crate) fn digest_of(&self, peer: &str) -> Option<String> {
        self.peers
            .lock()
            .ok()
            .and_then(|p| p.get(peer).and_then(|e| e.digest.clone()))
    }

    /// Records what heartbeat `hb` (its id, `hb#2`) just achieved.
    pub(crate) fn tick(&self, hb: &str, what: impl FnOnce(&mut Ticks, Instant)) {
        if let Ok(mut t) = self.ticks.lock() {
            what(t.entry(hb.to_string()).or_default(), Instant::now());
        }
    }

    pub(crate) fn ticks(&self) -> BTreeMap<String, Ticks> {
        self.ticks.lock().map(|t| t.clone()).unwrap_or_default()
    }

    pub(crate) fn set_stats(&self, tid: &str, stats: Value) {
        if let Ok(mut s) = self.stats.lock() {
            s.insert(tid.to_string(), stats);
        }
    }

    pub(crate) fn set_rejections(&self, tid: &str, total: u64) {
        if let Ok(mut r) = self.rejected.lock() {
            r.insert(tid.to_string(), total);
        }
    }

    /// Marks stale the rx beats older than their heartbeat's timeout and
    /// forgets a peer no heartbeat has heard within its timeout; returns the
    /// peers just lost.
    pub(crate) fn prune(&self, timeouts: &BTreeMap<String, Duration>) -> Vec<String> {
        let now = Instant::now();
        let mut lost = Vec::new();
        let Ok(mut peers) = self.peers.lock() else {
            return lost;
        };
        for (node, p) in peers.iter() {
            let mut any = false;
            for (tid, last) in &p.last {
                let fresh = timeouts
                    .get(tid)
                    .is_some_and(|t| now.duration_since(*last) <= *t);
                self.beat(tid, node, fresh);
                any |= fresh;
            }
            if !any {
                lost.push(node.clone());
            }
        }
        if let Ok(mut l) = self.lost.lock() {
            for n in &lost {
                let p = peers.get(n);
                let heard = p.and_then(|p| p.last.values().max().copied());
                let data = p.map(|p| &p.data);
                l.insert(
                    n.clone(),
                    Lost {
                        at: heard.unwrap_or(now),
                        watchdog: data.and_then(advertised_watchdog),
                        fences_itself: data.is_some_and(|d| self.fences_on_losing_me(d)),
                    },
                );
            }
        }
        for n in &lost {
            peers.remove(n);
        }
        lost
    }

    /// The orders this node holds and those it saw reached (what
    /// [`svc_view`] reads), copied under their locks.
    pub(crate) fn orders_held(&self) -> (BTreeMap<String, crate::order::Order>, BTreeSet<String>) {
        let expects = self.expects.lock().map(|e| e.clone()).unwrap_or_default();
        let reached = self
            .expects_reached
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        (expects, reached)
    }

    /// This node's part of the status: what the heartbeats send.
    pub(crate) fn local_dataset(&self) -> Value {
        let inputs = self.part_inputs();
        let hears = self.hears();
        let Ok(node) = self.node.lock() else {
            return json!({});
        };
        let mut v = self.node_fields(&node, hears);
        let part = PartOf {
            services: &node.services,
            inputs: &inputs,
        };
        v["services"] = Value::Object(part.json());
        v
    }

    /// What the services part is made of besides the services, copied
    /// under their locks: taken before the node's lock.
    fn part_inputs(&self) -> PartInputs {
        let (expects, reached) = self.orders_held();
        PartInputs {
            services: 0,
            expects,
            reached,
            restarts: self.restarts.lock().map(|r| r.clone()).unwrap_or_default(),
            claims: self.claims.lock().map(|c| c.clone()).unwrap_or_default(),
        }
    }

    /// This node's dataset cut into a beat and its services part, as
    /// `dataset::split(self.local_dataset())` gives it.
    pub(crate) fn local_split(&self) -> dataset::Split {
        match self.memo_part() {
            Some((mut beat, memo)) => {
                beat["services"] = json!(memo.digest);
                dataset::Split {
                    beat,
                    services: memo.services,
                    digest: memo.digest,
                }
            }
            None => dataset::split(self.local_dataset()),
        }
    }

    /// This node's node-level fields and its services part as text: the
    /// `daemon_status` answer's entry for this node (status_text.rs).
    pub(crate) fn local_part(&self) -> (Value, Arc<str>) {
        match self.memo_part() {
            Some((fields, memo)) => (fields, memo.services),
            None => (json!({}), "{}".into()),
        }
    }

    /// The node-level fields, and the services part as last serialized.
    /// The services part is serialized and hashed again only when what it
    /// is made of changed: every beat of every heartbeat and every
    /// `get_dataset` otherwise built, printed and hashed a thousand
    /// services' JSON. None when a lock is poisoned.
    fn memo_part(&self) -> Option<(Value, PartText)> {
        let mut inputs = self.part_inputs();
        let hears = self.hears();
        let node = self.node.lock().ok()?;
        inputs.services = node.services.changes();
        let fields = self.node_fields(&node, hears);
        let mut memo = self.part_memo.lock().ok()?;
        if memo.made_from.as_ref() != Some(&inputs) {
            let part = PartOf {
                services: &node.services,
                inputs: &inputs,
            };
            let services = part.text(memo.services.len());
            memo.digest = dataset::digest_of(services.as_bytes());
            memo.services = services.into();
            memo.made_from = Some(inputs);
        }
        let text = PartText {
            services: memo.services.clone(),
            digest: memo.digest.clone(),
        };
        Some((fields, text))
    }

    /// A peer's last beat `d` said it ends itself on losing quorum, and
    /// that it heard this node: so it loses this node too, votes, and ends
    /// itself if it is the minority. A peer that never heard this node
    /// (back from a reboot while it was cut, say) never votes on it.
    fn fences_on_losing_me(&self, d: &Value) -> bool {
        d["fences_itself"] == true
            && d["hears"]
                .as_array()
                .is_some_and(|h| h.iter().any(|n| n.as_str() == Some(self.nodename.as_str())))
    }

    /// The peers this node hears now (taken before the node's lock), for
    /// the beat's `hears`: only sent, so only listed, when this node ends
    /// itself on losing quorum.
    pub(crate) fn hears(&self) -> Vec<String> {
        if !self.fences_itself.load(Ordering::Relaxed) {
            return Vec::new();
        }
        self.peers
            .lock()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The node-level fields of this node's dataset: all but `services`.
    pub(crate) fn node_fields(&self, node: &NodeData, hears: Vec<String>) -> Value {
        let mut v = json!({
            "load15": node.load15,
            "frozen": node.frozen,
            "monitor": node.monitor.as_str(),
        });
        // Only when true, so that a cluster without quorum sends what it
        // always sent. A frozen node runs no split action (orchestration/quorum.rs).
        if self.fences_itself.load(Ordering::Relaxed) && !node.frozen {
            v["fences_itself"] = json!(true);
            // A peer counts this node down by quorum only if it is among
            // these: a node that does not hear a peer never loses it, so
            // it never votes on it nor ends itself (orchestration/proof.rs).
            v["hears"] = json!(hears);
        }
        if let Some(w) = self.watchdog.lock().ok().and_then(|w| *w) {
            v["watchdog"] = json!(w.as_secs_f64());
        }
        // Each node's own view of the arbitrators travels with its beats,
        // so svcmon shows who reaches which.
        if let Some(a) = self.arbitrators_json() {
            v["arbitrators"] = a;
        }
        v
    }

    /// `{name: {"status": "up"|"down", "votes": 1|0}}`, None when no
    /// arbitrator is configured: the answer (and svcmon) then stays what it
    /// was before arbitrators existed.
    pub(crate) fn arbitrators_json(&self) -> Option<Value> {
        let arbitrators = self
            .arbitrators
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        if arbitrators.is_empty() {
            return None;
        }
        let m: serde_json::Map<String, Value> = arbitrators
            .iter()
            .map(|(n, up)| {
                let status = if *up { "up" } else { "down" };
                (n.clone(), json!({"status": status, "votes": u8::from(*up)}))
            })
            .collect();
        Some(m.into())
    }

    /// A local service may be running: one is up or partly up, or the
    /// monitor has not looked yet.
    pub(crate) fn services_may_run(&self) -> bool {
        if !self.probed.load(Ordering::Relaxed) {
            return true;
        }
        self.node.lock().map_or(true, |n| {
            n.services
                .values()
                .any(|s| !matches!(s.avail.as_str(), "down" | "n/a" | "undef"))
        })
    }

    /// A local service's monitor state, as svcmon shows it.
    pub(crate) fn set_smon(&self, name: &str, state: Smon) {
        if let Ok(mut n) = self.node.lock() {
            n.services
                .modify(name, |s| std::mem::replace(&mut s.smon, state) != state);
        }
    }

    /// What this node advertises of a service's claims (empty: nothing).
    /// The heartbeats send it at once (`claims_changed`).
    pub(crate) fn set_claims(&self, name: &str, c: Claims) {
        if let Ok(mut m) = self.claims.lock() {
            if c.is_empty() {
                m.remove(name);
            } else {
                m.insert(name.to_string(), c);
            }
        }
        self.claims_gen.fetch_add(1, Ordering::Relaxed);
        self.wake_hb();
    }

    /// Bumped by every change of the claims: a tx loop that saw it change
    /// beats at once rather than at the end of its interval.
    pub(crate) fn claims_changed(&self) -> u64 {
        self.claims_gen.load(Ordering::Relaxed)
    }

    /// The orchestrator's note on a local service (svcmon, print status).
    pub(crate) fn set_why(&self, name: &str, why: Option<String>) {
        if let Ok(mut n) = self.node.lock() {
            n.services.modify(name, |s| note(s, why));
        }
    }

    /// Notes on several local services, under one lock.
    pub(crate) fn set_whys(&self, notes: Vec<(String, Option<String>)>) {
        if let Ok(mut n) = self.node.lock() {
            for (name, why) in notes {
                n.services.modify(&name, |s| note(s, why));
            }
        }
    }

    /// This node's monitor state, sent with every heartbeat.
    pub(crate) fn set_node_monitor(&self, state: NodeMonitor) {
        if let Ok(mut n) = self.node.lock() {
            n.monitor = state;
        }
    }

    /// True when `node` stopped its daemon cleanly and was not heard since.
    pub(crate) fn in_maintenance(&self, node: &str) -> bool {
        self.maintenance.lock().is_ok_and(|m| m.contains(node))
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Asks the supervisor to stop the daemon: it announces maintenance to
    /// the peers, then halts every thread.
    pub(crate) fn request_stop(&self) {
        self.stop_requested.store(true, Ordering::Relaxed);
    }

    /// Ends the monitor's current sleep: its next pass starts at once.
    pub(crate) fn wake_monitor(&self) {
        self.monitor_wakeup
            .wake(|| self.wake_monitor.store(true, Ordering::Relaxed));
    }

    /// The monitor's sleep between two passes: until `until`, a
    /// `wake_monitor` (taken: it wakes one sleep only) or the end of every
    /// thread. A sleep in 20 ms steps woke 50 times a second for nothing.
    pub(crate) fn sleep_monitor(&self, until: Instant) {
        // Nothing changes `stop` or `wake_monitor` but under the wakeup.
        let never = Duration::MAX;
        self.monitor_wakeup.sleep(until, never, || {
            self.stopping() || self.wake_monitor.swap(false, Ordering::Relaxed)
        });
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::Relaxed) || self.stopping()
    }

    /// Ends every thread (the supervisor's last step).
    pub(crate) fn halt(&self) {
        self.monitor_wakeup
            .wake(|| self.stop.store(true, Ordering::Relaxed));
        self.wake_hb();
    }

    /// Ends the heartbeat threads' current sleeps (`sleep_hb`): called
    /// after a change one of them waits for (a watchdog promise, the
    /// claims, a stop).
    pub(crate) fn wake_hb(&self) {
        self.hb_wakeup.wake(|| ());
    }

    /// A heartbeat thread's sleep: until `deadline`, or until `done`
    /// holds, looked at on every `wake_hb` and at least every
    /// [`HB_RECHECK`]. `done` must not call `wake_hb`. Sleeps of 50 ms
    /// steps woke each heartbeat thread twenty times a second for
    /// nothing, and on a virtual machine a wake-up costs tens of µs.
    pub(crate) fn sleep_hb(&self, deadline: Instant, done: impl Fn() -> bool) {
        self.hb_wakeup.sleep(deadline, HB_RECHECK, done);
    }

    /// Sets the watchdog this node advertises, waking the heartbeats'
    /// sleeps when it changed: their next beat carries it at once.
    pub(crate) fn set_promise(&self, promise: Option<Duration>) {
        let changed = match self.watchdog.lock() {
            Ok(mut w) => std::mem::replace(&mut *w, promise) != promise,
            Err(_) => false,
        };
        if changed {
            self.wake_hb();
        }
    }

    pub(crate) fn set_thread(&self, id: &str, state: ThreadState, info: &str) {
        if let Ok(mut t) = self.threads.lock() {
            t.insert(
                id.to_string(),
                ThreadInfo {
                    state,
                    info: info.to_string(),
                },
            );
        }
    }

    /// The `daemon_status` answer: plain JSON, rendered by svcmon.
    pub(crate) fn status_json(&self) -> Value {
        self.status_view(StatusView::Full)
    }

    /// The `daemon_status` answer, whole or cut to what svcmon's table
    /// shows ([`StatusView`]), as a tree (status_text.rs writes it).
    pub(crate) fn status_view(&self, view: StatusView) -> Value {
        serde_json::from_str(&self.status_text(view)).unwrap_or_default()
    }

    /// The daemon's threads as `daemon_status` shows them, with each
    /// heartbeat's peers, refused frames and datasets.
    pub(crate) fn threads_json(&self) -> Value {
        let beating = self.beating.lock().map(|b| b.clone()).unwrap_or_default();
        let rejected = self.rejected.lock().map(|r| r.clone()).unwrap_or_default();
        let refused = self
            .refused_datasets
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        let stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        let threads: serde_json::Map<String, Value> = self
            .threads
            .lock()
            .map(|t| {
                t.iter()
                    .map(|(id, th)| {
                        let mut v = json!({"state": th.state.as_str(), "info": th.info});
                        if id.starts_with("hb#") {
                            v["peers"] = json!(beating.get(id).cloned().unwrap_or_default());
                            v["rejected"] = json!(rejected.get(id).copied().unwrap_or(0));
                            if let Some(n) = refused.get(id) {
                                v["refused_datasets"] = json!(n);
                            }
                        }
                        if let Some(st) = stats.get(id) {
                            v["stats"] = st.clone();
                        }
                        (id.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Value::Object(threads)
    }
}

/// One local service as the decision core reads a peer's (view.rs), from
/// the typed data and what the orchestrator holds for it.
pub(crate) fn svc_view(
    name: &str,
    s: &ServiceData,
    expects: &BTreeMap<String, crate::order::Order>,
    reached: &BTreeSet<String>,
    claims: &BTreeMap<String, Claims>,
) -> SvcView {
    let order = expects.get(name).cloned().map(Box::new);
    let claim = claims.get(name);
    SvcView {
        up: super::orchestration::view::is_up(s.avail.as_str()),
        frozen: s.frozen,
        start_failed: s.smon == Smon::StartFailed,
        reached: order.is_some() && reached.contains(name),
        order,
        claim: claim.and_then(|c| c.token),
        starting: s.smon == Smon::Starting,
        acks: claim.map(|c| c.acks.clone()).unwrap_or_default(),
    }
}

/// This node's dataset's node-level fields as the core reads them, no
/// services.
pub(crate) fn node_view_fields(node: &NodeData) -> NodeView {
    NodeView {
        frozen: node.frozen,
        // JSON has no NaN: the dataset says null, read as no load.
        load15: node.load15.is_finite().then_some(node.load15),
        services: Arc::default(),
        pending: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::wire::now_us;

    /// The monitor's sleep ends at a wake (even one made before it began,
    /// which it takes), at a halt, or at its deadline.
    #[test]
    fn the_monitor_sleep_ends_at_a_wake_a_halt_or_its_deadline() {
        let shared = Shared::new("node1");
        let far = || Instant::now() + Duration::from_secs(30);
        shared.wake_monitor();
        let t = Instant::now();
        shared.sleep_monitor(far());
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "an earlier wake was lost"
        );
        let t = Instant::now();
        shared.sleep_monitor(Instant::now() + Duration::from_millis(100));
        let slept = t.elapsed();
        assert!(
            slept >= Duration::from_millis(100) && slept < Duration::from_secs(5),
            "the wake was taken by the first sleep; the second lasts its time: {slept:?}"
        );
        let ended_by = |what: &str, act: &(dyn Fn() + Sync)| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    std::thread::sleep(Duration::from_millis(100));
                    act();
                });
                let t = Instant::now();
                shared.sleep_monitor(far());
                assert!(t.elapsed() < Duration::from_secs(5), "{what}");
            });
        };
        ended_by("a wake from another thread", &|| shared.wake_monitor());
        ended_by("a halt", &|| shared.halt());
    }

    /// A failover service of node1 and node2, orchestrated.
    fn ha_service(avail: Status, frozen: bool, smon: Smon) -> ServiceData {
        ServiceData {
            avail,
            overall: avail,
            frozen,
            instance_frozen: frozen,
            cluster_type: "failover".into(),
            nodes: vec!["node1".into(), "node2".into()],
            drpnodes: Vec::new(),
            error: None,
            orchestrate: Orchestrate::Ha,
            placement: Placement::NodesOrder,
            smon,
            config: None,
            watched: Vec::new(),
            monitor_action: SplitAction::FreezeStop,
            why: None,
        }
    }

    /// The typed view the core reads of this node is the dataset the
    /// peers decode: orders, reached orders, failed starts, frozen
    /// instances, a load that JSON cannot carry.
    #[test]
    fn the_local_view_is_the_decoded_local_dataset() {
        let sh = Shared::new("node1");
        let svc = ha_service;
        for load15 in [0.25, f64::NAN] {
            {
                let mut n = sh.node.lock().unwrap();
                n.load15 = load15;
                n.frozen = true;
                n.services = BTreeMap::from([
                    ("a".into(), svc(Status::Up, false, Smon::Idle)),
                    ("b".into(), svc(Status::Down, true, Smon::StartFailed)),
                    ("c".into(), svc(Status::Warn, false, Smon::Ready)),
                    ("d".into(), svc(Status::StdbyUp, false, Smon::Idle)),
                ])
                .into();
            }
            let order = |target, by: &str| crate::order::Order {
                target,
                at: 1_700_000_000.5,
                by: by.into(),
            };
            *sh.expects.lock().unwrap() = BTreeMap::from([
                ("a".into(), order(crate::order::Target::Stopped, "node2")),
                (
                    "b".into(),
                    order(crate::order::Target::Placed("node2".into()), "node1"),
                ),
            ]);
            // "c" reached without an order: not advertised, not read.
            *sh.expects_reached.lock().unwrap() = BTreeSet::from(["a".into(), "c".into()]);
            // A claim with an odd token, acks of two peers: both read
            // back to the very floats (claims.rs compares them).
            sh.set_claims(
                "c",
                Claims {
                    token: Some(1_700_000_000.1),
                    acks: BTreeMap::new(),
                },
            );
            sh.set_claims(
                "d",
                Claims {
                    token: None,
                    acks: BTreeMap::from([("node2".into(), 0.1 + 0.2), ("node3".into(), 1e-7)]),
                },
            );
            sh.set_smon("a", Smon::Starting);
            let decoded = NodeView::from_json(&sh.local_dataset()).unwrap();
            let me = crate::daemon::orchestration::local::Local::read(&sh).me;
            assert_eq!(me, decoded, "load15 {load15}");
        }
    }

    /// The split served from the memo is the one made from scratch after
    /// each kind of change a services part is made of: a missing input in
    /// the memo's key would serve a stale part here.
    #[test]
    fn the_memoized_split_follows_every_change_of_the_services_part() {
        let sh = Shared::new("node1");
        let check = |what: &str| {
            let fresh = dataset::split(sh.local_dataset());
            let memo = sh.local_split();
            assert_eq!(memo, fresh, "after {what}");
        };
        let svc = ha_service(Status::Up, false, Smon::Idle);
        check("nothing");
        sh.node
            .lock()
            .unwrap()
            .services
            .put("a".into(), svc.clone());
        check("a new service");
        let first = sh.local_split().digest;
        sh.set_smon("a", Smon::Starting);
        check("a monitor state");
        sh.set_why("a", Some("waiting".into()));
        check("a note");
        // Every field the part prints, one at a time: the memo's key
        // must see each.
        type Edit = fn(&mut ServiceData);
        let edits: [(&str, Edit); 14] = [
            ("avail", |s| s.avail = Status::Down),
            ("overall", |s| s.overall = Status::Warn),
            ("frozen", |s| s.frozen = !s.frozen),
            ("cluster_type", |s| s.cluster_type = "flex".into()),
            ("nodes", |s| s.nodes.push("node9".into())),
            ("nodes' order", |s| s.nodes.reverse()),
            ("drpnodes", |s| s.drpnodes.push("node8".into())),
            ("error", |s| s.error = Some("bad".into())),
            ("orchestrate", |s| s.orchestrate = Orchestrate::No),
            ("placement", |s| s.placement = Placement::LoadAvg),
            ("config", |s| {
                s.config = Some(ConfStamp {
                    mtime: 1.5,
                    cksum: "ab".into(),
                });
            }),
            ("config mtime", |s| {
                s.config.as_mut().unwrap().mtime = 1.500_000_1;
            }),
            ("config cksum", |s| {
                s.config.as_mut().unwrap().cksum = "ba".into();
            }),
            ("why", |s| s.why = None),
        ];
        for (what, edit) in edits {
            sh.node.lock().unwrap().services.modify("a", |s| {
                edit(s);
                true
            });
            check(what);
        }
        // A field the part does not print changes nothing.
        let before = sh.local_split();
        sh.node.lock().unwrap().services.modify("a", |s| {
            s.monitor_action = SplitAction::Reboot;
            true
        });
        assert_eq!(sh.local_split(), before);
        sh.expects.lock().unwrap().insert(
            "a".into(),
            crate::order::Order {
                target: crate::order::Target::Stopped,
                at: 1_700_000_000.5,
                by: "node2".into(),
            },
        );
        check("an order");
        sh.expects_reached.lock().unwrap().insert("a".into());
        check("an order reached");
        sh.restarts
            .lock()
            .unwrap()
            .insert("a".into(), BTreeMap::from([("app#0".into(), 1)]));
        check("a restart");
        sh.set_claims(
            "a",
            Claims {
                token: Some(1_700_000_000.25),
                acks: BTreeMap::from([("node2".into(), 1_700_000_001.5)]),
            },
        );
        check("a claim");
        sh.set_claims("a", Claims::default());
        check("a claim dropped");
        sh.node.lock().unwrap().load15 = 3.5;
        *sh.watchdog.lock().unwrap() = Some(Duration::from_secs(2));
        check("node-level fields");
        sh.node.lock().unwrap().services.retain(|_| false);
        check("no service");
        assert_ne!(sh.local_split().digest, first);
    }

    /// svcmon's table is the same from the whole status and from the cut
    /// the daemon sends it, and the cut leaves out other nodes' services.
    #[test]
    fn svcmon_renders_the_same_table_from_its_cut() {
        let sh = Shared::new("node1");
        let svc = |avail: Status, smon: Smon, why: Option<&str>| ServiceData {
            avail,
            overall: Status::Warn,
            frozen: smon == Smon::Idle,
            instance_frozen: smon == Smon::Idle,
            cluster_type: "failover".into(),
            nodes: vec!["node1".into(), "node2".into()],
            drpnodes: vec!["node3".into()],
            error: None,
            orchestrate: Orchestrate::Ha,
            placement: Placement::LoadAvg,
            smon,
            config: None,
            watched: Vec::new(),
            monitor_action: SplitAction::FreezeStop,
            why: why.map(String::from),
        };
        {
            let mut n = sh.node.lock().unwrap();
            n.load15 = 0.5;
            n.services = BTreeMap::from([
                ("a".into(), svc(Status::Up, Smon::Idle, None)),
                (
                    "b".into(),
                    svc(Status::Down, Smon::StartFailed, Some("start failed here")),
                ),
            ])
            .into();
            // Text that needs escaping, written by hand in the cut.
            n.services.modify("b", |s| {
                s.error = Some("bad \"quote\"\n\\ é".into());
                true
            });
        }
        sh.received(
            "hb#1.rx",
            "node2",
            json!({"load15": 0.25, "frozen": false, "monitor": "idle", "services": {
                "a": {"avail": "down", "overall": "down", "frozen": true, "smon": "ready",
                      "nodes": ["node1", "node2"], "drpnodes": [], "placement": "load avg",
                      "orchestrate": "ha", "why": "node1 silent", "config": {"mtime": 1.0, "cksum": "x"}},
                "only2": {"avail": "up", "overall": "up", "nodes": ["node2"]}}}), now_us(),
        );
        *sh.cluster_nodes.lock().unwrap() = vec!["node1".into(), "node2".into(), "node3".into()];
        let full = sh.status_view(StatusView::Full);
        let cut = sh.status_view(StatusView::Svcmon);
        for color in [false, true] {
            assert_eq!(
                crate::render::svcmon::render(&full, color),
                crate::render::svcmon::render(&cut, color)
            );
        }
        assert!(full["nodes"]["node2"]["services"].get("only2").is_some());
        assert!(
            cut["nodes"]["node2"]["services"].get("only2").is_none(),
            "{cut:#}"
        );
        // A peer's entries for the rows go as they came; this node's are
        // its whole entries cut to the table's fields, written as text.
        assert_eq!(
            cut["nodes"]["node2"]["services"]["a"],
            full["nodes"]["node2"]["services"]["a"]
        );
        for name in ["a", "b"] {
            let whole = &full["nodes"]["node1"]["services"][name];
            let fields: serde_json::Map<String, Value> = crate::render::svcmon::FIELDS
                .iter()
                .filter_map(|f| whole.get(*f).map(|v| ((*f).to_string(), v.clone())))
                .collect();
            assert_eq!(
                cut["nodes"]["node1"]["services"][name],
                Value::Object(fields),
                "{name}"
            );
        }
        assert_eq!(full["nodes"]["node1"]["load15"], 0.5);
        assert_eq!(cut["nodes"]["node1"]["load15"], 0.5);
    }

    fn lose_all(sh: &Shared) -> Vec<String> {
        // A zero timeout: every peer heard so far is stale.
        let t = BTreeMap::from([("hb#1.rx".to_string(), Duration::ZERO)]);
        std::thread::sleep(Duration::from_millis(2));
        sh.prune(&t)
    }

    #[test]
    fn only_a_peer_that_said_it_fences_itself_may_be_proven_down_by_quorum() {
        let sh = Shared::new("node2");
        let says = json!({"fences_itself": true, "hears": ["node2", "node3"]});
        sh.received("hb#1.rx", "node1", says.clone(), now_us());
        sh.received("hb#1.rx", "node3", json!({"frozen": false}), now_us());
        // It fences itself, but does not hear node2: it never loses node2,
        // so it never votes on it (the simulation, seed 777003580).
        sh.received(
            "hb#1.rx",
            "node4",
            json!({"fences_itself": true, "hears": ["node3"]}),
            now_us(),
        );
        sh.received(
            "hb#1.rx",
            "node5",
            json!({"fences_itself": true, "hears": "node2"}),
            now_us(),
        );
        assert_eq!(lose_all(&sh), ["node1", "node3", "node4", "node5"]);
        let fences = |n: &str| sh.lost.lock().unwrap()[n].fences_itself;
        assert!(fences("node1"));
        assert!(!fences("node3"));
        assert!(!fences("node4"));
        assert!(!fences("node5"), "a malformed list is no list");
        // node3 comes back saying it now does.
        sh.received("hb#1.rx", "node3", says, now_us());
        assert!(
            !sh.lost.lock().unwrap().contains_key("node3"),
            "heard again"
        );
        lose_all(&sh);
        assert!(fences("node3"));
    }

    #[test]
    fn a_lost_peer_keeps_its_last_beat_and_its_watchdog() {
        let sh = Shared::new("node2");
        let before = Instant::now();
        sh.received("hb#1.rx", "node1", json!({"watchdog": 3.5}), now_us());
        sh.received(
            "hb#1.rx",
            "node3",
            json!({"watchdog": "nonsense"}),
            now_us(),
        );
        lose_all(&sh);
        let lost = sh.lost.lock().unwrap().clone();
        assert_eq!(lost["node1"].watchdog, Some(Duration::from_millis(3500)));
        assert!(lost["node1"].at >= before && lost["node1"].at < Instant::now());
        assert_eq!(lost["node3"].watchdog, None);
    }

    #[test]
    fn the_watchdog_is_advertised_only_while_armed() {
        let sh = Shared::new("node1");
        assert!(sh.local_dataset().get("watchdog").is_none());
        *sh.watchdog.lock().unwrap() = Some(Duration::from_millis(3500));
        assert_eq!(sh.local_dataset()["watchdog"], 3.5);
    }

    #[test]
    fn fences_itself_is_advertised_only_when_set_and_not_frozen() {
        let sh = Shared::new("node1");
        assert!(sh.local_dataset().get("fences_itself").is_none());
        sh.fences_itself.store(true, Ordering::Relaxed);
        assert_eq!(sh.local_dataset()["fences_itself"], true);
        assert_eq!(sh.local_dataset()["hears"], json!([]));
        sh.received("hb#1.rx", "node2", json!({}), now_us());
        assert_eq!(sh.local_dataset()["hears"], json!(["node2"]));
        assert_eq!(sh.local_split().beat["hears"], json!(["node2"]));
        sh.node.lock().unwrap().frozen = true;
        assert!(sh.local_dataset().get("fences_itself").is_none());
        assert!(sh.local_dataset().get("hears").is_none());
    }

    #[test]
    fn a_dataset_that_does_not_decode_is_refused_and_counted() {
        let sh = Shared::new("node2");
        assert!(!sh.received("hb#1.rx", "node1", Value::Null, now_us()));
        assert!(!sh.received("hb#1.rx", "node1", json!({"services": 3}), now_us()));
        assert!(sh.peers.lock().unwrap().is_empty(), "not heard");
        assert_eq!(sh.refused_datasets.lock().unwrap()["hb#1.rx"], 2);
        assert!(sh.received("hb#1.rx", "node1", json!({"frozen": true}), now_us()));
        assert!(sh.peers.lock().unwrap()["node1"].view.frozen);
    }

    #[test]
    fn a_peer_heard_again_loses_its_quorum_proof() {
        let sh = Shared::new("node2");
        sh.quorum_down
            .lock()
            .unwrap()
            .insert("node1".into(), Instant::now());
        sh.received("hb#1.rx", "node1", json!({}), now_us());
        assert!(sh.quorum_down.lock().unwrap().is_empty());
    }

    /// A compact beat's digest, as dataset.rs makes it.
    fn digest(services: &Value) -> String {
        dataset::digest_of(services.to_string().as_bytes())
    }

    #[test]
    fn a_heard_peer_is_pending_until_its_services_are_fetched() {
        let sh = Shared::new("node2");
        let services = json!({"svc1": {"avail": "up"}});
        let d = digest(&services);
        let beat = json!({"frozen": true, "watchdog": 3.5});
        assert_eq!(
            sh.heard("hb#1.rx", "node1", beat.clone(), d.clone(), now_us()),
            Heard::Wants(d.clone())
        );
        let view = |sh: &Shared| sh.peers.lock().unwrap()["node1"].view.clone();
        assert!(view(&sh).pending, "heard, never read as running nothing");
        assert!(view(&sh).frozen, "its node-level fields are taken at once");
        let part: Arc<str> = services.to_string().into();
        assert!(sh.fetched("hb#1.rx", "node1", &d, part, Fresh::AsNamed));
        assert!(!view(&sh).pending && view(&sh).up("svc1"));
        // The next beat names the same services: nothing to fetch, and the
        // node-level fields still replace the old ones.
        let thawed = json!({"frozen": false});
        assert_eq!(
            sh.heard("hb#1.rx", "node1", thawed, d.clone(), now_us()),
            Heard::Current
        );
        assert!(!view(&sh).frozen && view(&sh).up("svc1"));
        let data = sh.peers.lock().unwrap()["node1"].dataset();
        assert_eq!(data, json!({"frozen": false, "services": services}));
        assert!(
            data.get("watchdog").is_none(),
            "a field the beat dropped is gone"
        );
        // A change: pending again, the services held kept meanwhile.
        let other = digest(&json!({}));
        assert_eq!(
            sh.heard("hb#1.rx", "node1", json!({}), other.clone(), now_us()),
            Heard::Wants(other)
        );
        assert!(view(&sh).pending && view(&sh).up("svc1"));
        let data = sh.peers.lock().unwrap()["node1"].dataset();
        assert_eq!(data["pending"], true, "{data}");
        assert_eq!(
            data["services"], services,
            "the previous ones, shown meanwhile"
        );
    }

    /// Beats come by several paths, and a disk slot is read up to a poll
    /// late: its beat may be older than one heard over the network. It
    /// proves the peer alive and changes nothing else: taken, it made the
    /// peer pending on the part before the one held, and the beats after
    /// it, naming the part held, cleared nothing (a switch waited two
    /// minutes for that in chaos); or its fields undid newer ones.
    #[test]
    fn a_beat_older_than_the_newest_heard_only_proves_the_peer_alive() {
        let sh = Shared::new("node2");
        let (old, new) = (
            json!({"svc1": {"avail": "down"}}),
            json!({"svc1": {"avail": "up"}}),
        );
        let (d_old, d_new) = (digest(&old), digest(&new));
        let peer = |sh: &Shared| sh.peers.lock().unwrap()["node1"].clone();
        let t = now_us();
        let frozen = json!({"frozen": true});
        sh.heard("hb#1.rx", "node1", frozen.clone(), d_old.clone(), t);
        let asked = Fresh::AskedAt(Instant::now());
        assert!(sh.fetched("hb#1.rx", "node1", &d_old, old.to_string().into(), asked));
        let thawed = json!({"frozen": false});
        let heard = sh.heard("hb#1.rx", "node1", thawed, d_new.clone(), t + 2);
        assert_eq!(heard, Heard::Wants(d_new.clone()));
        let asked = Fresh::AskedAt(Instant::now());
        assert!(sh.fetched("hb#1.rx", "node1", &d_new, new.to_string().into(), asked));
        assert!(!peer(&sh).view.pending && !peer(&sh).view.frozen);
        // The disk's beat, sealed between the two, read now.
        let late = sh.heard("hb#2.rx", "node1", frozen, d_old.clone(), t + 1);
        assert_eq!(late, Heard::Current);
        let p = peer(&sh);
        assert!(
            !p.view.pending && !p.view.frozen && p.view.up("svc1"),
            "{p:?}"
        );
        assert!(p.last.contains_key("hb#2.rx"), "heard alive on that path");
        assert_eq!(
            p.named.map(|n| (n.digest, n.sent)),
            Some((d_new.clone(), t + 2))
        );
        // A newer beat may name an older part again (a service back as
        // it was): that is a change like any other.
        let heard = sh.heard("hb#2.rx", "node1", json!({}), d_old.clone(), t + 3);
        assert_eq!(heard, Heard::Wants(d_old));
        assert!(peer(&sh).view.pending);
        // Far older than the newest: a clock set back, not a late read.
        let back = t - 31_000_000;
        let heard = sh.heard("hb#2.rx", "node1", json!({}), d_new.clone(), back);
        assert_eq!(heard, Heard::Current, "the part held");
        assert!(!peer(&sh).view.pending);
        assert_eq!(peer(&sh).named.map(|n| n.sent), Some(back));
    }

    /// A fetch answers the part of the moment it was asked, or later. A
    /// beat naming another part after the request went out may be newer:
    /// the peer stays pending and the next beat asks again. A part asked
    /// after the last beat came is at least as new: current, though the
    /// beats still name the one before.
    #[test]
    fn a_fetched_part_is_current_only_if_asked_after_the_last_change_named() {
        let sh = Shared::new("node2");
        let (one, two) = (json!({"a": {}}), json!({"b": {}}));
        let (d1, d2) = (digest(&one), digest(&two));
        let pending = |sh: &Shared| sh.peers.lock().unwrap()["node1"].view.pending;
        let beat = |d: &String| sh.heard("hb#1.rx", "node1", json!({}), d.clone(), now_us());
        beat(&d1);
        let asked = Fresh::AskedAt(Instant::now());
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(
            beat(&d2),
            Heard::Wants(d2.clone()),
            "named during the fetch"
        );
        assert!(sh.fetched("hb#1.rx", "node1", &d1, one.to_string().into(), asked));
        assert!(pending(&sh), "d2 was named after the request went out");
        let data = sh.peers.lock().unwrap()["node1"].dataset();
        assert_eq!(data["pending"], true, "{data}");
        assert_eq!(beat(&d2), Heard::Wants(d2.clone()), "asked again");
        // Asked after d2 was named, answered newer still (d1 again).
        let asked = Fresh::AskedAt(Instant::now());
        assert!(sh.fetched("hb#1.rx", "node1", &d1, one.to_string().into(), asked));
        assert!(!pending(&sh));
        assert_eq!(beat(&d2), Heard::Current, "a beat sent before the answer");
        assert!(!pending(&sh));
        // Read from a slot, not asked: never newer than the part named,
        // so it does not replace a current one.
        let two_text: Arc<str> = two.to_string().into();
        assert!(sh.fetched("hb#2.rx", "node1", &d2, two_text.clone(), Fresh::AsNamed));
        let held = sh.peers.lock().unwrap()["node1"].digest.clone();
        assert_eq!(held, Some(d1.clone()), "the newer part fetched is kept");
        // Pending, a slot read is current only if named.
        let three = json!({"c": {}});
        let d3 = digest(&three);
        assert_eq!(beat(&d3), Heard::Wants(d3.clone()));
        assert!(sh.fetched("hb#2.rx", "node1", &d2, two_text, Fresh::AsNamed));
        assert!(pending(&sh), "the last beat named d3");
        assert!(sh.fetched(
            "hb#2.rx",
            "node1",
            &d3,
            three.to_string().into(),
            Fresh::AsNamed
        ));
        assert!(!pending(&sh));
    }

    #[test]
    fn fetched_services_that_do_not_decode_are_refused_and_counted() {
        let sh = Shared::new("node2");
        assert!(
            !sh.fetched("hb#1.rx", "node1", "d", "{}".into(), Fresh::AsNamed),
            "not heard"
        );
        sh.heard("hb#1.rx", "node1", json!({}), "d".into(), now_us());
        assert!(!sh.fetched(
            "hb#1.rx",
            "node1",
            "d",
            r#"{"svc1": 3}"#.into(),
            Fresh::AsNamed
        ));
        assert_eq!(sh.refused_datasets.lock().unwrap()["hb#1.rx"], 1);
        assert!(sh.peers.lock().unwrap()["node1"].view.pending);
        assert_eq!(
            sh.heard(
                "hb#1.rx",
                "node1",
                json!({"frozen": 1}),
                "d".into(),
                now_us()
            ),
            Heard::Refused
        );
        assert_eq!(sh.refused_datasets.lock().unwrap()["hb#1.rx"], 2);
    }
}
