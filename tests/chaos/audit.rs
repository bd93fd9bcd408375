//! The auditor: a thread sampling every node's kernel objects every
//! 0.25-0.5 s, counting the samples where a service is active on two live
//! nodes at once, and the convergence rules a settled cluster meets, as
//! pure functions of one sample and the model.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::cluster::{Cluster, sleep};
use crate::kernel::{Agent, NodeView, Sample};
use crate::model::{Model, Placement, Want};
use crate::rng::Rng;
use crate::topology::{Node, SERVICES, Svc, Topology};

/// One sample where some service was active twice.
#[derive(Clone, Debug)]
pub(crate) struct Dual {
    pub t: f64,
    pub seen: Vec<String>,
}

#[derive(Default)]
struct State {
    latest: Option<Arc<Sample>>,
    samples: u64,
    dual: Vec<Dual>,
    /// Per service, from when (run seconds) it was up on that one live
    /// node only (None: on none, or on several), entered on each change.
    sole: BTreeMap<Svc, Vec<(f64, Option<Node>)>>,
}

#[derive(Default)]
pub(crate) struct Auditor {
    state: Mutex<State>,
}

impl Auditor {
    /// Samples until `stop`; the jitter keeps it from beating in step
    /// with the daemons' 1 s ticks.
    pub(crate) fn run(&self, cl: &Cluster, stop: &AtomicBool, seed: u64) {
        let mut rng = Rng::stream(seed, u64::MAX);
        while !stop.load(Ordering::Relaxed) {
            let s = cl.kernel.sample(cl.clock.now());
            let seen = dual_active(&s, &cl.kernel.topo);
            if !seen.is_empty() && cl.verbose {
                println!("      [{:7.1}s] DUAL ACTIVE: {}", s.t, seen.join("; "));
            }
            let mut st = self.state.lock().unwrap();
            st.samples += 1;
            for svc in SERVICES {
                let now = sole_owner(svc, &s, &cl.kernel.topo);
                let seen = st.sole.entry(svc).or_default();
                if seen.last().map(|(_, n)| *n) != Some(now) {
                    seen.push((s.t, now));
                }
            }
            if !seen.is_empty() {
                st.dual.push(Dual { t: s.t, seen });
            }
            st.latest = Some(Arc::new(s));
            drop(st);
            sleep(rng.secs(0.25, 0.5));
        }
    }

    /// The first sample taken at `t` or later.
    pub(crate) fn sample_after(&self, t: f64) -> Arc<Sample> {
        let since = std::time::Instant::now();
        loop {
            if let Some(s) = self.state.lock().unwrap().latest.clone()
                && s.t >= t
            {
                return s;
            }
            assert!(
                since.elapsed().as_secs() < 30,
                "the auditor thread took no sample for 30 s: it died (see its panic above) or hangs"
            );
            sleep(0.05);
        }
    }

    pub(crate) fn dual_between(&self, t0: f64, t1: f64) -> Vec<Dual> {
        let st = self.state.lock().unwrap();
        st.dual
            .iter()
            .filter(|d| d.t >= t0 && d.t < t1)
            .cloned()
            .collect()
    }

    /// Whether `svc` was up on `node` alone in some sample from `t` on
    /// (the sample in force at `t` included).
    pub(crate) fn ran_alone_on(&self, svc: Svc, node: Node, t: f64) -> bool {
        let st = self.state.lock().unwrap();
        let Some(seen) = st.sole.get(&svc) else {
            return false;
        };
        let from = seen.iter().rposition(|(at, _)| *at <= t).unwrap_or(0);
        seen[from..].iter().any(|(_, n)| *n == Some(node))
    }

    pub(crate) fn samples(&self) -> u64 {
        self.state.lock().unwrap().samples
    }

    pub(crate) fn all_dual(&self) -> Vec<Dual> {
        self.state.lock().unwrap().dual.clone()
    }
}

/// A service's address plumbed, or one of its shared filesystems (by
/// device) mounted, on two live nodes or more.
pub(crate) fn dual_active(s: &Sample, topo: &Topology) -> Vec<String> {
    let mut seen = Vec::new();
    for svc in SERVICES {
        if let Some(a) = svc.addr() {
            let on = holders(s, |v| v.addrs.contains(a));
            if on.len() > 1 {
                seen.push(format!("{svc}: {a} on {}", names(&on)));
            }
        }
        for (mnt, disk) in svc.mounts() {
            let dev = topo.dev(disk);
            let on = holders(s, |v| v.mounts.values().any(|d| d == dev));
            if on.len() > 1 {
                seen.push(format!("{svc}: {dev} ({mnt}) mounted on {}", names(&on)));
            }
        }
    }
    seen
}

fn holders(s: &Sample, has: impl Fn(&NodeView) -> bool) -> Vec<Node> {
    s.live().filter(|(_, v)| has(v)).map(|(n, _)| *n).collect()
}

pub(crate) fn names(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which of the service's kernel objects a node has: (label, present).
pub(crate) fn objects(svc: Svc, v: &NodeView, topo: &Topology) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    if let Some(a) = svc.addr() {
        out.push((a.to_string(), v.addrs.contains(a)));
    }
    for (mnt, disk) in svc.mounts() {
        let dev = topo.dev(disk);
        out.push((
            format!("{mnt} ({dev})"),
            v.mounts.get(*mnt).is_some_and(|d| d == dev),
        ));
    }
    if let Some(w) = svc.web() {
        out.push((format!("web server :{}", w.port), v.webs.contains(&w.port)));
    }
    out
}

