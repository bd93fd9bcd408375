//! Tier 4: the failures an outside random-fault run found, one scenario
//! each, named after it, on real kernel objects in the lab:
//! 1. a dead or hung agent was taken for a dead node;
//! 2. a refused or failed takeover was never retried;
//! 3. a spurious conflict after a double power loss;
//! 4. a disk heartbeat counted as proof when it could not prove anything;
//! 5. cluster-wide orders typed on different nodes did not converge.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::lab;
use crate::lab::{
    Lab, SERVICE_IP, avail, lab_test, log_lines, orchestrated_lab, orchestrated_lab_with,
    running_on_node1, status, wait_for,
};

const SVC: &str = "p26.opensvc.com";
const PAGE: &str = "<html><body>It Works !</body></html>\n";

/// Samples, every 50 ms from the host, which powered-on nodes hold the
/// service address; counts the samples where two do.
struct DualWatch {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl DualWatch {
    fn start(lab: &Lab, nodes: &[&str], addr: &str) -> DualWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let (st, id, addr) = (stop.clone(), lab.id.clone(), addr.to_string());
        let nodes: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
        let handle = std::thread::spawn(move || {
            let mut dual = Vec::new();
            while !st.load(Ordering::Relaxed) {
                let holders: Vec<&String> = nodes
                    .iter()
                    .filter(|n| lab::powered(&id, n))
                    .filter(|n| lab::holds_addr(&id, n, &addr))
                    .collect();
                if holders.len() > 1 {
                    dual.push(format!("{:?} held by {holders:?}", Instant::now()));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            dual
        });
        DualWatch {
            stop,
            handle: Some(handle),
        }
    }

    /// The samples where two live nodes held the address.
    fn stop(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap()
    }
}

/// The agent's pid on `node`.
fn agent_pid(lab: &Lab, node: &str) -> String {
    lab.sh(node, "cat /var/lib/opensvc/osvcd.pid")
        .ok()
        .stdout
        .trim()
        .to_string()
}

/// Polls until `node` is powered off (reset); panics after `secs`.
fn wait_reset(lab: &Lab, node: &str, secs: u64) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while lab::powered(&lab.id, node) {
        assert!(
            Instant::now() < deadline,
            "{node} was not reset within {secs} s:\n{}",
            lab.sh(node, "tail -20 /var/log/opensvc/node.log").dump()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Instant::now()
}

/// Failure 1, hung: SIGSTOP of node1's agent while its services run. Its
/// watchdog resets node1 (about 1 s), and only then does node2 take the
/// service over: never both holding the address.
#[test]
fn a_dead_or_hung_agent_is_not_taken_for_a_dead_node() {
    lab_test!();
    let lab = orchestrated_lab(true);
    running_on_node1(&lab);
    let st = status(&lab, "node2");
    assert_eq!(
        st["nodes"]["node1"]["watchdog"], 2.5,
        "node1 advertises its watchdog deadline: {st:#}"
    );
    let watch = DualWatch::start(&lab, &["node1", "node2"], SERVICE_IP);
    let pid = agent_pid(&lab, "node1");
    let stopped = Instant::now();
    lab.sh("node1", &format!("kill -STOP {pid}")).ok();
    let reset = wait_reset(&lab, "node1", 6);
    let after = reset.duration_since(stopped);
    assert!(
        after >= Duration::from_millis(900),
        "reset after {after:?}: before the watchdog timeout"
    );
    wait_for(&lab, "node2", "taken the service over", |st| {
        avail(st, "node2") == "up"
    });
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    let dual = watch.stop();
    assert!(dual.is_empty(), "the address on two live nodes: {dual:#?}");
    let started = log_lines(&lab, "node2", &format!("{SVC}: started here"));
    assert_eq!(started.len(), 1, "{started:#?}");
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// Failure 1, dead: SIGKILL of node1's agent, not restarted: the same.
/// Restarted within the watchdog timeout (as systemd does), nothing is
/// reset nor taken over.
#[test]
fn a_dead_agent_resets_its_node_unless_restarted_in_time() {
    lab_test!();
    let lab = orchestrated_lab(true);
    running_on_node1(&lab);
    // Restarted at once: the supervisor outlived the agent and the new one
    // pets it in time.
    lab.sh("node1", &format!("kill -9 {}", agent_pid(&lab, "node1")))
        .ok();
    lab.sh("node1", "nodemgr daemon start").ok();
    std::thread::sleep(Duration::from_secs(6));
    assert!(lab::powered(&lab.id, "node1"), "node1 was reset");
    let st = status(&lab, "node2");
    assert_eq!(avail(&st, "node1"), "up", "{st:#}");
    assert_eq!(avail(&st, "node2"), "down", "{st:#}");

    // Not restarted: node1 is reset, then node2 takes over.
    let watch = DualWatch::start(&lab, &["node1", "node2"], SERVICE_IP);
    lab.sh("node1", &format!("kill -9 {}", agent_pid(&lab, "node1")))
        .ok();
    wait_reset(&lab, "node1", 6);
    wait_for(&lab, "node2", "taken the service over", |st| {
        avail(st, "node2") == "up"
    });
    let dual = watch.stop();
    assert!(dual.is_empty(), "the address on two live nodes: {dual:#?}");
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// svcmon's notes on the service, as `node` shows them.
fn why_lines(lab: &Lab, node: &str) -> String {
    let out = lab.sh(node, "svcmon");
    out.stdout
        .split("\nWhy\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// Failure 2, refused: node1 dies while another host holds the service
/// address (here the client, a host node2 cannot see as a node). node2's
/// takeover is refused for the conflict, which is no failure of node2:
/// svcmon and print status say why, and once the address is free node2
/// starts the service, with no operator.
#[test]
fn a_refused_takeover_is_retried() {
    lab_test!();
    let lab = orchestrated_lab(true);
    running_on_node1(&lab);
    lab.kill("node1");
    lab.client(&format!("ip addr add {SERVICE_IP}/27 dev eth0"))
        .ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let why = why_lines(&lab, "node2");
        if why.contains(&format!(
            "{SVC}  node2: ip#0 conflict: active on a host this node cannot see"
        )) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node2 never said why it does not start the service:\n{}\n{}",
            lab.sh("node2", "svcmon").dump(),
            lab.sh("node2", "tail -20 /var/log/opensvc/node.log").dump()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ps = lab.sh("node2", &format!("svcmgr -s {SVC} print status"));
    assert!(
        ps.ok().stdout.contains(
            "agent daemons:\n  node2: ip#0 conflict: active on a host this node cannot see"
        ),
        "{}",
        ps.dump()
    );
    let refused = log_lines(&lab, "node2", &format!("{SVC}: start refused here"));
    assert!(
        refused
            .iter()
            .all(|l| l.contains("ip#0 is active on another host; looked at again in 5s")),
        "{refused:#?}"
    );
    lab.client(&format!("ip addr del {SERVICE_IP}/27 dev eth0"))
        .ok();
    wait_for(&lab, "node2", "taken the service over", |st| {
        avail(st, "node2") == "up"
    });
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    assert!(why_lines(&lab, "node2").is_empty());
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// Failure 2, failed: node2's start of the service fails (its mount
/// option is one its kernel refuses). The failure is recorded with a
/// back-off, shown, and node2 tries again after it: fixed meanwhile, the
/// service comes up, with no freeze and thaw.
#[test]
fn a_failed_takeover_is_retried_after_a_backoff() {
    lab_test!();
    let lab = orchestrated_lab_with(true, &["fs#0.mnt_opt@node2=no_such_option"]);
    running_on_node1(&lab);
    lab.kill("node1");
    let st = wait_for(&lab, "node2", "seen its start fail", |st| {
        st["nodes"]["node2"]["services"][SVC]["smon"] == "start failed"
    });
    let why = st["nodes"]["node2"]["services"][SVC]["why"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.starts_with("start failed here (fs#0 failed), retry in "),
        "{st:#}"
    );
    let failed = log_lines(&lab, "node2", &format!("{SVC}: start failed here"));
    assert!(
        failed[0].contains("fs#0 failed: the next node may take it over; retried here in 10s"),
        "{failed:#?}"
    );
    lab.sh(
        "node2",
        &format!("svcmgr -s {SVC} unset --param fs#0.mnt_opt@node2"),
    )
    .ok();
    // The back-off is 10 s: the retry comes without anyone's help.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = status(&lab, "node2");
        if avail(&st, "node2") == "up" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node2 never retried:\n{st:#}\n{}",
            lab.sh("node2", "tail -20 /var/log/opensvc/node.log").dump()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    let st = status(&lab, "node2");
    assert_eq!(
        st["nodes"]["node2"]["services"][SVC]["frozen"], false,
        "{st:#}"
    );
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// node1 loses power; node2 loses it and, 6 s later, still has not
/// started the service. Returns node2's status and the reason it gives.
fn node1_dies_node2_waits(lab: &Lab) -> (serde_json::Value, String) {
    lab.kill("node1");
    wait_for(lab, "node2", "lost node1", |st| {
        st["nodes"]["node1"].is_null()
    });
    std::thread::sleep(Duration::from_secs(6));
    let st = status(lab, "node2");
    assert_eq!(
        avail(&st, "node2"),
        "down",
        "node2 must not start it: {st:#}"
    );
    let why = st["nodes"]["node2"]["services"][SVC]["why"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (st, why)
}

/// Failure 4: node2's disk heartbeat cannot read its device (a wrong
/// path on node2 only). node1 then dies: the disk proves nothing for
/// node2, which must not take over, and says why.
#[test]
fn a_disk_heartbeat_that_cannot_read_proves_nothing() {
    lab_test!();
    let lab = orchestrated_lab(true);
    running_on_node1(&lab);
    lab.sh(
        "node2",
        "nodemgr set --param hb#2.dev --value /dev/no-such-disk",
    )
    .ok();
    wait_for(&lab, "node2", "stopped its disk heartbeat", |st| {
        st["threads"]["hb#2.rx"]["state"] == "stopped"
    });
    let (st, why) = node1_dies_node2_waits(&lab);
    assert_eq!(
        why, "hb#2 cannot write its disk slot: this node would look dead to its peers",
        "{st:#}"
    );
    assert_eq!(st["threads"]["hb#2.rx"]["state"], "stopped", "{st:#}");
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// Failure 4, a slot never heard: node1 writes its slot on one disk and
/// node2 reads another (a mismatch in node.conf), so node2 never hears
/// node1 on disk. node1 dies: the silence of a slot node2 never saw
/// change proves nothing, and node2 says so instead of taking over.
#[test]
fn a_disk_slot_never_heard_proves_nothing() {
    lab_test!();
    let lab = Lab::up(&[
        "--nodes",
        "2",
        "--disks",
        "app:32M,data:32M,rawhb:8M,rawother:8M",
        "--vg",
    ]);
    lab.tutorial(&["node1", "node2"]);
    let other = lab.get("disk_rawother");
    lab.cluster(Some(lab.get("disk_rawhb").as_str()));
    lab.sh(
        "node2",
        &format!("nodemgr set --param hb#2.dev --value {other}"),
    )
    .ok();
    running_on_node1(&lab);
    wait_for(&lab, "node2", "beating on its own disk", |st| {
        st["threads"]["hb#2.rx"]["state"] == "running"
            && st["threads"]["hb#2.rx"]["peers"]["node1"] == false
    });
    let (st, why) = node1_dies_node2_waits(&lab);
    assert!(
        why.starts_with("node1 may still run it") && why.contains("hb#2 never heard it"),
        "{st:#}"
    );
    let said = log_lines(
        &lab,
        "node2",
        &format!("{SVC}: not started here: node1 may still run it"),
    );
    assert_eq!(said.len(), 1, "said once: {said:#?}");
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// The chaos suite's cluster (lab/chaos-cluster.sh) on `n` nodes: the
/// tutorial's service, ipsvc (an address), fssvc (a filesystem) and
/// appsvc (an address and a monitored web server), every node's agent run
/// as systemd would, unicast and disk heartbeats.
fn chaos_cluster(n: usize) -> Lab {
    let lab = Lab::up_for_chaos(n);
    lab.chaos_cluster();
    lab
}

/// The nodes of the chaos cluster, and ipsvc's address.
const ALL: [&str; 3] = ["node1", "node2", "node3"];
const IPSVC_ADDR: &str = "192.0.2.27";

/// The chaos cluster on 3 nodes, once ipsvc (an address) is up on one.
fn ipsvc_cluster() -> Lab {
    let lab = chaos_cluster(3);
    until(
        "ipsvc up on one node",
        60,
        || holders(&lab, &ALL, IPSVC_ADDR).len() == 1,
        || lab.sh("node1", "svcmon").stdout,
    );
    lab
}

/// ipsvc stopped cluster-wide from node1: down and frozen on every node.
fn stop_ipsvc(lab: &Lab) {
    lab.sh("node1", "svcmgr -s ipsvc stop").ok();
    until(
        "ipsvc stopped and frozen everywhere",
        30,
        || holders(lab, &ALL, IPSVC_ADDR).is_empty() && frozen_on(lab, &ALL, "ipsvc").len() == 3,
        || lab.sh("node1", "svcmon").stdout,
    );
}

/// `svc`'s avail on `node`, as `on`'s daemon sees it.
fn avail_of(st: &serde_json::Value, node: &str, svc: &str) -> String {
    st["nodes"][node]["services"][svc]["avail"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The powered-on nodes among `nodes` whose FROZEN flag for `svc` exists
/// (read from the node's own filesystem, not from any daemon).
fn frozen_on(lab: &Lab, nodes: &[&str], svc: &str) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| lab::powered(&lab.id, n))
        .filter(|n| {
            lab.sh(n, &format!("test -e /var/lib/opensvc/FROZEN.{svc}"))
                .code
                == 0
        })
        .map(|n| n.to_string())
        .collect()
}

/// The powered-on nodes among `nodes` holding `addr`.
fn holders(lab: &Lab, nodes: &[&str], addr: &str) -> Vec<String> {
    nodes
        .iter()
        .filter(|n| lab::powered(&lab.id, n))
        .filter(|n| lab::holds_addr(&lab.id, n, addr))
        .map(|n| n.to_string())
        .collect()
}

/// Polls until `ok` holds (`secs` at most), describing the state on failure.
fn until(what: &str, secs: u64, ok: impl Fn() -> bool, state: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "never {what}:\n{}", state());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Failure 3: the owner loses power, a second node a second later. The
/// survivor takes every service over, with no spurious conflict: nothing
/// of a dead node answers for its addresses.
#[test]
fn a_double_power_loss_gives_no_spurious_conflict() {
    lab_test!();
    let lab = chaos_cluster(3);
    let all = ["node1", "node2", "node3"];
    let addrs = ["192.0.2.26", "192.0.2.27", "192.0.2.28"];
    until(
        "every service up on node1",
        60,
        || addrs.iter().all(|a| holders(&lab, &all, a) == ["node1"]),
        // The log too: a set-up that once timed out here showed only
        // "waiting for node2's dataset", not why it lasted.
        || {
            lab.sh("node1", "svcmon; tail -40 /var/log/opensvc/node.log")
                .dump()
        },
    );
    lab.kill("node1");
    std::thread::sleep(Duration::from_secs(1));
    lab.kill("node2");
    until(
        "every service taken over by node3",
        30,
        || {
            let st = status(&lab, "node3");
            ["p26.opensvc.com", "ipsvc", "fssvc", "appsvc"]
                .iter()
                .all(|s| avail_of(&st, "node3", s) == "up")
        },
        || {
            lab.sh("node3", "svcmon; tail -30 /var/log/opensvc/node.log")
                .dump()
        },
    );
    for a in addrs {
        assert_eq!(holders(&lab, &all, a), ["node3"], "{a}");
    }
    let conflicts = log_lines(&lab, "node3", "refused here");
    assert!(conflicts.is_empty(), "spurious conflicts: {conflicts:#?}");
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
}

/// Failure 5: stop and start orders typed a second apart on different
/// nodes, again and again, then orders given while a node is powered
/// off: every instance ends in the state of the newest order, including
/// the node that was off when it was given.
#[test]
fn orders_typed_on_different_nodes_converge() {
    lab_test!();
    let (lab, all, addr) = (ipsvc_cluster(), ALL, IPSVC_ADDR);
    let converged = |frozen: &[&str], up: usize| {
        let f = frozen_on(&lab, &all, "ipsvc");
        f == frozen && holders(&lab, &all, addr).len() == up
    };
    let state = || {
        format!(
            "frozen on {:?}, held by {:?}\n{}",
            frozen_on(&lab, &all, "ipsvc"),
            holders(&lab, &all, addr),
            lab.sh(
                "node1",
                "svcmon; grep -hE 'ipsvc|fetch|blacklist|listener|lost' /var/log/opensvc/node.log | tail -30"
            )
            .dump()
        )
    };
    for (stop_on, start_on) in [("node1", "node2"), ("node3", "node1"), ("node2", "node3")] {
        let stop = lab.node_bg(stop_on, "PATH=/etc/opensvc:$PATH svcmgr -s ipsvc stop");
        std::thread::sleep(Duration::from_secs(1));
        lab.sh(start_on, "svcmgr -s ipsvc start").ok();
        let _ = stop.stop();
        until(
            "one instance up and none frozen",
            30,
            || converged(&[], 1),
            state,
        );
    }
    // Moved to node1 (switch --to, typed where it does not run), then
    // orders given while node3 is powered off: a freeze, reached by the
    // others; node3 takes it in when it is back.
    lab.sh("node3", "svcmgr -s ipsvc switch --to node1").ok();
    assert_eq!(holders(&lab, &all, addr), ["node1"], "{}", state());
    lab.kill("node3");
    until(
        "node3 powered off",
        10,
        || !lab::powered(&lab.id, "node3"),
        state,
    );
    lab.sh("node1", "svcmgr -s ipsvc freeze").ok();
    until(
        "frozen on node1 and node2",
        30,
        || converged(&["node1", "node2"], 1),
        state,
    );
    lab.boot("node3");
    until(
        "frozen on every node, node3 included",
        60,
        || converged(&["node1", "node2", "node3"], 1),
        state,
    );
    // ...and a stop then a start typed while node3 is off again.
    lab.kill("node3");
    until(
        "node3 powered off",
        10,
        || !lab::powered(&lab.id, "node3"),
        state,
    );
    lab.sh("node2", "svcmgr -s ipsvc stop").ok();
    lab.sh("node1", "svcmgr -s ipsvc start").ok();
    lab.boot("node3");
    until(
        "thawed everywhere and up on one node",
        60,
        || lab::powered(&lab.id, "node3") && converged(&[], 1),
        state,
    );
    let st = status(&lab, "node3");
    assert!(
        st["nodes"]["node3"]["services"]["ipsvc"]["global_expect"] == "started",
        "node3 holds the newest order: {st:#}"
    );
    // A switch to a node that cannot take it waits; a stop typed
    // elsewhere meanwhile replaces it, and the switch says so instead of
    // waiting its whole 120 s. The node itself is frozen: a frozen
    // instance alone would not do, since the switch's order thaws every
    // instance (orders.rs), and the switch could then end before the stop
    // is typed.
    lab.sh("node3", "nodemgr freeze").ok();
    let switch = lab.node_bg(
        "node1",
        "PATH=/etc/opensvc:$PATH svcmgr -s ipsvc switch --to node3",
    );
    std::thread::sleep(Duration::from_secs(2));
    let t0 = Instant::now();
    lab.sh("node2", "svcmgr -s ipsvc stop").ok();
    let out = switch.wait();
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(
        out.stderr
            .contains("replaced by the newer cluster-wide order 'stopped' given on node2 at"),
        "{}",
        out.dump()
    );
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    // The frozen node sets its instance's flag too: the order is about
    // the instance, whatever the node.
    until(
        "stopped and frozen everywhere",
        30,
        || converged(&["node1", "node2", "node3"], 0),
        state,
    );
    // Thawed, the node leaves the service as the order wants it. It
    // used to take the order for carried out under the node's flag, then
    // start the service and stop it again every 3 s.
    let starts = || {
        lab.sh(
            "node3",
            "grep -c 'ipsvc: started here' /var/log/opensvc/node.log",
        )
        .stdout
        .trim()
        .to_string()
    };
    let before = starts();
    lab.sh("node3", "nodemgr thaw").ok();
    std::thread::sleep(Duration::from_secs(8));
    assert!(converged(&["node1", "node2", "node3"], 0), "{}", state());
    assert_eq!(
        starts(),
        before,
        "started on node3 after its thaw: {}",
        state()
    );
}

/// Found by the chaos suite (seed 9413195996327578340, fault #41): `start`
/// typed at the same instant on two nodes, the service down everywhere.
/// Each command found it down and its address free, and both started it:
/// the address on two nodes for 40 s. Only the placement leader starts
/// it now; the other commands hand the order to their daemons.
#[test]
fn starts_typed_at_once_on_two_nodes_start_it_once() {
    lab_test!();
    let (lab, all, addr) = (ipsvc_cluster(), ALL, IPSVC_ADDR);
    for round in 0..3 {
        stop_ipsvc(&lab);
        let watch = DualWatch::start(&lab, &all, addr);
        let starts: Vec<_> = ["node2", "node3"]
            .iter()
            .map(|n| lab.node_bg(n, "PATH=/etc/opensvc:$PATH svcmgr -s ipsvc start"))
            .collect();
        for s in starts {
            s.wait();
        }
        until(
            "ipsvc up on one node, thawed everywhere",
            30,
            || holders(&lab, &all, addr).len() == 1 && frozen_on(&lab, &all, "ipsvc").is_empty(),
            || lab.sh("node1", "svcmon").stdout,
        );
        std::thread::sleep(Duration::from_secs(2));
        let dual = watch.stop();
        assert!(
            dual.is_empty(),
            "round {round}: the address on two nodes: {dual:#?}"
        );
        assert_eq!(holders(&lab, &all, addr), ["node1"], "the leader runs it");
    }
}

/// Found by the chaos suite (seed 2610218312809666657, fault #29): an order
/// typed on a node that loses power right after the command returns. The
/// order lived in the daemon's memory only, and died with the node before
/// its next heartbeat, while the command's local part (a thaw) was on disk:
/// the others kept the older `stopped` order, frozen, and the service
/// stayed down. The daemon now keeps an order on disk before it answers,
/// and the node that comes back carries it to the others.
#[test]
fn an_order_outlives_the_power_loss_of_the_node_it_was_typed_on() {
    lab_test!();
    let (lab, all, addr) = (ipsvc_cluster(), ALL, IPSVC_ADDR);
    let svcmon = || lab.sh("node1", "svcmon").stdout;
    stop_ipsvc(&lab);
    // Typed on node3, which loses power as soon as the command returns:
    // well before its next heartbeat could carry the order.
    lab.sh("node3", "svcmgr -s ipsvc start").ok();
    lab.kill("node3");
    until(
        "node3 powered off",
        10,
        || !lab::powered(&lab.id, "node3"),
        svcmon,
    );
    lab.boot("node3");
    until(
        "the start carried out: thawed everywhere, up on one node",
        60,
        || {
            lab::powered(&lab.id, "node3")
                && frozen_on(&lab, &all, "ipsvc").is_empty()
                && holders(&lab, &all, addr).len() == 1
        },
        svcmon,
    );
}
