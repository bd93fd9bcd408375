//! Quorum (docs/behaviour.md, "Quorum"), the third proof that a silent node is
//! down, after the disk heartbeat and stonith (shell.rs).
//!
//! Opt-in like 1.9: `[cluster] quorum = true`. When the supervisor finds
//! peers lost, this thread counts votes — off the supervisor thread, since
//! asking arbitrators takes up to their timeout:
//!
//! - total = `[cluster] nodes` + `[arbitrator#N]` sections;
//! - votes = this node + the peers still heard + the arbitrators that
//!   answer `ping` within their timeout (all asked at once).
//!
//! More than half: this node holds quorum and the lost peers are proven
//! down once [`grace`] has passed, the time the minority needs to find
//! the same split and end itself (split.rs). Half or less: this node is
//! the minority and runs `[node] split_action` at once. A frozen node
//! neither votes nor acts (1.9: an operator at work on it).
//!
//! The majority may only count on a minority that ends itself. Each node
//! therefore advertises `fences_itself` in its heartbeat dataset (quorum
//! on, split action crash or reboot, not frozen), and a lost peer whose
//! last dataset did not say so is never proven down by quorum: 1.9 took
//! over from a frozen or `disabled` node and ran the service twice.
//!
//! Arbitrators: `[arbitrator#N] name` (host), `secret` (its own cluster
//! secret, from which both sides derive a ping-only key: holding it lets
//! a node ping the arbitrator and nothing else, peer.rs), `cluster` (its
//! `[cluster] name`, default `default`), `port` (1214) and `timeout`.
//! Timeout 1 s, not 1.9's 5 s: an arbitrator is a listener answering from
//! memory on a LAN or a third site, a few milliseconds away; and the
//! timeout enters the grace twice, so it delays every takeover. om3
//! dropped the keyword after users set it above the start delay; here the
//! grace is derived from it, so any value stays safe, only slower.
//! Their status is also refreshed every 60 s for svcmon (1.9).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::json;

use super::core::{Command, Level};
use super::quorum_core;
use super::split::{self, SplitAction};
use crate::action::Env;
use crate::config::node::NodeConfig;
use crate::daemon::hb::{self, HbConf};
use crate::daemon::node_conf::InForce;
use crate::daemon::peer::{self, Asker};
use crate::daemon::state::Shared;
use crate::daemon::wire::Key;
use crate::log::Logger;

/// How often the arbitrators' status is refreshed for display (1.9).
pub(crate) const DISPLAY_REFRESH: Duration = Duration::from_secs(60);
/// How soon a node.conf change reaches what this node advertises.
const CONF_REFRESH: Duration = Duration::from_secs(1);
/// Scheduling slack on both sides: the supervisor's 200 ms prune tick on
/// each node, thread wake-ups, a loaded CPU.
pub(crate) const GRACE_MARGIN: Duration = Duration::from_secs(1);

pub(crate) use crate::config::node::Arbitrator;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QuorumConf {
    pub enabled: bool,
    pub arbitrators: Vec<Arbitrator>,
    pub split_action: SplitAction,
    /// What was wrong in node.conf, logged by the caller.
    pub errors: Vec<String>,
}

/// The quorum part of node.conf (config/node.rs parsed it, once).
pub(crate) fn of(conf: &NodeConfig) -> QuorumConf {
    QuorumConf {
        enabled: conf.cluster.quorum,
        arbitrators: conf.arbitrators.clone(),
        split_action: conf.node.split_action,
        errors: conf.problems.iter().map(|p| p.to_string()).collect(),
    }
}

/// `of` node.conf's text (tests, the fuzzer). A bad value is a problem
/// and gets its default; an arbitrator without name or secret is
/// dropped: it could never vote, and counting it would only lower the
/// share of the votes the other members give.
#[cfg(test)]
pub(crate) fn parse_conf(text: &str) -> QuorumConf {
    of(&NodeConfig::parse(std::path::Path::new("node.conf"), text))
}

