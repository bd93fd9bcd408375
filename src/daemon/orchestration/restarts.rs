//! Local restarts of failed resources and the monitor action, carried
//! out (docs/orchestration.md, "A resource that fails"; 1.9's behaviour
//! with om3's fixes, docs/deviations.md, "Cluster"). What to do is decided
//! in restart_core.rs, a pure function of the input built here; this file
//! builds that input from the monitor's dataset and runs the commands:
//! `start --rid` (with what starts after a vg or fs when it does not start
//! alone), the monitor action's node end and stop.
//!
//! A resource an administrator stopped is never restarted: a manual stop
//! of an orchestrated service (even `--rid`) freezes it (action/order.rs),
//! and nothing here acts on a frozen service or node, on a service an
//! order is being carried out for, or while the orchestrator is busy with
//! it (smon not idle).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::core::{Command, Level, LocalSvc, Smon};
use super::memory::Memory;
use super::pass::Pass;
use super::restart_core::{self, RestartView, Restarts, Watch};
use super::split;
use crate::action::{Action, Env};
use crate::daemon::state::Shared;
use crate::driver::Kind;
use crate::log::Logger;
use crate::service::Service;
use crate::status::{ServiceStatus, Status};

pub(crate) use super::restart_core::{monitor_action, other_candidate};
pub(crate) use crate::daemon::state::Watched;

/// The resources of `svc` with `restart > 0` or `monitor = true`, enabled.
pub(crate) fn watched(svc: &Service, st: &ServiceStatus) -> Vec<Watched> {
    svc.resources
        .iter()
        .filter(|r| !r.disabled() && (r.conf.common.restart > 0 || r.conf.common.monitor))
        .map(|r| Watched {
            rid: r.rid().to_string(),
            status: st
                .resources
                .iter()
                .find(|s| s.rid == r.rid())
                .map_or(Status::Undef, |s| s.status),
            restart: r.conf.common.restart,
            monitor: r.conf.common.monitor,
            followers: followers(svc, r),
        })
        .collect()
}

/// See [`Watched::followers`].
fn followers(svc: &Service, r: &crate::service::Resource) -> Vec<String> {
    if !matches!(r.kind(), Kind::Vg | Kind::Fs) {
        return Vec::new();
    }
    svc.ordered(&crate::action::START_KINDS, true)
        .into_iter()
        .filter(|x| !x.disabled())
        .map(|x| x.rid().to_string())
        .skip_while(|rid| rid != r.rid())
        .skip(1)
        .collect()
}

/// Runs the decisions of restart_core.rs for the monitor thread.
#[derive(Default)]
pub(crate) struct Restarter {
    core: Restarts,
}

impl Restarter {
    /// True when something was started, frozen or stopped: the caller
    /// decides nothing more on the statuses it had. `watches`: what the
    /// restarts read of each service (local.rs), beside `services`, the
    /// same services as the core reads them.
    pub(crate) fn step(
        &mut self,
        memory: &mut Memory,
        pass: &Pass,
        services: &BTreeMap<String, LocalSvc>,
        mut watches: BTreeMap<String, Watch>,
    ) -> bool {
        let Pass {
            env,
            shared,
            peers,
            log,
        } = *pass;
        for (name, w) in &mut watches {
            let nodes = services.get(name).map_or(&[][..], |s| &s.nodes);
            w.other_candidate = other_candidate(name, nodes, &shared.nodename, peers);
            // Asked only when a restart may follow: taking the lock is a
            // file operation.
            w.held = w.watched.iter().any(|w| restart_core::is_down(w.status))
                && action_running(env, name);
        }
        let view = RestartView {
            local: shared.nodename.clone(),
            services: watches,
            now: Instant::now(),
            wall: crate::order::now(),
        };
        let cmds = self.core.step(memory, &view);
        let acted = cmds.iter().any(|c| {
            matches!(
                c,
                Command::RestartResource { .. } | Command::MonitorAction { .. }
            )
        });
        for c in cmds {
            run(env, shared, memory, c, log);
        }
        publish(shared, memory);
        acted
    }
}

/// Runs one command of the restart decisions (the orchestrator's shell
/// routes them here too). Saves at once: a count is saved before its
/// restart.
pub(crate) fn run(env: &Env, shared: &Shared, memory: &Memory, c: Command, log: &Logger) {
    match c {
        Command::Save => {
            memory.save(env.paths, log);
            publish(shared, memory);
        }
        Command::RestartResource {
            svc,
            rid,
            followers,
        } => {
            restart(env, shared, &svc, &rid, &followers, log);
        }
        Command::MonitorAction { svc, rid, action } => {
            split::end_node(action, &format!("{svc}: {rid} monitor_action"), log);
        }
        Command::StopHere { svc, why } => {
            if super::actions::run(env, &svc, Action::Stop, super::actions::How::default()) {
                log.info(format!("{why}: stopped here"));
            } else {
                log.error(format!(
                    "{why}: the stop failed here, so the service may still run here: see {}",
                    env.paths.svc_log(&svc).display()
                ));
            }
        }
        Command::Smon(svc, m) => shared.set_smon(&svc, m),
        Command::Why(svc, why) => shared.set_why(&svc, why),
        Command::Log(Level::Info, m) => log.info(m),
        Command::Log(Level::Warn, m) => log.warn(m),
        Command::Log(Level::Error, m) => log.error(m),
        other => log.error(format!("restarts: not a restart command: {other:?}")),
    }
}

