//! The resource restarts and the monitor action, decided
//! (docs/orchestration.md, "A resource that fails"): a function of what
//! this node sees of its watched resources ([`Watch`]), what it remembers
//! (the counts in [`Memory`], the rests in [`Restarts`]) and the time,
//! returning [`Command`]s. No I/O, no clock: restarts.rs builds the input
//! from the monitor's dataset and runs the commands (the svcmgr calls);
//! the simulation (sim/) runs this very code.
//!
//! A resource with `restart = N` of an orchestrated service that runs here
//! ([`expected_here`]) and is found down is started again, alone, at most
//! N times. The count is per rid, kept in the memory file (a daemon
//! restart does not hand out a fresh set) and reset once the resource has
//! stayed up for [`STABLE_UP`]. Once spent, a `monitor = true` resource
//! gets `DEFAULT.monitor_action`, but only when another node could run the
//! service ([`other_candidate`]); otherwise, and for unmonitored
//! resources, the daemon only says so, once, and an unmonitored resource
//! gets a new set of restarts after a rest that grows like a start
//! failure's back-off ([`rest`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::core::{Command, Level, Orchestrate, Smon};
use super::memory::Memory;
use crate::config::node::SplitAction;
use crate::daemon::state::{PeerData, ServiceData, Watched};
use crate::status::Status;

/// How long a restarted resource must stay up before its restarts count
/// from zero again.
pub(crate) const STABLE_UP: Duration = Duration::from_secs(10);

/// One local service with watched resources, as the decisions need it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Watch {
    /// [`expected_here`] without the orders part (the decisions add it:
    /// an order being carried out for the service).
    pub runs_here: bool,
    /// [`other_candidate`].
    pub other_candidate: bool,
    pub monitor_action: SplitAction,
    pub watched: Vec<Watched>,
    /// Another process holds the service's action lock: an action is
    /// half-way through, and the statuses read may be its.
    pub held: bool,
}

/// What one pass of the restarts sees.
#[derive(Debug, Clone)]
pub(crate) struct RestartView {
    pub local: String,
    pub services: BTreeMap<String, Watch>,
    pub now: Instant,
    /// Wall-clock seconds (orders, failure records).
    pub wall: f64,
}

/// Down as a restart counts it.
pub(crate) fn is_down(s: Status) -> bool {
    matches!(s, Status::Down | Status::StdbyDown)
}

