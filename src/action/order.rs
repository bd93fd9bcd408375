//! A manual start, stop, freeze, thaw or switch of an orchestrated service
//! is an order to the cluster (docs/orchestration.md, "Orders typed by an
//! administrator"), not only to this node.
//!
//! The order goes first to the local agent daemon, which keeps it on disk
//! before it answers; then the local part runs here, with its output on
//! the terminal: a stop freezes the instance first, so that no daemon
//! starts it again, then stops it; a start thaws it, then starts it here
//! unless it already runs on another node or another node comes first in
//! its placement (the daemons start it there: two starts typed at once on
//! two nodes must not both start it). The daemon carries the order to
//! every node (daemon/orchestration/orders.rs); a stop waits until no node reports the
//! service up. `switch --to node` has no local part: the daemons stop it
//! where it runs and start it on that node (a `placed@node` order), and the
//! command waits for it; without a running daemon it is the stop here and
//! start there over ssh of a service nobody orchestrates. Without a running
//! daemon only the local part is done. The daemon's own actions run with
//! `--cluster` and are not orders.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Action, Env, FAILED, OK, freeze};
use crate::client;
use crate::log::Logger;
use crate::order::Order;

/// How long a stop waits for the other nodes to stop their instance.
const STOP_WAIT: Duration = Duration::from_secs(120);
/// An order seen reached while what it asked is not done, this long: given up.
const GIVEN_UP_AFTER: Duration = Duration::from_secs(3);

pub(super) fn is_order(orchestrate: &str, cluster: bool, action: Action) -> bool {
    orchestrate != "no"
        && !cluster
        && matches!(
            action,
            Action::Start
                | Action::Stop
                | Action::Restart
                | Action::Freeze
                | Action::Thaw
                | Action::Switch
        )
}

/// The cluster-wide target an action orders, None for none: a `stop
/// --rid app` wants that resource down, not the service stopped
/// everywhere (the freeze done before keeps the daemons from restarting
/// it or failing over).
fn target(env: &Env, action: Action) -> Option<&'static str> {
    let partial = !env.opts.rids.is_empty() || !env.opts.tags.is_empty();
    match action {
        Action::Stop if partial => None,
        Action::Stop => Some("stopped"),
        Action::Start | Action::Restart => Some("started"),
        Action::Freeze => Some("frozen"),
        Action::Thaw => Some("thawed"),
        _ => None,
    }
}

/// Before the action: the order to the daemon first, then the local part.
/// The daemon keeps the order on disk before it answers (daemon/inbox.rs),
/// so that no local part (a thaw, a freeze) outlives an order lost with
/// a node that died just after it was typed. `Err(code)` ends the action
/// here; `Ok(at)` is the time of the order given, None when no daemon
/// took one.
pub(super) fn before(
    env: &Env,
    name: &str,
    nodes: &[String],
    action: Action,
    log: &Logger,
) -> Result<Option<f64>, i32> {
    if action == Action::Switch {
        return match switch(env, name, nodes, log) {
            Some(code) => Err(code),
            None => Ok(None),
        };
    }
    // Where it runs and who leads, read before the order thaws anything.
    let (elsewhere, leader) = match action {
        Action::Start => (up_elsewhere(env, name), start_leader(env, name)),
        _ => (Vec::new(), None),
    };
    let at = target(env, action).and_then(|t| tell(env, name, t, log));
    match action {
        Action::Stop => {
            if freeze::freeze(env.paths, name, log) != OK {
                return Err(FAILED);
            }
            log.info("frozen: no agent daemon will start it again until it is started or thawed");
        }
        Action::Start | Action::Restart => {
            if freeze::thaw(env.paths, name, log) != OK {
                return Err(FAILED);
            }
            log.info("thawed: the agent daemon may fail it over again");
            if !elsewhere.is_empty() {
                log.info(format!(
                    "already up on {}: not started here",
                    elsewhere.join(", ")
                ));
                return Err(OK);
            }
            // Only the placement leader starts it, here or through its
            // daemon: two starts typed at once on two nodes would each
            // find the service down and its address free, and both start.
            if let Some(leader) = leader.filter(|l| l != env.nodename) {
                log.info(format!(
                    "{leader} comes first in its placement: the agent daemon starts it there, not here"
                ));
                return Err(OK);
            }
        }
        _ => {}
    }
    Ok(at)
}

/// After the local action: for a stop ordered cluster-wide, the wait for
/// every node.
pub(super) fn after(
    env: &Env,
    name: &str,
    action: Action,
    code: i32,
    at: Option<f64>,
    log: &Logger,
) -> i32 {
    if code != OK {
        return code;
    }
    if action == Action::Stop && target(env, action).is_none() {
        log.info("only part of the service was stopped: no cluster-wide order");
        return code;
    }
    match at {
        Some(at) if action == Action::Stop => wait_stopped(env, name, at, log),
        _ => code,
    }
}

/// Hands the order to the local daemon: the time it gave the order, None
/// when no daemon runs or it refused.
fn tell(env: &Env, name: &str, target: &str, log: &Logger) -> Option<f64> {
    let req = json!({
        "action": "set_service_monitor",
        "options": {"svcname": name, "global_expect": target},
    });
    match client::ask(env.paths, &req) {
        Some(v) if v["status"] == 0 => {
            log.info(format!(
                "cluster-wide order '{target}' given to the agent daemon"
            ));
            Some(v["data"]["at"].as_f64().unwrap_or(0.0))
        }
        Some(v) => {
            log.warn(format!(
                "the agent daemon refused the cluster-wide order '{target}': {}",
                v["error"].as_str().unwrap_or("no reason given")
            ));
            None
        }
        None => None,
    }
}