/// How long after winning the vote the lost peers count as proven down.
///
/// The minority loses our heartbeats about when we lose theirs: both sides
/// stop hearing each other at the cut and wait the same hb timeout, but
/// each counts from the last beat it received, and beats are an interval
/// apart, so it may detect up to one (max) hb interval after us. Then it
/// asks its arbitrators, which takes at most the (max) arbitrator timeout,
/// and crashes or reboots at once. Our own vote took up to one arbitrator
/// timeout too, but the grace is counted from its end, so that counts
/// only in our favour. The second arbitrator timeout: the minority's
/// quorum thread may be busy refreshing the arbitrators' display status
/// (up to one timeout) when the loss arrives. [`GRACE_MARGIN`] covers what
/// the estimate leaves out: the prune ticks, a loaded CPU, a kernel slow
/// to die. Defaults (1 s interval, 1 s arbitrator timeout):
/// 2 × 1 + 1 + 1 = 4 s. Without arbitrators (then only a majority of
/// nodes can win, e.g. 2 of 3) the arbitrator terms vanish.
pub(crate) fn grace(arbitrators: &[Arbitrator], hbs: &[HbConf]) -> Duration {
    let arb = arbitrators
        .iter()
        .map(|a| a.timeout)
        .max()
        .unwrap_or_default();
    let interval = hbs
        .iter()
        .map(|h| h.interval)
        .max()
        .unwrap_or(hb::DEFAULT_INTERVAL);
    arb * 2 + interval + GRACE_MARGIN
}

/// Asks every arbitrator at once: by name, in node.conf order, Ok for
/// those that answered `ping` within their timeout, else the reason.
pub(crate) fn ping_all(
    arbitrators: &[Arbitrator],
    nodename: &str,
) -> Vec<(String, Result<(), String>)> {
    std::thread::scope(|s| {
        let asks: Vec<_> = arbitrators
            .iter()
            .map(|a| (a.name.clone(), s.spawn(move || ping(a, nodename))))
            .collect();
        asks.into_iter()
            .map(|(name, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err("the ping thread panicked".into()));
                (name, r)
            })
            .collect()
    })
}

fn ping(a: &Arbitrator, nodename: &str) -> Result<(), String> {
    let deadline = crate::config::duration::deadline(Instant::now(), a.timeout);
    let addr = peer::resolve(&a.name, a.port).map_err(|e| e.to_string())?;
    // The ping-only key: the arbitrator answers nothing else under it,
    // and none of its cluster's heartbeats or requests open with it.
    let key = Key::arbitrator(&a.secret);
    let asker = Asker {
        nodename,
        cluster: &a.cluster,
        key: &key,
        asked: peer::Asked::Arbitrator,
    };
    // Resolution may have eaten part of the budget.
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(format!("{}: no answer within {:?}", a.name, a.timeout));
    }
    peer::request(&asker, addr, "ping", json!({}), left)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The quorum thread: a vote per batch of lost peers from the supervisor,
