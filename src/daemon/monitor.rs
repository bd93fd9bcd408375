//! The monitor: keeps this node's dataset in memory — every local service's
//! status, the node's load and frozen state — so that svcmon answers at once
//! instead of probing every resource of every service.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::file_watch::{Changed, FileWatch};
use super::orchestration::core::{Orchestrate, Smon};
use super::orchestration::restarts;
use super::state::{ServiceData, Shared};
use super::status_memory::Stamp;
use crate::action::{self, Env, Probing};
use crate::config;
use crate::placement::Placement;
use crate::service::Service;
use crate::status::ServiceStatus;
use crate::status::Status;

/// How often the dataset is rebuilt and the orchestrator looks, unless the
/// cluster is set for a faster failover (`tick`).
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);

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

/// ... for this long after its files last changed: a warn that outlasts it
/// under the same files is a lasting state (a resource down on purpose, a
/// missing address), probed like any other. Probing a node's every warn
/// service every 2 s for good cost five times the CPU of an idle node.
pub(crate) const UNSETTLED_WINDOW: Duration = Duration::from_secs(30);

/// ... except a service with a resource the daemon restarts or monitors
/// (restarts.rs): a crashed application changes no file, so only a probe
/// sees it, and a failover that waits 10 s for it is 10 s of outage. The
/// cost is one full status of such a service every 2 s (for the tutorial's
/// service, a few launcher and mount checks: a few ms of CPU each time),
/// paid only by the services that asked for it.
pub(crate) const WATCHED_STATUS_INTERVAL: Duration = Duration::from_secs(2);

/// How long a probe that showed `data` is trusted; `warn_for`: how long
/// the service has shown warn under the same files.
fn probe_every(data: &ServiceData, warn_for: Duration) -> Duration {
    if !data.watched.is_empty() {
        WATCHED_STATUS_INTERVAL
    } else if data.avail == Status::Warn && warn_for < UNSETTLED_WINDOW {
        UNSETTLED_INTERVAL
    } else {
        STATUS_INTERVAL
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
        refresh(env, &shared, &mut seen, &mut replicator.stamps);
        replicator.step_listed(env, &shared, &node_conf.get());
        // Once a stop is asked for, nothing new is started here.
        if !shared.stop_requested() && orch.step(env, &shared, started) {
            // Something was started: show it at once.
            seen.clear();
            refresh(env, &shared, &mut seen, &mut replicator.stamps);
        }
        let rest = tick(&orch, &shared).saturating_sub(started.elapsed());
        // Sleep in short steps so that a stop is noticed quickly; and no
        // later than a waiting takeover may go ahead (a proof maturing, a
        // ready period ending), which a whole tick would add to the outage.
        let mut until = Instant::now() + rest;
        if let Some(w) = orch.wake() {
            until = until.min(w.max(started + MIN_TICK));
        }
        // A stop, or a lost peer (a takeover to decide), ends the sleep.
        shared.sleep_monitor(until);
    }
}

/// What each service looked like at its last probe: its files' times and
/// frozen flags. Every svcmgr action writes the service's log, so a changed
/// log means something happened and the status is probed again at once;
/// otherwise every STATUS_INTERVAL. Probing every service every second
/// would cost a node with many services most of a CPU.
#[derive(Default)]
pub(crate) struct Seen {
    probes: BTreeMap<String, Last>,
    /// Each service's stamp now, taken again only for the services whose
    /// files changed (`watch`).
    current: BTreeMap<String, Stamp>,
    /// The services listed at the last pass, in name order.
    names: Vec<String>,
    /// The node's frozen flag when `current` was taken: it is part of
    /// every stamp.
    node_frozen: bool,
    watch: Option<FileWatch>,
    /// etc/ as last listed, listed again only when `watch` saw something
    /// happen there or is in doubt.
    listing: Option<Listing>,
}

/// Each service in etc/ and its config file, or why it has none
/// (`config::list_service_files`).
type Listing = Vec<(String, Result<std::path::PathBuf, config::ConfigError>)>;

/// A service's last probe: when, under which files, and how long it is
/// trusted ([`probe_every`] of what it showed). Kept here rather than read
/// back from the dataset: a pass then copies no service's name.
struct Last {
    at: Instant,
    stamp: Stamp,
    every: Duration,
    /// Since when it has shown warn under `stamp`.
    warn_since: Option<Instant>,
}