/// What the local daemon shows of the service: the nodes where it is up,
/// and the order this node holds for it.
struct Seen {
    up: Vec<String>,
    order: Option<Order>,
    /// This node saw its order reached, or given up (a switch whose
    /// target failed to start the service).
    reached: bool,
}

fn look(env: &Env, name: &str) -> Seen {
    let Some(st) = client::request(env.paths, "daemon_status") else {
        return Seen {
            up: Vec::new(),
            order: None,
            reached: false,
        };
    };
    let nodes = st["data"]["nodes"].as_object();
    let up = nodes
        .map(|nodes| {
            nodes
                .iter()
                .filter(|(_, d)| {
                    matches!(
                        d["services"][name]["avail"].as_str(),
                        Some("up" | "warn" | "stdby up")
                    )
                })
                .map(|(n, _)| n.clone())
                .collect()
        })
        .unwrap_or_default();
    let mine = &st["data"]["nodes"][env.nodename]["services"][name];
    let order = Order::from_json(mine);
    let reached = mine["global_expect_reached"] == true;
    Seen { up, order, reached }
}

/// Waits until `done` holds over the nodes where the service is up, for
/// the order given at `at`; gives up when a newer order replaced it (an
/// administrator on another node changed their mind: theirs wins) or
/// after STOP_WAIT. `waiting` says what is awaited, once.
fn wait(
    env: &Env,
    name: &str,
    at: f64,
    done: impl Fn(&[String]) -> bool,
    waiting: impl Fn(&[String]) -> String,
    log: &Logger,
) -> i32 {
    let deadline = Instant::now() + STOP_WAIT;
    let mut said = false;
    let mut over_since: Option<Instant> = None;
    loop {
        let seen = look(env, name);
        if done(&seen.up) {
            return OK;
        }
        // Reached yet not done: the daemons gave the order up (its target
        // failed to start the service). Looked at for a few beats, so that
        // a status a beat behind the mark is not taken for it.
        let over = seen.reached && seen.order.as_ref().is_some_and(|o| o.at == at);
        over_since = if over {
            over_since.or(Some(Instant::now()))
        } else {
            None
        };
        if over_since.is_some_and(|t| t.elapsed() >= GIVEN_UP_AFTER) {
            log.error(format!(
                "{}: the cluster-wide order was given up (a start failed): see the node logs",
                waiting(&seen.up)
            ));
            return FAILED;
        }
        if let Some(o) = seen.order.filter(|o| o.at > at) {
            log.error(format!(
                "replaced by the newer cluster-wide order '{}' {}: not waiting any more",
                o.target.as_string(),
                o.given()
            ));
            return FAILED;
        }
        if Instant::now() >= deadline {
            log.error(format!(
                "{} after {} s: see the logs there",
                waiting(&seen.up),
                STOP_WAIT.as_secs()
            ));
            return FAILED;
        }
        if !said {
            log.info(waiting(&seen.up));
            said = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Where the daemons will start `name` once its order thaws every
/// instance: the placement leader (src/placement.rs) among the nodes
/// this daemon hears, their instances' frozen flags set aside. None
/// without a daemon, or with no candidate.
fn start_leader(env: &Env, name: &str) -> Option<String> {
    let st = client::request(env.paths, "daemon_status")?;
    let datasets = st["data"]["nodes"].as_object()?;
    let svc = &datasets.get(env.nodename)?["services"][name];
    let nodes: Vec<String> = svc["nodes"]
        .as_array()?
        .iter()
        .filter_map(|n| n.as_str().map(str::to_lowercase))
        .collect();
    let placement = svc["placement"]
        .as_str()
        .unwrap_or(crate::placement::NODES_ORDER);
    use crate::placement::{Instances, leader};
    leader(name, &nodes, placement, Instances::Thawing, |n| {
        datasets.get(n)
    })
    .map(String::from)
}

/// The other nodes where the daemon sees the service up.
fn up_elsewhere(env: &Env, name: &str) -> Vec<String> {
    let mut up = look(env, name).up;
    up.retain(|n| n != env.nodename);
    up
}

/// `switch --to <node>` through the daemons; None when no daemon runs here
/// (the caller then stops here and starts there over ssh).
fn switch(env: &Env, name: &str, nodes: &[String], log: &Logger) -> Option<i32> {
    let to = env.opts.to.as_deref().unwrap_or("").to_lowercase();
    if to.is_empty() || !nodes.contains(&to) {
        log.error(format!("destination node {to} is not in service node list"));
        return Some(FAILED);
    }
    client::request(env.paths, "daemon_status")?;
    let Some(at) = tell(env, name, &format!("placed@{to}"), log) else {
        return Some(FAILED);
    };
    let code = wait(
        env,
        name,
        at,
        |up| up == [to.as_str()],
        |up| match up {
            [] => format!("waiting for {to} to start it"),
            _ => format!(
                "waiting for {} to stop it and {to} to start it",
                up.join(", ")
            ),
        },
        log,
    );
    if code == OK {
        log.info(format!("switched to {to}"));
    }
    Some(code)
}

fn wait_stopped(env: &Env, name: &str, at: f64, log: &Logger) -> i32 {
    let me = env.nodename;
    let code = wait(
        env,
        name,
        at,
        |up| up.iter().all(|n| n == me),
        |up| {
            let others: Vec<&str> = up.iter().map(String::as_str).filter(|n| *n != me).collect();
            format!("waiting for {} to stop it", others.join(", "))
        },
        log,
    );
    if code == OK {
        log.info("stopped on every node");
    }
    code
}
