//! A deterministic simulation of the cluster, run by `cargo test --lib
//! sim`: N nodes (2–5) running the real decision core (core.rs, with
//! restart_core.rs and quorum_core.rs) on a simulated clock, through
//! thousands of seeded random scenarios of power losses, dead and hung
//! agents, network cuts and losses, disk faults, failing resources, apps
//! that die and are restarted, quorum with an arbitrator, node freezes and
//! cluster-wide orders typed on any node.
//!
//! Checked at every step (world.rs, `check`):
//! - safety: no service runs on two powered nodes at once;
//! - liveness: once an eligible node has been up and the cluster
//!   connected for [`world::LIVENESS_BOUND`], every `ha` service runs;
//! - convergence: by then every node holds the newest order, and every
//!   instance is frozen exactly when that order freezes it;
//! - no start failure holds a node out longer than the back-off;
//! - a node that lost its vote starts nothing; no resource is restarted
//!   more than N times in a row without a rest.
//!
//! A failing seed prints its shrunk event list and the trace of the run.
//! `SIM_SEED=<n> cargo test --lib sim` replays one seed (with its trace);
//! `SIM_SCENARIOS=<n>` sets how many random scenarios run.

pub(crate) mod rng;
mod world;

use rng::Rng;
use world::{Event, Scenario, Timed, Violation, World};

use super::split::SplitAction;
use crate::order::Target;

/// Random scenarios per `cargo test` run, unless SIM_SCENARIOS says.
const DEFAULT_SCENARIOS: u64 = 60;
/// Reruns spent shrinking a failing scenario.
const SHRINK_BUDGET: usize = 150;