/// Another process holds the service's action lock.
fn action_running(env: &Env, name: &str) -> bool {
    crate::lock::acquire(&env.paths.svc_lock(name), Duration::ZERO).is_err()
}

/// The counts as `daemon_status` shows them.
fn publish(shared: &Shared, memory: &Memory) {
    if let Ok(mut r) = shared.restarts.lock() {
        *r = memory.restarts.clone();
    }
}

/// `svcmgr -s <svc> start --rid <rid>` in-process, as the daemon (no order);
/// when that fails, the resource and its followers stopped, then started.
fn restart(env: &Env, shared: &Shared, name: &str, rid: &str, followers: &[String], log: &Logger) {
    shared.set_smon(name, Smon::Restarting);
    let run = |action: Action, rids: Vec<String>| {
        let how = super::actions::How {
            rids,
            ..Default::default()
        };
        super::actions::run(env, name, action, how)
    };
    let mut ok = run(Action::Start, vec![rid.to_string()]);
    if !ok && !followers.is_empty() {
        let mut rids = vec![rid.to_string()];
        rids.extend(followers.iter().cloned());
        log.warn(format!(
            "{name}: {rid} does not start alone: restarting it with what starts after it ({})",
            followers.join(" ")
        ));
        ok = run(Action::Stop, rids.clone()) && start_when_released(&run, rids, name, log);
    }
    if !ok {
        log.error(format!(
            "{name}: {rid} restart failed: see {}",
            env.paths.svc_log(name).display()
        ));
    }
    shared.set_smon(name, Smon::Idle);
}

/// How long a restart with followers keeps trying to start once they are
/// stopped. A stop script may return before its processes are gone (the
/// tutorial's launcher signals its server and exits), and the device stays
/// busy until the last of them has exited: the first start then fails
/// with the device "in use" a few milliseconds too early.
const RELEASE_WAIT: Duration = Duration::from_secs(5);
const RELEASE_STEP: Duration = Duration::from_millis(500);

/// Starts `rids` again, retrying for [`RELEASE_WAIT`] while what the stop
/// released is still held by exiting processes. Each failed start rolled
/// itself back, so a retry starts from the same place.
fn start_when_released(
    run: &impl Fn(Action, Vec<String>) -> bool,
    rids: Vec<String>,
    name: &str,
    log: &Logger,
) -> bool {
    let deadline = Instant::now() + RELEASE_WAIT;
    loop {
        if run(Action::Start, rids.clone()) {
            return true;
        }
        if Instant::now() + RELEASE_STEP > deadline {
            return false;
        }
        log.info(format!(
            "{name}: start of {} failed, retrying in {}ms: stopped processes may still hold it",
            rids.join(" "),
            RELEASE_STEP.as_millis()
        ));
        std::thread::sleep(RELEASE_STEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_resources_name_what_starts_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::paths::Paths::under(dir.path());
        std::fs::create_dir_all(&paths.etc).unwrap();
        std::fs::write(
            paths.etc.join("s.conf"),
            "[DEFAULT]\nservice_type = TST\nnodes = n1\n\
             [app]\ndir = /srv/launchers\n\
             [fs#2]\ntype = ext4\nmnt = /b\ndev = /dev/b\n\
             [fs#1]\ntype = ext4\nmnt = /a\ndev = /dev/a\n\
             [ip#0]\nipname = 192.0.2.1\nipdev = lo\n\
             [fs#3]\ntype = ext4\nmnt = /c\ndev = /dev/c\ndisable = true\n",
        )
        .unwrap();
        let cfg = crate::config::load(&paths, "s", "n1").unwrap();
        let svc = Service::build(cfg, "n1", &paths, "/bin/true".into());
        let of = |rid: &str| {
            let r = svc.resources.iter().find(|r| r.rid() == rid).unwrap();
            followers(&svc, r)
        };
        // Start order: ip, then fs by mount point, then apps; a disabled
        // resource is not started, so it holds nothing.
        assert_eq!(of("fs#1"), ["fs#2", "app"]);
        assert_eq!(of("fs#2"), ["app"]);
        assert!(of("ip#0").is_empty(), "an address waits for nothing");
        assert!(of("app").is_empty());
    }
}
