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
    let later = view(t0 + READY, &["node1", "node2", "node3"], &["node3"]);
    let cmds = core.decide(&mut mem, &later);
    assert!(starts(&cmds), "{cmds:#?}");
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
