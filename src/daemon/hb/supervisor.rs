//! The heartbeat supervisor: starts the threads of every `[hb#N]` of the
//! node.conf in force, stops the ones a reload removed, restarts the ones
//! it changed (or all, when `[cluster] nodes` changed), and starts again a
//! section whose thread died. run.rs calls it from its loop, the one place
//! node.conf is watched.

use crate::daemon::state::ThreadState;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{HbConf, HbMedium, disk, fetch, mcast, path_kind, unicast};
use crate::config::node::NodeConfig;
use crate::daemon::state::Shared;
use crate::daemon::{secret, watchdog, wire};
use crate::log::Logger;
use crate::paths::Paths;

/// What the heartbeat supervision works with.
#[derive(Clone, Copy)]
pub(crate) struct Site<'a> {
    pub paths: &'a Paths,
    pub nodename: &'a str,
    pub shared: &'a Arc<Shared>,
    pub log: &'a Logger,
}

/// What a heartbeat section beats through.
enum Medium {
    Unicast,
    Multicast(std::net::SocketAddrV4),
    Disk(String),
}

/// The running heartbeat threads, by section, and what they were started
/// with. The supervisor owns their entries in `Shared::threads`: a thread
/// that ends does not remove its own, which could be its replacement's.
#[derive(Default)]
pub(crate) struct Heartbeats {
    /// `[cluster] nodes`, this node included.
    members: Vec<String>,
    hbs: Vec<HbConf>,
    /// `[node] watchdog` and `watchdog_timeout` (watchdog.rs).
    pub watchdog: watchdog::Conf,
    stops: BTreeMap<String, Arc<AtomicBool>>,
    /// `[cluster] name`, bound into every frame.
    cluster: String,
    /// When each section was last revived (`revive`).
    revived: BTreeMap<String, Instant>,
    /// Fetches the peers' services parts for every network rx (fetch.rs).
    fetcher: Arc<fetch::Fetcher>,
}

/// How often a section whose thread died is started again: its error (a
/// port in use, an interface not up yet) is logged at each try.
const REVIVE_EVERY: Duration = Duration::from_secs(10);

impl Heartbeats {
    /// The sections running, as configured.
    pub(crate) fn hbs(&self) -> &[HbConf] {
        &self.hbs
    }

    /// Each rx thread's timeout: the peers' prune (`Shared::prune`).
    pub(crate) fn timeouts(&self) -> BTreeMap<String, Duration> {
        self.hbs
            .iter()
            .map(|h| (format!("{}.rx", h.id), h.timeout))
            .collect()
    }

    pub(crate) fn stop_all(&mut self, shared: &Shared) {
        let ids: Vec<String> = self.stops.keys().cloned().collect();
        for id in ids {
            self.stop(&id, shared);
        }
    }

    /// Ends a section's threads and forgets them.
    fn stop(&mut self, id: &str, shared: &Shared) {
        if let Some(flag) = self.stops.remove(id) {
            flag.store(true, Ordering::Relaxed);
            shared.wake_hb();
        }
        shared.forget_heartbeat(id);
    }