/// The scenario of a seed.
pub(super) fn generate(seed: u64) -> Scenario {
    let mut r = Rng::new(seed);
    let nodes = 2 + r.below(4);
    let services = (0..=r.below(3))
        .map(|_| {
            let mut order: Vec<usize> = (0..nodes).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, r.below(i + 1));
            }
            (order, r.chance(0.5))
        })
        .collect::<Vec<_>>();
    let duration = 300.0;
    // Per service, an app with restarts and / or monitored, or none.
    let apps: Vec<(u32, bool)> = services
        .iter()
        .map(|_| {
            if r.chance(0.5) {
                (r.below(4) as u32, r.chance(0.5))
            } else {
                (0, false)
            }
        })
        .collect();
    let monitor_action = if r.chance(0.3) {
        SplitAction::Crash
    } else {
        SplitAction::FreezeStop
    };
    // Quorum in a quarter of the scenarios, then without a disk
    // heartbeat (it would hear across any network cut) nor stonith.
    let quorum = r.chance(0.25).then(|| {
        let action = match r.below(3) {
            0 => SplitAction::Crash,
            1 => SplitAction::Reboot,
            _ => SplitAction::FreezeStop,
        };
        (action, r.chance(0.6))
    });
    let stonith = quorum.is_none() && r.chance(0.25);
    let mut events = Vec::new();
    let node = |r: &mut Rng| r.below(nodes);
    for _ in 0..3 + r.below(10) {
        let at = (r.range(10.0, 200.0) * 10.0).round() / 10.0;
        let mut ev = |at: f64, ev: Event| events.push(Timed { at, ev });
        let s = r.below(services.len());
        match r.below(17) {
            0 => {
                let n = node(&mut r);
                ev(at, Event::PowerLoss(n));
                ev(at + r.range(5.0, 60.0), Event::PowerOn(n));
            }
            1 => {
                // Two nodes, 0–3 s apart.
                let (a, b) = (node(&mut r), node(&mut r));
                let d = r.range(0.0, 3.0);
                ev(at, Event::PowerLoss(a));
                ev(at + d, Event::PowerLoss(b));
                ev(at + r.range(10.0, 60.0), Event::PowerOn(a));
                ev(at + r.range(10.0, 60.0), Event::PowerOn(b));
            }
            // An agent started again during a partition never heard its
            // peers, so it never loses them nor votes: with quorum, a
            // known gap (`an_agent_restarted_during_a_partition_is_a_known_quorum_gap`).
            2 if quorum.is_none() => ev(at, Event::AgentKill(node(&mut r), r.range(0.1, 15.0))),
            2 => ev(at, Event::AgentHang(node(&mut r), r.range(0.5, 15.0))),
            3 => ev(at, Event::AgentHang(node(&mut r), r.range(0.5, 15.0))),
            // A cut between two nodes that a third still hears both of:
            // with quorum, a known gap (docs/orchestration.md, the
            // simulation; `a_cut_seen_by_a_third_node_is_a_known_quorum_gap`),
            // so quorum scenarios cut whole partitions (13) only.
            4 if quorum.is_none() => {
                let (a, b) = (node(&mut r), node(&mut r));
                if a != b {
                    ev(at, Event::Cut(a, b));
                    ev(at + r.range(0.5, 40.0), Event::Heal(a, b));
                }
            }
            5 => {
                let n = node(&mut r);
                ev(at, Event::DiskLoss(n));
                ev(at + r.range(0.5, 30.0), Event::DiskBack(n));
            }
            6 => {
                let n = node(&mut r);
                ev(at, Event::RxBroken(n));
                ev(at + r.range(0.5, 60.0), Event::RxFixed(n));
            }
            7 => {
                let n = node(&mut r);
                ev(at, Event::Break(s, n));
                ev(at + r.range(5.0, 90.0), Event::Fix(s, n));
            }
            8 => ev(at, Event::Crash(s, node(&mut r))),
            9 => ev(at, Event::AppCrash(s, node(&mut r))),
            10 => {
                let n = node(&mut r);
                ev(at, Event::AppBreak(s, n));
                ev(at + r.range(5.0, 90.0), Event::AppFix(s, n));
            }
            11 => {
                let n = node(&mut r);
                ev(at, Event::ArbCut(n));
                ev(at + r.range(5.0, 90.0), Event::ArbHeal(n));
            }
            // A node frozen between a cut and its noticing the loss is a
            // known gap with quorum
            // (`a_node_frozen_just_after_a_cut_is_a_known_quorum_gap`):
            // freezes with quorum are the named scenarios'.
            12 if quorum.is_none() => {
                let n = node(&mut r);
                ev(at, Event::NodeFreeze(n));
                ev(at + r.range(5.0, 90.0), Event::NodeThaw(n));
            }
            12 => ev(at, Event::AgentHang(node(&mut r), r.range(0.5, 15.0))),
            4 | 13 => {
                // A partition: one node cut from all the others.
                let n = node(&mut r);
                let back = at + r.range(5.0, 60.0);
                for m in (0..nodes).filter(|m| *m != n) {
                    ev(at, Event::Cut(n, m));
                    ev(back, Event::Heal(n, m));
                }
                // Its network lost: the arbitrator too. A partition
                // where both sides still reach the arbitrator is a known
                // gap (`both_sides_reaching_the_arbitrator_is_a_known_quorum_gap`).
                if quorum.is_some_and(|(_, arb)| arb) {
                    ev(at, Event::ArbCut(n));
                    ev(back, Event::ArbHeal(n));
                }
            }
            _ => {
                // Orders, alone or a few in quick succession.
                let mut t = at;
                // Sometimes all typed on one node, as an operator does.
                let one = r.chance(0.3).then(|| node(&mut r));
                for _ in 0..=r.below(3) {
                    let target = match r.below(5) {
                        0 => Target::Started,
                        1 => Target::Stopped,
                        2 => Target::Frozen,
                        3 => Target::Thawed,
                        _ => Target::Placed(format!("node{}", r.below(nodes) + 1)),
                    };
                    let on = one.unwrap_or_else(|| node(&mut r));
                    ev(t, Event::Order(on, s, target));
                    t += r.range(0.2, 3.0);
                }
            }
        }
    }
    // Most scenarios end thawed and started, so that liveness is checked.
    if r.chance(0.7) {
        let s = r.below(services.len());
        let at = 210.0;
        events.push(Timed {
            at,
            ev: Event::Order(r.below(nodes), s, Target::Started),
        });
    }
    Scenario {
        nodes,
        services,
        // Beats lost one way but not another make the same gap as a
        // cut a third node sees across: not with quorum.
        loss: if r.chance(0.3) && quorum.is_none() {
            r.range(0.0, 0.3)
        } else {
            0.0
        },
        delay: r.range(0.0, 0.5),
        duration,
        events,
        seed,
        stonith,
        apps,
        monitor_action,
        quorum,
        disk: quorum.is_none(),
    }
}