/// and the arbitrators' display status every [`DISPLAY_REFRESH`].
pub(crate) fn run(
    env: &Env,
    node_conf: &InForce,
    shared: Arc<Shared>,
    lost: Receiver<Vec<String>>,
    log: Logger,
) {
    let mut shown: Option<Instant> = None;
    let mut read: Option<Instant> = None;
    let mut conf = of(&node_conf.get());
    let mut reported: Vec<String> = Vec::new();
    while !shared.stopping() {
        match lost.recv_timeout(Duration::from_millis(200)) {
            Ok(mut nodes) => {
                // Peers lost in the same few ticks are one split: one vote.
                while let Ok(more) = lost.try_recv() {
                    nodes.extend(more);
                }
                conf = of(&node_conf.get());
                vote(env, &shared, &conf, &nodes, &log);
                shown = Some(Instant::now());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if read.is_none_or(|t| t.elapsed() >= CONF_REFRESH) {
            conf = of(&node_conf.get());
            read = Some(Instant::now());
            if conf.errors != reported {
                for e in &conf.errors {
                    log.error(format!("node.conf: {e}"));
                }
                reported = conf.errors.clone();
            }
            shared
                .fences_itself
                .store(fences_itself(&conf), Ordering::Relaxed);
        }
        if shown.is_none_or(|t| t.elapsed() >= DISPLAY_REFRESH) {
            let answers = ping_all(&conf.arbitrators, env.nodename);
            show(&shared, &answers);
            shown = Some(Instant::now());
        }
    }
}

/// Whether this node ends itself when it loses quorum: then, and only
/// then, may the other side count it down by quorum. freezestop does not
/// count: its stops are not bounded by the other side's grace.
pub(crate) fn fences_itself(conf: &QuorumConf) -> bool {
    conf.enabled && matches!(conf.split_action, SplitAction::Crash | SplitAction::Reboot)
}

fn show(shared: &Shared, answers: &[(String, Result<(), String>)]) {
    if let Ok(mut a) = shared.arbitrators.lock() {
        *a = answers
            .iter()
            .map(|(n, r)| (n.clone(), r.is_ok()))
            .collect();
    }
}

fn vote(env: &Env, shared: &Shared, conf: &QuorumConf, lost: &[String], log: &Logger) {
    let frozen = env.paths.frozen_node().exists();
    if let Some(cmds) = quorum_core::no_vote(conf.enabled, frozen, lost) {
        for c in cmds {
            carry_out(env, shared, c, log);
        }
        return;
    }
    let answers = ping_all(&conf.arbitrators, env.nodename);
    show(shared, &answers);
    let heard: BTreeSet<String> = shared
        .peers
        .lock()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let nodes = shared
        .cluster_nodes
        .lock()
        .map(|n| n.clone())
        .unwrap_or_default();
    let hbs = shared.hb_conf.lock().map(|h| h.clone()).unwrap_or_default();
    let fences_itself = shared
        .lost
        .lock()
        .map(|l| {
            l.iter()
                .map(|(n, l)| (n.clone(), l.fences_itself))
                .collect()
        })
        .unwrap_or_default();
    let ballot = quorum_core::Ballot {
        nodes,
        heard,
        lost: lost.to_vec(),
        fences_itself,
        answers,
        split_action: conf.split_action,
        grace: grace(&conf.arbitrators, &hbs),
        now: Instant::now(),
    };
    for c in quorum_core::verdict(&ballot) {
        carry_out(env, shared, c, log);
    }
}

/// Runs one command of the quorum decisions (the orchestrator's shell
/// routes them here too).
pub(crate) fn carry_out(env: &Env, shared: &Shared, c: Command, log: &Logger) {
    match c {
        Command::QuorumDown { node, at } => {
            if let Ok(mut q) = shared.quorum_down.lock() {
                q.insert(node, at);
            }
        }
        Command::SplitAction(what) => split::act(env, shared, what, log),
        Command::Log(Level::Info, m) => log.info(m),
        Command::Log(Level::Warn, m) => log.warn(m),
        Command::Log(Level::Error, m) => log.error(m),
        other => log.error(format!("quorum: not a quorum command: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::node::DEFAULT_ARBITRATOR_TIMEOUT;
    use crate::daemon::orchestration::quorum_core::{Vote, count};

    fn nodes(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn heard(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn two_nodes_and_an_arbitrator() {
        let cluster = nodes(&["node1", "node2"]);
        // node2 cut from node1 but reaching the arbitrator: 2/3 wins.
        let v = count(&cluster, &heard(&[]), 1, 1);
        assert_eq!(v, Vote { votes: 2, total: 3 });
        assert!(v.holds());
        // node1 cut from both: 1/3 loses.
        let v = count(&cluster, &heard(&[]), 1, 0);
        assert_eq!(v, Vote { votes: 1, total: 3 });
        assert!(!v.holds());
    }

    #[test]
    fn two_nodes_alone_can_never_win_a_split() {
        let v = count(&nodes(&["node1", "node2"]), &heard(&[]), 0, 0);
        assert_eq!(v, Vote { votes: 1, total: 2 });
        assert!(!v.holds(), "half is not a majority");
    }

    #[test]
    fn three_nodes_the_pair_wins() {
        let cluster = nodes(&["a", "b", "c"]);
        assert!(count(&cluster, &heard(&["b"]), 0, 0).holds());
        assert!(!count(&cluster, &heard(&[]), 0, 0).holds());
        // A peer heard but not a cluster node (stale config) gives no vote.
        assert!(!count(&cluster, &heard(&["x"]), 0, 0).holds());
    }

    fn arb(timeout: u64) -> Arbitrator {
        Arbitrator {
            id: "arbitrator#1".into(),
            name: "node3".into(),
            secret: "s".into(),
            cluster: "default".into(),
            port: 1214,
            timeout: Duration::from_secs(timeout),
        }
    }

    fn hb_conf(interval: u64) -> HbConf {
        HbConf {
            id: "hb#1".into(),
            medium: hb::HbMedium::Unicast,
            port: 10000,
            dev: None,
            addr: None,
            intf: None,
            interval: Duration::from_secs(interval),
            timeout: Duration::from_secs(3 * interval),
        }
    }

    #[test]
    fn grace_covers_detection_arbitration_and_margin() {
        // Defaults: 2 x 1 s + 1 s + 1 s.
        assert_eq!(grace(&[arb(1)], &[hb_conf(1)]), Duration::from_secs(4));
        // The slowest arbitrator and the slowest heartbeat count.
        assert_eq!(
            grace(&[arb(1), arb(5)], &[hb_conf(1), hb_conf(5)]),
            Duration::from_secs(2 * 5 + 5 + 1)
        );
        // No arbitrator, no heartbeat section: interval default + margin.
        assert_eq!(grace(&[], &[]), Duration::from_secs(2));
    }

    #[test]
    fn only_crash_and_reboot_with_quorum_on_fence() {
        let on = |action: &str| {
            parse_conf(&format!(
                "[cluster]\nquorum = true\n[node]\nsplit_action = {action}\n"
            ))
        };
        assert!(fences_itself(&on("crash")));
        assert!(fences_itself(&on("reboot")));
        assert!(!fences_itself(&on("freezestop")));
        assert!(!fences_itself(&on("disabled")));
        assert!(!fences_itself(&parse_conf(
            "[node]\nsplit_action = crash\n"
        )));
    }

    #[test]
    fn conf_defaults_and_values() {
        let c = parse_conf("");
        assert!(!c.enabled);
        assert_eq!(c.split_action, SplitAction::Crash);
        assert!(c.arbitrators.is_empty() && c.errors.is_empty());

        let c = parse_conf(
            "[cluster]\nquorum = true\n[node]\nsplit_action = freezestop\n\
             [arbitrator#1]\nname = Node3\nsecret = 0123456789abcdef0123456789abcdef\n\
             [arbitrator#2]\nname = arb2\nsecret = fedcba9876543210fedcba9876543210\ncluster = c2\nport = 1300\ntimeout = 2.5s\n",
        );
        assert!(c.enabled, "{c:?}");
        assert_eq!(c.split_action, SplitAction::FreezeStop);
        assert!(c.errors.is_empty(), "{c:?}");
        assert_eq!(
            c.arbitrators,
            vec![
                Arbitrator {
                    id: "arbitrator#1".into(),
                    name: "node3".into(),
                    secret: "0123456789abcdef0123456789abcdef".into(),
                    cluster: "default".into(),
                    port: 1214,
                    timeout: Duration::from_secs(1),
                },
                Arbitrator {
                    id: "arbitrator#2".into(),
                    name: "arb2".into(),
                    secret: "fedcba9876543210fedcba9876543210".into(),
                    cluster: "c2".into(),
                    port: 1300,
                    timeout: Duration::from_millis(2500),
                },
            ]
        );
    }

    #[test]
    fn bad_conf_values_are_reported_and_safe() {
        let c = parse_conf(
            "[cluster]\nquorum = maybe\n[node]\nsplit_action = suicide\n\
             [arbitrator#1]\nname = node3\n\
             [arbitrator#2]\nname = a2\nsecret = x\nport = http\ntimeout = 0\n",
        );
        assert!(!c.enabled);
        assert_eq!(c.split_action, SplitAction::Crash);
        assert_eq!(c.arbitrators.len(), 1, "{c:?}");
        assert_eq!(c.arbitrators[0].port, 1214);
        assert_eq!(c.arbitrators[0].timeout, DEFAULT_ARBITRATOR_TIMEOUT);
        assert_eq!(c.errors.len(), 6, "{:#?}", c.errors);
        assert!(
            c.errors[2].contains("[arbitrator#1] secret: an arbitrator needs secret"),
            "{:#?}",
            c.errors
        );
    }

    #[test]
    fn an_arbitrator_nobody_runs_does_not_vote_and_does_not_hang() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let mut a = arb(1);
        a.name = "127.0.0.1".into();
        a.port = port;
        let t = Instant::now();
        let r = ping_all(&[a], "node1");
        assert!(r.len() == 1 && r[0].1.is_err(), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn a_silent_arbitrator_is_bounded_by_its_timeout() {
        // Accepts but never answers: the vote must not wait past the timeout.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut a = arb(1);
        a.name = "127.0.0.1".into();
        a.port = port;
        a.timeout = Duration::from_millis(300);
        let t = Instant::now();
        let r = ping_all(&[a.clone(), a], "node1");
        let took = t.elapsed();
        drop(l);
        assert!(r.len() == 2 && r.iter().all(|(_, a)| a.is_err()), "{r:?}");
        // In parallel: about one timeout, not two.
        assert!(took < Duration::from_millis(550), "{took:?}");
    }
}
