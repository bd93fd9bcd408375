//! The ready period: waited only when another node of the service is
//! heard and could race this one.

use super::*;
use crate::daemon::orchestration::proof::{Evidence, Lost};
use crate::daemon::orchestration::view::SvcView;

const READY: Duration = Duration::from_secs(1);

fn svc(nodes: &[&str]) -> LocalSvc {
    LocalSvc {
        orchestrate: Orchestrate::Ha,
        nodes: nodes.iter().map(ToString::to_string).collect(),
        ..LocalSvc::default()
    }
}

/// node1 sees `nodes` run "s" nowhere; `heard` are the peers it hears,
/// every other node of the service is silent and fenced (proven down).
fn view(now: Instant, nodes: &[&str], heard: &[&str]) -> View {
    let mut peers = BTreeMap::new();
    for n in heard {
        let p = NodeView {
            services: BTreeMap::from([("s".to_string(), SvcView::default())]).into(),
            ..NodeView::default()
        };
        peers.insert((*n).to_string(), p);
    }
    let silent = nodes
        .iter()
        .filter(|n| **n != "node1" && !heard.contains(n))
        .map(|n| {
            let ev = Evidence {
                maintenance: false,
                lost: Some(Lost {
                    at: now,
                    watchdog: None,
                    fences_itself: false,
                }),
                disks: Vec::new(),
                quorum_down_at: None,
            };
            ((*n).to_string(), ev)
        })
        .collect();
    View {
        local: "node1".into(),
        node_frozen: false,
        services: BTreeMap::from([("s".to_string(), svc(nodes))]),
        me: NodeView::default(),
        peers,
        silent,
        disk_stale: None,
        stonith: BTreeSet::new(),
        settled: true,
        now,
        wall: 1_700_000_000.0,
    }
}

fn starts(cmds: &[Command]) -> bool {
    cmds.iter().any(|c| matches!(c, Command::Start(..)))
}

fn is_ready(cmds: &[Command]) -> bool {
    cmds.contains(&Command::Smon("s".into(), Smon::Ready))
}

/// A core that already fenced every silent node of `v`.
fn core_for(v: &View) -> Core {
    let mut core = Core::new(READY);
    for n in v.silent.keys() {
        core.fenced(n, true);
    }
    core
}

#[test]
fn the_only_candidate_left_starts_without_the_ready_period() {
    let t0 = Instant::now();
    let v = view(t0, &["node1", "node2"], &[]);
    let mut core = core_for(&v);
    let cmds = core.decide(&mut Memory::default(), &v);
    assert!(starts(&cmds), "{cmds:#?}");
    assert_eq!(core.take_wake(), None);
}

#[test]
fn a_heard_candidate_keeps_the_ready_period_and_wakes_the_monitor_at_its_end() {
    let t0 = Instant::now();
    let v = view(t0, &["node1", "node2", "node3"], &["node3"]);
    let mut core = core_for(&v);
    let mut mem = Memory::default();
    let cmds = core.decide(&mut mem, &v);
    assert!(is_ready(&cmds) && !starts(&cmds), "{cmds:#?}");
    assert_eq!(core.take_wake(), Some(t0 + READY));
    // The period is over, but node3 has not acknowledged the claim yet.
    let mut later = view(t0 + READY, &["node1", "node2", "node3"], &["node3"]);
    let cmds = core.decide(&mut mem, &later);
    assert!(is_ready(&cmds) && !starts(&cmds), "{cmds:#?}");
    assert!(
        cmds.contains(&Command::Why(
            "s".into(),
            Some("waiting for node3 to acknowledge this node's claim".into())
        )),
        "{cmds:#?}"
    );
    set(&mut later, "node3", acking("node1", WALL));
    let cmds = core.decide(&mut mem, &later);
    assert!(starts(&cmds), "{cmds:#?}");
}

const WALL: f64 = 1_700_000_000.0;

fn acking(node: &str, token: f64) -> SvcView {
    SvcView {
        acks: BTreeMap::from([(node.to_string(), token)]),
        ..SvcView::default()
    }
}

fn claiming(token: f64) -> SvcView {
    SvcView {
        claim: Some(token),
        ..SvcView::default()
    }
}

/// Peer `n`'s instance of "s" in `v` becomes `s`.
fn set(v: &mut View, n: &str, s: SvcView) {
    let p = v.peers.get_mut(n).unwrap();
    p.services = BTreeMap::from([("s".to_string(), s)]).into();
}

fn claims_of(cmds: &[Command]) -> Option<&Claims> {
    cmds.iter().rev().find_map(|c| match c {
        Command::Claims(s, c) if s == "s" => Some(c),
        _ => None,
    })
}

