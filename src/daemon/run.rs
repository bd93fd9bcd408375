//! The daemon process: `nodemgr daemon start|stop|restart|status|running`.
//!
//! `start` launches `nodemgr daemon start --foreground` detached and waits
//! until it answers on the local socket; systemd runs the foreground form
//! directly (packaging/opensvc-agent.service). The foreground process holds
//! `<lock>/osvcd.lock` for its whole life (a second daemon is refused), writes
//! `<var>/osvcd.pid`, runs its threads and, once a second, watches node.conf.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use super::peer_listener;
use super::{
    hb, hb_disk, hb_mcast, local_socket, monitor, quorum, scheduler, secret, state::Shared, wire,
};
use crate::action::{Env, Opts};
use crate::exec::{self, Cmd, RealRunner};
use crate::log::Logger;
use crate::paths::Paths;

pub fn pid_file(paths: &Paths) -> std::path::PathBuf {
    paths.var.join("osvcd.pid")
}

fn lock_file(paths: &Paths) -> std::path::PathBuf {
    paths.lock.join("osvcd.lock")
}

pub fn running(paths: &Paths) -> bool {
    crate::client::request(paths, "daemon_status").is_some()
}

fn daemon_pid(paths: &Paths) -> Option<i32> {
    std::fs::read_to_string(pid_file(paths))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// node.conf's problems, each a line for the log or the terminal, or
/// none: the daemon never starts on a file it would misread.
pub fn node_conf_problems(paths: &Paths) -> Vec<String> {
    match crate::config::node_validate::validate_file(&paths.node_conf()) {
        Ok(problems) => problems.iter().map(|p| p.to_string()).collect(),
        Err(e) => vec![e],
    }
}

/// What the CLI prints before refusing to start a daemon.
pub fn refuse_on_bad_node_conf(paths: &Paths) -> Result<(), i32> {
    let problems = node_conf_problems(paths);
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    eprintln!("the daemon does not start with an invalid node.conf: fix the problems above");
    Err(2)
}

/// Temp files of writers killed mid-write (145 kills of `set` left 78,
/// node.conf copies with the secret among them), in the directories the
/// atomic writer writes to. A live writer's are kept.
fn sweep_temp_files(paths: &Paths, log: &Logger) {
    let dirs = [
        paths.etc.clone(),
        paths.var.clone(),
        paths.var.join("orders.in"),
    ];
    for dir in &dirs {
        for f in crate::fsutil::sweep(dir, None) {
            log.info(format!(
                "removed {}, left by a writer that died",
                f.display()
            ));
        }
    }
}

/// The daemon itself. Returns its exit code.
pub fn foreground(paths: &Paths, nodename: &str) -> i32 {
    let log = Logger::named("node", &format!("{nodename}.osvcd"));
    let problems = node_conf_problems(paths);
    if !problems.is_empty() {
        for p in &problems {
            log.error(p);
        }
        log.error("the daemon does not start with an invalid node.conf: fix the problems above");
        return 2;
    }
    let _lock = match crate::lock::acquire(&lock_file(paths), Duration::ZERO) {
        Ok(l) => l,
        Err(_) => {
            let pid = daemon_pid(paths)
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default();
            log.error(format!("a daemon is already running{pid}"));
            return 1;
        }
    };
    let listener = match local_socket::bind(paths) {
        Ok(l) => l,
        Err(e) => {
            log.error(format!(
                "cannot listen on {}: {e}",
                crate::client::socket_path(paths).display()
            ));
            return 1;
        }
    };
    sweep_temp_files(paths, &log);
    if let Err(e) = crate::fsutil::write_atomic(
        &pid_file(paths),
        format!("{}\n", std::process::id()).as_bytes(),
    ) {
        log.error(format!("cannot write {}: {e}", pid_file(paths).display()));
        return 1;
    }
    exec::install_signal_handlers();
    let shared = Arc::new(Shared::new(nodename));
    let runner = RealRunner::new();
    let monitor_opts = Opts::default();
    let sched_opts = Opts {
        cron: true,
        ..Opts::default()
    };
    let env = |opts| Env {
        paths,
        nodename,
        runner: &runner,
        opts,
        svcmgr_bin: crate::action::svcmgr_bin(),
    };
    let quorum_opts = Opts::default();
    let (monitor_env, sched_env) = (env(&monitor_opts), env(&sched_opts));
    let quorum_env = env(&quorum_opts);
    log.info(format!("daemon started, pid {}", std::process::id()));
    std::thread::scope(|s| {
        // The local socket serves the CLI but is not a thread svcmon lists:
        // `listener` is the peer listener, as in 1.9's svcmon.
        let (sh, lg) = (shared.clone(), log.clone());
        s.spawn(move || local_socket::serve(listener, paths, sh, lg));
        let conf = peer_listener::read_conf(paths);
        match peer_listener::bind(&conf) {
            Ok(tcp) => {
                let (sh, lg) = (shared.clone(), log.clone());
                s.spawn(move || peer_listener::serve(tcp, paths, sh, lg));
            }
            Err(e) => {
                // The node still runs its services and answers the CLI;
                // svcmon shows the listener stopped.
                let at = format!("{}:{}", conf.addr, conf.port);
                log.error(format!(
                    "cannot listen on {at} ([listener] addr and port in {}): {e}",
                    paths.node_conf().display()
                ));
                shared.set_thread("listener", "stopped", &at);
            }
        }
        shared.set_thread("monitor", "running", "");
        let sh = shared.clone();
        let me = &monitor_env;
        s.spawn(move || monitor::run(me, sh));
        shared.set_thread("scheduler", "running", "");
        let sh = shared.clone();
        let se = &sched_env;
        s.spawn(move || scheduler::run(se, sh));
        // Votes ask arbitrators (up to their timeout): never on this thread,
        // which must keep pruning and watching node.conf.
        let (lost_tx, lost_rx) = std::sync::mpsc::channel();
        let (sh, lg, qe) = (shared.clone(), log.clone(), &quorum_env);
        s.spawn(move || quorum::run(qe, sh, lost_rx, lg));

        let node_conf = paths.node_conf();
        let mut seen = crate::fsutil::mtime(&node_conf);
        let mut hbs = Heartbeats::default();
        let site = Site {
            paths,
            nodename,
            shared: &shared,
            log: &log,
        };
        hbs.reconcile(s, &site);
        // Type=notify (packaging/opensvc-agent.service): `systemctl start`
        // returns once the CLI can reach the daemon, as `daemon start`
        // waits; after node.conf's mtime is taken, before the watchdog is.
        if running(paths) {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        }
        let mut watchdog = super::watchdog::Watchdog::new(paths, &log);
        while !shared.stop_requested() {
            if exec::interrupted() {
                shared.request_stop();
                break;
            }
            let now = crate::fsutil::mtime(&node_conf);
            if now != seen {
                seen = now;
                let problems = node_conf_problems(paths);
                if problems.is_empty() {
                    log.info(format!("{} changed: reloading", node_conf.display()));
                    hbs.reconcile(s, &site);
                } else {
                    // A half-edited or mistyped file must not stop the
                    // heartbeats, nor start them on defaults.
                    for p in &problems {
                        log.error(p);
                    }
                    log.error(format!(
                        "{} changed but is invalid: keeping the previous configuration",
                        node_conf.display()
                    ));
                }
            }
            hbs.revive(s, &site);
            watchdog.tick(&hbs.watchdog, &hbs.conf.hbs, &shared);
            let lost = shared.prune(&hbs.timeouts());
            for n in &lost {
                log.warn(format!("node {n} lost: no heartbeat within the timeout"));
            }
            if !lost.is_empty() {
                shared.wake_monitor();
                let _ = lost_tx.send(lost);
            }
            // A peer is declared lost at most this late after its timeout:
            // one stat and a walk over the peers, cheap at 10 per second;
            // and the watchdog is petted this often.
            std::thread::sleep(super::watchdog::PET_EVERY);
        }
        // Stopping on purpose: the node is in maintenance, never taken
        // over, so nothing needs resetting; and disarmed first, since the
        // announcement may outlast the watchdog timeout (a beat interval).
        watchdog.disarm(&shared);
        announce_maintenance(&shared, &hbs, &log);
        shared.halt();
        hbs.stop_all(&shared);
        log.info("daemon stopping");
        crate::client::wake(paths);
    });
    let _ = std::fs::remove_file(pid_file(paths));
    let _ = std::fs::remove_file(crate::client::socket_path(paths));
    log.info("daemon stopped");
    0
}

/// Tells the peers, through one more round of heartbeats, that this
/// daemon stops on purpose: they keep this node's services as running
/// (nothing is taken over from a node in maintenance) instead of reading
/// the silence that follows as a death. The services keep running here.
fn announce_maintenance(shared: &Shared, hbs: &Heartbeats, log: &Logger) {
    shared.set_node_monitor("maintenance");
    let beat = hbs.conf.hbs.iter().map(|h| h.interval).max();
    if let Some(beat) = beat {
        log.info("announcing maintenance to the peers before stopping");
        // One full interval lets every tx thread send once more; capped so
        // that a slow heartbeat setting cannot hold a stop for long.
        let wait = (beat + Duration::from_millis(300)).min(Duration::from_secs(5));
        let until = Instant::now() + wait;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What the heartbeat supervision works with.
#[derive(Clone, Copy)]
struct Site<'a> {
    paths: &'a Paths,
    nodename: &'a str,
    shared: &'a Arc<Shared>,
    log: &'a Logger,
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
struct Heartbeats {
    conf: hb::ClusterConf,
    /// `[node] watchdog` and `watchdog_timeout` (watchdog.rs).
    watchdog: super::watchdog::Conf,
    stops: BTreeMap<String, Arc<AtomicBool>>,
    /// When each section was last revived (`revive`).
    revived: BTreeMap<String, Instant>,
}

/// How often a section whose thread died is started again: its error (a
/// port in use, an interface not up yet) is logged at each try.
const REVIVE_EVERY: Duration = Duration::from_secs(10);

impl Heartbeats {
    fn timeouts(&self) -> BTreeMap<String, Duration> {
        self.conf
            .hbs
            .iter()
            .map(|h| (format!("{}.rx", h.id), h.timeout))
            .collect()
    }

    fn stop_all(&mut self, shared: &Shared) {
        let ids: Vec<String> = self.stops.keys().cloned().collect();
        for id in ids {
            self.stop(&id, shared);
        }
    }

    /// Ends a section's threads and forgets them.
    fn stop(&mut self, id: &str, shared: &Shared) {
        if let Some(flag) = self.stops.remove(id) {
            flag.store(true, Ordering::Relaxed);
        }
        shared.forget_heartbeat(id);
    }

    /// Starts again, every REVIVE_EVERY, the sections one of whose threads
    /// ended on its own (1.9's supervisor restarts dead threads too).
    fn revive<'scope, 'env>(&mut self, s: &'scope std::thread::Scope<'scope, 'env>, at: &Site) {
        let Site { shared, log, .. } = *at;
        let threads = shared.threads.lock().map(|t| t.clone()).unwrap_or_default();
        let dead: Vec<hb::HbConf> = self
            .conf
            .hbs
            .iter()
            .filter(|h| {
                ["rx", "tx"].iter().any(|d| {
                    threads
                        .get(&format!("{}.{d}", h.id))
                        .is_some_and(|t| t.state == "stopped")
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

    /// Starts the heartbeats node.conf now has, stops the ones it lost;
    /// a changed section (or a changed node list) restarts its threads.
    fn reconcile<'scope, 'env>(&mut self, s: &'scope std::thread::Scope<'scope, 'env>, at: &Site) {
        let Site {
            paths,
            nodename,
            shared,
            ..
        } = *at;
        let new = hb::read_conf(paths, nodename);
        self.watchdog = super::watchdog::read_conf(paths, at.log);
        if let Ok(mut n) = shared.cluster_nodes.lock() {
            *n = new.nodes.clone();
        }
        if let Ok(mut h) = shared.hb_conf.lock() {
            *h = new.hbs.clone();
        }
        let (start, stop) = if new.nodes != self.conf.nodes {
            self.stop_all(shared);
            (new.hbs.clone(), Vec::new())
        } else {
            hb::diff(&self.conf.hbs, &new.hbs)
        };
        for id in stop {
            self.stop(&id, shared);
        }
        self.conf = new;
        self.start(s, at, start);
    }

    /// Starts the threads of `sections`.
    fn start<'scope, 'env>(
        &mut self,
        s: &'scope std::thread::Scope<'scope, 'env>,
        at: &Site,
        sections: Vec<hb::HbConf>,
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
        let cluster = secret::cluster_name(paths);
        let peers: Vec<String> = self
            .conf
            .nodes
            .iter()
            .filter(|n| *n != nodename)
            .cloned()
            .collect();
        for conf in sections {
            let medium = match (conf.hb_type.as_str(), &conf.dev) {
                ("unicast", _) => Medium::Unicast,
                ("multicast", _) => match hb_mcast::group(&conf) {
                    Ok(group) => Medium::Multicast(group),
                    Err(e) => {
                        log.error(e);
                        continue;
                    }
                },
                ("disk", Some(dev)) => Medium::Disk(dev.clone()),
                ("disk", None) => {
                    log.error(format!("{}: a disk heartbeat needs dev", conf.id));
                    continue;
                }
                // node_keywords.rs admits only the types above, and the
                // daemon runs on a valid node.conf only: a guard, should
                // the two lists ever part.
                (t, _) => {
                    log.error(format!(
                        "{}: unknown heartbeat type '{t}': see nodemgr validate config",
                        conf.id
                    ));
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
            let kind = hb::path_kind(&conf);
            let mut opener =
                wire::Opener::new(key.clone(), &cluster, kind).only_from(&self.conf.nodes);
            if kind == wire::Kind::HbDisk {
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
                    shared.set_thread(&rx_id, "running", &hb::listen_on(&conf));
                    shared.set_thread(&tx_id, "running", "");
                    s.spawn(move || hb::rx(c, opener, sh, st, lg));
                    let (sh, lg, p) = (shared.clone(), log.clone(), peers.clone());
                    s.spawn(move || hb::tx(conf, p, sealer, sh, flag, lg));
                }
                Medium::Multicast(group) => {
                    shared.set_thread(&rx_id, "running", &group.to_string());
                    shared.set_thread(&tx_id, "running", &group.to_string());
                    s.spawn(move || hb_mcast::rx(c, group, opener, sh, st, lg));
                    let (sh, lg, p) = (shared.clone(), log.clone(), peers.clone());
                    s.spawn(move || hb_mcast::tx(conf, group, p, sealer, sh, flag, lg));
                }
                Medium::Disk(dev) => {
                    let info = hb_disk::info(&dev);
                    shared.set_thread(&rx_id, "running", &info);
                    shared.set_thread(&tx_id, "running", &info);
                    let d = dev.clone();
                    s.spawn(move || hb_disk::rx(c, d, opener, sh, st, lg));
                    let (sh, lg) = (shared.clone(), log.clone());
                    s.spawn(move || hb_disk::tx(conf, dev, sealer, sh, flag, lg));
                }
            }
        }
    }
}

/// Launches the daemon detached and waits until it answers (10 s at most).
pub fn start(paths: &Paths) -> i32 {
    if let Err(code) = refuse_on_bad_node_conf(paths) {
        return code;
    }
    if running(paths) {
        eprintln!(
            "the daemon is already running (pid {})",
            daemon_pid(paths).unwrap_or(0)
        );
        return 0;
    }
    let me = crate::action::svcmgr_bin();
    let cmd = Cmd::new([
        me.display().to_string(),
        "daemon".into(),
        "start".into(),
        "--foreground".into(),
    ]);
    if let Err(e) = RealRunner::new().spawn_detached(&cmd, "nodemgr") {
        eprintln!("cannot start the daemon: {e}");
        return 1;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if running(paths) {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "the daemon did not answer within 10 s: see {}",
        paths.log.join("node.log").display()
    );
    1
}

/// Asks the daemon to stop and waits for its process to end (30 s at most).
pub fn stop(paths: &Paths) -> i32 {
    let pid = daemon_pid(paths);
    if crate::client::request(paths, "daemon_stop").is_none() {
        return 0;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive && !running(paths) {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("the daemon did not stop within 30 s");
    1
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    /// Issue 10, item 13: temp files of killed writers, node.conf copies
    /// with the secret among them, are removed when the daemon starts; a
    /// live writer's stays.
    #[test]
    fn the_daemon_sweeps_stale_temp_files_at_start() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        std::fs::create_dir_all(paths.var.join("orders.in")).unwrap();
        std::fs::create_dir_all(&paths.etc).unwrap();
        let dead = crate::fsutil::tests::dead_pid();
        let stale = paths
            .etc
            .join(format!(".node.conf.tmp.{dead}.0123456789ab"));
        let order = paths
            .var
            .join("orders.in")
            .join(format!(".s@1.json.tmp.{dead}.0123456789ab"));
        let live = paths
            .etc
            .join(format!(".s.conf.tmp.{}.0123456789ab", std::process::id()));
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        for f in [&stale, &order, &live] {
            std::fs::write(f, "[cluster]\nsecret = x\n").unwrap();
            let h = std::fs::File::options().write(true).open(f).unwrap();
            h.set_modified(old).unwrap();
        }
        sweep_temp_files(&paths, &Logger::named("node", "n1.osvcd"));
        assert!(!stale.exists() && !order.exists());
        assert!(live.exists(), "a live writer's temp file was removed");
    }
}
