//! Local restarts of failed resources and the monitor action
//! (docs/orchestration.md, "A resource that fails"; 1.9's behaviour with
//! om3's fixes, docs/deviations.md, "Cluster").
//!
//! A resource with `restart = N` of an orchestrated service that runs here
//! (local_expect=started, see [`expected_here`]) and is found `down` is
//! started again, alone (`start --rid`), at most N times (a vg or fs that
//! does not start alone, with the resources started after it, which may
//! hold it: [`Watched::followers`]). The count is per
//! rid, kept in the daemon's memory (memory.rs: a daemon restart does not
//! hand out a fresh set of restarts) and reset once the resource has
//! stayed up for [`STABLE_UP`] (om3 reset it as soon as it was seen up: an
//! application that dies a second after each start was then restarted for
//! ever, and never reached the monitor action). Once the count is spent, a `monitor = true` resource gets
//! `DEFAULT.monitor_action` — but only when another node could run the
//! service (om3: acting with no candidate would turn a broken resource
//! into a dead service); otherwise, and for unmonitored resources, the
//! daemon only says so, once.
//!
//! A resource an administrator stopped is never restarted: a manual stop
//! of an orchestrated service (even `--rid`) freezes it (action/order.rs),
//! and nothing here acts on a frozen service or node, on a service an
//! order is being carried out for, or while the orchestrator is busy with
//! it (smon not idle).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a restarted resource must stay up before its restarts count
/// from zero again.
pub(crate) const STABLE_UP: Duration = Duration::from_secs(10);

use serde_json::Value;

use super::core::{Orchestrate, Smon};
use super::memory::Memory;
use super::pass::Pass;
use super::split::{self, SplitAction};
use crate::action::{Action, Env};
use crate::daemon::state::{ServiceData, Shared};
use crate::driver::Kind;
use crate::log::Logger;
use crate::service::Service;
use crate::status::{ServiceStatus, Status};

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

fn is_down(s: Status) -> bool {
    matches!(s, Status::Down | Status::StdbyDown)
}

fn is_up(s: Status) -> bool {
    matches!(s.as_str(), "up" | "stdby up")
}

/// local_expect=started: the instance runs here (up, or warn because a
/// resource failed) and nobody else is deciding about it. An instance
/// wholly down is the placement's business (shell.rs), not a
/// resource restart's.
pub(crate) fn expected_here(s: &ServiceData, node_frozen: bool, ordered: bool) -> bool {
    matches!(s.orchestrate, Orchestrate::Ha | Orchestrate::Start)
        && s.error.is_none()
        && !s.frozen
        && !node_frozen
        && !ordered
        && s.smon == Smon::Idle
        && matches!(s.avail.as_str(), "up" | "warn")
}