impl Seen {
    fn clear(&mut self) {
        self.probes.clear();
        self.current.clear();
        self.listing = None;
    }

    /// What changed since the last pass, and the services in etc/: the
    /// last listing when nothing happened there since, a new one
    /// otherwise. Asked before listing: a file added meanwhile is in the
    /// listing and reported again at the next pass.
    fn look(&mut self, paths: &crate::paths::Paths) -> (Changed, Listing) {
        let changed = self
            .watch
            // Stamped all again at the probe interval: a change no event
            // reports is then seen no later than without events.
            .get_or_insert_with(|| FileWatch::new(paths, STATUS_INTERVAL))
            .changed();
        let listing = match (&changed, self.listing.take()) {
            (Changed::These { etc: false, .. }, Some(known)) => known,
            _ => config::list_service_files(paths),
        };
        (changed, listing)
    }

    /// The stamps of the services `files` lists, in its order: taken
    /// again for those whose files changed since the last pass, and for
    /// all of them when in doubt (file_watch.rs).
    fn stamps(
        &mut self,
        paths: &crate::paths::Paths,
        files: &Listing,
        changed: &Changed,
        node_frozen: bool,
    ) -> Vec<Stamp> {
        if node_frozen != self.node_frozen {
            self.current.clear();
            self.node_frozen = node_frozen;
        }
        if *changed == Changed::All {
            self.current.clear();
        }
        files
            .iter()
            .map(|(name, found)| {
                let unchanged = match changed {
                    Changed::These { services, .. } => !services.contains(name),
                    Changed::All => false,
                };
                if unchanged && let Some(st) = self.current.get(name) {
                    return *st;
                }
                let file = found.as_ref().ok().map(|f| f.as_path());
                let st = Stamp::of(paths, name, file, node_frozen);
                match self.current.get_mut(name) {
                    Some(known) => *known = st,
                    None => {
                        self.current.insert(name.clone(), st);
                    }
                }
                st
            })
            .collect()
    }
}

/// One service the pass probes.
struct Due {
    name: String,
    /// Its config file, or why there is none to load (`find_file`).
    file: Result<std::path::PathBuf, String>,
    probed_at: Instant,
    stamp: Stamp,
    conf_stamp: Option<super::state::ConfStamp>,
}

/// What a probe keeps of a service: its status and the few settings the
/// dataset advertises. The service itself is built from its config for
/// the probe and dropped with it: keeping a thousand built services
/// between probes held 8 kB each, and building them all before probing
/// any made the first pass's peak the daemon's resident size for good.
struct Probed {
    st: ServiceStatus,
    nodes: Vec<String>,
    drpnodes: Vec<String>,
    orchestrate: Orchestrate,
    placement: Placement,
    watched: Vec<super::state::Watched>,
    monitor_action: crate::config::node::SplitAction,
}

fn probe_one(env: &Env, d: &Due, cache: &crate::exec::ProbeCache) -> Result<Probed, String> {
    let file = d.file.clone()?;
    let cfg = config::load_file_with(&file, &d.name, env.nodename, config::Warnings::Skip)
        .map_err(|e| e.to_string())?;
    let svc = Service::build(cfg, env.nodename, env.paths, env.svcmgr_bin.clone());
    let st = action::collect_with(&svc, env.runner, d.stamp.frozen(), cache, Probing::InOrder);
    Ok(Probed {
        nodes: svc.info.nodes.clone(),
        drpnodes: svc.info.drpnodes.clone(),
        // The config loader let only these through.
        orchestrate: Orchestrate::parse(&svc.config.orchestrate).unwrap_or_default(),
        placement: Placement::parse(&svc.config.placement),
        watched: restarts::watched(&svc, &st),
        monitor_action: restarts::monitor_action(&svc.config.monitor_action),
        st,
    })
}

/// The probes of `due`, in its order, sharing the pass's `cache` (ip,
/// mount and ps listings run once), helped by more threads once they wait
/// on tools (probers.rs).
fn probe_all(
    env: &Env,
    due: &[Due],
    cache: &crate::exec::ProbeCache,
) -> Vec<Result<Probed, String>> {
    super::probers::in_order(due.len(), |i| probe_one(env, &due[i], cache))
}

