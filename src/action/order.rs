//! A manual start, stop, freeze, thaw or switch of an orchestrated service
//! is an order to the cluster (1.9 §3.5), not only to this node.
//!
//! The local part runs here, with its output on the terminal: a stop
//! freezes the instance first, so that no daemon starts it again, then
//! stops it; a start thaws it, then starts it here unless it already runs
//! on another node. The order then goes to the local agent daemon, which
//! carries it to every node (daemon/expect.rs); a stop waits until no node
//! reports the service up. `switch --to node` has no local part: the
//! daemons stop it where it runs and start it on that node (a `placed@node`
//! order), and the command waits for it; without a running daemon it is
//! the stop here and start there over ssh of a service nobody orchestrates.
//! Without a running daemon only the local part is done. The daemon's own
//! actions run with `--cluster` and are not orders.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Action, Env, FAILED, OK, freeze};
use crate::daemon::lsnr;
use crate::log::Logger;

/// How long a stop waits for the other nodes to stop their instance.
const STOP_WAIT: Duration = Duration::from_secs(120);

pub fn is_order(orchestrate: &str, cluster: bool, action: Action) -> bool {
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

/// The local part before the action; `Some(code)` ends the action here.
pub fn before(
    env: &Env,
    name: &str,
    nodes: &[String],
    action: Action,
    log: &Logger,
) -> Option<i32> {
    match action {
        Action::Switch => return switch(env, name, nodes, log),
        Action::Stop => {
            if freeze::freeze(env.paths, name, log) != OK {
                return Some(FAILED);
            }
            log.info("frozen: no agent daemon will start it again until it is started or thawed");
        }
        Action::Start | Action::Restart => {
            if freeze::thaw(env.paths, name, log) != OK {
                return Some(FAILED);
            }
            log.info("thawed: the agent daemon may fail it over again");
            let elsewhere = up_elsewhere(env, name);
            if action == Action::Start && !elsewhere.is_empty() {
                log.info(format!(
                    "already up on {}: not started here",
                    elsewhere.join(", ")
                ));
                tell(env, name, "started", log);
                return Some(OK);
            }
        }
        _ => {}
    }
    None
}

/// After the local action: the order to the daemon, and for a stop the
/// wait for every node.
pub fn after(env: &Env, name: &str, action: Action, code: i32, log: &Logger) -> i32 {
    if code != OK {
        return code;
    }
    if action == Action::Stop && (!env.opts.rids.is_empty() || !env.opts.tags.is_empty()) {
        // `stop --rid app`: the administrator wants that resource down,
        // not the service stopped everywhere. The freeze done before is
        // what keeps the daemons from restarting it or failing over.
        log.info("only part of the service was stopped: no cluster-wide order");
        return code;
    }
    let target = match action {
        Action::Stop => "stopped",
        Action::Start | Action::Restart => "started",
        Action::Freeze => "frozen",
        Action::Thaw => "thawed",
        _ => return code,
    };
    if tell(env, name, target, log) && action == Action::Stop {
        return wait_stopped(env, name, log);
    }
    code
}

/// Hands the order to the local daemon; false when none runs.
fn tell(env: &Env, name: &str, target: &str, log: &Logger) -> bool {
    let req = json!({
        "action": "set_service_monitor",
        "options": {"svcname": name, "global_expect": target},
    });
    match lsnr::ask(env.paths, &req) {
        Some(v) if v["status"] == 0 => {
            log.info(format!(
                "cluster-wide order '{target}' given to the agent daemon"
            ));
            true
        }
        Some(v) => {
            log.warn(format!(
                "the agent daemon refused the cluster-wide order '{target}': {}",
                v["error"].as_str().unwrap_or("no reason given")
            ));
            false
        }
        None => false,
    }
}

/// The other nodes where the daemon sees the service up.
fn up_elsewhere(env: &Env, name: &str) -> Vec<String> {
    let mut up = up_on(env, name);
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
    lsnr::request(env.paths, "daemon_status")?;
    if !tell(env, name, &format!("placed@{to}"), log) {
        return Some(FAILED);
    }
    let deadline = Instant::now() + STOP_WAIT;
    loop {
        let up = up_on(env, name);
        if up == [to.as_str()] {
            log.info(format!("switched to {to}"));
            return Some(OK);
        }
        if Instant::now() >= deadline {
            log.error(format!(
                "not up on {to} after {} s (up on: {}): see the logs there",
                STOP_WAIT.as_secs(),
                if up.is_empty() {
                    "none".to_string()
                } else {
                    up.join(", ")
                }
            ));
            return Some(FAILED);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The nodes where the local daemon sees the service up, this one included.
fn up_on(env: &Env, name: &str) -> Vec<String> {
    let Some(st) = lsnr::request(env.paths, "daemon_status") else {
        return Vec::new();
    };
    st["data"]["nodes"]
        .as_object()
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
        .unwrap_or_default()
}

fn wait_stopped(env: &Env, name: &str, log: &Logger) -> i32 {
    let deadline = Instant::now() + STOP_WAIT;
    let mut waited = false;
    loop {
        let up = up_elsewhere(env, name);
        if up.is_empty() {
            if waited {
                log.info("stopped on every node");
            }
            return OK;
        }
        if Instant::now() >= deadline {
            log.error(format!(
                "still up on {} after {} s: see the logs there",
                up.join(", "),
                STOP_WAIT.as_secs()
            ));
            return FAILED;
        }
        if !waited {
            log.info(format!("waiting for {} to stop it", up.join(", ")));
            waited = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