/// Another node could take the service over: a peer heard, in the
/// service's nodes, neither it nor its instance frozen, not stopping its
/// daemon, and whose last start of it did not fail.
pub(crate) fn other_candidate(
    name: &str,
    nodes: &[String],
    local: &str,
    peers: &BTreeMap<String, Value>,
) -> bool {
    nodes.iter().filter(|n| *n != local).any(|n| {
        peers.get(n).is_some_and(|p| {
            let s = &p["services"][name];
            p["frozen"] != true
                && p["monitor"] != "maintenance"
                && s.is_object()
                && s["frozen"] != true
                && s["smon"] != "start failed"
        })
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Nothing,
    /// Up again after restarts: the count goes back to 0.
    Reset,
    /// Restart number `attempt` of `of`.
    Restart {
        attempt: u32,
        of: u32,
    },
    /// Restarts spent, monitored, another node can run it.
    MonitorAction,
    /// Restarts spent, monitored, but no other node can run it.
    WouldAct,
    /// Restarts spent, not monitored: left down.
    Exhausted,
}

/// What to do about one watched resource that was restarted `count` times;
/// `stable`: it has been up for STABLE_UP.
pub(crate) fn decide(
    w: &Watched,
    count: u32,
    stable: bool,
    expected_here: bool,
    other_candidate: bool,
) -> Step {
    if !is_down(w.status) {
        return if count > 0 && is_up(w.status) && stable {
            Step::Reset
        } else {
            Step::Nothing
        };
    }
    if !expected_here {
        Step::Nothing
    } else if count < w.restart {
        Step::Restart {
            attempt: count + 1,
            of: w.restart,
        }
    } else if !w.monitor {
        Step::Exhausted
    } else if other_candidate {
        Step::MonitorAction
    } else {
        Step::WouldAct
    }
}

/// `DEFAULT.monitor_action`; unset means `freezestop`, the one action that
/// moves the service away without ending the node.
pub(crate) fn monitor_action(value: &str) -> SplitAction {
    match SplitAction::parse(value) {
        Some(a @ (SplitAction::Crash | SplitAction::Reboot)) => a,
        _ => SplitAction::FreezeStop,
    }
}

/// Carries out the decisions; keeps what it last said per resource so that
/// a resource left down is logged (and acted on) once, not every pass.
#[derive(Default)]
pub(crate) struct Restarter {
    said: BTreeMap<(String, String), Step>,
    /// Since when each watched resource has been seen up, continuously.
    up_since: BTreeMap<(String, String), Instant>,
    /// Unmonitored resources whose restarts were spent (rest).
    resting: BTreeMap<(String, String), Resting>,
}

impl Restarter {
    /// True when something was started, frozen or stopped: the caller
    /// decides nothing more on the statuses it had.
    pub(crate) fn step(&mut self, memory: &mut Memory, pass: &Pass) -> bool {
        let Pass {
            env,
            shared,
            node,
            peers,
            log,
        } = *pass;
        let before = memory.restarts.len();
        memory
            .restarts
            .retain(|svc, _| node.services.contains_key(svc));
        let mut dirty = before != memory.restarts.len();
        let mut acted = false;
        let wall = crate::order::now();
        for (name, s) in &node.services {
            let ordered = super::orders::busy(memory, name, &shared.nodename, wall);
            let expected = expected_here(s, node.frozen, ordered);
            let other = other_candidate(name, &s.nodes, &shared.nodename, peers);
            for w in &s.watched {
                let key = (name.clone(), w.rid.clone());
                if !is_down(w.status) {
                    self.said.remove(&key);
                }
                let stable = if is_up(w.status) {
                    self.up_since
                        .entry(key.clone())
                        .or_insert_with(Instant::now)
                        .elapsed()
                        >= STABLE_UP
                } else {
                    self.up_since.remove(&key);
                    false
                };
                let count = memory
                    .restarts
                    .get(name)
                    .and_then(|m| m.get(&w.rid))
                    .copied()
                    .unwrap_or(0);
                let step = decide(w, count, stable, expected, other);
                match &step {
                    Step::Nothing => continue,
                    Step::Reset => {
                        self.resting.remove(&key);
                        if let Some(m) = memory.restarts.get_mut(name) {
                            m.remove(&w.rid);
                            if m.is_empty() {
                                memory.restarts.remove(name);
                            }
                        }
                        dirty = true;
                        log.info(format!(
                            "{name}: {} up again: restart count reset",
                            w.rid
                        ));
                        continue;
                    }
                    // An action holds the service (an administrator's, or
                    // the orchestrator's): the status this decision read
                    // may be one it was half-way through. Look again once
                    // it is done, and count nothing meanwhile.
                    Step::Restart { .. } if action_running(env, name) => continue,
                    Step::Restart { attempt, of } => {
                        memory
                            .restarts
                            .entry(name.clone())
                            .or_default()
                            .insert(w.rid.clone(), *attempt);
                        // Saved before the attempt: a daemon killed during
                        // it must count it.
                        memory.save(env.paths, log);
                        publish(shared, memory);
                        log.info(format!("{name}: {} down: restart {attempt}/{of}", w.rid));
                        restart(env, shared, name, w, log);
                    }
                    // Spent, and rested long enough: a new set of restarts,
                    // like Pacemaker's failure-timeout. Never a verdict
                    // that needs a human, never a tight loop.
                    Step::Exhausted
                        if rest(self.resting.get(&key).copied(), Instant::now()) == Rest::Over =>
                    {
                        if let Some(m) = memory.restarts.get_mut(name) {
                            m.remove(&w.rid);
                        }
                        if let Some(r) = self.resting.get_mut(&key) {
                            r.until = None;
                        }
                        dirty = true;
                        self.said.remove(&key);
                        log.info(format!(
                            "{name}: {} still down: {} restart(s) again",
                            w.rid, w.restart
                        ));
                        continue;
                    }
                    _ if self.said.get(&key) == Some(&step) => continue,
                    Step::Exhausted => {
                        let now = Instant::now();
                        let Rest::Begin { rests, until } =
                            rest(self.resting.get(&key).copied(), now)
                        else {
                            continue;
                        };
                        let state = Resting {
                            until: Some(until),
                            rests,
                        };
                        self.resting.insert(key.clone(), state);
                        log.warn(format!(
                            "{name}: {} down, restarts exhausted ({count}/{}): left down for {}s (monitor is off)",
                            w.rid,
                            w.restart,
                            until.duration_since(now).as_secs()
                        ));
                    }
                    Step::WouldAct => log.warn(format!(
                        "{name}: {} down, restarts exhausted: would {} but no other node can run it",
                        w.rid,
                        s.monitor_action.as_str()
                    )),
                    Step::MonitorAction => {
                        let what = s.monitor_action;
                        log.warn(format!(
                            "{name}: {} down, restarts exhausted: monitor_action {}",
                            w.rid,
                            what.as_str()
                        ));
                        run_monitor_action(env, shared, memory, name, &w.rid, what, log);
                    }
                }
                self.said.insert(key, step.clone());
                if matches!(step, Step::Restart { .. } | Step::MonitorAction) {
                    // The service's other statuses are stale now.
                    acted = true;
                    break;
                }
            }
        }
        if dirty {
            memory.save(env.paths, log);
        }
        publish(shared, memory);
        acted
    }
}

/// An unmonitored resource whose restarts were spent: when its rest
/// ends (None once restarts resumed), and how many rests in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Resting {
    pub until: Option<Instant>,
    pub rests: u32,
}

/// Where such a resource stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rest {
    /// Spent just now: left down until `until`, the `rests`th time in a
    /// row (the back-off of a start failure's).
    Begin { rests: u32, until: Instant },
    /// Resting still.
    Resting,
    /// Rested: a new set of restarts.
    Over,
}