/// The simulation's seed 741363486: node1 claimed the service while node2
/// was frozen; node2, thawed and first in `nodes`, claimed it too before
/// either heard the other. Neither starts on the ready period alone; once
/// each sees the other's claim, node1 yields and acknowledges, and node2,
/// acknowledged, starts.
#[test]
fn two_claims_at_once_end_with_one_start() {
    let t0 = Instant::now();
    let nodes = ["node2", "node1"];
    let mut mem = Memory::default();
    let mut v = view(t0, &nodes, &["node2"]);
    set(
        &mut v,
        "node2",
        SvcView {
            frozen: true,
            ..SvcView::default()
        },
    );
    let mut core = core_for(&v);
    let cmds = core.decide(&mut mem, &v);
    assert_eq!(
        claims_of(&cmds).and_then(|c| c.token),
        Some(WALL),
        "{cmds:#?}"
    );
    // A second later: node2 thawed and claims too, with nothing of node1's
    // claim acknowledged.
    let mut later = view(t0 + READY, &nodes, &["node2"]);
    set(&mut later, "node2", claiming(WALL + 0.6));
    let cmds = core.decide(&mut mem, &later);
    assert!(!starts(&cmds), "{cmds:#?}");
    let c = claims_of(&cmds).expect("node1 yields: its claim goes, its ack comes");
    assert_eq!(c.token, None, "{cmds:#?}");
    assert_eq!(c.acks, BTreeMap::from([("node2".to_string(), WALL + 0.6)]));
}

/// A claim seen before this node claims holds it back, whatever the
/// order of `nodes`, and is acknowledged; a node that runs the service
/// acknowledges nothing.
#[test]
fn a_claim_seen_first_is_acknowledged_and_left_alone() {
    let t0 = Instant::now();
    let nodes = ["node1", "node2"];
    let mut v = view(t0, &nodes, &["node2"]);
    set(&mut v, "node2", claiming(5.0));
    let mut core = core_for(&v);
    let mut mem = Memory::default();
    for dt in [0, 1, 5] {
        v.now = t0 + Duration::from_secs(dt);
        let cmds = core.decide(&mut mem, &v);
        assert!(!starts(&cmds) && !is_ready(&cmds), "{cmds:#?}");
    }
    let mut v2 = view(t0, &nodes, &["node2"]);
    set(&mut v2, "node2", claiming(5.0));
    let mut fresh = core_for(&v2);
    let cmds = fresh.decide(&mut mem, &v2);
    assert_eq!(
        claims_of(&cmds).map(|c| c.acks.clone()),
        Some(BTreeMap::from([("node2".to_string(), 5.0)]))
    );
    // Running here: no ack, so the claimer goes on waiting.
    let mut up = view(t0, &nodes, &["node2"]);
    set(&mut up, "node2", claiming(5.0));
    up.services.get_mut("s").unwrap().up = true;
    let mut running = core_for(&up);
    let cmds = running.decide(&mut mem, &up);
    assert_eq!(claims_of(&cmds), None, "{cmds:#?}");
}

#[test]
fn a_heard_node_outside_the_service_is_no_candidate() {
    let t0 = Instant::now();
    let v = view(t0, &["node1", "node2"], &["node3"]);
    let mut core = core_for(&v);
    let cmds = core.decide(&mut Memory::default(), &v);
    assert!(starts(&cmds), "{cmds:#?}");
}

#[test]
fn a_proof_not_mature_yet_wakes_the_monitor_when_it_will_hold() {
    let t0 = Instant::now();
    let mut v = view(t0, &["node1", "node2"], &[]);
    let w = Duration::from_millis(2500);
    let ev = v.silent.get_mut("node2").unwrap();
    ev.lost.as_mut().unwrap().watchdog = Some(w);
    ev.lost.as_mut().unwrap().fences_itself = true;
    ev.quorum_down_at = Some(t0);
    let mut core = Core::new(READY);
    let cmds = core.decide(&mut Memory::default(), &v);
    assert!(!starts(&cmds), "{cmds:#?}");
    let at = t0 + w + proof::MARGIN;
    assert_eq!(core.take_wake(), Some(at));
    let mut then = v.clone();
    then.now = at;
    let cmds = core.decide(&mut Memory::default(), &then);
    assert!(starts(&cmds), "the proof held, nobody can race: {cmds:#?}");
}