/// Up on a node: all of its objects there.
pub(crate) fn up_on(svc: Svc, v: &NodeView, topo: &Topology) -> bool {
    v.live && objects(svc, v, topo).iter().all(|(_, p)| *p)
}

/// The one live node the service is fully up on, if exactly one.
fn sole_owner(svc: Svc, s: &Sample, topo: &Topology) -> Option<Node> {
    let mut full = s
        .live()
        .filter(|(_, v)| up_on(svc, v, topo))
        .map(|(n, _)| *n);
    match (full.next(), full.next()) {
        (Some(n), None) => Some(n),
        _ => None,
    }
}

/// The live node holding the service's objects (any of them), the first
/// when several do.
pub(crate) fn owner(svc: Svc, s: &Sample, topo: &Topology) -> Option<Node> {
    let full = s.live().find(|(_, v)| up_on(svc, v, topo)).map(|(n, _)| *n);
    full.or_else(|| {
        s.live()
            .find(|(_, v)| objects(svc, v, topo).iter().any(|(_, p)| *p))
            .map(|(n, _)| *n)
    })
}

/// What differs from `want` for one service in one sample.
fn service_diffs(svc: Svc, want: &Want, s: &Sample, topo: &Topology) -> Vec<String> {
    let mut diffs = Vec::new();
    let full: Vec<Node> = s
        .live()
        .filter(|(_, v)| up_on(svc, v, topo))
        .map(|(n, _)| *n)
        .collect();
    let partial: Vec<String> = s
        .live()
        .filter(|(n, _)| !full.contains(n))
        .filter_map(|(n, v)| {
            let objs = objects(svc, v, topo);
            let has: Vec<&str> = objs.iter().filter(|o| o.1).map(|o| o.0.as_str()).collect();
            let lacks: Vec<&str> = objs.iter().filter(|o| !o.1).map(|o| o.0.as_str()).collect();
            (!has.is_empty())
                .then(|| format!("{n} (has {}, lacks {})", has.join(", "), lacks.join(", ")))
        })
        .collect();
    let eligible: Vec<Node> = s
        .live()
        .filter(|(_, v)| v.eligible())
        .map(|(n, _)| *n)
        .collect();
    let placement = match want.placement {
        Placement::On(x) if !eligible.contains(&x) => Placement::ExactlyOne,
        p => p,
    };
    match placement {
        Placement::Anywhere => {}
        Placement::Nowhere => {
            if !full.is_empty() {
                diffs.push(format!("{svc}: up on {}, wanted stopped", names(&full)));
            }
            if !partial.is_empty() {
                diffs.push(format!("{svc}: partly up on {}", partial.join("; ")));
            }
        }
        Placement::ExactlyOne | Placement::On(_) => {
            if !eligible.is_empty() || !full.is_empty() {
                if full.is_empty() {
                    diffs.push(format!(
                        "{svc}: up nowhere (eligible: {})",
                        names(&eligible)
                    ));
                } else if full.len() > 1 {
                    diffs.push(format!("{svc}: up on {}", names(&full)));
                }
                if !partial.is_empty() {
                    diffs.push(format!("{svc}: partly up on {}", partial.join("; ")));
                }
            }
            if let Placement::On(x) = placement
                && full.len() == 1
                && full[0] != x
            {
                diffs.push(format!("{svc}: up on {}, not on {x}", full[0]));
            }
        }
    }
    for (n, v) in s.live() {
        let frozen = v.frozen.contains(svc.name());
        if want.frozen && !frozen {
            diffs.push(format!("{svc}: not frozen on {n}"));
        }
        if !want.frozen && frozen {
            diffs.push(format!("{svc}: frozen on {n}, no order froze it"));
        }
    }
    diffs
}

/// Everything the kernel shows that differs from a settled cluster; empty
/// when it has settled. A service may settle on any of its candidate
/// wants; when it meets none, the newest one's differences are given.
pub(crate) fn differences(s: &Sample, topo: &Topology, model: &Model) -> Vec<String> {
    let mut diffs = Vec::new();
    for (n, v) in s.live() {
        match &v.agent {
            Some(Agent::Running(_)) => {}
            Some(Agent::Stopped(pid)) => {
                diffs.push(format!("{n}: agent {pid} is stopped (SIGSTOP)"));
            }
            Some(Agent::Down(why)) => diffs.push(format!("{n}: agent not running: {why}")),
            None => {}
        }
        if v.frozen_node {
            diffs.push(format!("{n}: the node is frozen (/var/lib/opensvc/FROZEN)"));
        }
    }
    for svc in SERVICES {
        let wants = model.wants(svc);
        let tried: Vec<Vec<String>> = wants
            .iter()
            .map(|w| service_diffs(svc, w, s, topo))
            .collect();
        if tried.iter().any(|d| d.is_empty()) {
            continue;
        }
        if let (Some(w), Some(d)) = (wants.last(), tried.last()) {
            for line in d {
                diffs.push(format!("{line} [wanted: {}]", w.why));
            }
        }
    }
    diffs
}

/// The services whose web server must answer the client now: those up
/// on exactly one node.
pub(crate) fn serving(s: &Sample, topo: &Topology) -> BTreeSet<Svc> {
    SERVICES
        .iter()
        .copied()
        .filter(|svc| svc.web().is_some())
        .filter(|svc| s.live().filter(|(_, v)| up_on(*svc, v, topo)).count() == 1)
        .collect()
}