/// A pass probes and stores this many services at a time. Holding every
/// due service's probe and new data until the end of the pass doubled the
/// services' share of the heap once every 10 s at 1000 services (1.8 MB
/// over 3.4 MB live), and with the daemon's one malloc arena that peak
/// stayed resident. Large enough that helper threads, when the tools are
/// slow, still probe most of a chunk (probers.rs).
const PROBED_AT_ONCE: usize = 128;

/// What the dataset holds of service `d` after its probe `p` (or the
/// reason it could not be probed), under its name; records when it is due
/// again.
fn service_data(
    env: &Env,
    shared: &Shared,
    seen: &mut Seen,
    d: Due,
    p: Result<Probed, String>,
) -> (String, ServiceData) {
    let (data, every, warn_since) = match p {
        Ok(p) => {
            let data = ServiceData {
                avail: p.st.avail,
                overall: p.st.overall,
                frozen: d.stamp.frozen(),
                instance_frozen: d.stamp.svc_frozen(),
                cluster_type: "failover".into(),
                nodes: p.nodes,
                drpnodes: p.drpnodes,
                error: None,
                orchestrate: p.orchestrate,
                placement: p.placement,
                // Set from the stored entry, under the lock that stores
                // this one (`refresh`).
                smon: Smon::Idle,
                config: d.conf_stamp,
                watched: p.watched,
                monitor_action: p.monitor_action,
                why: None,
            };
            // `print status` answers from this as long as the monitor
            // would not probe again either: the interval is the one
            // this very probe sets (a warn is probed again sooner).
            let warn_since = (data.avail == Status::Warn).then(|| {
                seen.probes
                    .get(&d.name)
                    .filter(|l| l.stamp == d.stamp)
                    .and_then(|l| l.warn_since)
                    .unwrap_or(d.probed_at)
            });
            let warn_for = warn_since.map_or(Duration::ZERO, |t| d.probed_at - t);
            let every = probe_every(&data, warn_for);
            shared
                .statuses
                .keep(&d.name, d.probed_at, d.stamp, every, p.st);
            (data, every, warn_since)
        }
        Err(e) => {
            let data = ServiceData {
                avail: Status::Undef,
                overall: Status::Undef,
                // The orchestrator reads the flags from here.
                frozen: d.stamp.frozen(),
                instance_frozen: d.stamp.svc_frozen(),
                cluster_type: "failover".into(),
                nodes: vec![env.nodename.to_string()],
                drpnodes: Vec::new(),
                error: Some(e),
                orchestrate: Orchestrate::No,
                placement: Placement::NodesOrder,
                smon: Smon::Idle,
                config: d.conf_stamp,
                watched: Vec::new(),
                monitor_action: restarts::monitor_action(""),
                why: None,
            };
            (data, STATUS_INTERVAL, None)
        }
    };
    let last = Last {
        at: d.probed_at,
        stamp: d.stamp,
        every,
        warn_since,
    };
    seen.probes.insert(d.name.clone(), last);
    (d.name, data)
}

