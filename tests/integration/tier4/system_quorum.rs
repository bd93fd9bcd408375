//! Tier 4: quorum with an arbitrator. node1 and node2 run the tutorial's
//! service with only a network heartbeat (nothing else proves a silent
//! node down); node3 is the arbitrator, a daemon with its own secret and
//! cluster name, outside the cluster. Cut node1's link: node1 is left with
//! 1 vote of 3 and ends itself (split_action crash, which in a lab node is
//! reboot(2) of the node's PID namespace); node2 has 2 of 3 and, after the
//! grace, takes the service over.
//!
//! The arbitrator answers `ping` through the daemon's TCP peer listener
//! (port 1214): without it node1 and node2 never see it up, and the test
//! says so.

use std::time::{Duration, Instant};

use crate::lab::{Lab, lab_test};

const ARB_SECRET: &str = "fedcba9876543210fedcba9876543210";
const PAGE: &str = "<html><body>It Works !</body></html>\n";

fn status(lab: &Lab, node: &str) -> serde_json::Value {
    let out = lab.sh(node, "svcmon --format json");
    out.ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.dump()))
}

fn avail(st: &serde_json::Value, node: &str) -> String {
    st["nodes"][node]["services"]["p26.opensvc.com"]["avail"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Everything the nodes logged, for assertion messages (a dead node's
/// logs cannot be read: it says so).
fn logs(lab: &Lab) -> String {
    ["node1", "node2", "node3"]
        .iter()
        .map(|n| lab.sh(n, "cat /var/log/opensvc/node.log").dump())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls until `ok` holds, `limit` at most; panics with every log.
fn wait_until(lab: &Lab, what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "never {what} within {limit:?}:\n{}",
            logs(lab)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn alive(lab: &Lab, node: &str) -> bool {
    lab.sh(node, "true").code == 0
}

fn fetch(lab: &Lab) -> String {
    lab.client("for n in $(seq 50); do curl -sf --max-time 1 http://192.0.2.26:8080/ && exit 0; sleep 0.1; done; exit 1")
        .stdout
}

/// The lab: node3 the arbitrator, node1 and node2 the cluster with quorum
/// on; `split_action` per node. Returns once the service runs on node1 and
/// both cluster nodes see the arbitrator up.
fn quorum_lab(split: [&str; 2]) -> Lab {
    let lab = Lab::up(&["--nodes", "3", "--disks", "app:32M,data:32M", "--vg"]);
    lab.install("node3");
    lab.sh(
        "node3",
        &format!(
            "nodemgr set --param cluster.secret --value {ARB_SECRET} && \
             nodemgr set --param cluster.name --value arbiters && nodemgr daemon start"
        ),
    )
    .ok();
    // What the arbitrator's administrator hands out: its ping secret,
    // which keys pings only. node1 is given that; node2 the arbitrator's
    // cluster secret, which 1.9 configurations hold: both must work.
    let out = lab.sh("node3", "nodemgr arbitrator secret");
    out.ok();
    let ping_secret = out.stdout.trim().to_string();
    assert!(ping_secret.starts_with("ping-"), "{}", out.dump());
    lab.tutorial(&["node1", "node2"]);
    let secrets = [ping_secret.as_str(), ARB_SECRET];
    for ((n, action), secret) in ["node1", "node2"].iter().zip(split).zip(secrets) {
        lab.sh(
            n,
            &format!(
                "nodemgr set --param cluster.quorum --value true && \
                 nodemgr set --param arbitrator#1.name --value node3 && \
                 nodemgr set --param arbitrator#1.secret --value {secret} && \
                 nodemgr set --param arbitrator#1.cluster --value arbiters && \
                 nodemgr set --param node.split_action --value {action}"
            ),
        )
        .ok();
    }
    lab.cluster(None);
    wait_until(
        &lab,
        "started the service on node1",
        Duration::from_secs(20),
        || avail(&status(&lab, "node1"), "node1") == "up",
    );
    wait_until(
        &lab,
        "node2 seeing it up on node1",
        Duration::from_secs(10),
        || avail(&status(&lab, "node2"), "node1") == "up",
    );
    for n in ["node1", "node2"] {
        wait_until(
            &lab,
            &format!(
                "{n} seeing the arbitrator node3 up (does node3's listener on 1214 answer ping?)"
            ),
            Duration::from_secs(10),
            || status(&lab, n)["arbitrators"]["node3"]["status"] == "up",
        );
    }
    let out = lab.sh("node1", "svcmon");
    assert!(
        out.stdout.contains("Arbitrators") && out.stdout.contains(" node3"),
        "{}",
        out.dump()
    );
    assert_eq!(fetch(&lab), PAGE);
    lab
}

#[test]
fn the_cut_off_node_ends_itself_and_the_majority_takes_over() {
    lab_test!();
    let lab = quorum_lab(["crash", "crash"]);
    lab.sh("node1", "ip link set eth0 down").ok();
    let cut = Instant::now();

    // node1 finds node2 lost (3 s), cannot reach node3: 1/3, and ends.
    wait_until(&lab, "node1 ending itself", Duration::from_secs(15), || {
        !alive(&lab, "node1")
    });
    let died = cut.elapsed();
    // node2 holds 2/3 and waits the grace before starting: node1 must
    // have been gone by then.
    let mut up_at = None;
    wait_until(
        &lab,
        "node2 taking the service over",
        Duration::from_secs(30),
        || {
            let up = avail(&status(&lab, "node2"), "node2") == "up";
            if up {
                up_at = Some(cut.elapsed());
            }
            up
        },
    );
    let up_at = up_at.unwrap_or_default();
    assert!(
        died < up_at,
        "node1 died {died:?} after the cut, node2 started at {up_at:?}"
    );
    assert_eq!(fetch(&lab), PAGE);
    let log = lab.sh("node2", "cat /var/log/opensvc/node.log");
    assert!(
        log.stdout.contains(
            "quorum: 2/3 votes, node1 proven down in 4 s (the minority side fences itself)"
        ),
        "{}",
        log.dump()
    );
    assert!(
        log.stdout.contains("p26.opensvc.com: started here"),
        "{}",
        log.dump()
    );
    lab.sh("node2", "nodemgr daemon stop").ok();
    lab.sh("node3", "nodemgr daemon stop").ok();
}

#[test]
fn without_the_arbitrator_nobody_holds_quorum_and_nothing_is_started() {
    lab_test!();
    // node2 only logs (disabled), so that it can be watched not starting.
    let lab = quorum_lab(["crash", "disabled"]);
    lab.kill("node3");
    lab.sh("node1", "ip link set eth0 down").ok();
    wait_until(&lab, "node1 ending itself", Duration::from_secs(15), || {
        !alive(&lab, "node1")
    });
    wait_until(&lab, "node2 losing quorum", Duration::from_secs(10), || {
        lab.sh("node2", "cat /var/log/opensvc/node.log")
            .stdout
            .contains("quorum lost: 1/3 votes after losing node1")
    });
    // Longer than the grace (4 s) and the ready period (1 s) together.
    std::thread::sleep(Duration::from_secs(7));
    let st = status(&lab, "node2");
    assert_eq!(
        avail(&st, "node2"),
        "down",
        "node2 must not start it: {st:#}\n{}",
        logs(&lab)
    );
    assert_eq!(st["arbitrators"]["node3"]["status"], "down", "{st:#}");
    let log = lab.sh("node2", "cat /var/log/opensvc/node.log");
    assert!(
        log.stdout.contains("split action disabled")
            && log
                .stdout
                .contains("p26.opensvc.com: not started here: node1 may still run it"),
        "{}",
        log.dump()
    );
    lab.sh("node2", "nodemgr daemon stop").ok();
}
