//! The daemon process: `nodemgr daemon start|stop|restart|status|running`.
//!
//! `start` launches `nodemgr daemon start --foreground` detached and waits
//! until it answers on the local socket; systemd runs the foreground form
//! directly (packaging/opensvc-agent.service). The foreground process holds
//! `<lock>/osvcd.lock` for its whole life (a second daemon is refused), writes
//! `<var>/osvcd.pid`, runs its threads and, once a second, watches node.conf.

use crate::daemon::state::{NodeMonitor, ThreadState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::hb::supervisor::{Heartbeats, Site};
use super::node_conf::InForce;
use super::orchestration::quorum;
use super::{local_socket, monitor, peer_listener, scheduler, state::Shared};
use crate::action::{Env, Opts};
use crate::config::node::NodeConfig;
use crate::exec::{self, Cmd, RealRunner};
use crate::log::Logger;
use crate::paths::Paths;

pub(crate) fn pid_file(paths: &Paths) -> std::path::PathBuf {
    paths.var.join("osvcd.pid")
}

fn lock_file(paths: &Paths) -> std::path::PathBuf {
    paths.lock.join("osvcd.lock")
}

pub(crate) fn running(paths: &Paths) -> bool {
    crate::client::request(paths, "daemon_status").is_some()
}

fn daemon_pid(paths: &Paths) -> Option<i32> {
    std::fs::read_to_string(pid_file(paths))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// node.conf, read once, or its problems, each a line for the log or the
/// terminal: the daemon never runs on a file it would misread.
pub(crate) fn read_node_conf(paths: &Paths) -> Result<NodeConfig, Vec<String>> {
    match NodeConfig::load(&paths.node_conf()) {
        Ok(conf) if conf.problems.is_empty() => Ok(conf),
        Ok(conf) => Err(conf.problems.iter().map(|p| p.to_string()).collect()),
        Err(e) => Err(vec![e]),
    }
}

/// What the CLI prints before refusing to start a daemon.
pub(crate) fn refuse_on_bad_node_conf(paths: &Paths) -> Result<(), i32> {
    let Err(problems) = read_node_conf(paths) else {
        return Ok(());
    };
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
pub(crate) fn foreground(paths: &Paths, nodename: &str) -> i32 {
    let log = Logger::named("node", &format!("{nodename}.osvcd"));
    let node_conf = match read_node_conf(paths) {
        Ok(conf) => Arc::new(InForce::new(conf)),
        Err(problems) => {
            for p in &problems {
                log.error(p);
            }
            log.error(
                "the daemon does not start with an invalid node.conf: fix the problems above",
            );
            return 2;
        }
    };
    let Ok(_lock) = crate::lock::acquire(&lock_file(paths), Duration::ZERO) else {
        let pid = daemon_pid(paths)
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        log.error(format!("a daemon is already running{pid}"));
        return 1;
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
    abort_on_panic();
    few_malloc_arenas();
    let shared = Arc::new(Shared::new(nodename));
    let runner = RealRunner::new();
    let opts = Opts::default();
    // Built once: the threads act with it, the scheduler as cron does.
    let env = Env {
        paths,
        nodename,
        runner: &runner,
        opts: &opts,
        svcmgr_bin: crate::action::svcmgr_bin(),
    };
    let sched_opts = Opts {
        cron: true,
        ..Opts::default()
    };
    let (monitor_env, sched_env) = (&env, env.with_opts(&sched_opts));
    let quorum_env = &env;
    log.info(format!("daemon started, pid {}", std::process::id()));
    std::thread::scope(|s| {
        // The local socket serves the CLI but is not a thread svcmon lists:
        // `listener` is the peer listener, as in 1.9's svcmon.
        let (sh, lg) = (shared.clone(), log.clone());
        s.spawn(move || local_socket::serve(listener, paths, sh, lg));
        let nc: &InForce = &node_conf;
        let conf = nc.get();
        match peer_listener::bind(&peer_listener::ListenerConf::of(&conf)) {
            Ok(tcp) => {
                let (sh, lg, nc) = (shared.clone(), log.clone(), node_conf.clone());
                s.spawn(move || peer_listener::serve(tcp, paths, nc, sh, lg));
            }
            Err(e) => {
                // The node still runs its services and answers the CLI;
                // svcmon shows the listener stopped.
                let at = format!("{}:{}", conf.listener.addr, conf.listener.port);
                log.error(format!(
                    "cannot listen on {at} ([listener] addr and port in {}): {e}",
                    paths.node_conf().display()
                ));
                shared.set_thread("listener", ThreadState::Stopped, &at);
            }
        }
        shared.set_thread("monitor", ThreadState::Running, "");
        let sh = shared.clone();
        let me = monitor_env;
        let in_force = node_conf.clone();
        s.spawn(move || monitor::run(me, sh, &in_force));
        shared.set_thread("scheduler", ThreadState::Running, "");
        let sh = shared.clone();
        let se = &sched_env;
        s.spawn(move || scheduler::run(se, sh));
        // Votes ask arbitrators (up to their timeout): never on this thread,
        // which must keep pruning and watching node.conf.
        let (lost_tx, lost_rx) = std::sync::mpsc::channel();
        let (sh, lg, qe) = (shared.clone(), log.clone(), quorum_env);
        s.spawn(move || quorum::run(qe, nc, sh, lost_rx, lg));

        // The one watcher of node.conf: the other threads take the
        // snapshot it sets.
        let file = paths.node_conf();
        let mut seen = crate::fsutil::mtime(&file);
        let mut hbs = Heartbeats::default();
        let site = Site {
            paths,
            nodename,
            shared: &shared,
            log: &log,
        };
        hbs.reconcile(s, &site, &conf);
        // Type=notify (packaging/opensvc-agent.service): `systemctl start`
        // returns once the CLI can reach the daemon, as `daemon start`
        // waits; after node.conf's mtime is taken, before the watchdog is.
        if running(paths) {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        }
        let mut watchdog = super::watchdog::Watchdog::new(paths, &log);
        let mut trimmed = std::time::Instant::now();
        while !shared.stop_requested() {
            if trimmed.elapsed() >= TRIM_EVERY {
                give_back_free_memory();
                trimmed = std::time::Instant::now();
            }
            if exec::interrupted() {
                shared.request_stop();
                break;
            }
            let now = crate::fsutil::mtime(&file);
            if now != seen {
                seen = now;
                match read_node_conf(paths) {
                    Ok(conf) => {
                        log.info(format!("{} changed: reloading", file.display()));
                        hbs.reconcile(s, &site, &conf);
                        node_conf.set(conf);
                    }
                    Err(problems) => {
                        // A half-edited or mistyped file must not stop the
                        // heartbeats, nor start them on defaults.
                        for p in &problems {
                            log.error(p);
                        }
                        log.error(format!(
                            "{} changed but is invalid: keeping the previous configuration",
                            file.display()
                        ));
                    }
                }
            }
            hbs.revive(s, &site);
            watchdog.tick(&hbs.watchdog, hbs.hbs(), &shared);
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
    shared.set_node_monitor(NodeMonitor::Maintenance);
    let beat = hbs.hbs().iter().map(|h| h.interval).max();
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

/// Launches the daemon detached and waits until it answers (10 s at most).
pub(crate) fn start(paths: &Paths) -> i32 {
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
pub(crate) fn stop(paths: &Paths) -> i32 {
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

/// A thread that panics leaves the locks it held poisoned, and every later
/// `lock()` of them fails: the daemon would go on with its peers unheard
/// and nothing decided, while its heartbeats still said it was alive.
/// Release builds abort on a panic (Cargo.toml); this makes every build
/// do so, the debug build the lab tests run included, after the usual
/// report on stderr (the journal): the service manager starts a fresh
/// agent within the watchdog timeout, or the watchdog resets the node.
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
}

/// glibc gives each thread that allocates while another holds an arena an
/// arena of its own, up to 8 per core, each keeping what was freed in it:
/// the monitor's probers (monitor.rs) and the heartbeat threads added 3 MB
/// of idle heap at 1000 services. One arena: two held 0.9 MB more there
/// for no CPU the idle daemon's figure could tell apart (8.4-10 % of a
/// core either way). Before any thread starts.
fn few_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets a glibc tunable; called before any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// How often the daemon hands its free heap back to the kernel.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A status request or a beat of a large cluster builds and drops
/// megabytes; glibc keeps what was freed in its arenas, so a daemon's
/// resident memory would be its worst second rather than what it holds
/// (18 MB against 10 MB after 100 svcmon calls with 1000 services).
/// `malloc_trim` returns the free pages, in well under a millisecond.
fn give_back_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks glibc's own arenas under their locks.
    unsafe {
        libc::malloc_trim(0);
    }
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