/// One pass over the local services: probes those due, and updates the
/// config stamps of all of them (`stamps`, for the replication) from the
/// same stats.
pub(crate) fn refresh(
    env: &Env,
    shared: &Shared,
    seen: &mut Seen,
    stamps: &mut super::replicate::Stamps,
) {
    let (changed, files) = seen.look(env.paths);
    let node_frozen = action::freeze::node_frozen(env.paths);
    // The maps of services are pruned only when a service came or went:
    // a thousand lookups in each, every pass, for nothing otherwise.
    let renamed =
        seen.names.len() != files.len() || seen.names.iter().zip(&files).any(|(a, (b, _))| a != b);
    if renamed {
        seen.names = files.iter().map(|(n, _)| n.clone()).collect();
        let names = &seen.names;
        seen.probes.retain(|n, _| names.binary_search(n).is_ok());
        seen.current.retain(|n, _| names.binary_search(n).is_ok());
        shared.statuses.retain(names);
    }
    let now = seen.stamps(env.paths, &files, &changed, node_frozen);
    stamps.update(
        files.iter().zip(&now).map(|((name, found), stamp)| {
            let file = found.as_ref().ok().map(|f| f.as_path());
            (name.as_str(), file, stamp.conf_id())
        }),
        renamed.then_some(seen.names.as_slice()),
    );
    let local = stamps.local();
    let mut due = Vec::new();
    for ((name, found), stamp) in files.iter().zip(now) {
        let fresh = seen
            .probes
            .get(name)
            .is_some_and(|l| l.stamp == stamp && l.at.elapsed() < l.every);
        if fresh {
            continue;
        }
        let conf_stamp = local.get(name).cloned().flatten();
        let name = name.clone();
        let probed_at = Instant::now();
        due.push(Due {
            name,
            file: match found {
                Ok(f) => Ok(f.clone()),
                Err(e) => Err(e.to_string()),
            },
            probed_at,
            stamp,
            conf_stamp,
        });
    }
    if renamed && let Ok(mut node) = shared.node.lock() {
        // A service removed from etc/ is gone.
        let names = &seen.names;
        node.services
            .retain(|n| names.binary_search_by(|x| x.as_str().cmp(n)).is_ok());
    }
    let cache = crate::exec::ProbeCache::wide();
    let mut due = due.into_iter();
    loop {
        let chunk: Vec<Due> = due.by_ref().take(PROBED_AT_ONCE).collect();
        if chunk.is_empty() {
            break;
        }
        let probes = probe_all(env, &chunk, &cache);
        let probed: Vec<(String, ServiceData)> = chunk
            .into_iter()
            .zip(probes)
            .map(|(d, p)| service_data(env, shared, seen, d, p))
            .collect();
        if let Ok(mut node) = shared.node.lock() {
            for (name, mut data) in probed {
                // The service monitor state and the note are the
                // orchestrator's, and survive a probe. Read under the lock
                // that stores the probe: read any earlier, a state the
                // orchestrator sets meanwhile (start failed, at the end of
                // a start) would be overwritten by the one before
                // (starting), and would stay. A service that cannot be
                // probed has none.
                if data.error.is_none()
                    && let Some(old) = node.services.get(&name)
                {
                    data.smon = old.smon;
                    data.why.clone_from(&old.why);
                }
                node.services.put(name, data);
            }
        }
    }
    let load15 = crate::node::load15();
    if let Ok(mut node) = shared.node.lock() {
        node.load15 = load15;
        // As the services were stamped: one stat of the flag per pass.
        node.frozen = node_frozen;
    }
    shared
        .probed
        .store(true, std::sync::atomic::Ordering::Relaxed);
    seen.listing = Some(files);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's etc/, log/ and var/ under a temporary root (kept alive by
    /// the returned guard).
    fn node_dirs() -> (tempfile::TempDir, crate::paths::Paths) {
        let d = tempfile::tempdir().unwrap();
        let paths = crate::paths::Paths::under(d.path());
        for p in [&paths.etc, &paths.log, &paths.var] {
            std::fs::create_dir_all(p).unwrap();
        }
        (d, paths)
    }

    /// What a pass runs with, the tools faked: node1's.
    #[derive(Default)]
    struct Tools {
        runner: crate::exec::FakeRunner,
        opts: crate::action::Opts,
    }

    impl Tools {
        fn env<'a>(&'a self, paths: &'a crate::paths::Paths) -> Env<'a> {
            Env {
                paths,
                nodename: "node1",
                runner: &self.runner,
                opts: &self.opts,
                svcmgr_bin: "/usr/bin/svcmgr".into(),
            }
        }
    }

    fn names(l: &Listing) -> Vec<&str> {
        l.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn the_listing_follows_etc_though_it_is_kept_between_passes() {
        let (_d, paths) = node_dirs();
        let mut seen = Seen::default();
        let pass = |seen: &mut Seen| {
            let (changed, listing) = seen.look(&paths);
            let got: Vec<String> = names(&listing).iter().map(|s| s.to_string()).collect();
            seen.listing = Some(listing);
            (changed, got)
        };
        std::fs::write(paths.etc.join("a.conf"), "[DEFAULT]\n").unwrap();
        assert_eq!(pass(&mut seen), (Changed::All, vec!["a".to_string()]));
        let (changed, got) = pass(&mut seen);
        assert!(
            matches!(changed, Changed::These { etc: false, .. }),
            "{changed:?}"
        );
        assert_eq!(got, ["a"], "kept");
        std::fs::write(paths.etc.join("b.env"), "[DEFAULT]\n").unwrap();
        assert_eq!(pass(&mut seen).1, ["a", "b"], "a config added");
        std::fs::remove_file(paths.etc.join("a.conf")).unwrap();
        assert_eq!(pass(&mut seen).1, ["b"], "a config removed");
        std::fs::write(paths.etc.join("b.conf"), "[DEFAULT]\n").unwrap();
        let (_, got) = pass(&mut seen);
        assert_eq!(got, ["b"]);
        let listing = seen.listing.as_ref().unwrap();
        assert!(
            matches!(listing[0].1, Err(config::ConfigError::Both { .. })),
            "b.conf beside b.env: {listing:?}"
        );
        // A pass that started something forgets the listing too.
        seen.clear();
        assert!(seen.listing.is_none());
        assert_eq!(pass(&mut seen).1, ["b"]);
    }

    /// A pass stores every service it probed, over several chunks of
    /// `PROBED_AT_ONCE`, drops what it no longer lists, and a pass over
    /// unchanged files changes nothing (no new services part to send).
    #[test]
    fn a_pass_stores_every_service_across_its_chunks() {
        let (_d, paths) = node_dirs();
        let count = 2 * PROBED_AT_ONCE + 3;
        for i in 0..count {
            let text = "[DEFAULT]\nnodes = node1\nservice_type = TST\n";
            std::fs::write(paths.etc.join(format!("s{i:04}.conf")), text).unwrap();
        }
        // Not a service: refused by the loader, stored with its error.
        std::fs::write(
            paths.etc.join("bad.conf"),
            "[DEFAULT]\nnodes = node1\n[ip#0\n",
        )
        .unwrap();
        let tools = Tools::default();
        let env = tools.env(&paths);
        let shared = Shared::new("node1");
        let mut seen = Seen::default();
        let mut stamps = super::super::replicate::Stamps::default();
        let pass = |seen: &mut Seen, stamps: &mut super::super::replicate::Stamps| {
            crate::log::capture(|| refresh(&env, &shared, seen, stamps));
            let node = shared.node.lock().unwrap();
            let names: Vec<String> = node.services.keys().cloned().collect();
            (names, node.services.changes())
        };
        let (names, changes) = pass(&mut seen, &mut stamps);
        assert_eq!(names.len(), count + 1, "{names:?}");
        let node = shared.node.lock().unwrap();
        for i in 0..count {
            let s = &node.services[&format!("s{i:04}")];
            assert_eq!(s.nodes, ["node1"], "s{i:04}: {s:?}");
            assert!(s.error.is_none(), "s{i:04}: {s:?}");
        }
        assert!(
            node.services["bad"].error.is_some(),
            "{:?}",
            node.services["bad"]
        );
        drop(node);
        assert!(shared.probed.load(std::sync::atomic::Ordering::Relaxed));

        let (again, unchanged) = pass(&mut seen, &mut stamps);
        assert_eq!(
            (again, unchanged),
            (names.clone(), changes),
            "a pass over the same files"
        );

        std::fs::remove_file(paths.etc.join("s0000.conf")).unwrap();
        seen.clear();
        let (fewer, _) = pass(&mut seen, &mut stamps);
        assert_eq!(fewer.len(), count, "{fewer:?}");
        assert!(!fewer.contains(&"s0000".to_string()));
    }

    /// The service monitor state and the note the orchestrator set are
    /// kept by a pass that probes the service again, and dropped when its
    /// config no longer loads.
    #[test]
    fn a_probe_keeps_what_the_orchestrator_set() {
        let (_d, paths) = node_dirs();
        let conf = paths.etc.join("a.conf");
        std::fs::write(&conf, "[DEFAULT]\nnodes = node1\nservice_type = TST\n").unwrap();
        let tools = Tools::default();
        let env = tools.env(&paths);
        let shared = Shared::new("node1");
        let mut seen = Seen::default();
        let mut stamps = super::super::replicate::Stamps::default();
        let mut pass = |seen: &mut Seen| {
            // Probed again whatever its interval.
            seen.clear();
            crate::log::capture(|| refresh(&env, &shared, seen, &mut stamps));
            let node = shared.node.lock().unwrap();
            let a = &node.services["a"];
            (a.smon, a.why.clone(), a.error.is_some())
        };
        assert_eq!(pass(&mut seen), (Smon::Idle, None, false));
        shared.set_smon("a", Smon::StartFailed);
        shared.set_why("a", Some("start failed here".into()));
        let kept = (Smon::StartFailed, Some("start failed here".into()), false);
        assert_eq!(pass(&mut seen), kept, "probed again");
        std::fs::write(&conf, "[DEFAULT]\nnodes = node1\n[ip#0\n").unwrap();
        assert_eq!(pass(&mut seen), (Smon::Idle, None, true), "config refused");
    }
}