fn run(sc: &Scenario, trace: bool) -> (Result<world::Stats, Violation>, Vec<String>) {
    World::new(sc, trace).run()
}

/// Drops events while the scenario still fails the same way (the same
/// property, on the same nodes: dropping part of a partition must not
/// turn one failure into another), within a budget.
fn shrink(mut sc: Scenario) -> Scenario {
    let what = run(&sc, false).0.err().map(|v| v.what);
    let mut budget = SHRINK_BUDGET;
    let mut i = sc.events.len();
    while i > 0 && budget > 0 {
        i -= 1;
        let mut fewer = sc.clone();
        fewer.events.remove(i);
        budget -= 1;
        if run(&fewer, false).0.err().map(|v| v.what) == what {
            sc = fewer;
        }
    }
    sc
}

/// Everything a person needs to see a failure.
fn report(sc: &Scenario, v: &Violation) -> String {
    let (_, log) = run(sc, true);
    let mut out = format!(
        "seed {}: {} at {:.1}s\n{} nodes; services (nodes order, guarded): {:?}; apps (restart, monitor): {:?}, monitor_action {}; quorum (split action, arbitrator): {:?}; disk hb {}; loss {:.2}, delay {:.2}s; stonith {}\nevents (shrunk):\n",
        sc.seed,
        v.what,
        v.at,
        sc.nodes,
        sc.services,
        sc.apps,
        sc.monitor_action.as_str(),
        sc.quorum,
        sc.disk,
        sc.loss,
        sc.delay,
        sc.stonith
    );
    for e in &sc.events {
        out.push_str(&format!("  {e}\n"));
    }
    out.push_str("trace (last 80 lines):\n");
    for l in log
        .iter()
        .rev()
        .take(80)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        out.push_str(&format!("  {l}\n"));
    }
    out.push_str(&format!(
        "replay: SIM_SEED={} cargo test --lib sim\n",
        sc.seed
    ));
    out
}