    /// Starts again, every REVIVE_EVERY, the sections one of whose threads
    /// ended on its own (1.9's supervisor restarts dead threads too).
    pub(crate) fn revive<'scope>(&mut self, s: &'scope std::thread::Scope<'scope, '_>, at: &Site) {
        let Site { shared, log, .. } = *at;
        let threads = shared.threads.lock().map(|t| t.clone()).unwrap_or_default();
        let dead: Vec<HbConf> = self
            .hbs
            .iter()
            .filter(|h| {
                ["rx", "tx"].iter().any(|d| {
                    threads
                        .get(&format!("{}.{d}", h.id))
                        .is_some_and(|t| t.state == ThreadState::Stopped)
                })
            })
            .filter(|h| {
                self.revived
                    .get(&h.id)
                    .is_none_or(|at| at.elapsed() >= REVIVE_EVERY)
            })
            .cloned()
            .collect();
        for h in &dead {
            log.warn(format!(
                "{}: a thread stopped: starting the heartbeat again",
                h.id
            ));
            self.stop(&h.id, shared);
            self.revived.insert(h.id.clone(), Instant::now());
        }
        if !dead.is_empty() {
            self.start(s, at, dead);
        }
    }

    /// Starts the heartbeats `conf` has, stops the ones it lost; a changed
    /// section (or a changed node list) restarts its threads.
    pub(crate) fn reconcile<'scope>(
        &mut self,
        s: &'scope std::thread::Scope<'scope, '_>,
        at: &Site,
        conf: &NodeConfig,
    ) {
        let Site {
            nodename, shared, ..
        } = *at;
        let members = conf.members(nodename);
        self.watchdog = watchdog::Conf::of(conf);
        self.fetcher.configure(conf, nodename);
        if let Ok(mut n) = shared.cluster_nodes.lock() {
            *n = members.clone();
        }
        if let Ok(mut h) = shared.hb_conf.lock() {
            *h = conf.hbs.clone();
        }
        let (start, stop) = if members == self.members {
            diff(&self.hbs, &conf.hbs)
        } else {
            self.stop_all(shared);
            (conf.hbs.clone(), Vec::new())
        };
        for id in stop {
            self.stop(&id, shared);
        }
        self.members = members;
        self.hbs = conf.hbs.clone();
        self.cluster = conf.cluster.name.clone();
        self.start(s, at, start);
    }

    /// Starts the threads of `sections`.
    fn start<'scope>(
        &mut self,
        s: &'scope std::thread::Scope<'scope, '_>,
        at: &Site,
        sections: Vec<HbConf>,
    ) {
        let Site {
            paths,
            nodename,
            shared,
            log,
        } = *at;
        if sections.is_empty() {
            return;
        }
        let key = match secret::cluster_secret(paths) {
            Ok(secret) => wire::Key::from_secret(&secret),
            Err(e) => {
                log.error(format!("no heartbeat without the cluster secret: {e}"));
                return;
            }
        };
        self.fetcher.set_key(key.clone());
        let cluster = self.cluster.clone();
        let peers: Vec<String> = self
            .members
            .iter()
            .filter(|n| *n != nodename)
            .cloned()
            .collect();
        for conf in sections {
            let medium = match (conf.medium, &conf.dev) {
                (HbMedium::Unicast, _) => Medium::Unicast,
                (HbMedium::Multicast, _) => match mcast::group(&conf) {
                    Ok(group) => Medium::Multicast(group),
                    Err(e) => {
                        log.error(e);
                        continue;
                    }
                },
                (HbMedium::Disk, Some(dev)) => Medium::Disk(dev.clone()),
                // node_validate.rs refuses a disk heartbeat without dev,
                // and the daemon runs on a valid node.conf only: a guard.
                (HbMedium::Disk, None) => {
                    log.error(format!("{}: a disk heartbeat needs dev", conf.id));
                    continue;
                }
            };
            let sealer = match wire::Sealer::new(key.clone(), nodename, &cluster) {
                Ok(sl) => sl,
                Err(e) => {
                    log.error(format!("{}: {e}", conf.id));
                    continue;
                }
            };
            let flag = Arc::new(AtomicBool::new(false));
            self.stops.insert(conf.id.clone(), flag.clone());
            // Only members are heard: a frame naming anyone else is
            // dropped on its header, before it costs a decryption. Each
            // opener takes its own path's kind only (wire.rs, Frame).
            let kind = path_kind(&conf);
            let mut opener =
                wire::Opener::new(key.clone(), &cluster, kind).only_from(&self.members);
            if kind == wire::FrameKind::HbDisk {
                // A dead peer's old beat must still be read from its slot
                // (wire.rs, Freshness): no clock bound, no floors.
                opener = opener.without_clock();
            } else if let Err(e) = opener.keep_floors(wire::floors_file(paths, &conf.id)) {
                log.warn(format!("{}: {e}", conf.id));
            }
            let (rx_id, tx_id) = (format!("{}.rx", conf.id), format!("{}.tx", conf.id));
            let (c, sh, st, lg) = (conf.clone(), shared.clone(), flag.clone(), log.clone());
            match medium {
                Medium::Unicast => {
                    shared.set_thread(&rx_id, ThreadState::Running, &unicast::listen_on(&conf));
                    shared.set_thread(&tx_id, ThreadState::Running, "");
                    let f = self.fetcher.clone();
                    s.spawn(move || unicast::rx(c, opener, f, sh, st, lg));
                    let (sh, lg, p) = (shared.clone(), log.clone(), peers.clone());
                    s.spawn(move || unicast::tx(conf, p, sealer, sh, flag, lg));
                }
                Medium::Multicast(group) => {
                    shared.set_thread(&rx_id, ThreadState::Running, &group.to_string());
                    shared.set_thread(&tx_id, ThreadState::Running, &group.to_string());
                    let f = self.fetcher.clone();
                    s.spawn(move || mcast::rx(c, group, opener, f, sh, st, lg));
                    let (sh, lg, p) = (shared.clone(), log.clone(), peers.clone());
                    s.spawn(move || mcast::tx(conf, group, p, sealer, sh, flag, lg));
                }
                Medium::Disk(dev) => {
                    let info = disk::info(&dev);
                    shared.set_thread(&rx_id, ThreadState::Running, &info);
                    shared.set_thread(&tx_id, ThreadState::Running, &info);
                    let d = dev.clone();
                    s.spawn(move || disk::rx(c, d, opener, sh, st, lg));
                    let (sh, lg) = (shared.clone(), log.clone());
                    s.spawn(move || disk::tx(conf, dev, sealer, sh, flag, lg));
                }
            }
        }
    }
}

/// What changed between two heartbeat configurations.
pub(crate) fn diff(old: &[HbConf], new: &[HbConf]) -> (Vec<HbConf>, Vec<String>) {
    let by_id = |v: &[HbConf]| -> BTreeMap<String, HbConf> {
        v.iter().map(|h| (h.id.clone(), h.clone())).collect()
    };
    let (o, n) = (by_id(old), by_id(new));
    let start = n
        .values()
        .filter(|h| o.get(&h.id) != Some(h))
        .cloned()
        .collect();
    let stop = o
        .values()
        .filter(|h| n.get(&h.id) != Some(h))
        .map(|h| h.id.clone())
        .collect();
    (start, stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::hb::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT};

    #[test]
    fn a_changed_section_is_restarted_and_a_removed_one_stopped() {
        let hb = |id: &str, port| HbConf {
            id: id.into(),
            medium: HbMedium::Unicast,
            port,
            dev: None,
            addr: None,
            intf: None,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        };
        let (start, stop) = diff(
            &[hb("hb#1", 1), hb("hb#2", 2)],
            &[hb("hb#1", 1), hb("hb#2", 3), hb("hb#3", 4)],
        );
        assert_eq!(
            start.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["hb#2", "hb#3"]
        );
        assert_eq!(stop, ["hb#2"]);
    }
}