/// Up as a reset counts it.
pub(crate) fn is_up(s: Status) -> bool {
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
    peers: &BTreeMap<String, PeerData>,
) -> bool {
    nodes.iter().filter(|n| *n != local).any(|n| {
        peers.get(n).is_some_and(|p| {
            p.fields["frozen"] != true
                && p.fields["monitor"] != "maintenance"
                && p.services.get(name).is_some_and(|s| {
                    s.is_object() && s["frozen"] != true && s["smon"] != "start failed"
                })
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

/// What the restarts remember between passes; what must survive a daemon
/// restart (the counts) is in [`Memory`].
#[derive(Debug, Default)]
pub(crate) struct Restarts {
    /// What was last said per resource: a resource left down is logged
    /// (and acted on) once, not every pass.
    said: BTreeMap<(String, String), Step>,
    /// Since when each watched resource has been seen up, continuously.
    up_since: BTreeMap<(String, String), Instant>,
    /// Unmonitored resources whose restarts were spent (rest).
    resting: BTreeMap<(String, String), Resting>,
}

impl Restarts {
    /// One pass. A [`Command::RestartResource`] or [`Command::MonitorAction`]
    /// ends the service's turn: its other statuses are stale after it.
    pub(crate) fn step(&mut self, mem: &mut Memory, v: &RestartView) -> Vec<Command> {
        let mut out = Vec::new();
        let before = mem.restarts.len();
        mem.restarts.retain(|svc, _| v.services.contains_key(svc));
        let mut dirty = before != mem.restarts.len();
        for (name, s) in &v.services {
            let ordered = super::orders::busy(mem, name, &v.local, v.wall);
            let expected = s.runs_here && !ordered;
            for w in &s.watched {
                let key = (name.clone(), w.rid.clone());
                if !is_down(w.status) {
                    self.said.remove(&key);
                }
                let stable = if is_up(w.status) {
                    let since = *self.up_since.entry(key.clone()).or_insert(v.now);
                    v.now.saturating_duration_since(since) >= STABLE_UP
                } else {
                    self.up_since.remove(&key);
                    false
                };
                let count = mem
                    .restarts
                    .get(name)
                    .and_then(|m| m.get(&w.rid))
                    .copied()
                    .unwrap_or(0);
                let step = decide(w, count, stable, expected, s.other_candidate);
                match &step {
                    Step::Nothing => continue,
                    Step::Reset => {
                        self.resting.remove(&key);
                        if let Some(m) = mem.restarts.get_mut(name) {
                            m.remove(&w.rid);
                            if m.is_empty() {
                                mem.restarts.remove(name);
                            }
                        }
                        dirty = true;
                        out.push(Command::Log(
                            Level::Info,
                            format!("{name}: {} up again: restart count reset", w.rid),
                        ));
                        continue;
                    }
                    // An action holds the service (an administrator's, or
                    // the orchestrator's): the status this decision read
                    // may be one it was half-way through. Look again once
                    // it is done, and count nothing meanwhile.
                    Step::Restart { .. } if s.held => continue,
                    Step::Restart { attempt, of } => {
                        mem.restarts
                            .entry(name.clone())
                            .or_default()
                            .insert(w.rid.clone(), *attempt);
                        // Saved before the attempt: a daemon killed during
                        // it must count it.
                        out.push(Command::Save);
                        out.push(Command::Log(
                            Level::Info,
                            format!("{name}: {} down: restart {attempt}/{of}", w.rid),
                        ));
                        out.push(Command::RestartResource {
                            svc: name.clone(),
                            rid: w.rid.clone(),
                            followers: w.followers.clone(),
                        });
                    }
                    // Spent, and rested long enough: a new set of restarts,
                    // like Pacemaker's failure-timeout. Never a verdict
                    // that needs a human, never a tight loop.
                    Step::Exhausted
                        if rest(self.resting.get(&key).copied(), v.now) == Rest::Over =>
                    {
                        if let Some(m) = mem.restarts.get_mut(name) {
                            m.remove(&w.rid);
                        }
                        if let Some(r) = self.resting.get_mut(&key) {
                            r.until = None;
                        }
                        dirty = true;
                        self.said.remove(&key);
                        out.push(Command::Log(
                            Level::Info,
                            format!(
                                "{name}: {} still down: {} restart(s) again",
                                w.rid, w.restart
                            ),
                        ));
                        continue;
                    }
                    _ if self.said.get(&key) == Some(&step) => continue,
                    Step::Exhausted => {
                        let Rest::Begin { rests, until } =
                            rest(self.resting.get(&key).copied(), v.now)
                        else {
                            continue;
                        };
                        let state = Resting {
                            until: Some(until),
                            rests,
                        };
                        self.resting.insert(key.clone(), state);
                        out.push(Command::Log(Level::Warn, format!(
                            "{name}: {} down, restarts exhausted ({count}/{}): left down for {}s (monitor is off)",
                            w.rid,
                            w.restart,
                            until.duration_since(v.now).as_secs()
                        )));
                    }
                    Step::WouldAct => out.push(Command::Log(Level::Warn, format!(
                        "{name}: {} down, restarts exhausted: would {} but no other node can run it",
                        w.rid,
                        s.monitor_action.as_str()
                    ))),
                    Step::MonitorAction => {
                        monitor(mem, name, &w.rid, s.monitor_action, v.wall, &mut out);
                    }
                }
                self.said.insert(key, step.clone());
                if matches!(step, Step::Restart { .. } | Step::MonitorAction) {
                    break;
                }
            }
        }
        if dirty {
            out.push(Command::Save);
        }
        out
    }
}

/// The monitor action: `crash` and `reboot` end the node (the shell's
/// guarded path; when refused or failed, what follows still runs), then
/// the service moves away: this node goes out of the placement for a
/// start failure's back-off (the peers' placement skips it and takes the
/// service over, and this node may run it again later, with no operator
/// needed), and the instance is stopped. 1.9 froze the instance for good,
/// which left a frozen instance nobody asked for and one node less for the
/// next failover.
fn monitor(
    mem: &mut Memory,
    name: &str,
    rid: &str,
    what: SplitAction,
    wall: f64,
    out: &mut Vec<Command>,
) {
    out.push(Command::Log(
        Level::Warn,
        format!(
            "{name}: {rid} down, restarts exhausted: monitor_action {}",
            what.as_str()
        ),
    ));
    out.push(Command::MonitorAction {
        svc: name.to_string(),
        rid: rid.to_string(),
        action: what,
    });
    let reason = format!("{rid} down, restarts spent");
    let f = super::failures::record(mem.start_failed.get(name), wall, &reason);
    out.push(Command::Log(
        Level::Warn,
        format!(
            "{name}: {rid} monitor_action: stopping here, out of the placement for {}s",
            f.retry_in(wall)
        ),
    ));
    mem.start_failed.insert(name.to_string(), f);
    out.push(Command::Save);
    out.push(Command::Smon(name.to_string(), Smon::StartFailed));
    out.push(Command::StopHere {
        svc: name.to_string(),
        why: format!("{name}: {rid} monitor_action"),
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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
            ..ServiceData::sample(&["node1", "node2"])
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
        let peers = |v: Value| -> BTreeMap<String, PeerData> {
            [("node2".to_string(), PeerData::from_dataset(v))].into()
        };
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
}