/// Runs a scenario; on failure, shrinks it and panics with the report.
fn assert_holds(sc: Scenario) -> world::Stats {
    if let Ok(s) = run(&sc, false).0 {
        s
    } else {
        let small = shrink(sc.clone());
        let Err(v) = run(&small, false).0 else {
            unreachable!("shrinking keeps a failure")
        };
        panic!("{}", report(&small, &v));
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

#[test]
fn random_scenarios_keep_safety_liveness_and_convergence() {
    if let Some(seed) = env_u64("SIM_SEED") {
        let sc = generate(seed);
        let (res, log) = run(&sc, true);
        for l in &log {
            println!("{l}");
        }
        if let Err(v) = res {
            panic!("{}", report(&shrink(sc), &v));
        }
        return;
    }
    let n = env_u64("SIM_SCENARIOS").unwrap_or(DEFAULT_SCENARIOS);
    let first = env_u64("SIM_FIRST_SEED").unwrap_or(1);
    let t0 = std::time::Instant::now();
    let (mut hours, mut starts, mut checked) = (0.0, 0, 0);
    let (mut restarts, mut monitor_actions, mut split_actions) = (0, 0, 0);
    for seed in first..first + n {
        let s = assert_holds(generate(seed));
        hours += s.simulated / 3600.0;
        starts += s.starts;
        checked += s.takeovers_checked;
        restarts += s.restarts;
        monitor_actions += s.monitor_actions;
        split_actions += s.split_actions;
    }
    println!(
        "sim: {n} scenarios, {hours:.1} simulated hours, {starts} starts, {restarts} resource restarts, {monitor_actions} monitor actions, {split_actions} split actions, {checked} liveness checks, in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
}

// The five failures an earlier random-fault run on the lab found, as
// scenarios: each must hold its properties, and each asserts what the
// failure was about.

fn scenario(
    nodes: usize,
    services: Vec<(Vec<usize>, bool)>,
    events: Vec<(f64, Event)>,
) -> Scenario {
    Scenario {
        nodes,
        services,
        loss: 0.0,
        delay: 0.1,
        duration: 200.0,
        events: events
            .into_iter()
            .map(|(at, ev)| Timed { at, ev })
            .collect(),
        seed: 0,
        stonith: false,
        apps: Vec::new(),
        monitor_action: SplitAction::FreezeStop,
        quorum: None,
        disk: true,
    }
}

/// A hung or dead agent is not a dead node: its services keep running
/// there while its watchdog has not reset it, and nobody else starts them
/// (an unguarded service: a filesystem on a SAN, no address probe).
#[test]
fn a_hung_agent_is_not_taken_for_a_dead_node() {
    // Back within the watchdog timeout: nothing moves.
    for ev in [Event::AgentHang(0, 0.8), Event::AgentKill(0, 0.5)] {
        let sc = scenario(3, vec![(vec![0, 1, 2], false)], vec![(30.0, ev.clone())]);
        assert_eq!(assert_holds(sc).runs_on, [[0]], "{ev:?}");
    }
    // Silent for longer: the watchdog resets node1, node2 takes over.
    for ev in [Event::AgentHang(0, 10.0), Event::AgentKill(0, 20.0)] {
        let sc = scenario(3, vec![(vec![0, 1, 2], false)], vec![(30.0, ev.clone())]);
        assert_eq!(assert_holds(sc).runs_on, [[1]], "{ev:?}");
    }
}

/// A failed takeover is retried: the owner loses power for good, the
/// other candidates fail to start the service, then their resource is
/// fixed; the service must run again without a human (back-offs of 10,
/// 20, 40 s: within the 200 s).
#[test]
fn a_failed_takeover_is_retried() {
    let sc = scenario(
        3,
        vec![(vec![0, 1, 2], true)],
        vec![
            (15.0, Event::Break(0, 1)),
            (15.0, Event::Break(0, 2)),
            (20.0, Event::PowerLoss(0)),
            (60.0, Event::Fix(0, 1)),
            (60.0, Event::Fix(0, 2)),
        ],
    );
    let end = assert_holds(sc).runs_on;
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].len(), 1, "runs nowhere at the end: {end:?}");
}

/// The survivor of a double power loss takes the services over: no
/// spurious conflict from nodes that are off.
#[test]
fn a_double_power_loss_leaves_no_spurious_conflict() {
    let sc = scenario(
        3,
        vec![(vec![0, 1, 2], true), (vec![0, 1, 2], false)],
        vec![(30.0, Event::PowerLoss(0)), (31.0, Event::PowerLoss(1))],
    );
    assert_eq!(assert_holds(sc).runs_on, [[2], [2]]);
}

/// A disk heartbeat proves nothing when this node's rx cannot read it:
/// node3 cannot read the disk and loses node1 on the network while node2
/// still hears it on the disk; node3 comes first after node1 and must not
/// start the service.
#[test]
fn a_disk_heartbeat_without_a_working_rx_proves_nothing() {
    let sc = scenario(
        3,
        vec![(vec![0, 2, 1], false)],
        vec![
            (1.0, Event::RxBroken(2)),
            (30.0, Event::Cut(0, 2)),
            (100.0, Event::Heal(0, 2)),
            (101.0, Event::RxFixed(2)),
        ],
    );
    assert_eq!(assert_holds(sc).runs_on, [[0]]);
}

/// Orders typed 1 s apart on different nodes converge: every instance
/// ends in the state of the newest, none stays frozen.
#[test]
fn orders_typed_in_quick_succession_converge() {
    let o = |at, n, t| (at, Event::Order(n, 0, t));
    let sc = scenario(
        3,
        vec![(vec![0, 1, 2], true)],
        vec![
            o(20.0, 0, Target::Stopped),
            o(21.0, 1, Target::Started),
            o(22.0, 2, Target::Stopped),
            o(23.0, 0, Target::Started),
            o(40.0, 1, Target::Placed("node3".into())),
            o(40.5, 0, Target::Placed("node2".into())),
            (41.0, Event::PowerLoss(2)),
            (60.0, Event::PowerOn(2)),
        ],
    );
    // The newest, placed@node2, holds: thawed everywhere, up on node2.
    assert_eq!(assert_holds(sc).runs_on, [[1]]);
}

/// Two switches typed in quick succession on node1 while node2 runs the
/// service: node1 must not judge the second reached before node2 holds
/// it, or node1 leads by `nodes` order while node2 leads by the switch,
/// and both start it.
#[test]
fn two_quick_switches_start_the_service_once() {
    let o = |at, t: &str| (at, Event::Order(0, 0, Target::Placed(t.into())));
    for gap in [0.2, 0.5, 1.0, 1.5] {
        let sc = Scenario {
            delay: 0.9,
            ..scenario(
                3,
                vec![(vec![0, 1, 2], false)],
                vec![o(20.0, "node2"), o(40.0, "node3"), o(40.0 + gap, "node2")],
            )
        };
        assert_eq!(assert_holds(sc).runs_on, [[1]], "gap {gap}");
    }
}

/// Found by the simulation (seed 1383): `switch --to node5` then `start`
/// typed on node1 1.3 s apart. node1 took in the start, stopped being
/// steered and led by `nodes` order, while node5, still on the switch,
/// led too: both started the service.
#[test]
fn a_start_typed_just_after_a_switch_starts_the_service_once() {
    let o = |at, t| (at, Event::Order(0, 0, t));
    let sc = Scenario {
        delay: 0.21,
        ..scenario(
            5,
            vec![(vec![0, 4, 3, 1, 2], false)],
            vec![
                o(28.3, Target::Placed("node5".into())),
                o(29.6, Target::Started),
            ],
        )
    };
    let end = assert_holds(sc).runs_on;
    assert_eq!(end[0].len(), 1, "{end:?}");
}

/// Found by the simulation (seeds 1796, 2341): a switch reached while a
/// node was down. Back up, that node took the order in as not reached and
/// steered by it to node3, while the others, past it, led by `nodes` order
/// to that node: when the service then died on node3, each left the start
/// to the other, for the switch's whole lifetime (600 s). A node now takes
/// in that a peer saw its order reached.
#[test]
fn a_node_back_after_a_switch_was_reached_does_not_steer_by_it() {
    let sc = scenario(
        3,
        vec![(vec![1, 0, 2], false)],
        vec![
            (20.0, Event::PowerLoss(1)),
            (25.0, Event::Order(0, 0, Target::Placed("node3".into()))),
            (40.0, Event::PowerOn(1)),
            (42.0, Event::Crash(0, 2)),
        ],
    );
    let end = assert_holds(sc).runs_on;
    assert_eq!(end[0].len(), 1, "{end:?}");
}

/// A node that booted after another went off never heard it and can
/// prove nothing about it: with stonith, it fences that node and starts
/// the service.
#[test]
fn stonith_proves_a_node_never_heard_down() {
    let sc = Scenario {
        stonith: true,
        ..scenario(
            2,
            vec![(vec![0, 1], false)],
            vec![
                (20.0, Event::PowerLoss(1)),
                (21.0, Event::PowerLoss(0)),
                (30.0, Event::PowerOn(0)),
            ],
        )
    };
    assert_eq!(assert_holds(sc).runs_on, [[0]]);
}

/// Node `n` loses its network (and the arbitrator) at `at`, back at `back`.
fn isolate(n: usize, nodes: usize, at: f64, back: f64) -> Vec<(f64, Event)> {
    let mut ev = vec![(at, Event::ArbCut(n)), (back, Event::ArbHeal(n))];
    for m in (0..nodes).filter(|m| *m != n) {
        ev.push((at, Event::Cut(n, m)));
        ev.push((back, Event::Heal(n, m)));
    }
    ev
}

/// Quorum on, one arbitrator, no disk heartbeat (it would hear across
/// the cut), the split action given.
fn with_quorum(action: SplitAction, sc: Scenario) -> Scenario {
    Scenario {
        quorum: Some((action, true)),
        disk: false,
        ..sc
    }
}

/// `restart = 2`, `monitor = true`: an app that dies once is restarted in
/// place; broken, it is restarted twice, then the monitor action
/// (freezestop) moves the service to the next node.
#[test]
fn a_crashed_app_is_restarted_in_place_n_times_then_moves() {
    let sc = Scenario {
        apps: vec![(2, true)],
        ..scenario(
            3,
            vec![(vec![0, 1, 2], false)],
            vec![(20.0, Event::AppCrash(0, 0)), (60.0, Event::AppBreak(0, 0))],
        )
    };
    let end = assert_holds(sc);
    assert_eq!(end.runs_on, [[1]], "{end:?}");
    assert_eq!(end.restarts, 3, "1 after the crash, 2 once broken: {end:?}");
    assert_eq!(end.monitor_actions, 1, "{end:?}");
}

/// Without another node to take it, the monitor action is not run: the
/// instance stays where it is (a broken resource, not a dead service).
#[test]
fn spent_restarts_without_another_candidate_leave_the_service_in_place() {
    let sc = Scenario {
        apps: vec![(1, true)],
        ..scenario(
            2,
            vec![(vec![0, 1], false)],
            vec![(20.0, Event::NodeFreeze(1)), (40.0, Event::AppBreak(0, 0))],
        )
    };
    let end = assert_holds(sc);
    assert_eq!(end.runs_on, [[0]], "{end:?}");
    assert_eq!((end.restarts, end.monitor_actions), (1, 0), "{end:?}");
}

/// Unmonitored, spent restarts rest (10 s, then longer) and come again:
/// once the app is fixed, a restart brings it back, with no human.
#[test]
fn an_unmonitored_app_rests_then_gets_its_restarts_again() {
    let sc = Scenario {
        apps: vec![(2, false)],
        ..scenario(
            2,
            vec![(vec![0, 1], false)],
            vec![(20.0, Event::AppBreak(0, 0)), (70.0, Event::AppFix(0, 0))],
        )
    };
    let end = assert_holds(sc);
    assert_eq!(end.runs_on, [[0]], "{end:?}");
    assert!(end.restarts > 2, "restarted again after a rest: {end:?}");
    assert_eq!(end.monitor_actions, 0, "{end:?}");
}

/// node1 loses its network and the arbitrator: 1 of 4 votes, it crashes
/// itself (split action), and the majority (3 of 4) takes its service
/// over once the grace and node1's watchdog bound have passed.
#[test]
fn the_minority_side_of_a_partition_stops_with_quorum_on() {
    for action in [SplitAction::Crash, SplitAction::Reboot] {
        let sc = with_quorum(
            action,
            scenario(3, vec![(vec![0, 1, 2], false)], isolate(0, 3, 30.0, 120.0)),
        );
        let end = assert_holds(sc);
        assert_eq!(end.runs_on, [[1]], "{action:?}: {end:?}");
        assert_eq!(end.split_actions, 1, "{action:?}: {end:?}");
    }
}

/// `freezestop` on the minority: it stops its services and freezes, but
/// says it does not end itself, so the majority proves nothing and waits
/// (the service is down meanwhile); healed, the majority starts it.
#[test]
fn a_freezestop_minority_is_never_counted_down_by_quorum() {
    let sc = with_quorum(
        SplitAction::FreezeStop,
        scenario(3, vec![(vec![0, 1, 2], false)], isolate(0, 3, 30.0, 100.0)),
    );
    let end = assert_holds(sc);
    assert_eq!(end.runs_on, [[1]], "{end:?}");
    assert_eq!(end.split_actions, 1, "{end:?}");
}

/// A node frozen by an operator neither votes nor acts when it loses its
/// peers, and (it said it does not end itself) is never counted down:
/// its service stays there, started nowhere else.
#[test]
fn a_frozen_node_neither_votes_nor_is_taken_over() {
    let mut events = vec![(20.0, Event::NodeFreeze(0)), (110.0, Event::NodeThaw(0))];
    events.extend(isolate(0, 3, 30.0, 100.0));
    let sc = with_quorum(
        SplitAction::Crash,
        scenario(3, vec![(vec![0, 1, 2], false)], events),
    );
    let end = assert_holds(sc);
    assert_eq!(end.runs_on, [[0]], "{end:?}");
    assert_eq!(end.split_actions, 0, "{end:?}");
}

// Two gaps of quorum the simulation found, left as they are (the random
// scenarios avoid them; docs/orchestration.md, "The simulation"). Each
// asserts the double start still happens: once fixed, make it a safety
// scenario.

/// Two nodes and one arbitrator that both still reach after a network
/// cut: each holds 2 of 3 votes, each counts the other down, both run
/// the service (an arbitrator answers every node that pings it).
#[test]
fn both_sides_reaching_the_arbitrator_is_a_known_quorum_gap() {
    let sc = with_quorum(
        SplitAction::Crash,
        scenario(2, vec![(vec![0, 1], false)], vec![(30.0, Event::Cut(0, 1))]),
    );
    let res = run(&sc, false).0;
    assert!(
        res.as_ref().is_err_and(|v| v.what.contains("at once")),
        "{res:?}"
    );
}

/// A cut between node1 and node2 that node3 sees across: both keep 2 of
/// 3 votes (node3 heard), each counts the other down.
#[test]
fn a_cut_seen_by_a_third_node_is_a_known_quorum_gap() {
    let sc = Scenario {
        quorum: Some((SplitAction::Crash, false)),
        disk: false,
        ..scenario(
            3,
            vec![(vec![1, 0, 2], false)],
            vec![(30.0, Event::Cut(0, 1))],
        )
    };
    let res = run(&sc, false).0;
    assert!(
        res.as_ref().is_err_and(|v| v.what.contains("at once")),
        "{res:?}"
    );
}

/// Two nodes and no arbitrator: half the votes is not a majority, so a
/// partition ends both sides, and neither counts the other down.
#[test]
fn two_nodes_without_an_arbitrator_never_win_a_split() {
    let sc = Scenario {
        quorum: Some((SplitAction::Crash, false)),
        disk: false,
        ..scenario(2, vec![(vec![0, 1], false)], isolate(0, 2, 30.0, 100.0))
    };
    let end = assert_holds(sc);
    assert_eq!(end.split_actions, 2, "{end:?}");
    assert_eq!(end.runs_on[0].len(), 1, "{end:?}");
}

/// node1's agent is killed and started again within the watchdog timeout
/// while node1 is cut from everyone: the new agent never heard its peers,
/// so it never loses them, never votes and never runs its split action,
/// while the majority counts on it having done so.
#[test]
fn an_agent_restarted_during_a_partition_is_a_known_quorum_gap() {
    let mut events = isolate(0, 3, 22.0, 150.0);
    events.push((24.4, Event::AgentKill(0, 0.6)));
    let sc = with_quorum(
        SplitAction::Reboot,
        scenario(3, vec![(vec![0, 1, 2], false)], events),
    );
    let res = run(&sc, false).0;
    assert!(
        res.as_ref().is_err_and(|v| v.what.contains("at once")),
        "{res:?}"
    );
}

/// node2 is frozen by an operator just after a cut isolates it, before it
/// notices the loss: frozen, it neither votes nor runs its split action,
/// while the others last heard it say it ends itself, and count it down
/// (found by the simulation, seed 3940).
#[test]
fn a_node_frozen_just_after_a_cut_is_a_known_quorum_gap() {
    let mut events = isolate(1, 3, 30.0, 150.0);
    events.push((31.0, Event::NodeFreeze(1)));
    let sc = with_quorum(
        SplitAction::Crash,
        scenario(3, vec![(vec![1, 0, 2], false)], events),
    );
    let res = run(&sc, false).0;
    assert!(
        res.as_ref().is_err_and(|v| v.what.contains("at once")),
        "{res:?}"
    );
}

/// Seed `seed`'s cluster with only these events: how a random finding is
/// kept once shrunk (its losses and delays drawn from the same seed).
fn found(seed: u64, events: Vec<(f64, Event)>) -> Scenario {
    Scenario {
        events: events
            .into_iter()
            .map(|(at, ev)| Timed { at, ev })
            .collect(),
        ..generate(seed)
    }
}

/// Found by the simulation (seed 741363486): node1, seeing node2 frozen,
/// went ready for svc2; node2, thawed 0.4 s later and first in its
/// `nodes`, went ready too, and each started it before a beat told it of
/// the other. A start now needs every heard peer's acknowledgment of the
/// claim (claims.rs).
#[test]
fn two_leaders_of_a_moment_start_the_service_once() {
    let sc = found(
        741_363_486,
        vec![
            (173.7, Event::Order(0, 1, Target::Placed("node1".into()))),
            (178.9, Event::NodeFreeze(1)),
            (183.3, Event::PowerLoss(0)),
            (222.6, Event::PowerOn(0)),
            (230.4, Event::NodeThaw(1)),
        ],
    );
    let end = assert_holds(sc).runs_on;
    assert_eq!(end[1].len(), 1, "{end:?}");
}

/// Found by the simulation (seed 555002649): node1 took a `stopped` order
/// in and was ended by its split action before it froze its instance;
/// back, it held the order as applied with the instance thawed, and
/// started and stopped the service for ever.
#[test]
fn a_node_ended_before_an_order_froze_it_freezes_it_when_back() {
    let stopped = Event::Order(0, 1, Target::Stopped);
    let sc = found(
        555_002_649,
        vec![
            (89.8, Event::Cut(0, 1)),
            (89.8, Event::Cut(0, 2)),
            (92.3, stopped),
            (101.4, Event::Heal(0, 1)),
            (101.4, Event::Heal(0, 3)),
            (189.3, Event::Heal(2, 0)),
            (189.3, Event::Heal(2, 1)),
            (189.3, Event::Heal(2, 3)),
        ],
    );
    let end = assert_holds(sc).runs_on;
    assert!(end[1].is_empty(), "{end:?}");
}

/// Found by the simulation (seed 555002726): a switch to a node whose
/// start fails. The old node ran the service again meanwhile, which
/// dropped the target's failure record, and stopped it again at the end
/// of each back-off: down most of the time, for ever. A switch whose
/// target failed to start is now given up.
#[test]
fn a_switch_to_a_node_that_cannot_start_it_is_given_up() {
    let sc = found(
        555_002_726,
        vec![
            (83.4, Event::Cut(0, 2)),
            (111.3, Event::Heal(2, 0)),
            (111.3, Event::Heal(2, 1)),
            (111.3, Event::Heal(2, 3)),
            (143.3, Event::Heal(0, 1)),
            (143.3, Event::Heal(0, 3)),
            (195.2, Event::Break(0, 2)),
            (196.8, Event::Order(0, 0, Target::Placed("node3".into()))),
        ],
    );
    let end = assert_holds(sc).runs_on;
    assert_eq!(end[0].len(), 1, "{end:?}");
}

/// Found by the simulation (seed 777_003_580): node2 rebooted by its split
/// action while cut, then heard node1 for under a second as the cut
/// healed; node1 never heard it back before node1's own partition (the
/// arbitrator lost too). node2 lost node1, won the vote with the
/// arbitrator and counted node1 down, trusting it to end itself. But node1
/// had not heard node2, so it lost nothing, never voted, and kept the
/// service: both ran it. A peer's `fences_itself` now counts only if its
/// beat says it hears this node.
#[test]
fn a_peer_that_never_heard_this_node_is_not_counted_down_by_quorum() {
    let sc = found(
        777_003_580,
        vec![
            (101.6, Event::Cut(1, 0)),
            (101.6, Event::ArbCut(1)),
            (122.6, Event::Heal(1, 0)),
            (122.6, Event::ArbHeal(1)),
            (123.5, Event::Cut(0, 1)),
            (123.5, Event::ArbCut(0)),
        ],
    );
    assert_holds(sc);
}