/// A node ended between taking an order in (its memory may be written at
/// once) and freezing its instance comes back with the instance thawed:
/// the freeze is asked again until the flag is seen set, and only then is
/// the order applied, after which an operator's thaw is left alone.
#[test]
fn an_order_is_applied_only_once_its_freeze_is_seen() {
    let t0 = Instant::now();
    let mut v = view(t0, &["node1", "node2"], &["node2"]);
    let stopped = Order {
        target: Target::Stopped,
        at: WALL - 5.0,
        by: "node1".into(),
    };
    let mut mem = Memory::default();
    let mut core = core_for(&v);
    let freezes = |cmds: &[Command]| cmds.contains(&Command::Freeze("s".into()));
    let cmds = core.orders(&mut mem, &v, vec![("s".into(), stopped.clone())]);
    assert!(freezes(&cmds), "{cmds:#?}");
    assert!(
        !mem.applied.contains_key("s"),
        "applied before the freeze ran"
    );
    // The freeze never ran (the node was ended): asked again.
    let mut core = core_for(&v);
    let cmds = core.orders(&mut mem, &v, Vec::new());
    assert!(freezes(&cmds), "{cmds:#?}");
    // It ran: applied.
    v.services.get_mut("s").unwrap().frozen = true;
    let cmds = core.orders(&mut mem, &v, Vec::new());
    assert!(!freezes(&cmds), "{cmds:#?}");
    assert_eq!(mem.applied.get("s"), Some(&stopped.at));
    // An operator thaws it afterwards: the order is not carried out again.
    v.services.get_mut("s").unwrap().frozen = false;
    let cmds = core.orders(&mut mem, &v, Vec::new());
    assert!(!freezes(&cmds), "{cmds:#?}");
}

/// A `switch --to` this node whose start failed here stops steering: the
/// order is marked reached (every node takes that in), so the node it
/// came from keeps the service rather than stopping it again each time
/// this node's back-off ends.
#[test]
fn a_switch_whose_target_failed_to_start_is_given_up() {
    let t0 = Instant::now();
    let v = view(t0, &["node2", "node1"], &["node2"]);
    let placed = |to: &str| Order {
        target: Target::Placed(to.into()),
        at: WALL - 5.0,
        by: "node2".into(),
    };
    let mut mem = Memory::default();
    mem.orders.insert("s".into(), placed("node1"));
    mem.start_failed.insert(
        "s".into(),
        failures::record(None, WALL - 1.0, "app#0 failed"),
    );
    let mut core = core_for(&v);
    let cmds = core.decide(&mut mem, &v);
    assert_eq!(mem.reached.get("s"), Some(&(WALL - 5.0)), "{cmds:#?}");
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::Log(Level::Warn, m) if m.contains("given up"))),
        "{cmds:#?}"
    );
    assert!(cmds.contains(&Command::Save), "{cmds:#?}");
    // A failed start under a switch to another node gives nothing up.
    let mut mem = Memory::default();
    mem.orders.insert("s".into(), placed("node2"));
    mem.start_failed.insert(
        "s".into(),
        failures::record(None, WALL - 1.0, "app#0 failed"),
    );
    core.decide(&mut mem, &v);
    assert!(!mem.reached.contains_key("s"));
}

/// A peer's order dated ahead of this node's clock is said once; a peer
/// whose services were not replaced is not looked through again until
/// AHEAD_RECHECK, but a replaced one is at once, and after the recheck an
/// order that became ahead without any change (this node's clock set
/// back) is said too.
#[test]
fn orders_dated_ahead_are_said_once_and_unchanged_peers_are_skipped() {
    let t0 = Instant::now();
    let mut v = view(t0, &["node1", "node2"], &["node2"]);
    let ahead = |at: f64| {
        let order = Order {
            target: Target::Stopped,
            at,
            by: "node2".into(),
        };
        let s = SvcView {
            order: Some(Box::new(order)),
            ..SvcView::default()
        };
        Arc::new(BTreeMap::from([("s".to_string(), s)]))
    };
    let said = |cmds: &[Command]| {
        cmds.iter()
            .filter(|c| matches!(c, Command::Log(Level::Warn, m) if m.contains("ahead of this node's clock")))
            .count()
    };
    let mut mem = Memory::default();
    let mut core = core_for(&v);
    let far = WALL + 3600.0;
    v.peers.get_mut("node2").unwrap().services = ahead(far);
    assert_eq!(said(&core.orders(&mut mem, &v, Vec::new())), 1);
    assert_eq!(said(&core.orders(&mut mem, &v, Vec::new())), 0, "said once");
    // Replaced by a newer order: looked at, and said, at once.
    v.peers.get_mut("node2").unwrap().services = ahead(far + 1.0);
    assert_eq!(said(&core.orders(&mut mem, &v, Vec::new())), 1);
    // Not ahead of this clock, then ahead once the clock is set back:
    // the unchanged peer is looked at again only after the recheck.
    v.peers.get_mut("node2").unwrap().services = ahead(WALL);
    assert_eq!(said(&core.orders(&mut mem, &v, Vec::new())), 0);
    v.wall -= 3600.0;
    v.now = t0 + Duration::from_secs(1);
    assert_eq!(said(&core.orders(&mut mem, &v, Vec::new())), 0, "skipped");
    v.now = t0 + AHEAD_RECHECK + Duration::from_secs(1);
    assert_eq!(
        said(&core.orders(&mut mem, &v, Vec::new())),
        1,
        "the recheck"
    );
}