/// `state`: None when not resting since the resource was last stable.
pub(crate) fn rest(state: Option<Resting>, now: Instant) -> Rest {
    let state = state.unwrap_or_default();
    match state.until {
        Some(until) if now < until => Rest::Resting,
        Some(_) => Rest::Over,
        None => {
            let rests = state.rests + 1;
            Rest::Begin {
                rests,
                until: now + super::failures::backoff(rests),
            }
        }
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
fn restart(env: &Env, shared: &Shared, name: &str, w: &Watched, log: &Logger) {
    shared.set_smon(name, Smon::Restarting);
    let rid = w.rid.as_str();
    let run = |action: Action, rids: Vec<String>| {
        let how = super::actions::How {
            rids,
            ..Default::default()
        };
        super::actions::run(env, name, action, how)
    };
    let mut ok = run(Action::Start, vec![rid.to_string()]);
    if !ok && !w.followers.is_empty() {
        let mut rids = vec![rid.to_string()];
        rids.extend(w.followers.iter().cloned());
        log.warn(format!(
            "{name}: {rid} does not start alone: restarting it with what starts after it ({})",
            w.followers.join(" ")
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

/// `freezestop` moves the service away: this node goes out of the
/// placement for a start failure's back-off (failures.rs: the peers'
/// placement skips it and takes the service over, and this node may run it
/// again later, with no operator needed), then the instance is stopped.
/// 1.9 froze the instance for good, which left a frozen instance nobody
/// asked for and one node less for the next failover. `crash` and `reboot`
/// end the node through split.rs's guarded path; when that is refused (a
/// tier-2 daemon on the host) or fails, the service is still moved away.
fn run_monitor_action(
    env: &Env,
    shared: &Shared,
    memory: &mut Memory,
    name: &str,
    rid: &str,
    what: SplitAction,
    log: &Logger,
) {
    let why = format!("{name}: {rid} monitor_action");
    split::end_node(what, &why, log);
    let wall = crate::order::now();
    let reason = format!("{rid} down, restarts spent");
    let f = super::failures::record(memory.start_failed.get(name), wall, &reason);
    log.warn(format!(
        "{why}: stopping here, out of the placement for {}s",
        f.retry_in(wall)
    ));
    memory.start_failed.insert(name.to_string(), f);
    memory.save(env.paths, log);
    shared.set_smon(name, Smon::StartFailed);
    if super::actions::run(env, name, Action::Stop, super::actions::How::default()) {
        log.info(format!("{why}: stopped here"));
    } else {
        log.error(format!(
            "{why}: the stop failed here, so the service may still run here: see {}",
            env.paths.svc_log(name).display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn w(status: Status, restart: u32, monitor: bool) -> Watched {
        Watched {
            rid: "app".into(),
            status,
            restart,
            monitor,
            followers: Vec::new(),
        }
    }

    #[test]
    fn a_down_resource_is_restarted_while_the_count_is_below_n() {
        let r = w(Status::Down, 3, false);
        assert_eq!(
            decide(&r, 0, false, true, false),
            Step::Restart { attempt: 1, of: 3 }
        );
        assert_eq!(
            decide(&r, 2, false, true, false),
            Step::Restart { attempt: 3, of: 3 }
        );
        assert_eq!(decide(&r, 3, false, true, false), Step::Exhausted);
        let sb = w(Status::StdbyDown, 1, false);
        assert_eq!(
            decide(&sb, 0, false, true, false),
            Step::Restart { attempt: 1, of: 1 }
        );
    }

    #[test]
    fn up_for_a_while_resets_the_count_and_nothing_else_does() {
        assert_eq!(
            decide(&w(Status::Up, 3, false), 2, true, true, false),
            Step::Reset
        );
        assert_eq!(
            decide(&w(Status::StdbyUp, 3, false), 1, true, false, false),
            Step::Reset
        );
        // Up, but not for STABLE_UP yet: a crash loop keeps its count.
        assert_eq!(
            decide(&w(Status::Up, 3, false), 2, false, true, false),
            Step::Nothing
        );
        assert_eq!(
            decide(&w(Status::Up, 3, false), 0, true, true, false),
            Step::Nothing
        );
        // warn, n/a, undef are not "up again".
        for s in [Status::Warn, Status::NotApplicable, Status::Undef] {
            assert_eq!(decide(&w(s, 3, true), 2, true, true, true), Step::Nothing);
        }
    }

    #[test]
    fn spent_restarts_of_a_monitored_resource_act_only_with_another_candidate() {
        let r = w(Status::Down, 2, true);
        assert_eq!(decide(&r, 2, false, true, true), Step::MonitorAction);
        assert_eq!(decide(&r, 2, false, true, false), Step::WouldAct);
        // monitor without restart: the action at once.
        assert_eq!(
            decide(&w(Status::Down, 0, true), 0, false, true, true),
            Step::MonitorAction
        );
    }

    #[test]
    fn nothing_is_done_for_an_instance_not_expected_here() {
        for count in [0, 2] {
            assert_eq!(
                decide(&w(Status::Down, 2, true), count, false, false, true),
                Step::Nothing
            );
        }
    }

    fn data() -> ServiceData {
        ServiceData {
            avail: Status::Warn,
            overall: Status::Warn,
            frozen: false,
            cluster_type: "failover".into(),
            nodes: vec!["node1".into(), "node2".into()],
            drpnodes: vec![],
            error: None,
            orchestrate: Orchestrate::Ha,
            placement: crate::placement::Placement::NodesOrder,
            smon: Smon::Idle,
            config: None,
            watched: vec![],
            monitor_action: SplitAction::FreezeStop,
            why: None,
        }
    }

    #[test]
    fn expected_here_means_running_here_unfrozen_and_nobody_else_deciding() {
        assert!(expected_here(&data(), false, false));
        let up = ServiceData {
            avail: Status::Up,
            orchestrate: Orchestrate::Start,
            ..data()
        };
        assert!(expected_here(&up, false, false));
        // An administrator's stop (even --rid) freezes the service.
        let frozen = ServiceData {
            frozen: true,
            ..data()
        };
        assert!(!expected_here(&frozen, false, false));
        assert!(!expected_here(&data(), true, false), "node frozen");
        assert!(!expected_here(&data(), false, true), "an order in progress");
        for (field, s) in [
            (
                "orchestrate no",
                ServiceData {
                    orchestrate: Orchestrate::No,
                    ..data()
                },
            ),
            (
                "wholly down",
                ServiceData {
                    avail: Status::Down,
                    ..data()
                },
            ),
            (
                "busy",
                ServiceData {
                    smon: Smon::Starting,
                    ..data()
                },
            ),
            (
                "broken config",
                ServiceData {
                    error: Some("x".into()),
                    ..data()
                },
            ),
        ] {
            assert!(!expected_here(&s, false, false), "{field}");
        }
    }

    #[test]
    fn another_candidate_is_a_heard_unfrozen_peer_of_the_service() {
        let nodes = vec!["node1".to_string(), "node2".to_string()];
        let peers = |v: Value| -> BTreeMap<String, Value> { [("node2".to_string(), v)].into() };
        let ok = json!({"frozen": false, "services": {"svc": {"frozen": false, "smon": "idle"}}});
        assert!(other_candidate("svc", &nodes, "node1", &peers(ok.clone())));
        assert!(!other_candidate("svc", &nodes, "node1", &BTreeMap::new()));
        assert!(!other_candidate("svc", &nodes[..1], "node1", &peers(ok)));
        for bad in [
            json!({"frozen": true, "services": {"svc": {"frozen": false}}}),
            json!({"frozen": false, "services": {"svc": {"frozen": true}}}),
            json!({"frozen": false, "services": {"svc": {"smon": "start failed"}}}),
            json!({"monitor": "maintenance", "services": {"svc": {}}}),
            json!({"frozen": false, "services": {}}),
        ] {
            assert!(
                !other_candidate("svc", &nodes, "node1", &peers(bad.clone())),
                "{bad}"
            );
        }
    }

    #[test]
    fn spent_restarts_rest_then_resume_with_a_growing_backoff() {
        let t0 = Instant::now();
        let secs = |s| Duration::from_secs(s);
        let Rest::Begin { rests, until } = rest(None, t0) else {
            panic!()
        };
        assert_eq!((rests, until), (1, t0 + secs(10)));
        let resting = Resting {
            until: Some(until),
            rests,
        };
        assert_eq!(rest(Some(resting), t0 + secs(9)), Rest::Resting);
        assert_eq!(rest(Some(resting), t0 + secs(10)), Rest::Over);
        // Resumed, spent again: a longer rest.
        let resumed = Resting { until: None, rests };
        assert_eq!(
            rest(Some(resumed), t0 + secs(12)),
            Rest::Begin {
                rests: 2,
                until: t0 + secs(32)
            }
        );
    }

    #[test]
    fn monitor_action_defaults_to_freezestop() {
        assert_eq!(monitor_action(""), SplitAction::FreezeStop);
        assert_eq!(monitor_action("freezestop"), SplitAction::FreezeStop);
        assert_eq!(monitor_action("reboot"), SplitAction::Reboot);
        assert_eq!(monitor_action("crash"), SplitAction::Crash);
        // split's `disabled` is not a monitor action.
        assert_eq!(monitor_action("disabled"), SplitAction::FreezeStop);
    }

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
